//! sed: shortest expected delay (ip_vs_sed.c).
//!
//! wlc with the overhead `activeconns + 1`: inactive entries are ignored and
//! the `+ 1` makes an idle heavy server beat an idle light one only through
//! the weight, so expected delay `(active + 1) / weight` is minimised.

use crate::common::weighted_least;
use crate::SchedDest;

pub(crate) fn overhead(d: &SchedDest) -> u64 {
    u64::from(d.load.activeconns()) + 1
}

pub(crate) fn pick(dests: &[SchedDest]) -> Option<usize> {
    weighted_least(dests, overhead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    #[test]
    fn idle_heavier_server_wins() {
        let ds = dests(&[1, 3]);
        // 1/1 vs 1/3.
        assert_eq!(pick(&ds), Some(1));
    }

    #[test]
    fn inactive_entries_are_ignored() {
        let ds = dests(&[1, 1]);
        set_conns(&ds[0], 0, 1000);
        set_conns(&ds[1], 1, 0);
        assert_eq!(pick(&ds), Some(0), "(0+1)/1 < (1+1)/1");
    }

    #[test]
    fn ties_keep_the_first_and_weight_zero_never_wins() {
        let ds = dests(&[2, 0, 2]);
        set_conns(&ds[0], 1, 0);
        set_conns(&ds[2], 1, 0);
        assert_eq!(pick(&ds), Some(0));
        let ds = dests(&[0, 2]);
        set_conns(&ds[1], 50, 0);
        assert_eq!(pick(&ds), Some(1));
    }

    #[test]
    fn overloaded_skipped() {
        let ds = dests(&[1, 9]);
        overload(&ds[1]);
        assert_eq!(pick(&ds), Some(0));
    }
}
