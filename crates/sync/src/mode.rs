//! Which table entries a director offers to its peers and which of theirs
//! it installs, per `sync.mode`.
//!
//! Layer: sync (sans-IO). The runtime's driver asks [`offered`] for every
//! entry a worker event names, every entry a sweep visits and every entry
//! a bulk answer would carry, and [`installs`] for every received one.
//!
//! - **master_backup** (IPVS): the director that serves a VIP (VRRP master
//!   of it, or every VIP without VRRP) sends all its entries on that VIP,
//!   and installs a peer's entry only on a VIP it does not serve, so a
//!   master's own connections win.
//! - **all_to_all** (several active directors behind ECMP, each serving
//!   every VIP): each director sends what its own traffic produced — the
//!   entries it created (sweeps refresh them, bulk answers carry them)
//!   and any entry a local packet moved to a new state (worker events),
//!   even one it first received, because the flow now comes through here,
//!   and refreshes of a received entry whose timer its own packets keep
//!   re-arming ([`Moved`]), so the others' copies of a connection ECMP
//!   moved here do not expire while it lasts.
//!   An entry it only received (the table's `SYNC` flag, and no local
//!   state change) is never sent again: with master_backup's rule and no
//!   VRRP a sweep sends it back to its creator and on to every other
//!   peer, so each entry crosses the network once from every one of the N
//!   directors (and each copy re-arms the others' timers). Every peer's
//!   entry is installed
//!   whatever VIP it is on. For one flow the last word wins: an update
//!   for the same real server refreshes state and timer, one naming
//!   another real server replaces the local entry (its sender saw the
//!   flow more recently).

use std::net::IpAddr;

use ahash::AHashMap;
use xvs_config::SyncMode;
use xvs_conn::{ConnEntry, ConnFlags};

use crate::Synced;

/// Why the driver looks at an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A worker reported it: this director's traffic created it or moved
    /// it to a new state.
    Event,
    /// A periodic sweep of the table (refreshes, datagram flows, events a
    /// full queue lost).
    Sweep,
    /// A peer asked for the whole table.
    Bulk,
}

/// Whether `e` may be sent: `serves` says whether this director serves
/// its VIP (VRRP master of it, or no VRRP); `moved_here` whether
/// [`Moved::moved_here`] found its timer re-armed by local packets.
pub fn offered(
    mode: SyncMode,
    serves: bool,
    e: &ConnEntry,
    origin: Origin,
    moved_here: bool,
) -> bool {
    match mode {
        SyncMode::MasterBackup => serves,
        SyncMode::AllToAll => {
            origin == Origin::Event || !e.flags.contains(ConnFlags::SYNC) || moved_here
        }
    }
}

/// Seconds a received entry's expiry may exceed what its install set
/// before it counts as re-armed here: the workers' clock and the control
/// thread's may be a second apart.
const INSTALL_CLOCK_SLACK_SECS: u32 = 2;

/// A flow as both directors name it (ids are per table).
type FlowKey = (u8, IpAddr, u16, IpAddr, u16, bool);

/// What each install of a peer's entry set its expiry to, by flow, so a
/// sweep can tell a received entry that only peers refresh from one this
/// director's own packets re-arm: a connection ECMP moved here. Without
/// this, a moved connection reaches the others only when its state
/// changes, and their copies expire while it idles along here. Pruned by
/// sweeps: flows two sweeps in a row did not see are forgotten (one may
/// run before a worker took the install from its queue).
#[derive(Debug, Default)]
pub struct Moved {
    /// Expiry set by the last install, and sweeps since the flow was
    /// last installed or seen.
    installed: AHashMap<FlowKey, (u32, u8)>,
}

impl Moved {
    pub fn new() -> Moved {
        Moved::default()
    }

    /// A peer's entry was handed to a worker at `now_secs`.
    pub fn on_install(&mut self, s: &Synced, now_secs: u32) {
        let key = (
            s.protocol,
            s.caddr,
            s.cport,
            s.vaddr,
            s.vport,
            s.is_template(),
        );
        let expiry = now_secs.saturating_add(s.timeout_secs);
        self.installed.insert(key, (expiry, 0));
    }

    /// Whether received entry `e` (with the `SYNC` flag) expires later
    /// than its last install made it: local packets re-armed it. Marks
    /// the flow as seen by the current sweep.
    pub fn moved_here(&mut self, e: &ConnEntry) -> bool {
        if !e.flags.contains(ConnFlags::SYNC) {
            return false;
        }
        let key = (
            e.protocol,
            e.caddr,
            e.cport,
            e.vaddr,
            e.vport,
            e.is_template(),
        );
        match self.installed.get_mut(&key) {
            Some((expiry, unseen)) => {
                *unseen = 0;
                e.expires_at > expiry.saturating_add(INSTALL_CLOCK_SLACK_SECS)
            }
            None => false,
        }
    }

    /// Starts a sweep: every entry of the table should be passed to
    /// [`Moved::moved_here`] before [`Moved::end_sweep`].
    pub fn begin_sweep(&mut self) {
        for (_, unseen) in self.installed.values_mut() {
            *unseen = unseen.saturating_add(1);
        }
    }

    /// Ends a sweep: flows neither this sweep nor the one before saw
    /// (and not installed meanwhile) have left the table.
    pub fn end_sweep(&mut self) {
        self.installed.retain(|_, (_, unseen)| *unseen < 2);
    }

    /// Flows remembered.
    pub fn len(&self) -> usize {
        self.installed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.installed.is_empty()
    }
}

/// Whether a peer's entry on a VIP is installed here: `served_here`
/// says whether this director is VRRP master of that VIP (false without
/// VRRP).
pub fn installs(mode: SyncMode, served_here: bool) -> bool {
    match mode {
        SyncMode::MasterBackup => !served_here,
        SyncMode::AllToAll => true,
    }
}

#[cfg(test)]
#[path = "mode_tests.rs"]
mod tests;
