//! nq: never queue (ip_vs_nq.c).
//!
//! The first usable real server with no active connection is returned at
//! once; when every one is busy, the choice is sed's: minimise
//! `(activeconns + 1) / weight`, ties to the earlier one.

use crate::common::{heavier, usable};
use crate::sed::overhead;
use crate::SchedDest;

pub(crate) fn pick(dests: &[SchedDest]) -> Option<usize> {
    let mut least: Option<(usize, u64)> = None;
    for (i, d) in dests.iter().enumerate() {
        if !usable(d) {
            continue;
        }
        let oh = overhead(d);
        if oh == 1 {
            // activeconns == 0: an idle server needs no queueing.
            return Some(i);
        }
        match least {
            Some((l, loh)) if !heavier(loh, dests[l].weight, oh, d.weight) => {}
            _ => least = Some((i, oh)),
        }
    }
    least.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    #[test]
    fn first_idle_server_wins_whatever_the_weights() {
        let ds = dests(&[1, 100, 1]);
        set_conns(&ds[0], 3, 0);
        set_conns(&ds[1], 1, 0);
        assert_eq!(
            pick(&ds),
            Some(2),
            "the only server with no active connection"
        );
    }

    #[test]
    fn inactive_entries_still_count_as_idle() {
        let ds = dests(&[1, 1]);
        set_conns(&ds[0], 0, 50);
        set_conns(&ds[1], 0, 0);
        assert_eq!(pick(&ds), Some(0));
    }

    #[test]
    fn all_busy_falls_back_to_expected_delay() {
        let ds = dests(&[1, 4, 2]);
        set_conns(&ds[0], 1, 0);
        set_conns(&ds[1], 4, 0);
        set_conns(&ds[2], 1, 0);
        // 2/1, 5/4, 2/2: the third is lightest.
        assert_eq!(pick(&ds), Some(2));
        set_conns(&ds[2], 1, 0);
        // 3/2 = 1.5 > 5/4: the second.
        assert_eq!(pick(&ds), Some(1));
    }

    #[test]
    fn skips_weight_zero_and_overloaded() {
        let ds = dests(&[0, 1, 1]);
        overload(&ds[1]);
        set_conns(&ds[2], 7, 0);
        assert_eq!(pick(&ds), Some(2));
    }
}
