//! The health monitor: every checker of every real server of a snapshot,
//! driven like quinn-proto's connection: the caller feeds it time
//! (`handle_timeout`), probe results (`handle_outcome`), reloads
//! (`reconfigure`) and the VIPs VRRP keeps standby (`set_standby`, for
//! ha_suspend), and polls it for probes to run, events (log lines and
//! scripts) and the instant it next needs attention. It never reads a
//! clock, opens a socket or spawns anything.

mod reload;
mod settle;
pub(crate) mod state;
mod suspend;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use xvs_config::{HealthCheckKind, Snapshot};
use xvs_probe::{Outcome, Probe, ProbeId};

use crate::probes::build_probe;
use crate::rng::SplitMix64;
use crate::status::Status;
use crate::view::HealthView;
use crate::Event;
use state::{later, ServiceState};

/// Where a checker lives: indices into services, their servers, their
/// checkers (rebuilt by every reload).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Slot {
    service: usize,
    server: usize,
    checker: usize,
}

/// keepalived's checker half, sans-IO. See the crate documentation.
#[derive(Debug)]
pub struct Monitor {
    services: Vec<ServiceState>,
    /// Idle checkers by the instant they are due.
    probe_timers: BTreeSet<(Instant, Slot)>,
    /// Ramping servers by their next slowstart step: (instant, service, server).
    ramp_timers: BTreeSet<(Instant, usize, usize)>,
    in_flight: HashMap<ProbeId, Slot>,
    next_probe: ProbeId,
    rng: SplitMix64,
    events: VecDeque<Event>,
    view: HealthView,
    view_version: u64,
    /// The virtual addresses this director is not master of (ha_suspend).
    standby: BTreeSet<IpAddr>,
    stopped: bool,
}

impl Monitor {
    /// Start checking `snapshot` at `now`. `seed` drives the warmup
    /// spread and random UDP payloads (the same seed gives the same
    /// schedule).
    pub fn new(snapshot: &Snapshot, now: Instant, seed: u64) -> Monitor {
        let mut rng = SplitMix64::new(seed);
        let mut events = VecDeque::new();
        let services: Vec<ServiceState> = snapshot
            .services
            .iter()
            .map(|cfg| ServiceState::start(cfg, now, &mut rng))
            .collect();
        for svc in &services {
            settle::start_quorum(svc, &mut events);
        }
        let mut monitor = Monitor {
            services,
            probe_timers: BTreeSet::new(),
            ramp_timers: BTreeSet::new(),
            in_flight: HashMap::new(),
            next_probe: 1,
            rng,
            events,
            view: HealthView::default(),
            view_version: 0,
            standby: BTreeSet::new(),
            stopped: false,
        };
        monitor.rebuild_indices();
        monitor.view = monitor.compute_view();
        monitor
    }

    /// The next probe due at `now`, if any (call until `None`). A checker
    /// has at most one probe in flight; it is due again only once its
    /// outcome is handled.
    pub fn poll_probe(&mut self, now: Instant) -> Option<(ProbeId, Probe)> {
        if self.stopped {
            return None;
        }
        loop {
            let &(at, slot) = self.probe_timers.first()?;
            if at > now {
                return None;
            }
            self.probe_timers.remove(&(at, slot));
            let Some(svc) = self.services.get_mut(slot.service) else {
                continue;
            };
            if svc.suspended {
                // (Never happens: a suspended checker holds no timer.)
                if let Some(chk) = svc
                    .servers
                    .get_mut(slot.server)
                    .and_then(|rs| rs.checkers.get_mut(slot.checker))
                {
                    chk.due = None;
                }
                continue;
            }
            let Some(rs) = svc.servers.get_mut(slot.server) else {
                continue;
            };
            let key = rs.key;
            let Some(chk) = rs.checkers.get_mut(slot.checker) else {
                continue;
            };
            chk.due = None;
            let id = self.next_probe;
            self.next_probe = self.next_probe.wrapping_add(1);
            chk.in_flight = Some(id);
            self.in_flight.insert(id, slot);
            let random = match &chk.config.kind {
                HealthCheckKind::Udp(u) if u.payload.is_none() => self.rng.bytes16(),
                _ => [0; 16],
            };
            return Some((id, build_probe(&chk.config, key, random)));
        }
    }

    /// The outcome of probe `id`. `latency` is shown by `status`. Unknown
    /// ids (a checker removed by a reload, a duplicate) are ignored, and
    /// so is the outcome of a probe started before its service was
    /// suspended (ha_suspend, see [`Monitor::set_standby`]).
    pub fn handle_outcome(
        &mut self,
        id: ProbeId,
        outcome: Outcome,
        latency: Duration,
        now: Instant,
    ) {
        if self.stopped {
            return;
        }
        let Some(slot) = self.in_flight.remove(&id) else {
            return;
        };
        let Some(svc) = self.services.get_mut(slot.service) else {
            return;
        };
        let Some(chk) = svc
            .servers
            .get_mut(slot.server)
            .and_then(|rs| rs.checkers.get_mut(slot.checker))
        else {
            return;
        };
        if chk.in_flight != Some(id) {
            return;
        }
        chk.in_flight = None;
        if std::mem::take(&mut chk.discard_in_flight) || svc.suspended {
            // Started before its service was suspended (ha_suspend): it
            // changes nothing. Resumed since: check again at once.
            if !svc.suspended {
                self.set_due(slot, now);
            }
            return;
        }
        let delay = settle::on_result(
            svc,
            slot.server,
            slot.checker,
            outcome,
            latency,
            now,
            &mut self.events,
        );
        if let Some(delay) = delay {
            self.set_due(slot, later(now, delay));
        }
        // An outcome changes its own real server and the service's
        // quorum, nothing else: refreshing only those keeps a check
        // O(log n) in the service's size (a thousand real servers checked
        // every second would otherwise cost a million comparisons a
        // second).
        self.refresh_server(slot.service, slot.server);
    }

    /// Timers that are not probes: slowstart steps due at `now`.
    /// Idempotent.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        let mut touched = BTreeSet::new();
        while let Some(&(at, s, r)) = self.ramp_timers.first() {
            if at > now {
                break;
            }
            self.ramp_timers.remove(&(at, s, r));
            let Some(rs) = self
                .services
                .get_mut(s)
                .and_then(|svc| svc.servers.get_mut(r))
            else {
                continue;
            };
            rs.ramp_timer = None;
            let full = rs.full_weight();
            if let Some(ramp) = &mut rs.ramp {
                if !ramp.step(full, now) {
                    rs.ramp = None;
                }
            }
            touched.insert((s, r));
        }
        for (s, r) in touched {
            self.refresh_server(s, r);
        }
    }

    /// The earliest instant a probe or a slowstart step is due; `None`
    /// if nothing ever will be (no checkers, or stopped). A probe in
    /// flight is not counted: its outcome comes from the I/O layer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let probe = self.probe_timers.first().map(|t| t.0);
        let ramp = self.ramp_timers.first().map(|t| t.0);
        match (probe, ramp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing for the I/O layer to do, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// What health implies for forwarding; see [`crate::apply`].
    pub fn view(&self) -> &HealthView {
        &self.view
    }

    /// Incremented whenever [`Monitor::view`] changes.
    pub fn view_version(&self) -> u64 {
        self.view_version
    }

    /// Everything `xvs status` shows.
    pub fn status(&self, now: Instant) -> Status {
        crate::status::build(&self.services, now)
    }

    /// Stopping. keepalived with `omega` runs, at shutdown, the notify_down
    /// of every live real server and the quorum_down of every service
    /// whose quorum is up (ipwrapper.c `clear_services`). No probe runs
    /// after this.
    pub fn shutdown(&mut self, _now: Instant) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for svc in &self.services {
            if !svc.health.omega {
                continue;
            }
            for rs in svc.servers.iter().filter(|rs| rs.alive) {
                if let Some(script) = &rs.health.notify_down {
                    self.events.push_back(Event::Log(format!(
                        "{}: shutting down real server {}",
                        svc.label, rs.label
                    )));
                    self.events.push_back(Event::RunScript(script.clone()));
                }
            }
            if svc.quorum_up {
                if let Some(script) = &svc.health.quorum_down {
                    self.events.push_back(Event::Log(format!(
                        "{}: shutting down with quorum up",
                        svc.label
                    )));
                    self.events.push_back(Event::RunScript(script.clone()));
                }
            }
        }
        self.probe_timers.clear();
        self.ramp_timers.clear();
        self.in_flight.clear();
    }

    /// Make `slot` due at `at` (it must be idle).
    fn set_due(&mut self, slot: Slot, at: Instant) {
        let Some(chk) = self
            .services
            .get_mut(slot.service)
            .and_then(|svc| svc.servers.get_mut(slot.server))
            .and_then(|rs| rs.checkers.get_mut(slot.checker))
        else {
            return;
        };
        if let Some(old) = chk.due.replace(at) {
            self.probe_timers.remove(&(old, slot));
        }
        self.probe_timers.insert((at, slot));
    }

    /// After real server `r` of service `s` changed (an outcome, a
    /// slowstart step): its ramp timer, its entry in the view and the
    /// service's quorum flag.
    fn refresh_server(&mut self, s: usize, r: usize) {
        let Some(svc) = self.services.get_mut(s) else {
            return;
        };
        let Some(rs) = svc.servers.get_mut(r) else {
            return;
        };
        let want = rs.ramp.map(|ramp| ramp.next);
        if want != rs.ramp_timer {
            if let Some(old) = rs.ramp_timer {
                self.ramp_timers.remove(&(old, s, r));
            }
            if let Some(at) = want {
                self.ramp_timers.insert((at, s, r));
            }
            rs.ramp_timer = want;
        }
        let (key, server) = (rs.key, rs.view());
        let quorum_up = svc.quorum_up;
        let mut changed = false;
        let entry = self.view.services.entry(svc.key).or_default();
        if entry.quorum_up != quorum_up {
            entry.quorum_up = quorum_up;
            changed = true;
        }
        if entry.real_servers.get(&key) != Some(&server) {
            entry.real_servers.insert(key, server);
            changed = true;
        }
        if changed {
            self.view_version = self.view_version.wrapping_add(1);
        }
    }

    /// The timers and probes in flight from the states (after start-up
    /// or a reload, when indices change).
    fn rebuild_indices(&mut self) {
        self.probe_timers.clear();
        self.ramp_timers.clear();
        self.in_flight.clear();
        for (s, svc) in self.services.iter_mut().enumerate() {
            for (r, rs) in svc.servers.iter_mut().enumerate() {
                rs.ramp_timer = rs.ramp.map(|ramp| ramp.next);
                if let Some(at) = rs.ramp_timer {
                    self.ramp_timers.insert((at, s, r));
                }
                for (c, chk) in rs.checkers.iter().enumerate() {
                    let slot = Slot {
                        service: s,
                        server: r,
                        checker: c,
                    };
                    if let Some(id) = chk.in_flight {
                        self.in_flight.insert(id, slot);
                    } else if let Some(at) = chk.due {
                        self.probe_timers.insert((at, slot));
                    }
                }
            }
        }
    }

    fn compute_view(&self) -> HealthView {
        HealthView {
            services: self.services.iter().map(|s| (s.key, s.view())).collect(),
        }
    }
}
