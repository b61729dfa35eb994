//! dh: destination hashing (ip_vs_dh.c).
//!
//! 256 buckets (`IP_VS_DH_TAB_BITS` = 8); bucket `i` holds the `i`-th real
//! server in address order (IPVS: list order; see `hash_members`), wrapping, with weights ignored. The key is the
//! packet's destination address: `hash = (ntohl(addr_fold) × 2654435761) &
//! 255`. The hashed real server is used if it is linked, has weight > 0 and
//! is not overloaded; otherwise there is no fallback and the answer is none.
//! IPVS rebuilds the table on add and delete only; since weights do not
//! enter it, rebuilding it for every snapshot gives the same table.

use std::fmt;

use crate::common::{fold_addr, hash_members, usable};
use crate::{SchedDest, SchedKey};

const BUCKETS: usize = 256;

pub(crate) struct DhTable {
    /// Index into `dests` per bucket; all `None` for an empty list.
    buckets: Box<[Option<usize>; BUCKETS]>,
}

impl fmt::Debug for DhTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhTable")
            .field("filled", &self.buckets.iter().flatten().count())
            .finish()
    }
}

/// Knuth's multiplicative hash into 8 bits, shared with sh.
pub(crate) fn bucket_of(value: u32) -> usize {
    (u64::from(value).wrapping_mul(2_654_435_761) & (BUCKETS as u64 - 1)) as usize
}

impl DhTable {
    pub(crate) fn new(dests: &[SchedDest]) -> DhTable {
        let members = hash_members(dests);
        let mut buckets = Box::new([None; BUCKETS]);
        if !members.is_empty() {
            for (i, b) in buckets.iter_mut().enumerate() {
                *b = Some(members[i % members.len()]);
            }
        }
        DhTable { buckets }
    }

    pub(crate) fn pick(&self, dests: &[SchedDest], key: &SchedKey) -> Option<usize> {
        let i = self.buckets[bucket_of(fold_addr(key.dst))]?;
        dests.get(i).filter(|d| usable(d)).map(|_| i)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::common::test_support::*;

    fn to(dst: &str) -> SchedKey {
        SchedKey {
            dst: dst.parse().unwrap(),
            ..key(1, 1000)
        }
    }

    #[test]
    fn golden_hash_values() {
        // 10.0.0.1 = 0x0a000001 and 2654435761 = 0x9e3779b1; modulo 256
        // the product is 0x01 · 0xb1 = 0xb1.
        assert_eq!(bucket_of(0x0a00_0001), 0xb1);
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(2), (2 * 0xb1) & 0xff);
    }

    #[test]
    fn buckets_cycle_through_the_list_ignoring_weights() {
        let ds = dests(&[1, 100, 1]);
        let t = DhTable::new(&ds);
        assert_eq!(t.buckets[0], Some(0));
        assert_eq!(t.buckets[1], Some(1));
        assert_eq!(t.buckets[2], Some(2));
        assert_eq!(t.buckets[255], Some(0), "255 mod 3 = 0");
    }

    #[test]
    fn destination_address_selects_the_bucket() {
        let ds = dests(&[1, 1, 1]);
        let t = DhTable::new(&ds);
        // 10.0.0.1 hashes to bucket 0xb1 = 177, 177 mod 3 = 0.
        assert_eq!(t.pick(&ds, &to("10.0.0.1")), Some(0));
        // 10.0.0.2 → 0x62 = 98, 98 mod 3 = 2.
        assert_eq!(t.pick(&ds, &to("10.0.0.2")), Some(2));
        // The source does not matter.
        let mut k = to("10.0.0.2");
        k.src = IpAddr::from([1, 2, 3, 4]);
        assert_eq!(t.pick(&ds, &k), Some(2));
    }

    #[test]
    fn ipv6_destinations_fold_their_words() {
        let ds = dests(&[1, 1, 1]);
        let t = DhTable::new(&ds);
        // Folds to 0x0a000001 like 10.0.0.1.
        assert_eq!(t.pick(&ds, &to("::a00:1")), Some(0));
    }

    #[test]
    fn unusable_hashed_server_means_none_without_fallback() {
        let mut ds = dests(&[1, 1, 1]);
        ds[0].weight = 0;
        let t = DhTable::new(&ds);
        assert_eq!(t.pick(&ds, &to("10.0.0.1")), None, "weight 0");
        ds[0].weight = 1;
        overload(&ds[0]);
        assert_eq!(t.pick(&ds, &to("10.0.0.1")), None, "overloaded");
        assert_eq!(t.pick(&ds, &to("10.0.0.2")), Some(2));
    }

    #[test]
    fn unlinked_servers_get_no_buckets_and_empty_list_is_none() {
        let mut ds = dests(&[1, 1]);
        ds[0].available = false;
        let t = DhTable::new(&ds);
        assert!(t.buckets.iter().all(|b| *b == Some(1)));
        let t = DhTable::new(&[]);
        assert_eq!(t.pick(&[], &to("10.0.0.1")), None);
    }
}
