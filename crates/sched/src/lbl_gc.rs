//! The cache garbage collection lblc and lblcr share
//! (`ip_vs_lblc_check_expire()`/`ip_vs_lblcr_check_expire()` and their
//! `full_check`s).
//!
//! IPVS runs it from a 60 s timer: every 30th tick drops entries idle for
//! the expiration time (24 h, sysctl `lblc_expiration`); other ticks do
//! nothing unless the cache holds more than 16384 entries (1024 buckets ×
//! 16), in which case entries idle ≥ 6 minutes are dropped until
//! `min((n − 16384) · 4/3, 8192)` are gone. While the cache is over its
//! size the tick counter does not advance, so full checks wait.
//!
//! Differences, none visible to clients: IPVS walks its hash buckets from a
//! rover and checks the goal after each bucket; xvs visits entries in hash
//! map order and stops exactly at the goal. And a worker inserts no new
//! entry once its cache holds [`HARD_CAP`] entries, answering with the
//! freshly scheduled real server uncached, which is what IPVS does when it
//! cannot allocate an entry; this bounds memory under a flood of distinct
//! destination addresses between collections.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// Timer period (CHECK_EXPIRE_INTERVAL, 60 s).
pub(crate) const CHECK_INTERVAL_SECS: u32 = 60;
/// Idle time after which a partial collection may drop an entry (ENTRY_TIMEOUT).
pub(crate) const ENTRY_TIMEOUT_SECS: u32 = 6 * 60;
/// Every this many ticks, a full collection (COUNT_FOR_FULL_EXPIRATION).
const FULL_EVERY: u32 = 30;
/// `lblc_expiration`/`lblcr_expiration` default (REFERENCE §4.6): 24 h.
pub(crate) const EXPIRATION_SECS: u32 = 24 * 60 * 60;
/// Cache size above which partial collections run (`tbl->max_size`).
pub(crate) const MAX_SIZE: usize = 1024 * 16;
/// Entries per worker cache beyond which nothing new is cached.
pub(crate) const HARD_CAP: usize = MAX_SIZE * 16;

/// When the next collection runs and the full-check counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GcTimer {
    /// `None` until the first housekeeping call arms the timer.
    next: Option<u32>,
    counter: u32,
}

impl Default for GcTimer {
    fn default() -> Self {
        // ip_vs_lblc_init_svc(): counter = 1.
        GcTimer {
            next: None,
            counter: 1,
        }
    }
}

/// Something whose last use time the collector reads.
pub(crate) trait LastUse {
    fn last_use(&self) -> u32;
}

impl GcTimer {
    /// Runs the collection if the timer is due; cheap otherwise.
    pub(crate) fn run<K: Eq + Hash, E: LastUse, S: BuildHasher>(
        &mut self,
        cache: &mut HashMap<K, E, S>,
        now: u32,
    ) {
        match self.next {
            None => {
                self.next = Some(now.saturating_add(CHECK_INTERVAL_SECS));
                return;
            }
            Some(due) if now < due => return,
            Some(_) => self.next = Some(now.saturating_add(CHECK_INTERVAL_SECS)),
        }
        let idle = |e: &E| now.saturating_sub(e.last_use());
        if self.counter.is_multiple_of(FULL_EVERY) {
            cache.retain(|_, e| idle(e) < EXPIRATION_SECS);
            self.counter = 1;
            return;
        }
        if cache.len() <= MAX_SIZE {
            self.counter += 1;
            return;
        }
        let mut goal = ((cache.len() - MAX_SIZE) * 4 / 3).min(MAX_SIZE / 2);
        cache.retain(|_, e| {
            if goal == 0 || idle(e) < ENTRY_TIMEOUT_SECS {
                return true;
            }
            goal -= 1;
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct E(u32);
    impl LastUse for E {
        fn last_use(&self) -> u32 {
            self.0
        }
    }

    fn cache(n: usize, last_use: u32) -> HashMap<usize, E> {
        (0..n).map(|i| (i, E(last_use))).collect()
    }

    #[test]
    fn first_call_arms_and_early_calls_do_nothing() {
        let mut t = GcTimer::default();
        let mut c = cache(1, 0);
        t.run(&mut c, 100_000);
        assert_eq!(t.next, Some(100_060));
        t.run(&mut c, 100_059);
        assert_eq!((t.counter, c.len()), (1, 1));
    }

    #[test]
    fn full_check_on_the_30th_tick_drops_only_expired_entries() {
        let mut t = GcTimer::default();
        let mut c = cache(3, 0);
        c.insert(10, E(60_000));
        t.run(&mut c, 0); // arm
        let mut now = 0;
        for tick in 1..30 {
            now += 60;
            t.run(&mut c, now);
            assert_eq!(t.counter, tick + 1);
        }
        now = 90_000; // the 30th tick, late
        t.run(&mut c, now);
        assert_eq!(t.counter, 1);
        // Idle 90000 s ≥ 86400 gone; idle 30000 s kept.
        assert_eq!(c.len(), 1);
        assert!(c.contains_key(&10));
    }

    #[test]
    fn oversized_cache_trims_idle_entries_up_to_the_goal_and_holds_the_counter() {
        let mut t = GcTimer::default();
        let mut c = cache(MAX_SIZE + 300, 0);
        // 100 fresh entries must survive.
        for i in 0..100 {
            c.insert(i, E(1_000));
        }
        t.run(&mut c, 0);
        t.run(&mut c, 1_000);
        // goal = 300 · 4/3 = 400 of the idle-≥-360 s entries.
        assert_eq!(c.len(), MAX_SIZE + 300 - 400);
        assert_eq!((0..100).filter(|i| c.contains_key(i)).count(), 100);
        assert_eq!(t.counter, 1, "counter held while over size");
    }

    #[test]
    fn trim_goal_is_capped_at_half_the_size() {
        let mut t = GcTimer::default();
        let mut c = cache(MAX_SIZE * 2, 0);
        t.run(&mut c, 0);
        t.run(&mut c, 60);
        // Nothing idle for 6 minutes yet.
        assert_eq!(c.len(), MAX_SIZE * 2);
        t.run(&mut c, 400);
        assert_eq!(c.len(), MAX_SIZE * 2 - MAX_SIZE / 2);
    }
}
