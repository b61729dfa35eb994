//! The resolved VRRP configuration: keepalived's `vrrp_instance`,
//! `vrrp_script` and `vrrp_sync_group` with every default applied
//! (REFERENCE §8.4), in xvs's terms.
//!
//! Plain data: the xvs-vrrp crate runs it, nothing here sends anything.

use std::net::IpAddr;
use std::time::Duration;

use crate::health::Script;
use crate::model::IpNet;

/// A VRRP instance (one virtual router on one interface, one family).
///
/// Guaranteed by the loader: an address owner (priority 255) has
/// `preempt` and `accept` true and only weight-0 trackers; a non-zero
/// `preempt_delay` comes with `preempt` and without `initial_master`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpInstance {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// 1..=255 (255 = address owner).
    pub priority: u8,
    /// 2 or 3.
    pub version: u8,
    pub advert_interval: Duration,
    /// `state: master` (keepalived: only a priority-255 owner starts as
    /// master at once; the others start as backup either way).
    pub initial_master: bool,
    /// `preempt` (default true; `nopreempt` needs state backup).
    pub preempt: bool,
    /// `preempt_delay` (0..=1000 s, default 0): how long after start-up
    /// (or after the first lower-priority advert) a backup still accepts a
    /// lower-priority master before preempting it.
    pub preempt_delay: Duration,
    pub virtual_addresses: Vec<IpNet>,
    /// Send adverts to these addresses instead of the multicast group.
    pub unicast_peers: Vec<IpAddr>,
    /// `unicast_src_ip` / `mcast_src_ip`: the adverts' source address
    /// (default: the interface's first address of the family; IPv6: its
    /// link-local address). When set: a unicast address of the instance's
    /// family, one of the interface's listed addresses if it lists any of
    /// that kind, and link-local for IPv6 without unicast peers.
    pub source_address: Option<IpAddr>,
    /// VRRPv2 simple-text password (≤ 8 bytes).
    pub auth_pass: Option<String>,
    /// keepalived's `down_timer_adverts` (1..=100, default 3): the
    /// Master_Down_Interval is this many advert intervals plus the skew.
    pub down_timer_adverts: u32,
    /// How VRRPv3 over IPv4 checksums (IPv6 always uses the pseudo-header).
    pub v3_checksum: V3Checksum,
    /// `use_vmac`: answer ARP/ND with, and send from, the virtual MAC
    /// 00:00:5E:00:01:VRID (IPv4) / 00:00:5E:00:02:VRID (IPv6) while master.
    pub use_vmac: bool,
    /// Accept_Mode (keepalived's `accept`, default on; off with `strict`):
    /// as master, answer pings to the virtual addresses themselves.
    pub accept: bool,
    pub garp: GarpSettings,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScript>,
    pub notify: VrrpNotify,
}

/// The VRRPv3 IPv4 checksum convention (REFERENCE §8.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum V3Checksum {
    /// With the IPv4 pseudo-header (RFC 5798 as keepalived reads it; the
    /// only form keepalived ≤ 2.2.7 knows). The default.
    #[default]
    PseudoHeader,
    /// The VRRP message only, as VRRPv2 does (RFC 9568; keepalived's
    /// `v3_checksum_as_v2`, from 2.2.8).
    MessageOnly,
}

/// Gratuitous ARP / unsolicited NA after becoming master (keepalived's
/// garp_master_* keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GarpSettings {
    /// `garp_master_delay` (default 5 s; 0 = no second burst).
    pub master_delay: Duration,
    /// `garp_master_repeat` (default 5, 1..=255): announcements per burst.
    pub master_repeat: u32,
    /// `garp_master_refresh` (default off).
    pub master_refresh: Option<Duration>,
    /// `garp_master_refresh_repeat` (default 1, 1..=255; only configurable
    /// together with a refresh interval).
    pub master_refresh_repeat: u32,
}

impl Default for GarpSettings {
    fn default() -> Self {
        GarpSettings {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
        }
    }
}

/// `track_interface`: an interface whose link state the instance follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInterface {
    pub name: String,
    /// -253..=253. 0 (default): the instance goes to FAULT while the link is down.
    /// Otherwise added to the priority while down if negative (keepalived:
    /// a positive weight is added while up).
    pub weight: i32,
}

/// `track_script`: a reference from an instance to a `vrrp_script`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackScript {
    /// Index into [`Snapshot::vrrp_scripts`](crate::Snapshot::vrrp_scripts).
    pub script: usize,
    /// The weight this instance uses (default: the script's own), -253..=253.
    pub weight: i32,
    /// `reverse`: success counts as failure and vice versa for the weight.
    pub reverse: bool,
}

/// Notify scripts (keepalived: `notify_master`, `notify_backup`,
/// `notify_fault`, `notify_stop`, and `notify` run on every transition
/// with `INSTANCE|GROUP name state priority` appended).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VrrpNotify {
    pub master: Option<Script>,
    pub backup: Option<Script>,
    pub fault: Option<Script>,
    pub stop: Option<Script>,
    pub any: Option<Script>,
}

/// `vrrp_script`: a check whose result moves the priority (or faults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpScript {
    pub name: String,
    pub script: Script,
    /// Default 1 s.
    pub interval: Duration,
    /// Default: the interval.
    pub timeout: Duration,
    /// -253..=253; 0 (default): failure means FAULT.
    pub weight: i32,
    /// Consecutive successes to count as up (default 1).
    pub rise: u32,
    /// Consecutive failures to count as down (default 1).
    pub fall: u32,
}

/// `vrrp_sync_group`: instances that change state together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpSyncGroup {
    pub name: String,
    /// Indices into [`Snapshot::vrrp`](crate::Snapshot::vrrp) (at least two,
    /// no instance in two groups; every tracker of a member has weight 0).
    pub members: Vec<usize>,
    pub notify: VrrpNotify,
}
