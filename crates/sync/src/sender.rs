//! The master's half: entries in, sync datagrams out.
//!
//! Layer: sync (sans-IO, quinn-style). The driver offers table entries
//! ([`Sender::offer`], filtered by [`crate::policy`]) or pushes them
//! unconditionally (bulk transfer, [`Sender::push`]), then takes
//! datagrams with [`Sender::poll_transmit`] until it returns `None` and
//! sleeps until [`Sender::poll_timeout`].
//!
//! Entries are packed into v1 datagrams of at most
//! [`max_message_len`]`(mtu)` bytes and 255 entries, counting each entry's
//! real size (IPv6 and the xvs options make entries bigger than the
//! kernel's 24-byte v0 unit). A full datagram is ready at once; a partial
//! one after `max_delay` (IPVS wakes its sender every 20 ms). Finished
//! datagrams wait in a queue of at most [`QUEUE_MAX`]; beyond that they
//! are dropped and counted, as the kernel caps its queue at
//! `sync_qlen_max`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use xvs_conn::ConnEntry;
use xvs_wire::sync::{
    build, build_control, max_message_len, Control, SyncEntry, SyncOption, ENTRY_V4_LEN,
    ENTRY_V6_LEN, HEADER_LEN, MAX_ENTRIES,
};

use crate::policy::{DueReason, Tracker};
use crate::synced::Synced;

/// Finished datagrams held for the driver at most.
pub const QUEUE_MAX: usize = 4096;

/// The largest entry [`Synced::to_wire`] produces: IPv6 with the local
/// address (2 + 18) and worker (2 + 2) options. A datagram always has
/// room for one, whatever the MTU.
const LARGEST_ENTRY: usize = ENTRY_V6_LEN + 20 + 4;

/// How a [`Sender`] packs and paces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderConfig {
    /// IPVS SyncID written in every datagram.
    pub sync_id: u8,
    /// MTU of the sync interface; datagrams keep to
    /// [`max_message_len`]`(mtu)` bytes.
    pub mtu: u16,
    /// Longest a partial datagram waits for more entries.
    pub max_delay: Duration,
    /// Refresh period R for the [`crate::policy`] refresh rule (0 = never).
    pub refresh_secs: u32,
}

impl Default for SenderConfig {
    /// SyncID 0, MTU 1500, 20 ms (the kernel sender's wake-up period),
    /// refresh every 30 s (the `sync.refresh` default).
    fn default() -> SenderConfig {
        SenderConfig {
            sync_id: 0,
            mtu: 1500,
            max_delay: Duration::from_millis(20),
            refresh_secs: 30,
        }
    }
}

impl SenderConfig {
    /// From the `sync:` section, for a link of this MTU. A refresh period
    /// is rounded up to whole seconds (the table's clock).
    pub fn from_config(c: &xvs_config::ConnSync, mtu: u16) -> SenderConfig {
        let refresh = c.refresh.as_secs() + u64::from(c.refresh.subsec_nanos() > 0);
        SenderConfig {
            sync_id: c.sync_id,
            mtu,
            max_delay: c.max_delay,
            refresh_secs: u32::try_from(refresh).unwrap_or(u32::MAX),
        }
    }
}

/// What a [`Sender`] has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Entries in datagrams handed to the driver.
    pub entries_sent: u64,
    /// Entry datagrams handed to the driver.
    pub datagrams: u64,
    /// Bytes of every datagram handed to the driver (control included).
    pub bytes: u64,
    /// Entries queued again by the refresh rule.
    pub refreshes: u64,
    /// Control datagrams handed to the driver.
    pub control_sent: u64,
    /// Datagrams dropped because [`QUEUE_MAX`] were waiting.
    pub queue_dropped: u64,
    /// Entries in those datagrams.
    pub entries_dropped: u64,
}

#[derive(Debug)]
struct Finished {
    bytes: Vec<u8>,
    /// 0 for a control datagram.
    entries: usize,
}

/// Packs entries into sync datagrams. See the module documentation.
#[derive(Debug)]
pub struct Sender {
    cfg: SenderConfig,
    /// Byte limit of one datagram.
    limit: usize,
    tracker: Tracker,
    pending: Vec<SyncEntry>,
    /// Size of the pending datagram, header included.
    pending_len: usize,
    /// When the first pending entry was queued.
    pending_since: Option<Instant>,
    queue: VecDeque<Finished>,
    stats: SenderStats,
}

impl Sender {
    pub fn new(cfg: SenderConfig) -> Sender {
        Sender {
            cfg,
            limit: max_message_len(cfg.mtu).max(HEADER_LEN + LARGEST_ENTRY),
            tracker: Tracker::new(),
            pending: Vec::new(),
            pending_len: HEADER_LEN,
            pending_since: None,
            queue: VecDeque::new(),
            stats: SenderStats::default(),
        }
    }

    /// Queues `e` if the send policy says it is due (and records it as
    /// sent); returns whether it was queued.
    pub fn offer(&mut self, e: &ConnEntry, now: Instant) -> bool {
        self.offer_with(e, now, |_| {})
    }

    /// [`Sender::offer`], with `fill` completing the entry's sync view
    /// from what lives outside the table (the SYN proxy's translation)
    /// when it is due.
    pub fn offer_with(
        &mut self,
        e: &ConnEntry,
        now: Instant,
        fill: impl FnOnce(&mut Synced),
    ) -> bool {
        match self.tracker.due_reason(e, self.cfg.refresh_secs) {
            None => false,
            Some(reason) => {
                if reason == DueReason::Refresh {
                    self.stats.refreshes += 1;
                }
                let mut s = Synced::from_entry(e);
                fill(&mut s);
                self.push(&s, now);
                true
            }
        }
    }

    /// Records `e` as sent without queueing it ([`Tracker::note`]).
    pub fn note(&mut self, e: &ConnEntry) {
        self.tracker.note(e);
    }

    /// Queues `s` whatever the policy says (bulk transfer).
    pub fn push(&mut self, s: &Synced, now: Instant) {
        let entry = s.to_wire();
        let len = wire_len(&entry);
        if !self.pending.is_empty()
            && (self.pending_len + len > self.limit || self.pending.len() == MAX_ENTRIES)
        {
            self.flush();
        }
        if self.pending.is_empty() {
            self.pending_since = Some(now);
        }
        self.pending.push(entry);
        self.pending_len += len;
        // Full: no further entry could join it.
        if self.pending.len() == MAX_ENTRIES || self.limit - self.pending_len < ENTRY_V4_LEN {
            self.flush();
        }
    }

    /// Starts a sweep of the table (see [`Tracker::begin_sweep`]).
    pub fn begin_sweep(&mut self) {
        self.tracker.begin_sweep();
    }

    /// Ends a sweep (see [`Tracker::end_sweep`]).
    pub fn end_sweep(&mut self) {
        self.tracker.end_sweep();
    }

    /// Ends a bulk transfer: the partial datagram is finished, then a
    /// BulkDone control datagram queued after every pending datagram.
    pub fn bulk_done(&mut self, _now: Instant) {
        self.flush();
        self.queue_control(Control::BulkDone);
    }

    /// Queues a BulkRequest control datagram (after the finished
    /// datagrams already queued; a partial datagram stays pending).
    pub fn bulk_request(&mut self, _now: Instant) {
        self.queue_control(Control::BulkRequest);
    }

    /// Finishes the partial datagram now, if there is one.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut bytes = Vec::with_capacity(self.pending_len);
        let entries = build(&mut bytes, self.cfg.sync_id, &self.pending);
        // wire_len is build's layout; the limit keeps under the 255
        // entries and 64 KiB build can write.
        debug_assert_eq!(
            (bytes.len(), entries),
            (self.pending_len, self.pending.len())
        );
        self.pending.clear();
        self.pending_len = HEADER_LEN;
        self.pending_since = None;
        self.enqueue(Finished { bytes, entries });
    }

    /// The next datagram to send: finished ones at once, the partial one
    /// once it has waited `max_delay`. Call until `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.queue.is_empty() && self.poll_timeout().is_some_and(|due| now >= due) {
            self.flush();
        }
        let f = self.queue.pop_front()?;
        self.stats.bytes += f.bytes.len() as u64;
        if f.entries == 0 {
            self.stats.control_sent += 1;
        } else {
            self.stats.datagrams += 1;
            self.stats.entries_sent += f.entries as u64;
        }
        Some(f.bytes)
    }

    /// When the partial datagram becomes due; `None` without one.
    /// Finished datagrams are ready now: drain [`Sender::poll_transmit`]
    /// after every offer or push.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending_since.map(|t| t + self.cfg.max_delay)
    }

    /// Finished datagrams waiting for the driver.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    fn queue_control(&mut self, c: Control) {
        let mut bytes = Vec::with_capacity(8);
        build_control(&mut bytes, self.cfg.sync_id, c);
        self.enqueue(Finished { bytes, entries: 0 });
    }

    fn enqueue(&mut self, f: Finished) {
        if self.queue.len() >= QUEUE_MAX {
            self.stats.queue_dropped += 1;
            self.stats.entries_dropped += f.entries as u64;
            return;
        }
        self.queue.push_back(f);
    }
}

/// Bytes `e` takes in a datagram: the fixed part of its family, each
/// option's ⟨type, len, data⟩, padding to 4 (`build`'s layout, for the
/// well-formed options [`Synced::to_wire`] writes).
fn wire_len(e: &SyncEntry) -> usize {
    let fixed = if e.ipv6 { ENTRY_V6_LEN } else { ENTRY_V4_LEN };
    let options: usize = e.options.iter().map(|o| 2 + option_data_len(o)).sum();
    (fixed + options).next_multiple_of(4)
}

fn option_data_len(o: &SyncOption) -> usize {
    match o {
        SyncOption::Seq(d) => d.len(),
        SyncOption::PeData(d) | SyncOption::PeName(d) => d.len(),
        SyncOption::Other { data, .. } => data.len(),
    }
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
