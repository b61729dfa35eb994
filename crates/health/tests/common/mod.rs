//! A virtual clock and a small configuration builder for driving a
//! `Monitor` with scripted probe outcomes.

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use xvs_config::{
    ForwardMethod, HealthCheck, HealthCheckKind, MiscCheck, Protocol, RealServer, RealServerHealth,
    Script, ServiceHealth, Snapshot, SorryServer, VirtualService,
};
use xvs_health::{Event, Monitor, ServerKey, ServiceKey};
use xvs_probe::{Outcome, Probe, ProbeId, ProbeKind};

pub const VIP: &str = "198.18.0.100";

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A TCP_CHECK: delay_loop 10 s, delay_before_retry 2 s, no warmup (the
/// first check at exactly 1 s).
pub fn tcp(retry: u32) -> HealthCheck {
    HealthCheck {
        kind: HealthCheckKind::Tcp,
        connect_ip: None,
        port: None,
        bindto: None,
        bind_port: None,
        connect_timeout: secs(3),
        delay_loop: secs(10),
        retry,
        delay_before_retry: secs(2),
        warmup: Duration::ZERO,
        alpha: false,
        log_all_failures: false,
    }
}

pub fn alpha(mut c: HealthCheck) -> HealthCheck {
    c.alpha = true;
    c
}

pub fn on_port(mut c: HealthCheck, port: u16) -> HealthCheck {
    c.port = Some(port);
    c
}

pub fn misc(dynamic: bool) -> HealthCheck {
    HealthCheck {
        kind: HealthCheckKind::Misc(MiscCheck {
            script: script("/bin/check"),
            timeout: secs(5),
            dynamic,
        }),
        retry: 0,
        ..tcp(0)
    }
}

pub fn file() -> HealthCheck {
    HealthCheck {
        kind: HealthCheckKind::File(xvs_config::FileCheck {
            path: "/run/weight".into(),
            weight: 1,
            reverse: false,
        }),
        retry: 0,
        delay_loop: secs(1),
        ..tcp(0)
    }
}

pub fn script(path: &str) -> Script {
    Script {
        argv: vec![path.to_string()],
        user: None,
        group: None,
    }
}

pub fn rs(addr: &str, weight: u32, checkers: Vec<HealthCheck>) -> RealServer {
    RealServer {
        address: ip(addr),
        port: 80,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
        method: ForwardMethod::Nat,
        mac: None,
        checkers,
        health: RealServerHealth::default(),
    }
}

pub fn service(real_servers: Vec<RealServer>) -> VirtualService {
    service_at(VIP, 80, real_servers)
}

pub fn service_at(vip: &str, port: u16, real_servers: Vec<RealServer>) -> VirtualService {
    let base = xvs_config::load_str(
        &format!(
            "services:\n  - vip: {vip}\n    port: {port}\n    method: nat\n    real_servers:\n      - address: 198.18.1.250\n"
        ),
        "test.yaml",
    )
    .expect("a minimal service");
    let mut svc = base.services.into_iter().next().expect("one service");
    svc.real_servers = real_servers;
    svc.health = ServiceHealth::default();
    svc
}

pub fn sorry(addr: &str, weight: u32) -> SorryServer {
    SorryServer {
        address: ip(addr),
        port: 80,
        method: ForwardMethod::Nat,
        weight,
        mac: None,
    }
}

pub fn snapshot(services: Vec<VirtualService>) -> Snapshot {
    let mut snap = xvs_config::load_str("{}\n", "test.yaml").expect("an empty config");
    snap.services = services;
    snap
}

pub fn skey() -> ServiceKey {
    (Protocol::Tcp, ip(VIP), 80)
}

pub fn rkey(addr: &str) -> ServerKey {
    (ip(addr), 80)
}

/// Where a probe goes: its target address (or program/file path).
pub fn target(probe: &Probe) -> String {
    match &probe.kind {
        ProbeKind::Tcp(e)
        | ProbeKind::Http { endpoint: e, .. }
        | ProbeKind::Udp { endpoint: e, .. }
        | ProbeKind::Dns { endpoint: e, .. }
        | ProbeKind::Smtp { endpoint: e, .. } => e.target.to_string(),
        ProbeKind::Icmp { target, .. } => target.to_string(),
        ProbeKind::Misc { script, .. } => script.display(),
        ProbeKind::File { path, .. } => path.display().to_string(),
    }
}

/// A monitor on a virtual clock.
pub struct Rig {
    pub monitor: Monitor,
    pub base: Instant,
    pub now: Instant,
    /// What start-up queued (keepalived's quorum at start).
    pub start_events: Vec<Event>,
    /// Every event polled since.
    pub events: Vec<Event>,
    /// (time since base, target) of every probe started.
    pub probes: Vec<(Duration, String)>,
}

impl Rig {
    pub fn new(snap: &Snapshot) -> Rig {
        Rig::with_seed(snap, 7)
    }

    pub fn with_seed(snap: &Snapshot, seed: u64) -> Rig {
        let base = Instant::now();
        let mut rig = Rig {
            monitor: Monitor::new(snap, base, seed),
            base,
            now: base,
            start_events: Vec::new(),
            events: Vec::new(),
            probes: Vec::new(),
        };
        rig.start_events = rig.drain();
        rig.events.clear();
        rig
    }

    pub fn t(&self) -> Duration {
        self.now - self.base
    }

    pub fn at(&self, t: Duration) -> Instant {
        self.base + t
    }

    /// Poll every event into `self.events`; returns the new ones.
    pub fn drain(&mut self) -> Vec<Event> {
        let mut new = Vec::new();
        while let Some(e) = self.monitor.poll_event() {
            new.push(e);
        }
        self.events.extend(new.iter().cloned());
        new
    }

    /// Run to `until`: at each instant something is due, probes are
    /// answered at once by `answer(target, time since base)`.
    pub fn run_until(
        &mut self,
        until: Duration,
        mut answer: impl FnMut(&str, Duration) -> Outcome,
    ) {
        let end = self.at(until);
        while let Some(next) = self.monitor.poll_timeout() {
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            self.monitor.handle_timeout(self.now);
            while let Some((id, probe)) = self.monitor.poll_probe(self.now) {
                let tgt = target(&probe);
                self.probes.push((self.t(), tgt.clone()));
                let outcome = answer(&tgt, self.t());
                self.monitor.handle_outcome(id, outcome, ms(1), self.now);
            }
            self.drain();
        }
        self.now = self.now.max(end);
        self.monitor.handle_timeout(self.now);
        self.drain();
    }

    /// Start every probe due at `t` without answering.
    pub fn start_due(&mut self, t: Duration) -> Vec<(ProbeId, Probe)> {
        self.now = self.now.max(self.at(t));
        self.monitor.handle_timeout(self.now);
        let mut out = Vec::new();
        while let Some(p) = self.monitor.poll_probe(self.now) {
            self.probes.push((self.t(), target(&p.1)));
            out.push(p);
        }
        out
    }

    pub fn answer(&mut self, id: ProbeId, outcome: Outcome, t: Duration) {
        self.now = self.now.max(self.at(t));
        self.monitor.handle_outcome(id, outcome, ms(1), self.now);
        self.drain();
    }

    pub fn alive(&self, addr: &str) -> bool {
        self.monitor
            .view()
            .real_server(&skey(), &rkey(addr))
            .expect("a known real server")
            .alive
    }

    pub fn weight(&self, addr: &str) -> u32 {
        self.monitor
            .view()
            .real_server(&skey(), &rkey(addr))
            .expect("a known real server")
            .weight
    }

    pub fn quorum_up(&self) -> bool {
        self.monitor
            .view()
            .service(&skey())
            .expect("a known service")
            .quorum_up
    }

    pub fn logs(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Log(l) => Some(l.as_str()),
                Event::RunScript(_) => None,
            })
            .collect()
    }

    /// The programs run so far (after start-up), in order.
    pub fn scripts(&self) -> Vec<String> {
        scripts_of(&self.events)
    }

    /// The programs start-up ran.
    pub fn start_scripts(&self) -> Vec<String> {
        scripts_of(&self.start_events)
    }
}

fn scripts_of(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::RunScript(s) => Some(s.display()),
            Event::Log(_) => None,
        })
        .collect()
}

pub fn pass() -> Outcome {
    Outcome::pass()
}

pub fn fail() -> Outcome {
    Outcome::fail("connection refused")
}
