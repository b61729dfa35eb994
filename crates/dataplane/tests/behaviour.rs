//! Behaviour of the pipeline beyond single golden frames: connection
//! tracking and counters, persistence, quiescing, thresholds, table and
//! port exhaustion, cross-worker replies, expiry and bad input.

use std::net::IpAddr;
use std::sync::Arc;

use xvs_dataplane::{DestRegistry, DropReason, Plan, Verdict};
use xvs_testkit::*;

fn nat_syn(cport: u16) -> Vec<u8> {
    Spec::tcp(CLIENT4.into(), cport, VIP4_NAT.into(), TCP_PORT, SYN).frame()
}

#[test]
fn tcp_handshake_moves_the_real_server_from_inactive_to_active_and_back() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    let vip: IpAddr = VIP4_NAT.into();
    let rs: IpAddr = RS4[0].into();
    let svc = plan.find_service(6, vip, TCP_PORT).unwrap();
    let load = &plan.services[svc].sched_dests[0].load;

    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &nat_syn(5000)).0,
        Verdict::Forward { iface: SERVER_IF }
    );
    assert_eq!(
        (load.activeconns(), load.inactconns()),
        (0, 1),
        "SYN: inactive (SYN_RECV)"
    );
    let synack = Spec::tcp(rs, RS_TCP_PORT, c, 5000, SYN | ACK)
        .macs(rs_mac(0), DIR_SERVER_MAC)
        .frame();
    assert_eq!(
        run(w, &plan, &n, 1, SERVER_IF, &synack).0,
        Verdict::Forward { iface: CLIENT_IF }
    );
    let ack = Spec::tcp(c, 5000, vip, TCP_PORT, ACK).frame();
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &ack).0,
        Verdict::Forward { iface: SERVER_IF }
    );
    assert_eq!(
        (load.activeconns(), load.inactconns()),
        (1, 0),
        "ESTABLISHED: active"
    );
    let mut states = Vec::new();
    table.for_each(|e| states.push(e.state));
    assert_eq!(states, vec![xvs_conn::ConnState::Established]);

    let fin = Spec::tcp(c, 5000, vip, TCP_PORT, FIN | ACK).frame();
    run(w, &plan, &n, 2, CLIENT_IF, &fin);
    // NAT sees both directions: a client FIN in ESTABLISHED is INPUT
    // ES --fin--> CLOSE_WAIT (REFERENCE §4.2), inactive, 60 s.
    assert_eq!(
        (load.activeconns(), load.inactconns()),
        (0, 1),
        "CLOSE_WAIT: inactive"
    );
    states.clear();
    table.for_each(|e| states.push(e.state));
    assert_eq!(states, vec![xvs_conn::ConnState::CloseWait]);
    // Expiry after the CLOSE_WAIT timeout unbinds it, not before.
    assert_eq!(w.housekeeping(&plan, 2 + 59, 10_000), 0);
    assert_eq!(w.housekeeping(&plan, 2 + 61, 10_000), 1);
    assert_eq!((load.activeconns(), load.inactconns()), (0, 0));
    assert!(table.is_empty());
}

#[test]
fn stats_count_connections_packets_and_bytes_both_ways() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    let vip: IpAddr = VIP4_NAT.into();
    let syn = Spec::tcp(c, 5001, vip, TCP_PORT, SYN);
    run(w, &plan, &n, 1, CLIENT_IF, &syn.frame());
    let reply =
        Spec::tcp(RS4[0].into(), RS_TCP_PORT, c, 5001, SYN | ACK).macs(rs_mac(0), DIR_SERVER_MAC);
    run(w, &plan, &n, 1, SERVER_IF, &reply.frame());
    let svc = &plan.services[plan.find_service(6, vip, TCP_PORT).unwrap()];
    let t = svc.shared.stats.totals();
    assert_eq!((t.conns, t.in_packets, t.out_packets), (1, 1, 1));
    assert_eq!(t.in_bytes, syn.ip_packet().len() as u64);
    assert_eq!(t.out_bytes, reply.ip_packet().len() as u64);
    let d = plan.dest(svc.dest_ids[0]).unwrap().shared.stats.totals();
    assert_eq!(d, t);
}

#[test]
fn tcp_segment_without_connection_is_dropped_not_scheduled() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let ack = Spec::tcp(CLIENT4.into(), 5002, VIP4_NAT.into(), TCP_PORT, ACK).frame();
    assert_eq!(
        run(&mut ws[0], &plan, &n, 1, CLIENT_IF, &ack).0,
        Verdict::Drop(DropReason::TcpNotSyn)
    );
    assert_eq!(ws[0].counters().drops(DropReason::TcpNotSyn), 1);
    assert!(table.is_empty());
    // No service on that port.
    let other = Spec::tcp(CLIENT4.into(), 5002, VIP4_NAT.into(), 8081, SYN).frame();
    assert_eq!(
        run(&mut ws[0], &plan, &n, 1, CLIENT_IF, &other).0,
        Verdict::Drop(DropReason::NoService)
    );
}

#[test]
fn persistence_keeps_a_client_on_one_real_server() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let vip: IpAddr = VIP4_PERSIST.into();
    let dest_of = |out: &[u8]| -> [u8; 4] { out[30..34].try_into().unwrap() };
    let mut first = None;
    for cport in 6000..6010 {
        let syn = Spec::tcp(CLIENT4.into(), cport, vip, 443, SYN).frame();
        let (v, out) = run(w, &plan, &n, 5, CLIENT_IF, &syn);
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        let d = dest_of(&out);
        assert_eq!(
            *first.get_or_insert(d),
            d,
            "client port {cport} went elsewhere"
        );
    }
    // Other clients are spread by rr over the three real servers.
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..3u8 {
        let c = IpAddr::V4([198, 19, 1, i].into());
        let (_, out) = run(
            w,
            &plan,
            &n,
            5,
            CLIENT_IF,
            &Spec::tcp(c, 7000, vip, 443, SYN).frame(),
        );
        seen.insert(dest_of(&out));
    }
    assert_eq!(seen.len(), 3);
    let mut templates = 0;
    table.for_each(|e| templates += usize::from(e.is_template()));
    assert_eq!(templates, 4, "one template per client");
    // The template outlives its connections' NONE/SYN_RECV states but
    // expires after the persistence timeout once nothing uses it.
    w.housekeeping(&plan, 5 + 300 + 61, 100_000);
    w.housekeeping(&plan, 5 + 300 + 122, 100_000);
    assert!(table.is_empty(), "{} left", table.len());
}

fn reloaded(
    plan: &Plan,
    reg: &mut DestRegistry,
    edit: impl FnOnce(&mut xvs_config::Snapshot),
) -> Plan {
    let mut snap = (*plan.snapshot).clone();
    edit(&mut snap);
    snap.version += 1;
    Plan::compile(Arc::new(snap), reg, Some(plan)).unwrap()
}

#[test]
fn quiesced_real_server_gets_no_new_connections_but_keeps_its_flows() {
    let (plan, mut reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let vip: IpAddr = VIP4_PERSIST.into();
    let c: IpAddr = CLIENT4.into();
    // An established flow to real server 0 (rr starts there).
    let (_, out) = run(
        w,
        &plan,
        &n,
        1,
        CLIENT_IF,
        &Spec::tcp(c, 8000, vip, 443, SYN).frame(),
    );
    assert_eq!(out[30..34], RS4[0].octets());
    // Quiesce it (and drop persistence so new flows are scheduled).
    let plan2 = reloaded(&plan, &mut reg, |s| {
        let svc = s.services.iter_mut().find(|s| s.vip == vip).unwrap();
        svc.persistence = None;
        svc.real_servers[0].weight = 0;
    });
    // The existing flow still reaches it.
    let (v, out) = run(
        w,
        &plan2,
        &n,
        2,
        CLIENT_IF,
        &Spec::tcp(c, 8000, vip, 443, ACK).frame(),
    );
    assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    assert_eq!(out[30..34], RS4[0].octets());
    // New flows never do.
    for cport in 8001..8031 {
        let (_, out) = run(
            w,
            &plan2,
            &n,
            2,
            CLIENT_IF,
            &Spec::tcp(c, cport, vip, 443, SYN).frame(),
        );
        assert_ne!(
            out[30..34],
            RS4[0].octets(),
            "new flow {cport} to a quiesced server"
        );
    }
}

#[test]
fn removed_real_server_drains_its_flows_unless_expire_nodest_conn() {
    for expire_nodest in [false, true] {
        let (plan, mut reg) = lab_plan(1);
        let n = lab_neighbors();
        let (_t, mut ws) = workers(&plan, 1);
        let w = &mut ws[0];
        let vip: IpAddr = VIP4_PERSIST.into();
        let c: IpAddr = CLIENT4.into();
        for cport in [8100, 8101] {
            run(
                w,
                &plan,
                &n,
                1,
                CLIENT_IF,
                &Spec::tcp(c, cport, vip, 443, SYN).frame(),
            );
        }
        let plan2 = reloaded(&plan, &mut reg, |s| {
            s.global.tunables.expire_nodest_conn = expire_nodest;
            let svc = s.services.iter_mut().find(|s| s.vip == vip).unwrap();
            svc.real_servers.remove(0);
        });
        // A packet of the flow: still forwarded to the removed real server
        // (it drains; IPVS would drop it), or scheduled afresh with
        // expire_nodest_conn (an ACK opens nothing: dropped as not a SYN).
        let (v, out) = run(
            w,
            &plan2,
            &n,
            2,
            CLIENT_IF,
            &Spec::tcp(c, 8100, vip, 443, ACK).frame(),
        );
        if expire_nodest {
            assert_eq!(v, Verdict::Drop(DropReason::TcpNotSyn));
        } else {
            assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
            assert_eq!(out[30..34], RS4[0].octets(), "to the draining real server");
        }
        // A SYN on such an entry (a retransmit, or the client reusing the
        // ports) goes to a real server that is still there, either way
        // (IPVS would drop it unless expire_nodest_conn).
        let (v, out) = run(
            w,
            &plan2,
            &n,
            2,
            CLIENT_IF,
            &Spec::tcp(c, 8101, vip, 443, SYN).frame(),
        );
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        assert_ne!(out[30..34], RS4[0].octets());
    }
}

#[test]
fn upper_threshold_overloads_a_real_server_until_it_drains() {
    let yaml = LAB_YAML.replace(
        "  - name: persist4",
        "  - name: capped\n    vip: \"198.18.0.20\"\n    port: 80\n    protocol: tcp\n    scheduler: wlc\n    method: nat\n    real_servers:\n      - { address: \"198.18.1.11\", port: 8080, upper_threshold: 2 }\n  - name: persist4",
    );
    let (plan, _reg) = plan_from_yaml(&yaml, 1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let vip = IpAddr::V4([198, 18, 0, 20].into());
    for cport in [1, 2] {
        let (v, _) = run(
            w,
            &plan,
            &n,
            1,
            CLIENT_IF,
            &Spec::tcp(CLIENT4.into(), cport, vip, 80, SYN).frame(),
        );
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    }
    let (v, _) = run(
        w,
        &plan,
        &n,
        1,
        CLIENT_IF,
        &Spec::tcp(CLIENT4.into(), 3, vip, 80, SYN).frame(),
    );
    assert_eq!(
        v,
        Verdict::Forward { iface: CLIENT_IF },
        "port unreachable: overloaded"
    );
    assert_eq!(w.counters().drops(DropReason::NoRealServer), 1);
    // Both entries expire (SYN_RECV 60 s): below 3/4 of upper again.
    w.housekeeping(&plan, 100, 100_000);
    let (v, _) = run(
        w,
        &plan,
        &n,
        101,
        CLIENT_IF,
        &Spec::tcp(CLIENT4.into(), 4, vip, 80, SYN).frame(),
    );
    assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
}

#[test]
fn nat_reply_on_another_worker_is_translated() {
    let (plan, _reg) = lab_plan(2);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 2);
    let (w0, rest) = ws.split_at_mut(1);
    let c: IpAddr = CLIENT4.into();
    assert_eq!(
        run(&mut w0[0], &plan, &n, 1, CLIENT_IF, &nat_syn(5100)).0,
        Verdict::Forward { iface: SERVER_IF }
    );
    assert_eq!(table.shard_len(0), 1);
    let synack =
        Spec::tcp(RS4[0].into(), RS_TCP_PORT, c, 5100, SYN | ACK).macs(rs_mac(0), DIR_SERVER_MAC);
    let (v, out) = run(&mut rest[0], &plan, &n, 1, SERVER_IF, &synack.frame());
    assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
    let expected = Spec::tcp(VIP4_NAT.into(), TCP_PORT, c, 5100, SYN | ACK)
        .ttl(63)
        .macs(DIR_CLIENT_MAC, GW_MAC);
    assert_eq!(out, expected.frame());
}

#[test]
fn fullnat_workers_use_disjoint_ports_and_exhaustion_is_counted() {
    let (plan, _reg) = lab_plan(2);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 2);
    let sport_of = |out: &[u8]| u16::from_be_bytes([out[34], out[35]]);
    let mut ports = Vec::new();
    for (i, w) in ws.iter_mut().enumerate() {
        let syn = Spec::tcp(
            CLIENT4.into(),
            9000 + i as u16,
            VIP4_FNAT.into(),
            TCP_PORT,
            SYN,
        )
        .frame();
        let (_, out) = run(w, &plan, &n, 1, CLIENT_IF, &syn);
        ports.push(sport_of(&out));
    }
    let blocks = &plan.pools[0].worker_ports;
    assert!(blocks[0].0 <= ports[0] && ports[0] <= blocks[0].1);
    assert!(blocks[1].0 <= ports[1] && ports[1] <= blocks[1].1);

    // The tiny pool has two ports: one per worker here, so each worker
    // can open exactly one flow to the same real server.
    let w = &mut ws[0];
    let tiny = |cport| Spec::tcp(CLIENT4.into(), cport, VIP4_TINY.into(), 80, SYN).frame();
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &tiny(1)).0,
        Verdict::Forward { iface: SERVER_IF }
    );
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &tiny(2)).0,
        Verdict::Drop(DropReason::FullNatPortsExhausted)
    );
    assert_eq!(w.counters().drops(DropReason::FullNatPortsExhausted), 1);
    // The established flow carries on.
    let ack = Spec::tcp(CLIENT4.into(), 1, VIP4_TINY.into(), 80, ACK).frame();
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &ack).0,
        Verdict::Forward { iface: SERVER_IF }
    );
}

#[test]
fn full_table_drops_new_flows_and_keeps_existing_ones() {
    // With eviction off (tests/pressure.rs has it on).
    let yaml = LAB_YAML.replace(
        "conn_capacity: 4096",
        "conn_capacity: 8\n  table_pressure: { evict: false }",
    );
    let (plan, _reg) = plan_from_yaml(&yaml, 1);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let cap4 = table.capacity_v4();
    let mut opened = 0;
    for cport in 1..=(cap4 as u16 + 5) {
        match run(w, &plan, &n, 1, CLIENT_IF, &nat_syn(cport)).0 {
            Verdict::Forward { .. } => opened += 1,
            Verdict::Drop(DropReason::ConnTableFull) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(opened, cap4);
    assert_eq!(w.counters().drops(DropReason::ConnTableFull), 5);
    let ack = Spec::tcp(CLIENT4.into(), 1, VIP4_NAT.into(), TCP_PORT, ACK).frame();
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &ack).0,
        Verdict::Forward { iface: SERVER_IF }
    );
}

#[test]
fn syn_on_time_wait_entry_is_rescheduled_as_a_new_connection() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    let vip: IpAddr = VIP4_DR.into();
    // DR (INPUT-ONLY): SYN, ACK, FIN, then the client's final ACK.
    for flags in [SYN, ACK, FIN | ACK] {
        run(
            w,
            &plan,
            &n,
            1,
            CLIENT_IF,
            &Spec::tcp(c, 5200, vip, TCP_PORT, flags).frame(),
        );
    }
    let mut state = None;
    table.for_each(|e| state = Some(e.state));
    assert_eq!(state, Some(xvs_conn::ConnState::FinWait));
    // conn_reuse_mode 1 reschedules only TIME_WAIT: FIN_WAIT + SYN keeps it.
    run(
        w,
        &plan,
        &n,
        2,
        CLIENT_IF,
        &Spec::tcp(c, 5200, vip, TCP_PORT, FIN).frame(),
    );
    table.for_each(|e| state = Some(e.state));
    assert_eq!(state, Some(xvs_conn::ConnState::FinWait));
    let dr = plan.find_service(6, vip, TCP_PORT).unwrap();
    assert_eq!(plan.services[dr].shared.stats.totals().conns, 1);
    // Close it through the OUTPUT-less table to TIME_WAIT is not reachable
    // in INPUT-ONLY; use NAT to reach TIME_WAIT (FIN both ways).
    let nat: IpAddr = VIP4_NAT.into();
    run(
        w,
        &plan,
        &n,
        3,
        CLIENT_IF,
        &Spec::tcp(c, 5300, nat, TCP_PORT, SYN).frame(),
    );
    let from_rs = |flags| {
        Spec::tcp(RS4[0].into(), RS_TCP_PORT, c, 5300, flags)
            .macs(rs_mac(0), DIR_SERVER_MAC)
            .frame()
    };
    run(w, &plan, &n, 3, SERVER_IF, &from_rs(SYN | ACK));
    run(
        w,
        &plan,
        &n,
        3,
        CLIENT_IF,
        &Spec::tcp(c, 5300, nat, TCP_PORT, ACK).frame(),
    );
    run(
        w,
        &plan,
        &n,
        3,
        CLIENT_IF,
        &Spec::tcp(c, 5300, nat, TCP_PORT, FIN | ACK).frame(),
    );
    run(w, &plan, &n, 3, SERVER_IF, &from_rs(FIN | ACK));
    let mut nat_state = None;
    table.for_each(|e| {
        if e.cport == 5300 {
            nat_state = Some(e.state)
        }
    });
    assert_eq!(nat_state, Some(xvs_conn::ConnState::TimeWait));
    let svc = plan.find_service(6, nat, TCP_PORT).unwrap();
    assert_eq!(plan.services[svc].shared.stats.totals().conns, 1);
    let (v, _) = run(
        w,
        &plan,
        &n,
        4,
        CLIENT_IF,
        &Spec::tcp(c, 5300, nat, TCP_PORT, SYN).frame(),
    );
    assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    assert_eq!(
        plan.services[svc].shared.stats.totals().conns,
        2,
        "the SYN opened a new connection"
    );
}

#[test]
fn syn_reusing_a_time_wait_entry_of_a_removed_server_is_scheduled_afresh() {
    // ip_vs_in: conn_reuse_mode is decided before the real server's
    // availability, so a client that reuses the ports of a closed
    // connection to a server a health check has since removed gets a new
    // connection, not a drop (expire_nodest_conn off).
    let (plan, mut reg) = lab_plan(1);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    let nat: IpAddr = VIP4_NAT.into();
    let to_vip = |flags| Spec::tcp(c, 5400, nat, TCP_PORT, flags).frame();
    let (_, out) = run(w, &plan, &n, 1, CLIENT_IF, &to_vip(SYN));
    let first = out[30..34].to_vec();
    let rs = RS4
        .iter()
        .position(|a| a.octets()[..] == first[..])
        .expect("a lab real server");
    let from_rs = |flags| {
        Spec::tcp(RS4[rs].into(), RS_TCP_PORT, c, 5400, flags)
            .macs(rs_mac(rs), DIR_SERVER_MAC)
            .frame()
    };
    run(w, &plan, &n, 1, SERVER_IF, &from_rs(SYN | ACK));
    run(w, &plan, &n, 1, CLIENT_IF, &to_vip(ACK));
    run(w, &plan, &n, 1, CLIENT_IF, &to_vip(FIN | ACK));
    run(w, &plan, &n, 1, SERVER_IF, &from_rs(FIN | ACK));
    let mut state = None;
    table.for_each(|e| state = Some(e.state));
    assert_eq!(state, Some(xvs_conn::ConnState::TimeWait));

    // The server leaves the service and another takes its place.
    let other = RS4[(rs + 1) % RS4.len()];
    let plan2 = reloaded(&plan, &mut reg, |s| {
        let svc = s
            .services
            .iter_mut()
            .find(|s| s.vip == nat && s.port == TCP_PORT)
            .unwrap();
        svc.real_servers[0].address = IpAddr::V4(other);
    });
    let (v, out) = run(w, &plan2, &n, 2, CLIENT_IF, &to_vip(SYN));
    assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    assert_eq!(
        out[30..34],
        other.octets(),
        "scheduled to the server in the service"
    );
    let svc = plan2.find_service(6, nat, TCP_PORT).unwrap();
    assert_eq!(
        plan2.services[svc].shared.stats.totals().conns,
        2,
        "the SYN opened a new connection"
    );
}

#[test]
fn malformed_frames_are_dropped_and_counted_by_reason() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let good = nat_syn(5400);
    let cases: Vec<Vec<u8>> = vec![
        good[..10].to_vec(), // shorter than Ethernet
        good[..30].to_vec(), // IPv4 header cut
        {
            let mut f = good.clone();
            f[14] = 0x43;
            f
        }, // IHL 3
        {
            let mut f = good.clone();
            f[16] = 0xff;
            f
        }, // total length beyond frame
        {
            let mut f = good.clone();
            f[14 + 20 + 12] = 0x20;
            f
        }, // TCP data offset 2
    ];
    for f in &cases {
        assert_eq!(
            run(w, &plan, &n, 1, CLIENT_IF, f).0,
            Verdict::Drop(DropReason::Malformed)
        );
    }
    assert_eq!(
        w.counters().drops(DropReason::Malformed),
        cases.len() as u64
    );
    let by_reason: Vec<_> = w
        .counters()
        .malformed_by_reason()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(by_reason.len(), 5, "{by_reason:?}");
    // Service continues.
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &good).0,
        Verdict::Forward { iface: SERVER_IF }
    );
}

#[test]
fn arp_vrrp_and_foreign_traffic_are_classified() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    // Traffic between two other hosts is the kernel's.
    let foreign = Spec::tcp(CLIENT4.into(), 1, DIR4.into(), 22, SYN).frame();
    assert_eq!(run(w, &plan, &n, 1, CLIENT_IF, &foreign).0, Verdict::Pass);
    let mut arp = vec![0u8; 60];
    let len = xvs_wire::arp::build_request(&mut arp, None, GW_MAC, GW4, VIP4_NAT).unwrap();
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &arp[..len]).0,
        Verdict::ToControl(xvs_dataplane::Punt::Arp)
    );
    // VRRP (IP protocol 112, RFC 5798) goes to the control thread.
    let mut vrrp = Vec::new();
    etherparse::Ethernet2Header {
        source: GW_MAC,
        destination: [0x01, 0x00, 0x5e, 0, 0, 0x12],
        ether_type: etherparse::EtherType::IPV4,
    }
    .write(&mut vrrp)
    .unwrap();
    let advert = [
        0x21u8, 51, 100, 1, 0, 1, 0, 0, 198, 18, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    etherparse::Ipv4Header::new(
        advert.len() as u16,
        255,
        etherparse::IpNumber(112),
        [198, 18, 0, 3],
        [224, 0, 0, 18],
    )
    .unwrap()
    .write(&mut vrrp)
    .unwrap();
    vrrp.extend_from_slice(&advert);
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &vrrp).0,
        Verdict::ToControl(xvs_dataplane::Punt::Vrrp)
    );
    // Ping to a VIP goes to the control thread.
    let mut ping = Vec::new();
    etherparse::PacketBuilder::ethernet2(GW_MAC, DIR_CLIENT_MAC)
        .ipv4(CLIENT4.octets(), VIP4_NAT.octets(), 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut ping, b"ping")
        .unwrap();
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &ping).0,
        Verdict::ToControl(xvs_dataplane::Punt::IcmpToDirector)
    );
}

#[test]
fn unresolved_next_hop_asks_for_the_neighbour() {
    let (plan, _reg) = lab_plan(1);
    let n = xvs_dataplane::StaticNeighbors::new();
    let (_t, mut ws) = workers(&plan, 1);
    let (v, _) = run(&mut ws[0], &plan, &n, 1, CLIENT_IF, &nat_syn(5500));
    assert_eq!(
        v,
        Verdict::NeedNeighbor {
            iface: SERVER_IF,
            next_hop: RS4[0].into()
        }
    );
}

#[test]
fn reload_carries_the_rr_cursor_of_an_unchanged_service() {
    let (plan, mut reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let vip: IpAddr = VIP4_PERSIST.into();
    let plan = reloaded(&plan, &mut reg, |s| {
        s.services
            .iter_mut()
            .find(|s| s.vip == vip)
            .unwrap()
            .persistence = None;
    });
    let pick = |w: &mut xvs_dataplane::Worker, plan: &Plan, cport| {
        let (_, out) = run(
            w,
            plan,
            &n,
            1,
            CLIENT_IF,
            &Spec::tcp(CLIENT4.into(), cport, vip, 443, SYN).frame(),
        );
        out[33]
    };
    assert_eq!(pick(w, &plan, 1), 11);
    assert_eq!(pick(w, &plan, 2), 12);
    // A reload that changes another service keeps this one's rr position.
    let plan2 = reloaded(&plan, &mut reg, |s| s.global.tunables.sloppy_tcp = true);
    assert_eq!(pick(w, &plan2, 3), 13);
    assert_eq!(pick(w, &plan2, 4), 11);
}

#[test]
fn one_packet_scheduling_schedules_every_datagram_and_still_translates_replies() {
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    let vip: IpAddr = VIP4_OPS.into();
    let mut dests = Vec::new();
    for i in 0..4u32 {
        // The same client port every time: without OPS this is one flow.
        let (v, out) = run(
            w,
            &plan,
            &n,
            i,
            CLIENT_IF,
            &Spec::udp(c, 7777, vip, 53).frame(),
        );
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        let rs: [u8; 4] = out[30..34].try_into().unwrap();
        dests.push(rs);
        // The reply from whichever real server got it is translated back.
        let reply = Spec::udp(IpAddr::V4(rs.into()), RS_UDP_PORT, c, 7777)
            .macs(rs_mac(usize::from(rs[3] - 11)), DIR_SERVER_MAC);
        let (v, out) = run(w, &plan, &n, i, SERVER_IF, &reply.frame());
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
        assert_eq!(out[26..30], VIP4_OPS.octets(), "reply source is the VIP");
    }
    assert_eq!(
        dests,
        vec![
            RS4[0].octets(),
            RS4[1].octets(),
            RS4[0].octets(),
            RS4[1].octets()
        ]
    );
    let svc = plan.find_service(17, vip, 53).unwrap();
    assert_eq!(plan.services[svc].shared.stats.totals().conns, 4);
}

#[test]
fn sloppy_tcp_opens_on_an_ack_straight_into_established_and_active() {
    let (plan, mut reg) = lab_plan(1);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    let vip: IpAddr = VIP4_NAT.into();
    let ack = Spec::tcp(c, 6000, vip, TCP_PORT, ACK).frame();
    // Without sloppy_tcp a mid-stream ACK opens nothing.
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &ack).0,
        Verdict::Drop(DropReason::TcpNotSyn)
    );
    let plan = reloaded(&plan, &mut reg, |s| s.global.tunables.sloppy_tcp = true);
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &ack).0,
        Verdict::Forward { iface: SERVER_IF }
    );
    // INPUT table: NONE --ack--> ESTABLISHED, so the entry is active at
    // once with the ESTABLISHED timeout (REFERENCE §4.2, §4.3).
    let svc = plan.find_service(6, vip, TCP_PORT).unwrap();
    let load = &plan.services[svc].sched_dests[0].load;
    assert_eq!((load.activeconns(), load.inactconns()), (1, 0));
    let mut seen = Vec::new();
    table.for_each(|e| seen.push((e.state, e.timeout_secs, e.expires_at)));
    let tcp = plan.timeouts.tcp;
    assert_eq!(seen, vec![(xvs_conn::ConnState::Established, tcp, 1 + tcp)]);
    // A RST still opens nothing.
    let rst = Spec::tcp(c, 6001, vip, TCP_PORT, RST | ACK).frame();
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &rst).0,
        Verdict::Drop(DropReason::TcpNotSyn)
    );
}

#[test]
fn a_new_nat_flow_whose_reply_tuple_is_taken_is_dropped_not_merged() {
    // A second NAT VIP on the same real server:port as the lab's VIP4_NAT.
    let yaml = format!(
        "{LAB_YAML}  - name: nat4-twin\n    vip: \"198.18.0.18\"\n    port: 80\n    protocol: tcp\n    scheduler: rr\n    method: nat\n    real_servers:\n      - {{ address: \"198.18.1.11\", port: 8080 }}\n"
    );
    let (plan, _reg) = plan_from_yaml(&yaml, 1);
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    let twin: IpAddr = "198.18.0.18".parse().unwrap();
    let first = Spec::tcp(c, 7000, VIP4_NAT.into(), TCP_PORT, SYN).frame();
    assert_eq!(
        run(w, &plan, &n, 1, CLIENT_IF, &first).0,
        Verdict::Forward { iface: SERVER_IF }
    );
    // Same client port, other VIP, same real server: RS:8080 → client:7000
    // would be the reply of both.
    for fast in [true, false] {
        w.set_fast_path(fast);
        let second = Spec::tcp(c, 7000, twin, TCP_PORT, SYN).frame();
        assert_eq!(
            run(w, &plan, &n, 1, CLIENT_IF, &second).0,
            Verdict::Drop(DropReason::ReplyKeyInUse)
        );
    }
    assert_eq!(w.counters().drops(DropReason::ReplyKeyInUse), 2);
    assert_eq!(table.len(), 1);
    // The reply still belongs to the first flow: its source is VIP4_NAT.
    let rs: IpAddr = RS4[0].into();
    let synack = Spec::tcp(rs, RS_TCP_PORT, c, 7000, SYN | ACK)
        .macs(rs_mac(0), DIR_SERVER_MAC)
        .frame();
    let (v, out) = run(w, &plan, &n, 1, SERVER_IF, &synack);
    assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
    assert_eq!(out[26..30], VIP4_NAT.octets());
}

#[test]
fn vrrp_standby_vip_is_dropped_and_counted_until_the_director_is_master() {
    let (plan, mut reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let vip: IpAddr = VIP4_NAT.into();
    // Backup: the VIP stays known (not passed on) but nothing is forwarded,
    // neither a new flow nor on the fast path.
    let standby = reloaded(&plan, &mut reg, |s| s.standby = vec![vip]);
    assert_eq!(standby.vip_standby(vip), Some(true));
    for cport in [5000, 5001] {
        assert_eq!(
            run(&mut ws[0], &standby, &n, 1, CLIENT_IF, &nat_syn(cport)).0,
            Verdict::Drop(DropReason::VrrpStandby)
        );
    }
    assert_eq!(ws[0].counters().drops(DropReason::VrrpStandby), 2);
    // Master again: the same SYN is scheduled and forwarded.
    let master = reloaded(&standby, &mut reg, |s| s.standby.clear());
    assert_eq!(master.vip_standby(vip), Some(false));
    assert_eq!(
        run(&mut ws[0], &master, &n, 1, CLIENT_IF, &nat_syn(5000)).0,
        Verdict::Forward { iface: SERVER_IF }
    );
    // An established flow stops at once when the director turns backup.
    let ack = Spec::tcp(CLIENT4.into(), 5000, vip, TCP_PORT, ACK).frame();
    let backup = reloaded(&master, &mut reg, |s| s.standby = vec![vip]);
    assert_eq!(
        run(&mut ws[0], &backup, &n, 1, CLIENT_IF, &ack).0,
        Verdict::Drop(DropReason::VrrpStandby)
    );
}
