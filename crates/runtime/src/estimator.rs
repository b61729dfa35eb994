//! The IPVS rate estimator (net/netfilter/ipvs/ip_vs_est.c), for
//! `xvs list --rate`: connections, packets and bytes per second of every
//! service and real server, as `ipvsadm -Ln --rate` shows them.
//!
//! Every 2 s the kernel reads each counter, turns its increase into a
//! per-second rate in fixed point and folds it into an exponentially
//! weighted moving average with weight ¼ (REFERENCE §6):
//!
//! ```text
//! rate = Δconns << 9            // per second (÷2) × 2^10
//! cps += (rate − cps) >> 2      // signed
//! rate = Δbytes << 4            // per second (÷2) × 2^5
//! bps += (rate − bps) >> 2
//! reported cps = (cps + 0x1FF) >> 10,  bps = (bps + 0xF) >> 5
//! ```
//!
//! Packets use the connections' scaling. The maths is the kernel's, in
//! u64 with signed differences as since Linux 6.2 (`ip_vs_chain_estimation`,
//! `ip_vs_read_estimator`), so `--rate` reads as it does on an IPVS
//! director fed the same counts.
//!
//! Layer: runtime, pure: [`Estimator::sample`] takes totals, no clock. The
//! API thread calls [`RateTable::sample`] every [`ESTIMATOR_INTERVAL`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use xvs_config::Protocol;
use xvs_dataplane::{Plan, StatsTotals};

/// ip_vs_est.c: "the estimator runs every 2 seconds".
pub const ESTIMATOR_INTERVAL: Duration = Duration::from_secs(2);

/// Rates per second, as `ipvsadm --rate` prints them (bytes are IP bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    pub cps: u64,
    pub in_pps: u64,
    pub out_pps: u64,
    pub in_bps: u64,
    pub out_bps: u64,
}

/// One service's or real server's estimator (`struct ip_vs_estimator`):
/// the counters last seen and the five averages in fixed point (connection
/// and packet rates × 2^10, byte rates × 2^5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimator {
    last: StatsTotals,
    cps: u64,
    in_pps: u64,
    out_pps: u64,
    in_bps: u64,
    out_bps: u64,
}

impl Estimator {
    /// An estimator starting from `current` with every average 0, as
    /// `ip_vs_zero_estimator` leaves it: what was counted before it started
    /// is not a rate.
    pub fn new(current: StatsTotals) -> Estimator {
        Estimator {
            last: current,
            ..Estimator::default()
        }
    }

    /// One 2-second tick with the counters' values now.
    pub fn sample(&mut self, now: StatsTotals) {
        let last = std::mem::replace(&mut self.last, now);
        // Counters only grow; wrapping differences match the kernel's u64
        // subtraction should one ever wrap.
        fold(&mut self.cps, now.conns.wrapping_sub(last.conns), 9);
        fold(
            &mut self.in_pps,
            now.in_packets.wrapping_sub(last.in_packets),
            9,
        );
        fold(
            &mut self.out_pps,
            now.out_packets.wrapping_sub(last.out_packets),
            9,
        );
        fold(
            &mut self.in_bps,
            now.in_bytes.wrapping_sub(last.in_bytes),
            4,
        );
        fold(
            &mut self.out_bps,
            now.out_bytes.wrapping_sub(last.out_bytes),
            4,
        );
    }

    /// The averages in units per second (`ip_vs_read_estimator`: rounded
    /// up from half a unit).
    pub fn rates(&self) -> Rates {
        Rates {
            cps: self.cps.wrapping_add(0x1FF) >> 10,
            in_pps: self.in_pps.wrapping_add(0x1FF) >> 10,
            out_pps: self.out_pps.wrapping_add(0x1FF) >> 10,
            in_bps: self.in_bps.wrapping_add(0xF) >> 5,
            out_bps: self.out_bps.wrapping_add(0xF) >> 5,
        }
    }
}

/// `avg += ((s64)(delta << shift) - (s64)avg) >> 2`: the EWMA step. The
/// shift is arithmetic (the kernel's signed right shift), so a falling
/// rate decays to exactly 0.
fn fold(avg: &mut u64, delta: u64, shift: u32) {
    let rate = delta.wrapping_shl(shift) as i64;
    let step = rate.wrapping_sub(*avg as i64) >> 2;
    *avg = (*avg as i64).wrapping_add(step) as u64;
}

type ServiceKey = (Protocol, IpAddr, u16);

/// The estimators of every service and real server of the running plan.
/// Services are known by ⟨protocol, VIP, port⟩ and real servers by their
/// stable id: both name the same counters across reloads (the plan's
/// `DestRegistry` keeps them), so a reload does not restart the averages.
#[derive(Debug, Default)]
pub struct RateTable {
    services: HashMap<ServiceKey, Estimator>,
    dests: HashMap<u32, Estimator>,
}

impl RateTable {
    /// One tick over `plan`: a service or real server seen for the first
    /// time starts at 0; one no longer in the plan is forgotten (if it comes
    /// back, it starts again, as a new IPVS service does).
    pub fn sample(&mut self, plan: &Plan) {
        let mut services = HashMap::with_capacity(plan.services.len());
        let mut dests = HashMap::with_capacity(self.dests.len());
        for svc in &plan.services {
            let key = (svc.protocol, svc.vip, svc.port);
            services.insert(
                key,
                step(self.services.get(&key), svc.shared.stats.totals()),
            );
            for &id in &svc.dest_ids {
                if let Some(d) = plan.dest(id) {
                    dests.insert(id, step(self.dests.get(&id), d.shared.stats.totals()));
                }
            }
        }
        self.services = services;
        self.dests = dests;
    }

    /// The rates of a service (0 before its first tick).
    pub fn service(&self, protocol: Protocol, vip: IpAddr, port: u16) -> Rates {
        self.services
            .get(&(protocol, vip, port))
            .map(Estimator::rates)
            .unwrap_or_default()
    }

    /// The rates of a real server by its stable id.
    pub fn dest(&self, id: u32) -> Rates {
        self.dests
            .get(&id)
            .map(Estimator::rates)
            .unwrap_or_default()
    }
}

fn step(previous: Option<&Estimator>, now: StatsTotals) -> Estimator {
    match previous {
        Some(e) => {
            let mut e = *e;
            e.sample(now);
            e
        }
        None => Estimator::new(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(conns: u64, packets: u64, bytes: u64) -> StatsTotals {
        StatsTotals {
            conns,
            in_packets: packets,
            out_packets: packets / 2,
            in_bytes: bytes,
            out_bytes: bytes * 3,
        }
    }

    /// 100 connections every 2 s (50/s), worked through the kernel's
    /// integer maths by hand: the fixed-point average climbs
    /// 12800, 22400, 29600, 35000 (×2^10) towards 51200.
    #[test]
    fn steady_rate_converges_as_the_kernel_computes() {
        let mut e = Estimator::new(totals(0, 0, 0));
        let mut reported = Vec::new();
        for tick in 1..=4 {
            e.sample(totals(100 * tick, 0, 0));
            reported.push((e.cps, e.rates().cps));
        }
        // (12800 + 511) >> 10 = 12, (22400 + 511) >> 10 = 22, ...
        assert_eq!(
            reported,
            vec![(12800, 12), (22400, 22), (29600, 29), (35000, 34)]
        );
        for tick in 5..=200 {
            e.sample(totals(100 * tick, 0, 0));
        }
        assert_eq!(e.rates().cps, 50);
    }

    /// Bytes use 2^5: 1,000,000 bytes in 2 s is 500,000 B/s; after one
    /// tick the average is 16,000,000 >> 2 = 4,000,000, read as
    /// (4,000,000 + 15) >> 5 = 125,000.
    #[test]
    fn byte_rates_use_their_own_scale() {
        let mut e = Estimator::new(totals(0, 0, 0));
        e.sample(totals(0, 0, 1_000_000));
        assert_eq!(e.in_bps, 4_000_000);
        assert_eq!(e.rates().in_bps, 125_000);
        assert_eq!(e.out_bps, 12_000_000);
        assert_eq!(e.rates().out_bps, 375_000);
    }

    /// Packets: 2,000 in 2 s → rate 2000 << 9 = 1,024,000; average
    /// 256,000 → (256,000 + 511) >> 10 = 250 after one tick.
    #[test]
    fn packet_rates_share_the_connection_scale() {
        let mut e = Estimator::new(totals(0, 0, 0));
        e.sample(totals(0, 2_000, 0));
        assert_eq!(e.in_pps, 256_000);
        assert_eq!(e.rates().in_pps, 250);
        assert_eq!(e.out_pps, 128_000);
        assert_eq!(e.rates().out_pps, 125);
    }

    /// Traffic stops: the signed shift rounds towards −∞, so the average
    /// falls 3 → 2 → 1 → 0 and stays there (no wrap below zero).
    #[test]
    fn idle_rate_decays_to_exactly_zero() {
        let mut e = Estimator::new(totals(0, 0, 0));
        e.cps = 3;
        let mut seen = Vec::new();
        for _ in 0..5 {
            e.sample(totals(0, 0, 0));
            seen.push(e.cps);
        }
        assert_eq!(seen, vec![2, 1, 0, 0, 0]);

        let mut e = Estimator::new(totals(0, 0, 0));
        e.sample(totals(1_000, 0, 0));
        for _ in 0..100 {
            e.sample(totals(1_000, 0, 0));
        }
        assert_eq!(e.cps, 0);
        assert_eq!(e.rates(), Rates::default());
    }

    /// What was counted before the estimator started is not a rate.
    #[test]
    fn starts_from_the_current_counters() {
        let mut e = Estimator::new(totals(1_000_000, 5_000_000, 9_000_000_000));
        e.sample(totals(1_000_000, 5_000_000, 9_000_000_000));
        assert_eq!(e.rates(), Rates::default());
    }

    /// A single connection in 2 s is half a connection per second: the
    /// average (512 >> 2 = 128) reads as (128 + 511) >> 10 = 0 at first,
    /// then rounds up to 1 once it passes half a unit (513 and above).
    #[test]
    fn rounding_reads_half_a_unit_up() {
        let mut e = Estimator::new(totals(0, 0, 0));
        let mut reported = Vec::new();
        for tick in 1..=12 {
            e.sample(totals(tick, 0, 0));
            reported.push(e.rates().cps);
        }
        // Average → 512 (×2^10 = 0.5/s); (512 + 511) >> 10 = 0, so a
        // steady 0.5/s shows 0 exactly as ipvsadm shows it.
        assert!(reported.iter().all(|&r| r == 0), "{reported:?}");
        let mut e = Estimator::new(totals(0, 0, 0));
        for tick in 1..=40 {
            e.sample(totals(2 * tick, 0, 0));
        }
        // 1/s: average 1024 → (1024 + 511) >> 10 = 1.
        assert_eq!(e.rates().cps, 1);
    }

    #[test]
    fn table_follows_the_plan() {
        use std::sync::Arc;
        let snap = xvs_config::load_str(
            "services:\n  - vip: 198.18.0.100\n    port: 80\n    real_servers:\n      - address: 198.18.1.11\n",
            "t.yaml",
        )
        .expect("valid");
        let mut registry = xvs_dataplane::DestRegistry::new(1);
        let plan = Plan::compile(Arc::new(snap), &mut registry, None).expect("compiles");
        let mut table = RateTable::default();
        table.sample(&plan);
        let vip: IpAddr = "198.18.0.100".parse().expect("literal");
        assert_eq!(table.service(Protocol::Tcp, vip, 80), Rates::default());
        assert_eq!(table.services.len(), 1);
        assert_eq!(table.dests.len(), 1);
        table.sample(&plan);
        assert_eq!(table.dest(plan.services[0].dest_ids[0]), Rates::default());
        assert_eq!(table.service(Protocol::Udp, vip, 80), Rates::default());
    }
}
