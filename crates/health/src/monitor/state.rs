//! The monitor's memory: per service its quorum, per real server whether
//! it is alive and its slowstart ramp, per checker keepalived's retry
//! state, its dynamic-weight contribution, when it runs next and what it
//! last saw. Built at start-up with keepalived's initial states.

use std::time::{Duration, Instant};

use xvs_config::ipvsadm::addr_port;
use xvs_config::{HealthCheck, RealServer, RealServerHealth, ServiceHealth, VirtualService};
use xvs_probe::ProbeId;

use crate::checker::RetryState;
use crate::probes::target_label;
use crate::rng::SplitMix64;
use crate::slowstart::Ramp;
use crate::view::{clamp_weight, forwarding, server_key, service_key, ServerView, ServiceView};
use crate::{ServerKey, ServiceKey};

/// keepalived's BOOTSTRAP_DELAY: the first check waits this long, plus a
/// random part of the warmup (register_checkers_thread).
pub(crate) const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct ServiceState {
    pub key: ServiceKey,
    pub name: String,
    /// "TCP 198.18.0.100:80", for log lines.
    pub label: String,
    pub health: ServiceHealth,
    pub quorum_up: bool,
    /// ha_suspend in force: the VIP is standby here, no checker of this
    /// service is scheduled and its real servers keep their state.
    pub suspended: bool,
    pub servers: Vec<ServerState>,
}

#[derive(Debug)]
pub(crate) struct ServerState {
    pub key: ServerKey,
    /// "198.18.1.11:80".
    pub label: String,
    /// The configured weight.
    pub weight: u32,
    pub health: RealServerHealth,
    pub alive: bool,
    pub checkers: Vec<CheckerState>,
    /// When it entered its current state (or was configured).
    pub since: Instant,
    pub transitions: u64,
    pub ramp: Option<Ramp>,
    /// The instant this server holds in the monitor's ramp timers.
    pub ramp_timer: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct CheckerState {
    pub config: HealthCheck,
    pub target: String,
    pub retry: RetryState,
    /// What this checker adds to the configured weight (misc_dynamic,
    /// FILE_CHECK), keepalived's `cur_weight`.
    pub contribution: i64,
    /// The instant it holds in the monitor's probe timers, if idle.
    pub due: Option<Instant>,
    pub in_flight: Option<ProbeId>,
    /// The probe in flight was started before its service was suspended
    /// (ha_suspend): its outcome is dropped, not applied.
    pub discard_in_flight: bool,
    pub last: Option<LastResult>,
    pub consecutive_failures: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct LastResult {
    /// "ok" or the failure reason.
    pub text: String,
    pub at: Instant,
    pub latency: Duration,
}

/// `now + d`, without overflow (a far-off instant is as good as never).
pub(crate) fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

impl ServiceState {
    /// A service as at start-up (the caller settles the quorum as keepalived
    /// does at start-up: `settle::start_quorum`).
    pub(crate) fn start(cfg: &VirtualService, now: Instant, rng: &mut SplitMix64) -> ServiceState {
        let servers = cfg
            .real_servers
            .iter()
            .map(|rs| ServerState::start(rs, now, rng))
            .collect();
        let mut svc = ServiceState::shell(cfg, servers);
        svc.quorum_up =
            crate::quorum::initial(svc.live_weight(), svc.health.quorum, svc.health.hysteresis);
        svc
    }

    /// A service with these servers and a quorum still to be set.
    pub(crate) fn shell(cfg: &VirtualService, servers: Vec<ServerState>) -> ServiceState {
        ServiceState {
            key: service_key(cfg),
            name: cfg.name.clone(),
            label: format!("{} {}", cfg.protocol, addr_port(cfg.vip, cfg.port)),
            health: cfg.health.clone(),
            quorum_up: false,
            suspended: false,
            servers,
        }
    }

    /// keepalived's `weigh_live_realservers`: the full effective weights
    /// (not the slowstart ramp) of the live real servers.
    pub(crate) fn live_weight(&self) -> u64 {
        self.servers
            .iter()
            .filter(|s| s.alive)
            .map(|s| u64::from(s.full_weight()))
            .sum()
    }

    pub(crate) fn sorry_active(&self) -> bool {
        !self.quorum_up && self.health.sorry_server.is_some()
    }

    pub(crate) fn view(&self) -> ServiceView {
        ServiceView {
            quorum_up: self.quorum_up,
            real_servers: self.servers.iter().map(|s| (s.key, s.view())).collect(),
        }
    }

    /// What the forwarding plan gives `server` (0 when it is absent).
    pub(crate) fn forwarding_weight(&self, server: &ServerState) -> Option<u32> {
        let v = server.view();
        forwarding(v.alive, v.weight, &server.health, self.sorry_active())
    }
}

impl ServerState {
    pub(crate) fn start(cfg: &RealServer, now: Instant, rng: &mut SplitMix64) -> ServerState {
        let checkers: Vec<CheckerState> = cfg
            .checkers
            .iter()
            .map(|c| CheckerState::start(c, cfg, now, rng))
            .collect();
        let mut rs = ServerState::shell(cfg, checkers, now);
        rs.alive = rs.all_up();
        rs
    }

    /// A server with these checkers, its liveness still to be set.
    pub(crate) fn shell(
        cfg: &RealServer,
        checkers: Vec<CheckerState>,
        now: Instant,
    ) -> ServerState {
        ServerState {
            key: server_key(cfg),
            label: addr_port(cfg.address, cfg.port),
            weight: cfg.weight,
            health: cfg.health.clone(),
            alive: false,
            checkers,
            since: now,
            transitions: 0,
            ramp: None,
            ramp_timer: None,
        }
    }

    /// No checker is down (keepalived's `num_failed_checkers == 0`).
    pub(crate) fn all_up(&self) -> bool {
        self.checkers.iter().all(|c| c.retry.up)
    }

    pub(crate) fn failing(&self) -> usize {
        self.checkers.iter().filter(|c| !c.retry.up).count()
    }

    /// Configured weight plus every checker's contribution, clamped.
    pub(crate) fn full_weight(&self) -> u32 {
        let sum = self.checkers.iter().fold(i64::from(self.weight), |acc, c| {
            acc.saturating_add(c.contribution)
        });
        clamp_weight(sum)
    }

    pub(crate) fn view(&self) -> ServerView {
        ServerView {
            alive: self.alive,
            weight: match (self.alive, &self.ramp) {
                (false, _) => 0,
                (true, Some(ramp)) => ramp.current,
                (true, None) => self.full_weight(),
            },
        }
    }
}

impl CheckerState {
    /// A checker at start-up: keepalived's initial state, first run after
    /// BOOTSTRAP_DELAY plus a random part of the warmup.
    pub(crate) fn start(
        cfg: &HealthCheck,
        rs: &RealServer,
        now: Instant,
        rng: &mut SplitMix64,
    ) -> CheckerState {
        let first = BOOTSTRAP_DELAY.saturating_add(rng.duration_up_to(cfg.warmup));
        CheckerState {
            config: cfg.clone(),
            target: target_label(cfg, (rs.address, rs.port)),
            retry: RetryState::start(cfg),
            contribution: 0,
            due: Some(later(now, first)),
            in_flight: None,
            discard_in_flight: false,
            last: None,
            consecutive_failures: 0,
        }
    }
}
