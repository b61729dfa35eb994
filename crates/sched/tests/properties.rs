//! Property tests of the schedulers against simple models: wrr, wlc and sed
//! shares follow the weights; the hashing schedulers map keys stably; the
//! overload flag follows the threshold rules of REFERENCE §2. (mh's
//! disruption bound needs its hash internals and lives in src/mh.rs.)

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use proptest::prelude::*;
use xvs_config::{SchedFlags, SchedulerKind};
use xvs_sched::{DestLoad, SchedDest, SchedKey, ServiceScheduler, Thresholds};

fn dest(addr: Ipv4Addr, weight: u32) -> SchedDest {
    SchedDest {
        addr: IpAddr::V4(addr),
        port: 80,
        weight,
        last_weight: weight,
        available: true,
        load: Arc::new(DestLoad::new(2)),
    }
}

fn dests(weights: &[u32]) -> Vec<SchedDest> {
    weights
        .iter()
        .zip(1u8..)
        .map(|(&w, n)| dest(Ipv4Addr::new(198, 18, 0, n), w))
        .collect()
}

fn key(src: u32, port: u16) -> SchedKey {
    SchedKey {
        protocol: 6,
        src: IpAddr::V4(Ipv4Addr::from(src)),
        src_port: port,
        dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    }
}

fn build(kind: SchedulerKind, ds: &[SchedDest]) -> ServiceScheduler {
    match ServiceScheduler::new(kind, SchedFlags::default(), 4093, ds) {
        Ok(s) => s,
        Err(e) => panic!("{kind}: {e}"),
    }
}

/// Picks `n` times, binding every chosen connection as established (and
/// never releasing it) so the least-connection family sees its own load.
fn shares(kind: SchedulerKind, ds: &[SchedDest], n: usize) -> Vec<f64> {
    let s = build(kind, ds);
    let mut st = s.new_state(1);
    let mut counts = vec![0usize; ds.len()];
    for i in 0..n {
        let worker = i % 2;
        let Some(d) = s.pick(&mut st, ds, &key(i as u32, 1000), 0) else {
            panic!(
                "{kind}: no pick with weights {:?}",
                ds.iter().map(|d| d.weight).collect::<Vec<_>>()
            );
        };
        ds[d].load.bind_conn(worker, Thresholds::default());
        ds[d].load.activate(worker);
        counts[d] += 1;
    }
    counts.iter().map(|&c| c as f64 / n as f64).collect()
}

fn assert_follow_weights(kind: SchedulerKind, weights: &[u32], got: &[f64]) {
    let total: u32 = weights.iter().sum();
    for (i, (&w, &share)) in weights.iter().zip(got).enumerate() {
        let want = f64::from(w) / f64::from(total);
        assert!(
            (share - want).abs() <= 0.01,
            "{kind}: server {i} weight {w} got {share:.4}, want {want:.4} (weights {weights:?})"
        );
    }
}

fn weights() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..=100, 1..=8)
        .prop_filter("some weight > 0", |w| w.iter().any(|&x| x > 0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn wrr_shares_follow_weights(w in weights()) {
        assert_follow_weights(SchedulerKind::Wrr, &w, &shares(SchedulerKind::Wrr, &dests(&w), 20_000));
    }

    #[test]
    fn wlc_shares_follow_weights(w in weights()) {
        assert_follow_weights(SchedulerKind::Wlc, &w, &shares(SchedulerKind::Wlc, &dests(&w), 20_000));
    }

    #[test]
    fn sed_shares_follow_weights(w in weights()) {
        assert_follow_weights(SchedulerKind::Sed, &w, &shares(SchedulerKind::Sed, &dests(&w), 20_000));
    }

    #[test]
    fn rr_serves_usable_servers_equally(w in weights()) {
        let equal: Vec<u32> = w.iter().map(|&x| u32::from(x > 0)).collect();
        assert_follow_weights(SchedulerKind::Rr, &equal, &shares(SchedulerKind::Rr, &dests(&w), 5_000));
    }

    #[test]
    fn hashing_schedulers_map_keys_stably(
        addrs in prop::collection::hash_set(any::<u32>(), 1..=16),
        keys in prop::collection::vec((any::<u32>(), any::<u16>()), 1..=64),
        port_flag in any::<bool>(),
    ) {
        let ds: Vec<_> = addrs.iter().map(|&a| dest(Ipv4Addr::from(a), 1)).collect();
        let flags = SchedFlags { fallback: false, port: port_flag };
        for kind in [SchedulerKind::Sh, SchedulerKind::Dh, SchedulerKind::Mh] {
            let a = ServiceScheduler::new(kind, flags, 4093, &ds).unwrap();
            let b = ServiceScheduler::new(kind, flags, 4093, &ds).unwrap();
            let (mut sa, mut sb) = (a.new_state(1), b.new_state(2));
            for &(src, port) in &keys {
                let mut k = key(src, port);
                if kind == SchedulerKind::Dh {
                    k.dst = IpAddr::V4(Ipv4Addr::from(src));
                }
                let first = a.pick(&mut sa, &ds, &k, 0);
                prop_assert!(first.is_some());
                prop_assert_eq!(a.pick(&mut sa, &ds, &k, 0), first, "{} same key twice", kind);
                prop_assert_eq!(b.pick(&mut sb, &ds, &k, 0), first, "{} across a rebuild", kind);
            }
        }
    }

    #[test]
    fn overload_flag_follows_the_threshold_model(
        upper in 0u32..12,
        lower in 0u32..12,
        ops in prop::collection::vec((any::<bool>(), 0usize..3), 1..200),
    ) {
        let th = Thresholds { upper, lower };
        let load = DestLoad::new(3);
        // The model: one total and one flag, as ip_vs_bind_dest/unbind_dest.
        let (mut total, mut flag) = (0u32, false);
        for (bind, worker) in ops {
            if bind {
                load.bind_conn(worker, th);
                total += 1;
                if upper != 0 && total >= upper {
                    flag = true;
                }
            } else if total > 0 {
                // Another worker may be the one that sees the entry expire.
                load.unbind_conn((worker + 1) % 3, false, th);
                total -= 1;
                let clear = if lower != 0 {
                    total < lower
                } else if upper != 0 {
                    4 * total < 3 * upper
                } else {
                    true
                };
                if clear {
                    flag = false;
                }
            }
            prop_assert_eq!(load.inactconns(), total);
            prop_assert_eq!(load.is_overloaded(), flag);
        }
    }
}

#[test]
fn golden_wrr_sequences() {
    for (weights, want) in [
        (&[4u32, 3, 2][..], "AABABCABC"),
        (&[4, 2], "AAB"),
        (&[5, 1, 1], "AAAAABC"),
    ] {
        let ds = dests(weights);
        let s = build(SchedulerKind::Wrr, &ds);
        let mut st = s.new_state(0);
        let got: String = (0..want.len() * 3)
            .map(|_| {
                s.pick(&mut st, &ds, &key(1, 1), 0)
                    .map_or('-', |i| char::from(b'A' + i as u8))
            })
            .collect();
        assert_eq!(got, want.repeat(3), "weights {weights:?}");
    }
}

#[test]
fn mh_with_251_slots_gives_three_equal_servers_a_third_each() {
    let ds = dests(&[1, 1, 1]);
    let s = ServiceScheduler::new(SchedulerKind::Mh, SchedFlags::default(), 251, &ds).unwrap();
    let counts = s.mh_slot_counts(3).unwrap();
    assert_eq!(counts.iter().sum::<usize>(), 251);
    assert!(counts.iter().all(|&c| c == 83 || c == 84), "{counts:?}");
    // And clients spread accordingly.
    let mut st = s.new_state(0);
    let mut hits: HashMap<usize, u32> = HashMap::new();
    for i in 0..30_000u32 {
        let k = key(i.wrapping_mul(2_654_435_761), 0);
        if let Some(d) = s.pick(&mut st, &ds, &k, 0) {
            *hits.entry(d).or_default() += 1;
        }
    }
    for d in 0..3 {
        let share = f64::from(hits[&d]) / 30_000.0;
        assert!((share - 1.0 / 3.0).abs() < 0.03, "server {d}: {share:.3}");
    }
}
