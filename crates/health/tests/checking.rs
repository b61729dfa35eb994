//! Checker scheduling and results on a virtual clock: keepalived's retry
//! count and delays, start-up failures, alpha, warmup, several checkers
//! on one real server, dynamic weights, one probe in flight per checker,
//! unknown and late outcomes.

mod common;

use std::time::Duration;

use common::*;
use xvs_config::{HealthCheckKind, HttpCheck, HttpProtocol, HttpUrl};
use xvs_health::Event;
use xvs_probe::{DynamicWeight, Outcome};

const RS1: &str = "198.18.1.11";
const RS2: &str = "198.18.1.12";

fn with_notify(mut r: xvs_config::RealServer) -> xvs_config::RealServer {
    r.health.notify_up = Some(script("/bin/up"));
    r.health.notify_down = Some(script("/bin/down"));
    r
}

#[test]
fn down_after_retry_plus_one_failures_at_keepalived_times() {
    // retry 2, delay_before_retry 2 s, delay_loop 10 s: checks at 1 s
    // (pass), 11, 13 and 15 s (three failures: down at 15 s), then every
    // 10 s while down, back up at the first pass.
    let snap = snapshot(vec![service(vec![with_notify(rs(RS1, 1, vec![tcp(2)]))])]);
    let mut rig = Rig::new(&snap);
    let fails = |t: Duration| t >= secs(11) && t < secs(35);
    let mut alive_at = Vec::new();
    rig.run_until(secs(14), |_, t| if fails(t) { fail() } else { pass() });
    alive_at.push(rig.alive(RS1));
    rig.run_until(secs(15), |_, t| if fails(t) { fail() } else { pass() });
    alive_at.push(rig.alive(RS1));
    rig.run_until(secs(45), |_, t| if fails(t) { fail() } else { pass() });
    alive_at.push(rig.alive(RS1));
    let times: Vec<u64> = rig.probes.iter().map(|p| p.0.as_secs()).collect();
    assert_eq!(times, [1, 11, 13, 15, 25, 35, 45]);
    assert_eq!(alive_at, [true, false, true]);
    assert_eq!(rig.scripts(), ["/bin/down", "/bin/up"]);
    assert!(
        rig.logs().contains(
            &"TCP 198.18.0.100:80: real server 198.18.1.11:80 down: TCP_CHECK: connection refused (after 2 retries)"
        ),
        "{:?}",
        rig.logs()
    );
    assert!(rig
        .logs()
        .contains(&"TCP 198.18.0.100:80: real server 198.18.1.11:80 up: TCP_CHECK: ok"));
}

#[test]
fn the_next_check_counts_from_the_outcome() {
    let snap = snapshot(vec![service(vec![rs(RS1, 1, vec![tcp(1)])])]);
    let mut rig = Rig::new(&snap);
    let due = rig.start_due(secs(1));
    assert_eq!(due.len(), 1);
    // The connect takes 3 s; the next check is delay_loop after that.
    rig.answer(due[0].0, pass(), secs(4));
    assert_eq!(rig.monitor.poll_timeout(), Some(rig.at(secs(14))));
}

#[test]
fn a_failure_at_start_up_is_down_at_once() {
    // retry_it starts at retry: the first failure is enough.
    let mut http = tcp(3);
    http.kind = HealthCheckKind::Http(HttpCheck {
        urls: vec![HttpUrl {
            path: "/".into(),
            status: vec![(200, 299)],
            digest: None,
            virtualhost: None,
        }],
        protocol: HttpProtocol::Http10,
    });
    let snap = snapshot(vec![service(vec![with_notify(rs(RS1, 1, vec![http]))])]);
    let mut rig = Rig::new(&snap);
    assert!(rig.alive(RS1), "without alpha a real server starts up");
    rig.run_until(secs(1), |_, _| Outcome::fail("HTTP 500"));
    assert!(!rig.alive(RS1));
    assert_eq!(rig.probes.len(), 1);
    assert_eq!(
        rig.logs(),
        [
            "TCP 198.18.0.100:80: real server 198.18.1.11:80 down: HTTP_GET: HTTP 500",
            "TCP 198.18.0.100:80: quorum lost (live weight 0, quorum 1, hysteresis 0)"
        ]
    );
    assert_eq!(rig.scripts(), ["/bin/down"]);
    // Down, it is checked every delay_loop, not delay_before_retry.
    assert_eq!(rig.monitor.poll_timeout(), Some(rig.at(secs(11))));
}

#[test]
fn the_log_line_names_the_retries_as_keepalived() {
    let mut http = tcp(1);
    http.kind = HealthCheckKind::Http(HttpCheck {
        urls: vec![],
        protocol: HttpProtocol::Http10,
    });
    let snap = snapshot(vec![service(vec![rs(RS1, 1, vec![http])])]);
    let mut rig = Rig::new(&snap);
    rig.run_until(secs(20), |_, t| {
        if t < secs(5) {
            pass()
        } else {
            Outcome::fail("HTTP 500")
        }
    });
    assert!(rig.logs().contains(
        &"TCP 198.18.0.100:80: real server 198.18.1.11:80 down: HTTP_GET: HTTP 500 (after 1 retry)"
    ));
}

#[test]
fn alpha_starts_down_and_joins_when_its_checks_pass() {
    let snap = snapshot(vec![service(vec![
        with_notify(rs(RS1, 1, vec![alpha(tcp(1))])),
        rs(RS2, 1, vec![tcp(1)]),
    ])]);
    let mut rig = Rig::new(&snap);
    assert!(!rig.alive(RS1), "alpha: not alive until its checks pass");
    assert!(rig.alive(RS2));
    let applied = xvs_health::apply(&snap, rig.monitor.view());
    assert_eq!(applied.services[0].real_servers.len(), 1);
    assert_eq!(applied.services[0].real_servers[0].address, ip(RS2));

    // A first failure keeps it down and runs its notify_down
    // (update_svr_checker_state), without counting a transition.
    rig.run_until(
        secs(1),
        |tgt, _| {
            if tgt.starts_with(RS1) {
                fail()
            } else {
                pass()
            }
        },
    );
    assert!(!rig.alive(RS1));
    assert_eq!(rig.scripts(), ["/bin/down"]);
    assert_eq!(
        rig.monitor.status(rig.now).services[0].real_servers[0].transitions,
        0
    );
    rig.run_until(secs(11), |_, _| pass());
    assert!(rig.alive(RS1));
    assert_eq!(rig.scripts(), ["/bin/down", "/bin/up"]);
    assert_eq!(
        rig.monitor.status(rig.now).services[0].real_servers[0].transitions,
        1
    );
}

#[test]
fn alpha_first_pass_brings_it_up_at_once() {
    let snap = snapshot(vec![service(vec![with_notify(rs(
        RS1,
        1,
        vec![alpha(tcp(1))],
    ))])]);
    let mut rig = Rig::new(&snap);
    assert!(!rig.quorum_up(), "no live weight at start");
    rig.run_until(secs(1), |_, _| pass());
    assert!(rig.alive(RS1));
    assert!(rig.quorum_up());
    assert_eq!(rig.scripts(), ["/bin/up"]);
}

#[test]
fn warmup_spreads_first_checks_within_bounds_and_per_seed() {
    let mut c = tcp(1);
    c.warmup = secs(60);
    c.delay_loop = secs(100);
    let servers = (1..=20)
        .map(|i| rs(&format!("198.18.1.{i}"), 1, vec![c.clone()]))
        .collect();
    let snap = snapshot(vec![service(servers)]);
    let first = |seed| {
        let mut rig = Rig::with_seed(&snap, seed);
        rig.run_until(secs(61), |_, _| pass());
        let mut v: Vec<(String, Duration)> = rig
            .probes
            .iter()
            .map(|(t, tgt)| (tgt.clone(), *t))
            .collect();
        v.sort();
        v
    };
    let a = first(1);
    assert_eq!(a.len(), 20, "each checker ran once within 1 s + warmup");
    assert!(a.iter().all(|(_, t)| *t >= secs(1) && *t <= secs(61)));
    // Spread, not all at once.
    let earliest = a.iter().map(|x| x.1).min().unwrap();
    let latest = a.iter().map(|x| x.1).max().unwrap();
    assert!(latest - earliest > secs(20), "{earliest:?}..{latest:?}");
    assert_eq!(a, first(1), "the same seed gives the same schedule");
    assert_ne!(a, first(2), "another seed another schedule");

    // warmup 0: all at exactly 1 s.
    let snap = snapshot(vec![service(vec![
        rs(RS1, 1, vec![tcp(1)]),
        rs(RS2, 1, vec![tcp(1)]),
    ])]);
    let rig = Rig::new(&snap);
    assert_eq!(rig.monitor.poll_timeout(), Some(rig.at(secs(1))));
}

#[test]
fn several_checkers_down_at_the_first_failing_up_when_all_pass() {
    let snap = snapshot(vec![service(vec![with_notify(rs(
        RS1,
        1,
        vec![on_port(tcp(0), 80), on_port(tcp(0), 81)],
    ))])]);
    let mut rig = Rig::new(&snap);
    let port = |tgt: &str| tgt.rsplit(':').next().unwrap_or("").to_string();
    // 1 s: both pass. 11 s: :81 fails. 21 s: :80 fails too. 31 s: :81
    // recovers (still down). 41 s: :80 recovers.
    let answer = |tgt: &str, t: Duration| {
        let p = port(tgt);
        let s = t.as_secs();
        let failing = (p == "81" && (11..31).contains(&s)) || (p == "80" && (21..41).contains(&s));
        if failing {
            fail()
        } else {
            pass()
        }
    };
    let mut states = Vec::new();
    for t in [1, 11, 21, 31, 41] {
        rig.run_until(secs(t), answer);
        states.push(rig.alive(RS1));
    }
    assert_eq!(states, [true, false, false, false, true]);
    assert_eq!(
        rig.scripts(),
        ["/bin/down", "/bin/up"],
        "one notifier per transition"
    );
    let status = rig.monitor.status(rig.now);
    assert_eq!(status.services[0].real_servers[0].transitions, 2);
    assert!(rig.logs().iter().any(|l| l
        .contains("TCP_CHECK to 198.18.1.11:81 up; real server stays down (1 checker failing)")));
}

#[test]
fn misc_dynamic_sets_the_weight_and_a_failure_resets_it() {
    let snap = snapshot(vec![service(vec![rs(RS1, 2, vec![misc(true)])])]);
    let mut rig = Rig::new(&snap);
    let seq = [
        Outcome::Pass {
            weight: Some(DynamicWeight::Set(5)),
        },
        Outcome::Pass {
            weight: Some(DynamicWeight::Set(0)),
        },
        Outcome::fail("exit status 1"),
        Outcome::Pass { weight: None },
    ];
    let mut weights = Vec::new();
    for (i, outcome) in seq.into_iter().enumerate() {
        let t = secs(1 + 10 * i as u64);
        rig.run_until(t, |_, _| outcome.clone());
        weights.push((rig.alive(RS1), rig.weight(RS1)));
    }
    assert_eq!(weights, [(true, 5), (true, 0), (false, 0), (true, 2)]);
    let status = rig.monitor.status(rig.now);
    assert_eq!(status.services[0].real_servers[0].effective_weight, 2);
    // A checker declared down gives up its weight silently (check_misc.c),
    // so exit 0 afterwards changes nothing more.
    let weight_logs: Vec<&str> = rig
        .logs()
        .into_iter()
        .filter(|l| l.contains(": real server ") && l.contains(" weight "))
        .collect();
    assert_eq!(
        weight_logs,
        [
            "TCP 198.18.0.100:80: real server 198.18.1.11:80 weight 2 -> 5 (MISC_CHECK)",
            "TCP 198.18.0.100:80: real server 198.18.1.11:80 weight 5 -> 0 (MISC_CHECK)"
        ]
    );
    // Weight 0 is a live server without weight: the quorum is lost.
    assert!(rig
        .logs()
        .iter()
        .any(|l| l.starts_with("TCP 198.18.0.100:80: quorum lost (live weight 0")));
}

#[test]
fn file_weights_add_and_clamp() {
    let snap = snapshot(vec![service(vec![rs(RS1, 10, vec![file(), misc(true)])])]);
    let mut rig = Rig::new(&snap);
    let mut weights = Vec::new();
    for (i, file_add) in [3i64, -4, -100, 1 << 40].into_iter().enumerate() {
        // The misc checker sets 12 (+2); the file adds `add`.
        rig.run_until(secs(1 + i as u64), |tgt, _| {
            let weight = if tgt == "/bin/check" {
                DynamicWeight::Set(12)
            } else {
                DynamicWeight::Add(file_add)
            };
            Outcome::Pass {
                weight: Some(weight),
            }
        });
        weights.push(rig.weight(RS1));
    }
    assert_eq!(weights, [15, 8, 0, 65_535]);
}

#[test]
fn one_probe_in_flight_per_checker() {
    let snap = snapshot(vec![service(vec![rs(RS1, 1, vec![tcp(1)])])]);
    let mut rig = Rig::new(&snap);
    let due = rig.start_due(secs(1));
    assert_eq!(due.len(), 1);
    assert_eq!(rig.monitor.poll_timeout(), None, "nothing else is due");
    assert!(rig.start_due(secs(100)).is_empty(), "still in flight");
    rig.answer(due[0].0, pass(), secs(100));
    assert_eq!(rig.monitor.poll_timeout(), Some(rig.at(secs(110))));
}

#[test]
fn unknown_and_repeated_outcomes_are_ignored() {
    let snap = snapshot(vec![service(vec![with_notify(rs(RS1, 1, vec![tcp(0)]))])]);
    let mut rig = Rig::new(&snap);
    let due = rig.start_due(secs(1));
    let version = rig.monitor.view_version();
    rig.answer(due[0].0 + 1000, fail(), secs(2));
    assert!(rig.alive(RS1));
    assert_eq!(rig.monitor.view_version(), version);
    rig.answer(due[0].0, pass(), secs(2));
    rig.answer(due[0].0, fail(), secs(3));
    assert!(
        rig.alive(RS1),
        "a second outcome for the same probe is ignored"
    );
    assert!(rig.events.is_empty(), "{:?}", rig.events);
    assert_eq!(rig.monitor.poll_timeout(), Some(rig.at(secs(12))));
}

#[test]
fn log_all_failures_logs_each_retry() {
    let mut c = tcp(2);
    c.log_all_failures = true;
    let snap = snapshot(vec![service(vec![
        rs(RS1, 1, vec![c]),
        rs(RS2, 1, vec![tcp(2)]),
    ])]);
    let mut rig = Rig::new(&snap);
    rig.run_until(secs(13), |_, t| if t > secs(1) { fail() } else { pass() });
    let retries: Vec<&str> = rig
        .logs()
        .into_iter()
        .filter(|l| l.contains("failed:"))
        .collect();
    assert_eq!(
        retries,
        [
            "TCP 198.18.0.100:80: real server 198.18.1.11:80: TCP_CHECK to 198.18.1.11:80 failed: connection refused (retry 1/2 in 2 s)",
            "TCP 198.18.0.100:80: real server 198.18.1.11:80: TCP_CHECK to 198.18.1.11:80 failed: connection refused (retry 2/2 in 2 s)",
        ]
    );
}

#[test]
fn view_version_moves_only_with_the_view() {
    let snap = snapshot(vec![service(vec![rs(RS1, 1, vec![tcp(0)])])]);
    let mut rig = Rig::new(&snap);
    let v0 = rig.monitor.view_version();
    rig.run_until(secs(21), |_, _| pass());
    assert_eq!(rig.monitor.view_version(), v0, "passes change nothing");
    rig.run_until(secs(31), |_, _| fail());
    assert_eq!(rig.monitor.view_version(), v0 + 1);
    assert!(matches!(rig.events.first(), Some(Event::Log(_))));
}
