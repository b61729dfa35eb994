//! What health means for forwarding: the [`HealthView`] the monitor
//! keeps (per service its quorum, per real server alive or not and the
//! weight it forwards with), and [`apply`], the pure function that turns a
//! configured snapshot and a view into the snapshot the workers use, with
//! keepalived's IPVS actions (ipwrapper.c): a dead real server is deleted,
//! or kept at weight 0 with `inhibit_on_failure`; while a service has lost
//! its quorum and has a sorry server, the live real servers are taken out
//! and the sorry server put in (`perform_quorum_state`);
//! `sorry_server_inhibit` keeps the sorry server at weight 0 otherwise.

use std::collections::BTreeMap;

use xvs_config::{RealServer, RealServerHealth, Snapshot, VirtualService};

use crate::{quorum, ServerKey, ServiceKey};

/// The largest weight a real server forwards with (IPVS's is a 16-bit
/// field in our model; keepalived's own clamp is INT32_MAX).
pub const MAX_WEIGHT: u32 = 65_535;

/// Health's verdict on every service and real server the monitor runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthView {
    pub(crate) services: BTreeMap<ServiceKey, ServiceView>,
}

/// One service in a [`HealthView`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceView {
    /// keepalived's `quorum_state_up`.
    pub quorum_up: bool,
    pub real_servers: BTreeMap<ServerKey, ServerView>,
}

/// One real server in a [`HealthView`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerView {
    /// No checker of it is down.
    pub alive: bool,
    /// The weight it forwards with while alive: configured, plus dynamic
    /// weights, clamped to 0..=65535, ramped by slowstart. 0 when dead.
    pub weight: u32,
}

impl HealthView {
    pub fn service(&self, key: &ServiceKey) -> Option<&ServiceView> {
        self.services.get(key)
    }

    pub fn real_server(&self, service: &ServiceKey, server: &ServerKey) -> Option<ServerView> {
        self.services
            .get(service)
            .and_then(|s| s.real_servers.get(server))
            .copied()
    }

    pub fn services(&self) -> impl Iterator<Item = (&ServiceKey, &ServiceView)> {
        self.services.iter()
    }
}

pub fn service_key(svc: &VirtualService) -> ServiceKey {
    (svc.protocol, svc.vip, svc.port)
}

pub fn server_key(rs: &RealServer) -> ServerKey {
    (rs.address, rs.port)
}

/// A configured weight as a forwarding weight.
pub(crate) fn clamp_weight(w: i64) -> u32 {
    u32::try_from(w.clamp(0, i64::from(MAX_WEIGHT))).unwrap_or(MAX_WEIGHT)
}

/// The state a real server starts in (check_data.c, ipwrapper.c
/// `init_service_rs`): alive unless one of its checkers has alpha, at its
/// configured weight.
pub(crate) fn initial_server(rs: &RealServer) -> ServerView {
    let alive = !rs.checkers.iter().any(|c| c.alpha);
    ServerView {
        alive,
        weight: if alive {
            clamp_weight(i64::from(rs.weight))
        } else {
            0
        },
    }
}

/// A service's quorum at start-up, from its real servers' initial states.
pub(crate) fn initial_quorum(svc: &VirtualService) -> bool {
    let sum: u64 = svc
        .real_servers
        .iter()
        .map(initial_server)
        .filter(|v| v.alive)
        .map(|v| u64::from(v.weight))
        .sum();
    quorum::initial(sum, svc.health.quorum, svc.health.hysteresis)
}

/// Where a real server stands in the forwarding plan: `None` = removed,
/// `Some(w)` = present at weight `w`.
pub(crate) fn forwarding(
    alive: bool,
    weight: u32,
    health: &RealServerHealth,
    sorry_active: bool,
) -> Option<u32> {
    if alive {
        // perform_quorum_state: the sorry server stands in for every live
        // real server.
        (!sorry_active).then_some(weight)
    } else if health.inhibit_on_failure {
        // ipvswrapper.c: an inhibited dead real server is edited to 0.
        Some(0)
    } else {
        None
    }
}

/// The configuration that `view` implies for forwarding. Pure. A service
/// or real server the view does not know (a reload the monitor has not
/// seen yet) takes its start-up state; a real server without checkers is
/// always up at its configured weight.
pub fn apply(snapshot: &Snapshot, view: &HealthView) -> Snapshot {
    let mut out = snapshot.clone();
    for svc in &mut out.services {
        let known = view.service(&service_key(svc));
        let quorum_up = known.map_or_else(|| initial_quorum(svc), |s| s.quorum_up);
        let sorry_active = !quorum_up && svc.health.sorry_server.is_some();
        let real_servers = std::mem::take(&mut svc.real_servers);
        for rs in real_servers {
            let state = if rs.checkers.is_empty() {
                ServerView {
                    alive: true,
                    weight: rs.weight,
                }
            } else {
                known
                    .and_then(|s| s.real_servers.get(&server_key(&rs)).copied())
                    .unwrap_or_else(|| initial_server(&rs))
            };
            if let Some(weight) = forwarding(state.alive, state.weight, &rs.health, sorry_active) {
                svc.real_servers.push(RealServer { weight, ..rs });
            }
        }
        if let Some(sorry) = &svc.health.sorry_server {
            let weight = if sorry_active {
                Some(sorry.weight)
            } else if svc.health.sorry_server_inhibit {
                Some(0)
            } else {
                None
            };
            if let Some(weight) = weight {
                svc.real_servers.push(RealServer {
                    address: sorry.address,
                    port: sorry.port,
                    weight,
                    upper_threshold: 0,
                    lower_threshold: 0,
                    method: sorry.method,
                    mac: sorry.mac,
                    checkers: Vec::new(),
                    health: RealServerHealth::default(),
                });
            }
        }
    }
    out
}
