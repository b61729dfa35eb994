//! Carrying one worker's [`SchedState`] into the scheduler of a new
//! snapshot, so that a reload behaves like IPVS's in-place add/del/edit of
//! destinations instead of a scheduler restart.
//!
//! Real servers are matched between the two lists by (address, port), the
//! identity of an IPVS destination within a service.
//!
//! * rr: the cursor stays on its real server; if that one is gone it moves
//!   to the nearest surviving predecessor (`ip_vs_rr_del_dest()`), else to
//!   the head.
//! * wrr: if the list, a weight or a deletion changed, as
//!   `ip_vs_wrr_dest_changed()` (cursor to the head, `cw` kept or rounded);
//!   an unchanged list keeps the state as it is.
//! * lblc/lblcr: cache entries follow their real servers to the new indices;
//!   entries (set members) whose real server is gone from the list are
//!   dropped, which the next hit turns into a fresh wlc choice just as IPVS
//!   reschedules a cached destination that lost `F_AVAILABLE`.
//! * twos keeps its random stream; dh, sh and mh have no per-worker state.
//!
//! A change of scheduler kind starts afresh, as `ipvsadm -E -s` binds a new
//! scheduler.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::common::linked;
use crate::rr;
use crate::scheduler::{SchedState, ServiceScheduler, Tables};
use crate::SchedDest;
use xvs_config::SchedulerKind;

/// The part of the list wrr's parameters depend on.
fn wrr_view(dests: &[SchedDest]) -> impl Iterator<Item = (IpAddr, u16, u32)> + '_ {
    dests
        .iter()
        .filter(|d| linked(d))
        .map(|d| (d.addr, d.port, d.weight))
}

impl ServiceScheduler {
    /// One worker's state for this scheduler, continuing `old`, which ran
    /// against `old_dests` (the previous snapshot's list for the same
    /// service). `dests` is the list this scheduler was built from. Real
    /// servers are matched by (address, port): rr's cursor follows its real
    /// server (or the nearest surviving predecessor), wrr restarts at the
    /// head as `ip_vs_wrr_dest_changed()` if the list or a weight changed,
    /// lblc/lblcr caches follow their real servers and forget removed ones,
    /// twos keeps its random stream. A different scheduler kind starts
    /// afresh.
    pub fn carry_state(
        &self,
        old: SchedState,
        old_dests: &[SchedDest],
        dests: &[SchedDest],
    ) -> SchedState {
        let mut st = self.new_state(0);
        st.rng = old.rng;
        if old.kind != self.kind {
            return st;
        }
        let mut by_identity: HashMap<(IpAddr, u16), usize> = HashMap::with_capacity(dests.len());
        for (i, d) in dests.iter().enumerate() {
            by_identity.entry((d.addr, d.port)).or_insert(i);
        }
        let to_new = |i: usize| {
            old_dests
                .get(i)
                .and_then(|d| by_identity.get(&(d.addr, d.port)).copied())
        };
        match (self.kind, &self.tables) {
            (SchedulerKind::Rr, _) => {
                let survivor = |i| to_new(i).filter(|&j| dests.get(j).is_some_and(linked));
                st.rr_cursor = rr::carry_cursor(old.rr_cursor, survivor);
            }
            (SchedulerKind::Wrr, Tables::Wrr(p)) => {
                st.wrr = if wrr_view(old_dests).eq(wrr_view(dests)) {
                    old.wrr
                } else {
                    p.dest_changed(old.wrr)
                };
            }
            (SchedulerKind::Lblc, _) => {
                st.lblc = old.lblc;
                st.lblc.remap(to_new);
            }
            (SchedulerKind::Lblcr, _) => {
                st.lblcr = old.lblcr;
                st.lblcr.remap(to_new);
            }
            _ => {}
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::common::test_support::*;
    use crate::SchedKey;
    use xvs_config::SchedFlags;

    fn build(kind: SchedulerKind, ds: &[SchedDest]) -> ServiceScheduler {
        ServiceScheduler::new(kind, SchedFlags::default(), 251, ds).unwrap()
    }

    #[test]
    fn rr_cursor_survives_an_unrelated_change() {
        let old = dests(&[1, 1, 1]);
        let s = build(SchedulerKind::Rr, &old);
        let mut st = s.new_state(0);
        assert_eq!(s.pick(&mut st, &old, &key(1, 1), 0), Some(0));
        assert_eq!(s.pick(&mut st, &old, &key(1, 1), 0), Some(1));
        // Server 1 (index 0) removed: the list is 2, 3.
        let new: Vec<_> = old[1..].to_vec();
        let s2 = build(SchedulerKind::Rr, &new);
        let mut st = s2.carry_state(st, &old, &new);
        // The cursor was on server 2, now index 0: next is server 3.
        assert_eq!(s2.pick(&mut st, &new, &key(1, 1), 0), Some(1));
    }

    #[test]
    fn rr_cursor_moves_to_the_predecessor_of_a_deleted_server() {
        let old = dests(&[1, 1, 1]);
        let s = build(SchedulerKind::Rr, &old);
        let mut st = s.new_state(0);
        s.pick(&mut st, &old, &key(1, 1), 0);
        s.pick(&mut st, &old, &key(1, 1), 0); // cursor on server 2
        let mut new = old.clone();
        new[1].available = false; // server 2 deleted, kept for its connections
        let s2 = build(SchedulerKind::Rr, &new);
        let mut st = s2.carry_state(st, &old, &new);
        // Cursor moved to server 1: next is server 3.
        assert_eq!(s2.pick(&mut st, &new, &key(1, 1), 0), Some(2));
    }

    #[test]
    fn wrr_keeps_its_place_when_nothing_changed_and_resets_when_weights_did() {
        let old = dests(&[4, 3, 2]);
        let s = build(SchedulerKind::Wrr, &old);
        let mut st = s.new_state(0);
        for _ in 0..4 {
            s.pick(&mut st, &old, &key(1, 1), 0); // A A B A
        }
        let same = old.clone();
        let s2 = build(SchedulerKind::Wrr, &same);
        let mut kept = s2.carry_state(st.clone(), &old, &same);
        assert_eq!(
            s2.pick(&mut kept, &same, &key(1, 1), 0),
            Some(1),
            "continues: B"
        );
        let mut changed = old.clone();
        changed[2].weight = 1;
        let s3 = build(SchedulerKind::Wrr, &changed);
        let mut reset = s3.carry_state(st, &old, &changed);
        // Cursor at the head, cw = 2 kept (di = 1): first weight ≥ 2 is A.
        assert_eq!(s3.pick(&mut reset, &changed, &key(1, 1), 0), Some(0));
        assert_eq!(s3.pick(&mut reset, &changed, &key(1, 1), 0), Some(1));
    }

    #[test]
    fn lblc_cache_follows_servers_to_new_indices() {
        let old = dests(&[1, 1]);
        let s = build(SchedulerKind::Lblc, &old);
        let mut st = s.new_state(0);
        let k = SchedKey {
            dst: IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)),
            ..key(1, 1)
        };
        set_conns(&old[0], 1, 0);
        assert_eq!(s.pick(&mut st, &old, &k, 0), Some(1));
        // A new server is inserted first and is idle: a fresh wlc would
        // pick it, but the cached choice (server 2, now index 2) stands.
        let mut new = vec![dest(9, 1)];
        new.extend(old.iter().cloned());
        set_conns(&new[2], 1, 0);
        let s2 = build(SchedulerKind::Lblc, &new);
        let mut st = s2.carry_state(st, &old, &new);
        assert_eq!(s2.pick(&mut st, &new, &k, 1), Some(2));
    }

    #[test]
    fn kind_change_starts_afresh() {
        let ds = dests(&[1, 1]);
        let rr = build(SchedulerKind::Rr, &ds);
        let mut st = rr.new_state(3);
        rr.pick(&mut st, &ds, &key(1, 1), 0);
        let wrr = build(SchedulerKind::Wrr, &ds);
        let st = wrr.carry_state(st, &ds, &ds);
        assert_eq!(st.kind, SchedulerKind::Wrr);
        assert_eq!(st.rr_cursor, None);
    }
}
