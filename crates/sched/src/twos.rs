//! twos: weighted random twos choice (ip_vs_twos.c).
//!
//! With `T` the sum of the weights of the usable real servers, two random
//! numbers `r1, r2` in `0..=T` each select the first usable real server at
//! which the running `r − Σweight` reaches ≤ 0 (so the first one is a
//! little favoured, as in the kernel: it owns `w + 1` of the `T + 1`
//! values). Of the two, the second wins only if it is strictly less loaded
//! per weight: `w2 · oh1 > w1 · oh2`.

use crate::common::{conn_overhead, heavier, usable};
use crate::rng::SplitMix64;
use crate::SchedDest;

pub(crate) fn pick(dests: &[SchedDest], rng: &mut SplitMix64) -> Option<usize> {
    let total: u64 = dests
        .iter()
        .filter(|d| usable(d))
        .map(|d| u64::from(d.weight))
        .sum();
    if total == 0 {
        return None;
    }
    // Two 32-bit draws from one 64-bit output, each scaled into 0..=T by
    // a multiply and shift (Lemire) where the kernel takes `% (T + 1)`:
    // the same uniform range without two divisions on the new-flow path.
    let r = rng.next_u64();
    let r1 = scaled(r >> 32, total + 1);
    let r2 = scaled(r & 0xffff_ffff, total + 1);
    // The kernel walks the list subtracting each usable weight from r and
    // stops where r reaches ≤ 0: the first usable dest whose running sum
    // reaches max(r, 1) (r = 0 stops at the first one, like r = 1). Every
    // dest before that one has a running sum below it, every one from it
    // on does not, so its index is the count of running sums below. A
    // count has no data-dependent branch: the stop is random, and a
    // branch on it was mispredicted on most picks.
    let (choice1, choice2) = stops(dests, r1, r2);
    // Both are in range: r ≤ T and the sum reaches T.
    Some(lighter_of(dests, choice1, choice2))
}

/// Where the kernel's walk stops for `r1` and for `r2` (see `pick`), in
/// one pass.
#[inline]
fn stops(dests: &[SchedDest], r1: u64, r2: u64) -> (usize, usize) {
    let (t1, t2) = (r1.max(1), r2.max(1));
    let (mut choice1, mut choice2, mut sum) = (0usize, 0usize, 0u64);
    for d in dests {
        sum += if usable(d) { u64::from(d.weight) } else { 0 };
        choice1 += usize::from(sum < t1);
        choice2 += usize::from(sum < t2);
    }
    (choice1, choice2)
}

/// A 32-bit random `r` mapped onto `0..n`: ⌊r · n / 2³²⌋.
fn scaled(r: u64, n: u64) -> u64 {
    // r < 2³², so the product fits 128 bits and the result is < n.
    ((u128::from(r) * u128::from(n)) >> 32) as u64
}

/// `choice2` if `w2·oh1 > w1·oh2` (it is strictly less loaded per weight),
/// else `choice1`. Both are indices found in `dests` by `pick`.
fn lighter_of(dests: &[SchedDest], choice1: usize, choice2: usize) -> usize {
    let (d1, d2) = (&dests[choice1], &dests[choice2]);
    if heavier(conn_overhead(d1), d1.weight, conn_overhead(d2), d2.weight) {
        choice2
    } else {
        choice1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    #[test]
    fn only_usable_servers_are_drawn() {
        let mut ds = dests(&[0, 3, 1, 2]);
        overload(&ds[2]);
        ds[3].available = false;
        let mut rng = SplitMix64::new(1);
        for _ in 0..200 {
            assert_eq!(pick(&ds, &mut rng), Some(1));
        }
        ds[1].weight = 0;
        assert_eq!(pick(&ds, &mut rng), None);
    }

    #[test]
    fn the_less_loaded_of_two_wins() {
        // Two equal servers, one heavily loaded: a draw pair that includes
        // the idle one picks it, so it wins ~3/4 of picks (P(both loaded)
        // is about 1/4).
        let ds = dests(&[100, 100]);
        set_conns(&ds[0], 10, 0);
        let mut rng = SplitMix64::new(42);
        let idle = (0..4000).filter(|_| pick(&ds, &mut rng) == Some(1)).count();
        assert!(
            (2800..3200).contains(&idle),
            "idle server won {idle} of 4000"
        );
    }

    #[test]
    fn unloaded_servers_follow_the_weights() {
        // With no load the first draw always stands (ties keep choice1),
        // so picks follow (w + [first]) / (T + 1).
        let ds = dests(&[1, 3]);
        let mut rng = SplitMix64::new(9);
        let n = 40_000;
        let second = (0..n).filter(|_| pick(&ds, &mut rng) == Some(1)).count();
        let share = second as f64 / n as f64;
        assert!((share - 0.6).abs() < 0.02, "share {share}, expected 3/5");
    }

    #[test]
    fn second_choice_wins_only_when_strictly_lighter_per_weight() {
        let ds = dests(&[1, 4, 2]);
        set_conns(&ds[0], 1, 0); // 256 per weight
        set_conns(&ds[1], 2, 0); // 128 per weight
        set_conns(&ds[2], 1, 0); // 128 per weight
        assert_eq!(lighter_of(&ds, 0, 1), 1);
        assert_eq!(lighter_of(&ds, 1, 0), 1);
        assert_eq!(lighter_of(&ds, 1, 2), 1, "equal: the first choice stays");
        assert_eq!(lighter_of(&ds, 2, 1), 2);
    }

    /// ip_vs_twos.c's walk, step by step: subtract each usable weight,
    /// stop at the first usable dest where r reaches ≤ 0.
    fn kernel_walk(dests: &[SchedDest], r: u64) -> Option<usize> {
        let mut r = r as i64;
        for (i, d) in dests.iter().enumerate() {
            if !usable(d) {
                continue;
            }
            r -= i64::from(d.weight);
            if r <= 0 {
                return Some(i);
            }
        }
        None
    }

    #[test]
    fn the_counted_stop_is_the_kernels_walk() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..300 {
            let n = 1 + (rng.next_u64() % 9) as usize;
            let weights: Vec<u32> = (0..n).map(|_| (rng.next_u64() % 5) as u32).collect();
            let mut ds = dests(&weights);
            for d in ds.iter_mut() {
                d.available = !rng.next_u64().is_multiple_of(4);
            }
            if rng.next_u64().is_multiple_of(3) {
                overload(&ds[0]);
            }
            let total: u64 = ds
                .iter()
                .filter(|d| usable(d))
                .map(|d| u64::from(d.weight))
                .sum();
            if total == 0 {
                assert_eq!(pick(&ds, &mut rng), None);
                continue;
            }
            for r in 0..=total {
                let want = kernel_walk(&ds, r).expect("r ≤ T always stops");
                assert_eq!(stops(&ds, r, r), (want, want), "weights {weights:?} r {r}");
                assert!(usable(&ds[want]));
            }
        }
    }

    #[test]
    fn draws_cover_the_whole_range_and_stay_in_it() {
        assert_eq!(scaled(0, 7), 0);
        assert_eq!(scaled(u64::from(u32::MAX), 7), 6);
        assert_eq!(scaled(u64::from(u32::MAX), 1), 0);
        // Each value of 0..n gets its share of the 32-bit inputs.
        let n = 5u64;
        let mut seen = [0u32; 5];
        for r in (0..=u64::from(u32::MAX)).step_by(65_537) {
            seen[scaled(r, n) as usize] += 1;
        }
        let (lo, hi) = (seen.iter().min().unwrap(), seen.iter().max().unwrap());
        assert!(hi - lo <= 1, "uneven draws {seen:?}");
    }

    #[test]
    fn deterministic_for_a_seed() {
        let ds = dests(&[2, 5, 3]);
        let run = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..32).map(|_| pick(&ds, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
    }
}
