//! wlc: weighted least connection (ip_vs_wlc.c), the IPVS default.
//!
//! Minimises `(activeconns × 256 + inactconns) / weight` with the walk in
//! `common::weighted_least`: the first non-overloaded real server with
//! weight > 0 starts, later ones replace it only when strictly lighter, and
//! a weight-0 real server is never chosen.

use crate::common::{conn_overhead, weighted_least};
use crate::SchedDest;

pub(crate) fn pick(dests: &[SchedDest]) -> Option<usize> {
    weighted_least(dests, conn_overhead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    #[test]
    fn load_per_weight_decides() {
        let ds = dests(&[1, 3]);
        set_conns(&ds[0], 1, 0);
        set_conns(&ds[1], 2, 0);
        // 256/1 vs 512/3: the second is lighter.
        assert_eq!(pick(&ds), Some(1));
        set_conns(&ds[1], 1, 0);
        // 256·3 > 768·1 is false: equal, the first stays.
        assert_eq!(pick(&ds), Some(0));
    }

    #[test]
    fn idle_servers_tie_to_the_first() {
        let ds = dests(&[1, 5]);
        assert_eq!(pick(&ds), Some(0), "0·5 > 0·1 is false");
    }

    #[test]
    fn weight_zero_is_not_first_candidate_and_cannot_win() {
        let ds = dests(&[0, 1]);
        set_conns(&ds[1], 100, 0);
        assert_eq!(pick(&ds), Some(1));
        let ds = dests(&[1, 0]);
        set_conns(&ds[0], 100, 0);
        assert_eq!(pick(&ds), Some(0));
    }

    #[test]
    fn overloaded_skipped() {
        let ds = dests(&[1, 1]);
        overload(&ds[0]);
        set_conns(&ds[1], 100, 0);
        assert_eq!(pick(&ds), Some(1));
        overload(&ds[1]);
        assert_eq!(pick(&ds), None);
    }
}
