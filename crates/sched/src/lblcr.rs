//! lblcr: locality-based least connection with replication
//! (ip_vs_lblcr.c).
//!
//! Like lblc, but a destination address maps to a *set* of real servers
//! (newest member first, as `list_add_rcu` inserts at the head). On a hit:
//! `min` is the wlc choice within the set (skipping `F_OVERLOAD`, needing
//! weight > 0 and a linked server); if the set has more than one member and
//! was last changed more than `lblcr_expiration` (24 h) ago, its most loaded
//! member (max overhead/weight among weight > 0) is dropped, once per hit,
//! without touching the change time. `min` is used if present and not
//! lblc-overloaded; otherwise wlc over the service picks and joins the set.
//! A miss creates a one-member set from wlc.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::common::{conn_overhead, heavier, linked, weighted_least};
use crate::lbl_gc::{GcTimer, LastUse, EXPIRATION_SECS, HARD_CAP};
use crate::lblc::lblc_overloaded;
use crate::{SchedDest, SchedKey};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// Real servers, newest first.
    set: Vec<usize>,
    /// When a member was last added.
    lastmod: u32,
    lastuse: u32,
}

impl LastUse for Entry {
    fn last_use(&self) -> u32 {
        self.lastuse
    }
}

impl Entry {
    /// ip_vs_dest_set_insert(): at the head, once; `lastmod` on insert.
    fn insert(&mut self, dest: usize, now: u32) {
        if !self.set.contains(&dest) {
            self.set.insert(0, dest);
            self.lastmod = now;
        }
    }
}

/// One worker's lblcr cache.
#[derive(Clone, Debug, Default)]
pub(crate) struct LblcrCache {
    map: HashMap<IpAddr, Entry, ahash::RandomState>,
    gc: GcTimer,
}

/// ip_vs_dest_set_min(): wlc within the set.
fn set_min(set: &[usize], dests: &[SchedDest]) -> Option<usize> {
    let member = |&i: &usize| dests.get(i).map(|d| (i, d));
    let mut members = set.iter().filter_map(member);
    let (mut least, mut least_d) =
        members.find(|(_, d)| !d.load.is_overloaded() && d.weight > 0 && linked(d))?;
    let mut loh = conn_overhead(least_d);
    for (i, d) in members {
        if d.load.is_overloaded() {
            continue;
        }
        let doh = conn_overhead(d);
        if heavier(loh, least_d.weight, doh, d.weight) && linked(d) {
            (least, least_d, loh) = (i, d, doh);
        }
    }
    Some(least)
}

/// ip_vs_dest_set_max(): the most loaded member per weight, weight > 0
/// (neither the overload flag nor availability is looked at).
fn set_max(set: &[usize], dests: &[SchedDest]) -> Option<usize> {
    let member = |&i: &usize| dests.get(i).map(|d| (i, d));
    let mut members = set.iter().filter_map(member);
    let (mut most, mut most_d) = members.find(|(_, d)| d.weight > 0)?;
    let mut moh = conn_overhead(most_d);
    for (i, d) in members {
        let doh = conn_overhead(d);
        // moh/mw < doh/dw, with dw > 0.
        if heavier(doh, d.weight, moh, most_d.weight) && d.weight > 0 {
            (most, most_d, moh) = (i, d, doh);
        }
    }
    Some(most)
}

impl LblcrCache {
    pub(crate) fn pick(&mut self, dests: &[SchedDest], key: &SchedKey, now: u32) -> Option<usize> {
        if let Some(en) = self.map.get_mut(&key.dst) {
            en.lastuse = now;
            let min = set_min(&en.set, dests);
            // time_after(now, lastmod + expiration).
            if en.set.len() > 1 && now.saturating_sub(en.lastmod) > EXPIRATION_SECS {
                if let Some(m) = set_max(&en.set, dests) {
                    en.set.retain(|&x| x != m);
                }
            }
            if let Some(i) = min {
                // set_min() only returns indices it found in `dests`.
                if !lblc_overloaded(&dests[i], dests) {
                    return Some(i);
                }
            }
            let i = weighted_least(dests, conn_overhead)?;
            en.insert(i, now);
            return Some(i);
        }
        let i = weighted_least(dests, conn_overhead)?;
        if self.map.len() < HARD_CAP {
            self.map.insert(
                key.dst,
                Entry {
                    set: vec![i],
                    lastmod: now,
                    lastuse: now,
                },
            );
        }
        Some(i)
    }

    pub(crate) fn housekeeping(&mut self, now: u32) {
        self.gc.run(&mut self.map, now);
    }

    /// Re-points set members after a reload; members whose real server is
    /// gone leave their sets, and emptied entries are dropped.
    pub(crate) fn remap(&mut self, new_index: impl Fn(usize) -> Option<usize>) {
        self.map.retain(|_, en| {
            en.set = en.set.iter().filter_map(|&i| new_index(i)).collect();
            !en.set.is_empty()
        });
    }

    #[cfg(test)]
    fn set(&self, dst: &str) -> Option<Vec<usize>> {
        self.map
            .get(&dst.parse::<IpAddr>().ok()?)
            .map(|e| e.set.clone())
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
    fn miss_creates_a_one_member_set() {
        let ds = dests(&[1, 1]);
        let mut c = LblcrCache::default();
        assert_eq!(c.pick(&ds, &to("10.2.0.1"), 5), Some(0));
        assert_eq!(c.set("10.2.0.1"), Some(vec![0]));
    }

    #[test]
    fn overloaded_min_adds_a_replica_at_the_head() {
        let ds = dests(&[2, 2, 2]);
        let mut c = LblcrCache::default();
        let k = to("10.2.0.1");
        assert_eq!(c.pick(&ds, &k, 0), Some(0));
        set_conns(&ds[0], 3, 0); // lblc-overloaded: 3 > 2 and server 1 is idle
        assert_eq!(c.pick(&ds, &k, 10), Some(1));
        assert_eq!(c.set("10.2.0.1"), Some(vec![1, 0]));
        // The set's least loaded member now serves.
        assert_eq!(c.pick(&ds, &k, 20), Some(1));
        assert_eq!(c.map[&k.dst].lastmod, 10, "no insert, no lastmod change");
    }

    #[test]
    fn set_min_skips_overloaded_weight_zero_and_unlinked() {
        let mut ds = dests(&[1, 1, 1, 1]);
        overload(&ds[0]);
        ds[1].weight = 0;
        ds[2].available = false;
        set_conns(&ds[3], 1, 0);
        assert_eq!(set_min(&[0, 1, 2, 3], &ds), Some(3));
        assert_eq!(set_min(&[0, 1, 2], &ds), None);
    }

    #[test]
    fn set_max_finds_the_most_loaded_per_weight() {
        let ds = dests(&[1, 4, 0, 2]);
        set_conns(&ds[0], 1, 0); // 256/1
        set_conns(&ds[1], 2, 0); // 512/4
        set_conns(&ds[2], 9, 0); // weight 0: ignored
        set_conns(&ds[3], 2, 0); // 512/2 = 256: tie with the first, kept first
        assert_eq!(set_max(&[1, 2, 0, 3], &ds), Some(0));
        assert_eq!(set_max(&[2], &ds), None);
    }

    #[test]
    fn stale_set_sheds_its_most_loaded_member() {
        let ds = dests(&[1, 1]);
        let mut c = LblcrCache::default();
        let k = to("10.2.0.1");
        c.map.insert(
            k.dst,
            Entry {
                set: vec![0, 1],
                lastmod: 0,
                lastuse: 0,
            },
        );
        set_conns(&ds[1], 1, 0);
        // At exactly 24 h: not yet after.
        assert_eq!(c.pick(&ds, &k, EXPIRATION_SECS), Some(0));
        assert_eq!(c.set("10.2.0.1"), Some(vec![0, 1]));
        assert_eq!(c.pick(&ds, &k, EXPIRATION_SECS + 1), Some(0));
        assert_eq!(c.set("10.2.0.1"), Some(vec![0]));
        // One member left: nothing more to shed.
        assert_eq!(c.pick(&ds, &k, EXPIRATION_SECS + 2), Some(0));
        assert_eq!(c.set("10.2.0.1"), Some(vec![0]));
    }

    #[test]
    fn none_when_nothing_is_usable() {
        let ds = dests(&[0]);
        let mut c = LblcrCache::default();
        let k = to("10.2.0.1");
        assert_eq!(c.pick(&ds, &k, 0), None);
        c.map.insert(
            k.dst,
            Entry {
                set: vec![0],
                lastmod: 0,
                lastuse: 0,
            },
        );
        assert_eq!(c.pick(&ds, &k, 0), None);
    }

    #[test]
    fn remap_drops_gone_members_and_empty_sets() {
        let mut c = LblcrCache::default();
        c.map.insert(
            to("10.2.0.1").dst,
            Entry {
                set: vec![2, 0],
                lastmod: 0,
                lastuse: 0,
            },
        );
        c.map.insert(
            to("10.2.0.2").dst,
            Entry {
                set: vec![0],
                lastmod: 0,
                lastuse: 0,
            },
        );
        c.remap(|i| if i == 2 { Some(1) } else { None });
        assert_eq!(c.set("10.2.0.1"), Some(vec![1]));
        assert_eq!(c.set("10.2.0.2"), None);
    }

    #[test]
    fn housekeeping_collects_idle_entries() {
        let ds = dests(&[1]);
        let mut c = LblcrCache::default();
        c.pick(&ds, &to("10.2.0.1"), 0);
        c.housekeeping(0);
        for t in 1..30 {
            c.housekeeping(t * 60);
        }
        assert!(c.set("10.2.0.1").is_some());
        c.housekeeping(EXPIRATION_SECS);
        assert!(c.set("10.2.0.1").is_none());
    }
}
