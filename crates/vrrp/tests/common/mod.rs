//! Shared test fixtures: configurations, environments, advert frames
//! built with the real codec, and a virtual-clock harness around
//! [`Router`].

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use xvs_config::{
    GarpSettings, IpNet, Script, TrackScript, V3Checksum, VrrpInstance, VrrpNotify, VrrpScript,
    VrrpSyncGroup,
};
use xvs_vrrp::{Action, InstanceEnv, Reason, Router, State};
use xvs_wire::vrrp::{
    build_frame, Advert, ChecksumKind, AUTH_NONE, MULTICAST_MAC_V4, MULTICAST_MAC_V6, MULTICAST_V4,
    MULTICAST_V6,
};
use xvs_wire::MacAddr;

pub const OUR_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x05];
pub const PEER_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x09];

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

pub fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// Host `n` of the test link: 10.0.0.n or fe80::n.
pub fn host(ipv6: bool, n: u16) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n as u8))
    }
}

/// Virtual address `n`: 10.0.0.(100+n) or 2001:db8::(100+n).
pub fn vip(ipv6: bool, n: u16) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 100 + n))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100 + n as u8))
    }
}

pub fn group_addr(ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(MULTICAST_V6)
    } else {
        IpAddr::V4(MULTICAST_V4)
    }
}

pub fn script(cmd: &str) -> Script {
    Script {
        argv: vec![cmd.to_string()],
        user: None,
        group: None,
    }
}

/// An instance on eth0 with keepalived's defaults: advert every second,
/// preempt, down_timer_adverts 3, one virtual address.
pub fn instance(name: &str, vrid: u8, priority: u8, version: u8, ipv6: bool) -> VrrpInstance {
    VrrpInstance {
        name: name.to_string(),
        interface: "eth0".to_string(),
        vrid,
        priority,
        version,
        advert_interval: Duration::from_secs(1),
        initial_master: false,
        preempt: true,
        preempt_delay: Duration::ZERO,
        virtual_addresses: vec![IpNet {
            addr: vip(ipv6, 0),
            prefix: if ipv6 { 64 } else { 24 },
        }],
        unicast_peers: Vec::new(),
        source_address: None,
        auth_pass: None,
        down_timer_adverts: 3,
        v3_checksum: V3Checksum::PseudoHeader,
        use_vmac: false,
        accept: true,
        garp: GarpSettings::default(),
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        notify: VrrpNotify::default(),
    }
}

pub fn env(ipv6: bool, n: u16) -> InstanceEnv {
    InstanceEnv {
        primary: host(ipv6, n),
        mac: OUR_MAC,
        up: true,
    }
}

pub fn vrrp_script(name: &str, weight: i32, rise: u32, fall: u32) -> VrrpScript {
    VrrpScript {
        name: name.to_string(),
        script: script(&format!("/bin/{name}")),
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(1),
        weight,
        rise,
        fall,
    }
}

pub fn track(script: usize, weight: i32, reverse: bool) -> TrackScript {
    TrackScript {
        script,
        weight,
        reverse,
    }
}

pub fn group(name: &str, members: Vec<usize>) -> VrrpSyncGroup {
    VrrpSyncGroup {
        name: name.to_string(),
        members,
        notify: VrrpNotify::default(),
    }
}

/// An advert as a peer sends it (no authentication).
pub fn advert(
    version: u8,
    vrid: u8,
    priority: u8,
    interval_field: u16,
    addresses: Vec<IpAddr>,
) -> Advert {
    Advert {
        version,
        vrid,
        priority,
        auth_type: AUTH_NONE,
        interval_field,
        addresses,
        auth_data: [0; 8],
    }
}

/// The advert a default peer of `instance(..)` sends with `priority`.
pub fn peer_advert(version: u8, ipv6: bool, vrid: u8, priority: u8) -> Advert {
    advert(
        version,
        vrid,
        priority,
        if version == 2 { 1 } else { 100 },
        vec![vip(ipv6, 0)],
    )
}

/// The checksum convention a default instance of `version` expects.
pub fn kind_for(version: u8) -> ChecksumKind {
    if version == 2 {
        ChecksumKind::MessageOnly
    } else {
        ChecksumKind::PseudoHeader
    }
}

/// A whole Ethernet frame, as the real codec writes it (TTL 255).
pub fn frame(src: IpAddr, dst: IpAddr, advert: &Advert, kind: ChecksumKind) -> Vec<u8> {
    let dst_mac = match dst {
        IpAddr::V4(_) if dst.is_multicast() => MULTICAST_MAC_V4,
        IpAddr::V6(_) if dst.is_multicast() => MULTICAST_MAC_V6,
        _ => OUR_MAC,
    };
    let mut out = Vec::new();
    build_frame(&mut out, PEER_MAC, dst_mac, src, dst, 7, advert, kind);
    out
}

/// `frame` with the TTL / hop limit set to `ttl` (IPv4 header checksum
/// fixed up).
pub fn with_ttl(mut f: Vec<u8>, ttl: u8) -> Vec<u8> {
    if f[12..14] == [0x08, 0x00] {
        f[14 + 8] = ttl;
        f[14 + 10] = 0;
        f[14 + 11] = 0;
        let mut sum: u32 = 0;
        for c in f[14..34].chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let ck = !(sum as u16);
        f[14 + 10..14 + 12].copy_from_slice(&ck.to_be_bytes());
    } else {
        f[14 + 7] = ttl;
    }
    f
}

/// A router under a virtual clock, with every action it yields recorded
/// with the instant it was yielded at.
pub struct Harness {
    pub router: Router,
    pub t0: Instant,
    pub now: Instant,
}

impl Harness {
    pub fn new(
        instances: Vec<VrrpInstance>,
        scripts: Vec<VrrpScript>,
        groups: Vec<VrrpSyncGroup>,
        envs: Vec<InstanceEnv>,
    ) -> Harness {
        let t0 = Instant::now();
        Harness::new_at(instances, scripts, groups, envs, t0)
    }

    pub fn new_at(
        instances: Vec<VrrpInstance>,
        scripts: Vec<VrrpScript>,
        groups: Vec<VrrpSyncGroup>,
        envs: Vec<InstanceEnv>,
        t0: Instant,
    ) -> Harness {
        let router = Router::new(&instances, &scripts, &groups, envs, t0);
        Harness {
            router,
            t0,
            now: t0,
        }
    }

    /// One instance, no scripts or groups.
    pub fn single(inst: VrrpInstance, env: InstanceEnv) -> Harness {
        Harness::new(vec![inst], Vec::new(), Vec::new(), vec![env])
    }

    pub fn at(&self, d: Duration) -> Instant {
        self.t0 + d
    }

    /// Everything yielded so far.
    pub fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.router.poll_action()).collect()
    }

    /// Fire every timer up to `t` at its exact instant, then set the clock
    /// to `t`.
    pub fn run_until(&mut self, t: Instant) -> Vec<(Instant, Action)> {
        let mut out: Vec<(Instant, Action)> =
            self.drain().into_iter().map(|a| (self.now, a)).collect();
        while let Some(due) = self.router.poll_timeout() {
            if due > t {
                break;
            }
            assert!(
                due >= self.now,
                "timer in the past: {due:?} < {:?}",
                self.now
            );
            self.now = due;
            self.router.handle_timeout(due);
            out.extend(self.drain().into_iter().map(|a| (due, a)));
        }
        self.now = t;
        out
    }

    pub fn advance(&mut self, d: Duration) -> Vec<(Instant, Action)> {
        let t = self.now + d;
        self.run_until(t)
    }

    /// Deliver a frame on eth0 now.
    pub fn recv(&mut self, frame: &[u8]) -> Vec<Action> {
        self.router.handle_frame("eth0", frame, self.now);
        self.drain()
    }

    /// Deliver `advert` from host `from` to the multicast group now.
    pub fn recv_advert(&mut self, ipv6: bool, from: u16, advert: &Advert) -> Vec<Action> {
        let f = frame(
            host(ipv6, from),
            group_addr(ipv6),
            advert,
            kind_for(advert.version),
        );
        self.recv(&f)
    }

    pub fn state(&self) -> State {
        self.router.state(0)
    }

    pub fn rejected(&self, instance: usize, name: &str) -> u64 {
        let st = self.router.status(self.now);
        st[instance]
            .counters
            .rejected
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| panic!("no counter {name}"))
    }
}

/// The adverts in `actions`: (instance, priority, dst).
pub fn sends(actions: &[Action]) -> Vec<(usize, u8, IpAddr)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                instance,
                advert,
                dst,
                ..
            } => Some((*instance, advert.priority, *dst)),
            _ => None,
        })
        .collect()
}

pub fn transitions(actions: &[Action]) -> Vec<(usize, State, State, Reason)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Transition {
                instance,
                from,
                to,
                reason,
            } => Some((*instance, *from, *to, reason.clone())),
            _ => None,
        })
        .collect()
}

pub fn announces(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Announce { .. }))
        .count()
}

pub fn notifies(actions: &[Action]) -> Vec<Vec<String>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify { script } => Some(script.argv.clone()),
            _ => None,
        })
        .collect()
}

pub fn untimed(actions: Vec<(Instant, Action)>) -> Vec<Action> {
    actions.into_iter().map(|(_, a)| a).collect()
}

/// Times (relative to `t0`) of the adverts in `actions`.
pub fn send_times(t0: Instant, actions: &[(Instant, Action)]) -> Vec<(Duration, u8)> {
    actions
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Send { advert, .. } => Some((*t - t0, advert.priority)),
            _ => None,
        })
        .collect()
}
