//! Several active directors behind ECMP: two directors compiled from
//! configurations that agree on their services (and differ only in what
//! is per director: interfaces, addresses, worker count, the order the
//! real servers are listed in) must send every flow to the same real
//! server with mh and sh, so that a flow ECMP moves from one to the other
//! keeps its real server without any shared state (DR and TUN).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use xvs_dataplane::{DestRegistry, Plan};
use xvs_sched::SchedKey;

/// One director's config: its own addresses and workers, the fleet's
/// services. `order` permutes the real servers; `weights` gives theirs.
fn director(own: u8, workers: &str, queues: &str, order: [usize; 4], weights: [u32; 4]) -> String {
    let rs: Vec<String> = order
        .iter()
        .map(|&i| format!("{{address: 198.18.1.{}, weight: {}}}", 11 + i, weights[i]))
        .collect();
    let rs = rs.join(", ");
    format!(
        "
global:
  workers: {workers}
interfaces:
  - name: eth{own}
    addresses: [198.18.0.{own}/24]
    queues: {queues}
  - name: back{own}
    addresses: [198.18.1.{own}/24]
    queues: {queues}
services:
  - name: maglev
    vip: 198.18.0.100
    port: 80
    protocol: tcp
    method: dr
    scheduler: mh
    flags: [mh-port]
    mh_table_size: 4093
    real_servers: [{rs}]
  - name: source
    vip: 198.18.0.101
    port: 80
    protocol: tcp
    method: dr
    scheduler: sh
    flags: [sh-port]
    real_servers: [{rs}]
"
    )
}

fn plan(yaml: &str) -> Plan {
    let snap = xvs_config::load_str(yaml, "fleet.yaml").expect("config");
    let workers = snap.global.workers.len();
    Plan::compile(Arc::new(snap), &mut DestRegistry::new(workers), None).expect("plan")
}

/// The real server (by address) `plan`'s service `si` picks for each of
/// 20 000 client 5-tuples (a fresh per-worker state, as each director's
/// workers have their own).
fn picks(plan: &Plan, si: usize) -> Vec<Option<IpAddr>> {
    let svc = &plan.services[si];
    let mut state = svc.scheduler.new_state(0x5eed + si as u64);
    (0..20_000u32)
        .map(|n| {
            let key = SchedKey {
                protocol: 6,
                src: IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + n * 7919)),
                src_port: 1024 + (n % 60_000) as u16,
                dst: svc.vip,
            };
            svc.scheduler
                .pick(&mut state, &svc.sched_dests, &key, 0)
                .map(|i| svc.sched_dests[i].addr)
        })
        .collect()
}

#[test]
fn directors_with_equal_services_pick_the_same_real_server() {
    let weights = [1, 2, 1, 3];
    let a = plan(&director(2, "[0]", "[0]", [0, 1, 2, 3], weights));
    // Another director: other addresses, two workers, the real servers
    // written in another order (as a runtime add or another tool would).
    let b = plan(&director(3, "[0, 1]", "[0, 1]", [3, 1, 0, 2], weights));
    for (si, name) in [(0, "mh"), (1, "sh")] {
        let (pa, pb) = (picks(&a, si), picks(&b, si));
        assert!(pa.iter().all(Option::is_some), "{name}: every flow placed");
        let differ = pa.iter().zip(&pb).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 0, "{name}: {differ} of 20000 flows differ");
        // Every real server gets flows: the comparison covers them all.
        for rs in 11..=14 {
            let addr = IpAddr::V4(Ipv4Addr::new(198, 18, 1, rs));
            assert!(pa.contains(&Some(addr)), "{name}: {addr} unused");
        }
    }
}

#[test]
fn a_weight_difference_moves_flows_between_directors() {
    let a = plan(&director(2, "[0]", "[0]", [0, 1, 2, 3], [1, 2, 1, 3]));
    let b = plan(&director(3, "[0]", "[0]", [0, 1, 2, 3], [1, 2, 1, 4]));
    for (si, name) in [(0, "mh"), (1, "sh")] {
        let (pa, pb) = (picks(&a, si), picks(&b, si));
        let differ = pa.iter().zip(&pb).filter(|(x, y)| x != y).count();
        assert!(
            differ > 200,
            "{name}: only {differ} of 20000 flows differ with another weight"
        );
    }
}
