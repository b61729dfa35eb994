//! The plan's precomputed routing and next hops agree with the routing
//! they shortcut: `Plan::route4` with `route`, a real server's `next_hop`
//! and `tunnel_src` with its egress, and a neighbour table's hop slots with
//! its map, also when a worker reads it with a plan it was not built for.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use xvs_dataplane::{route, source_address, NeighborTable, Neighbors, NextHop};
use xvs_testkit::*;

/// Addresses in and around the fixture's prefixes, and anywhere.
fn v4() -> impl Strategy<Value = u32> {
    prop_oneof![
        (0u32..=255).prop_map(|h| u32::from(Ipv4Addr::new(198, 18, 0, 0)) | h),
        (0u32..=255).prop_map(|h| u32::from(Ipv4Addr::new(198, 18, 1, 0)) | h),
        (0u32..=0x1ff).prop_map(|h| u32::from(Ipv4Addr::new(198, 17, 255, 0)) + h),
        any::<u32>(),
    ]
}

proptest! {
    #[test]
    fn route4_agrees_with_route(dst in v4()) {
        let (plan, _) = lab_plan(1);
        let ip = IpAddr::V4(Ipv4Addr::from(dst));
        let fast = plan.route4(dst);
        prop_assert_eq!(fast.map(|(e, _)| e), route(&plan.interfaces, ip));
        if let Some((e, hop)) = fast {
            match hop {
                // The destination itself, on a connected prefix.
                None => prop_assert_eq!(e.next_hop, ip),
                Some(h) => prop_assert_eq!(plan.hops[h as usize], (e.iface, e.next_hop)),
            }
        }
    }
}

#[test]
fn route4_uses_the_first_gateway_and_interface_order() {
    let yaml = LAB_YAML.replace(
        "    addresses: [198.18.1.1/24, \"fd00:0:0:2::1/64\"]",
        "    addresses: [198.18.1.1/24, 10.0.0.1/8, \"fd00:0:0:2::1/64\"]\n    gateway_v4: 198.18.1.254",
    );
    assert_ne!(yaml, LAB_YAML);
    let (plan, _) = plan_from_yaml(&yaml, 1);
    for dst in [
        "10.9.9.9",
        "198.18.1.7",
        "198.18.0.7",
        "203.0.113.1",
        "0.0.0.0",
    ] {
        let a: Ipv4Addr = dst.parse().unwrap();
        assert_eq!(
            plan.route4(u32::from(a)).map(|(e, _)| e),
            route(&plan.interfaces, IpAddr::V4(a)),
            "{dst}"
        );
    }
    // The client interface's gateway comes first, as in route().
    let (e, hop) = plan
        .route4(u32::from(Ipv4Addr::new(203, 0, 113, 1)))
        .unwrap();
    assert_eq!((e.iface, e.next_hop), (CLIENT_IF, IpAddr::V4(GW4)));
    assert!(hop.is_some());
}

#[test]
fn every_real_server_has_its_next_hop_and_tunnel_source() {
    let (plan, _) = lab_plan(1);
    let mut static_macs = 0;
    for d in plan.dests.iter().flatten() {
        let e = d.egress.expect("the fixture reaches every real server");
        match d.next_hop.expect("a next hop with an egress") {
            NextHop::Static(m) => {
                assert_eq!(Some(m), d.mac);
                assert_eq!(e.next_hop, d.address);
                static_macs += 1;
            }
            NextHop::Hop(h) => assert_eq!(plan.hops[h as usize], (e.iface, e.next_hop)),
        }
        assert_eq!(
            d.tunnel_src,
            source_address(&plan.interfaces, e.iface, d.address)
        );
    }
    assert!(static_macs > 0, "DR and TUN real servers carry a MAC");
    // Gateways are hops even when no real server is behind one.
    assert!(plan.hops.contains(&(CLIENT_IF, IpAddr::V4(GW4))));
    assert!(plan.hops.contains(&(CLIENT_IF, IpAddr::V6(GW6))));
}

#[test]
fn hop_slots_answer_as_the_map_for_any_plan() {
    let (built_for, _) = lab_plan(1);
    let table = lab_neighbor_table(&built_for);
    // Another compile of another configuration: other ids, other hops.
    let yaml = LAB_YAML.replace("gateway_v4: 198.18.0.1", "gateway_v4: 198.18.0.3");
    assert_ne!(yaml, LAB_YAML);
    let (other, _) = plan_from_yaml(&yaml, 1);
    assert_ne!(built_for.id, other.id);
    for plan in [&built_for, &other] {
        for (h, &(iface, ip)) in plan.hops.iter().enumerate() {
            assert_eq!(
                table.lookup_hop(plan, h as u32),
                table.lookup(iface, ip),
                "hop {h} of plan {}",
                plan.id
            );
        }
        assert_eq!(table.lookup_hop(plan, plan.hops.len() as u32), None);
    }
    // The gateway the other plan names is unknown: no MAC, not a stale slot.
    let gw = other
        .hops
        .iter()
        .position(|&(_, ip)| ip == IpAddr::V4("198.18.0.3".parse().unwrap()))
        .unwrap();
    assert_eq!(table.lookup_hop(&other, gw as u32), None);
    let gw4 = built_for
        .hops
        .iter()
        .position(|&h| h == (CLIENT_IF, IpAddr::V4(GW4)))
        .unwrap();
    assert_eq!(table.lookup_hop(&built_for, gw4 as u32), Some(GW_MAC));
    let empty = NeighborTable::default();
    assert_eq!(empty.lookup_hop(&built_for, 0), None);
}

/// A plan with `n` DR services on VIPs 198.18.0.100 + 2·i (every other
/// address, so a miss falls between two VIPs).
fn plan_with_vips(n: usize) -> xvs_dataplane::Plan {
    let mut yaml = String::from(
        "interfaces:\n  - name: client\n    mac: \"02:00:00:00:00:01\"\n    addresses: [198.18.0.2/16]\nservices:\n",
    );
    for i in 0..n {
        let vip = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 100)) + 2 * i as u32);
        yaml.push_str(&format!(
            "  - vip: \"{vip}\"\n    port: 80\n    protocol: tcp\n    method: dr\n    real_servers:\n      - {{ address: \"198.18.1.11\", port: 80, mac: \"02:00:00:00:aa:11\" }}\n"
        ));
    }
    plan_from_yaml(&yaml, 1).0
}

/// `is_vip4` scans short VIP lists and binary-searches long ones; both
/// answer as `is_vip` does, for every VIP and the addresses around them.
#[test]
fn is_vip4_agrees_with_is_vip_for_short_and_long_lists() {
    for n in [1, 3, 32, 33, 80] {
        let plan = plan_with_vips(n);
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 90));
        let mut vips = 0;
        for a in base..base + 2 * n as u32 + 30 {
            let want = plan.is_vip(IpAddr::V4(Ipv4Addr::from(a)));
            assert_eq!(plan.is_vip4(a), want, "{n} VIPs, {}", Ipv4Addr::from(a));
            vips += usize::from(want);
        }
        assert_eq!(vips, n, "every VIP found once");
        assert!(!plan.is_vip4(0) && !plan.is_vip4(u32::MAX));
    }
}
