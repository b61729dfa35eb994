//! The resolved, validated configuration: an immutable, versioned
//! [`Snapshot`]. This is the unit the control thread publishes to workers
//! (RCU). Everything here is plain data with defaults already applied; the
//! YAML loader (`load_file` / `load_str`) produces it, and nothing downstream re-validates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::health::{HealthCheck, HealthGlobal, RealServerHealth, ServiceHealth};
use crate::types::{ForwardMethod, Protocol, SchedFlags, SchedulerKind};

/// An Ethernet MAC address.
pub type MacAddr = [u8; 6];

/// An address with a prefix length, e.g. `198.18.0.1/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// True if `ip` lies in this network (same family, same prefix bits).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let bits = u32::from(self.prefix.min(32));
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let bits = u32::from(self.prefix.min(128));
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// How a worker waits when its queues are empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IdlePolicy {
    /// Spin on the rings forever: lowest latency, one full core per worker (appliance default).
    #[default]
    Busy,
    /// Spin briefly, then back off to poll()/sleep: for tests and shared hosts.
    Adaptive,
}

/// Connection-table idle timeouts (ipvsadm --set tcp tcpfin udp, plus the
/// rest of IPVS's TCP state table, all in whole seconds as IPVS keeps them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// ESTABLISHED (ipvsadm "tcp"), default 900 s.
    pub tcp: u32,
    /// FIN_WAIT (ipvsadm "tcpfin"), default 120 s.
    pub tcp_fin: u32,
    /// UDP, default 300 s.
    pub udp: u32,
    pub syn_sent: u32,
    pub syn_recv: u32,
    pub time_wait: u32,
    pub close: u32,
    pub close_wait: u32,
    pub last_ack: u32,
    pub listen: u32,
    pub synack: u32,
}

impl Default for Timeouts {
    /// IPVS defaults (ip_vs_proto_tcp.c tcp_timeouts[], ip_vs_proto_udp.c).
    fn default() -> Self {
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
            syn_sent: 120,
            syn_recv: 60,
            time_wait: 120,
            close: 10,
            close_wait: 60,
            last_ack: 30,
            listen: 120,
            synack: 120,
        }
    }
}

/// IPVS sysctl-equivalent knobs (Documentation/networking/ipvs-sysctl.rst),
/// with the kernel's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunables {
    /// conn_reuse_mode (default 1): reschedule a SYN that hits a TIME_WAIT entry.
    pub conn_reuse_mode: u8,
    /// expire_nodest_conn (default false).
    pub expire_nodest_conn: bool,
    /// expire_quiescent_template (default false).
    pub expire_quiescent_template: bool,
    /// sloppy_tcp (default false): create entries on any TCP packet, not only SYN.
    pub sloppy_tcp: bool,
    /// pmtu_disc (default true): TUN copies DF and answers frag-needed.
    pub pmtu_disc: bool,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            conn_reuse_mode: 1,
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            sloppy_tcp: false,
            pmtu_disc: true,
        }
    }
}

/// How the connection table defends itself when a worker's shard fills
/// up (`global.table_pressure`), as IPVS's drop_entry and secure_tcp
/// sysctls do (ipvs-sysctl.rst), both on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TablePressure {
    /// A new connection finding its worker's shard full frees a half-open
    /// entry, else a closing one (never an established one or a template).
    pub evict: bool,
    /// Slots one such attempt examines at most (bounded work per packet).
    pub evict_scan: u32,
    /// While a shard is at least `enter_percent` full (until it is back
    /// to `leave_percent`), new and refreshed SYN_RECV entries time out
    /// after `syn_recv` seconds instead of the configured timeout.
    pub short_timeouts: bool,
    pub enter_percent: u8,
    pub leave_percent: u8,
    pub syn_recv: u32,
}

impl Default for TablePressure {
    fn default() -> Self {
        TablePressure {
            evict: true,
            evict_scan: 64,
            short_timeouts: true,
            enter_percent: 75,
            leave_percent: 50,
            syn_recv: 5,
        }
    }
}

/// Process-wide settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// CPU cores to pin one worker each to; `workers.len()` is the worker count.
    pub workers: Vec<usize>,
    pub idle: IdlePolicy,
    /// Connection-table capacity for IPv4 entries (all workers together,
    /// split evenly between them), allocated up front; `xvs run` sizes the
    /// IPv6 table at a quarter of it (at least 1024), as IPv6 entries are
    /// twice as large and usually far fewer.
    pub conn_capacity: usize,
    pub timeouts: Timeouts,
    pub tunables: Tunables,
    /// The table's defences against floods of half-open connections.
    pub table_pressure: TablePressure,
    /// AF_XDP UMEM frames per socket and ring sizes (used by the AF_XDP driver).
    pub umem_frames: u32,
    pub ring_size: u32,
    /// Live IPv4 connections in a worker's table shard from which the
    /// worker starts each receive burst's connection lookups early
    /// (prefetch); 0 = always. Default [`DEFAULT_PREFETCH_MIN_LIVE`].
    pub prefetch_min_live: usize,
    /// Health-check engine limits.
    pub health: HealthGlobal,
    /// Where `xvs run` serves `GET /metrics` over HTTP for Prometheus
    /// (`global.metrics_listen`); `None` (the default): no endpoint, the
    /// metrics are only on the control socket (`xvs metrics`). Read at
    /// start.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The SYN proxy's cookie key (`global.synproxy_key`); `None` (the
    /// default): a random key per start. Directors behind one ECMP route
    /// share it so each accepts the ACK of a cookie another one issued.
    /// Read at start.
    pub synproxy_key: Option<SynproxyKey>,
}

/// A 128-bit SYN cookie (SipHash) key. Its `Debug` does not show it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SynproxyKey(pub [u8; 16]);

impl std::fmt::Debug for SynproxyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SynproxyKey(..)")
    }
}

/// The default `global.prefetch_min_live`: 4,096 entries with their index
/// groups are about 512 KiB, which the caches hold, so below that a
/// prefetch costs more than the loads it hides (bench/HISTORY.md,
/// "Bursts, prefetch and huge pages").
pub const DEFAULT_PREFETCH_MIN_LIVE: usize = 4096;

/// A network interface the director forwards on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// Our MAC on this interface; `None` = read it from the system at start.
    pub mac: Option<MacAddr>,
    /// Director addresses (DIP) with their connected prefixes.
    pub addresses: Vec<IpNet>,
    pub gateway_v4: Option<Ipv4Addr>,
    pub gateway_v6: Option<Ipv6Addr>,
    /// Layer-3 MTU (default 1500).
    pub mtu: u16,
    /// NIC queues to open AF_XDP sockets on (default: queue 0).
    pub queues: Vec<u32>,
    /// AF_XDP mode: `None` = zero-copy where supported, else copy.
    pub zero_copy: Option<bool>,
}

/// Persistence (ipvsadm -p TIMEOUT -M NETMASK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persistence {
    /// Template timeout; 360 s when `persistence` is given without a value.
    pub timeout: Duration,
    /// Client network granularity as a prefix length (IPv4 default 32, IPv6 128).
    pub prefix: u8,
}

/// A real server (IPVS "destination").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServer {
    /// RIP.
    pub address: IpAddr,
    /// Real-server port; equals the service port for DR and TUN.
    pub port: u16,
    /// 0..=65535; 0 quiesces (no new connections, existing ones continue).
    pub weight: u32,
    /// Upper connection threshold, 0 = none.
    pub upper_threshold: u32,
    /// Lower connection threshold, 0 = default (3/4 of upper).
    pub lower_threshold: u32,
    /// The forwarding method for this real server (service default unless overridden).
    pub method: ForwardMethod,
    /// Static next-hop MAC; `None` = resolve with ARP/ND.
    pub mac: Option<MacAddr>,
    /// Its checkers (keepalived's *_CHECK blocks): down as soon as one
    /// fails, up when all pass. Empty: always up.
    pub checkers: Vec<HealthCheck>,
    /// inhibit_on_failure, notify scripts, slowstart.
    pub health: RealServerHealth,
}

/// A virtual service: VIP:port/protocol with its scheduler and real servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualService {
    /// Operator-facing name (defaults to "proto vip:port").
    pub name: String,
    pub protocol: Protocol,
    pub vip: IpAddr,
    /// Virtual port; 0 = all ports (must be persistent, as IPVS).
    pub port: u16,
    pub scheduler: SchedulerKind,
    pub sched_flags: SchedFlags,
    /// Maglev table size for `mh` (prime; IPVS default 4093).
    pub mh_table_size: u32,
    /// Default forwarding method of the real servers.
    pub method: ForwardMethod,
    pub persistence: Option<Persistence>,
    /// One-packet scheduling (UDP only).
    pub ops: bool,
    /// SYN proxy: the director answers SYNs with SYN cookies and opens the
    /// connection to the real server only once the client's ACK proved
    /// one (TCP services whose real servers all use NAT or FullNAT).
    pub synproxy: bool,
    /// FullNAT local-address pool (index into `Snapshot::local_pools`).
    pub local_pool: Option<usize>,
    /// Real servers in list order (schedulers break ties in this order).
    pub real_servers: Vec<RealServer>,
    /// Quorum, sorry server and their scripts.
    pub health: ServiceHealth,
}

/// FullNAT local addresses (LIPs) and the source-port range split between workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAddressPool {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    /// Inclusive port range, default 1024..=65535.
    pub port_min: u16,
    pub port_max: u16,
}

/// One immutable, versioned configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Monotonic version, bumped by the control thread on every publish.
    pub version: u64,
    pub global: Global,
    pub interfaces: Vec<Interface>,
    pub services: Vec<VirtualService>,
    pub local_pools: Vec<LocalAddressPool>,
    /// `vrrp:` instances.
    pub vrrp: Vec<crate::vrrp::VrrpInstance>,
    /// `vrrp_scripts:` (keepalived's vrrp_script blocks).
    pub vrrp_scripts: Vec<crate::vrrp::VrrpScript>,
    /// `vrrp_sync_groups:`.
    pub vrrp_sync_groups: Vec<crate::vrrp::VrrpSyncGroup>,
    /// `sync:`: connection sync with other directors.
    pub sync: Option<crate::conn_sync::ConnSync>,
    /// `announce:`: the VIPs announced over BGP through BIRD.
    pub announce: Option<crate::announce::Announce>,
    /// Runtime state, never read from a file: the addresses of VRRP
    /// instances this director is not master of (sorted). The workers
    /// drop and count traffic to these VIPs; the control thread does not
    /// answer ARP/ND for them.
    pub standby: Vec<IpAddr>,
}
