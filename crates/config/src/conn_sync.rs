//! The resolved `sync:` section: connection sync between directors
//! (IPVS's sync daemon, REFERENCE §9, plus xvs's bulk transfer).
//!
//! Plain data: the xvs-sync crate and the runtime run it.

use std::net::IpAddr;
use std::time::Duration;

/// IPVS's sync port (ip_vs_sync.c `IP_VS_SYNC_PORT`).
pub const DEFAULT_SYNC_PORT: u16 = 8848;

/// Which connections a director sends and installs (`sync.mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SyncMode {
    /// IPVS's master and backup: a director sends the connections on the
    /// VIPs it serves (VRRP master of them, or every VIP without VRRP),
    /// every one it has, and installs the others' only on VIPs it does
    /// not serve (a VRRP master keeps its own).
    #[default]
    MasterBackup,
    /// Several active directors behind ECMP, each serving every VIP: a
    /// director sends the connections it created and those its own
    /// traffic moved to a new state, never one it only received, and
    /// installs every peer's entry whatever VIP it is on, so a flow ECMP
    /// moves here finds its entry.
    AllToAll,
}

impl SyncMode {
    /// The word `sync.mode` takes.
    pub const fn name(self) -> &'static str {
        match self {
            SyncMode::MasterBackup => "master_backup",
            SyncMode::AllToAll => "all_to_all",
        }
    }
}

/// How a director exchanges connection state with its peers.
///
/// Guaranteed by the loader: `interface` is one of the configured
/// interfaces and has an address of each peer's family (`source`), the
/// peers are unique and none is one of this director's own addresses, a
/// `group` is a multicast address of the peers' family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnSync {
    /// The interface sync datagrams leave and arrive on.
    pub interface: String,
    /// The directors this one accepts sync datagrams from (and sends to,
    /// without `group`).
    pub peers: Vec<IpAddr>,
    /// Send to this multicast group instead of to each peer.
    pub group: Option<IpAddr>,
    /// UDP port, both ends (default 8848).
    pub port: u16,
    /// IPVS SyncID (0..=255, default 0): datagrams with another non-zero
    /// ID are ignored; 0 accepts any.
    pub sync_id: u8,
    /// Source address of what this director sends (the interface's first
    /// address of the peers' family unless `source_address` names one).
    pub source: IpAddr,
    /// Resend a long-lived entry once its expiry has moved this far since
    /// it was last sent (IPVS `sync_refresh_period`; 0 = never refresh).
    pub refresh: Duration,
    /// Longest a synced entry waits for its datagram to fill.
    pub max_delay: Duration,
    /// How often the control thread walks the table for refreshes and
    /// for datagram flows (UDP).
    pub sweep_interval: Duration,
    /// Ask the peers for their whole table at start and hold preemption
    /// until it arrived (or `bulk_attempts` requests went unanswered).
    pub bulk: bool,
    pub bulk_timeout: Duration,
    pub bulk_attempts: u32,
    /// Which connections are sent and installed (default master/backup).
    pub mode: SyncMode,
    /// Capacity of each worker's two queues (entries to send, entries to
    /// install).
    pub queue: usize,
}
