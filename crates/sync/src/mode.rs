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
//!   even one it first received, because the flow now comes through here.
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

use xvs_config::SyncMode;
use xvs_conn::{ConnEntry, ConnFlags};

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
/// its VIP (VRRP master of it, or no VRRP).
pub fn offered(mode: SyncMode, serves: bool, e: &ConnEntry, origin: Origin) -> bool {
    match mode {
        SyncMode::MasterBackup => serves,
        SyncMode::AllToAll => origin == Origin::Event || !e.flags.contains(ConnFlags::SYNC),
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
