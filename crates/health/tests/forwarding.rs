//! What health does to forwarding: `apply` with inhibit_on_failure,
//! quorum with hysteresis and its scripts, the sorry server and
//! sorry_server_inhibit, the slowstart ramp and its timers, and services
//! without checkers left exactly as configured.

mod common;

use std::time::Duration;

use common::*;
use xvs_config::{Snapshot, VirtualService};
use xvs_health::{apply, Event, HealthView};

const RS1: &str = "198.18.1.11";
const RS2: &str = "198.18.1.12";
const RS3: &str = "198.18.1.13";
const RS4: &str = "198.18.1.14";
const SORRY: &str = "198.18.2.1";

fn weights(snap: &Snapshot) -> Vec<(String, u32)> {
    snap.services[0]
        .real_servers
        .iter()
        .map(|r| (r.address.to_string(), r.weight))
        .collect()
}

fn fail_for(addrs: &'static [&'static str]) -> impl FnMut(&str, Duration) -> xvs_probe::Outcome {
    move |tgt, _| {
        if addrs.iter().any(|a| tgt.starts_with(&format!("{a}:"))) {
            fail()
        } else {
            pass()
        }
    }
}

#[test]
fn a_dead_real_server_is_removed_or_inhibited_at_weight_zero() {
    let mut inhibited = rs(RS2, 3, vec![tcp(0)]);
    inhibited.health.inhibit_on_failure = true;
    let snap = snapshot(vec![service(vec![
        rs(RS1, 2, vec![tcp(0)]),
        inhibited,
        rs(RS3, 4, vec![tcp(0)]),
    ])]);
    let mut rig = Rig::new(&snap);
    assert_eq!(
        apply(&snap, rig.monitor.view()),
        snap,
        "all up: as configured"
    );
    rig.run_until(secs(1), fail_for(&[RS1, RS2]));
    let out = apply(&snap, rig.monitor.view());
    assert_eq!(
        weights(&out),
        [(RS2.to_string(), 0), (RS3.to_string(), 4)],
        "RS1 removed, RS2 kept at 0"
    );
    let status = rig.monitor.status(rig.now);
    let rs2 = &status.services[0].real_servers[1];
    assert!(!rs2.up && rs2.inhibited);
    assert_eq!(rs2.effective_weight, 0);
    assert!(!status.services[0].real_servers[0].inhibited);
    // Everything else of the inhibited server is unchanged.
    assert_eq!(
        xvs_config::RealServer {
            weight: 3,
            ..out.services[0].real_servers[0].clone()
        },
        snap.services[0].real_servers[1]
    );
}

fn quorum_service(quorum: u32, hysteresis: u32) -> VirtualService {
    let mut svc = service(vec![
        rs(RS1, 1, vec![tcp(0)]),
        rs(RS2, 1, vec![tcp(0)]),
        rs(RS3, 1, vec![tcp(0)]),
        rs(RS4, 1, vec![tcp(0)]),
    ]);
    svc.health.quorum = quorum;
    svc.health.hysteresis = hysteresis;
    svc.health.quorum_up = Some(script("/bin/quorum-up"));
    svc.health.quorum_down = Some(script("/bin/quorum-down"));
    svc
}

#[test]
fn quorum_hysteresis_has_no_flapping_and_one_script_per_transition() {
    // quorum 3, hysteresis 1: gained at 4, lost below 2.
    let snap = snapshot(vec![quorum_service(3, 1)]);
    let mut rig = Rig::new(&snap);
    assert!(rig.quorum_up(), "4 live at start");
    assert!(
        rig.events.is_empty(),
        "nothing happens after start-up until a check"
    );
    // Failing one more server every 10 s: live 3, 2, 1, then recovering.
    let plans: [&'static [&'static str]; 7] = [
        &[RS1],
        &[RS1, RS2],
        &[RS1, RS2, RS3],
        &[RS1, RS2],
        &[RS1],
        &[],
        &[],
    ];
    let mut states = Vec::new();
    for (i, failing) in plans.into_iter().enumerate() {
        rig.run_until(secs(1 + 10 * i as u64), fail_for(failing));
        states.push((
            rig.monitor.status(rig.now).services[0].quorum.live_weight,
            rig.quorum_up(),
        ));
    }
    assert_eq!(
        states,
        [
            (3, true),
            (2, true),
            (1, false),
            (2, false),
            (3, false),
            (4, true),
            (4, true)
        ]
    );
    assert_eq!(rig.scripts(), ["/bin/quorum-down", "/bin/quorum-up"]);
    assert!(rig
        .logs()
        .contains(&"TCP 198.18.0.100:80: quorum lost (live weight 1, quorum 3, hysteresis 1)"));
}

#[test]
fn start_up_settles_the_quorum_as_keepalived() {
    let mut snap = snapshot(vec![quorum_service(3, 2)]);
    let rig = Rig::new(&snap);
    assert!(!rig.quorum_up(), "4 < 3 + 2");
    assert!(
        rig.start_events.is_empty(),
        "below quorum without a sorry server, start-up is silent: {:?}",
        rig.start_events
    );
    // With a sorry server keepalived starts "with quorum down": the
    // sorry server goes in and quorum_down runs.
    snap.services[0].health.sorry_server = Some(sorry(SORRY, 7));
    let rig = Rig::new(&snap);
    assert_eq!(rig.start_scripts(), ["/bin/quorum-down"]);
    assert!(
        matches!(&rig.start_events[0], Event::Log(l) if l.contains("starting with quorum down"))
    );
    assert_eq!(
        weights(&apply(&snap, rig.monitor.view())),
        [(SORRY.to_string(), 7)]
    );
    // A service that meets its quorum at start "gains" it at once, as
    // keepalived's init_service_vs does: quorum_up runs.
    let snap = snapshot(vec![quorum_service(3, 1)]);
    let rig = Rig::new(&snap);
    assert!(rig.quorum_up(), "4 >= 3 + 1");
    assert_eq!(rig.start_scripts(), ["/bin/quorum-up"]);
    assert!(rig.scripts().is_empty());
}

#[test]
fn the_sorry_server_stands_in_while_the_quorum_is_lost() {
    let mut svc = quorum_service(2, 0);
    let mut inhibited = rs("198.18.1.15", 1, vec![tcp(0)]);
    inhibited.health.inhibit_on_failure = true;
    svc.real_servers.push(inhibited);
    svc.health.sorry_server = Some(sorry(SORRY, 5));
    let snap = snapshot(vec![svc]);
    let mut rig = Rig::new(&snap);
    let out = apply(&snap, rig.monitor.view());
    assert_eq!(
        out.services[0].real_servers.len(),
        5,
        "no sorry server with quorum"
    );

    rig.run_until(secs(1), fail_for(&[RS1, RS2, RS3, "198.18.1.15"]));
    assert!(!rig.quorum_up());
    let out = apply(&snap, rig.monitor.view());
    // RS4 is alive but out; the inhibited dead one stays at 0; the sorry
    // server is in at its weight.
    assert_eq!(
        weights(&out),
        [("198.18.1.15".to_string(), 0), (SORRY.to_string(), 5)]
    );
    let sorry_rs = out.services[0].real_servers.last().unwrap();
    assert!(sorry_rs.checkers.is_empty());
    assert_eq!(sorry_rs.port, 80);
    let status = rig.monitor.status(rig.now);
    assert!(status.services[0].sorry_server_active);
    assert_eq!(
        status.services[0].real_servers[3].effective_weight, 0,
        "RS4 is out"
    );
    assert!(rig
        .logs()
        .contains(&"TCP 198.18.0.100:80: sorry server 198.18.2.1:80 added"));

    rig.run_until(secs(11), |_, _| pass());
    assert!(rig.quorum_up());
    assert_eq!(apply(&snap, rig.monitor.view()), snap, "back as configured");
    assert!(rig
        .logs()
        .contains(&"TCP 198.18.0.100:80: sorry server 198.18.2.1:80 removed"));
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_zero() {
    let mut svc = service(vec![rs(RS1, 1, vec![tcp(0)])]);
    svc.health.sorry_server = Some(sorry(SORRY, 5));
    svc.health.sorry_server_inhibit = true;
    let snap = snapshot(vec![svc]);
    let mut rig = Rig::new(&snap);
    assert_eq!(
        weights(&apply(&snap, rig.monitor.view())),
        [(RS1.to_string(), 1), (SORRY.to_string(), 0)]
    );
    rig.run_until(secs(1), |_, _| fail());
    assert_eq!(
        weights(&apply(&snap, rig.monitor.view())),
        [(SORRY.to_string(), 5)]
    );
    assert!(rig
        .logs()
        .contains(&"TCP 198.18.0.100:80: sorry server 198.18.2.1:80 enabled"));
}

#[test]
fn slowstart_ramps_a_returning_server_with_timers() {
    let mut ramped = rs(RS1, 100, vec![tcp(0)]);
    ramped.health.slowstart = Some(secs(10));
    let mut svc = service(vec![ramped, rs(RS2, 1, vec![tcp(0)])]);
    svc.health.quorum = 100;
    let snap = snapshot(vec![svc]);
    let mut rig = Rig::new(&snap);
    assert_eq!(rig.weight(RS1), 100, "no ramp at start-up");
    // Down at 1 s, back at 11 s (the check fails once).
    rig.run_until(secs(1), fail_for(&[RS1]));
    assert!(!rig.alive(RS1));
    assert!(!rig.quorum_up());
    rig.run_until(secs(11), |_, _| pass());
    assert!(rig.alive(RS1));
    assert_eq!(rig.weight(RS1), 1);
    assert!(
        rig.quorum_up(),
        "the quorum counts the full weight, not the ramp"
    );
    assert_eq!(
        apply(&snap, rig.monitor.view()).services[0].real_servers[0].weight,
        1
    );
    // W = 100 over 10 s changes every 100 ms: steps are 250 ms apart.
    assert_eq!(rig.monitor.poll_timeout(), Some(rig.at(ms(11_250))));
    let mut seen = Vec::new();
    while rig.t() < secs(21) {
        let Some(next) = rig.monitor.poll_timeout() else {
            break;
        };
        if next > rig.at(secs(21)) {
            break;
        }
        rig.now = next;
        rig.monitor.handle_timeout(rig.now);
        rig.monitor.handle_timeout(rig.now); // idempotent
        if rig.t() < secs(21) {
            assert!(
                rig.monitor.poll_probe(rig.now).is_none(),
                "no probe due before 21 s"
            );
        }
        seen.push((rig.t().as_millis(), rig.weight(RS1)));
    }
    assert_eq!(seen.len(), 40, "{seen:?}");
    assert_eq!(seen[0], (11_250, 3));
    assert_eq!(seen[1], (11_500, 5));
    assert_eq!(seen[19], (16_000, 50));
    assert_eq!(seen[39], (21_000, 100));
    assert!(seen
        .windows(2)
        .all(|w| w[1].0 - w[0].0 == 250 && w[1].1 > w[0].1));
    assert_eq!(
        rig.monitor.poll_timeout(),
        Some(rig.at(secs(21))),
        "only the probes at 21 s are left"
    );
}

#[test]
fn slowstart_leaves_weight_zero_at_zero() {
    let mut zero = rs(RS1, 0, vec![tcp(0)]);
    zero.health.slowstart = Some(secs(10));
    let snap = snapshot(vec![service(vec![zero, rs(RS2, 1, vec![tcp(0)])])]);
    let mut rig = Rig::new(&snap);
    rig.run_until(secs(1), fail_for(&[RS1]));
    rig.run_until(secs(11), |_, _| pass());
    assert!(rig.alive(RS1));
    assert_eq!(rig.weight(RS1), 0);
    assert_eq!(
        rig.monitor.poll_timeout(),
        Some(rig.at(secs(21))),
        "no ramp timer"
    );
}

#[test]
fn services_without_checkers_are_left_byte_for_byte() {
    let mut quiet = service_at(
        "198.18.0.101",
        443,
        vec![rs(RS1, 3, vec![]), rs(RS2, 0, vec![])],
    );
    quiet.real_servers[1].health.inhibit_on_failure = true;
    quiet.real_servers[0].upper_threshold = 100;
    let checked = service(vec![rs(RS3, 1, vec![tcp(0)])]);
    let snap = snapshot(vec![quiet, checked]);
    let mut rig = Rig::new(&snap);
    rig.run_until(secs(1), |_, _| fail());
    let out = apply(&snap, rig.monitor.view());
    assert_eq!(out.services[0], snap.services[0]);
    assert_eq!(out.services[1].real_servers.len(), 0);
    // An empty view (nothing known yet) gives every server its start-up
    // state: the whole snapshot unchanged.
    assert_eq!(apply(&snap, &HealthView::default()), snap);
}

#[test]
fn an_unknown_service_takes_its_start_up_state() {
    let snap = snapshot(vec![service(vec![
        rs(RS1, 1, vec![alpha(tcp(0))]),
        rs(RS2, 2, vec![tcp(0)]),
    ])]);
    let out = apply(&snap, &HealthView::default());
    assert_eq!(weights(&out), [(RS2.to_string(), 2)], "alpha starts down");
}

#[test]
fn omega_runs_the_down_notifiers_at_shutdown() {
    let mut up = rs(RS1, 1, vec![tcp(0)]);
    up.health.notify_down = Some(script("/bin/rs1-down"));
    let mut dead = rs(RS2, 1, vec![tcp(0)]);
    dead.health.notify_down = Some(script("/bin/rs2-down"));
    let mut svc = service(vec![up, dead]);
    svc.health.omega = true;
    svc.health.quorum_down = Some(script("/bin/quorum-down"));
    let mut no_omega = svc.clone();
    no_omega.health.omega = false;
    no_omega.port = 81;
    no_omega.health.quorum_down = Some(script("/bin/other-quorum-down"));
    for r in &mut no_omega.real_servers {
        r.health.notify_down = Some(script("/bin/other-down"));
    }
    let snap = snapshot(vec![svc, no_omega]);
    let mut rig = Rig::new(&snap);
    rig.run_until(secs(1), fail_for(&[RS2]));
    let before = rig.scripts().len();
    rig.monitor.shutdown(rig.now);
    rig.drain();
    assert_eq!(
        &rig.scripts()[before..],
        ["/bin/rs1-down", "/bin/quorum-down"]
    );
    // Once is enough, and nothing runs afterwards.
    rig.monitor.shutdown(rig.now);
    assert!(rig.drain().is_empty());
    assert_eq!(rig.monitor.poll_timeout(), None);
    assert!(rig.monitor.poll_probe(rig.at(secs(100))).is_none());
}
