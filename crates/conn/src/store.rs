//! Storage of one shard for one address family: the entry slots, their
//! index, and the owner's free list. Generic over the entry width `W`
//! (8 words for IPv4, 14 for IPv6), so the two families share every line of
//! logic but not memory (an IPv6 entry cannot fit IPv4's 64 bytes).
//!
//! Writers: only the owning worker allocates, writes, publishes, unpublishes
//! and frees (`alloc`, `publish`, `unpublish_free`). Readers (any worker):
//! `find` and `read`. The free list is a FIFO threaded through the `CTRL`
//! word of free slots, so a freed slot is reused only after every other free
//! slot has been, which keeps the window for stale-id confusion as wide as
//! the table (the generation check closes it regardless).

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::flags::ConnFlags;
use crate::hash::KeyHasher;
use crate::index::{Index, KeyKind};
use crate::slot::{decode, encode, Fields, Slot, KEY_INPUT, KEY_OUTPUT, KEY_TEMPLATE, V4_WORDS};

const NIL: u32 = u32::MAX;

/// `n` values from `make` in one allocation that the kernel is asked to
/// back with huge pages before it is first written: the table's slots and
/// index are read at random, and on 4 KiB pages a large table misses the
/// TLB on nearly every lookup (bench/README.md, "table_size").
pub(crate) fn huge_boxed<T>(n: usize, make: impl FnMut() -> T) -> Box<[T]> {
    let mut v = Vec::with_capacity(n);
    xvs_hint::advise_huge_pages(v.spare_capacity_mut());
    v.extend(std::iter::repeat_with(make).take(n));
    v.into_boxed_slice()
}

/// A lookup key. Addresses are u128 (IPv4 in the low 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub kind: KeyKind,
    pub proto: u8,
    pub a: u128,
    pub pa: u16,
    pub b: u128,
    pub pb: u16,
}

impl Key {
    pub(crate) fn input(f: &Fields) -> Key {
        Key {
            kind: KeyKind::Input,
            proto: f.proto,
            a: f.caddr,
            pa: f.cport,
            b: f.vaddr,
            pb: f.vport,
        }
    }

    pub(crate) fn output(f: &Fields) -> Key {
        Key {
            kind: KeyKind::Output,
            proto: f.proto,
            a: f.daddr,
            pa: f.dport,
            b: f.laddr,
            pb: f.lport,
        }
    }

    /// Template key ⟨proto, client net, vaddr, vport⟩ (REFERENCE §3): the
    /// client port is not part of it.
    pub(crate) fn template(proto: u8, cnet: u128, vaddr: u128, vport: u16) -> Key {
        Key {
            kind: KeyKind::Template,
            proto,
            a: cnet,
            pa: 0,
            b: vaddr,
            pb: vport,
        }
    }

    /// The keys `f` is indexed under, per its key bits.
    pub(crate) fn all_of(f: &Fields) -> impl Iterator<Item = Key> {
        let tpl = Key::template(f.proto, f.caddr, f.vaddr, f.vport);
        let keys = f.keys;
        [
            (KEY_INPUT, Key::input(f)),
            (KEY_OUTPUT, Key::output(f)),
            (KEY_TEMPLATE, tpl),
        ]
        .into_iter()
        .filter(move |(bit, _)| keys & bit != 0)
        .map(|(_, k)| k)
    }

    /// Hash of the key for an index of entry width `W`.
    pub(crate) fn hash<const W: usize>(&self, h: &KeyHasher) -> u64 {
        let meta = ((self.kind as u64) << 48)
            | (u64::from(self.proto) << 32)
            | (u64::from(self.pa) << 16)
            | u64::from(self.pb);
        if W == V4_WORDS {
            // IPv4 addresses fit 32 bits each: one word for both.
            h.hash(&[((self.a as u64) << 32) | (self.b as u32 as u64), meta])
        } else {
            h.hash(&[
                (self.a >> 64) as u64,
                self.a as u64,
                (self.b >> 64) as u64,
                self.b as u64,
                meta,
            ])
        }
    }

    /// Does entry `f` carry this key (and is it still indexed under it)?
    pub(crate) fn matches(&self, f: &Fields) -> bool {
        let flags = ConnFlags(f.flags);
        if !flags.contains(ConnFlags::HASHED) || f.proto != self.proto {
            return false;
        }
        let tpl = flags.contains(ConnFlags::TEMPLATE);
        match self.kind {
            KeyKind::Input => {
                !tpl && f.keys & KEY_INPUT != 0
                    && (f.caddr, f.cport, f.vaddr, f.vport) == (self.a, self.pa, self.b, self.pb)
            }
            KeyKind::Output => {
                !tpl && f.keys & KEY_OUTPUT != 0
                    && (f.daddr, f.dport, f.laddr, f.lport) == (self.a, self.pa, self.b, self.pb)
            }
            KeyKind::Template => {
                tpl && f.keys & KEY_TEMPLATE != 0
                    && (f.caddr, f.vaddr, f.vport) == (self.a, self.b, self.pb)
            }
        }
    }
}

/// An entry counts as present while its timer runs, and also after it ran
/// out as long as it still controls others: its expiry would re-arm it
/// (REFERENCE §3, ip_vs_conn_expire()).
pub(crate) fn alive(f: &Fields, now: u32) -> bool {
    now < f.expires || f.n_controlled > 0
}

/// One shard's storage for one family.
#[derive(Debug)]
pub(crate) struct Store<const W: usize> {
    slots: Box<[Slot<W>]>,
    index: Index,
    free_head: AtomicU32,
    free_tail: AtomicU32,
    /// Live entries (owner writes, anyone reads).
    live: AtomicUsize,
    /// Where the owner's next search for an entry to evict starts
    /// ([`crate::Eviction`]); apart from the expiry cursor so a flood's
    /// evictions do not make the sweep skip slots.
    evict_cursor: AtomicUsize,
}

impl<const W: usize> Store<W> {
    /// All memory for `capacity` entries (capacity ≤ 2^24, checked by the
    /// table).
    pub(crate) fn new(capacity: usize) -> Store<W> {
        let slots: Box<[Slot<W>]> = huge_boxed(capacity, Slot::default);
        for (i, s) in slots.iter().enumerate() {
            // i + 1 < capacity ≤ 2^24 fits u32.
            s.set_link(if i + 1 < capacity {
                (i + 1) as u32
            } else {
                NIL
            });
        }
        let (head, tail) = if capacity == 0 {
            (NIL, NIL)
        } else {
            (0, (capacity - 1) as u32)
        };
        Store {
            slots,
            index: Index::new(capacity),
            free_head: AtomicU32::new(head),
            free_tail: AtomicU32::new(tail),
            live: AtomicUsize::new(0),
            evict_cursor: AtomicUsize::new(0),
        }
    }

    /// Owner: the eviction cursor (any value; callers reduce it).
    pub(crate) fn evict_cursor(&self) -> usize {
        self.evict_cursor.load(Ordering::Relaxed)
    }

    pub(crate) fn set_evict_cursor(&self, at: usize) {
        self.evict_cursor.store(at, Ordering::Relaxed);
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot<W>>() + self.index.bytes()
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    pub(crate) fn slot(&self, i: usize) -> Option<&Slot<W>> {
        self.slots.get(i)
    }

    /// Reader: the live entry in slot `i`, decoded.
    pub(crate) fn read(&self, i: usize) -> Option<Fields> {
        self.slots.get(i)?.read().map(|w| decode(&w))
    }

    /// Reader: the slot and generation of a present entry with `key`.
    pub(crate) fn find(&self, hash: u64, key: &Key, now: u32) -> Option<(u32, u32)> {
        self.index.find(hash, key.kind, |slot| {
            let f = self.read(slot as usize)?;
            (key.matches(&f) && alive(&f, now)).then_some((slot, f.seq))
        })
    }

    /// Reader: the slot of a present entry with `key` and the consistent
    /// copy of it the key was compared against (so a caller that wants the
    /// entry does not read the slot a second time).
    pub(crate) fn find_fields(&self, hash: u64, key: &Key, now: u32) -> Option<(u32, Fields)> {
        self.index.find(hash, key.kind, |slot| {
            let f = self.read(slot as usize)?;
            (key.matches(&f) && alive(&f, now)).then_some((slot, f))
        })
    }

    /// Owner: take a free slot, returning it with the generation its next
    /// entry will have.
    pub(crate) fn alloc(&self) -> Option<(u32, u32)> {
        let head = self.free_head.load(Ordering::Relaxed);
        let slot = self.slots.get(head as usize)?;
        let next = slot.link();
        self.free_head.store(next, Ordering::Relaxed);
        if next == NIL {
            self.free_tail.store(NIL, Ordering::Relaxed);
        }
        // A free slot's seq is ≡ 0 mod 4; +2 is its next live value.
        Some((head, slot.seq().wrapping_add(2)))
    }

    /// Owner: return a free (never published or already freed) slot to the
    /// tail of the free list.
    pub(crate) fn release(&self, i: u32) {
        let Some(slot) = self.slots.get(i as usize) else {
            return;
        };
        slot.set_link(NIL);
        let tail = self.free_tail.load(Ordering::Relaxed);
        match self.slots.get(tail as usize) {
            Some(t) => t.set_link(i),
            None => self.free_head.store(i, Ordering::Relaxed),
        }
        self.free_tail.store(i, Ordering::Relaxed);
    }

    /// Owner: write `f` into the allocated slot `i` and index it under its
    /// keys. On the (sizing-excluded) failure to index, everything is
    /// undone and the slot released.
    pub(crate) fn publish(&self, i: u32, f: &Fields, hasher: &KeyHasher) -> bool {
        let Some(slot) = self.slots.get(i as usize) else {
            return false;
        };
        slot.write(&encode::<W>(f));
        for (done, key) in Key::all_of(f).enumerate() {
            if !self.index.insert(key.hash::<W>(hasher), key.kind, i) {
                for k in Key::all_of(f).take(done) {
                    self.index.remove(k.hash::<W>(hasher), k.kind, i);
                }
                slot.free();
                self.release(i);
                return false;
            }
        }
        // Owner only: a plain load and store, no locked add.
        self.live
            .store(self.live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        true
    }

    /// Owner: unindex entry `f` in slot `i`, free the slot and recycle it.
    pub(crate) fn unpublish_free(&self, i: u32, f: &Fields, hasher: &KeyHasher) {
        let Some(slot) = self.slots.get(i as usize) else {
            return;
        };
        for key in Key::all_of(f) {
            self.index.remove(key.hash::<W>(hasher), key.kind, i);
        }
        slot.free();
        self.release(i);
        self.live
            .store(self.live.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
    }

    /// Free-list length (tests).
    #[cfg(test)]
    pub(crate) fn free_len(&self) -> usize {
        let mut n = 0;
        let mut cur = self.free_head.load(Ordering::Relaxed);
        while let Some(s) = self.slots.get(cur as usize) {
            n += 1;
            cur = s.link();
            if n > self.slots.len() {
                break;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u32, c: u32, cport: u16, keys: u8) -> Fields {
        Fields {
            seq,
            proto: 6,
            keys,
            flags: (ConnFlags::HASHED | ConnFlags::INACTIVE).bits(),
            expires: 100,
            caddr: u128::from(c),
            cport,
            vaddr: 0xC612_0A64,
            vport: 80,
            daddr: 0x0A00_000B,
            dport: 80,
            laddr: u128::from(c),
            lport: cport,
            ..Fields::default()
        }
    }

    #[test]
    fn free_list_is_fifo_and_complete() {
        let s: Store<V4_WORDS> = Store::new(3);
        assert_eq!(s.free_len(), 3);
        let (a, ga) = s.alloc().unwrap_or((99, 0));
        let (b, _) = s.alloc().unwrap_or((99, 0));
        assert_eq!((a, b, ga), (0, 1, 2));
        s.release(a);
        let (c, _) = s.alloc().unwrap_or((99, 0));
        assert_eq!(c, 2, "slot 0 went to the tail");
        let (d, _) = s.alloc().unwrap_or((99, 0));
        assert_eq!(d, 0);
        assert_eq!(s.alloc(), None);
        assert_eq!(s.free_len(), 0);
        s.release(1);
        assert_eq!(s.free_len(), 1);
    }

    #[test]
    fn publish_find_unpublish() {
        let h = KeyHasher::new(3);
        let s: Store<V4_WORDS> = Store::new(4);
        let (i, gen) = s.alloc().unwrap_or((99, 0));
        let f = entry(gen, 0xC633_6432, 40000, KEY_INPUT | KEY_OUTPUT);
        assert!(s.publish(i, &f, &h));
        assert_eq!(s.len(), 1);
        let kin = Key::input(&f);
        let kout = Key::output(&f);
        assert_eq!(s.find(kin.hash::<V4_WORDS>(&h), &kin, 50), Some((i, gen)));
        assert_eq!(s.find(kout.hash::<V4_WORDS>(&h), &kout, 50), Some((i, gen)));
        // Expired → absent.
        assert_eq!(s.find(kin.hash::<V4_WORDS>(&h), &kin, 100), None);
        // A different port is a different key.
        let mut other = kin;
        other.pa = 40001;
        assert_eq!(s.find(other.hash::<V4_WORDS>(&h), &other, 50), None);
        s.unpublish_free(i, &f, &h);
        assert_eq!(s.find(kin.hash::<V4_WORDS>(&h), &kin, 50), None);
        assert_eq!(s.len(), 0);
        assert_eq!(s.index().used_words(), 0);
        assert_eq!(s.free_len(), 4);
    }

    #[test]
    fn unindexed_kind_never_matches() {
        // An entry indexed only under its input key does not answer an
        // output lookup even if the tag collided.
        let f = entry(2, 1, 1, KEY_INPUT);
        assert!(Key::input(&f).matches(&f));
        assert!(!Key::output(&f).matches(&f));
        let mut t = f;
        t.flags |= ConnFlags::TEMPLATE.bits();
        assert!(
            !Key::input(&t).matches(&t),
            "templates are a separate key space"
        );
        let mut unhashed = f;
        unhashed.flags &= !ConnFlags::HASHED.bits();
        assert!(!Key::input(&unhashed).matches(&unhashed));
    }
}
