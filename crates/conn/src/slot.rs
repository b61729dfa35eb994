//! One connection entry as a fixed array of atomic words, with a seqlock for
//! the fields written once at insert and tagged compare-and-swap for the
//! fields any worker may update.
//!
//! Word layout (IPv4: 8 words = one 64-byte cache line; IPv6: 14 words,
//! padded to 128 bytes by the 64-byte alignment):
//!
//! | word | bits | field | written by |
//! |---|---|---|---|
//! | 0 `SEQ` | 0..32 seq, 32..40 protocol, 40..43 which keys are indexed | seqlock | owner |
//! | 1 `DEST` | 0..32 dest_id, 32..56 n_controlled, 56..64 tag | CAS | owner at insert; any worker (n_controlled) |
//! | 2 `CTRL` | controller `ConnId` (0 = none); free-list link while free | plain | owner |
//! | 3 `STATE` | 0..24 flags, 24..32 state, 32..56 timeout s, 56..64 tag | CAS | owner at insert; any worker |
//! | 4 `TIMER` | 0..32 expires_at s, 32..56 in_pkts, 56..64 tag | CAS | owner at insert; any worker |
//! | 5 `PORTS` | cport, vport, dport, lport (16 bits each, high to low) | plain | owner |
//! | 6.. `ADDRS` | caddr, vaddr, daddr, laddr (IPv4: 2 words; IPv6: 8) | plain | owner |
//!
//! **Seqlock.** The low two bits of `seq` give the slot's phase: 0 free,
//! 1 being written, 2 live, 3 (unused, odd = being written). The owner
//! inserts by storing seq+1, a Release fence, all other words, then seq+2
//! with Release; it frees by storing seq+2 (live → free). A reader loads seq
//! (Acquire), copies every word, issues an Acquire fence and reloads seq:
//! the copy is used only if seq was live and did not change. Keys, addresses,
//! ports, protocol, dest_id and controller change only while seq is odd or
//! across a free, both of which change seq, so **a reader can never return a
//! torn key**: any copy that overlapped a write is discarded. The live
//! `seq` value is also the entry's generation, carried in its `ConnId`, so a
//! stale id (slot freed or reused) fails its seq comparison.
//!
//! **Tagged updates.** `DEST`, `STATE` and `TIMER` hold fields other
//! workers change after insert (TCP state and flags on a reply, the idle
//! timer, packet count, template reference count). They are changed only by
//! CAS loops, never by plain stores, and each carries the low 8 bits of
//! `seq >> 2` of the entry it belongs to. An updater checks `seq` against its
//! id's generation and then CASes only a word whose tag matches, so an
//! update through a stale id cannot land on the next entry in the slot: the
//! owner rewrites all three words with the new tag at reinsert (a stale CAS
//! racing that rewrite fails because the word changed). These words are not
//! covered by the seqlock (updating them does not bump seq); a copy sees
//! each of them atomically, i.e. every field is some value it really had.

use std::sync::atomic::{fence, AtomicU64, Ordering};

pub(crate) const SEQ: usize = 0;
pub(crate) const DEST: usize = 1;
pub(crate) const CTRL: usize = 2;
pub(crate) const STATE: usize = 3;
pub(crate) const TIMER: usize = 4;
pub(crate) const PORTS: usize = 5;
pub(crate) const ADDRS: usize = 6;

/// IPv4 entry words: 6 fixed + 2 address words.
pub(crate) const V4_WORDS: usize = 8;
/// IPv6 entry words: 6 fixed + 8 address words.
pub(crate) const V6_WORDS: usize = 14;

/// Bits in the `SEQ` word saying under which keys the entry is indexed
/// (needed to unpublish it: NOOUTPUT may have been cleared since insert).
pub(crate) const KEY_INPUT: u8 = 1;
pub(crate) const KEY_OUTPUT: u8 = 2;
pub(crate) const KEY_TEMPLATE: u8 = 4;

/// Largest 24-bit field value (timeout, in_pkts, n_controlled).
pub(crate) const MAX24: u32 = (1 << 24) - 1;

const TAG_SHIFT: u32 = 56;
const LOW56: u64 = (1 << TAG_SHIFT) - 1;

/// The phase of a `seq` value.
pub(crate) fn is_live(seq: u32) -> bool {
    seq & 3 == 2
}

/// The tag a live entry with generation `seq` writes into its CAS words.
pub(crate) fn tag_of(seq: u32) -> u64 {
    u64::from((seq >> 2) & 0xFF)
}

/// Tag of a CAS word.
pub(crate) fn word_tag(w: u64) -> u64 {
    w >> TAG_SHIFT
}

/// Replace a CAS word's tag.
pub(crate) fn with_tag(w: u64, tag: u64) -> u64 {
    (w & LOW56) | (tag << TAG_SHIFT)
}

/// One entry slot of `W` words, cache-line aligned.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct Slot<const W: usize> {
    words: [AtomicU64; W],
}

impl<const W: usize> Default for Slot<W> {
    fn default() -> Self {
        Slot {
            words: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Every field of an entry, decoded (addresses as u128; IPv4 in the low 32
/// bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    pub seq: u32,
    pub proto: u8,
    pub keys: u8,
    pub dest_id: u32,
    pub n_controlled: u32,
    pub controller: u64,
    pub flags: u32,
    pub state: u8,
    pub timeout: u32,
    pub expires: u32,
    pub in_pkts: u32,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    pub lport: u16,
    pub caddr: u128,
    pub vaddr: u128,
    pub daddr: u128,
    pub laddr: u128,
}

/// Pack the `DEST` word.
pub(crate) fn dest_word(dest_id: u32, n_controlled: u32, tag: u64) -> u64 {
    u64::from(dest_id) | (u64::from(n_controlled.min(MAX24)) << 32) | (tag << TAG_SHIFT)
}

pub(crate) fn dest_n_controlled(w: u64) -> u32 {
    ((w >> 32) as u32) & MAX24
}

/// Pack the `STATE` word.
pub(crate) fn state_word(flags: u32, state: u8, timeout: u32, tag: u64) -> u64 {
    u64::from(flags & 0x00FF_FFFF)
        | (u64::from(state) << 24)
        | (u64::from(timeout.min(MAX24)) << 32)
        | (tag << TAG_SHIFT)
}

pub(crate) fn state_flags(w: u64) -> u32 {
    (w as u32) & 0x00FF_FFFF
}

pub(crate) fn state_state(w: u64) -> u8 {
    (w >> 24) as u8
}

pub(crate) fn state_timeout(w: u64) -> u32 {
    ((w >> 32) as u32) & MAX24
}

/// Pack the `TIMER` word.
pub(crate) fn timer_word(expires: u32, in_pkts: u32, tag: u64) -> u64 {
    u64::from(expires) | (u64::from(in_pkts & MAX24) << 32) | (tag << TAG_SHIFT)
}

pub(crate) fn timer_expires(w: u64) -> u32 {
    w as u32
}

pub(crate) fn timer_in_pkts(w: u64) -> u32 {
    ((w >> 32) as u32) & MAX24
}

/// Encode `f` (with generation `f.seq`) into `W` words.
pub(crate) fn encode<const W: usize>(f: &Fields) -> [u64; W] {
    let tag = tag_of(f.seq);
    let mut w = [0u64; W];
    w[SEQ] = u64::from(f.seq) | (u64::from(f.proto) << 32) | (u64::from(f.keys) << 40);
    w[DEST] = dest_word(f.dest_id, f.n_controlled, tag);
    w[CTRL] = f.controller;
    w[STATE] = state_word(f.flags, f.state, f.timeout, tag);
    w[TIMER] = timer_word(f.expires, f.in_pkts, tag);
    w[PORTS] = (u64::from(f.cport) << 48)
        | (u64::from(f.vport) << 32)
        | (u64::from(f.dport) << 16)
        | u64::from(f.lport);
    if W == V4_WORDS {
        // IPv4 addresses occupy the low 32 bits of their u128.
        w[ADDRS] = ((f.caddr as u64) << 32) | (f.vaddr as u32 as u64);
        w[ADDRS + 1] = ((f.daddr as u64) << 32) | (f.laddr as u32 as u64);
    } else {
        for (i, a) in [f.caddr, f.vaddr, f.daddr, f.laddr].into_iter().enumerate() {
            w[ADDRS + 2 * i] = (a >> 64) as u64;
            w[ADDRS + 2 * i + 1] = a as u64;
        }
    }
    w
}

/// Decode `W` words into fields.
pub(crate) fn decode<const W: usize>(w: &[u64; W]) -> Fields {
    let addrs: [u128; 4] = if W == V4_WORDS {
        [
            u128::from((w[ADDRS] >> 32) as u32),
            u128::from(w[ADDRS] as u32),
            u128::from((w[ADDRS + 1] >> 32) as u32),
            u128::from(w[ADDRS + 1] as u32),
        ]
    } else {
        std::array::from_fn(|i| {
            (u128::from(w[ADDRS + 2 * i]) << 64) | u128::from(w[ADDRS + 2 * i + 1])
        })
    };
    Fields {
        seq: w[SEQ] as u32,
        proto: (w[SEQ] >> 32) as u8,
        keys: (w[SEQ] >> 40) as u8,
        dest_id: w[DEST] as u32,
        n_controlled: dest_n_controlled(w[DEST]),
        controller: w[CTRL],
        flags: state_flags(w[STATE]),
        state: state_state(w[STATE]),
        timeout: state_timeout(w[STATE]),
        expires: timer_expires(w[TIMER]),
        in_pkts: timer_in_pkts(w[TIMER]),
        cport: (w[PORTS] >> 48) as u16,
        vport: (w[PORTS] >> 32) as u16,
        dport: (w[PORTS] >> 16) as u16,
        lport: w[PORTS] as u16,
        caddr: addrs[0],
        vaddr: addrs[1],
        daddr: addrs[2],
        laddr: addrs[3],
    }
}

impl<const W: usize> Slot<W> {
    /// The current `seq` word's sequence number.
    pub(crate) fn seq(&self) -> u32 {
        self.words[SEQ].load(Ordering::Acquire) as u32
    }

    /// Seqlock read: a consistent copy of a live entry, or `None` if the
    /// slot is not live or changed while being copied.
    pub(crate) fn read(&self) -> Option<[u64; W]> {
        let s1 = self.words[SEQ].load(Ordering::Acquire);
        if !is_live(s1 as u32) {
            return None;
        }
        let mut out = [0u64; W];
        out[SEQ] = s1;
        for (o, w) in out.iter_mut().zip(&self.words).skip(1) {
            *o = w.load(Ordering::Relaxed);
        }
        // Pairs with the writer's Release fence: if any word above came from
        // a later write, the reload below sees the odd/advanced seq.
        fence(Ordering::Acquire);
        let s2 = self.words[SEQ].load(Ordering::Relaxed);
        (s1 == s2).then_some(out)
    }

    /// Owner only: write a new entry into a free slot. `words[SEQ]` must
    /// carry the new live seq (current free seq + 2).
    pub(crate) fn write(&self, words: &[u64; W]) {
        let cur = self.words[SEQ].load(Ordering::Relaxed);
        // Odd phase: readers discard anything they copy from now on.
        self.words[SEQ].store(cur.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (w, &v) in self.words.iter().zip(words).skip(1) {
            w.store(v, Ordering::Relaxed);
        }
        self.words[SEQ].store(words[SEQ], Ordering::Release);
    }

    /// Owner only: free a live slot (seq live → next free value). The words
    /// stay until the next `write`; readers and stale ids see seq change.
    pub(crate) fn free(&self) {
        let cur = self.words[SEQ].load(Ordering::Relaxed);
        // Keep protocol/key bits irrelevant: a free slot is only its phase.
        let next = u64::from((cur as u32).wrapping_add(2));
        self.words[SEQ].store(next, Ordering::Release);
    }

    /// Owner only: the free-list link stored in a free slot's `CTRL` word.
    pub(crate) fn link(&self) -> u32 {
        self.words[CTRL].load(Ordering::Relaxed) as u32
    }

    pub(crate) fn set_link(&self, next: u32) {
        self.words[CTRL].store(u64::from(next), Ordering::Relaxed);
    }

    /// Tagged CAS update of word `idx` of the entry with generation `gen`.
    /// `f` maps the current word to the new one (tag bits are forced to the
    /// entry's tag) or `None` to leave it. Returns (old, new) on success,
    /// `None` if the id is stale or `f` declined.
    pub(crate) fn update(
        &self,
        idx: usize,
        gen: u32,
        mut f: impl FnMut(u64) -> Option<u64>,
    ) -> Option<(u64, u64)> {
        if self.seq() != gen {
            return None;
        }
        let tag = tag_of(gen);
        let word = &self.words[idx];
        let mut cur = word.load(Ordering::Acquire);
        loop {
            if word_tag(cur) != tag {
                return None;
            }
            let new = with_tag(f(cur)?, tag);
            if new == cur {
                return Some((cur, new));
            }
            match word.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some((cur, new)),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Owner only, while freeing: move word `idx` to the next tag if `ok`
    /// accepts its current value, so no holder of this entry's id can change
    /// it any more. `Err(current)` if `ok` refused (or the tag is not this
    /// entry's). The retagged word is then changed by the owner alone.
    pub(crate) fn retag_if(
        &self,
        idx: usize,
        gen: u32,
        ok: impl Fn(u64) -> bool,
    ) -> Result<(), u64> {
        let tag = tag_of(gen);
        let next = (tag + 1) & 0xFF;
        let word = &self.words[idx];
        let mut cur = word.load(Ordering::Acquire);
        loop {
            if word_tag(cur) != tag || !ok(cur) {
                return Err(cur);
            }
            match word.compare_exchange_weak(
                cur,
                with_tag(cur, next),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Owner only: undo [`Slot::retag_if`] when the free is abandoned. No
    /// other thread can change a retagged word, so a plain store is exact.
    pub(crate) fn restore_tag(&self, idx: usize, gen: u32) {
        let word = &self.words[idx];
        let cur = word.load(Ordering::Acquire);
        word.store(with_tag(cur, tag_of(gen)), Ordering::Release);
    }

    /// The whole `SEQ` word (seq, protocol, key bits).
    pub(crate) fn meta(&self) -> u64 {
        self.words[SEQ].load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u32) -> Fields {
        Fields {
            seq,
            proto: 6,
            keys: KEY_INPUT | KEY_OUTPUT,
            dest_id: 0xDEAD_BEEF,
            n_controlled: 3,
            controller: 0x1234_5678_9ABC_DEF0,
            flags: 0x0100,
            state: 1,
            timeout: 900,
            expires: 1_000_900,
            in_pkts: 42,
            cport: 51234,
            vport: 80,
            dport: 8080,
            lport: 51234,
            caddr: 0xC633_6432, // 198.51.100.50
            vaddr: 0xC612_0A64, // 198.18.10.100
            daddr: 0x0A00_000B, // 10.0.0.11
            laddr: 0xC633_6432,
        }
    }

    #[test]
    fn v4_entry_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot<V4_WORDS>>(), 64);
        assert_eq!(std::mem::align_of::<Slot<V4_WORDS>>(), 64);
        assert_eq!(std::mem::size_of::<Slot<V6_WORDS>>(), 128);
    }

    #[test]
    fn v4_golden_words() {
        let w = encode::<V4_WORDS>(&sample(6));
        // seq 6 → tag 1.
        assert_eq!(w[SEQ], 0x0000_0306_0000_0006);
        assert_eq!(w[DEST], 0x0100_0003_DEAD_BEEF);
        assert_eq!(w[STATE], 0x0100_0384_0100_0100);
        assert_eq!(w[TIMER], 0x0100_002A_000F_45C4);
        assert_eq!(w[PORTS], 0xC822_0050_1F90_C822);
        assert_eq!(w[ADDRS], 0xC633_6432_C612_0A64);
        assert_eq!(w[ADDRS + 1], 0x0A00_000B_C633_6432);
        assert_eq!(decode(&w), sample(6));
    }

    #[test]
    fn v6_round_trip() {
        let mut f = sample(10);
        f.caddr = 0xfd00_0000_0000_0000_0000_0000_0000_0050;
        f.vaddr = 0xfd00_0000_0000_0000_0000_0000_0000_0100;
        f.daddr = 0xfd00_0000_0000_0000_0000_0000_0000_0011;
        f.laddr = 0xfd00_0000_0000_0000_ffff_0000_0000_0001;
        let w = encode::<V6_WORDS>(&f);
        assert_eq!(w[ADDRS], 0xfd00_0000_0000_0000);
        assert_eq!(w[ADDRS + 7], 0xffff_0000_0000_0001);
        assert_eq!(decode(&w), f);
    }

    #[test]
    fn wide_fields_saturate_into_24_bits() {
        let mut f = sample(2);
        f.timeout = u32::MAX;
        f.n_controlled = u32::MAX;
        let d = decode(&encode::<V4_WORDS>(&f));
        assert_eq!(d.timeout, MAX24);
        assert_eq!(d.n_controlled, MAX24);
    }

    #[test]
    fn seqlock_phases_and_stale_updates() {
        let s: Slot<V4_WORDS> = Slot::default();
        assert_eq!(s.read(), None, "free slot reads as absent");
        let w = encode::<V4_WORDS>(&sample(2));
        s.write(&w);
        assert_eq!(s.read(), Some(w));
        // A live update through the right generation works.
        let r = s.update(TIMER, 2, |t| Some(timer_word(5, timer_in_pkts(t) + 1, 0)));
        assert!(r.is_some());
        assert_eq!(decode(&s.read().unwrap_or([0; V4_WORDS])).in_pkts, 43);
        // Wrong generation fails.
        assert_eq!(s.update(TIMER, 6, Some), None);
        // Freed: reads fail, old-generation updates fail.
        s.free();
        assert_eq!(s.seq(), 4);
        assert_eq!(s.read(), None);
        assert_eq!(s.update(STATE, 2, Some), None);
        // Reused with generation 6 (tag 1): an update carrying generation 2
        // still fails on the seq check, and the tag differs too.
        s.write(&encode::<V4_WORDS>(&sample(6)));
        assert_eq!(s.update(STATE, 2, Some), None);
        assert_ne!(
            word_tag(s.read().unwrap_or([0; V4_WORDS])[STATE]),
            tag_of(2)
        );
    }

    #[test]
    fn retag_refuses_while_controlling_and_blocks_stale_updates() {
        let s: Slot<V4_WORDS> = Slot::default();
        s.write(&encode::<V4_WORDS>(&sample(2)));
        let zero = |d: u64| dest_n_controlled(d) == 0;
        assert!(s.retag_if(DEST, 2, zero).is_err());
        for _ in 0..3 {
            assert!(s
                .update(DEST, 2, |d| Some(dest_word(
                    d as u32,
                    dest_n_controlled(d) - 1,
                    0
                )))
                .is_some());
        }
        assert_eq!(s.retag_if(DEST, 2, zero), Ok(()));
        // After retagging, increments through the id fail...
        assert_eq!(s.update(DEST, 2, |d| Some(d + (1 << 32))), None);
        // ...until the owner restores the tag.
        s.restore_tag(DEST, 2);
        assert!(s.update(DEST, 2, |d| Some(d + (1 << 32))).is_some());
    }
}
