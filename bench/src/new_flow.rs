//! New-flow scenarios: a DR service on 198.18.0.20:80 with
//! [`NEW_FLOW_REAL_SERVERS`] real servers of mixed weights and one of the
//! 14 IPVS schedulers, and [`FLOWS_PER_ROUND`] SYNs each from its own
//! client address and port. Every SYN misses the table, runs the scheduler,
//! inserts an entry (binding the real server's counters, which lc/wlc/sed/
//! nq/ovf/twos read) and is forwarded.
//!
//! The bench replays the SYNs in rounds: before each round (untimed) it
//! calls [`Rig::expire_all`], which advances the clock past every timeout
//! and sweeps the shard, so the round starts from an empty table and every
//! SYN of it is a new flow again. DR keeps the scheduler's cost in front:
//! the forwarding itself is a MAC rewrite.

use std::fmt::Write as _;

use xvs_config::SchedulerKind;
use xvs_testkit::{Spec, CLIENT_IF, SERVER_IF, SYN, TCP_PORT};

use crate::flows::{client_addr, client_port};
use crate::neighbors::FastNeighbors;
use crate::rig::{Rig, SetupError};

/// Real servers behind each scheduler's service.
pub const NEW_FLOW_REAL_SERVERS: usize = 8;
/// SYNs per round; the table never holds more than this many entries.
pub const FLOWS_PER_ROUND: usize = 4096;
/// IPv4 capacity of the table (16× a round: lightly loaded, as a director
/// sized for its peak is most of the time).
const CAPACITY_V4: usize = 16 * FLOWS_PER_ROUND;
/// The service's VIP.
pub const NEW_FLOW_VIP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 18, 0, 20);

/// Weights of the real servers in order: unequal, so weighted schedulers
/// do real work (wrr steps through its gcd/max cycle, wlc/sed compare
/// ratios, ovf prefers the heaviest).
const WEIGHTS: [u32; NEW_FLOW_REAL_SERVERS] = [1, 2, 3, 4, 1, 2, 3, 4];

/// The real server `i` of the new-flow services (198.18.1.21 + i, on the
/// server segment, with a configured MAC as DR needs).
fn real_server(i: usize) -> (String, String) {
    (
        format!("198.18.1.{}", 21 + i),
        format!("02:00:00:00:bb:{:02x}", 0x21 + i),
    )
}

/// The fixture configuration for `kind`: interfaces as the lab, one service.
pub fn scheduler_yaml(kind: SchedulerKind) -> String {
    let mut y = String::from(
        "global:\n  workers: [0]\n  conn_capacity: 65536\n\
         interfaces:\n\
         \x20 - name: client\n    mac: \"02:00:00:00:00:01\"\n    addresses: [198.18.0.2/24]\n    gateway_v4: 198.18.0.1\n\
         \x20 - name: servers\n    mac: \"02:00:00:00:00:02\"\n    addresses: [198.18.1.1/24]\n\
         services:\n",
    );
    // Writing to a String cannot fail.
    let _ = write!(
        y,
        "  - name: new-{name}\n    vip: \"{NEW_FLOW_VIP}\"\n    port: {TCP_PORT}\n    protocol: tcp\n    \
         scheduler: {name}\n    method: dr\n    real_servers:\n",
        name = kind.name()
    );
    for (i, w) in WEIGHTS.iter().enumerate() {
        let (addr, mac) = real_server(i);
        let _ = writeln!(
            y,
            "      - {{ address: \"{addr}\", port: {TCP_PORT}, weight: {w}, mac: \"{mac}\" }}"
        );
    }
    y
}

/// A rig for `kind` and the SYNs of one round.
#[derive(Debug)]
pub struct NewFlows {
    pub rig: Rig,
    /// [`FLOWS_PER_ROUND`] SYN frames, each a new flow after `expire_all`.
    pub frames: Vec<Vec<u8>>,
}

/// The SYNs of flows `0..count`, each from its own client address and port.
fn syns(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            Spec::tcp(
                client_addr(i).into(),
                client_port(i),
                NEW_FLOW_VIP.into(),
                TCP_PORT,
                SYN,
            )
            .frame()
        })
        .collect()
}

/// Set up the new-flow scenario for `kind`.
pub fn new_flows(kind: SchedulerKind) -> Result<NewFlows, SetupError> {
    let mut neighbors = FastNeighbors::new();
    neighbors.insert(CLIENT_IF, xvs_testkit::GW4.into(), xvs_testkit::GW_MAC);
    let rig = Rig::new(&scheduler_yaml(kind), CAPACITY_V4, 1024, neighbors)?;
    let frames = syns(FLOWS_PER_ROUND);
    Ok(NewFlows { rig, frames })
}

/// Run one round: every frame once (what the timed loop does), checking
/// each is forwarded. For tests and the bench's self-check.
pub fn run_round(s: &mut NewFlows) -> Result<(), SetupError> {
    for frame in &s.frames {
        crate::rig::expect_forward(&mut s.rig, "new-flow SYN", CLIENT_IF, frame, SERVER_IF)?;
    }
    let found = s.rig.table.len();
    if found != s.frames.len() {
        return Err(SetupError::TableLen {
            what: "after a round of new flows",
            expected: s.frames.len(),
            found,
        });
    }
    Ok(())
}

/// The new-flow scenario into a full table (rr): the table holds exactly
/// [`FLOWS_PER_ROUND`] flows and the SYNs cycle through twice as many
/// distinct flows, so every SYN finds the shard full of half-open entries
/// and evicts one to get in (`global.table_pressure`'s default
/// eviction). Eviction frees the slot at a rolling cursor and the new entry
/// takes it, so the entry that goes is always the one inserted a table
/// ago: a flow's own entry is gone before the cycle comes back to it, and
/// every SYN is a new flow wherever a burst starts. What a SYN flood
/// costs per new connection, held against `new_flow/rr` (an empty table).
#[derive(Debug)]
pub struct FullTable {
    pub rig: Rig,
    /// 2 × [`FLOWS_PER_ROUND`] SYNs, processed in a cycle.
    pub frames: Vec<Vec<u8>>,
    /// Where the cycle goes on.
    pub next: usize,
}

/// Set up [`FullTable`], filled by the cycle's first half.
pub fn new_flows_full_table() -> Result<FullTable, SetupError> {
    let mut neighbors = FastNeighbors::new();
    neighbors.insert(CLIENT_IF, xvs_testkit::GW4.into(), xvs_testkit::GW_MAC);
    let rig = Rig::new(
        &scheduler_yaml(SchedulerKind::Rr),
        FLOWS_PER_ROUND,
        1024,
        neighbors,
    )?;
    let frames = syns(2 * FLOWS_PER_ROUND);
    let mut s = FullTable {
        rig,
        frames,
        next: 0,
    };
    run_full(&mut s, FLOWS_PER_ROUND)?;
    Ok(s)
}

/// Run the next `count` SYNs of [`FullTable`]'s cycle, checking every
/// one is forwarded and the table stays exactly full. For tests and the
/// bench's self-check.
pub fn run_full(s: &mut FullTable, count: usize) -> Result<(), SetupError> {
    for _ in 0..count {
        let i = s.next % s.frames.len();
        s.next = i + 1;
        crate::rig::expect_forward(
            &mut s.rig,
            "SYN into a full table",
            CLIENT_IF,
            &s.frames[i],
            SERVER_IF,
        )?;
    }
    let found = s.rig.table.len();
    if found != FLOWS_PER_ROUND {
        return Err(SetupError::TableLen {
            what: "after a round into a full table",
            expected: FLOWS_PER_ROUND,
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::IpAddr;

    /// Real-server address → flows it received in one round.
    fn spread(s: &NewFlows) -> HashMap<IpAddr, usize> {
        let mut per_rs = HashMap::new();
        s.rig
            .table
            .for_each(|e| *per_rs.entry(e.daddr).or_insert(0) += 1);
        per_rs
    }

    #[test]
    fn every_scheduler_makes_a_new_entry_per_syn_and_rounds_start_empty() {
        for kind in SchedulerKind::ALL {
            let mut s = new_flows(kind).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
            for _round in 0..2 {
                run_round(&mut s).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
                assert_eq!(s.rig.expire_all(), FLOWS_PER_ROUND, "{}", kind.name());
                assert!(s.rig.table.is_empty());
            }
            // Expiry unbound every entry: the real servers' counters are back at 0.
            let svc = &s.rig.plan.services[0];
            assert!(
                svc.sched_dests
                    .iter()
                    .all(|d| d.load.inactconns() == 0 && d.load.activeconns() == 0),
                "{}",
                kind.name()
            );
        }
    }

    #[test]
    fn a_round_into_a_full_table_evicts_one_half_open_entry_per_syn() {
        let mut s = new_flows_full_table().expect("full table");
        let evicted = |s: &FullTable| {
            s.rig
                .worker
                .counters()
                .evictions()
                .find(|(name, _)| *name == "embryonic")
                .map_or(0, |(_, n)| n)
        };
        assert_eq!(evicted(&s), 0, "the fill round finds room");
        // Rounds of any length: every SYN is a new flow that evicts one.
        for round in 1..=3u64 {
            run_full(&mut s, FLOWS_PER_ROUND).expect("round");
            assert_eq!(evicted(&s), round * FLOWS_PER_ROUND as u64);
        }
        let before = evicted(&s);
        run_full(&mut s, 100).expect("part of a round");
        assert_eq!(evicted(&s), before + 100);
    }

    #[test]
    fn schedulers_see_eight_real_servers_and_weighted_ones_follow_weights() {
        let mut s = new_flows(SchedulerKind::Wrr).expect("wrr");
        assert_eq!(
            s.rig.plan.services[0].sched_dests.len(),
            NEW_FLOW_REAL_SERVERS
        );
        run_round(&mut s).expect("round");
        let per_rs = spread(&s);
        assert_eq!(per_rs.len(), NEW_FLOW_REAL_SERVERS);
        // wrr: flows in proportion to weight (4096 flows over total weight 20).
        let heavy: IpAddr = real_server(3).0.parse().expect("address");
        let light: IpAddr = real_server(0).0.parse().expect("address");
        let ratio = per_rs[&heavy] as f64 / per_rs[&light] as f64;
        assert!((3.9..=4.1).contains(&ratio), "weight 4 vs 1: {ratio}");
        // sh hashes the client address: many clients → every real server used.
        let mut s = new_flows(SchedulerKind::Sh).expect("sh");
        run_round(&mut s).expect("round");
        assert_eq!(spread(&s).len(), NEW_FLOW_REAL_SERVERS);
    }
}
