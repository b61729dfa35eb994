//! Connection sync on the control thread: the thin I/O layer around
//! xvs-sync's sender, receiver and bulk requester.
//!
//! Out: workers hand the ids of entries that changed state to their
//! bounded queues ([`SyncLink`]); this driver reads each entry from the
//! table, keeps those on VIPs this director serves (VRRP master, or no
//! VRRP at all) — with `sync.mode: all_to_all`, those its own traffic
//! created or changed instead ([`xvs_sync::mode`]) — and lets the
//! sender's policy batch them into IPVS v1 datagrams. Every `sweep_interval` it walks the table for refreshes of
//! long-lived entries, datagram flows and anything a full queue lost.
//!
//! In: datagrams from the configured peers are parsed and validated by the
//! receiver; each entry is then checked against the running plan (its
//! service and real server must exist here, and this director must not be
//! serving its VIP) and handed to the worker that owned it on the sender
//! (modulo the worker count) to install without scheduling.
//!
//! Bulk: at start this director asks its peers for their whole table and
//! holds VRRP preemption until the transfer is done (or the peers stay
//! silent for every attempt); a peer's request is answered with every
//! entry on the VIPs this director serves, then a done marker.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage};
use xvs_config::{ConnSync, ForwardMethod, SyncMode};
use xvs_conn::{ConnEntry, ConnFlags, ConnTable, NewConn};
use xvs_dataplane::{Install, Plan, SynProxy, SyncLink};
use xvs_sync::{
    mode, Bulk, BulkConfig, BulkState, Origin, Received, Receiver, ReceiverConfig, Sender,
    SenderConfig, Synced,
};

/// Receive buffer of the sync socket: a bulk transfer arrives as a burst.
const RCVBUF_BYTES: usize = 4 << 20;
/// Datagrams sent per control-loop pass (a bulk transfer is paced by the
/// loop instead of overrunning the peer's socket buffer).
const SEND_BURST: usize = 64;

/// Drops and counts of this driver (the sender's and receiver's own are in
/// their stats), by stable name.
#[derive(Debug, Default)]
pub struct DriverStats {
    pub counts: BTreeMap<&'static str, u64>,
}

impl DriverStats {
    fn bump(&mut self, name: &'static str) {
        *self.counts.entry(name).or_default() += 1;
    }
}

/// Connection sync for `xvs status`, taken at `at_ms` (since start).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncStatus {
    pub at_ms: u64,
    pub interface: String,
    pub port: u16,
    pub sync_id: u8,
    pub peers: Vec<IpAddr>,
    pub group: Option<IpAddr>,
    /// "idle" (no bulk transfer asked), "waiting", "done", "gave_up".
    pub bulk: &'static str,
    pub preemption_held: bool,
    /// Every counter by name (as `xvs_sync_total{counter=…}`).
    pub counters: BTreeMap<String, u64>,
}

impl SyncStatus {
    /// The sync part of `xvs status` as text.
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::from("Connection sync\n");
        let peers: Vec<String> = self.peers.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  {} port {} syncid {}: {}{}",
            self.interface,
            self.port,
            self.sync_id,
            match self.group {
                Some(g) => format!("group {g}, peers "),
                None => "peers ".to_string(),
            },
            peers.join(", ")
        );
        let _ = writeln!(
            out,
            "  bulk transfer: {}{}",
            self.bulk,
            if self.preemption_held {
                " (VRRP preemption held)"
            } else {
                ""
            }
        );
        let c = |k: &str| self.counters.get(k).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "  sent {} entries in {} datagrams ({} bytes); received {} entries in {} datagrams; installed {}, updated {}",
            c("sent_entries"),
            c("sent_datagrams"),
            c("sent_bytes"),
            c("received_entries"),
            c("received_datagrams"),
            c("installed"),
            c("updated"),
        );
        let dropped: Vec<String> = self
            .counters
            .iter()
            .filter(|(k, v)| {
                **v > 0
                    && (k.starts_with("dropped_")
                        || k.starts_with("install_failed_")
                        || k.ends_with("_full")
                        || k.ends_with("_dropped")
                        || k.as_str() == "send_errors")
            })
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if !dropped.is_empty() {
            let _ = writeln!(out, "  dropped: {}", dropped.join(", "));
        }
        out
    }
}

/// Connection sync, when the configuration has a `sync:` section.
#[derive(Debug)]
pub struct SyncDriver {
    cfg: ConnSync,
    /// Bound to the source address and port (unicast in, everything out);
    /// with a group, a second socket bound to the group receives it.
    socks: Vec<UdpSocket>,
    dests: Vec<SocketAddr>,
    link: Arc<SyncLink>,
    table: Arc<ConnTable>,
    sender: Sender,
    receiver: Receiver,
    bulk: Bulk,
    /// all_to_all: received entries this director's packets re-arm.
    moved: mode::Moved,
    /// Whether VRRP runs: without it every VIP is served here and synced
    /// entries are installed for all of them (all-to-all).
    vrrp: bool,
    next_sweep: Instant,
    stats: DriverStats,
    buf: Vec<u8>,
    /// The SYN proxy's records, whose translations proxied entries carry.
    synproxy: Option<Arc<SynProxy>>,
}

/// A proxied entry's translation into its sync view (none yet: the real
/// server has not answered, and the entry is not in a synced state).
fn fill_synproxy(sp: Option<&SynProxy>, e: &ConnEntry, s: &mut Synced) {
    if e.flags.contains(ConnFlags::SYNPROXY) {
        s.synproxy = sp.and_then(|sp| sp.synced_delta(e.id));
    }
}

impl SyncDriver {
    /// Open the sockets of `cfg` and start (asking for a bulk transfer
    /// when configured).
    pub fn start(
        cfg: &ConnSync,
        mtu: u16,
        link: Arc<SyncLink>,
        table: Arc<ConnTable>,
        vrrp: bool,
        now: Instant,
    ) -> std::io::Result<SyncDriver> {
        let mut socks = vec![open_socket(cfg, cfg.source, true)?];
        if let Some(g) = cfg.group {
            let s = open_socket(cfg, g, false)?;
            join_group(&s, cfg, g)?;
            socks.push(s);
        }
        let dests = match cfg.group {
            Some(g) => vec![SocketAddr::new(g, cfg.port)],
            None => cfg
                .peers
                .iter()
                .map(|&p| SocketAddr::new(p, cfg.port))
                .collect(),
        };
        let sender = Sender::new(SenderConfig {
            sync_id: cfg.sync_id,
            mtu,
            max_delay: cfg.max_delay,
            refresh_secs: u32::try_from(cfg.refresh.as_secs()).unwrap_or(u32::MAX),
        });
        let receiver = Receiver::new(ReceiverConfig {
            sync_id: cfg.sync_id,
            peers: cfg.peers.clone(),
        });
        let mut bulk = Bulk::new(BulkConfig {
            attempt_timeout: cfg.bulk_timeout,
            attempts: cfg.bulk_attempts,
        });
        if cfg.bulk {
            bulk.start(now);
        }
        Ok(SyncDriver {
            cfg: cfg.clone(),
            socks,
            dests,
            link,
            table,
            sender,
            receiver,
            bulk,
            moved: mode::Moved::new(),
            vrrp,
            next_sweep: now + cfg.sweep_interval,
            stats: DriverStats::default(),
            buf: vec![0; 65536],
            synproxy: None,
        })
    }

    /// Carry the SYN proxy's translations of proxied entries (sent) and
    /// install them with the entries received (through the workers).
    pub fn set_synproxy(&mut self, sp: Option<Arc<SynProxy>>) {
        self.synproxy = sp;
    }

    pub fn fds(&self) -> Vec<RawFd> {
        self.socks.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// When the driver next needs the loop (a partial datagram's delay, a
    /// bulk retry, the next sweep).
    pub fn deadline(&self) -> Option<Instant> {
        [
            self.sender.poll_timeout(),
            self.bulk.poll_timeout(),
            Some(self.next_sweep),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether VRRP preemption must wait (a bulk transfer is under way).
    pub fn holds_preemption(&self) -> bool {
        !self.bulk.settled()
    }

    pub fn bulk_state(&self) -> BulkState {
        self.bulk.state()
    }

    /// One pass: datagrams in, worker events and sweeps out, timers.
    pub fn run(&mut self, plan: &Plan, now_secs: u32, now: Instant) {
        self.receive(plan, now_secs, now);
        self.bulk.handle_timeout(now);
        if self.bulk.poll_request(now) {
            self.sender.bulk_request(now);
        }
        for w in 0..self.link.workers() {
            let q = &self.link.worker(w).events;
            // At most one queue's worth a pass: a worker refilling it as
            // fast as it is read cannot keep the loop here.
            for _ in 0..q.capacity() {
                let Some(id) = q.pop() else { break };
                if let Some(e) = self.table.get(id) {
                    if self.offered(plan, &e, Origin::Event) && !e.is_expired(now_secs) {
                        let sp = self.synproxy.as_deref();
                        self.sender
                            .offer_with(&e, now, |s| fill_synproxy(sp, &e, s));
                    }
                }
            }
        }
        if now >= self.next_sweep {
            self.next_sweep = now + self.cfg.sweep_interval;
            self.sweep(plan, now_secs, now);
        }
        self.transmit(now);
    }

    /// Walk the whole table: refreshes, datagram flows, lost events.
    fn sweep(&mut self, plan: &Plan, now_secs: u32, now: Instant) {
        let (sender, moved) = (&mut self.sender, &mut self.moved);
        let (vrrp, mode) = (self.vrrp, self.cfg.mode);
        let sp = self.synproxy.as_deref();
        sender.begin_sweep();
        moved.begin_sweep();
        self.table.for_each(|e| {
            let here = mode == SyncMode::AllToAll && moved.moved_here(e);
            let offered = mode::offered(mode, serves(plan, vrrp, e.vaddr), e, Origin::Sweep, here);
            if offered && !e.is_expired(now_secs) {
                sender.offer_with(e, now, |s| fill_synproxy(sp, e, s));
            } else if mode == SyncMode::AllToAll && e.flags.contains(ConnFlags::SYNC) {
                // The peers have this copy: a refresh counts from it.
                sender.note(e);
            }
        });
        sender.end_sweep();
        moved.end_sweep();
    }

    /// A peer asked for everything: every live, syncable entry on the
    /// VIPs served here, then the done marker.
    fn answer_bulk(&mut self, plan: &Plan, now_secs: u32, now: Instant) {
        let (sender, vrrp, mode) = (&mut self.sender, self.vrrp, self.cfg.mode);
        let sp = self.synproxy.as_deref();
        let mut n = 0u64;
        self.table.for_each(|e| {
            let offered = mode::offered(mode, serves(plan, vrrp, e.vaddr), e, Origin::Bulk, false);
            if offered && !e.is_expired(now_secs) && xvs_sync::syncable(e) {
                let mut s = Synced::from_entry(e);
                fill_synproxy(sp, e, &mut s);
                sender.push(&s, now);
                n += 1;
            }
        });
        sender.bulk_done(now);
        *self.stats.counts.entry("bulk_entries_sent").or_default() += n;
        self.stats.bump("bulk_answered");
    }

    fn transmit(&mut self, now: Instant) {
        for _ in 0..SEND_BURST {
            let Some(d) = self.sender.poll_transmit(now) else {
                break;
            };
            for to in &self.dests {
                if self.socks[0].send_to(&d, to).is_err() {
                    self.stats.bump("send_errors");
                }
            }
        }
    }

    fn receive(&mut self, plan: &Plan, now_secs: u32, now: Instant) {
        for s in 0..self.socks.len() {
            while let Ok((n, from)) = self.socks[s].recv_from(&mut self.buf) {
                let datagram = self.buf[..n].to_vec();
                match self.receiver.handle(from.ip(), &datagram) {
                    Received::Entries(list) => {
                        self.bulk.on_entries(now);
                        for s in &list {
                            self.install(plan, s, now_secs);
                        }
                    }
                    Received::BulkRequest => self.answer_bulk(plan, now_secs, now),
                    Received::BulkDone => self.bulk.on_done(now),
                    Received::Dropped => {}
                }
            }
        }
    }

    /// Check a synced connection against the plan and hand it to its
    /// worker.
    fn install(&mut self, plan: &Plan, s: &Synced, now_secs: u32) {
        match resolve(plan, self.vrrp, self.cfg.mode, s) {
            Ok(conn) => {
                if self.cfg.mode == SyncMode::AllToAll {
                    self.moved.on_install(s, now_secs);
                }
                let w = usize::from(s.worker.unwrap_or(0)) % self.link.workers().max(1);
                let install = Install {
                    conn,
                    plan_version: plan.version,
                    synproxy: s.synproxy,
                };
                if self.link.worker(w).installs.push(install).is_err() {
                    self.stats.bump("install_queue_full");
                }
            }
            Err(reason) => self.stats.bump(reason),
        }
    }

    /// What `xvs status` shows.
    pub fn status(&self, at_ms: u64) -> SyncStatus {
        SyncStatus {
            at_ms,
            interface: self.cfg.interface.clone(),
            port: self.cfg.port,
            sync_id: self.cfg.sync_id,
            peers: self.cfg.peers.clone(),
            group: self.cfg.group,
            bulk: match self.bulk.state() {
                BulkState::Idle => "idle",
                BulkState::Waiting { .. } => "waiting",
                BulkState::Done => "done",
                BulkState::GaveUp => "gave_up",
            },
            preemption_held: self.holds_preemption(),
            counters: self.counters().into_iter().collect(),
        }
    }

    /// Counters for metrics and `xvs status`: (name, value), stable names.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        let st = self.sender.stats();
        out.push(("sent_entries".into(), st.entries_sent));
        out.push(("sent_datagrams".into(), st.datagrams));
        out.push(("sent_bytes".into(), st.bytes));
        out.push(("send_queue_dropped".into(), st.queue_dropped));
        let rc = self.receiver.counters();
        out.push(("received_datagrams".into(), rc.datagrams));
        out.push(("received_entries".into(), rc.entries_ok));
        for (name, n) in rc.drops() {
            out.push((format!("dropped_{name}"), n));
        }
        for (name, n) in &self.stats.counts {
            out.push(((*name).to_string(), *n));
        }
        let mut events_dropped = 0;
        let (mut installed, mut updated) = (0, 0);
        let mut failed: BTreeMap<&'static str, u64> = BTreeMap::new();
        for w in 0..self.link.workers() {
            let ws = self.link.worker(w);
            events_dropped += ws.events_dropped.load(std::sync::atomic::Ordering::Relaxed);
            installed += ws.installed.load(std::sync::atomic::Ordering::Relaxed);
            updated += ws.updated.load(std::sync::atomic::Ordering::Relaxed);
            for (name, n) in ws.install_failures() {
                *failed.entry(name).or_default() += n;
            }
        }
        out.push(("events_dropped".into(), events_dropped));
        out.push(("installed".into(), installed));
        out.push(("updated".into(), updated));
        for (name, n) in failed {
            out.push((format!("install_failed_{name}"), n));
        }
        out
    }
}

impl SyncDriver {
    /// Whether entry `e` may be sent (see [`xvs_sync::mode`]).
    fn offered(&self, plan: &Plan, e: &xvs_conn::ConnEntry, origin: Origin) -> bool {
        let serves = serves(plan, self.vrrp, e.vaddr);
        mode::offered(self.cfg.mode, serves, e, origin, false)
    }
}

/// Whether this director serves `vip` now: VRRP master of it, or no VRRP.
fn serves(plan: &Plan, vrrp: bool, vip: IpAddr) -> bool {
    !vrrp || plan.vip_standby(vip) == Some(false)
}

/// The entry a synced connection becomes here, or why it cannot: its
/// service and real server must be configured, and its VIP not served by
/// this director (a master keeps its own connections) unless every
/// director serves every VIP (`all_to_all`). The forwarding method is the
/// local real server's, as IPVS takes it. A FullNAT entry keeps the
/// sender's local address: from this service's pool (a shared pool that
/// moves with VRRP), or in `all_to_all` another director's own address.
fn resolve(plan: &Plan, vrrp: bool, mode: SyncMode, s: &Synced) -> Result<NewConn, &'static str> {
    let served_here = vrrp && plan.vip_standby(s.vaddr) == Some(false);
    if !mode::installs(mode, served_here) {
        return Err("dropped_vip_served_here");
    }
    let si = plan
        .find_service(s.protocol, s.vaddr, s.vport)
        .ok_or("dropped_no_service")?;
    let svc = &plan.services[si];
    let template = s.is_template();
    let dest = svc
        .dest_ids
        .iter()
        .filter_map(|&id| plan.dest(id))
        .find(|d| {
            d.address == s.daddr
                && (d.port == s.dport || d.port == 0 || svc.port == 0 || (template && s.dport == 0))
        })
        .ok_or("dropped_no_real_server")?;
    let mut flags = ConnFlags(s.flags.bits() & !ConnFlags::FWD_MASK.bits())
        | ConnFlags::from_method(dest.method)
        | ConnFlags::SYNC;
    if !template && dest.method.sees_replies() {
        flags.remove(ConnFlags::NOOUTPUT);
    } else if !template {
        flags |= ConnFlags::NOOUTPUT;
    }
    let (laddr, lport) = if template {
        (s.caddr, 0)
    } else if dest.method == ForwardMethod::FullNat {
        let (la, lp) = s.local.ok_or("dropped_no_local_address")?;
        let pool = svc
            .local_pool
            .and_then(|p| plan.pools.get(p))
            .ok_or("dropped_no_local_pool")?;
        if !pool.addresses.contains(&la) && !foreign_local_address(plan, mode, la) {
            return Err("dropped_local_address_not_in_pool");
        }
        (la, lp)
    } else {
        (s.caddr, s.cport)
    };
    Ok(NewConn {
        protocol: s.protocol,
        caddr: s.caddr,
        cport: s.cport,
        vaddr: s.vaddr,
        vport: s.vport,
        laddr,
        lport,
        daddr: s.daddr,
        dport: s.dport,
        flags,
        dest_id: dest.id,
        controller: None,
        state: s.state,
        timeout_secs: s.timeout_secs,
    })
}

/// all_to_all: whether `la` is another director's FullNAT local address,
/// which this director may forward with. Every active director has its own
/// pool (shared pools would hand out the same ports twice), so a flow ECMP
/// moves here keeps the sender's LIP:lport: the real server's replies go to
/// that address, hence to the director that owns it and still has the
/// entry. This director never claims those replies (it answers only for
/// its own pools' addresses) and never allocates from that address (only
/// from its own pool). An address in any of this director's own pools is
/// not foreign: in another service's pool its ports are handed out by that
/// service, so accepting it could give one ⟨RIP, LIP, lport⟩ to two flows.
fn foreign_local_address(plan: &Plan, mode: SyncMode, la: IpAddr) -> bool {
    mode == SyncMode::AllToAll && !plan.is_local_address(la)
}

/// A UDP socket on the sync interface bound to `addr`:port.
fn open_socket(cfg: &ConnSync, addr: IpAddr, unicast: bool) -> std::io::Result<UdpSocket> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket::socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    socket::setsockopt(
        &fd,
        sockopt::BindToDevice,
        &std::ffi::OsString::from(&cfg.interface),
    )?;
    let _ = socket::setsockopt(&fd, sockopt::RcvBuf, &RCVBUF_BYTES);
    if unicast && !addr.is_ipv4() {
        socket::setsockopt(&fd, sockopt::Ipv6MulticastHops, &1)?;
    }
    let sa = SockaddrStorage::from(SocketAddr::new(addr, cfg.port));
    socket::bind(fd.as_raw_fd(), &sa)?;
    let sock = UdpSocket::from(fd);
    if unicast {
        // IPVS: TTL 1, our own multicast not looped back.
        if addr.is_ipv4() {
            sock.set_multicast_ttl_v4(1)?;
            sock.set_multicast_loop_v4(false)?;
        } else {
            sock.set_multicast_loop_v6(false)?;
        }
    }
    Ok(sock)
}

fn join_group(s: &UdpSocket, cfg: &ConnSync, group: IpAddr) -> std::io::Result<()> {
    match (group, cfg.source) {
        (IpAddr::V4(g), IpAddr::V4(src)) => s.join_multicast_v4(&g, &src),
        (IpAddr::V6(g), _) => {
            let index = nix::net::if_::if_nametoindex(cfg.interface.as_str())?;
            s.join_multicast_v6(&g, index)
        }
        _ => Err(std::io::Error::other(
            "sync group and source differ in family",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xvs_conn::ConnState;
    use xvs_dataplane::DestRegistry;

    /// A NAT and two FullNAT services (one pool each) on three VIPs;
    /// `standby` lists the VIPs this director does not serve (VRRP backup
    /// of them).
    fn plan(standby: &[&str]) -> Plan {
        let yaml = "\
interfaces:
  - name: eth0
    addresses: [198.18.0.2/24]
  - name: eth1
    addresses: [198.18.1.2/24]
local_pools:
  - name: lip
    addresses: [198.18.1.200]
  - name: other
    addresses: [198.18.1.210]
services:
  - name: nat
    vip: 198.18.0.100
    port: 80
    protocol: tcp
    method: nat
    real_servers: [{address: 198.18.1.11, port: 8080}, {address: 198.18.1.12, port: 8080}]
  - name: full
    vip: 198.18.0.101
    port: 80
    protocol: tcp
    method: fullnat
    local_pool: lip
    real_servers: [{address: 198.18.1.11, port: 80}]
  - name: full2
    vip: 198.18.0.102
    port: 80
    protocol: tcp
    method: fullnat
    local_pool: other
    real_servers: [{address: 198.18.1.11, port: 80}]
";
        let mut snap = xvs_config::load_str(yaml, "t.yaml").expect("config");
        snap.standby = standby.iter().map(|a| a.parse().unwrap()).collect();
        snap.standby.sort();
        Plan::compile(Arc::new(snap), &mut DestRegistry::new(1), None).expect("plan")
    }

    fn ip(a: &str) -> IpAddr {
        a.parse().unwrap()
    }

    /// A synced ESTABLISHED connection to `vip`:80 on real server
    /// `rip`:`rport`, sent as DR by a sender configured differently.
    fn synced(vip: &str, rip: &str, rport: u16) -> Synced {
        Synced {
            protocol: 6,
            caddr: ip("198.18.0.11"),
            cport: 40000,
            vaddr: ip(vip),
            vport: 80,
            daddr: ip(rip),
            dport: rport,
            local: None,
            flags: ConnFlags::for_method(ForwardMethod::Dr),
            state: ConnState::Established,
            timeout_secs: 900,
            worker: Some(3),
            synproxy: None,
        }
    }

    #[test]
    fn a_backup_takes_the_method_from_its_own_real_server() {
        let p = plan(&["198.18.0.100", "198.18.0.101"]);
        let c = resolve(
            &p,
            true,
            SyncMode::MasterBackup,
            &synced("198.18.0.100", "198.18.1.12", 8080),
        )
        .unwrap();
        assert_eq!(ConnFlags(c.flags.bits() & 7), ConnFlags::FWD_MASQ);
        assert!(c.flags.contains(ConnFlags::SYNC));
        assert!(
            !c.flags.contains(ConnFlags::NOOUTPUT),
            "NAT replies come back"
        );
        assert_eq!((c.laddr, c.lport), (ip("198.18.0.11"), 40000));
        assert_eq!((c.state, c.timeout_secs), (ConnState::Established, 900));
        let d = p.dest(c.dest_id).unwrap();
        assert_eq!((d.address, d.port), (ip("198.18.1.12"), 8080));
    }

    #[test]
    fn fullnat_keeps_the_senders_local_address_from_the_pool() {
        let p = plan(&["198.18.0.101"]);
        let mut s = synced("198.18.0.101", "198.18.1.11", 80);
        assert_eq!(
            resolve(&p, true, SyncMode::MasterBackup, &s),
            Err("dropped_no_local_address")
        );
        s.local = Some((ip("198.18.1.250"), 2000));
        assert_eq!(
            resolve(&p, true, SyncMode::MasterBackup, &s),
            Err("dropped_local_address_not_in_pool")
        );
        s.local = Some((ip("198.18.1.200"), 2000));
        let c = resolve(&p, true, SyncMode::MasterBackup, &s).unwrap();
        assert_eq!((c.laddr, c.lport), (ip("198.18.1.200"), 2000));
        assert_eq!(ConnFlags(c.flags.bits() & 7), ConnFlags::FWD_FULLNAT);
    }

    #[test]
    fn all_to_all_fullnat_keeps_another_directors_local_address() {
        let p = plan(&[]);
        let mut s = synced("198.18.0.101", "198.18.1.11", 80);
        // Director A's LIP, in none of this director's pools: ECMP moved
        // the client here, the replies still go to A.
        s.local = Some((ip("198.18.1.250"), 2000));
        let c = resolve(&p, false, SyncMode::AllToAll, &s).unwrap();
        assert_eq!((c.laddr, c.lport), (ip("198.18.1.250"), 2000));
        assert_eq!(ConnFlags(c.flags.bits() & 7), ConnFlags::FWD_FULLNAT);
        assert!(!c.flags.contains(ConnFlags::NOOUTPUT));
        // master_backup shares one pool: a foreign address is an error.
        assert_eq!(
            resolve(&p, false, SyncMode::MasterBackup, &s),
            Err("dropped_local_address_not_in_pool")
        );
        // This director's own address of another service's pool: that
        // service hands out its ports, so it is never taken as foreign.
        s.local = Some((ip("198.18.1.210"), 2000));
        assert_eq!(
            resolve(&p, false, SyncMode::AllToAll, &s),
            Err("dropped_local_address_not_in_pool")
        );
        // Its own pool's address (its own entry coming back) is kept.
        s.local = Some((ip("198.18.1.200"), 2000));
        let c = resolve(&p, false, SyncMode::AllToAll, &s).unwrap();
        assert_eq!((c.laddr, c.lport), (ip("198.18.1.200"), 2000));
        // The service must still have a pool, and the entry a LIP.
        s.local = None;
        assert_eq!(
            resolve(&p, false, SyncMode::AllToAll, &s),
            Err("dropped_no_local_address")
        );
    }

    #[test]
    fn nothing_is_installed_for_what_this_director_does_not_have_or_serves() {
        let p = plan(&["198.18.0.100"]);
        let mut s = synced("198.18.0.100", "198.18.1.11", 8080);
        s.vport = 443;
        assert_eq!(
            resolve(&p, true, SyncMode::MasterBackup, &s),
            Err("dropped_no_service")
        );
        let s = synced("198.18.0.100", "198.18.1.13", 8080);
        assert_eq!(
            resolve(&p, true, SyncMode::MasterBackup, &s),
            Err("dropped_no_real_server")
        );
        let s = synced("198.18.0.100", "198.18.1.11", 9999);
        assert_eq!(
            resolve(&p, true, SyncMode::MasterBackup, &s),
            Err("dropped_no_real_server")
        );
        // VRRP master of the VIP: its own connections win.
        let s = synced("198.18.0.101", "198.18.1.11", 80);
        assert_eq!(
            resolve(&p, true, SyncMode::MasterBackup, &s),
            Err("dropped_vip_served_here")
        );
        // Without VRRP (all-to-all) every VIP is served and installed.
        let mut s = s;
        s.local = Some((ip("198.18.1.200"), 2000));
        assert!(resolve(&p, false, SyncMode::MasterBackup, &s).is_ok());
        // all_to_all: every director serves every VIP and installs every
        // peer's entries, even where VRRP made it master.
        assert!(resolve(&p, true, SyncMode::AllToAll, &s).is_ok());
    }
}
