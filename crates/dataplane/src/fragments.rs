//! The per-worker fragment map: how the pieces of a fragmented datagram
//! follow its first fragment, without reassembly.
//!
//! Only the first fragment (offset 0) carries the TCP/UDP header, so only
//! it can be looked up in the connection table and scheduled. IPVS
//! reassembles first (nf_defrag) and fragments again on the way out; a
//! director on AF_XDP cannot hold a datagram's memory hostage, so xvs does
//! what a stateless router does with fragments and forwards each one, and
//! remembers per datagram what the first fragment got. A datagram is
//! keyed as the kernel keys reassembly: IPv4 ⟨source, destination,
//! protocol, identification⟩ (ip_fragment.c, inet_frag), IPv6 ⟨source,
//! destination, identification⟩ (RFC 8200 §4.5: the protocol is not part
//! of it). The first fragment records its decision under the key; later
//! fragments, in any order, look it up and get the same treatment.
//!
//! Later fragments that arrive before the first are held: their bytes are
//! copied into a small pool of fixed slots ([`HOLD_SLOTS`] per worker, at
//! most [`HOLD_PER_DATAGRAM`] per datagram, none larger than
//! [`HOLD_BYTES`]), so the AF_XDP frame goes straight back to the fill
//! ring, and are released to be processed again once the first fragment
//! has decided. What cannot be held is dropped and counted.
//!
//! Bounds: the map is [`BUCKETS`] × [`WAYS`] datagrams, set-associative
//! (a key may only live in the ways of its bucket), so a lookup or insert
//! touches at most [`WAYS`] slots; buckets are chosen with a keyed SipHash
//! so a sender cannot aim every datagram at one bucket. A new datagram in
//! a full bucket takes the way idle longest (its held fragments, if any,
//! are dropped and counted): a flood then churns through its own entries,
//! and a real datagram, whose pieces arrive within microseconds of each
//! other, keeps its entry as long as it needs one unless the flood
//! replaces a whole bucket in that time. Nothing is allocated after
//! construction. An entry goes as soon as fragments
//! covering its whole datagram have been handled, so the map holds only
//! datagrams in flight; otherwise it lives [`FRAG_TIMEOUT_SECS`] after
//! its last fragment: the kernel waits ipfrag_time (30 s) and RFC
//! 8200 §4.5 60 s because a reassembler needs every piece, but the pieces
//! of one datagram leave their sender within microseconds, and a short
//! life both frees the map quickly after a flood of bogus fragments and
//! keeps a stale decision from being applied to a new datagram that
//! reuses the identification (the 16-bit IPv4 ID wraps in seconds at high
//! rates; RFC 4963 §2).
//!
//! Why one worker sees every fragment: NICs hash fragments for RSS on the
//! addresses only (the L4 ports are absent from later fragments, so the
//! Toeplitz input for IPv4/IPv6 fragments is the 2-tuple whatever the
//! configured hash fields), so all fragments of a datagram arrive on one
//! queue and so at one worker. A NIC that hashed the first fragment on the
//! 4-tuple would send it to another queue than the rest; the map of the
//! worker that sees only the rest would hold them until they time out
//! (counted as `frag_timeout`) and the datagram would be lost, as it
//! would be without this map.
//!
//! Layer: dataplane. Sans-IO: takes keys, frames and `now`.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;

/// Buckets of the map.
pub(crate) const BUCKETS: usize = 128;
/// Datagrams per bucket.
pub(crate) const WAYS: usize = 8;
/// How long a datagram's entry lives after its last fragment, seconds.
pub(crate) const FRAG_TIMEOUT_SECS: u32 = 5;
/// Fragments held at once per worker while their first fragment is awaited.
pub(crate) const HOLD_SLOTS: usize = 64;
/// Fragments of one datagram held at once (a 9000-byte datagram over a
/// 1500-byte MTU is 7 fragments).
pub(crate) const HOLD_PER_DATAGRAM: u8 = 16;
/// Largest frame that can be held (a 1500-byte MTU plus Ethernet and two
/// VLAN tags fits).
pub(crate) const HOLD_BYTES: usize = 2048;

/// A datagram, as the kernel keys reassembly (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 protocol; 0 for IPv6, whose key has none.
    pub protocol: u8,
    pub ident: u32,
}

impl FragKey {
    pub(crate) fn new(src: IpAddr, dst: IpAddr, protocol: u8, ident: u32) -> FragKey {
        FragKey {
            src,
            dst,
            protocol: if src.is_ipv4() { protocol } else { 0 },
            ident,
        }
    }
}

/// Why a fragment could not be held or a datagram not be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FragFull {
    /// The map has no way for the key (only with zero ways: a full bucket
    /// evicts its longest idle entry instead).
    Map,
    /// The hold pool, or this datagram's share of it, is full, or the
    /// frame is larger than a slot.
    Hold,
}

/// What a lookup found for a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found<D> {
    /// Its first fragment decided `D`.
    Decided(D),
    /// Known, first fragment not seen yet (some fragments are held).
    Waiting,
    /// Not in the map.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct Slot<D> {
    key: FragKey,
    /// `now` at or after which the entry is gone.
    expires: u32,
    decision: Option<D>,
    /// Held fragments owned by this entry.
    held: u8,
    /// Bytes of the datagram its handled fragments carried.
    seen: u32,
    /// The datagram's length, once its last fragment (MF clear) was
    /// handled; 0 before.
    total: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeldState {
    Free,
    /// Waiting for the first fragment of the datagram in this map slot.
    Owned(u32),
    /// Its datagram decided; queued to be processed again.
    Released,
}

/// A hold slot; its bytes are `FragMap::bytes[i * HOLD_BYTES..][..len]`.
#[derive(Clone, Copy, Debug)]
struct Held {
    state: HeldState,
    len: u16,
    ingress: u16,
}

/// The map and its hold pool (module docs); `D` is the decision recorded
/// per datagram.
#[derive(Debug)]
pub(crate) struct FragMap<D> {
    slots: Box<[Option<Slot<D>>]>,
    buckets: usize,
    hasher: RandomState,
    timeout: u32,
    held: Box<[Held]>,
    /// The held frames' bytes, [`HOLD_BYTES`] per slot of `held`.
    bytes: Box<[u8]>,
    per_datagram: u8,
    /// Indexes into `held` of released fragments, oldest first; never
    /// longer than `held` (each index is in it at most once).
    released: std::collections::VecDeque<u16>,
    /// Held fragments whose entry expired, not yet counted by the caller.
    timed_out: u64,
    /// Held fragments whose entry was evicted, not yet counted.
    evicted: u64,
    last_sweep: u32,
}

impl<D: Copy> FragMap<D> {
    /// The map a worker uses: [`BUCKETS`] × [`WAYS`], [`HOLD_SLOTS`].
    pub(crate) fn new() -> FragMap<D> {
        FragMap::with_bounds(BUCKETS, HOLD_SLOTS, HOLD_PER_DATAGRAM, FRAG_TIMEOUT_SECS)
    }

    /// A map of `buckets` × [`WAYS`] datagrams holding at most `hold`
    /// fragments (`per_datagram` of one datagram), entries living
    /// `timeout` seconds.
    pub(crate) fn with_bounds(
        buckets: usize,
        hold: usize,
        per_datagram: u8,
        timeout: u32,
    ) -> FragMap<D> {
        let buckets = buckets.max(1);
        let hold = hold.min(usize::from(u16::MAX));
        FragMap {
            slots: vec![None; buckets * WAYS].into_boxed_slice(),
            buckets,
            hasher: RandomState::new(),
            timeout: timeout.max(1),
            held: vec![
                Held {
                    state: HeldState::Free,
                    len: 0,
                    ingress: 0,
                };
                hold
            ]
            .into_boxed_slice(),
            // Zeroed, so the allocator can hand out fresh pages that are
            // only touched when a fragment is held.
            bytes: vec![0; hold * HOLD_BYTES].into_boxed_slice(),
            per_datagram,
            released: std::collections::VecDeque::with_capacity(hold),
            timed_out: 0,
            evicted: 0,
            last_sweep: 0,
        }
    }

    fn ways(&self, key: &FragKey) -> std::ops::Range<usize> {
        let b = (self.hasher.hash_one(key) as usize) % self.buckets;
        b * WAYS..(b + 1) * WAYS
    }

    /// The live slot of `key`, reclaiming it if it has expired.
    fn find(&mut self, key: &FragKey, now: u32) -> Option<usize> {
        let i = self
            .ways(key)
            .find(|&i| self.slots[i].is_some_and(|s| s.key == *key))?;
        if self.slots[i].is_some_and(|s| now >= s.expires) {
            self.reclaim(i);
            return None;
        }
        Some(i)
    }

    /// Free slot `i`, counting its held fragments as timed out.
    fn reclaim(&mut self, i: usize) {
        let n = self.free_slot(i);
        self.timed_out += n;
    }

    /// Free slot `i` and the fragments it holds; how many it held.
    fn free_slot(&mut self, i: usize) -> u64 {
        let mut n = 0;
        if self.slots[i].take().is_some_and(|s| s.held > 0) {
            for h in self.held.iter_mut() {
                if h.state == HeldState::Owned(i as u32) {
                    h.state = HeldState::Free;
                    n += 1;
                }
            }
        }
        n
    }

    /// The slot of `key`, inserted (waiting) if absent.
    fn find_or_insert(&mut self, key: &FragKey, now: u32) -> Result<usize, FragFull> {
        if let Some(i) = self.find(key, now) {
            return Ok(i);
        }
        let ways = self.ways(key);
        let free = ways.clone().find(|&i| self.slots[i].is_none());
        let i = match free {
            Some(i) => i,
            None => {
                // Every way is taken: the one idle longest gives way. Its
                // datagram's pieces are long gone unless the bucket is
                // under a flood, and then it is the flood's oldest entry
                // that goes, while a real datagram, whose pieces arrive
                // within microseconds, keeps its entry as long as it needs.
                let oldest = ways
                    .min_by_key(|&i| self.slots[i].map_or(0, |s| s.expires))
                    .ok_or(FragFull::Map)?;
                if self.slots[oldest].is_some_and(|s| now >= s.expires) {
                    self.reclaim(oldest);
                } else {
                    let n = self.free_slot(oldest);
                    self.evicted += n;
                }
                oldest
            }
        };
        self.slots[i] = Some(Slot {
            key: *key,
            expires: now.saturating_add(self.timeout),
            decision: None,
            held: 0,
            seen: 0,
            total: 0,
        });
        Ok(i)
    }

    /// What the map knows of `key`; a later fragment that finds it
    /// keeps the entry alive.
    pub(crate) fn lookup(&mut self, key: &FragKey, now: u32) -> Found<D> {
        let timeout = self.timeout;
        match self.find(key, now).and_then(|i| self.slots[i].as_mut()) {
            Some(s) => {
                s.expires = now.saturating_add(timeout);
                match s.decision {
                    Some(d) => Found::Decided(d),
                    None => Found::Waiting,
                }
            }
            None => Found::Unknown,
        }
    }

    /// The first fragment of `key` decided `d`: record it (a duplicate
    /// first fragment replaces the decision) and release the fragments
    /// held for it. Returns how many were released.
    pub(crate) fn decide(&mut self, key: &FragKey, d: D, now: u32) -> Result<usize, FragFull> {
        let i = self.find_or_insert(key, now)?;
        let Some(slot) = self.slots[i].as_mut() else {
            return Ok(0);
        };
        slot.decision = Some(d);
        slot.expires = now.saturating_add(self.timeout);
        if slot.held == 0 {
            return Ok(0);
        }
        slot.held = 0;
        let mut n = 0;
        for (hi, h) in self.held.iter_mut().enumerate() {
            if h.state == HeldState::Owned(i as u32) {
                h.state = HeldState::Released;
                self.released.push_back(hi as u16);
                n += 1;
            }
        }
        Ok(n)
    }

    /// A fragment of `key` carrying `data_len` bytes at `offset` (`more`:
    /// not the last) was handled as its datagram's decision says. Once
    /// fragments covering the whole datagram have been handled, the entry
    /// goes at once instead of after its timeout: the map then holds only
    /// datagrams in flight, not the last few seconds' worth. A duplicate
    /// fragment can make it go early; a later copy of one is then held
    /// and times out, as a stray fragment does.
    pub(crate) fn progress(
        &mut self,
        key: &FragKey,
        offset: u32,
        data_len: u32,
        more: bool,
        now: u32,
    ) {
        let Some(i) = self.find(key, now) else {
            return;
        };
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        slot.seen = slot.seen.saturating_add(data_len);
        if !more {
            slot.total = offset.saturating_add(data_len);
        }
        if slot.total != 0 && slot.seen >= slot.total && slot.held == 0 {
            self.slots[i] = None;
        }
    }

    /// Hold a copy of `frame`, a later fragment of `key` whose first
    /// fragment has not decided yet, received on interface `ingress`.
    pub(crate) fn hold(
        &mut self,
        key: &FragKey,
        frame: &[u8],
        ingress: usize,
        now: u32,
    ) -> Result<(), FragFull> {
        let (Ok(len), Ok(ingress)) = (u16::try_from(frame.len()), u16::try_from(ingress)) else {
            return Err(FragFull::Hold);
        };
        if frame.len() > HOLD_BYTES {
            return Err(FragFull::Hold);
        }
        // Checked before an entry is made, so a flood the pool cannot
        // take does not fill the map as well.
        let Some(hi) = self.held.iter().position(|h| h.state == HeldState::Free) else {
            return Err(FragFull::Hold);
        };
        if let Some(i) = self.find(key, now) {
            if self.slots[i].is_some_and(|s| s.held >= self.per_datagram) {
                return Err(FragFull::Hold);
            }
        }
        let i = self.find_or_insert(key, now)?;
        let Some(slot) = self.slots[i].as_mut() else {
            return Err(FragFull::Map);
        };
        slot.held += 1;
        let h = &mut self.held[hi];
        h.state = HeldState::Owned(i as u32);
        h.len = len;
        h.ingress = ingress;
        let at = hi * HOLD_BYTES;
        self.bytes[at..at + frame.len()].copy_from_slice(frame);
        Ok(())
    }

    /// Whether released fragments wait to be processed again.
    pub(crate) fn has_released(&self) -> bool {
        !self.released.is_empty()
    }

    /// Copy the oldest released fragment to the start of `out` and free
    /// its slot: its length and ingress interface. `None` when none is
    /// released or `out` is too short (it stays queued).
    pub(crate) fn take_released(&mut self, out: &mut [u8]) -> Option<(usize, usize)> {
        let hi = usize::from(*self.released.front()?);
        let h = &mut self.held[hi];
        let len = usize::from(h.len);
        let at = hi * HOLD_BYTES;
        out.get_mut(..len)?
            .copy_from_slice(&self.bytes[at..at + len]);
        h.state = HeldState::Free;
        self.released.pop_front();
        Some((len, usize::from(h.ingress)))
    }

    /// Drop entries that have expired (at most once per second of `now`).
    pub(crate) fn expire(&mut self, now: u32) {
        if now == self.last_sweep {
            return;
        }
        self.last_sweep = now;
        for i in 0..self.slots.len() {
            if self.slots[i].is_some_and(|s| now >= s.expires) {
                self.reclaim(i);
            }
        }
    }

    /// Held fragments dropped on expiry since the last call.
    pub(crate) fn take_timed_out(&mut self) -> u64 {
        std::mem::take(&mut self.timed_out)
    }

    /// Held fragments dropped since the last call because their entry was
    /// evicted to make room in a full bucket.
    pub(crate) fn take_evicted(&mut self) -> u64 {
        std::mem::take(&mut self.evicted)
    }

    /// Live entries and held fragments (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn occupancy(&self) -> (usize, usize) {
        (
            self.slots.iter().filter(|s| s.is_some()).count(),
            self.held
                .iter()
                .filter(|h| h.state != HeldState::Free)
                .count(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn key(ident: u32) -> FragKey {
        FragKey::new(
            Ipv4Addr::new(198, 51, 100, 9).into(),
            Ipv4Addr::new(192, 0, 2, 80).into(),
            17,
            ident,
        )
    }

    fn small() -> FragMap<u32> {
        FragMap::with_bounds(1, 4, 2, 5)
    }

    fn drain(m: &mut FragMap<u32>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; HOLD_BYTES];
        while let Some((len, _)) = m.take_released(&mut buf) {
            out.push(buf[..len].to_vec());
        }
        out
    }

    #[test]
    fn later_fragments_follow_the_first() {
        let mut m = small();
        assert_eq!(m.lookup(&key(1), 0), Found::Unknown);
        assert_eq!(m.decide(&key(1), 7, 0), Ok(0));
        assert_eq!(m.lookup(&key(1), 1), Found::Decided(7));
        assert_eq!(m.lookup(&key(2), 1), Found::Unknown);
    }

    #[test]
    fn out_of_order_fragments_are_held_then_released_in_arrival_order() {
        let mut m = small();
        m.hold(&key(1), b"third", 3, 0).unwrap();
        m.hold(&key(1), b"second", 4, 0).unwrap();
        assert_eq!(m.lookup(&key(1), 0), Found::Waiting);
        assert!(!m.has_released());
        assert_eq!(m.decide(&key(1), 9, 1), Ok(2));
        assert!(m.has_released());
        let mut buf = [0u8; 16];
        assert_eq!(m.take_released(&mut buf), Some((5, 3)));
        assert_eq!(&buf[..5], b"third");
        assert_eq!(drain(&mut m), vec![b"second".to_vec()]);
        assert_eq!(m.occupancy(), (1, 0));
        // The map now answers for the datagram's remaining fragments.
        assert_eq!(m.lookup(&key(1), 2), Found::Decided(9));
    }

    #[test]
    fn a_short_output_buffer_leaves_the_fragment_queued() {
        let mut m = small();
        m.hold(&key(1), b"payload", 0, 0).unwrap();
        m.decide(&key(1), 1, 0).unwrap();
        assert_eq!(m.take_released(&mut [0u8; 3]), None);
        assert_eq!(drain(&mut m), vec![b"payload".to_vec()]);
    }

    #[test]
    fn a_duplicate_first_fragment_replaces_the_decision_and_releases_nothing_twice() {
        let mut m = small();
        m.hold(&key(1), b"x", 0, 0).unwrap();
        assert_eq!(m.decide(&key(1), 1, 0), Ok(1));
        assert_eq!(m.decide(&key(1), 2, 0), Ok(0));
        assert_eq!(drain(&mut m).len(), 1);
        assert_eq!(m.lookup(&key(1), 0), Found::Decided(2));
        assert_eq!(m.occupancy(), (1, 0));
    }

    #[test]
    fn holding_is_bounded_per_datagram_and_in_total() {
        let mut m = small(); // 4 slots, 2 per datagram
        m.hold(&key(1), b"a", 0, 0).unwrap();
        m.hold(&key(1), b"b", 0, 0).unwrap();
        assert_eq!(m.hold(&key(1), b"c", 0, 0), Err(FragFull::Hold));
        m.hold(&key(2), b"d", 0, 0).unwrap();
        m.hold(&key(3), b"e", 0, 0).unwrap();
        assert_eq!(m.hold(&key(4), b"f", 0, 0), Err(FragFull::Hold));
        // A refused fragment made no entry.
        assert_eq!(m.lookup(&key(4), 0), Found::Unknown);
        assert_eq!(m.occupancy(), (3, 4));
        let big = [0u8; HOLD_BYTES + 1];
        let mut roomy = FragMap::<u32>::with_bounds(1, 4, 4, 5);
        assert_eq!(roomy.hold(&key(1), &big, 0, 0), Err(FragFull::Hold));
    }

    #[test]
    fn a_full_bucket_gives_up_its_longest_idle_entry() {
        let mut m = FragMap::<u32>::with_bounds(1, 4, 4, 5);
        // Way 0 holds a fragment and was last touched at 0; the others later.
        m.hold(&key(0), b"early", 0, 0).unwrap();
        for i in 1..WAYS as u32 {
            assert_eq!(m.decide(&key(i), i, 1), Ok(0));
        }
        assert_eq!(m.occupancy(), (WAYS, 1));
        assert_eq!(m.decide(&key(100), 100, 2), Ok(0));
        assert_eq!(m.occupancy(), (WAYS, 0), "bounded; the held fragment went");
        assert_eq!(m.take_evicted(), 1);
        assert_eq!(m.take_timed_out(), 0);
        assert_eq!(m.lookup(&key(0), 2), Found::Unknown);
        assert_eq!(m.lookup(&key(100), 2), Found::Decided(100));
        // Expired ways are taken over without a sweep, counted as timeouts.
        m.hold(&key(50), b"x", 0, 2).unwrap();
        assert_eq!(m.take_evicted(), 0, "the entry that gave way held nothing");
        for i in 200..200 + WAYS as u32 {
            assert_eq!(m.decide(&key(i), i, 20), Ok(0));
        }
        assert_eq!(m.take_evicted(), 0);
        assert_eq!(m.take_timed_out(), 1);
        assert_eq!(m.occupancy(), (WAYS, 0));
    }

    #[test]
    fn entries_time_out_and_their_held_fragments_are_counted() {
        let mut m = small();
        m.hold(&key(1), b"a", 0, 10).unwrap();
        m.hold(&key(2), b"b", 0, 10).unwrap();
        m.decide(&key(3), 3, 10).unwrap();
        m.expire(14);
        assert_eq!(m.take_timed_out(), 0);
        assert_eq!(m.occupancy(), (3, 2));
        // A later fragment keeps its datagram alive.
        assert_eq!(m.lookup(&key(3), 14), Found::Decided(3));
        m.expire(15);
        assert_eq!(m.take_timed_out(), 2);
        assert_eq!(m.take_timed_out(), 0);
        assert_eq!(m.occupancy(), (1, 0));
        assert_eq!(m.lookup(&key(1), 15), Found::Unknown);
        assert_eq!(m.lookup(&key(3), 19), Found::Unknown);
        // A lookup reclaims an expired entry and counts what it held.
        m.hold(&key(5), b"c", 0, 20).unwrap();
        assert_eq!(m.lookup(&key(5), 25), Found::Unknown);
        assert_eq!(m.take_timed_out(), 1);
        assert!(!m.has_released());
    }

    #[test]
    fn a_flood_of_random_identifications_stays_within_bounds() {
        let mut m = FragMap::<u32>::new();
        let mut refused = (0, 0);
        let mut x = 0x2545_f491_u32;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match m.hold(&key(x), &[0u8; 600], 0, 0) {
                Ok(()) => {}
                Err(FragFull::Hold) => refused.0 += 1,
                Err(FragFull::Map) => refused.1 += 1,
            }
        }
        let (entries, held) = m.occupancy();
        assert_eq!(held, HOLD_SLOTS);
        assert!(entries <= BUCKETS * WAYS);
        assert_eq!(refused.0 + refused.1, 20_000 - HOLD_SLOTS);
        m.expire(FRAG_TIMEOUT_SECS);
        assert_eq!(m.take_timed_out(), HOLD_SLOTS as u64);
        assert_eq!(m.occupancy(), (0, 0));
    }

    #[test]
    fn a_datagram_whose_fragments_were_all_handled_leaves_the_map() {
        let mut m = small();
        m.decide(&key(1), 1, 0).unwrap();
        m.progress(&key(1), 0, 1480, true, 0);
        m.progress(&key(1), 2960, 100, false, 0);
        assert_eq!(
            m.lookup(&key(1), 0),
            Found::Decided(1),
            "1480..2960 missing"
        );
        m.progress(&key(1), 1480, 1480, true, 0);
        assert_eq!(m.lookup(&key(1), 0), Found::Unknown);
        assert_eq!(m.occupancy(), (0, 0));
        // An unknown key is left alone.
        m.progress(&key(2), 0, 8, false, 0);
        assert_eq!(m.occupancy(), (0, 0));
    }

    #[test]
    fn ipv6_keys_ignore_the_protocol() {
        let s: IpAddr = Ipv6Addr::LOCALHOST.into();
        assert_eq!(FragKey::new(s, s, 17, 1), FragKey::new(s, s, 6, 1));
        let a: IpAddr = Ipv4Addr::LOCALHOST.into();
        assert_ne!(FragKey::new(a, a, 17, 1), FragKey::new(a, a, 6, 1));
    }
}
