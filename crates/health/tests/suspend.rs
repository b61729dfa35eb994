//! ha_suspend on a virtual clock: a service whose VIP is standby on this
//! director runs no check and keeps its real servers' state (keepalived's
//! check_api.c `update_checker_activity`: checkers disabled, nothing
//! else touched); a probe in flight then changes nothing; when the VIP is
//! master again checking resumes at once from the kept state (retry
//! counters included), not from scratch. Reloads keep the suspension.

mod common;

use common::*;
use xvs_config::{Snapshot, VirtualService};
use xvs_probe::Outcome;

const RS1: &str = "198.18.1.11";
const RS2: &str = "198.18.1.12";

fn suspending(mut svc: VirtualService) -> VirtualService {
    svc.health.ha_suspend = true;
    svc
}

fn with_notify(mut r: xvs_config::RealServer) -> xvs_config::RealServer {
    r.health.notify_up = Some(script("/bin/up"));
    r.health.notify_down = Some(script("/bin/down"));
    r
}

/// RS1 healthy, RS2 failing; retry 2 on both.
fn web() -> Snapshot {
    let mut svc = suspending(service(vec![
        with_notify(rs(RS1, 1, vec![tcp(2)])),
        with_notify(rs(RS2, 1, vec![tcp(2)])),
    ]));
    svc.health.quorum_down = Some(script("/bin/quorum-down"));
    snapshot(vec![svc])
}

fn answer(tgt: &str, _: std::time::Duration) -> Outcome {
    if tgt.starts_with(RS2) {
        fail()
    } else {
        pass()
    }
}

#[test]
fn a_standby_vip_stops_the_checks_and_keeps_the_state() {
    let mut rig = Rig::new(&web());
    rig.run_until(secs(5), answer);
    assert!(rig.alive(RS1) && !rig.alive(RS2));
    let scripts_before = rig.scripts();
    let status_before = rig.monitor.status(rig.now);

    rig.monitor.set_standby(&[ip(VIP)], rig.now);
    rig.drain();
    assert_eq!(
        rig.monitor.poll_timeout(),
        None,
        "a suspended checker holds no timer"
    );
    let probes = rig.probes.len();
    // Everything fails now: nothing is checked, nothing changes.
    rig.run_until(secs(300), |_, _| fail());
    assert_eq!(rig.probes.len(), probes, "no probe while suspended");
    assert!(rig.alive(RS1) && !rig.alive(RS2));
    assert!(rig.quorum_up());
    assert_eq!(rig.scripts(), scripts_before, "no script while suspended");
    assert!(rig.logs().contains(
        &"TCP 198.18.0.100:80: health checks suspended (ha_suspend): 198.18.0.100 is standby on this director; real servers keep their state"
    ), "{:?}", rig.logs());
    let status = rig.monitor.status(rig.now);
    assert!(status.services[0].suspended);
    let (a, b) = (&status.services[0], &status_before.services[0]);
    for (x, y) in a.real_servers.iter().zip(&b.real_servers) {
        assert_eq!(
            (x.up, x.effective_weight, x.transitions),
            (y.up, y.effective_weight, y.transitions)
        );
        assert_eq!(x.checkers[0].last_result, y.checkers[0].last_result);
        assert_eq!(
            x.checkers[0].consecutive_failures,
            y.checkers[0].consecutive_failures
        );
    }
}

#[test]
fn the_same_standby_set_again_changes_nothing() {
    let mut rig = Rig::new(&web());
    rig.monitor.set_standby(&[ip(VIP)], rig.now);
    rig.monitor.set_standby(&[ip(VIP)], rig.now);
    rig.drain();
    assert_eq!(rig.logs().len(), 1, "{:?}", rig.logs());
    rig.monitor.set_standby(&[], rig.at(secs(3)));
    rig.monitor.set_standby(&[], rig.at(secs(3)));
    rig.drain();
    assert_eq!(rig.logs().len(), 2, "{:?}", rig.logs());
}

#[test]
fn checking_resumes_at_once_from_the_kept_retry_state() {
    // retry 2: RS1 passes at 1 s, fails at 11 s (retry 1 of 2, next at
    // 13 s); suspended at 12 s, resumed at 50 s. keepalived keeps
    // retry_it: the check at 50 s is retry 2, the one at 52 s takes it
    // down. From scratch it would go down at 50 s (one failure is enough
    // at start-up), or at 54 s (a fresh up checker).
    let snap = snapshot(vec![suspending(service(vec![with_notify(rs(
        RS1,
        1,
        vec![tcp(2)],
    ))]))]);
    let mut rig = Rig::new(&snap);
    rig.run_until(secs(12), |_, t| if t < secs(10) { pass() } else { fail() });
    assert_eq!(rig.probes.len(), 2);
    rig.monitor.set_standby(&[ip(VIP)], rig.now);
    rig.run_until(secs(50), |_, _| fail());
    assert_eq!(rig.probes.len(), 2);

    rig.monitor.set_standby(&[], rig.at(secs(50)));
    assert_eq!(rig.monitor.poll_timeout(), Some(rig.at(secs(50))));
    rig.run_until(secs(51), |_, _| fail());
    assert_eq!(rig.probes.last().map(|p| p.0), Some(secs(50)));
    assert!(rig.alive(RS1), "retry 2 of 2 at 50 s");
    rig.run_until(secs(52), |_, _| fail());
    assert!(!rig.alive(RS1), "down at 52 s");
    let times: Vec<u64> = rig.probes.iter().map(|p| p.0.as_secs()).collect();
    assert_eq!(times, [1, 11, 50, 52]);
    assert!(rig.logs().contains(
        &"TCP 198.18.0.100:80: real server 198.18.1.11:80 down: TCP_CHECK: connection refused (after 2 retries)"
    ));
    assert!(rig.logs().contains(
        &"TCP 198.18.0.100:80: health checks resumed: 198.18.0.100 is master on this director"
    ));
    assert_eq!(rig.scripts(), ["/bin/down"]);
    assert!(!rig.monitor.status(rig.now).services[0].suspended);
}

#[test]
fn a_down_server_stays_down_while_suspended_and_comes_back_after() {
    let mut rig = Rig::new(&web());
    rig.run_until(secs(1), answer);
    assert!(!rig.alive(RS2));
    rig.monitor.set_standby(&[ip(VIP)], rig.at(secs(2)));
    rig.run_until(secs(100), |_, _| pass());
    assert!(!rig.alive(RS2), "kept down while suspended");
    rig.monitor.set_standby(&[], rig.at(secs(100)));
    rig.run_until(secs(100), |_, _| pass());
    assert!(rig.alive(RS2), "up at the first check after the resume");
    assert_eq!(rig.scripts(), ["/bin/down", "/bin/up"]);
}

#[test]
fn a_probe_in_flight_when_suspended_changes_nothing() {
    let mut rig = Rig::new(&web());
    let due = rig.start_due(secs(1));
    assert_eq!(due.len(), 2);
    rig.monitor.set_standby(&[ip(VIP)], rig.at(secs(2)));
    // Both finish after the suspension, RS1's failing: dropped.
    for (id, _) in due {
        rig.answer(id, fail(), secs(3));
    }
    assert!(rig.alive(RS1) && rig.alive(RS2));
    assert_eq!(rig.scripts(), Vec::<String>::new());
    let status = rig.monitor.status(rig.now);
    assert_eq!(
        status.services[0].real_servers[0].checkers[0].last_result, None,
        "the dropped outcome is not shown either"
    );
    assert_eq!(rig.monitor.poll_timeout(), None, "and not rescheduled");
    // Resumed: checked at once.
    rig.monitor.set_standby(&[], rig.at(secs(20)));
    assert_eq!(rig.start_due(secs(20)).len(), 2);
}

#[test]
fn a_dropped_probe_still_in_flight_at_resume_is_followed_by_a_fresh_one() {
    let snap = snapshot(vec![suspending(service(vec![rs(RS1, 1, vec![tcp(0)])]))]);
    let mut rig = Rig::new(&snap);
    let due = rig.start_due(secs(1));
    rig.monitor.set_standby(&[ip(VIP)], rig.at(secs(2)));
    rig.monitor.set_standby(&[], rig.at(secs(3)));
    // At most one probe per checker: none until the old one ends.
    assert!(rig.start_due(secs(3)).is_empty());
    rig.answer(due[0].0, fail(), secs(4));
    assert!(rig.alive(RS1), "its outcome is still dropped");
    let again = rig.start_due(secs(4));
    assert_eq!(again.len(), 1, "checked again as soon as it ended");
    rig.answer(again[0].0, fail(), secs(4));
    assert!(!rig.alive(RS1), "a probe started after the resume counts");
}

#[test]
fn only_ha_suspend_services_on_a_standby_vip_are_suspended() {
    const OTHER: &str = "198.18.0.101";
    let snap = snapshot(vec![
        suspending(service_at(VIP, 80, vec![rs(RS1, 1, vec![tcp(1)])])),
        service_at(VIP, 443, vec![rs(RS1, 1, vec![on_port(tcp(1), 443)])]),
        suspending(service_at(OTHER, 80, vec![rs(RS2, 1, vec![tcp(1)])])),
    ]);
    let mut rig = Rig::new(&snap);
    rig.monitor
        .set_standby(&[ip(VIP), ip("198.18.0.200")], rig.now);
    rig.run_until(secs(1), |_, _| pass());
    let mut targets: Vec<&str> = rig.probes.iter().map(|p| p.1.as_str()).collect();
    targets.sort_unstable();
    assert_eq!(targets, ["198.18.1.11:443", "198.18.1.12:80"]);
    let status = rig.monitor.status(rig.now);
    let suspended: Vec<bool> = status.services.iter().map(|s| s.suspended).collect();
    assert_eq!(suspended, [true, false, false]);
}

#[test]
fn a_reload_keeps_the_suspension_and_new_services_start_suspended() {
    let mut rig = Rig::new(&web());
    rig.run_until(secs(1), answer);
    rig.monitor.set_standby(&[ip(VIP)], rig.at(secs(2)));
    rig.drain();
    // Reload: a new checker on RS1, a new ha_suspend service on the VIP,
    // and one without ha_suspend.
    let mut snap = web();
    snap.services[0].real_servers[0]
        .checkers
        .push(on_port(tcp(1), 8080));
    snap.services.push(suspending(service_at(
        VIP,
        443,
        vec![rs(RS1, 1, vec![on_port(tcp(1), 443)])],
    )));
    snap.services.push(service_at(
        VIP,
        25,
        vec![rs(RS1, 1, vec![on_port(tcp(1), 25)])],
    ));
    rig.monitor.reconfigure(&snap, rig.at(secs(3)));
    rig.drain();
    rig.run_until(secs(100), |_, _| pass());
    let after_reload: Vec<&str> = rig.probes[2..].iter().map(|p| p.1.as_str()).collect();
    assert!(
        after_reload.iter().all(|t| *t == "198.18.1.11:25"),
        "{after_reload:?}"
    );
    assert!(!after_reload.is_empty());
    assert!(!rig.alive(RS2), "the kept service kept its state");
    let status = rig.monitor.status(rig.now);
    let suspended: Vec<bool> = status.services.iter().map(|s| s.suspended).collect();
    assert_eq!(suspended, [true, true, false]);

    // A reload that turns ha_suspend off resumes at once.
    let mut off = snap.clone();
    off.services[0].health.ha_suspend = false;
    rig.monitor.reconfigure(&off, rig.at(secs(100)));
    rig.drain();
    assert!(rig
        .logs()
        .contains(&"TCP 198.18.0.100:80: health checks resumed: ha_suspend turned off"));
    let due: Vec<String> = rig
        .start_due(secs(100))
        .iter()
        .map(|p| target(&p.1))
        .collect();
    assert_eq!(due.len(), 3, "RS1's two checkers and RS2's: {due:?}");
    assert!(rig.monitor.status(rig.now).services[1].suspended);
}

#[test]
fn status_shows_a_suspended_service() {
    let mut svc = suspending(service(vec![rs(RS1, 1, vec![tcp(1)])]));
    svc.name = "web".into();
    let mut rig = Rig::new(&snapshot(vec![svc]));
    rig.monitor.set_standby(&[ip(VIP)], rig.now);
    let status = rig.monitor.status(rig.now);
    let text = status.render_text();
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.ends_with("  checks SUSPENDED (ha_suspend: VIP standby here)"),
        "{text}"
    );
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["services"][0]["suspended"], true);

    rig.monitor.set_standby(&[], rig.now);
    let status = rig.monitor.status(rig.now);
    assert!(!status.render_text().contains("SUSPENDED"));
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["services"][0]["suspended"], false);
}

#[test]
fn a_stopped_monitor_ignores_the_standby_set() {
    let mut rig = Rig::new(&web());
    rig.monitor.shutdown(rig.now);
    rig.monitor.set_standby(&[ip(VIP)], rig.now);
    assert!(!rig.monitor.status(rig.now).services[0].suspended);
}
