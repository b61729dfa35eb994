//! Counters: per worker (rx, tx, drops by reason) and per virtual service /
//! real server (connections, packets and bytes in and out, as
//! `ipvsadm -Ln --stats`).
//!
//! Every counter has exactly one writer: the worker that owns the cell. A
//! cell is a relaxed `AtomicU64` updated with load+store (no locked
//! read-modify-write on the per-packet path) so that other threads — the
//! control thread, `xvs list`, the metrics exporter — can read it at any
//! time. Service and real-server statistics keep one cache-line-padded cell
//! per worker and sum them on read, so two workers forwarding to the same
//! real server never write the same cache line.

use std::sync::atomic::{AtomicU64, Ordering};

use xvs_conn::Eviction;

use crate::verdict::DropReason;

/// Add `n` to a counter only this thread writes.
#[inline]
pub(crate) fn bump(cell: &AtomicU64, n: u64) {
    cell.store(
        cell.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

/// One worker's own counters.
#[derive(Debug)]
pub struct WorkerCounters {
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub forwarded: AtomicU64,
    pub to_control: AtomicU64,
    pub passed: AtomicU64,
    pub need_neighbor: AtomicU64,
    /// Frames the fast path handled (a share of rx, not a verdict).
    pub fast_path: AtomicU64,
    /// SYN proxy: cookie SYN-ACKs sent.
    pub synproxy_syn_acks: AtomicU64,
    /// SYN proxy: client segments whose data was dropped because the real
    /// server had not answered yet (the client retransmits it).
    pub synproxy_early_data: AtomicU64,
    /// SYN proxy: window updates that opened a client's window once its
    /// real server was connected (extra frames, not verdicts).
    pub synproxy_window_updates: AtomicU64,
    drops: [AtomicU64; DropReason::COUNT],
    /// Malformed frames by wire reason (index = `WireError::index()`).
    malformed: [AtomicU64; xvs_wire::WireError::COUNT],
    /// Entries freed to admit a new connection into a full shard, by
    /// reason (index = position in [`EVICTION_REASONS`]).
    evictions: [AtomicU64; EVICTION_REASONS.len()],
    /// 1 while the worker's shard is under pressure (short SYN_RECV
    /// timeouts), else 0.
    pressure: AtomicU64,
}

/// Why an entry gave way to a new one, in counter order, with the names
/// metrics use.
pub const EVICTION_REASONS: [(Eviction, &str); 4] = [
    (Eviction::Embryonic, "embryonic"),
    (Eviction::Closing, "closing"),
    (Eviction::Expired, "expired"),
    (Eviction::Template, "template"),
];

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters {
            rx_packets: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            to_control: AtomicU64::new(0),
            passed: AtomicU64::new(0),
            need_neighbor: AtomicU64::new(0),
            fast_path: AtomicU64::new(0),
            synproxy_syn_acks: AtomicU64::new(0),
            synproxy_early_data: AtomicU64::new(0),
            synproxy_window_updates: AtomicU64::new(0),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            malformed: std::array::from_fn(|_| AtomicU64::new(0)),
            evictions: std::array::from_fn(|_| AtomicU64::new(0)),
            pressure: AtomicU64::new(0),
        }
    }
}

impl WorkerCounters {
    #[inline]
    pub(crate) fn count_rx(&self, bytes: usize) {
        bump(&self.rx_packets, 1);
        bump(&self.rx_bytes, bytes as u64);
    }

    #[inline]
    pub(crate) fn count_drop(&self, reason: DropReason) {
        bump(&self.drops[reason as usize], 1);
    }

    #[inline]
    pub(crate) fn count_malformed(&self, err: &xvs_wire::WireError) {
        bump(&self.drops[DropReason::Malformed as usize], 1);
        bump(&self.malformed[err.index()], 1);
    }

    pub(crate) fn count_eviction(&self, why: Eviction) {
        if let Some(i) = EVICTION_REASONS.iter().position(|(r, _)| *r == why) {
            bump(&self.evictions[i], 1);
        }
    }

    pub(crate) fn set_pressure(&self, on: bool) {
        self.pressure.store(u64::from(on), Ordering::Relaxed);
    }

    /// Entries evicted to admit new connections, by reason name.
    pub fn evictions(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        EVICTION_REASONS
            .iter()
            .zip(self.evictions.iter())
            .map(|((_, name), c)| (*name, c.load(Ordering::Relaxed)))
    }

    /// Whether the worker's shard is under pressure now.
    pub fn under_pressure(&self) -> bool {
        self.pressure.load(Ordering::Relaxed) != 0
    }

    #[inline]
    pub(crate) fn count(cell: &AtomicU64) {
        bump(cell, 1);
    }

    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize].load(Ordering::Relaxed)
    }

    /// Malformed-frame drops for one wire reason name (`WireError::reason`).
    pub fn malformed_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        xvs_wire::WireError::REASONS
            .iter()
            .zip(self.malformed.iter())
            .map(|(name, c)| (*name, c.load(Ordering::Relaxed)))
    }
}

/// A totals view as `ipvsadm --stats` prints it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsTotals {
    pub conns: u64,
    pub in_packets: u64,
    pub out_packets: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct StatsCell {
    conns: AtomicU64,
    in_packets: AtomicU64,
    out_packets: AtomicU64,
    in_bytes: AtomicU64,
    out_bytes: AtomicU64,
}

/// Per-service or per-real-server statistics, one padded cell per worker.
#[derive(Debug)]
pub struct Stats {
    cells: Box<[StatsCell]>,
}

impl Stats {
    pub fn new(workers: usize) -> Stats {
        Stats {
            cells: (0..workers.max(1)).map(|_| StatsCell::default()).collect(),
        }
    }

    #[inline]
    fn cell(&self, worker: usize) -> &StatsCell {
        // A worker index beyond the configured count would be a driver bug;
        // fold it rather than panic on the packet path. The fold is off the
        // usual path: a division on every packet costs more than the count.
        self.cells
            .get(worker)
            .unwrap_or_else(|| &self.cells[worker % self.cells.len()])
    }

    #[inline]
    pub(crate) fn count_conn(&self, worker: usize) {
        bump(&self.cell(worker).conns, 1);
    }

    /// A packet client→real server (IP length in bytes).
    #[inline]
    pub(crate) fn count_in(&self, worker: usize, bytes: usize) {
        let c = self.cell(worker);
        bump(&c.in_packets, 1);
        bump(&c.in_bytes, bytes as u64);
    }

    /// A reply real server→client seen by the director (NAT, FullNAT).
    #[inline]
    pub(crate) fn count_out(&self, worker: usize, bytes: usize) {
        let c = self.cell(worker);
        bump(&c.out_packets, 1);
        bump(&c.out_bytes, bytes as u64);
    }

    pub fn totals(&self) -> StatsTotals {
        let mut t = StatsTotals::default();
        for c in self.cells.iter() {
            t.conns += c.conns.load(Ordering::Relaxed);
            t.in_packets += c.in_packets.load(Ordering::Relaxed);
            t.out_packets += c.out_packets.load(Ordering::Relaxed);
            t.in_bytes += c.in_bytes.load(Ordering::Relaxed);
            t.out_bytes += c.out_bytes.load(Ordering::Relaxed);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_sum_over_workers() {
        let s = Stats::new(2);
        s.count_conn(0);
        s.count_in(0, 100);
        s.count_in(1, 50);
        s.count_out(1, 70);
        assert_eq!(
            s.totals(),
            StatsTotals {
                conns: 1,
                in_packets: 2,
                out_packets: 1,
                in_bytes: 150,
                out_bytes: 70
            }
        );
    }

    #[test]
    fn a_worker_index_beyond_the_cells_folds_instead_of_panicking() {
        let s = Stats::new(2);
        s.count_in(5, 10);
        s.count_out(2, 20);
        let t = s.totals();
        assert_eq!((t.in_packets, t.in_bytes), (1, 10));
        assert_eq!((t.out_packets, t.out_bytes), (1, 20));
        let none = Stats::new(0);
        none.count_conn(7);
        assert_eq!(none.totals().conns, 1);
    }

    #[test]
    fn drop_counters_are_per_reason() {
        let w = WorkerCounters::default();
        w.count_drop(DropReason::NoRealServer);
        w.count_drop(DropReason::NoRealServer);
        w.count_drop(DropReason::TcpNotSyn);
        assert_eq!(w.drops(DropReason::NoRealServer), 2);
        assert_eq!(w.drops(DropReason::TcpNotSyn), 1);
        assert_eq!(w.drops(DropReason::ConnTableFull), 0);
    }
}
