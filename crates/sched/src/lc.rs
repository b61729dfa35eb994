//! lc: least connection (ip_vs_lc.c).
//!
//! Skips overloaded and weight-0 real servers and returns the one with the
//! smallest `activeconns × 256 + inactconns` (strict `<`, so the first of
//! equals wins). The weight is otherwise unused.

use crate::common::{conn_overhead, usable};
use crate::SchedDest;

pub(crate) fn pick(dests: &[SchedDest]) -> Option<usize> {
    let mut least: Option<(usize, u64)> = None;
    for (i, d) in dests.iter().enumerate() {
        if !usable(d) {
            continue;
        }
        let oh = conn_overhead(d);
        if least.is_none_or(|(_, loh)| oh < loh) {
            least = Some((i, oh));
        }
    }
    least.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    #[test]
    fn least_overhead_wins_and_weight_does_not_matter() {
        let ds = dests(&[100, 1, 1]);
        set_conns(&ds[0], 2, 0);
        set_conns(&ds[1], 1, 5);
        set_conns(&ds[2], 1, 6);
        assert_eq!(pick(&ds), Some(1), "256+5 < 256+6 < 512");
    }

    #[test]
    fn one_active_outweighs_255_inactive() {
        let ds = dests(&[1, 1]);
        set_conns(&ds[0], 1, 0);
        set_conns(&ds[1], 0, 255);
        assert_eq!(pick(&ds), Some(1));
        set_conns(&ds[1], 0, 1);
        assert_eq!(pick(&ds), Some(0), "256 vs 256: the first wins");
    }

    #[test]
    fn ties_go_to_the_first() {
        let ds = dests(&[1, 1, 1]);
        assert_eq!(pick(&ds), Some(0));
    }

    #[test]
    fn skips_weight_zero_overloaded_and_unlinked() {
        let mut ds = dests(&[0, 1, 1, 1]);
        overload(&ds[1]);
        ds[2].available = false;
        set_conns(&ds[3], 10, 0);
        assert_eq!(pick(&ds), Some(3));
        ds[3].weight = 0;
        assert_eq!(pick(&ds), None);
    }
}
