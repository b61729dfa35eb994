//! Connection sync, worker side (REFERENCE §9): the bounded lock-free
//! queues between each worker and the control thread, and the counters
//! of what went through them.
//!
//! - **Events** (worker → control): the [`ConnId`] of every entry the
//!   master should send to its backups. A worker pushes one when a TCP
//!   entry changes into a state IPVS syncs (ESTABLISHED, FIN_WAIT, CLOSE,
//!   CLOSE_WAIT, TIME_WAIT: ip_vs_sync_conn_needed()) and when it creates
//!   a persistence template. The control thread reads the entry itself
//!   with [`xvs_conn::ConnTable::get`] when it builds the message, so the
//!   queue carries 8 bytes per event and the worker copies nothing. UDP
//!   entries are never pushed: the control thread sweeps the table for
//!   them, as their only state is "alive".
//! - **Installs** (control → worker): connections a backup received, to be
//!   installed in the worker's own shard without scheduling
//!   ([`crate::Worker::drain_installs`], in `sync_install.rs`).
//!
//! Neither side ever waits: a full event queue is counted
//! ([`WorkerSync::events_dropped`]) and the event lost (the next state
//! change or the control thread's periodic sweep sends the entry again);
//! the control thread counts its own overflow of `installs`. Every
//! counter here has one writer, the worker, as [`crate::WorkerCounters`].
//!
//! Layer: dataplane. No threads or clocks: the runtime owns the threads
//! and hands the same [`SyncLink`] to every worker and the control thread.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::queue::ArrayQueue;
use xvs_conn::{ConnId, ConnState, NewConn};

use crate::counters::bump;

/// A connection for a backup worker to install (control → worker).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Install {
    /// The connection as the master sent it: `dest_id` already resolved by
    /// the control thread against the plan of `plan_version`; `flags`
    /// include [`xvs_conn::ConnFlags::SYNC`] (the worker adds it anyway);
    /// for FullNAT, `laddr`/`lport` are the master's local address and
    /// port, kept as they are so the real server's replies still match.
    pub conn: NewConn,
    /// The plan version `conn.dest_id` was resolved against.
    pub plan_version: u64,
    /// A SYN-proxied connection's translation (then `conn.flags` has
    /// [`xvs_conn::ConnFlags::SYNPROXY`]); the worker records it beside
    /// the entry, or refuses the install without a SYN proxy of its own.
    pub synproxy: Option<xvs_wire::sync::SynproxyDelta>,
}

/// Why an [`Install`] was not installed; each has a counter in
/// [`WorkerSync`] under [`InstallFailure::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstallFailure {
    /// The real server is not (or no longer) in the worker's plan, or has
    /// left the configuration (not available).
    NoDest,
    /// The install was resolved against another plan than the worker's:
    /// the real server's address or forwarding method differ, or it is
    /// missing from a plan older than the install's.
    StalePlan,
    /// Another entry holds one of its keys (NAT: the same client port to
    /// two VIPs on one real server; FullNAT: the local address and port in
    /// use by a local flow).
    Conflict,
    /// The worker's shard has no free slot for the family.
    TableFull,
    /// Client, virtual, local and real-server addresses mix IPv4 and IPv6.
    Family,
    /// A SYN-proxied connection, but this director runs no SYN proxy (no
    /// service here has `synproxy: true`) or has no record for the slot:
    /// installed untranslated, every segment would be wrong.
    NoSynproxy,
}

impl InstallFailure {
    pub const COUNT: usize = 6;
    /// Every reason, in counter order.
    pub const ALL: [InstallFailure; Self::COUNT] = [
        InstallFailure::NoDest,
        InstallFailure::StalePlan,
        InstallFailure::Conflict,
        InstallFailure::TableFull,
        InstallFailure::Family,
        InstallFailure::NoSynproxy,
    ];

    /// The stable name metrics and `xvs status` use.
    pub const fn name(self) -> &'static str {
        match self {
            InstallFailure::NoDest => "no_dest",
            InstallFailure::StalePlan => "stale_plan",
            InstallFailure::Conflict => "conflict",
            InstallFailure::TableFull => "table_full",
            InstallFailure::Family => "family",
            InstallFailure::NoSynproxy => "no_synproxy",
        }
    }
}

/// Whether a TCP entry that changes into `state` is sent to the backups
/// at once (ip_vs_sync_conn_needed(): TCP syncs only in ES, FW, CL, CW and
/// TW; a change into any of them is a reason to send).
#[inline]
pub const fn syncs_tcp_state(state: ConnState) -> bool {
    matches!(
        state,
        ConnState::Established
            | ConnState::FinWait
            | ConnState::Close
            | ConnState::CloseWait
            | ConnState::TimeWait
    )
}

/// One worker's two queues and their counters. Aligned so that two
/// workers' counters never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub struct WorkerSync {
    /// Worker → control: entries to send (their ids; the control thread
    /// reads the entry with [`xvs_conn::ConnTable::get`]).
    pub events: ArrayQueue<ConnId>,
    /// Control → worker: synced connections to install in this worker's
    /// shard.
    pub installs: ArrayQueue<Install>,
    /// Events lost to a full `events` queue.
    pub events_dropped: AtomicU64,
    /// Installs that created an entry (including replacements).
    pub installed: AtomicU64,
    /// Installs that updated an existing entry to the same real server
    /// ([`xvs_conn::ConnTable::resync`]).
    pub updated: AtomicU64,
    /// Installs that replaced an entry bound to another real server (also
    /// counted in `installed`).
    pub replaced: AtomicU64,
    install_failed: [AtomicU64; InstallFailure::COUNT],
}

impl WorkerSync {
    fn new(capacity: usize) -> WorkerSync {
        // ArrayQueue refuses a capacity of 0.
        let capacity = capacity.max(1);
        WorkerSync {
            events: ArrayQueue::new(capacity),
            installs: ArrayQueue::new(capacity),
            events_dropped: AtomicU64::new(0),
            installed: AtomicU64::new(0),
            updated: AtomicU64::new(0),
            replaced: AtomicU64::new(0),
            install_failed: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Worker only: queue `id` for sending; a full queue is counted, never
    /// waited on. Out of line: it runs on a state change, not per packet.
    #[inline(never)]
    pub(crate) fn push_event(&self, id: ConnId) {
        if self.events.push(id).is_err() {
            bump(&self.events_dropped, 1);
        }
    }

    /// Worker only: count an install that failed for `reason`.
    pub(crate) fn count_failure(&self, reason: InstallFailure) {
        bump(&self.install_failed[reason as usize], 1);
    }

    /// Installs that failed for `reason`.
    pub fn install_failed(&self, reason: InstallFailure) -> u64 {
        self.install_failed[reason as usize].load(Ordering::Relaxed)
    }

    /// Failed installs by reason name ([`InstallFailure::name`]), every
    /// reason listed (zeros included) in a fixed order.
    pub fn install_failures(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        InstallFailure::ALL
            .iter()
            .map(|&r| (r.name(), self.install_failed(r)))
    }
}

/// Bounded lock-free queues between each worker and the control thread:
/// one [`WorkerSync`] per worker, built once by the runtime and shared
/// (`Arc`) with every worker ([`crate::Worker::set_sync`]) and the control
/// thread. Memory is allocated here, never after.
#[derive(Debug)]
pub struct SyncLink {
    workers: Box<[WorkerSync]>,
}

impl SyncLink {
    /// Queues for `workers` workers, each queue holding up to `capacity`
    /// items (at least 1). An install is about 120 bytes, an event 8 (plus
    /// a word of queue bookkeeping each).
    pub fn new(workers: usize, capacity: usize) -> SyncLink {
        SyncLink {
            workers: (0..workers).map(|_| WorkerSync::new(capacity)).collect(),
        }
    }

    /// Worker `i`'s queues. Panics if `i >= self.workers()` (a driver bug:
    /// the link is built for the configured workers).
    pub fn worker(&self, i: usize) -> &WorkerSync {
        &self.workers[i]
    }

    /// Worker `i`'s queues, if the link has that worker.
    pub fn get(&self, i: usize) -> Option<&WorkerSync> {
        self.workers.get(i)
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Every worker's queues, in worker order.
    pub fn iter(&self) -> impl Iterator<Item = &WorkerSync> {
        self.workers.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use xvs_conn::ConnFlags;

    #[test]
    fn a_full_event_queue_counts_instead_of_waiting() {
        let link = SyncLink::new(2, 2);
        assert_eq!(link.workers(), 2);
        let w = link.worker(1);
        for raw in 1..=5u64 {
            w.push_event(ConnId::from_raw(raw));
        }
        assert_eq!(w.events.len(), 2);
        assert_eq!(w.events_dropped.load(Ordering::Relaxed), 3);
        assert_eq!(w.events.pop(), Some(ConnId::from_raw(1)));
        assert_eq!(w.events.pop(), Some(ConnId::from_raw(2)));
        // The other worker's queue is its own.
        assert!(link.worker(0).events.is_empty());
        assert_eq!(link.worker(0).events_dropped.load(Ordering::Relaxed), 0);
        assert!(link.get(2).is_none());
    }

    #[test]
    fn failures_are_listed_by_stable_name_zeros_included() {
        let link = SyncLink::new(1, 0);
        let w = link.worker(0);
        w.count_failure(InstallFailure::StalePlan);
        w.count_failure(InstallFailure::StalePlan);
        w.count_failure(InstallFailure::TableFull);
        let all: Vec<_> = w.install_failures().collect();
        assert_eq!(
            all,
            vec![
                ("no_dest", 0),
                ("stale_plan", 2),
                ("conflict", 0),
                ("table_full", 1),
                ("family", 0),
                ("no_synproxy", 0),
            ]
        );
        assert_eq!(w.install_failed(InstallFailure::TableFull), 1);
        // Capacity 0 is raised to 1, not a panic.
        assert_eq!(w.installs.capacity(), 1);
    }

    #[test]
    fn installs_queue_in_order() {
        let link = SyncLink::new(1, 4);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let conn = NewConn {
            protocol: 6,
            caddr: ip,
            cport: 1,
            vaddr: ip,
            vport: 80,
            laddr: ip,
            lport: 1,
            daddr: ip,
            dport: 80,
            flags: ConnFlags::SYNC,
            dest_id: 3,
            controller: None,
            state: ConnState::Established,
            timeout_secs: 900,
        };
        for v in 0..3 {
            let i = Install {
                conn,
                plan_version: v,
                synproxy: None,
            };
            assert!(link.worker(0).installs.push(i).is_ok());
        }
        let got: Vec<u64> = std::iter::from_fn(|| link.worker(0).installs.pop())
            .map(|i| i.plan_version)
            .collect();
        assert_eq!(got, vec![0, 1, 2]);
    }

    #[test]
    fn only_the_states_ipvs_syncs_are_pushed() {
        let synced: Vec<_> = ConnState::ALL
            .into_iter()
            .filter(|&s| syncs_tcp_state(s))
            .collect();
        assert_eq!(
            synced,
            vec![
                ConnState::Established,
                ConnState::FinWait,
                ConnState::TimeWait,
                ConnState::Close,
                ConnState::CloseWait,
            ]
        );
    }
}
