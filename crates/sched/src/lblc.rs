//! lblc: locality-based least connection (ip_vs_lblc.c), for cache
//! clusters where the packet's destination address names the content.
//!
//! A per-worker cache maps destination address → real server. On a hit the
//! entry's last use is refreshed and its real server is used if it is still
//! linked, has weight > 0 and is not *lblc-overloaded* (more active
//! connections than its weight while some real server is below half its
//! weight); IPVS does not test `F_OVERLOAD` on this path. Otherwise wlc over
//! the whole service (skipping `F_OVERLOAD`) picks, and the cache entry is
//! created or replaced. Old entries are collected by `lbl_gc`.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::common::{conn_overhead, weighted_least};
use crate::lbl_gc::{GcTimer, LastUse, HARD_CAP};
use crate::{SchedDest, SchedKey};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    dest: usize,
    lastuse: u32,
}

impl LastUse for Entry {
    fn last_use(&self) -> u32 {
        self.lastuse
    }
}

/// One worker's lblc cache.
#[derive(Clone, Debug, Default)]
pub(crate) struct LblcCache {
    map: HashMap<IpAddr, Entry, ahash::RandomState>,
    gc: GcTimer,
}

/// ip_vs_lblc.c/ip_vs_lblcr.c `is_overloaded()`: more active connections
/// than weight, and some real server of the service has
/// `2 · activeconns < weight` to take the load instead.
pub(crate) fn lblc_overloaded(d: &SchedDest, dests: &[SchedDest]) -> bool {
    u64::from(d.load.activeconns()) > u64::from(d.weight)
        && dests
            .iter()
            .filter(|m| m.available)
            .any(|m| u64::from(m.load.activeconns()) * 2 < u64::from(m.weight))
}

impl LblcCache {
    pub(crate) fn pick(&mut self, dests: &[SchedDest], key: &SchedKey, now: u32) -> Option<usize> {
        if let Some(en) = self.map.get_mut(&key.dst) {
            en.lastuse = now;
            let i = en.dest;
            if dests
                .get(i)
                .is_some_and(|d| d.available && d.weight > 0 && !lblc_overloaded(d, dests))
            {
                return Some(i);
            }
        }
        let i = weighted_least(dests, conn_overhead)?;
        // ip_vs_lblc_new(): replace the entry's real server or add one.
        let room = self.map.len() < HARD_CAP;
        match self.map.get_mut(&key.dst) {
            Some(en) => {
                *en = Entry {
                    dest: i,
                    lastuse: now,
                }
            }
            None if room => {
                self.map.insert(
                    key.dst,
                    Entry {
                        dest: i,
                        lastuse: now,
                    },
                );
            }
            None => {}
        }
        Some(i)
    }

    pub(crate) fn housekeeping(&mut self, now: u32) {
        self.gc.run(&mut self.map, now);
    }

    /// Re-points entries after a reload; entries whose real server is gone
    /// are dropped (the next hit reschedules, as IPVS does for a cached
    /// real server without `F_AVAILABLE`).
    pub(crate) fn remap(&mut self, new_index: impl Fn(usize) -> Option<usize>) {
        self.map.retain(|_, en| match new_index(en.dest) {
            Some(i) => {
                en.dest = i;
                true
            }
            None => false,
        });
    }

    #[cfg(test)]
    pub(crate) fn cached(&self, dst: IpAddr) -> Option<usize> {
        self.map.get(&dst).map(|e| e.dest)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    fn to(dst: &str) -> SchedKey {
        SchedKey {
            dst: dst.parse().unwrap(),
            ..key(1, 1000)
        }
    }

    #[test]
    fn miss_runs_wlc_and_caches_the_choice() {
        let ds = dests(&[1, 1]);
        set_conns(&ds[0], 1, 0);
        let mut c = LblcCache::default();
        let k = to("10.1.0.1");
        assert_eq!(c.pick(&ds, &k, 0), Some(1));
        assert_eq!(c.cached(k.dst), Some(1));
        // Now server 1 is busier, but the cache keeps the locality.
        set_conns(&ds[1], 5, 0);
        assert_eq!(c.pick(&ds, &k, 1), Some(1));
        // Another destination gets its own wlc choice.
        assert_eq!(c.pick(&ds, &to("10.1.0.2"), 1), Some(0));
    }

    #[test]
    fn cached_server_ignores_the_overload_flag() {
        let ds = dests(&[4, 4]);
        let mut c = LblcCache::default();
        let k = to("10.1.0.1");
        assert_eq!(c.pick(&ds, &k, 0), Some(0));
        overload(&ds[0]);
        assert_eq!(
            c.pick(&ds, &k, 0),
            Some(0),
            "F_OVERLOAD is not tested on a hit"
        );
        // But a new destination's wlc skips it.
        assert_eq!(c.pick(&ds, &to("10.1.0.9"), 0), Some(1));
    }

    #[test]
    fn lblc_overload_needs_an_underused_peer() {
        let ds = dests(&[2, 2]);
        let mut c = LblcCache::default();
        let k = to("10.1.0.1");
        assert_eq!(c.pick(&ds, &k, 0), Some(0));
        set_conns(&ds[0], 3, 0); // 3 active > weight 2
        set_conns(&ds[1], 1, 0); // 2·1 < 2 is false: no peer can help
        assert!(!lblc_overloaded(&ds[0], &ds));
        assert_eq!(c.pick(&ds, &k, 0), Some(0));
        let ds2 = dests(&[2, 4]);
        set_conns(&ds2[0], 3, 0);
        set_conns(&ds2[1], 1, 0); // 2·1 < 4: it can help
        let mut c = LblcCache::default();
        c.map.insert(
            k.dst,
            Entry {
                dest: 0,
                lastuse: 0,
            },
        );
        assert_eq!(c.pick(&ds2, &k, 0), Some(1), "rescheduled by wlc");
        assert_eq!(c.cached(k.dst), Some(1), "entry replaced");
    }

    #[test]
    fn weight_zero_or_removed_cached_server_is_rescheduled() {
        let mut ds = dests(&[1, 1]);
        let mut c = LblcCache::default();
        let k = to("10.1.0.1");
        assert_eq!(c.pick(&ds, &k, 0), Some(0));
        ds[0].weight = 0;
        assert_eq!(c.pick(&ds, &k, 0), Some(1));
        ds[0].weight = 1;
        ds[1].available = false;
        assert_eq!(c.pick(&ds, &k, 0), Some(0));
    }

    #[test]
    fn none_when_wlc_finds_nothing() {
        let ds = dests(&[0, 0]);
        let mut c = LblcCache::default();
        assert_eq!(c.pick(&ds, &to("10.1.0.1"), 0), None);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn idle_entries_expire_after_a_day_on_a_full_check() {
        let ds = dests(&[1]);
        let mut c = LblcCache::default();
        c.pick(&ds, &to("10.1.0.1"), 0);
        c.pick(&ds, &to("10.1.0.2"), 0);
        c.housekeeping(0);
        let mut now = 0;
        for _ in 0..29 {
            now += 60;
            c.housekeeping(now);
            // Keep one destination in use.
            c.pick(&ds, &to("10.1.0.2"), now);
        }
        assert_eq!(c.len(), 2);
        c.housekeeping(86_400);
        assert_eq!(c.len(), 1);
        assert_eq!(c.cached("10.1.0.2".parse().unwrap()), Some(0));
    }

    #[test]
    fn remap_follows_servers_and_drops_gone_ones() {
        let mut c = LblcCache::default();
        c.map.insert(
            "10.1.0.1".parse().unwrap(),
            Entry {
                dest: 0,
                lastuse: 0,
            },
        );
        c.map.insert(
            "10.1.0.2".parse().unwrap(),
            Entry {
                dest: 1,
                lastuse: 0,
            },
        );
        c.remap(|i| if i == 1 { Some(0) } else { None });
        assert_eq!(c.len(), 1);
        assert_eq!(c.cached("10.1.0.2".parse().unwrap()), Some(0));
    }
}
