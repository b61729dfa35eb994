//! Cross-core connection counters of one real server ([`DestLoad`]) and the
//! upper/lower connection thresholds that drive its overload flag.
//!
//! IPVS keeps `activeconns`, `inactconns` and `persistconns` in each
//! `struct ip_vs_dest` and every CPU updates them with atomic increments.
//! xvs runs one worker per core and a real server's connections are created
//! and expire on several workers (in NAT and FullNAT the reply of a flow can
//! even be seen by a worker other than the one that created it). Sharing one
//! atomic per counter would bounce its cache line between cores on every new
//! connection, so each worker gets its own cache-line-padded slot of signed
//! counters and readers sum the slots.
//!
//! * **Signed per-worker slots.** An entry bound on worker A may be
//!   activated, deactivated or unbound by worker B, so one slot can go
//!   negative. Only the sum over all slots means anything; it is clamped at
//!   0 when read.
//! * **One writer per slot.** Worker `w` is the only thread that writes
//!   slot `w` (every update names the calling worker; the control thread
//!   only reads), so an update is a relaxed load and store, not a locked
//!   read-modify-write: a new connection costs no `lock xadd`, and the
//!   cache line stays local. The sum stays exact because no two threads
//!   ever write one slot.
//! * **Staleness is fine.** A worker summing the slots may miss a few
//!   updates that other cores made in the last nanoseconds. IPVS reads the
//!   same counters without any lock while other CPUs change them
//!   (`ip_vs_dest_conn_overhead()` is two plain `atomic_read`s), so its
//!   schedulers already work on a view that is a few connections stale; the
//!   least-connection family is a heuristic that converges either way.
//! * **Overload flag.** `F_OVERLOAD` is an `AtomicBool` shared by all
//!   workers. It is set after a bind and cleared after an unbind exactly as
//!   `ip_vs_bind_dest()`/`ip_vs_unbind_dest()` in ip_vs_conn.c do
//!   (REFERENCE §2), and cleared by an edit as `__ip_vs_update_dest()` does
//!   (REFERENCE §0). It is written only on a transition, so a steady
//!   overloaded or idle real server does not dirty the shared line.
//!
//! A `DestLoad` lives in an `Arc` held by the snapshot's real server, and the
//! data plane carries the same `Arc` into the next snapshot when the real
//! server survives a reload, so counts and the overload flag persist as they
//! do for an edited IPVS destination.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use xvs_config::RealServer;

/// A real server's upper and lower connection thresholds (ipvsadm -x/-y,
/// keepalived `uthreshold`/`lthreshold`); 0 means unset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Thresholds {
    pub upper: u32,
    pub lower: u32,
}

impl Thresholds {
    /// The thresholds configured on a real server.
    pub fn of(rs: &RealServer) -> Thresholds {
        Thresholds {
            upper: rs.upper_threshold,
            lower: rs.lower_threshold,
        }
    }
}

/// One worker's counters, alone on its cache line(s). 128 bytes because
/// x86 prefetches cache lines in adjacent pairs, so two 64-byte-aligned slots
/// side by side would still interfere.
#[derive(Debug, Default)]
#[repr(align(128))]
struct WorkerSlot {
    active: AtomicI64,
    inactive: AtomicI64,
    persist: AtomicI64,
}

/// Per real server, shared by all workers and kept across config reloads
/// (`Arc`): connection counts and the overload flag.
#[derive(Debug)]
pub struct DestLoad {
    slots: Box<[WorkerSlot]>,
    overloaded: AtomicBool,
}

impl DestLoad {
    /// Counters for `workers` workers (at least one slot is always made).
    pub fn new(workers: usize) -> DestLoad {
        let slots = (0..workers.max(1)).map(|_| WorkerSlot::default()).collect();
        DestLoad {
            slots,
            overloaded: AtomicBool::new(false),
        }
    }

    fn slot(&self, worker: usize) -> &WorkerSlot {
        // `slots` is never empty (new() makes at least one), so the modulo
        // is in range. A worker index beyond the slots (never made: the
        // registry sizes them to the configured workers) would share a
        // slot and could lose updates, but never panic. The modulo is kept
        // off the usual path: it is a division.
        self.slots
            .get(worker)
            .unwrap_or_else(|| &self.slots[worker % self.slots.len()])
    }

    /// Add `n` to a cell of the caller's own slot (its only writer).
    #[inline]
    fn add(cell: &AtomicI64, n: i64) {
        cell.store(cell.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    fn sum(&self, field: impl Fn(&WorkerSlot) -> &AtomicI64) -> i64 {
        self.slots
            .iter()
            .map(|s| field(s).load(Ordering::Relaxed))
            .sum()
    }

    fn clamp(sum: i64) -> u32 {
        u32::try_from(sum.max(0)).unwrap_or(u32::MAX)
    }

    /// Entries in ESTABLISHED (TCP), summed over workers, clamped at 0.
    pub fn activeconns(&self) -> u32 {
        Self::clamp(self.sum(|s| &s.active))
    }

    /// Entries not in ESTABLISHED (all UDP entries), summed over workers.
    pub fn inactconns(&self) -> u32 {
        Self::clamp(self.sum(|s| &s.inactive))
    }

    /// Persistence templates pointing at this real server.
    pub fn persistconns(&self) -> u32 {
        Self::clamp(self.sum(|s| &s.persist))
    }

    /// `activeconns × 256 + inactconns`, as `ip_vs_dest_conn_overhead()`
    /// (the `<<5` comment in ip_vs_lc.c is stale; the code shifts by 8).
    /// One pass over the slots: the least-connection schedulers call this
    /// for every real server of every new flow.
    #[inline]
    pub fn overhead(&self) -> u64 {
        let (mut active, mut inactive) = (0i64, 0i64);
        for s in self.slots.iter() {
            active += s.active.load(Ordering::Relaxed);
            inactive += s.inactive.load(Ordering::Relaxed);
        }
        u64::from(Self::clamp(active)) * 256 + u64::from(Self::clamp(inactive))
    }

    /// `activeconns + inactconns` (templates excluded), the count the
    /// thresholds compare against (`ip_vs_dest_totalconns()`).
    pub fn totalconns(&self) -> u64 {
        u64::try_from((self.sum(|s| &s.active) + self.sum(|s| &s.inactive)).max(0)).unwrap_or(0)
    }

    /// `F_OVERLOAD`: schedulers skip (or treat as unavailable) this real server.
    #[inline]
    pub fn is_overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Relaxed)
    }

    fn set_overloaded(&self, value: bool) {
        // Write only on a transition so the shared line stays clean.
        if self.overloaded.load(Ordering::Relaxed) != value {
            self.overloaded.store(value, Ordering::Relaxed);
        }
    }

    /// As ip_vs_bind_dest(): set `F_OVERLOAD` when an upper threshold is set
    /// and total connections reached it.
    fn apply_upper(&self, th: Thresholds) {
        if th.upper != 0 && !self.is_overloaded() && self.totalconns() >= u64::from(th.upper) {
            self.set_overloaded(true);
        }
    }

    /// A new connection entry was bound (entries start inactive, REFERENCE
    /// §4.3); applies the upper threshold (REFERENCE §2).
    pub fn bind_conn(&self, worker: usize, th: Thresholds) {
        Self::add(&self.slot(worker).inactive, 1);
        self.apply_upper(th);
    }

    /// An entry expired or was removed; applies the lower-threshold rule of
    /// ip_vs_unbind_dest(): with a lower threshold, clear below it; else with
    /// an upper threshold, clear below ¾ of it; with neither, always clear.
    pub fn unbind_conn(&self, worker: usize, was_active: bool, th: Thresholds) {
        let slot = self.slot(worker);
        if was_active {
            Self::add(&slot.active, -1);
        } else {
            Self::add(&slot.inactive, -1);
        }
        if !self.is_overloaded() {
            return;
        }
        let total = self.totalconns();
        let clear = if th.lower != 0 {
            total < u64::from(th.lower)
        } else if th.upper != 0 {
            total * 4 < u64::from(th.upper) * 3
        } else {
            true
        };
        if clear {
            self.set_overloaded(false);
        }
    }

    /// Inactive → active: the TCP entry reached ESTABLISHED.
    pub fn activate(&self, worker: usize) {
        let slot = self.slot(worker);
        Self::add(&slot.inactive, -1);
        Self::add(&slot.active, 1);
    }

    /// Active → inactive: the TCP entry left ESTABLISHED.
    pub fn deactivate(&self, worker: usize) {
        let slot = self.slot(worker);
        Self::add(&slot.active, -1);
        Self::add(&slot.inactive, 1);
    }

    /// A persistence template was bound (counts in `persistconns` only).
    pub fn bind_template(&self, worker: usize) {
        Self::add(&self.slot(worker).persist, 1);
    }

    /// A persistence template expired.
    pub fn unbind_template(&self, worker: usize) {
        Self::add(&self.slot(worker).persist, -1);
    }

    /// On a real-server edit (REFERENCE §0, `__ip_vs_update_dest`): clear
    /// `F_OVERLOAD` when the new upper threshold is 0 or higher than before.
    pub fn on_edit(&self, old: Thresholds, new: Thresholds) {
        if new.upper == 0 || new.upper > old.upper {
            self.set_overloaded(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th(upper: u32, lower: u32) -> Thresholds {
        Thresholds { upper, lower }
    }

    #[test]
    fn counters_sum_over_workers_and_move_between_states() {
        let load = DestLoad::new(3);
        load.bind_conn(0, Thresholds::default());
        load.bind_conn(1, Thresholds::default());
        load.bind_conn(2, Thresholds::default());
        assert_eq!((load.activeconns(), load.inactconns()), (0, 3));
        load.activate(1);
        load.activate(2);
        assert_eq!((load.activeconns(), load.inactconns()), (2, 1));
        assert_eq!(load.overhead(), 2 * 256 + 1);
        load.deactivate(2);
        assert_eq!((load.activeconns(), load.inactconns()), (1, 2));
        load.bind_template(0);
        assert_eq!(load.persistconns(), 1);
        assert_eq!(load.totalconns(), 3, "templates do not count in the total");
        load.unbind_template(0);
        assert_eq!(load.persistconns(), 0);
    }

    #[test]
    fn a_worker_may_go_negative_but_only_the_sum_counts() {
        let load = DestLoad::new(2);
        // Bound on worker 0, established and expired as seen by worker 1.
        load.bind_conn(0, Thresholds::default());
        load.activate(1);
        assert_eq!((load.activeconns(), load.inactconns()), (1, 0));
        load.unbind_conn(1, true, Thresholds::default());
        assert_eq!((load.activeconns(), load.inactconns()), (0, 0));
        assert_eq!(load.slots[1].inactive.load(Ordering::Relaxed), -1);
        assert_eq!(load.slots[0].inactive.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn negative_sums_clamp_at_zero() {
        let load = DestLoad::new(1);
        load.unbind_conn(0, false, Thresholds::default());
        load.unbind_conn(0, true, Thresholds::default());
        assert_eq!(
            (load.activeconns(), load.inactconns(), load.overhead()),
            (0, 0, 0)
        );
        assert_eq!(load.totalconns(), 0);
    }

    #[test]
    fn out_of_range_worker_wraps_instead_of_panicking() {
        let load = DestLoad::new(2);
        load.bind_conn(5, Thresholds::default());
        assert_eq!(load.inactconns(), 1);
        let none = DestLoad::new(0);
        none.bind_conn(3, Thresholds::default());
        assert_eq!(none.inactconns(), 1);
    }

    #[test]
    fn upper_threshold_sets_overload_at_the_threshold() {
        let load = DestLoad::new(2);
        let t = th(3, 0);
        load.bind_conn(0, t);
        load.bind_conn(1, t);
        assert!(!load.is_overloaded(), "2 < 3");
        load.bind_conn(0, t);
        assert!(load.is_overloaded(), "total 3 >= upper 3");
    }

    #[test]
    fn no_upper_threshold_never_overloads() {
        let load = DestLoad::new(1);
        for _ in 0..1000 {
            load.bind_conn(0, Thresholds::default());
        }
        assert!(!load.is_overloaded());
    }

    #[test]
    fn default_lower_threshold_is_three_quarters_of_upper() {
        let load = DestLoad::new(1);
        let t = th(8, 0);
        for _ in 0..8 {
            load.bind_conn(0, t);
        }
        assert!(load.is_overloaded());
        // 7·4 = 28 ≥ 24, 6·4 = 24 ≥ 24: still overloaded.
        load.unbind_conn(0, false, t);
        load.unbind_conn(0, false, t);
        assert!(load.is_overloaded(), "total 6 is not below 3/4 of 8");
        load.unbind_conn(0, false, t);
        assert!(!load.is_overloaded(), "total 5: 20 < 24 clears");
    }

    #[test]
    fn explicit_lower_threshold_clears_strictly_below_it() {
        let load = DestLoad::new(1);
        let t = th(10, 4);
        for _ in 0..10 {
            load.bind_conn(0, t);
        }
        assert!(load.is_overloaded());
        for _ in 0..6 {
            load.unbind_conn(0, false, t);
        }
        assert_eq!(load.totalconns(), 4);
        assert!(load.is_overloaded(), "4 is not below lower 4");
        load.unbind_conn(0, false, t);
        assert!(!load.is_overloaded(), "3 < 4 clears");
    }

    #[test]
    fn activation_moves_do_not_change_overload() {
        let load = DestLoad::new(1);
        let t = th(2, 0);
        load.bind_conn(0, t);
        load.bind_conn(0, t);
        assert!(load.is_overloaded());
        load.activate(0);
        load.deactivate(0);
        assert!(load.is_overloaded());
    }

    #[test]
    fn unbind_without_thresholds_always_clears() {
        let load = DestLoad::new(1);
        let t = th(1, 0);
        load.bind_conn(0, t);
        load.bind_conn(0, t);
        assert!(load.is_overloaded());
        // The thresholds were removed by an edit that (say) kept the flag:
        // the next unbind clears it whatever the count.
        load.unbind_conn(0, false, Thresholds::default());
        assert!(!load.is_overloaded());
    }

    #[test]
    fn edit_clears_overload_only_for_a_higher_or_removed_upper_threshold() {
        let load = DestLoad::new(1);
        let t = th(2, 0);
        load.bind_conn(0, t);
        load.bind_conn(0, t);
        assert!(load.is_overloaded());
        load.on_edit(t, th(2, 1));
        assert!(load.is_overloaded(), "same upper keeps the flag");
        load.on_edit(t, th(1, 0));
        assert!(load.is_overloaded(), "lower upper keeps the flag");
        load.on_edit(t, th(3, 0));
        assert!(!load.is_overloaded(), "higher upper clears");
        load.bind_conn(0, th(3, 0));
        assert!(load.is_overloaded(), "3 >= 3 sets again");
        load.on_edit(th(3, 0), th(0, 0));
        assert!(!load.is_overloaded(), "removed upper clears");
    }

    #[test]
    fn concurrent_workers_keep_an_exact_sum() {
        let load = std::sync::Arc::new(DestLoad::new(2));
        let handles: Vec<_> = (0..2)
            .map(|w| {
                let load = load.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        load.bind_conn(w, Thresholds::default());
                        load.activate(w);
                    }
                    for _ in 0..4_000 {
                        load.unbind_conn(w, true, Thresholds::default());
                    }
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().is_ok());
        }
        assert_eq!(load.activeconns(), 12_000);
        assert_eq!(load.inactconns(), 0);
    }
}
