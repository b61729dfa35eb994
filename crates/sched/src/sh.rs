//! sh: source hashing (ip_vs_sh.c), with the `sh-port` and `sh-fallback`
//! flags.
//!
//! 256 buckets, rebuilt on add/del/edit: walking the real servers in
//! address order (IPVS: list order; see `hash_members`), wrapping, each
//! real server takes `weight` consecutive buckets, and a weight-0 one still
//! takes one. The key is the client address (IPv6 folded) and, with
//! `sh-port`, the client port for TCP/UDP/SCTP:
//! `hash(off) = (off + (ntohs(port) + ntohl(addr)) × 2654435761) & 255`.
//! A real server is unavailable when its weight is 0 or it is overloaded.
//! Without `sh-fallback` the answer is bucket `hash(0)` or none; with it, an
//! unavailable first choice leads to buckets `hash((k + ihash) mod 256)` for
//! `k = 0..255`, the first available one winning and an empty bucket ending
//! the search.

use std::fmt;

use crate::common::{fold_addr, hash_members, hashed_port};
use crate::{SchedDest, SchedKey};
use xvs_config::SchedFlags;

const BUCKETS: usize = 256;

pub(crate) struct ShTable {
    buckets: Box<[Option<usize>; BUCKETS]>,
}

impl fmt::Debug for ShTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShTable")
            .field("filled", &self.buckets.iter().flatten().count())
            .finish()
    }
}

/// ip_vs_sh_hashkey().
fn hash(addr: u32, port: u16, offset: u32) -> usize {
    let v = u32::from(port).wrapping_add(addr);
    (u64::from(offset).wrapping_add(u64::from(v).wrapping_mul(2_654_435_761))
        & (BUCKETS as u64 - 1)) as usize
}

/// ip_vs_sh.c `is_unavailable()`: weight ≤ 0 or `F_OVERLOAD`.
fn available(d: &SchedDest) -> bool {
    d.available && d.weight > 0 && !d.load.is_overloaded()
}

impl ShTable {
    /// As ip_vs_sh_reassign().
    pub(crate) fn new(dests: &[SchedDest]) -> ShTable {
        let members = hash_members(dests);
        let mut buckets = Box::new([None; BUCKETS]);
        if !members.is_empty() {
            let mut m = 0;
            let mut count = 0u32;
            for b in buckets.iter_mut() {
                let i = members[m];
                *b = Some(i);
                count += 1;
                // `>=` lets a weight-0 server keep one bucket.
                if count >= dests[i].weight {
                    m = (m + 1) % members.len();
                    count = 0;
                }
            }
        }
        ShTable { buckets }
    }

    pub(crate) fn pick(
        &self,
        dests: &[SchedDest],
        key: &SchedKey,
        flags: SchedFlags,
    ) -> Option<usize> {
        let addr = fold_addr(key.src);
        let port = hashed_port(key.protocol, key.src_port, flags.port);
        let at = |bucket: usize| -> Option<(usize, bool)> {
            let i = self.buckets[bucket]?;
            Some((i, dests.get(i).is_some_and(available)))
        };
        let ihash = hash(addr, port, 0);
        let (first, ok) = at(ihash)?;
        if ok {
            return Some(first);
        }
        if !flags.fallback {
            return None;
        }
        for k in 0..BUCKETS {
            let roffset = ((k + ihash) % BUCKETS) as u32;
            let (i, ok) = at(hash(addr, port, roffset))?;
            if ok {
                return Some(i);
            }
        }
        None
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
    fn golden_hash_values() {
        // 203.0.113.1 = 0xcb007101: low byte 0x01 · 0xb1 = 0xb1.
        assert_eq!(hash(0xcb00_7101, 0, 0), 0xb1);
        // Port 80 adds 0x50: (0x51 · 0xb1) & 0xff = 0x01.
        assert_eq!(hash(0xcb00_7101, 80, 0), 0x01);
        assert_eq!(hash(0xcb00_7101, 0, 5), 0xb6);
    }

    #[test]
    fn buckets_follow_weights_and_weight_zero_gets_one() {
        let ds = dests(&[2, 0, 3]);
        let t = ShTable::new(&ds);
        let head: Vec<_> = t.buckets[..8].iter().map(|b| b.unwrap()).collect();
        assert_eq!(head, [0, 0, 1, 2, 2, 2, 0, 0]);
        let counts = [0, 1, 2].map(|i| t.buckets.iter().filter(|b| **b == Some(i)).count());
        // 256 = 42 rounds of 6 + 4 (0,0,1,2).
        assert_eq!(counts, [86, 43, 127]);
    }

    #[test]
    fn same_client_same_server_and_port_only_with_flag() {
        let ds = dests(&[1, 1, 1, 1]);
        let t = ShTable::new(&ds);
        let a = t.pick(&ds, &key(1, 1000), NONE);
        assert!(a.is_some());
        for port in [1, 2, 3, 5000] {
            assert_eq!(
                t.pick(&ds, &key(1, port), NONE),
                a,
                "port ignored without sh-port"
            );
        }
        // With sh-port the port moves the bucket: 0xb1 → 0x01.
        assert_eq!(t.pick(&ds, &key(1, 80), PORT), Some(1));
        assert_eq!(t.pick(&ds, &key(1, 0), PORT), Some(0xb1 % 4));
        let mut icmp = key(1, 80);
        icmp.protocol = 1;
        assert_eq!(t.pick(&ds, &icmp, PORT), Some(0xb1 % 4), "no port for ICMP");
    }

    #[test]
    fn unavailable_first_choice_without_fallback_is_none() {
        let ds = dests(&[1, 1, 1, 1]);
        let t = ShTable::new(&ds);
        let k = key(1, 0);
        let i = t.pick(&ds, &k, NONE).unwrap();
        overload(&ds[i]);
        assert_eq!(t.pick(&ds, &k, NONE), None);
    }

    #[test]
    fn fallback_walks_the_offsets() {
        let mut ds = dests(&[1, 1, 1, 1]);
        let t = ShTable::new(&ds);
        let k = key(1, 0); // ihash 0xb1 = 177 → server 177 mod 4 = 1.
        assert_eq!(t.pick(&ds, &k, FALLBACK), Some(1));
        ds[1].weight = 0;
        // k = 0: hash(177) = (177 + 177) & 255 = 98 → server 2.
        assert_eq!(t.pick(&ds, &k, FALLBACK), Some(2));
        ds[2].weight = 0;
        // k = 1: hash(178) = 99 → server 3.
        assert_eq!(t.pick(&ds, &k, FALLBACK), Some(3));
        ds[3].weight = 0;
        ds[0].weight = 0;
        assert_eq!(t.pick(&ds, &k, FALLBACK), None);
    }

    #[test]
    fn empty_list_is_none() {
        let t = ShTable::new(&[]);
        assert_eq!(t.pick(&[], &key(1, 1), FALLBACK), None);
    }
}
