//! ovf: weighted overflow (ip_vs_ovf.c).
//!
//! Like fo, but a real server whose active connections exceed its weight is
//! skipped (equal is allowed), so traffic overflows to the next-highest
//! weight. Only active connections count, so for UDP (always inactive,
//! REFERENCE §4.3) this is fo.

use crate::common::usable;
use crate::SchedDest;

pub(crate) fn pick(dests: &[SchedDest]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, d) in dests.iter().enumerate() {
        if !usable(d) || d.load.activeconns() > d.weight {
            continue;
        }
        if best.is_none_or(|b| d.weight > dests[b].weight) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    #[test]
    fn fills_the_heaviest_up_to_its_weight_then_overflows() {
        let ds = dests(&[2, 3, 1]);
        set_conns(&ds[1], 3, 0);
        assert_eq!(pick(&ds), Some(1), "3 active = weight 3 is still allowed");
        set_conns(&ds[1], 1, 0);
        assert_eq!(pick(&ds), Some(0), "4 > 3 overflows to the next weight");
    }

    #[test]
    fn inactive_entries_do_not_overflow() {
        let ds = dests(&[2, 1]);
        set_conns(&ds[0], 0, 100);
        assert_eq!(pick(&ds), Some(0));
    }

    #[test]
    fn ties_to_the_first_and_skips_weight_zero_and_overloaded() {
        let ds = dests(&[0, 4, 4, 9]);
        overload(&ds[3]);
        assert_eq!(pick(&ds), Some(1));
        set_conns(&ds[1], 5, 0);
        set_conns(&ds[2], 5, 0);
        assert_eq!(pick(&ds), None);
    }
}
