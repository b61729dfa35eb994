//! What a result means beyond its checker, as keepalived's ipwrapper.c:
//! a real server is alive while none of its checkers is down
//! (`update_svr_checker_state`), its transitions run its notify scripts
//! and may move the service's quorum (`perform_svr_state`,
//! `update_quorum_state`), which swaps the sorry server in or out and runs
//! the quorum scripts; a dynamic weight changes the server's effective
//! weight (`update_svr_wgt`). Each function appends its log lines and
//! scripts, in keepalived's order, to the monitor's event queue.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use xvs_config::ipvsadm::addr_port;
use xvs_probe::{DynamicWeight, Outcome};

use super::state::{LastResult, ServiceState};
use crate::checker::Verdict;
use crate::slowstart::Ramp;
use crate::Event;

/// Apply one probe result to checker `c` of server `r`; returns the delay
/// until the checker's next run.
pub(crate) fn on_result(
    svc: &mut ServiceState,
    r: usize,
    c: usize,
    outcome: Outcome,
    latency: Duration,
    now: Instant,
    events: &mut VecDeque<Event>,
) -> Option<Duration> {
    let svc_label = svc.label.clone();
    let rs = svc.servers.get_mut(r)?;
    let old_full = rs.full_weight();
    let configured = i64::from(rs.weight);
    let chk = rs.checkers.get_mut(c)?;
    let pass = outcome.is_pass();
    let name = chk.config.keepalived_name();
    let target = chk.target.clone();
    let text = match &outcome {
        Outcome::Pass { .. } => "ok".to_string(),
        Outcome::Fail { reason } => reason.clone(),
    };
    chk.last = Some(LastResult {
        text: text.clone(),
        at: now,
        latency,
    });
    chk.consecutive_failures = if pass {
        0
    } else {
        chk.consecutive_failures.saturating_add(1)
    };
    if let Outcome::Pass { weight } = outcome {
        // check_misc.c: exit 0 restores the configured weight, 2..255 sets
        // it to status - 2; FILE_CHECK adds its value × weight.
        chk.contribution = match weight {
            None => 0,
            Some(DynamicWeight::Set(w)) => i64::from(w).saturating_sub(configured),
            Some(DynamicWeight::Add(d)) => d,
        };
    }
    let (verdict, delay) = chk.retry.record(pass, &chk.config);
    if let Verdict::Failed { .. } = verdict {
        // check_misc.c: a checker declared down gives up its weight.
        chk.contribution = 0;
    }
    let retry = chk.config.retry;
    let log_all = chk.config.log_all_failures;
    let new_full = rs.full_weight();
    let alive = rs.alive;

    if pass && new_full != old_full {
        events.push_back(Event::Log(format!(
            "{svc_label}: real server {} weight {old_full} -> {new_full} ({name}){}",
            rs.label,
            if alive { "" } else { " (inactive)" }
        )));
        if alive {
            if let Some(ramp) = &mut rs.ramp {
                if !ramp.step(new_full, now) {
                    rs.ramp = None;
                }
            }
            settle_quorum(svc, events);
        }
    }

    let rs = svc.servers.get_mut(r)?;
    match verdict {
        Verdict::Failed { after_retries } => {
            let cause = format!("{name}: {text}{}", after(after_retries));
            if !settle_server(svc, r, now, &cause, events) {
                events.push_back(Event::Log(format!(
                    "{svc_label}: real server {}: {name} to {target} down: {text}{}; real server stays down",
                    addr_label(svc, r),
                    after(after_retries)
                )));
            }
        }
        Verdict::Recovered => {
            let cause = format!("{name}: ok");
            if !settle_server(svc, r, now, &cause, events) {
                let failing = svc.servers.get(r).map_or(0, |s| s.failing());
                events.push_back(Event::Log(format!(
                    "{svc_label}: real server {}: {name} to {target} up; real server stays down ({failing} checker{} failing)",
                    addr_label(svc, r),
                    if failing == 1 { "" } else { "s" }
                )));
            }
        }
        Verdict::FirstRunFailed => {
            // update_svr_checker_state: an alpha checker's first failure
            // runs the (still down) real server's notifier.
            events.push_back(Event::Log(format!(
                "{svc_label}: real server {} not up: {name}: {text} (first check)",
                rs.label
            )));
            if !rs.alive {
                if let Some(script) = &rs.health.notify_down {
                    events.push_back(Event::RunScript(script.clone()));
                }
            }
        }
        Verdict::Retrying { attempt } => {
            if log_all {
                events.push_back(Event::Log(format!(
                    "{svc_label}: real server {}: {name} to {target} failed: {text} (retry {attempt}/{retry} in {})",
                    rs.label,
                    seconds(delay)
                )));
            }
        }
        Verdict::Steady => {}
    }
    Some(delay)
}

fn addr_label(svc: &ServiceState, r: usize) -> String {
    svc.servers
        .get(r)
        .map_or_else(String::new, |s| s.label.clone())
}

/// keepalived's " after N retries" on a checker that had run.
fn after(retries: u32) -> String {
    match retries {
        0 => String::new(),
        1 => " (after 1 retry)".to_string(),
        n => format!(" (after {n} retries)"),
    }
}

pub(crate) fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

/// Bring server `r`'s liveness in line with its checkers; true if it
/// changed (logged with `cause`, notifier queued, slowstart begun,
/// quorum updated).
pub(crate) fn settle_server(
    svc: &mut ServiceState,
    r: usize,
    now: Instant,
    cause: &str,
    events: &mut VecDeque<Event>,
) -> bool {
    let label = svc.label.clone();
    let Some(rs) = svc.servers.get_mut(r) else {
        return false;
    };
    let alive = rs.all_up();
    if alive == rs.alive {
        return false;
    }
    rs.alive = alive;
    rs.since = now;
    rs.transitions = rs.transitions.saturating_add(1);
    events.push_back(Event::Log(format!(
        "{label}: real server {} {}: {cause}",
        rs.label,
        if alive { "up" } else { "down" }
    )));
    let script = if alive {
        &rs.health.notify_up
    } else {
        &rs.health.notify_down
    };
    if let Some(script) = script {
        events.push_back(Event::RunScript(script.clone()));
    }
    rs.ramp = match (alive, rs.health.slowstart) {
        (true, Some(period)) => Ramp::begin(rs.full_weight(), period, now),
        _ => None,
    };
    settle_quorum(svc, events);
    true
}

/// keepalived's `update_quorum_state` after a change of the live weight.
pub(crate) fn settle_quorum(svc: &mut ServiceState, events: &mut VecDeque<Event>) {
    let sum = svc.live_weight();
    let (q, h) = (svc.health.quorum, svc.health.hysteresis);
    let up = crate::quorum::next(svc.quorum_up, sum, q, h);
    if up == svc.quorum_up {
        return;
    }
    svc.quorum_up = up;
    let word = if up { "gained" } else { "lost" };
    events.push_back(Event::Log(format!(
        "{}: quorum {word} (live weight {sum}, quorum {q}, hysteresis {h})",
        svc.label
    )));
    sorry_log(svc, !up, events);
    let script = if up {
        &svc.health.quorum_up
    } else {
        &svc.health.quorum_down
    };
    if let Some(script) = script {
        events.push_back(Event::RunScript(script.clone()));
    }
}

/// The quorum at start-up, as keepalived's `init_service_vs` settles it:
/// it computes the quorum before any real server is live, so a service
/// that meets its quorum "gains" it at once and runs quorum_up; one that
/// starts below it with a sorry server puts the sorry server in and runs
/// quorum_down ("Starting with quorum down"); one below it without a
/// sorry server says nothing (ipwrapper.c `update_quorum_state(vs, init)`).
pub(crate) fn start_quorum(svc: &ServiceState, events: &mut VecDeque<Event>) {
    let (sum, q, h) = (svc.live_weight(), svc.health.quorum, svc.health.hysteresis);
    if svc.quorum_up {
        events.push_back(Event::Log(format!(
            "{}: quorum gained at start (live weight {sum}, quorum {q}, hysteresis {h})",
            svc.label
        )));
        if let Some(script) = &svc.health.quorum_up {
            events.push_back(Event::RunScript(script.clone()));
        }
        return;
    }
    if svc.health.sorry_server.is_none() {
        return;
    }
    events.push_back(Event::Log(format!(
        "{}: starting with quorum down (live weight {sum}, quorum {q}, hysteresis {h})",
        svc.label
    )));
    sorry_log(svc, true, events);
    if let Some(script) = &svc.health.quorum_down {
        events.push_back(Event::RunScript(script.clone()));
    }
}

/// The sorry server going in (`active`) or out, in keepalived's words:
/// with sorry_server_inhibit it stays configured and is enabled/disabled.
pub(crate) fn sorry_log(svc: &ServiceState, active: bool, events: &mut VecDeque<Event>) {
    let Some(sorry) = &svc.health.sorry_server else {
        return;
    };
    let verb = match (active, svc.health.sorry_server_inhibit) {
        (true, false) => "added",
        (true, true) => "enabled",
        (false, false) => "removed",
        (false, true) => "disabled",
    };
    events.push_back(Event::Log(format!(
        "{}: sorry server {} {verb}",
        svc.label,
        addr_port(sorry.address, sorry.port)
    )));
}
