//! rr: round robin (ip_vs_rr.c).
//!
//! The cursor is the last real server returned (`None` = the list head, as
//! `svc->sched_data` starts). Each call walks forward from the entry after
//! the cursor, wrapping once, and checks the cursor's own entry last; the
//! first real server with weight > 0 and no `F_OVERLOAD` wins and becomes
//! the cursor.

use crate::common::usable;
use crate::SchedDest;

pub(crate) fn pick(dests: &[SchedDest], cursor: &mut Option<usize>) -> Option<usize> {
    let n = dests.len();
    // A cursor past the end (a shorter list than the state was made for)
    // restarts from the head rather than panicking.
    let start = cursor.filter(|&c| c < n).map_or(0, |c| c + 1);
    // start ≤ n and k < n, so one subtraction wraps (no division).
    let found = (0..n)
        .map(|k| {
            let i = start + k;
            if i >= n {
                i - n
            } else {
                i
            }
        })
        .find(|&i| usable(&dests[i]))?;
    *cursor = Some(found);
    Some(found)
}

/// Where the cursor goes when the list changes under it: as
/// `ip_vs_rr_del_dest()`, a deleted cursor entry hands over to its
/// predecessor (repeatedly, if that one is gone too), else to the head.
/// `survivor(i)` maps an old index to its new index, if it survived.
pub(crate) fn carry_cursor(
    cursor: Option<usize>,
    survivor: impl Fn(usize) -> Option<usize>,
) -> Option<usize> {
    let c = cursor?;
    (0..=c).rev().find_map(survivor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    fn run(ds: &[SchedDest], cursor: &mut Option<usize>, n: usize) -> Vec<Option<usize>> {
        (0..n).map(|_| pick(ds, cursor)).collect()
    }

    #[test]
    fn cycles_in_list_order_from_the_head() {
        let ds = dests(&[1, 5, 1]);
        let mut c = None;
        assert_eq!(run(&ds, &mut c, 6), [0, 1, 2, 0, 1, 2].map(Some));
    }

    #[test]
    fn skips_weight_zero_overloaded_and_unlinked() {
        let mut ds = dests(&[1, 0, 1, 1, 1]);
        overload(&ds[2]);
        ds[3].available = false;
        let mut c = None;
        assert_eq!(run(&ds, &mut c, 4), [0, 4, 0, 4].map(Some));
    }

    #[test]
    fn the_cursor_entry_is_checked_last() {
        let ds = dests(&[1, 1, 1]);
        overload(&ds[1]);
        overload(&ds[2]);
        let mut c = Some(0);
        assert_eq!(
            pick(&ds, &mut c),
            Some(0),
            "only the cursor is usable: it is returned again"
        );
    }

    #[test]
    fn none_when_nothing_is_usable_and_cursor_stays() {
        let ds = dests(&[0, 0]);
        let mut c = Some(1);
        assert_eq!(pick(&ds, &mut c), None);
        assert_eq!(c, Some(1));
        assert_eq!(pick(&[], &mut None), None);
    }

    #[test]
    fn stale_cursor_restarts_at_the_head() {
        let ds = dests(&[1, 1]);
        let mut c = Some(7);
        assert_eq!(pick(&ds, &mut c), Some(0));
    }

    #[test]
    fn deleted_cursor_moves_to_its_predecessor() {
        // Old list A B C D, cursor on C; C and B deleted, A and D survive.
        let survivor = |i: usize| match i {
            0 => Some(0),
            3 => Some(1),
            _ => None,
        };
        assert_eq!(carry_cursor(Some(2), survivor), Some(0));
        assert_eq!(carry_cursor(Some(3), survivor), Some(1));
        assert_eq!(
            carry_cursor(Some(1), |i| if i <= 1 { None } else { Some(i) }),
            None
        );
        assert_eq!(carry_cursor(None, Some), None);
    }
}
