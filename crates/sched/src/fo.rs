//! fo: weighted failover (ip_vs_fo.c).
//!
//! The non-overloaded real server with the highest weight takes every new
//! connection; ties go to the first (strict `>` starting from 0, so weight
//! 0 is never chosen).

use crate::common::usable;
use crate::SchedDest;

pub(crate) fn pick(dests: &[SchedDest]) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut hw = 0;
    for (i, d) in dests.iter().enumerate() {
        if usable(d) && d.weight > hw {
            best = Some(i);
            hw = d.weight;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    #[test]
    fn highest_weight_wins_first_of_equals() {
        let ds = dests(&[5, 10, 10, 1]);
        set_conns(&ds[1], 1000, 0);
        assert_eq!(pick(&ds), Some(1), "load is ignored");
    }

    #[test]
    fn overloaded_primary_fails_over() {
        let ds = dests(&[10, 5, 1]);
        overload(&ds[0]);
        assert_eq!(pick(&ds), Some(1));
    }

    #[test]
    fn weight_zero_and_unlinked_never_chosen() {
        let mut ds = dests(&[0, 3]);
        assert_eq!(pick(&ds), Some(1));
        ds[1].available = false;
        assert_eq!(pick(&ds), None);
    }
}
