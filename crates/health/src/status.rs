//! What `xvs status` shows (as text and JSON) and metrics read: per
//! service its quorum, its sorry server and whether its checks are
//! suspended (ha_suspend), per real server its state and the
//! weight the forwarding plan gives it, per checker its last result.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Instant;

use serde::Serialize;
use xvs_config::ipvsadm::addr_port;

use crate::monitor::state::{CheckerState, ServerState, ServiceState};

/// The health of every service the monitor runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub services: Vec<ServiceStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    /// "TCP" or "UDP".
    pub protocol: String,
    pub vip: IpAddr,
    pub port: u16,
    pub quorum: QuorumStatus,
    /// The sorry server stands in for the real servers (quorum lost).
    pub sorry_server_active: bool,
    /// The sorry server as `ip:port`, if one is configured.
    pub sorry_server: Option<String>,
    /// ha_suspend in force: the VIP is standby on this director, so no
    /// check runs and the real servers show the state they had.
    pub suspended: bool,
    pub real_servers: Vec<RealServerStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuorumStatus {
    pub configured: u32,
    pub hysteresis: u32,
    /// Σ effective weights of the live real servers.
    pub live_weight: u64,
    pub up: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RealServerStatus {
    pub address: IpAddr,
    pub port: u16,
    /// Alive: none of its checkers is down.
    pub up: bool,
    /// Down and kept at weight 0 (inhibit_on_failure).
    pub inhibited: bool,
    /// The configured weight.
    pub weight: u32,
    /// The weight forwarding gives it ([`crate::apply`]); 0 if removed.
    pub effective_weight: u32,
    /// Seconds since it last went up or down (or was configured).
    pub since_transition_secs: u64,
    pub transitions: u64,
    pub checkers: Vec<CheckerStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckerStatus {
    /// keepalived's name: TCP_CHECK, HTTP_GET, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// ip:port probed, or the program or file.
    pub target: String,
    pub up: bool,
    /// "ok" or the failure reason; `None` before the first result.
    pub last_result: Option<String>,
    pub since_last_result_secs: Option<u64>,
    pub last_latency_ms: Option<f64>,
    pub consecutive_failures: u32,
}

pub(crate) fn build(services: &[ServiceState], now: Instant) -> Status {
    Status {
        services: services.iter().map(|s| service(s, now)).collect(),
    }
}

fn service(svc: &ServiceState, now: Instant) -> ServiceStatus {
    let (protocol, vip, port) = svc.key;
    ServiceStatus {
        name: svc.name.clone(),
        protocol: protocol.to_string(),
        vip,
        port,
        quorum: QuorumStatus {
            configured: svc.health.quorum,
            hysteresis: svc.health.hysteresis,
            live_weight: svc.live_weight(),
            up: svc.quorum_up,
        },
        sorry_server_active: svc.sorry_active(),
        sorry_server: svc
            .health
            .sorry_server
            .as_ref()
            .map(|s| addr_port(s.address, s.port)),
        suspended: svc.suspended,
        real_servers: svc.servers.iter().map(|rs| server(svc, rs, now)).collect(),
    }
}

fn server(svc: &ServiceState, rs: &ServerState, now: Instant) -> RealServerStatus {
    RealServerStatus {
        address: rs.key.0,
        port: rs.key.1,
        up: rs.alive,
        inhibited: !rs.alive && rs.health.inhibit_on_failure,
        weight: rs.weight,
        effective_weight: svc.forwarding_weight(rs).unwrap_or(0),
        since_transition_secs: now.saturating_duration_since(rs.since).as_secs(),
        transitions: rs.transitions,
        checkers: rs.checkers.iter().map(|c| checker(c, now)).collect(),
    }
}

fn checker(chk: &CheckerState, now: Instant) -> CheckerStatus {
    CheckerStatus {
        kind: chk.config.keepalived_name().to_string(),
        target: chk.target.clone(),
        up: chk.retry.up,
        last_result: chk.last.as_ref().map(|l| l.text.clone()),
        since_last_result_secs: chk
            .last
            .as_ref()
            .map(|l| now.saturating_duration_since(l.at).as_secs()),
        last_latency_ms: chk.last.as_ref().map(|l| l.latency.as_secs_f64() * 1e3),
        consecutive_failures: chk.consecutive_failures,
    }
}

fn up_down(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

impl Status {
    /// A table for `xvs status`: one block per service, one line per real
    /// server, an indented line per checker.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for (i, svc) in self.services.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let q = &svc.quorum;
            let _ = write!(
                out,
                "{} {} \"{}\"  quorum {} (live weight {}, quorum {}, hysteresis {})",
                svc.protocol,
                addr_port(svc.vip, svc.port),
                svc.name,
                up_down(q.up),
                q.live_weight,
                q.configured,
                q.hysteresis
            );
            if let Some(sorry) = &svc.sorry_server {
                let _ = write!(
                    out,
                    "  sorry server {sorry} {}",
                    if svc.sorry_server_active {
                        "ACTIVE"
                    } else {
                        "standby"
                    }
                );
            }
            if svc.suspended {
                out.push_str("  checks SUSPENDED (ha_suspend: VIP standby here)");
            }
            out.push('\n');
            for rs in &svc.real_servers {
                let state = match (rs.up, rs.inhibited) {
                    (true, _) => "up",
                    (false, true) => "down (inhibited)",
                    (false, false) => "down",
                };
                let _ = writeln!(
                    out,
                    "  -> {:<24} {:<17} weight {:>5} effective {:>5}  for {}s, {} transition{}",
                    addr_port(rs.address, rs.port),
                    state,
                    rs.weight,
                    rs.effective_weight,
                    rs.since_transition_secs,
                    rs.transitions,
                    if rs.transitions == 1 { "" } else { "s" }
                );
                for c in &rs.checkers {
                    let _ = write!(out, "       {} {} {}", c.kind, c.target, up_down(c.up));
                    match (&c.last_result, c.since_last_result_secs, c.last_latency_ms) {
                        (Some(result), Some(ago), Some(ms)) => {
                            let _ = write!(out, ", last {result} ({ago}s ago, {ms:.1} ms)");
                        }
                        _ => out.push_str(", not run yet"),
                    }
                    if c.consecutive_failures > 0 {
                        let _ = write!(
                            out,
                            ", {} consecutive failure{}",
                            c.consecutive_failures,
                            if c.consecutive_failures == 1 { "" } else { "s" }
                        );
                    }
                    out.push('\n');
                }
            }
        }
        out
    }
}
