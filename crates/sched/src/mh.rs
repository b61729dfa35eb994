//! mh: Maglev hashing (ip_vs_mh.c; Eisenbud et al., "Maglev: A Fast and
//! Reliable Software Network Load Balancer", NSDI 2016, §3.4), with the
//! `mh-port` and `mh-fallback` flags.
//!
//! * **Table.** `M` slots, `M` prime. IPVS picks `M` at build time from
//!   {251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071}
//!   (default 4093); xvs takes any prime up to [`MH_MAX_TABLE_SIZE`] from the
//!   service config. More real servers than slots is an error (-EINVAL).
//! * **Hash.** `h(addr, port, key, offset) = hsiphash(u32(offset +
//!   ntohs(port) + ntohl(addr_fold)), key)` with the fixed keys below (the
//!   64-bit kernel form of hsiphash, see `siphash`).
//! * **Turns.** From `last_weight`, so a quiesced real server (weight 0)
//!   keeps its slots: `g` = gcd of the positive last weights, `rshift =
//!   max(0, fls(max/g) − TAB_BITS)`, `turns = (lw/g) >> rshift`, or 1 if that
//!   is 0 and `lw ≠ 0`. `TAB_BITS` is `CONFIG_IP_VS_MH_TAB_INDEX / 2` in
//!   IPVS (6 for 4093), which is `fls(M) / 2` for every prime in its list;
//!   xvs uses `fls(M) / 2` for any `M`.
//! * **Populate.** Per real server (its own address and port, offset 0):
//!   `offset = h1 % M`, `skip = h2 % (M − 1) + 1`. Rounds over the real
//!   servers in address order (IPVS: list order; see `hash_members`, which
//!   makes the table the same on every director of a fleet); each real server with turns ≥ 1 claims `turns` slots in a row,
//!   each time stepping its position by `skip` (mod M) past claimed slots,
//!   until all `M` are claimed. `M` prime makes every `skip` visit every slot.
//! * **Lookup.** Slot `h1(client addr, port, 0) % M` (port only with
//!   `mh-port` and TCP/UDP/SCTP); its real server is unavailable when its
//!   weight is 0 or it is overloaded. With `mh-fallback`, slots
//!   `h1(addr, port, (k + ihash) mod M) % M` for `k = 0..M−1` are tried in
//!   turn, the first available wins and an empty slot ends the search.

use std::fmt;
use std::net::IpAddr;

use crate::common::{fold_addr, hash_members, hashed_port};
use crate::siphash::hsiphash_u32;
use crate::{SchedDest, SchedError, SchedKey};
use xvs_config::SchedFlags;

/// IPVS's default table size (`CONFIG_IP_VS_MH_TAB_INDEX` 12).
pub const MH_DEFAULT_TABLE_SIZE: u32 = 4093;
/// The largest table xvs builds (4 MiB of slots); IPVS stops at 131071.
pub const MH_MAX_TABLE_SIZE: u32 = 1 << 20;

/// ip_vs_mh.c generate_hash_secret(): fixed, so every director (and every
/// reload) builds the same table from the same real servers.
const HASH1: [u64; 2] = [2_654_435_761, 2_654_435_761];
const HASH2: [u64; 2] = [2_654_446_892, 2_654_446_892];

const EMPTY: u32 = u32::MAX;

pub(crate) struct MhTable {
    size: u32,
    /// Index into `dests` per slot, `EMPTY` when unfilled.
    lookup: Box<[u32]>,
}

impl fmt::Debug for MhTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MhTable").field("size", &self.size).finish()
    }
}

/// ip_vs_mh_hashkey().
fn hashkey(addr: IpAddr, port: u16, key: [u64; 2], offset: u32) -> u32 {
    hsiphash_u32(
        offset
            .wrapping_add(u32::from(port))
            .wrapping_add(fold_addr(addr)),
        key,
    )
}

fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    let n = u64::from(n);
    (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

/// Find last set bit, 1-based (the kernel's `fls()`); 0 for 0.
fn fls(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// `TAB_BITS` for a table of `size` slots (see the module doc).
fn tab_bits(size: u32) -> u32 {
    fls(size) / 2
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Slots each real server claims per round (ip_vs_mh_gcd_weight(),
/// ip_vs_mh_shift_weight() and the `turns` line of ip_vs_mh_permutate()).
fn turns(last_weights: &[u32], size: u32) -> Vec<u32> {
    let g = last_weights
        .iter()
        .filter(|&&w| w > 0)
        .fold(0, |g, &w| if g > 0 { gcd(w, g) } else { w });
    if g == 0 {
        return vec![0; last_weights.len()];
    }
    let max = last_weights.iter().copied().max().unwrap_or(0);
    let shift = fls(max / g).saturating_sub(tab_bits(size));
    last_weights
        .iter()
        .map(|&lw| match (lw / g) >> shift {
            0 => u32::from(lw != 0),
            t => t,
        })
        .collect()
}

impl MhTable {
    pub(crate) fn new(size: u32, dests: &[SchedDest]) -> Result<MhTable, SchedError> {
        if !(2..=MH_MAX_TABLE_SIZE).contains(&size) {
            return Err(SchedError::MhTableSizeOutOfRange {
                size,
                max: MH_MAX_TABLE_SIZE,
            });
        }
        if !is_prime(size) {
            return Err(SchedError::MhTableSizeNotPrime { size });
        }
        let members = hash_members(dests);
        let too_many = || SchedError::MhTooManyDests {
            dests: members.len(),
            slots: size,
        };
        if members.len() > size as usize {
            return Err(too_many());
        }
        let mut lookup = vec![EMPTY; size as usize].into_boxed_slice();
        let lws: Vec<u32> = members.iter().map(|&i| dests[i].last_weight).collect();
        let turns = turns(&lws, size);
        if turns.iter().all(|&t| t == 0) {
            // No positive last_weight: IPVS resets the table to empty.
            return Ok(MhTable { size, lookup });
        }
        struct Setup {
            dest: u32,
            perm: u32,
            skip: u32,
            turns: u32,
        }
        let mut setups = Vec::with_capacity(members.len());
        for (&i, &t) in members.iter().zip(&turns) {
            let d = &dests[i];
            setups.push(Setup {
                dest: u32::try_from(i).map_err(|_| too_many())?,
                perm: hashkey(d.addr, d.port, HASH1, 0) % size,
                skip: hashkey(d.addr, d.port, HASH2, 0) % (size - 1) + 1,
                turns: t,
            });
        }
        // As ip_vs_mh_populate(). Terminates: some server has turns ≥ 1, and
        // with M prime each server's probe sequence visits every slot, so
        // while a slot is free every claim finds one.
        let mut taken = vec![false; size as usize];
        let mut filled = 0u32;
        'rounds: loop {
            for s in setups.iter_mut().filter(|s| s.turns >= 1) {
                for _ in 0..s.turns {
                    while taken[s.perm as usize] {
                        s.perm += s.skip;
                        if s.perm >= size {
                            s.perm -= size;
                        }
                    }
                    taken[s.perm as usize] = true;
                    lookup[s.perm as usize] = s.dest;
                    filled += 1;
                    if filled == size {
                        break 'rounds;
                    }
                }
            }
        }
        Ok(MhTable { size, lookup })
    }

    /// Slot → real server, if the slot is filled.
    fn at(&self, slot: u32) -> Option<usize> {
        match self.lookup.get(slot as usize) {
            Some(&i) if i != EMPTY => Some(i as usize),
            _ => None,
        }
    }

    pub(crate) fn pick(
        &self,
        dests: &[SchedDest],
        key: &SchedKey,
        flags: SchedFlags,
    ) -> Option<usize> {
        // ip_vs_mh.c is_unavailable(): weight ≤ 0 or F_OVERLOAD.
        let available = |i: usize| {
            dests
                .get(i)
                .is_some_and(|d| d.available && d.weight > 0 && !d.load.is_overloaded())
        };
        let port = hashed_port(key.protocol, key.src_port, flags.port);
        let ihash = hashkey(key.src, port, HASH1, 0) % self.size;
        let first = self.at(ihash)?;
        if available(first) {
            return Some(first);
        }
        if !flags.fallback || !(0..dests.len()).any(available) {
            // With nothing available the walk below could only end in
            // none, after up to M hashes per new connection: skip it.
            return None;
        }
        for k in 0..self.size {
            // k + ihash < 2M ≤ 2^21: no overflow.
            let roffset = (k + ihash) % self.size;
            let i = self.at(hashkey(key.src, port, HASH1, roffset) % self.size)?;
            if available(i) {
                return Some(i);
            }
        }
        None
    }

    /// How many slots each of `dests` owns (for tests and `list` output).
    pub(crate) fn slot_counts(&self, n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        for &i in self.lookup.iter() {
            if let Some(c) = counts.get_mut(i as usize) {
                *c += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::*;

    const NONE: SchedFlags = SchedFlags {
        fallback: false,
        port: false,
    };
    const FALLBACK: SchedFlags = SchedFlags {
        fallback: true,
        port: false,
    };
    const PORT: SchedFlags = SchedFlags {
        fallback: false,
        port: true,
    };

    #[test]
    fn table_size_must_be_a_prime_in_range() {
        let ds = dests(&[1]);
        assert_eq!(
            MhTable::new(4095, &ds).unwrap_err(),
            SchedError::MhTableSizeNotPrime { size: 4095 }
        );
        assert!(matches!(
            MhTable::new(1, &ds),
            Err(SchedError::MhTableSizeOutOfRange { size: 1, .. })
        ));
        assert!(matches!(
            MhTable::new(MH_MAX_TABLE_SIZE + 7, &ds),
            Err(SchedError::MhTableSizeOutOfRange { .. })
        ));
        for size in [251, 4093, 65521, 65537, 131071] {
            assert!(MhTable::new(size, &ds).is_ok(), "{size} is prime");
        }
    }

    #[test]
    fn more_servers_than_slots_is_rejected() {
        let ds = dests(&[1, 1, 1, 1]);
        assert_eq!(
            MhTable::new(3, &ds).unwrap_err(),
            SchedError::MhTooManyDests { dests: 4, slots: 3 }
        );
        let mut ds = ds;
        ds[3].available = false;
        assert!(
            MhTable::new(3, &ds).is_ok(),
            "unlinked servers do not count"
        );
    }

    #[test]
    fn tab_bits_match_the_kernel_config_index() {
        let primes = [
            251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
        ];
        for (index, m) in (8u32..).zip(primes) {
            assert_eq!(tab_bits(m), index / 2, "M = {m}");
        }
    }

    #[test]
    fn turns_use_gcd_and_shift() {
        assert_eq!(turns(&[2, 4, 6], 4093), [1, 2, 3]);
        // max/g = 100 needs 7 bits > 6: shift 1, and 1 >> 1 = 0 → 1.
        assert_eq!(turns(&[1, 100], 4093), [1, 50]);
        assert_eq!(turns(&[0, 3], 4093), [0, 1]);
        assert_eq!(turns(&[0, 0], 4093), [0, 0]);
        // A larger table keeps more resolution: 8 bits for 65521.
        assert_eq!(turns(&[1, 200], 65521), [1, 200]);
        assert_eq!(turns(&[1, 200], 4093), [1, 50]);
    }

    #[test]
    fn three_equal_servers_share_251_slots_in_thirds() {
        let ds = dests(&[1, 1, 1]);
        let t = MhTable::new(251, &ds).unwrap();
        let counts = t.slot_counts(3);
        assert_eq!(counts.iter().sum::<usize>(), 251);
        // One slot per server per round: 83 full rounds plus 2.
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [83, 84, 84], "{counts:?}");
        assert_eq!(counts, [84, 84, 83], "rounds start at the list head");
    }

    #[test]
    fn slots_follow_last_weight() {
        let ds = dests(&[1, 2]);
        let t = MhTable::new(251, &ds).unwrap();
        // Rounds of 1 + 2: 83 rounds = 249, then 1 + 1.
        assert_eq!(t.slot_counts(2), [84, 167]);
    }

    #[test]
    fn added_with_weight_zero_gets_no_slot() {
        let ds = dests(&[1, 0]);
        let t = MhTable::new(251, &ds).unwrap();
        assert_eq!(t.slot_counts(2), [251, 0]);
        let t = MhTable::new(251, &dests(&[0, 0])).unwrap();
        assert_eq!(t.slot_counts(2), [0, 0]);
        assert_eq!(t.pick(&dests(&[0, 0]), &key(1, 1), FALLBACK), None);
    }

    #[test]
    fn quiesced_server_keeps_its_slots_but_gets_no_new_clients() {
        let mut ds = dests(&[1, 1, 1]);
        let before = MhTable::new(251, &ds).unwrap();
        ds[1].weight = 0; // last_weight stays 1
        let t = MhTable::new(251, &ds).unwrap();
        assert_eq!(t.slot_counts(3), before.slot_counts(3));
        let mut hit = 0;
        for n in 1..=200u8 {
            let k = key(n, 0);
            let first = before.pick(&ds, &k, NONE);
            let again = t.pick(&ds, &k, NONE);
            assert_eq!(first, again);
            if t.at(hashkey(k.src, 0, HASH1, 0) % 251) == Some(1) {
                hit += 1;
                assert_eq!(again, None, "quiesced and no fallback");
                let fb = t.pick(&ds, &k, FALLBACK);
                assert!(
                    matches!(fb, Some(0) | Some(2)),
                    "fallback finds another: {fb:?}"
                );
            }
        }
        assert!(hit > 0, "some client hashes to the quiesced server");
    }

    #[test]
    fn overloaded_server_is_unavailable() {
        let ds = dests(&[1, 1]);
        let t = MhTable::new(251, &ds).unwrap();
        let k = key(7, 0);
        let i = t.pick(&ds, &k, NONE).unwrap();
        overload(&ds[i]);
        assert_eq!(t.pick(&ds, &k, NONE), None);
        assert_eq!(t.pick(&ds, &k, FALLBACK), Some(1 - i));
    }

    #[test]
    fn port_is_hashed_only_with_mh_port() {
        let ds = dests(&[1, 1, 1, 1, 1, 1, 1, 1]);
        let t = MhTable::new(4093, &ds).unwrap();
        let plain: Vec<_> = (0..64).map(|p| t.pick(&ds, &key(1, p), NONE)).collect();
        assert!(plain.windows(2).all(|w| w[0] == w[1]));
        let ported: Vec<_> = (0..64).map(|p| t.pick(&ds, &key(1, p), PORT)).collect();
        assert!(ported.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn every_slot_filled_with_linked_servers_only() {
        let mut ds = dests(&[3, 1, 2, 5]);
        ds[2].available = false;
        let t = MhTable::new(509, &ds).unwrap();
        let counts = t.slot_counts(4);
        assert_eq!(counts.iter().sum::<usize>(), 509);
        assert_eq!(counts[2], 0);
    }

    #[test]
    fn golden_table_from_an_independent_implementation() {
        // Expected values computed by a separate Python transcription of
        // lib/siphash.c (64-bit hsiphash) and ip_vs_mh_populate().
        let dst = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(hashkey(dst("198.18.0.1"), 80, HASH1, 0), 0xf343_3d3d);
        assert_eq!(hashkey(dst("198.18.0.1"), 80, HASH2, 0), 0x7a9a_2524);
        let ds = dests(&[1, 1, 2]);
        let t = MhTable::new(251, &ds).unwrap();
        let head: Vec<u32> = t.lookup[..24].to_vec();
        assert_eq!(
            head,
            [0, 1, 2, 2, 0, 1, 1, 2, 1, 2, 2, 2, 2, 2, 0, 2, 2, 1, 1, 2, 2, 0, 0, 1]
        );
        assert_eq!(t.slot_counts(3), [63, 63, 125]);
        for (client, slot, server) in [
            ("203.0.113.1", 102, 0),
            ("203.0.113.2", 159, 1),
            ("203.0.113.3", 240, 1),
            ("203.0.113.4", 0, 0),
            ("10.0.0.1", 110, 0),
            ("192.168.1.77", 214, 0),
        ] {
            let k = SchedKey {
                src: dst(client),
                ..key(1, 0)
            };
            assert_eq!(hashkey(k.src, 0, HASH1, 0) % 251, slot, "{client}");
            assert_eq!(t.pick(&ds, &k, NONE), Some(server), "{client}");
        }
    }

    /// Fraction of slots whose real server (by address) differs between
    /// the tables for `ds` and for `ds` without entry `gone`.
    fn moved_after_removing(ds: &[SchedDest], gone: usize, size: u32) -> f64 {
        let mut after = ds.to_vec();
        after.remove(gone);
        let (t1, t2) = (
            MhTable::new(size, ds).unwrap(),
            MhTable::new(size, &after).unwrap(),
        );
        let owner = |t: &MhTable, list: &[SchedDest], slot: u32| t.at(slot).map(|i| list[i].addr);
        let moved = (0..size)
            .filter(|&s| owner(&t1, ds, s) != owner(&t2, &after, s))
            .count();
        moved as f64 / f64::from(size)
    }

    fn skip_of(d: &SchedDest, size: u32) -> u32 {
        hashkey(d.addr, d.port, HASH2, 0) % (size - 1) + 1
    }

    /// Removing one of N real servers moves its 1/N of the slots plus a
    /// little: over 400 random pools (N = 2..=20, seeded, so the test is
    /// deterministic) the excess averages under 2 % and stays within 3 % in
    /// at least 97 % of pools. Not every pool: Maglev's bound assumes
    /// distinct permutations, and a pair of servers with equal `skip` (about
    /// 1 in 4092 per pair) or nearly aligned sequences can move far more
    /// (see `colliding_skips_break_the_disruption_bound`); in 20 000 pools
    /// about 0.3 % exceeded 3 %.
    #[test]
    fn removing_one_of_n_moves_about_one_nth() {
        let mut rng = crate::rng::SplitMix64::new(0x6d68);
        let pools = 400;
        let (mut total_excess, mut within) = (0.0, 0);
        for _ in 0..pools {
            let n = 2 + (rng.next_u32() % 19) as usize;
            let ds: Vec<SchedDest> = (0..n)
                .map(|_| SchedDest {
                    addr: IpAddr::from(rng.next_u32().to_be_bytes()),
                    ..dest(1, 1)
                })
                .collect();
            let gone = rng.next_u32() as usize % n;
            let excess = moved_after_removing(&ds, gone, MH_DEFAULT_TABLE_SIZE) - 1.0 / n as f64;
            total_excess += excess;
            if excess <= 0.03 {
                within += 1;
            }
        }
        let mean = total_excess / f64::from(pools);
        assert!(mean <= 0.02, "mean excess {mean:.4}");
        assert!(
            within * 100 >= pools * 97,
            "{within} of {pools} pools within 1/N + 3%"
        );
    }

    #[test]
    fn removing_one_of_a_realistic_pool_moves_about_one_nth() {
        // 198.18.0.1..N:80 for every N up to 20, each server removed in turn.
        for n in 2..=20u8 {
            let ds: Vec<SchedDest> = (1..=n).map(|i| dest(i, 1)).collect();
            for gone in 0..ds.len() {
                let moved = moved_after_removing(&ds, gone, MH_DEFAULT_TABLE_SIZE);
                assert!(
                    moved <= 1.0 / f64::from(n) + 0.03,
                    "N {n}, removed {gone}: {moved:.3}"
                );
            }
        }
    }

    #[test]
    fn colliding_skips_break_the_disruption_bound() {
        // Found by the property test: these two addresses get the same skip
        // (2918 of 4093), so their probe sequences are one cycle shifted.
        // Removing a third server lets them chase each other around it and
        // reshuffles most of the table. This is IPVS's behaviour too (the
        // keys are fixed); the chance is about 1 in 4092 per pair.
        let a = SchedDest {
            addr: IpAddr::from(3_103_410_205u32.to_be_bytes()),
            ..dest(1, 1)
        };
        let b = SchedDest {
            addr: IpAddr::from(2_726_842_711u32.to_be_bytes()),
            ..dest(1, 1)
        };
        let c = SchedDest {
            addr: IpAddr::from([0, 0, 0, 0]),
            ..dest(1, 1)
        };
        assert_eq!(skip_of(&a, 4093), 2918);
        assert_eq!(skip_of(&b, 4093), 2918);
        let moved = moved_after_removing(&[c, a, b], 0, 4093);
        assert!(moved > 0.6, "{moved:.3}");
    }
}
