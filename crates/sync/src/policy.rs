//! Which connections a master sends, and when it sends them again.
//!
//! Layer: sync (sans-IO). Follows `ip_vs_sync_conn_needed` (ip_vs_sync.c,
//! REFERENCE §9) with one difference in where the decision is taken: IPVS
//! decides on every forwarded packet from the entry's packet counter;
//! xvs workers do not count packets for sync, so the control thread offers
//! entries (on events and in periodic sweeps of the table) and
//! [`Tracker`] remembers what it last sent of each.
//!
//! - Never one-packet entries; templates always.
//! - TCP only in ESTABLISHED, FIN_WAIT, CLOSE, CLOSE_WAIT and TIME_WAIT
//!   (the kernel's list): reaching ESTABLISHED is the threshold of a TCP
//!   flow.
//! - UDP once a sweep has seen the entry before: a datagram flow has to
//!   outlive one sweep, so one-off exchanges (DNS queries) are not sent.
//! - Sent again at once when the state changed since it was last sent.
//! - With a refresh period R > 0, sent again once the expiry moved by at
//!   least `min(R, max(timeout / 2, 10 s))` since it was last sent (the
//!   kernel's `sync_refresh_period` rule), so a backup's copy does not
//!   expire under a long-lived flow.

use ahash::AHashMap;
use xvs_conn::{ConnEntry, ConnFlags, ConnState};

use crate::synced::UDP;

/// The shortest refresh step the kernel uses (`max(timeout / 2, 10 s)`).
const MIN_REFRESH_STEP_SECS: u32 = 10;

/// Whether `e` is ever sent (the state test of `ip_vs_sync_conn_needed`).
pub fn syncable(e: &ConnEntry) -> bool {
    if e.flags.contains(ConnFlags::ONE_PACKET) {
        return false;
    }
    if e.is_template() || e.protocol == UDP {
        return true;
    }
    matches!(
        e.state,
        ConnState::Established
            | ConnState::FinWait
            | ConnState::Close
            | ConnState::CloseWait
            | ConnState::TimeWait
    )
}

/// Why [`Tracker::due_reason`] wants an entry sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DueReason {
    /// Never sent before.
    First,
    /// Its state changed since it was last sent.
    StateChange,
    /// Its expiry moved by the refresh step since it was last sent.
    Refresh,
}

/// What the tracker remembers of one entry.
#[derive(Clone, Copy, Debug)]
struct Memory {
    /// State byte and `expires_at` when last sent.
    sent: Option<(u8, u32)>,
    /// Offered during the current sweep.
    seen: bool,
    /// Seen by a sweep that has ended.
    swept: bool,
}

/// The memory of what was sent, by [`xvs_conn::ConnId::raw`]. Bounded by
/// sweeps: [`Tracker::end_sweep`] forgets every id the sweep did not
/// offer, so entries that left the table are dropped one sweep later. A
/// reused slot has a new generation, hence a new raw id.
#[derive(Debug, Default)]
pub struct Tracker {
    entries: AHashMap<u64, Memory>,
    in_sweep: bool,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Whether `e` should be sent now (see the module documentation);
    /// a `true` answer is recorded as sent.
    pub fn due(&mut self, e: &ConnEntry, refresh_secs: u32) -> bool {
        self.due_reason(e, refresh_secs).is_some()
    }

    /// [`Tracker::due`], saying why.
    pub fn due_reason(&mut self, e: &ConnEntry, refresh_secs: u32) -> Option<DueReason> {
        let in_sweep = self.in_sweep;
        if !syncable(e) {
            // Keep what was sent of an entry passing through LAST_ACK or
            // SYN_RECV, but do not start remembering unsendable ones.
            if let Some(m) = self.entries.get_mut(&e.id.raw()) {
                m.seen |= in_sweep;
            }
            return None;
        }
        let m = self.entries.entry(e.id.raw()).or_insert(Memory {
            sent: None,
            seen: false,
            swept: false,
        });
        m.seen |= in_sweep;
        if e.protocol == UDP && !e.is_template() && !m.swept {
            return None;
        }
        let state = e.state as u8;
        let reason = match m.sent {
            None => DueReason::First,
            Some((s, _)) if s != state => DueReason::StateChange,
            Some((_, sent_expiry)) => {
                let step = refresh_secs.min((e.timeout_secs / 2).max(MIN_REFRESH_STEP_SECS));
                let moved = e.expires_at.saturating_sub(sent_expiry);
                if refresh_secs == 0 || moved < step {
                    return None;
                }
                DueReason::Refresh
            }
        };
        m.sent = Some((state, e.expires_at));
        Some(reason)
    }

    /// Records `e` as sent without sending it: the peers already have
    /// this state and expiry (a copy one of them sent), so a later state
    /// change or refresh is measured from here (all_to_all, see
    /// `crate::mode`). Counts as offered to the current sweep.
    pub fn note(&mut self, e: &ConnEntry) {
        if !syncable(e) {
            return;
        }
        let in_sweep = self.in_sweep;
        let m = self.entries.entry(e.id.raw()).or_insert(Memory {
            sent: None,
            seen: false,
            swept: false,
        });
        m.seen |= in_sweep;
        m.sent = Some((e.state as u8, e.expires_at));
    }

    /// Starts a sweep: every entry of the table should be offered before
    /// [`Tracker::end_sweep`].
    pub fn begin_sweep(&mut self) {
        for m in self.entries.values_mut() {
            m.seen = false;
        }
        self.in_sweep = true;
    }

    /// Ends a sweep: ids it did not offer are forgotten (also those
    /// offered outside the sweep), the others count as seen by a sweep.
    pub fn end_sweep(&mut self) {
        self.entries.retain(|_, m| {
            let keep = m.seen;
            m.swept |= keep;
            m.seen = false;
            keep
        });
        self.in_sweep = false;
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
