//! The VRRP driver: the thin I/O layer around the sans-IO
//! [`xvs_vrrp::Router`], run by the control thread.
//!
//! It owns one AF_PACKET socket per interface and family that carries an
//! instance, filtered in the kernel to IP protocol 112 and joined to the
//! VRRP multicast group's MAC, so adverts reach it without passing
//! through a worker (the steering program leaves VRRP to the kernel): the
//! timers that decide a failover never wait behind packet processing. It
//! sends the adverts and gratuitous ARP / unsolicited NA the router asks
//! for, feeds it link changes (polled every [`LINK_POLL`]), runs scripts
//! on the script thread, and tells the control thread which addresses it
//! serves ([`VrrpDriver::standby`]), which MAC answers for them, and when
//! that changed.
//!
//! Layer: runtime driver.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::Receiver;
use xvs_config::{MacAddr, Snapshot};
use xvs_vrrp::{Action, InstanceEnv, InstanceStatus, Router, State};
use xvs_wire::vrrp as wire;
use xvs_xsk::packet::IpProtocolSink;
use xvs_xsk::PacketSocket;

use crate::neighbor::NeighborCache;
use crate::vrrp_scripts::{ScriptJob, ScriptThread};

/// How often link state is read for tracked interfaces.
const LINK_POLL: Duration = Duration::from_millis(100);
/// The longest a received advert waits in a socket when nothing else
/// wakes the control thread (its poll timeout when VRRP runs).
pub const MAX_SLEEP: Duration = Duration::from_millis(5);

/// One socket: adverts of one family on one interface.
#[derive(Debug)]
struct Port {
    interface: String,
    /// Index of the interface in the control thread's list.
    control_index: Option<usize>,
    socket: PacketSocket,
}

/// The running VRRP half of a director.
#[derive(Debug)]
pub struct VrrpDriver {
    router: Router,
    snapshot: Arc<Snapshot>,
    ports: Vec<Port>,
    /// Raw IP sockets for protocol 112 that are never read for adverts:
    /// with one open, the kernel does not answer unicast adverts to our
    /// own address with ICMP protocol-unreachable.
    sinks: Vec<IpProtocolSink>,
    /// Every interface whose link state matters, and the last state seen.
    links: HashMap<String, bool>,
    next_link_poll: Instant,
    scripts: Option<ScriptThread>,
    script_results: Option<Receiver<(usize, bool)>>,
    ident: u16,
    standby: Vec<IpAddr>,
    /// Address → virtual MAC, for master instances with use_vmac.
    vmacs: HashMap<IpAddr, MacAddr>,
    changed: bool,
    buf: Vec<u8>,
    /// When split brain was last logged, per instance (one line a second
    /// at most; the counter has every occurrence).
    split_logged: HashMap<usize, Instant>,
}

impl VrrpDriver {
    /// Start every instance of `snapshot` (None when it has none).
    /// `ifaces` are the control thread's interfaces (name, MAC).
    pub fn start(
        snapshot: Arc<Snapshot>,
        ifaces: &[(String, MacAddr)],
        stop: Arc<AtomicBool>,
        now: Instant,
    ) -> Result<Option<VrrpDriver>, String> {
        if snapshot.vrrp.is_empty() {
            return Ok(None);
        }
        let system = SystemLinks::read();
        let mut env = Vec::with_capacity(snapshot.vrrp.len());
        let mut ports: Vec<Port> = Vec::new();
        let mut links = HashMap::new();
        let mut promisc: Vec<String> = Vec::new();
        let mut unicast_v4 = false;
        let mut unicast_v6 = false;
        for inst in &snapshot.vrrp {
            let ipv6 = inst
                .virtual_addresses
                .first()
                .is_some_and(|a| a.addr.is_ipv6());
            let mac = ifaces
                .iter()
                .find(|(n, _)| *n == inst.interface)
                .map(|(_, m)| *m)
                .or_else(|| system.mac(&inst.interface))
                .ok_or_else(|| {
                    format!(
                        "vrrp instance {}: interface {} has no MAC address",
                        inst.name, inst.interface
                    )
                })?;
            let primary = match inst.source_address {
                Some(a) => a,
                None => primary_address(&snapshot, &system, &inst.interface, ipv6).ok_or_else(
                    || {
                        format!(
                            "vrrp instance {}: interface {} has no {} address to send adverts from{}",
                            inst.name,
                            inst.interface,
                            if ipv6 { "link-local IPv6" } else { "IPv4" },
                            if ipv6 { "" } else { " (list one under interfaces:, or set source_address)" }
                        )
                    },
                )?,
            };
            let up = system.up(&inst.interface).unwrap_or(true);
            links.insert(inst.interface.clone(), up);
            for t in &inst.track_interfaces {
                links.insert(t.name.clone(), system.up(&t.name).unwrap_or(false));
            }
            env.push(InstanceEnv { primary, mac, up });
            if !ports
                .iter()
                .any(|p| p.interface == inst.interface && p.socket_is_v6() == ipv6)
            {
                ports.push(Port::open(&inst.interface, ipv6, ifaces)?);
            }
            if inst.use_vmac && !promisc.contains(&inst.interface) {
                promisc.push(inst.interface.clone());
            }
            if !inst.unicast_peers.is_empty() {
                if ipv6 {
                    unicast_v6 = true;
                } else {
                    unicast_v4 = true;
                }
            }
        }
        // A virtual MAC is not the NIC's own: let it in.
        for name in &promisc {
            if let Some(p) = ports.iter().find(|p| &p.interface == name) {
                p.socket
                    .promiscuous()
                    .map_err(|e| format!("vrrp: promiscuous mode on {name} for use_vmac: {e}"))?;
            }
        }
        let mut sinks = Vec::new();
        for (on, ipv6) in [(unicast_v4, false), (unicast_v6, true)] {
            if on {
                sinks.push(
                    IpProtocolSink::open(ipv6, xvs_wire::ip_proto::VRRP)
                        .map_err(|e| format!("vrrp: raw socket: {e}"))?,
                );
            }
        }
        let (scripts, script_results) = if needs_scripts(&snapshot) {
            let (tx, rx) = crossbeam::channel::unbounded();
            let t = ScriptThread::spawn(snapshot.global.workers.clone(), stop, tx)
                .map_err(|e| format!("vrrp: script thread: {e}"))?;
            (Some(t), Some(rx))
        } else {
            (None, None)
        };
        let mut router = Router::new(
            &snapshot.vrrp,
            &snapshot.vrrp_scripts,
            &snapshot.vrrp_sync_groups,
            env,
            now,
        );
        // The router takes tracked interfaces as up until told otherwise.
        for (name, up) in &links {
            if !up {
                router.handle_link(name, false, now);
            }
        }
        let mut d = VrrpDriver {
            router,
            snapshot,
            ports,
            sinks,
            links,
            next_link_poll: now + LINK_POLL,
            scripts,
            script_results,
            ident: 0,
            standby: Vec::new(),
            vmacs: HashMap::new(),
            changed: true,
            buf: vec![0u8; 2048],
            split_logged: HashMap::new(),
        };
        d.refresh_served();
        Ok(Some(d))
    }

    /// Sockets to wait on.
    pub fn fds(&self) -> Vec<RawFd> {
        let mut fds: Vec<RawFd> = self.ports.iter().map(|p| p.socket.fd()).collect();
        fds.extend(self.sinks.iter().map(IpProtocolSink::fd));
        fds
    }

    /// When the router next needs the clock.
    pub fn deadline(&self) -> Option<Instant> {
        let link = (!self.links.is_empty()).then_some(self.next_link_poll);
        match (self.router.poll_timeout(), link) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Read adverts, fire timers, poll links and script results, and carry
    /// out every action. True if the set of served addresses changed since
    /// the last call.
    pub fn run(&mut self, cache: &mut NeighborCache, now: Instant) -> bool {
        for i in 0..self.ports.len() {
            while let Ok(Some(n)) = self.ports[i].socket.recv(&mut self.buf) {
                let iface = &self.ports[i].interface;
                self.router.handle_frame(iface, &self.buf[..n], now);
            }
        }
        for s in &self.sinks {
            s.drain();
        }
        if let Some(rx) = &self.script_results {
            for (script, ok) in rx.try_iter() {
                self.router.handle_script(script, ok, now);
            }
        }
        if now >= self.next_link_poll && !self.links.is_empty() {
            self.next_link_poll = now + LINK_POLL;
            let system = SystemLinks::read();
            for (name, up) in &mut self.links {
                let seen = system.up(name).unwrap_or(false);
                if seen != *up {
                    *up = seen;
                    if seen {
                        tracing::info!(interface = %name, "vrrp: interface {name} is up");
                    } else {
                        tracing::warn!(interface = %name, "vrrp: interface {name} is down");
                    }
                    self.router.handle_link(name, seen, now);
                }
            }
        }
        self.router.handle_timeout(now);
        self.carry_out(cache);
        std::mem::take(&mut self.changed)
    }

    /// Stop: masters resign with priority 0 (the backup takes over after
    /// its skew time instead of the whole down interval), then every
    /// instance goes to Init.
    pub fn shutdown(&mut self, cache: &mut NeighborCache, now: Instant) {
        self.router.shutdown(now);
        self.carry_out(cache);
        if let Some(t) = self.scripts.take() {
            t.join();
        }
    }

    fn carry_out(&mut self, cache: &mut NeighborCache) {
        let now = Instant::now();
        let mut transitions = false;
        while let Some(action) = self.router.poll_action() {
            match action {
                Action::Send {
                    instance: _,
                    interface,
                    src_mac,
                    src,
                    dst,
                    advert,
                    checksum,
                } => {
                    let dst_mac = match dst {
                        IpAddr::V4(a) if a.is_multicast() => wire::MULTICAST_MAC_V4,
                        IpAddr::V6(a) if a.is_multicast() => wire::MULTICAST_MAC_V6,
                        peer => {
                            let idx = self.port_index(&interface, peer.is_ipv6());
                            let ci = idx.and_then(|i| self.ports[i].control_index);
                            match ci.and_then(|ci| cache.lookup(ci, peer)) {
                                Some(mac) => mac,
                                None => {
                                    // Until the peer is resolved, broadcast:
                                    // its kernel takes the frame all the same.
                                    if let Some(ci) = ci {
                                        cache.request(ci, peer);
                                    }
                                    [0xff; 6]
                                }
                            }
                        }
                    };
                    self.ident = self.ident.wrapping_add(1);
                    let mut frame = Vec::with_capacity(128);
                    wire::build_frame(
                        &mut frame, src_mac, dst_mac, src, dst, self.ident, &advert, checksum,
                    );
                    if let Some(i) = self.port_index(&interface, dst.is_ipv6()) {
                        let _ = self.ports[i].socket.send(&frame);
                    }
                }
                Action::Announce {
                    instance: _,
                    interface,
                    mac,
                    addresses,
                } => {
                    for a in addresses {
                        if let (Some(i), Some(frame)) = (
                            self.port_index(&interface, a.is_ipv6()),
                            crate::l2::announce_as(mac, a, true),
                        ) {
                            let _ = self.ports[i].socket.send(&frame);
                        }
                    }
                }
                Action::Transition {
                    instance,
                    from,
                    to,
                    reason,
                } => {
                    let name = self
                        .snapshot
                        .vrrp
                        .get(instance)
                        .map_or("?", |i| i.name.as_str());
                    tracing::info!(
                        instance = %name,
                        "vrrp: {name}: {} -> {} ({})",
                        from.name(),
                        to.name(),
                        crate::vrrp_status::reason_text(&reason)
                    );
                    transitions = true;
                }
                Action::SplitBrain {
                    instance,
                    other,
                    other_priority,
                    ours,
                } => {
                    let last = self.split_logged.get(&instance);
                    if last.is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
                        self.split_logged.insert(instance, now);
                        let name = self
                            .snapshot
                            .vrrp
                            .get(instance)
                            .map_or("?", |i| i.name.as_str());
                        tracing::warn!(
                            instance = %name,
                            "vrrp: {name}: split brain: {other} is master too (priority {other_priority}, ours {ours}); the higher priority, then the higher address, stays master (RFC 5798 §6.4.3)"
                        );
                    }
                }
                Action::Notify { script } => {
                    if let Some(t) = &self.scripts {
                        t.submit(ScriptJob::Notify(script));
                    }
                }
                Action::RunScript { script, timeout } => {
                    if let (Some(t), Some(s)) =
                        (&self.scripts, self.snapshot.vrrp_scripts.get(script))
                    {
                        t.submit(ScriptJob::Track {
                            index: script,
                            script: s.script.clone(),
                            timeout,
                        });
                    }
                }
            }
        }
        if transitions {
            self.refresh_served();
        }
    }

    fn refresh_served(&mut self) {
        let standby = self.router.standby_addresses();
        let mut vmacs = HashMap::new();
        for (i, inst) in self.snapshot.vrrp.iter().enumerate() {
            if inst.use_vmac && self.router.state(i) == State::Master {
                let ipv6 = inst
                    .virtual_addresses
                    .first()
                    .is_some_and(|a| a.addr.is_ipv6());
                for a in &inst.virtual_addresses {
                    vmacs.insert(a.addr, wire::virtual_mac(inst.vrid, ipv6));
                }
            }
        }
        if standby != self.standby || vmacs != self.vmacs {
            self.changed = true;
        }
        self.standby = standby;
        self.vmacs = vmacs;
    }

    fn port_index(&self, interface: &str, ipv6: bool) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.interface == interface && p.socket_is_v6() == ipv6)
    }

    /// Addresses of instances that are not master here, sorted.
    /// Hold or release preemption (connection sync's bulk transfer).
    pub fn hold_preemption(&mut self, held: bool) {
        if self.router.preemption_held() != held {
            tracing::info!(
                "vrrp: preemption {}",
                if held {
                    "held until the peer's connections arrive"
                } else {
                    "released"
                }
            );
            self.router.hold_preemption(held);
        }
    }

    pub fn standby(&self) -> &[IpAddr] {
        &self.standby
    }

    /// Every virtual address of every instance.
    pub fn virtual_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.snapshot
            .vrrp
            .iter()
            .flat_map(|i| i.virtual_addresses.iter().map(|a| a.addr))
    }

    /// False for an address of an instance with `accept: false`: as
    /// master it answers ARP/ND for it and forwards its services, but not
    /// pings to the address itself (RFC 5798 Accept_Mode off).
    pub fn accepts(&self, addr: IpAddr) -> bool {
        !self
            .snapshot
            .vrrp
            .iter()
            .any(|i| !i.accept && i.virtual_addresses.iter().any(|a| a.addr == addr))
    }

    /// The MAC that answers for `addr` when it is not the interface's own.
    pub fn answer_mac(&self, addr: IpAddr) -> Option<MacAddr> {
        self.vmacs.get(&addr).copied()
    }

    /// Interfaces whose frames leave from a virtual MAC: those with a
    /// master `use_vmac` instance (the first such instance's MAC, IPv4
    /// before IPv6), so switches keep learning it where the VIP lives.
    pub fn source_macs(&self) -> Vec<(String, MacAddr)> {
        let mut out: Vec<(String, MacAddr)> = Vec::new();
        for ipv6 in [false, true] {
            for (i, inst) in self.snapshot.vrrp.iter().enumerate() {
                let fam6 = inst
                    .virtual_addresses
                    .first()
                    .is_some_and(|a| a.addr.is_ipv6());
                if inst.use_vmac
                    && fam6 == ipv6
                    && self.router.state(i) == State::Master
                    && !out.iter().any(|(n, _)| *n == inst.interface)
                {
                    out.push((inst.interface.clone(), wire::virtual_mac(inst.vrid, ipv6)));
                }
            }
        }
        out
    }

    /// Unicast peers to keep resolved: (control interface index, address).
    pub fn peers(&self) -> Vec<(usize, IpAddr)> {
        let mut out = Vec::new();
        for inst in &self.snapshot.vrrp {
            let ipv6 = inst
                .virtual_addresses
                .first()
                .is_some_and(|a| a.addr.is_ipv6());
            let ci = self
                .port_index(&inst.interface, ipv6)
                .and_then(|i| self.ports[i].control_index);
            if let Some(ci) = ci {
                out.extend(inst.unicast_peers.iter().map(|p| (ci, *p)));
            }
        }
        out
    }

    pub fn status(&self, now: Instant) -> Vec<InstanceStatus> {
        self.router.status(now)
    }
}

impl Port {
    fn open(interface: &str, ipv6: bool, ifaces: &[(String, MacAddr)]) -> Result<Port, String> {
        let ethertype = if ipv6 {
            xvs_xsk::packet::ETH_P_IPV6
        } else {
            xvs_xsk::packet::ETH_P_IP
        };
        let socket = PacketSocket::open(interface, ethertype)
            .map_err(|e| format!("vrrp: socket on {interface}: {e}"))?;
        socket
            .filter_ip_protocol(ipv6, xvs_wire::ip_proto::VRRP)
            .map_err(|e| format!("vrrp: socket filter on {interface}: {e}"))?;
        let group = if ipv6 {
            wire::MULTICAST_MAC_V6
        } else {
            wire::MULTICAST_MAC_V4
        };
        socket
            .join_multicast(group)
            .map_err(|e| format!("vrrp: multicast group on {interface}: {e}"))?;
        Ok(Port {
            interface: interface.to_string(),
            control_index: ifaces.iter().position(|(n, _)| n == interface),
            socket,
        })
    }

    fn socket_is_v6(&self) -> bool {
        self.socket.ethertype() == xvs_xsk::packet::ETH_P_IPV6
    }
}

fn needs_scripts(snapshot: &Snapshot) -> bool {
    let n = |x: &xvs_config::VrrpNotify| {
        x.master.is_some()
            || x.backup.is_some()
            || x.fault.is_some()
            || x.stop.is_some()
            || x.any.is_some()
    };
    !snapshot.vrrp_scripts.is_empty()
        || snapshot.vrrp.iter().any(|i| n(&i.notify))
        || snapshot.vrrp_sync_groups.iter().any(|g| n(&g.notify))
}

/// The address an instance's adverts come from: the first address of the
/// family listed for the interface in the configuration (IPv4), or the
/// system's (IPv4; IPv6 always uses the link-local address, RFC 5798 §5.1.2.1).
fn primary_address(
    snapshot: &Snapshot,
    system: &SystemLinks,
    interface: &str,
    ipv6: bool,
) -> Option<IpAddr> {
    if ipv6 {
        return system.link_local(interface).map(IpAddr::V6);
    }
    snapshot
        .interfaces
        .iter()
        .find(|i| i.name == interface)
        .and_then(|i| i.addresses.iter().find(|a| a.addr.is_ipv4()))
        .map(|a| a.addr)
        .or_else(|| system.ipv4(interface).map(IpAddr::V4))
}

/// Link state and addresses of the system's interfaces, read at once.
struct SystemLinks {
    entries: Vec<nix::ifaddrs::InterfaceAddress>,
}

impl SystemLinks {
    fn read() -> SystemLinks {
        SystemLinks {
            entries: nix::ifaddrs::getifaddrs()
                .map(|it| it.collect())
                .unwrap_or_default(),
        }
    }

    fn of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a nix::ifaddrs::InterfaceAddress> {
        self.entries
            .iter()
            .filter(move |e| e.interface_name == name)
    }

    /// Up and running (carrier), or None for an unknown interface.
    fn up(&self, name: &str) -> Option<bool> {
        use nix::net::if_::InterfaceFlags as F;
        let e = self.of(name).next()?;
        Some(e.flags.contains(F::IFF_UP) && e.flags.contains(F::IFF_RUNNING))
    }

    fn mac(&self, name: &str) -> Option<MacAddr> {
        self.of(name).find_map(|e| {
            e.address
                .as_ref()
                .and_then(|a| a.as_link_addr())
                .and_then(|l| l.addr())
        })
    }

    fn ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        self.of(name).find_map(|e| {
            e.address
                .as_ref()
                .and_then(|a| a.as_sockaddr_in())
                .map(|s| s.ip())
        })
    }

    fn link_local(&self, name: &str) -> Option<Ipv6Addr> {
        self.of(name).find_map(|e| {
            e.address
                .as_ref()
                .and_then(|a| a.as_sockaddr_in6())
                .map(|s| s.ip())
                .filter(|ip| (ip.segments()[0] & 0xffc0) == 0xfe80)
        })
    }
}
