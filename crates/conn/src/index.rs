//! The open-addressing index of one shard and address family: key hash →
//! slot number, in atomics so any worker can probe it while its one owner
//! inserts and removes.
//!
//! Layout: an array of cache-line [`Group`]s. Each holds seven key words and
//! one overflow counter. A key word packs the slot number (bits 0..24), the
//! key kind (bits 24..26: input, output or template key, so the three key
//! spaces never match each other) and 32 bits of the key's hash as a tag
//! (bits 32..64); 0 is an empty word. A key hashes to a home group and is
//! stored in the first group, walking forward from home, that has an empty
//! word.
//!
//! Deletion without tombstones: each group counts the keys stored *beyond* it
//! whose probe walk passed through it (F14-style overflow counts). A lookup
//! scans a group and stops at the first group whose counter is 0, so a
//! removed key's word simply becomes empty again and its walk's counters are
//! decremented; nothing accumulates, and a table that has seen any amount of
//! churn probes exactly as far as its live keys require. A probe visits at
//! most every group once, so lookups terminate even if counters are being
//! changed under them.
//!
//! Sizing: [`INDEX_WORDS_PER_SLOT`] key words per entry slot. An entry has
//! at most two keys (input and output), so the index is at most half full
//! and insertion always finds an empty word.
//!
//! Concurrency: only the shard owner stores key words and counters. It
//! writes an entry completely (under the entry seqlock) before publishing
//! its key words with Release stores, and unpublishes key words before
//! freeing the entry, so a reader that finds a word (Acquire) and then
//! validates the entry's seqlock and full key never returns a wrong entry:
//! the tag only narrows the search.

use std::sync::atomic::{AtomicU64, Ordering};

/// Key words per group (the eighth word of the cache line is the counter).
pub(crate) const GROUP_WORDS: usize = 7;

/// Index key words allocated per entry slot: 2 keys per entry at most, so
/// the maximum load factor is 1/2.
pub(crate) const INDEX_WORDS_PER_SLOT: usize = 4;

/// Largest slot number a key word can carry (24 bits).
pub(crate) const MAX_SLOTS: usize = 1 << 24;

const SLOT_MASK: u64 = (1 << 24) - 1;
const EMPTY: u64 = 0;

/// Which of an entry's keys a key word stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// ⟨proto, caddr, cport, vaddr, vport⟩ of a connection.
    Input = 1,
    /// ⟨proto, daddr, dport, laddr, lport⟩ of a connection that sees replies.
    Output = 2,
    /// ⟨proto, client net, vaddr, vport⟩ of a persistence template.
    Template = 3,
}

/// One cache line of the index.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Group {
    /// Number of keys stored beyond this group whose walk passed through it.
    overflow: AtomicU64,
    words: [AtomicU64; GROUP_WORDS],
}

/// The index of one shard and family.
#[derive(Debug)]
pub(crate) struct Index {
    groups: Box<[Group]>,
}

fn key_word(hash: u64, kind: KeyKind, slot: u32) -> u64 {
    (hash << 32) | ((kind as u64) << 24) | (u64::from(slot) & SLOT_MASK)
}

/// The bits of a key word that identify the key (kind and tag).
fn pattern(hash: u64, kind: KeyKind) -> u64 {
    key_word(hash, kind, 0) >> 24
}

impl Index {
    /// An index for `slots` entry slots, all memory allocated here.
    pub(crate) fn new(slots: usize) -> Index {
        let words = slots.saturating_mul(INDEX_WORDS_PER_SLOT);
        let n = words.div_ceil(GROUP_WORDS).max(1);
        Index {
            groups: crate::store::huge_boxed(n, Group::default),
        }
    }

    /// Bytes of index memory.
    pub(crate) fn bytes(&self) -> usize {
        self.groups.len() * std::mem::size_of::<Group>()
    }

    fn home(&self, hash: u64) -> usize {
        // Lemire's range reduction: the high half of hash × n is uniform in
        // 0..n without a division. The result is < n, which fits usize.
        ((u128::from(hash) * self.groups.len() as u128) >> 64) as usize
    }

    fn next(&self, g: usize) -> usize {
        if g + 1 == self.groups.len() {
            0
        } else {
            g + 1
        }
    }

    /// Start loading the group a key with `hash` is looked up in first.
    #[inline]
    pub(crate) fn prefetch_home(&self, hash: u64) {
        if let Some(g) = self.groups.get(self.home(hash)) {
            xvs_hint::prefetch(g);
        }
    }

    /// The slot of the first key word in `hash`'s home group with its kind
    /// and tag: where a lookup will most likely read, for a prefetch.
    #[inline]
    pub(crate) fn home_match(&self, hash: u64, kind: KeyKind) -> Option<u32> {
        let want = pattern(hash, kind);
        let group = self.groups.get(self.home(hash))?;
        group.words.iter().find_map(|w| {
            let v = w.load(Ordering::Relaxed);
            // Masked to 24 bits: fits u32.
            (v != EMPTY && v >> 24 == want).then_some((v & SLOT_MASK) as u32)
        })
    }

    /// Reader (any thread): call `check` with each slot whose key word
    /// matches `hash` and `kind`, in probe order, until it returns `Some`.
    /// Always inlined, so a large `R` stays in registers (see `lookup4`).
    #[inline(always)]
    pub(crate) fn find<R>(
        &self,
        hash: u64,
        kind: KeyKind,
        mut check: impl FnMut(u32) -> Option<R>,
    ) -> Option<R> {
        let want = pattern(hash, kind);
        let mut g = self.home(hash);
        for _ in 0..self.groups.len() {
            let group = &self.groups[g];
            for w in &group.words {
                let v = w.load(Ordering::Acquire);
                if v != EMPTY && v >> 24 == want {
                    // Masked to 24 bits: fits u32.
                    if let Some(r) = check((v & SLOT_MASK) as u32) {
                        return Some(r);
                    }
                }
            }
            if group.overflow.load(Ordering::Acquire) == 0 {
                return None;
            }
            g = self.next(g);
        }
        None
    }

    /// Owner only: publish `slot` under `hash`/`kind`. False only if the
    /// index has no empty word, which sizing rules out (at most half full).
    pub(crate) fn insert(&self, hash: u64, kind: KeyKind, slot: u32) -> bool {
        let home = self.home(hash);
        let mut g = home;
        for _ in 0..self.groups.len() {
            let group = &self.groups[g];
            if let Some(w) = group
                .words
                .iter()
                .find(|w| w.load(Ordering::Relaxed) == EMPTY)
            {
                // Counters first: a reader that sees the key word must also
                // walk far enough to reach it.
                let mut h = home;
                while h != g {
                    self.groups[h].overflow.fetch_add(1, Ordering::Release);
                    h = self.next(h);
                }
                w.store(key_word(hash, kind, slot), Ordering::Release);
                return true;
            }
            g = self.next(g);
        }
        false
    }

    /// Owner only: unpublish `slot`'s key word for `hash`/`kind`. False if
    /// it was not there.
    pub(crate) fn remove(&self, hash: u64, kind: KeyKind, slot: u32) -> bool {
        let target = key_word(hash, kind, slot);
        let home = self.home(hash);
        let mut g = home;
        for _ in 0..self.groups.len() {
            let group = &self.groups[g];
            if let Some(w) = group
                .words
                .iter()
                .find(|w| w.load(Ordering::Relaxed) == target)
            {
                w.store(EMPTY, Ordering::Release);
                // Then shorten the walk: readers in flight may probe one
                // group further than needed, never one too few.
                let mut h = home;
                while h != g {
                    self.groups[h].overflow.fetch_sub(1, Ordering::Release);
                    h = self.next(h);
                }
                return true;
            }
            if group.overflow.load(Ordering::Relaxed) == 0 {
                return false;
            }
            g = self.next(g);
        }
        false
    }

    #[cfg(test)]
    pub(crate) fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Sum of all overflow counters (tests: must return to 0 when empty).
    #[cfg(test)]
    pub(crate) fn total_overflow(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| g.overflow.load(Ordering::Relaxed))
            .sum()
    }

    /// Number of non-empty key words (tests).
    #[cfg(test)]
    pub(crate) fn used_words(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| g.words.iter())
            .filter(|w| w.load(Ordering::Relaxed) != EMPTY)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(ix: &Index, hash: u64, kind: KeyKind) -> Vec<u32> {
        let mut v = Vec::new();
        ix.find(hash, kind, |s| {
            v.push(s);
            None::<()>
        });
        v
    }

    #[test]
    fn group_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Group>(), 64);
        assert_eq!(std::mem::align_of::<Group>(), 64);
    }

    #[test]
    fn kinds_are_separate_key_spaces() {
        let ix = Index::new(8);
        assert!(ix.insert(0xABCD_0000_1234, KeyKind::Input, 5));
        assert_eq!(all(&ix, 0xABCD_0000_1234, KeyKind::Input), [5]);
        assert!(all(&ix, 0xABCD_0000_1234, KeyKind::Output).is_empty());
        assert!(all(&ix, 0xABCD_0000_1234, KeyKind::Template).is_empty());
    }

    #[test]
    fn colliding_keys_overflow_and_removal_restores_counters() {
        // Two groups' worth of keys with the same hash: all land in or after
        // the home group, and every one is found.
        let ix = Index::new(8); // 32 words → 5 groups
        assert_eq!(ix.groups(), 5);
        let h = 0x1234_5678_9ABC_DEF0;
        for slot in 0..20 {
            assert!(ix.insert(h, KeyKind::Input, slot));
        }
        assert_eq!(all(&ix, h, KeyKind::Input), (0..20).collect::<Vec<_>>());
        assert!(ix.total_overflow() > 0);
        for slot in (0..20).rev() {
            assert!(ix.remove(h, KeyKind::Input, slot));
        }
        assert_eq!(ix.total_overflow(), 0);
        assert_eq!(ix.used_words(), 0);
        assert!(!ix.remove(h, KeyKind::Input, 3));
    }

    #[test]
    fn churn_leaves_nothing_behind() {
        // Insert/remove many distinct keys repeatedly: with no tombstones the
        // index returns to all-empty, all-zero counters.
        let ix = Index::new(16);
        for round in 0..50u64 {
            let keys: Vec<u64> = (0..30)
                .map(|i| (i * 0x9E37_79B9 + round) << 40 | i)
                .collect();
            for (slot, &k) in keys.iter().enumerate() {
                assert!(ix.insert(k, KeyKind::Output, slot as u32));
            }
            for (slot, &k) in keys.iter().enumerate() {
                assert_eq!(all(&ix, k, KeyKind::Output).first(), Some(&(slot as u32)));
            }
            for (slot, &k) in keys.iter().enumerate() {
                assert!(ix.remove(k, KeyKind::Output, slot as u32));
            }
            assert_eq!(ix.used_words(), 0);
            assert_eq!(ix.total_overflow(), 0);
        }
    }

    #[test]
    fn full_index_refuses_and_lookups_terminate() {
        let ix = Index::new(1); // 4 words → 1 group of 7
        for slot in 0..7 {
            assert!(ix.insert(slot as u64, KeyKind::Input, slot));
        }
        assert!(!ix.insert(99, KeyKind::Input, 7));
        assert!(all(&ix, 12345, KeyKind::Input).is_empty());
    }
}
