//! xvs-vrrp: the VRRP half of keepalived as a sans-IO state machine.
//!
//! A [`Router`] runs every `vrrp:` instance of a director (RFC 3768
//! VRRPv2, RFC 5798 / RFC 9568 VRRPv3, IPv4 and IPv6) with keepalived's
//! behaviour where the RFCs leave room (REFERENCE §8): start-up, preempt /
//! nopreempt / preempt_delay, Master_Down_Interval with skew and
//! `down_timer_adverts`, interval adoption (v3), priority 0 on shutdown,
//! PASS authentication (v2), unicast peers, tracked interfaces and
//! scripts with weights and rise/fall, sync groups, notify scripts, and
//! gratuitous ARP / unsolicited NA bursts (garp_master_*).
//!
//! It does no I/O and reads no clock: the driver (the control thread)
//! feeds it received frames ([`Router::handle_frame`]), link changes,
//! script results and the time ([`Router::handle_timeout`]), asks when to
//! wake next ([`Router::poll_timeout`]) and carries out the
//! [`Action`]s it yields ([`Router::poll_action`]): send this advert,
//! announce these addresses, run this script, this instance changed state.
//! Tests drive it with a virtual clock.
//!
//! Layer: control plane, sans-IO (depends on config and the wire codec).
//! Modules: `router` (the API), `fsm` (the RFC 5798 §6.4 state table),
//! `check` (receive checks), `timers`, `track` (scripts, interfaces,
//! effective priority), `sync_group`, `garp`, `notify`, `status`.

mod check;
mod fsm;
mod garp;
mod instance;
mod notify;
mod router;
mod status;
mod sync_group;
mod timers;
mod track;

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use xvs_config::Script;
use xvs_wire::vrrp::{Advert, ChecksumKind};
use xvs_wire::MacAddr;

pub use router::Router;

/// What the driver knows about an instance's interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceEnv {
    /// The adverts' source address and the tie-break address of RFC 5798
    /// §6.4.3: `source_address` if configured, else the interface's first
    /// address of the family (IPv6: its link-local address).
    pub primary: IpAddr,
    /// The interface's own MAC.
    pub mac: MacAddr,
    /// Link state at start-up (tracked interfaces are reported through
    /// [`Router::handle_link`]; this is the instance's own interface).
    pub up: bool,
}

/// RFC 5798 §6.4 states, plus keepalived's FAULT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
}

impl State {
    pub const fn name(self) -> &'static str {
        match self {
            State::Init => "init",
            State::Backup => "backup",
            State::Master => "master",
            State::Fault => "fault",
        }
    }
}

/// Why an instance changed state (logged, shown by `xvs status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Start-up: priority 255 owners become master at once, the rest backup.
    Startup,
    /// No advert from a master for Master_Down_Interval.
    MasterDown,
    /// The master sent priority 0 (it stopped); the skew timer ran out.
    MasterResigned { from: IpAddr },
    /// A backup with preemption saw a lower-priority master (after
    /// preempt_delay) and took over.
    Preempt { from: IpAddr, priority: u8 },
    /// A master saw a higher priority (or equal priority and a higher
    /// primary address) and yielded.
    HigherPriority { from: IpAddr, priority: u8 },
    /// A tracked interface or script with weight 0 failed, or the
    /// instance's own interface went down.
    Fault { what: String },
    /// Every fault cleared.
    Recovered,
    /// A sync-group member moved the group.
    SyncGroup { member: String },
    /// The director is stopping.
    Shutdown,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `advert` on `interface` from `src_mac`/`src` to `dst` (the
    /// multicast group, or one unicast peer per action), TTL 255.
    Send {
        instance: usize,
        interface: String,
        src_mac: MacAddr,
        src: IpAddr,
        dst: IpAddr,
        advert: Advert,
        checksum: ChecksumKind,
    },
    /// Gratuitous ARP (IPv4) / unsolicited NA (IPv6, router flag) for
    /// each of `addresses` from `mac`, once each (a burst of N yields N
    /// actions).
    Announce {
        instance: usize,
        interface: String,
        mac: MacAddr,
        addresses: Vec<IpAddr>,
    },
    /// `instance` went from `from` to `to`. The driver updates which
    /// addresses it serves ([`Router::standby_addresses`]).
    Transition {
        instance: usize,
        from: State,
        to: State,
        reason: Reason,
    },
    /// While master, `instance` heard another master (`other`, advertising
    /// `other_priority`; ours is `ours`): two masters for one virtual
    /// router. The RFC's rule resolves it (the lower yields at once, the
    /// higher sends an advert at once); the driver logs it.
    SplitBrain {
        instance: usize,
        other: IpAddr,
        other_priority: u8,
        ours: u8,
    },
    /// Run a notify script: the configured command with keepalived's
    /// arguments appended where keepalived appends them (`notify`:
    /// `INSTANCE|GROUP name STATE priority`).
    Notify { script: Script },
    /// Run track script `script` (index into the configured scripts); its
    /// result comes back through [`Router::handle_script`].
    RunScript { script: usize, timeout: Duration },
}

/// Why a received advert was not used: one counter each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reject {
    /// TTL / hop limit not 255 (multicast).
    Ttl,
    /// Bad version, type or length for the address count (wire checks).
    Malformed,
    /// Checksum does not verify under the instance's convention.
    Checksum,
    /// No instance with this VRID, family and interface. No instance owns
    /// such an advert, so it is counted by [`Router::unmatched`] (the
    /// instances' counter stays 0).
    UnknownVrid,
    /// Another VRRP version than the instance's.
    VersionMismatch,
    /// v2: auth type or password differs.
    Auth,
    /// v2: advert interval differs (keepalived drops; v3 only logs).
    Interval,
    /// The address list differs in count or content. Counted only: the
    /// advert is still used, as keepalived does (`addr_list_err`); RFC
    /// 5798 §7.1 makes the check a MAY.
    AddressList,
    /// Unicast: the source is not a configured peer; or the advert came
    /// multicast to a unicast instance, or unicast to a multicast one.
    NotPeer,
    /// Our own advert looped back (the source is our primary address).
    Own,
}

impl Reject {
    pub const ALL: [Reject; 10] = [
        Reject::Ttl,
        Reject::Malformed,
        Reject::Checksum,
        Reject::UnknownVrid,
        Reject::VersionMismatch,
        Reject::Auth,
        Reject::Interval,
        Reject::AddressList,
        Reject::NotPeer,
        Reject::Own,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Reject::Ttl => "ttl",
            Reject::Malformed => "malformed",
            Reject::Checksum => "checksum",
            Reject::UnknownVrid => "unknown_vrid",
            Reject::VersionMismatch => "version_mismatch",
            Reject::Auth => "auth",
            Reject::Interval => "interval",
            Reject::AddressList => "address_list",
            Reject::NotPeer => "not_peer",
            Reject::Own => "own",
        }
    }
}

/// Per-instance counters (monotonic).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Adverts that passed every check (an address-list mismatch is
    /// counted in `rejected` as well, but still used, as keepalived does).
    pub adverts_received: u64,
    /// Adverts sent, once per advert however many unicast peers it goes
    /// to (keepalived `advert_sent`).
    pub adverts_sent: u64,
    pub priority_zero_received: u64,
    pub priority_zero_sent: u64,
    pub became_master: u64,
    pub released_master: u64,
    /// Adverts from another master while master (split brain seen).
    pub split_brain: u64,
    /// Rejected adverts by [`Reject::name`], in [`Reject::ALL`] order.
    pub rejected: Vec<(String, u64)>,
}

/// The last state change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastTransition {
    /// How long ago.
    pub ago_ms: u64,
    pub from: State,
    pub to: State,
    pub reason: Reason,
}

/// One instance as `xvs status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub state: State,
    pub base_priority: u8,
    pub effective_priority: u8,
    /// Our address if master, else the current master's (None: unknown).
    pub master: Option<IpAddr>,
    pub master_priority: Option<u8>,
    /// The interval in use (v3 backups adopt the master's).
    pub advert_interval_ms: u64,
    pub virtual_addresses: Vec<IpAddr>,
    pub sync_group: Option<String>,
    /// Failing trackers, by name.
    pub faults: Vec<String>,
    pub last_transition: Option<LastTransition>,
    pub counters: Counters,
}
