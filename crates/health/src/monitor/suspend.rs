//! keepalived's `ha_suspend`: a service with it checks its real servers
//! only while this director is master of its VIP. keepalived follows the
//! VIP's presence on the host (check_api.c `update_checker_activity`, fed
//! by netlink address events); xvs follows its own VRRP, which tells the
//! monitor which virtual addresses are standby here ([`Monitor::set_standby`]).
//!
//! While suspended, keepalived's checker threads still wake every
//! delay_loop but do nothing (`if (!checker->enabled)` at the top of each
//! checker's thread, e.g. check_tcp.c `tcp_connect_thread`), and nothing
//! else is touched: each checker keeps `is_up`, `has_run` and `retry_it`,
//! each real server its liveness and weight, the service its quorum; no
//! script runs. On resume the checkers carry on from that state, not from
//! scratch. xvs does the same, with three choices of its own:
//!
//! - a suspended checker has no timer at all (nothing wakes for it);
//! - a probe already in flight when its service is suspended may finish,
//!   but its outcome is dropped (keepalived applies it, as its result
//!   handlers do not look at `enabled`): a suspended service changes no
//!   state and runs no notify or quorum script;
//! - on resume every idle checker is due at once (keepalived's next run
//!   comes at its next delay_loop tick, up to delay_loop later), so a
//!   director that becomes master corrects a state up to its age within
//!   one check. A checker whose dropped probe is still in flight runs
//!   again as soon as that probe ends.
//!
//! A slowstart ramp under way carries on: it is a consequence of a
//! transition already made, not a check.

use std::collections::{BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use super::state::ServiceState;
use super::Monitor;
use crate::Event;

impl Monitor {
    /// The virtual addresses this director is not master of (VRRP backup,
    /// fault or not started), as of `now`. Services with `ha_suspend`
    /// whose VIP is among them are suspended, the others resumed; see the
    /// module documentation. The set is kept for later reloads. A VIP in
    /// no VRRP instance is never standby, so its service is never
    /// suspended.
    pub fn set_standby(&mut self, standby: &[IpAddr], now: Instant) {
        if self.stopped {
            return;
        }
        let standby: BTreeSet<IpAddr> = standby.iter().copied().collect();
        if standby == self.standby {
            return;
        }
        self.standby = standby;
        let mut changed = false;
        for svc in &mut self.services {
            changed |= suspend_or_resume(svc, &self.standby, now, &mut self.events);
        }
        if changed {
            self.rebuild_indices();
        }
    }
}

/// Bring `svc`'s suspension in line with its config and the standby set;
/// true if its timers changed (the caller rebuilds the monitor's indices).
/// Idempotent: a suspended service's checkers never hold a timer, even
/// new ones a reload brought.
pub(crate) fn suspend_or_resume(
    svc: &mut ServiceState,
    standby: &BTreeSet<IpAddr>,
    now: Instant,
    events: &mut VecDeque<Event>,
) -> bool {
    let vip = svc.key.1;
    let want = svc.health.ha_suspend && standby.contains(&vip);
    if want {
        let mut changed = false;
        for chk in svc.servers.iter_mut().flat_map(|rs| rs.checkers.iter_mut()) {
            changed |= chk.due.take().is_some();
            if chk.in_flight.is_some() && !chk.discard_in_flight {
                chk.discard_in_flight = true;
                changed = true;
            }
        }
        if !svc.suspended {
            svc.suspended = true;
            events.push_back(Event::Log(format!(
                "{}: health checks suspended (ha_suspend): {vip} is standby on this director; real servers keep their state",
                svc.label
            )));
            changed = true;
        }
        return changed;
    }
    if !svc.suspended {
        return false;
    }
    svc.suspended = false;
    for chk in svc.servers.iter_mut().flat_map(|rs| rs.checkers.iter_mut()) {
        if chk.in_flight.is_none() && chk.due.is_none() {
            chk.due = Some(now);
        }
    }
    let why = if svc.health.ha_suspend {
        format!("{vip} is master on this director")
    } else {
        "ha_suspend turned off".to_string()
    };
    events.push_back(Event::Log(format!(
        "{}: health checks resumed: {why}",
        svc.label
    )));
    true
}
