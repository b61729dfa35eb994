//! Properties against simple models: a checker's state is a function of
//! its recent results (keepalived's retry rule); whatever the results,
//! `apply` never forwards to a dead real server, weights stay within
//! 0..=65535, the quorum state is consistent with the live weight, and
//! the quorum scripts alternate, one per transition.

mod common;

use std::time::Duration;

use common::*;
use proptest::prelude::*;
use xvs_config::{Snapshot, VirtualService};
use xvs_health::{apply, MAX_WEIGHT};
use xvs_probe::{DynamicWeight, Outcome};

const RS1: &str = "198.18.1.11";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A checker is down iff it has failed since it last passed at least
    /// `retry + 1` times (or, before its first pass, once; or, with
    /// alpha, not passed yet); its next run is delay_before_retry after a
    /// failure it survives, delay_loop otherwise.
    #[test]
    fn a_checker_follows_keepalived_retry_rule(
        retry in 0u32..4,
        start_down in any::<bool>(),
        results in prop::collection::vec(any::<bool>(), 1..60),
    ) {
        let check = if start_down { alpha(tcp(retry)) } else { tcp(retry) };
        let snap = snapshot(vec![service(vec![rs(RS1, 1, vec![check])])]);
        let mut rig = Rig::new(&snap);
        prop_assert_eq!(rig.alive(RS1), !start_down);
        let mut due = rig.at(secs(1));
        let mut passed = false;
        let mut fails = 0u32;
        for pass in results {
            prop_assert_eq!(rig.monitor.poll_timeout(), Some(due));
            rig.now = due;
            let (id, _) = rig.monitor.poll_probe(rig.now).expect("a probe is due");
            rig.monitor.handle_outcome(id, if pass { Outcome::pass() } else { fail() }, ms(1), rig.now);
            if pass {
                passed = true;
                fails = 0;
            } else {
                fails += 1;
            }
            let down = if passed { fails > retry } else { start_down || fails >= 1 };
            prop_assert_eq!(rig.alive(RS1), !down);
            let checker_up = rig.monitor.status(rig.now).services[0].real_servers[0].checkers[0].up;
            prop_assert_eq!(checker_up, !down);
            let retrying = !pass && !down;
            due = rig.now + if retrying { secs(2) } else { secs(10) };
        }
    }

    #[test]
    fn forwarding_stays_consistent_whatever_the_results(
        svc in service_strategy(),
        outcomes in prop::collection::vec(outcome_strategy(), 1..80),
    ) {
        let snap = snapshot(vec![svc]);
        let mut rig = Rig::new(&snap);
        check_forwarding(&snap, &rig)?;
        let mut quorum = rig.quorum_up();
        let mut flips = 0usize;
        let mut i = 0;
        while i < outcomes.len() {
            let Some(next) = rig.monitor.poll_timeout() else { break };
            rig.now = rig.now.max(next);
            rig.monitor.handle_timeout(rig.now);
            while let Some((id, _)) = rig.monitor.poll_probe(rig.now) {
                let o = outcomes[i % outcomes.len()].clone();
                i += 1;
                rig.monitor.handle_outcome(id, o, ms(1), rig.now);
                rig.drain();
                if rig.quorum_up() != quorum {
                    quorum = !quorum;
                    flips += 1;
                }
                check_forwarding(&snap, &rig)?;
            }
        }
        // One script per transition, alternating (the initial state is
        // silent unless it starts down with a sorry server).
        let scripts = rig.scripts();
        let at_start = Rig::new(&snap).scripts().len();
        prop_assert_eq!(scripts.len(), flips + at_start);
        prop_assert!(scripts.windows(2).all(|w| w[0] != w[1]), "{:?}", scripts);
    }
}

fn check_forwarding(snap: &Snapshot, rig: &Rig) -> Result<(), TestCaseError> {
    let out = apply(snap, rig.monitor.view());
    let status = rig.monitor.status(rig.now);
    let svc = &snap.services[0];
    let st = &status.services[0];
    let sorry = svc.health.sorry_server.as_ref();
    for r in &out.services[0].real_servers {
        prop_assert!(r.weight <= MAX_WEIGHT);
        if sorry.is_some_and(|s| s.address == r.address) {
            continue;
        }
        let view = rig
            .monitor
            .view()
            .real_server(&skey(), &(r.address, r.port))
            .expect("every configured server is in the view");
        if !view.alive {
            prop_assert_eq!(r.weight, 0, "a dead server forwards nothing");
        } else {
            prop_assert!(
                !st.sorry_server_active,
                "live servers are out while the sorry server is in"
            );
        }
    }
    for (cfg, rs) in svc.real_servers.iter().zip(&st.real_servers) {
        prop_assert!(rs.effective_weight <= MAX_WEIGHT);
        let present = out.services[0]
            .real_servers
            .iter()
            .any(|r| r.address == cfg.address);
        prop_assert_eq!(
            present,
            rs.up && !st.sorry_server_active || !rs.up && rs.inhibited
        );
    }
    // The quorum state agrees with the live weight (hysteresis band).
    let (q, h) = (
        u64::from(st.quorum.configured),
        u64::from(st.quorum.hysteresis),
    );
    let sum = st.quorum.live_weight;
    if st.quorum.up {
        prop_assert!(
            sum > 0 && sum >= q.saturating_sub(h),
            "up at {} (q {} h {})",
            sum,
            q,
            h
        );
    } else {
        prop_assert!(sum < q + h, "down at {} (q {} h {})", sum, q, h);
    }
    let sorry_in = sorry.is_some_and(|s| {
        out.services[0]
            .real_servers
            .iter()
            .any(|r| r.address == s.address && r.weight == s.weight && s.weight > 0)
    });
    if sorry.is_some_and(|s| s.weight > 0) {
        prop_assert_eq!(sorry_in, !st.quorum.up);
    }
    Ok(())
}

fn outcome_strategy() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        3 => Just(Outcome::pass()),
        3 => Just(fail()),
        1 => any::<u32>().prop_map(|w| Outcome::Pass { weight: Some(DynamicWeight::Set(w % 300)) }),
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), -70_000i64..70_000]
            .prop_map(|d| Outcome::Pass { weight: Some(DynamicWeight::Add(d)) }),
    ]
}

fn service_strategy() -> impl Strategy<Value = VirtualService> {
    let server = (
        0u32..=MAX_WEIGHT,
        0u32..4,
        any::<bool>(),
        any::<bool>(),
        prop::option::of(1u64..20),
        1usize..3,
    );
    (
        prop::collection::vec(server, 1..5),
        1u32..20,
        0u32..5,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(servers, quorum, hysteresis, sorry_server, sorry_inhibit)| {
                let real_servers = servers
                    .into_iter()
                    .enumerate()
                    .map(|(i, (weight, retry, start_down, inhibit, slowstart, n))| {
                        let checkers = (0..n)
                            .map(|k| {
                                let c = on_port(tcp(retry), 80 + k as u16);
                                if start_down {
                                    alpha(c)
                                } else {
                                    c
                                }
                            })
                            .collect();
                        let mut r = rs(&format!("198.18.1.{}", 10 + i), weight % 4, checkers);
                        if weight % 3 == 0 {
                            r.weight = weight;
                        }
                        r.health.inhibit_on_failure = inhibit;
                        r.health.slowstart = slowstart.map(Duration::from_secs);
                        r
                    })
                    .collect();
                let mut svc = service(real_servers);
                svc.health.quorum = quorum;
                svc.health.hysteresis = hysteresis.min(quorum - 1);
                svc.health.quorum_up = Some(script("/bin/quorum-up"));
                svc.health.quorum_down = Some(script("/bin/quorum-down"));
                if sorry_server {
                    svc.health.sorry_server = Some(sorry("198.18.2.1", 2));
                    svc.health.sorry_server_inhibit = sorry_inhibit;
                }
                svc
            },
        )
}
