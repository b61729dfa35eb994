//! [`ServiceScheduler`] (immutable, per service per snapshot) and
//! [`SchedState`] (mutable, per worker): the dispatch to the individual
//! schedulers.

use xvs_config::{SchedFlags, SchedulerKind};

use crate::dh::DhTable;
use crate::lblc::LblcCache;
use crate::lblcr::LblcrCache;
use crate::mh::MhTable;
use crate::rng::SplitMix64;
use crate::sh::ShTable;
use crate::wrr::{WrrCursor, WrrParams};
use crate::{fo, lc, nq, ovf, rr, sed, twos, wlc, wrr};
use crate::{SchedDest, SchedError, SchedKey};

/// What each scheduler precomputes when the real-server list changes (the
/// work IPVS does in its add/del/edit hooks).
#[derive(Debug)]
pub(crate) enum Tables {
    None,
    Wrr(WrrParams),
    Dh(DhTable),
    Sh(ShTable),
    Mh(MhTable),
}

/// Immutable per-service scheduler (dh/sh/mh tables, wrr's gcd and maximum
/// weight), built by the control side for each snapshot and shared by all
/// workers.
#[derive(Debug)]
pub struct ServiceScheduler {
    pub(crate) kind: SchedulerKind,
    flags: SchedFlags,
    pub(crate) tables: Tables,
}

/// Per-worker mutable scheduler state: rr/wrr cursors, the lblc/lblcr
/// caches and twos' random generator. Make one per worker per service with
/// [`ServiceScheduler::new_state`]; after a reload carry it over with
/// [`ServiceScheduler::carry_state`].
#[derive(Clone, Debug)]
pub struct SchedState {
    pub(crate) kind: SchedulerKind,
    pub(crate) rr_cursor: Option<usize>,
    pub(crate) wrr: WrrCursor,
    pub(crate) rng: SplitMix64,
    pub(crate) lblc: LblcCache,
    pub(crate) lblcr: LblcrCache,
}

impl ServiceScheduler {
    /// Builds the scheduler for one service from its real servers in list
    /// order. `mh_table_size` is used (and validated: a prime, at least as
    /// many slots as linked real servers) only for mh.
    pub fn new(
        kind: SchedulerKind,
        flags: SchedFlags,
        mh_table_size: u32,
        dests: &[SchedDest],
    ) -> Result<Self, SchedError> {
        let tables = match kind {
            SchedulerKind::Wrr => Tables::Wrr(WrrParams::new(dests)),
            SchedulerKind::Dh => Tables::Dh(DhTable::new(dests)),
            SchedulerKind::Sh => Tables::Sh(ShTable::new(dests)),
            SchedulerKind::Mh => Tables::Mh(MhTable::new(mh_table_size, dests)?),
            _ => Tables::None,
        };
        Ok(ServiceScheduler {
            kind,
            flags,
            tables,
        })
    }

    pub fn kind(&self) -> SchedulerKind {
        self.kind
    }

    /// A fresh per-worker state; `seed` feeds twos' random generator (give
    /// each worker a different one).
    pub fn new_state(&self, seed: u64) -> SchedState {
        let wrr = match &self.tables {
            Tables::Wrr(p) => p.start(),
            _ => WrrParams::new(&[]).start(),
        };
        SchedState {
            kind: self.kind,
            rr_cursor: None,
            wrr,
            rng: SplitMix64::new(seed),
            lblc: LblcCache::default(),
            lblcr: LblcrCache::default(),
        }
    }

    /// Picks a real server for a new connection: an index into `dests`
    /// (the same list, in the same order, the scheduler was built from).
    /// `None` = no available real server (the data plane drops and counts,
    /// REFERENCE §4.5).
    pub fn pick(
        &self,
        state: &mut SchedState,
        dests: &[SchedDest],
        key: &SchedKey,
        now_secs: u32,
    ) -> Option<usize> {
        match (self.kind, &self.tables) {
            (SchedulerKind::Rr, _) => rr::pick(dests, &mut state.rr_cursor),
            (SchedulerKind::Wrr, Tables::Wrr(p)) => wrr::pick(p, &mut state.wrr, dests),
            (SchedulerKind::Lc, _) => lc::pick(dests),
            (SchedulerKind::Wlc, _) => wlc::pick(dests),
            (SchedulerKind::Sed, _) => sed::pick(dests),
            (SchedulerKind::Nq, _) => nq::pick(dests),
            (SchedulerKind::Fo, _) => fo::pick(dests),
            (SchedulerKind::Ovf, _) => ovf::pick(dests),
            (SchedulerKind::Twos, _) => twos::pick(dests, &mut state.rng),
            (SchedulerKind::Dh, Tables::Dh(t)) => t.pick(dests, key),
            (SchedulerKind::Sh, Tables::Sh(t)) => t.pick(dests, key, self.flags),
            (SchedulerKind::Mh, Tables::Mh(t)) => t.pick(dests, key, self.flags),
            (SchedulerKind::Lblc, _) => state.lblc.pick(dests, key, now_secs),
            (SchedulerKind::Lblcr, _) => state.lblcr.pick(dests, key, now_secs),
            // new() always builds the tables its kind needs.
            (SchedulerKind::Wrr | SchedulerKind::Dh | SchedulerKind::Sh | SchedulerKind::Mh, _) => {
                None
            }
        }
    }

    /// lblc/lblcr cache garbage collection (a 60 s timer in IPVS); call it
    /// periodically, e.g. once a second. Cheap when nothing is due and a
    /// no-op for the other schedulers.
    pub fn housekeeping(&self, state: &mut SchedState, now_secs: u32) {
        match self.kind {
            SchedulerKind::Lblc => state.lblc.housekeeping(now_secs),
            SchedulerKind::Lblcr => state.lblcr.housekeeping(now_secs),
            _ => {}
        }
    }

    /// Slots per real server of an mh table (indexed like `dests`); `None`
    /// for other schedulers. For `list` output and tests.
    pub fn mh_slot_counts(&self, dests: usize) -> Option<Vec<usize>> {
        match &self.tables {
            Tables::Mh(t) => Some(t.slot_counts(dests)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    #[test]
    fn shared_and_per_worker_parts_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ServiceScheduler>();
        send_sync::<SchedState>();
        send_sync::<crate::DestLoad>();
        send_sync::<crate::SchedDest>();
    }

    #[test]
    fn every_kind_builds_and_picks() {
        let ds = dests(&[1, 2, 3]);
        for kind in SchedulerKind::ALL {
            let s = ServiceScheduler::new(kind, SchedFlags::default(), 251, &ds).unwrap();
            let mut st = s.new_state(1);
            let got = s.pick(&mut st, &ds, &key(1, 1), 0);
            assert!(got.is_some(), "{kind} picked nothing");
            s.housekeeping(&mut st, 0);
        }
    }

    #[test]
    fn every_kind_says_none_with_no_real_servers() {
        for kind in SchedulerKind::ALL {
            let s = ServiceScheduler::new(kind, SchedFlags::default(), 251, &[]).unwrap();
            let mut st = s.new_state(1);
            assert_eq!(s.pick(&mut st, &[], &key(1, 1), 0), None, "{kind}");
        }
    }

    #[test]
    fn every_kind_skips_an_overloaded_server_or_refuses_it() {
        // Table at the end of REFERENCE §1: no scheduler hands a new
        // connection to the only, overloaded real server, except lblc on a
        // cache hit, which does not look at the flag.
        let ds = dests(&[1]);
        for kind in SchedulerKind::ALL {
            let s = ServiceScheduler::new(kind, SchedFlags::default(), 251, &ds).unwrap();
            let mut st = s.new_state(1);
            let first = s.pick(&mut st, &ds, &key(1, 1), 0);
            assert_eq!(first, Some(0), "{kind}");
            overload(&ds[0]);
            let again = s.pick(&mut st, &ds, &key(1, 1), 0);
            let expect = if kind == SchedulerKind::Lblc {
                Some(0)
            } else {
                None
            };
            assert_eq!(again, expect, "{kind}");
            ds[0].load.unbind_conn(0, false, Default::default());
            assert!(!ds[0].load.is_overloaded());
        }
    }

    #[test]
    fn every_kind_refuses_a_weight_zero_server() {
        let mut ds = dests(&[1]);
        ds[0].weight = 0;
        for kind in SchedulerKind::ALL {
            let s = ServiceScheduler::new(kind, SchedFlags::default(), 251, &ds).unwrap();
            let mut st = s.new_state(1);
            assert_eq!(s.pick(&mut st, &ds, &key(1, 1), 0), None, "{kind}");
        }
    }

    #[test]
    fn mh_table_size_is_validated_only_for_mh() {
        let ds = dests(&[1]);
        assert!(ServiceScheduler::new(SchedulerKind::Rr, SchedFlags::default(), 4, &ds).is_ok());
        assert_eq!(
            ServiceScheduler::new(SchedulerKind::Mh, SchedFlags::default(), 4, &ds).unwrap_err(),
            SchedError::MhTableSizeNotPrime { size: 4 }
        );
    }

    #[test]
    fn a_state_from_another_kind_does_not_panic() {
        let ds = dests(&[3, 1]);
        let rr = ServiceScheduler::new(SchedulerKind::Rr, SchedFlags::default(), 251, &ds).unwrap();
        let wrr =
            ServiceScheduler::new(SchedulerKind::Wrr, SchedFlags::default(), 251, &ds).unwrap();
        let mut st = rr.new_state(0);
        assert_eq!(wrr.pick(&mut st, &ds, &key(1, 1), 0), Some(0));
    }
}
