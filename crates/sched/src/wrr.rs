//! wrr: weighted round robin (ip_vs_wrr.c), the classic non-smooth
//! gcd-stepped form.
//!
//! `di` is the gcd of the positive weights (1 if none), `mw = max_weight −
//! (di − 1)`, and the current weight `cw` starts at `mw`. A pick continues
//! after the cursor and returns the first non-overloaded real server with
//! `weight ≥ cw`; every pass past the end of the list lowers `cw` by `di`,
//! and `cw ≤ 0` wraps it back to `mw`. The search gives up once every real
//! server was tested at the lowest level starting from the entry point.
//! Weights 4,3,2 give `A A B A B C A B C`.

use crate::common::{linked, usable};
use crate::SchedDest;

/// The per-service part, recomputed on every add/del/edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WrrParams {
    /// gcd of the weights > 0, 1 when there are none.
    di: i64,
    /// `max_weight − (di − 1)`; 0 when every weight is 0.
    mw: i64,
}

/// The per-worker part: the cursor (`None` = list head) and `cw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WrrCursor {
    cl: Option<usize>,
    cw: i64,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl WrrParams {
    /// As ip_vs_wrr_gcd_weight()/ip_vs_wrr_max_weight(); overloaded real
    /// servers count (the flag is dynamic), unlinked ones do not.
    pub(crate) fn new(dests: &[SchedDest]) -> WrrParams {
        let weights = dests
            .iter()
            .filter(|d| linked(d))
            .map(|d| i64::from(d.weight));
        let (g, max) = weights.filter(|&w| w > 0).fold((0, 0), |(g, max), w| {
            (if g > 0 { gcd(w, g) } else { w }, max.max(w))
        });
        let di = if g > 0 { g } else { 1 };
        WrrParams {
            di,
            mw: max - (di - 1),
        }
    }

    /// A fresh cursor, as ip_vs_wrr_init_svc(): head, `cw = mw`.
    pub(crate) fn start(&self) -> WrrCursor {
        WrrCursor {
            cl: None,
            cw: self.mw,
        }
    }

    /// As ip_vs_wrr_dest_changed(): the cursor goes to the head and `cw`
    /// is kept if it still fits, rounded to the new gcd lattice otherwise.
    pub(crate) fn dest_changed(&self, old: WrrCursor) -> WrrCursor {
        let cw = if old.cw > self.mw || old.cw == 0 {
            self.mw
        } else if self.di > 1 {
            (old.cw / self.di) * self.di + 1
        } else {
            old.cw
        };
        WrrCursor { cl: None, cw }
    }
}

/// One pick (ip_vs_wrr_schedule()).
pub(crate) fn pick(p: &WrrParams, cur: &mut WrrCursor, dests: &[SchedDest]) -> Option<usize> {
    if p.mw <= 0 {
        return None;
    }
    // cw stays in 1..=mw in IPVS; a state from another scheduler build may
    // not, so pull it back rather than loop long.
    if cur.cw <= 0 || cur.cw > p.mw {
        cur.cw = p.mw;
    }
    let n = dests.len();
    cur.cl = cur.cl.filter(|&c| c < n);
    let Some(w_max) = dests
        .iter()
        .filter(|d| usable(d))
        .map(|d| i64::from(d.weight))
        .max()
    else {
        give_up(p, cur);
        return None;
    };
    walk(p, cur, dests, Some(w_max))
}

/// The kernel's search loop. It terminates: every pass lowers `cw` by
/// `di ≥ 1`, and after one wrap to `mw` the next pass at the lowest level
/// (`cw ≤ di`) either sets `stop` or leads to the `last_pass` exit.
///
/// With `skip_above = Some(w)`, `w` being the highest weight of a usable
/// real server, full passes at levels `cw > w` are not walked but jumped
/// over: they cannot find anything, and at such levels `cw > w ≥ di`, so
/// they neither wrap nor set `last_pass`/`stop`. This keeps a pick O(list)
/// when heavy servers are overloaded (IPVS would walk up to `mw / di`
/// passes). `None` walks every pass like the kernel; the tests check both
/// agree.
fn walk(
    p: &WrrParams,
    cur: &mut WrrCursor,
    dests: &[SchedDest],
    skip_above: Option<i64>,
) -> Option<usize> {
    let last = cur.cl;
    let mut pos = last;
    // IPVS starts `stop` at NULL: no entry matches until it is set.
    let mut stop: Option<usize> = None;
    let mut last_pass = false;
    let mut restarted = false;
    loop {
        let start = pos.map_or(0, |c| c + 1);
        for (i, d) in dests.iter().enumerate().skip(start) {
            if !linked(d) {
                continue;
            }
            if !d.load.is_overloaded() && i64::from(d.weight) >= cur.cw {
                cur.cl = Some(i);
                return Some(i);
            }
            if stop == Some(i) {
                return None;
            }
        }
        pos = None;
        cur.cw -= p.di;
        if cur.cw <= 0 {
            cur.cw = p.mw;
            // Either the last pass already covered every entry at the
            // lowest level, or we started at the head and the only pass
            // did.
            if last_pass || last.is_none() {
                return None;
            }
            restarted = true;
        }
        if let Some(w) = skip_above.filter(|&w| cur.cw > w) {
            // The first level of the cw, cw − di, ... sequence that is ≤ w;
            // w is a multiple of di, so it is > 0 (the max(1) only guards a
            // `dests` inconsistent with `p`).
            let passes = (cur.cw - w + p.di - 1) / p.di;
            cur.cw = (cur.cw - passes * p.di).max(1);
        }
        last_pass = cur.cw <= p.di;
        if last_pass && restarted && last.is_some() {
            // The first traversal at the lowest level covered only the
            // entries after `last`; finish with those up to it.
            stop = last;
        }
    }
}

/// The state `walk` would leave when no real server is usable, without its
/// `mw / di` passes over the list (all overloaded must not make every new
/// connection cost a long walk). From the head, or from a cursor with
/// `cw > di`, the walk ends after wrapping with `cw = mw`; from a cursor at
/// the lowest level it wraps once, descends again and stops at the lowest
/// level `((mw − 1) mod di) + 1`. Checked against `walk` in the tests.
fn give_up(p: &WrrParams, cur: &mut WrrCursor) {
    cur.cw = if cur.cl.is_some() && cur.cw <= p.di {
        (p.mw - 1) % p.di + 1
    } else {
        p.mw
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    fn sequence(weights: &[u32], n: usize) -> String {
        let ds = dests(weights);
        let p = WrrParams::new(&ds);
        let mut cur = p.start();
        (0..n)
            .map(|_| match pick(&p, &mut cur, &ds) {
                Some(i) => char::from(b'A' + i as u8),
                None => '-',
            })
            .collect()
    }

    #[test]
    fn golden_sequences_from_ip_vs_wrr() {
        assert_eq!(sequence(&[4, 3, 2], 18), "AABABCABCAABABCABC");
        assert_eq!(sequence(&[4, 2], 6), "AABAAB");
        assert_eq!(sequence(&[5, 1, 1], 14), "AAAAABCAAAAABC");
    }

    #[test]
    fn ipvsadm_add_order_reversed() {
        // Added A(4), B(3), C(2) with ipvsadm: the kernel list is C, B, A.
        let ds = dests(&[2, 3, 4]);
        let p = WrrParams::new(&ds);
        let mut cur = p.start();
        let names = ['C', 'B', 'A'];
        let out: String = (0..9)
            .map(|_| pick(&p, &mut cur, &ds).map_or('-', |i| names[i]))
            .collect();
        assert_eq!(out, "ABACBACBA");
    }

    #[test]
    fn gcd_and_max_weight() {
        assert_eq!(WrrParams::new(&dests(&[4, 2])), WrrParams { di: 2, mw: 3 });
        assert_eq!(
            WrrParams::new(&dests(&[6, 9, 0])),
            WrrParams { di: 3, mw: 7 }
        );
        assert_eq!(WrrParams::new(&dests(&[0, 0])), WrrParams { di: 1, mw: 0 });
        assert_eq!(WrrParams::new(&[]), WrrParams { di: 1, mw: 0 });
    }

    #[test]
    fn all_weights_zero_is_none_at_once() {
        assert_eq!(sequence(&[0, 0], 2), "--");
    }

    #[test]
    fn skips_weight_zero_overloaded_and_unlinked() {
        assert_eq!(sequence(&[2, 0, 1], 6), "AACAAC");
        let mut ds = dests(&[2, 2, 1, 1]);
        overload(&ds[1]);
        ds[2].available = false;
        let p = WrrParams::new(&ds);
        let mut cur = p.start();
        let out: Vec<_> = (0..6).map(|_| pick(&p, &mut cur, &ds)).collect();
        assert_eq!(out, [0, 0, 3, 0, 0, 3].map(Some));
    }

    #[test]
    fn overloaded_heavy_server_leaves_the_light_ones() {
        let ds = dests(&[5, 1, 1]);
        overload(&ds[0]);
        let p = WrrParams::new(&ds);
        let mut cur = p.start();
        let out: Vec<_> = (0..4).map(|_| pick(&p, &mut cur, &ds)).collect();
        assert_eq!(out, [1, 2, 1, 2].map(Some));
    }

    #[test]
    fn dest_changed_keeps_or_rounds_cw() {
        let p = WrrParams { di: 2, mw: 7 };
        assert_eq!(
            p.dest_changed(WrrCursor { cl: Some(1), cw: 9 }),
            WrrCursor { cl: None, cw: 7 }
        );
        assert_eq!(
            p.dest_changed(WrrCursor { cl: Some(1), cw: 0 }),
            WrrCursor { cl: None, cw: 7 }
        );
        assert_eq!(
            p.dest_changed(WrrCursor { cl: Some(1), cw: 4 }),
            WrrCursor { cl: None, cw: 5 }
        );
        let p1 = WrrParams { di: 1, mw: 7 };
        assert_eq!(
            p1.dest_changed(WrrCursor { cl: Some(1), cw: 4 }),
            WrrCursor { cl: None, cw: 4 }
        );
    }

    #[test]
    fn give_up_matches_the_walk_when_nothing_is_usable() {
        for weights in [
            &[4u32, 3, 2][..],
            &[4, 2],
            &[6, 9, 3],
            &[5],
            &[2, 2],
            &[12, 8, 0],
        ] {
            let ds = dests(weights);
            for d in &ds {
                overload(d);
            }
            let p = WrrParams::new(&ds);
            for cl in std::iter::once(None).chain((0..ds.len()).map(Some)) {
                for cw in 1..=p.mw {
                    let mut walked = WrrCursor { cl, cw };
                    assert_eq!(walk(&p, &mut walked, &ds, None), None);
                    let mut fast = WrrCursor { cl, cw };
                    give_up(&p, &mut fast);
                    assert_eq!(fast, walked, "weights {weights:?} cl {cl:?} cw {cw}");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn skipping_empty_levels_changes_nothing(
            weights in proptest::collection::vec(0u32..40, 1..6),
            overloaded in proptest::collection::vec(proptest::bool::ANY, 6),
            cl in proptest::option::of(0usize..6),
            cw_seed in 0i64..1000,
        ) {
            let ds = dests(&weights);
            for (d, &o) in ds.iter().zip(&overloaded) {
                if o {
                    overload(d);
                }
            }
            let p = WrrParams::new(&ds);
            proptest::prop_assume!(p.mw > 0);
            let start = WrrCursor { cl: cl.filter(|&c| c < ds.len()), cw: cw_seed % p.mw + 1 };
            let (mut fast, mut slow) = (start, start);
            for _ in 0..20 {
                let a = pick(&p, &mut fast, &ds);
                let b = walk(&p, &mut slow, &ds, None);
                proptest::prop_assert_eq!(a, b);
                proptest::prop_assert_eq!(fast, slow);
            }
        }
    }
}
