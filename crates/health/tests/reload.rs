//! Reloads (keepalived's clear_diff_services / migrate_checkers): what
//! stays keeps its state, its schedule and its probe in flight; what is
//! new starts as at start-up; what is gone is dropped, its late outcomes
//! ignored and, if it was alive, its notify_down run.

mod common;

use common::*;
use xvs_config::Snapshot;

const RS1: &str = "198.18.1.11";
const RS2: &str = "198.18.1.12";
const RS3: &str = "198.18.1.13";

fn notify(mut r: xvs_config::RealServer, name: &str) -> xvs_config::RealServer {
    r.health.notify_up = Some(script(&format!("/bin/{name}-up")));
    r.health.notify_down = Some(script(&format!("/bin/{name}-down")));
    r
}

fn two_servers() -> Snapshot {
    snapshot(vec![service(vec![
        notify(rs(RS1, 1, vec![tcp(1)]), "rs1"),
        notify(rs(RS2, 1, vec![tcp(1)]), "rs2"),
    ])])
}

#[test]
fn an_unchanged_checker_keeps_its_state_and_schedule() {
    let snap = two_servers();
    let mut rig = Rig::new(&snap);
    rig.run_until(
        secs(1),
        |t, _| if t.starts_with(RS1) { fail() } else { pass() },
    );
    assert!(!rig.alive(RS1));
    let version = rig.monitor.view_version();
    let before = rig.events.len();
    rig.now = rig.at(secs(5));
    rig.monitor.reconfigure(&snap, rig.now);
    rig.drain();
    assert!(
        !rig.alive(RS1),
        "still down: not reset to the start-up state"
    );
    assert_eq!(rig.events.len(), before, "nothing to say");
    assert_eq!(rig.monitor.view_version(), version);
    assert_eq!(
        rig.monitor.poll_timeout(),
        Some(rig.at(secs(11))),
        "schedule kept"
    );
    // Its retry state is kept too: one pass brings it back.
    rig.run_until(secs(11), |_, _| pass());
    assert!(rig.alive(RS1));
}

#[test]
fn a_probe_in_flight_across_a_reload_still_counts() {
    let snap = two_servers();
    let mut rig = Rig::new(&snap);
    let due = rig.start_due(secs(1));
    assert_eq!(due.len(), 2);
    rig.now = rig.at(secs(2));
    rig.monitor.reconfigure(&snap, rig.now);
    let rs1 = due
        .iter()
        .find(|(_, p)| target(p).starts_with(RS1))
        .unwrap()
        .0;
    rig.answer(rs1, fail(), secs(3));
    assert!(!rig.alive(RS1));
}

#[test]
fn a_removed_real_server_is_dropped_and_its_late_outcome_ignored() {
    let snap = two_servers();
    let mut rig = Rig::new(&snap);
    let due = rig.start_due(secs(1));
    let rs2 = due
        .iter()
        .find(|(_, p)| target(p).starts_with(RS2))
        .unwrap()
        .0;
    let mut smaller = snap.clone();
    smaller.services[0].real_servers.truncate(1);
    rig.now = rig.at(secs(2));
    rig.monitor.reconfigure(&smaller, rig.now);
    rig.drain();
    assert!(rig
        .logs()
        .contains(&"TCP 198.18.0.100:80: real server 198.18.1.12:80 removed by reload"));
    assert_eq!(
        rig.scripts(),
        ["/bin/rs2-down"],
        "clear_service_rs notifies a live one"
    );
    assert!(rig
        .monitor
        .view()
        .real_server(&skey(), &rkey(RS2))
        .is_none());
    let version = rig.monitor.view_version();
    let before = rig.events.len();
    rig.answer(rs2, fail(), secs(3));
    assert_eq!(rig.events.len(), before);
    assert_eq!(rig.monitor.view_version(), version);
    assert_eq!(
        rig.monitor.status(rig.now).services[0].real_servers.len(),
        1
    );
}

#[test]
fn a_failed_server_whose_checker_changed_stays_out_until_the_new_one_passes() {
    let snap = two_servers();
    let mut rig = Rig::new(&snap);
    rig.run_until(
        secs(1),
        |t, _| if t.starts_with(RS1) { fail() } else { pass() },
    );
    assert!(!rig.alive(RS1));
    let mut changed = snap.clone();
    changed.services[0].real_servers[0].checkers[0].retry = 3;
    rig.now = rig.at(secs(5));
    rig.monitor.reconfigure(&changed, rig.now);
    rig.drain();
    // keepalived's migrate_checkers would put it back at once (no failed
    // checker left); xvs keeps a failed server out until its new checker
    // passes, so a reload never sends traffic to a server known dead.
    assert!(!rig.alive(RS1));
    assert_eq!(
        rig.scripts(),
        ["/bin/rs1-down"],
        "no notify_up, no second notify_down"
    );
    let due = rig.start_due(secs(6));
    assert_eq!(due.len(), 1);
    assert!(target(&due[0].1).starts_with(RS1));
    rig.answer(due[0].0, fail(), secs(6));
    assert!(!rig.alive(RS1));
    assert_eq!(rig.scripts(), ["/bin/rs1-down"]);
    // The new checker's first pass brings it back.
    rig.run_until(secs(30), |_, _| pass());
    assert!(rig.alive(RS1));
    assert_eq!(rig.scripts(), ["/bin/rs1-down", "/bin/rs1-up"]);
}

#[test]
fn a_new_checker_next_to_healthy_ones_does_not_pull_the_server() {
    let snap = two_servers();
    let mut rig = Rig::new(&snap);
    rig.run_until(secs(1), |_, _| pass());
    let mut more = snap.clone();
    more.services[0].real_servers[0]
        .checkers
        .push(alpha(on_port(tcp(1), 8080)));
    rig.now = rig.at(secs(2));
    rig.monitor.reconfigure(&more, rig.now);
    rig.drain();
    assert!(rig.alive(RS1), "a healthy server stays in");
    // And it has its retries: one failure does not bring it down.
    let due = rig.start_due(secs(3));
    assert_eq!(due.len(), 1);
    rig.answer(due[0].0, fail(), secs(3));
    assert!(rig.alive(RS1));
}

#[test]
fn new_servers_and_services_start_as_at_start_up() {
    let snap = two_servers();
    let mut rig = Rig::new(&snap);
    let mut more = snap.clone();
    more.services[0]
        .real_servers
        .push(rs(RS3, 1, vec![alpha(tcp(1))]));
    let mut other = service_at("198.18.0.101", 80, vec![rs(RS1, 1, vec![alpha(tcp(1))])]);
    other.health.sorry_server = Some(sorry("198.18.2.1", 1));
    other.health.quorum_down = Some(script("/bin/other-down"));
    more.services.push(other);
    rig.now = rig.at(secs(1) / 2);
    rig.monitor.reconfigure(&more, rig.now);
    rig.drain();
    assert!(!rig.alive(RS3), "alpha starts down");
    assert!(rig.alive(RS1));
    assert_eq!(
        rig.scripts(),
        ["/bin/other-down"],
        "starting with quorum down"
    );
    let out = xvs_health::apply(&more, rig.monitor.view());
    assert_eq!(out.services[1].real_servers.len(), 1);
    assert_eq!(out.services[1].real_servers[0].address, ip("198.18.2.1"));
}

#[test]
fn a_kept_service_keeps_its_quorum_state() {
    // quorum 3, hysteresis 1, three servers of weight 1: start-up says
    // down (3 < 4); once up at 4 (weight raised by a reload) and back to
    // 3 it stays up inside the band across a reload.
    let mut svc = service(vec![
        rs(RS1, 1, vec![tcp(1)]),
        rs(RS2, 1, vec![tcp(1)]),
        rs(RS3, 2, vec![tcp(1)]),
    ]);
    svc.health.quorum = 3;
    svc.health.hysteresis = 1;
    let snap = snapshot(vec![svc]);
    let mut rig = Rig::new(&snap);
    assert!(rig.quorum_up(), "4 >= 3 + 1");
    let mut lighter = snap.clone();
    lighter.services[0].real_servers[2].weight = 1;
    rig.now = rig.at(secs(1) / 2);
    rig.monitor.reconfigure(&lighter, rig.now);
    rig.drain();
    assert!(rig.quorum_up(), "3 is inside the band: the state is kept");
    assert_eq!(rig.weight(RS3), 1);
    assert!(rig
        .logs()
        .contains(&"TCP 198.18.0.100:80: real server 198.18.1.13:80 weight 2 -> 1 (reload)"));
    let fresh = Rig::new(&lighter);
    assert!(!fresh.quorum_up(), "while a fresh start would be down");
}

#[test]
fn a_removed_service_is_dropped() {
    let snap = two_servers();
    let mut rig = Rig::new(&snap);
    let due = rig.start_due(secs(1));
    rig.now = rig.at(secs(2));
    rig.monitor.reconfigure(&snapshot(vec![]), rig.now);
    rig.drain();
    assert_eq!(rig.scripts(), ["/bin/rs1-down", "/bin/rs2-down"]);
    assert!(rig.monitor.view().service(&skey()).is_none());
    assert_eq!(rig.monitor.poll_timeout(), None);
    for (id, _) in due {
        rig.answer(id, fail(), secs(3));
    }
    assert!(rig.monitor.status(rig.now).services.is_empty());
}
