//! What the listing commands answer (`list`, `conns`): plain data that
//! both the CLI's text (ipvsadm's layouts, [`super::render`]) and scripts
//! (`--json`) read, so the two cannot disagree. The shapes are documented
//! in docs/control-protocol.md; a field is only ever added, never renamed,
//! within one protocol version.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// `list`: every service (or the one asked for), in ipvsadm's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// The connection table's size, ipvsadm's `(size=…)`.
    pub conn_capacity: usize,
    pub services: Vec<ServiceListing>,
}

/// One virtual service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceListing {
    pub name: String,
    /// `tcp` or `udp`.
    pub protocol: String,
    pub vip: IpAddr,
    pub port: u16,
    pub scheduler: String,
    /// Scheduler flags as the file spells them (`sh-fallback`, `mh-port`).
    pub flags: Vec<String>,
    pub persistence: Option<PersistenceListing>,
    /// One-packet scheduling.
    pub ops: bool,
    /// SYN proxy (no ipvsadm analogue, so in the JSON only).
    #[serde(default)]
    pub synproxy: bool,
    pub stats: Counters,
    pub rate: RateListing,
    pub real_servers: Vec<RealServerListing>,
}

/// Persistence: template timeout (seconds) and client prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistenceListing {
    pub timeout: u64,
    pub prefix: u8,
}

/// One real server of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealServerListing {
    pub address: IpAddr,
    pub port: u16,
    /// `nat`, `dr`, `tun` or `fullnat` (ipvsadm's Masq, Route, Tunnel, FullNat).
    pub method: String,
    /// The weight in force (health checks and drains change it).
    pub weight: u32,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub stats: Counters,
    pub rate: RateListing,
}

/// Totals since start (`ipvsadm --stats`): connections scheduled
/// (templates excluded), packets and IP bytes in each direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub conns: u64,
    pub in_packets: u64,
    pub out_packets: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

/// The rate estimator's averages per second (`ipvsadm --rate`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateListing {
    pub cps: u64,
    pub in_pps: u64,
    pub out_pps: u64,
    pub in_bps: u64,
    pub out_bps: u64,
}

/// `conns`: connection entries (templates included), as `ipvsadm -Lnc`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnsListing {
    pub connections: Vec<ConnListing>,
}

/// One connection entry or persistence template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnListing {
    /// `tcp`, `udp`, or `ip` for a firewall-mark template.
    pub protocol: String,
    /// IPVS state name as ipvsadm prints it (`ESTABLISHED`, `UDP`, `NONE`).
    pub state: String,
    /// Seconds until it expires unless traffic refreshes it.
    pub expires_in: u32,
    /// A persistence template rather than a connection.
    pub template: bool,
    /// `nat`, `dr`, `tun` or `fullnat`.
    pub method: String,
    /// The client (CIP; a template's client network, port 0).
    pub source: Endpoint,
    /// The virtual service (VIP).
    #[serde(rename = "virtual")]
    pub vservice: Endpoint,
    /// FullNAT only: the director's local address towards the real server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Endpoint>,
    /// The real server (RIP).
    pub destination: Endpoint,
    /// The worker whose table shard holds it.
    pub worker: usize,
}

/// An address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Endpoint {
    pub address: IpAddr,
    pub port: u16,
}
