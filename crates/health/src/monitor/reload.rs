//! A reload, as keepalived's ipwrapper.c `clear_diff_services`: a service
//! (protocol, VIP, port) that stays keeps its quorum state; a real server
//! that stays keeps its liveness, and each of its checkers whose
//! configuration is unchanged keeps its whole state, its schedule and its
//! probe in flight (`migrate_checkers`); everything else starts as at
//! start-up, except that a failed real server's new checkers start down:
//! keepalived would put the server back at once, xvs keeps it out until
//! they pass. Removed real servers that were alive run their notify_down
//! (`clear_service_rs`), and their late outcomes are ignored.

use std::collections::HashMap;
use std::mem;
use std::time::Instant;

use xvs_config::ipvsadm::addr_port;
use xvs_config::{RealServer, Snapshot, VirtualService};

use super::settle;
use super::state::{CheckerState, ServerState, ServiceState};
use super::Monitor;
use crate::view::{server_key, service_key};
use crate::Event;

impl Monitor {
    /// Take a new configuration at `now`; see the module documentation.
    pub fn reconfigure(&mut self, snapshot: &Snapshot, now: Instant) {
        if self.stopped {
            return;
        }
        let mut old: Vec<Option<ServiceState>> = mem::take(&mut self.services)
            .into_iter()
            .map(Some)
            .collect();
        let index: HashMap<_, _> = old
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (s.key, i)))
            .collect();
        let mut services = Vec::with_capacity(snapshot.services.len());
        for cfg in &snapshot.services {
            let prev = index
                .get(&service_key(cfg))
                .and_then(|&i| old.get_mut(i))
                .and_then(Option::take);
            let svc = match prev {
                Some(prev) => self.migrate_service(prev, cfg, now),
                None => {
                    let svc = ServiceState::start(cfg, now, &mut self.rng);
                    settle::start_quorum(&svc, &mut self.events);
                    svc
                }
            };
            services.push(svc);
        }
        for gone in old.into_iter().flatten() {
            self.events.push_back(Event::Log(format!(
                "{}: service removed by reload",
                gone.label
            )));
            for rs in gone.servers {
                removed_server(&gone.label, rs, &mut self.events);
            }
        }
        // ha_suspend: a kept service stays suspended (or resumes if the
        // reload turned it off); a new one starts suspended if its VIP is
        // standby, keeping its start-up state until the VIP is master.
        for svc in &mut services {
            super::suspend::suspend_or_resume(svc, &self.standby, now, &mut self.events);
        }
        self.services = services;
        self.rebuild_indices();
        let view = self.compute_view();
        if view != self.view {
            self.view = view;
            self.view_version = self.view_version.wrapping_add(1);
        }
    }

    fn migrate_service(
        &mut self,
        prev: ServiceState,
        cfg: &VirtualService,
        now: Instant,
    ) -> ServiceState {
        let label = prev.label.clone();
        let old_sorry = prev
            .sorry_active()
            .then(|| prev.health.sorry_server.clone());
        let mut old: Vec<Option<ServerState>> = prev.servers.into_iter().map(Some).collect();
        let index: HashMap<_, _> = old
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (s.key, i)))
            .collect();
        let mut servers = Vec::with_capacity(cfg.real_servers.len());
        for rs_cfg in &cfg.real_servers {
            let prev_rs = index
                .get(&server_key(rs_cfg))
                .and_then(|&i| old.get_mut(i))
                .and_then(Option::take);
            servers.push(match prev_rs {
                Some(prev_rs) => self.migrate_server(&label, prev_rs, rs_cfg, now),
                None => ServerState::start(rs_cfg, now, &mut self.rng),
            });
        }
        for gone in old.into_iter().flatten() {
            removed_server(&label, gone, &mut self.events);
        }

        let mut svc = ServiceState::shell(cfg, servers);
        svc.quorum_up = prev.quorum_up;
        svc.suspended = prev.suspended;
        // The sorry server changed by the configuration alone (added,
        // removed or moved while the quorum is down).
        let new_sorry = svc.sorry_active().then(|| svc.health.sorry_server.clone());
        if old_sorry != new_sorry {
            if let Some(Some(s)) = &old_sorry {
                self.events.push_back(Event::Log(format!(
                    "{label}: sorry server {} removed by reload",
                    addr_port(s.address, s.port)
                )));
            }
            if let Some(Some(s)) = &new_sorry {
                self.events.push_back(Event::Log(format!(
                    "{label}: sorry server {} added by reload",
                    addr_port(s.address, s.port)
                )));
            }
        }
        for r in 0..svc.servers.len() {
            settle::settle_server(
                &mut svc,
                r,
                now,
                "checkers changed by reload",
                &mut self.events,
            );
        }
        // The quorum, its hysteresis or the weights may have changed.
        settle::settle_quorum(&mut svc, &mut self.events);
        svc
    }

    fn migrate_server(
        &mut self,
        svc_label: &str,
        prev: ServerState,
        cfg: &RealServer,
        now: Instant,
    ) -> ServerState {
        let old_full = prev.full_weight();
        let mut old: Vec<Option<CheckerState>> = prev.checkers.into_iter().map(Some).collect();
        let kept: Vec<Option<CheckerState>> = cfg
            .checkers
            .iter()
            .map(|c| {
                old.iter_mut()
                    .find(|o| o.as_ref().is_some_and(|o| o.config == *c))
                    .and_then(Option::take)
            })
            .collect();
        let any_failed = kept
            .iter()
            .flatten()
            .any(|k| k.retry.has_run && !k.retry.up);
        let any_run = kept.iter().flatten().any(|k| k.retry.has_run);
        // migrate_checkers: next to a failed checker, or on a server that
        // is down and not yet checked, a new checker starts as at start-up
        // (alpha down, one failure enough); next to healthy checkers it
        // starts up with its full retries, so adding a check does not
        // pull a healthy server.
        let as_at_start = any_failed || (!prev.alive && !any_run);
        let checkers = kept
            .into_iter()
            .zip(&cfg.checkers)
            .map(|(k, c)| {
                k.unwrap_or_else(|| {
                    let mut fresh = CheckerState::start(c, cfg, now, &mut self.rng);
                    if !prev.alive {
                        // keepalived's init_service_rs does not re-add a
                        // failed real server on reload: its new checkers
                        // start down (as if they had run and failed), so
                        // it stays out until they pass, without a second
                        // notify_down.
                        fresh.retry.up = false;
                        fresh.retry.has_run = true;
                    } else if !as_at_start {
                        fresh.retry.up = true;
                        fresh.retry.retry_it = 0;
                    }
                    fresh
                })
            })
            .collect();

        let mut rs = ServerState::shell(cfg, checkers, prev.since);
        rs.alive = prev.alive;
        rs.transitions = prev.transitions;
        rs.ramp = match (prev.ramp, cfg.health.slowstart) {
            (Some(mut ramp), Some(period)) if rs.alive => {
                ramp.period = period;
                let full = rs.full_weight();
                ramp.step(full, now).then_some(ramp)
            }
            _ => None,
        };
        let new_full = rs.full_weight();
        if new_full != old_full {
            self.events.push_back(Event::Log(format!(
                "{svc_label}: real server {} weight {old_full} -> {new_full} (reload){}",
                rs.label,
                if rs.alive { "" } else { " (inactive)" }
            )));
        }
        rs
    }
}

/// A real server the new configuration drops: keepalived's
/// `clear_service_rs` runs the notify_down of one that was alive.
fn removed_server(
    svc_label: &str,
    rs: ServerState,
    events: &mut std::collections::VecDeque<Event>,
) {
    events.push_back(Event::Log(format!(
        "{svc_label}: real server {} removed by reload",
        rs.label
    )));
    if rs.alive {
        if let Some(script) = rs.health.notify_down {
            events.push_back(Event::RunScript(script));
        }
    }
}
