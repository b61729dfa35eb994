//! The per-packet view of an IPv4 connection: [`ConnTable::lookup4`]
//! finds an entry by its input or output key and returns [`Conn4`], the
//! fields decoded straight from one consistent copy of the 64-byte slot,
//! with addresses as `u32` — no `IpAddr`, no 128-byte [`crate::ConnEntry`].
//! It answers exactly what [`ConnTable::lookup_in_entry`] and
//! [`ConnTable::lookup_out_entry`] answer for IPv4 (same index probe, same
//! key match, same liveness rule; a test holds them together), and
//! [`Conn4::unchanged_by`] says when a packet would leave the entry as it
//! is, so the established-flow path writes nothing.

use crate::entry::ConnId;
use crate::flags::ConnFlags;
use crate::index::KeyKind;
use crate::slot::{
    dest_n_controlled, state_flags, state_state, state_timeout, timer_expires, Slot, ADDRS, DEST,
    KEY_INPUT, KEY_OUTPUT, MAX24, PORTS, SEQ, STATE, TIMER, V4_WORDS,
};
use crate::table::ConnTable;
use crate::tcp_state::{tcp_flags, ConnState, Direction};
use crate::update::tcp_step;
use xvs_config::Timeouts;

const TCP: u8 = 6;
/// The flags that decide a segment's class (RST, SYN, FIN, ACK).
const ACK_CLASS_MASK: u8 = tcp_flags::RST | tcp_flags::SYN | tcp_flags::FIN | tcp_flags::ACK;

/// An IPv4 connection entry as one lookup saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conn4 {
    pub id: ConnId,
    pub protocol: u8,
    pub flags: ConnFlags,
    /// The raw state byte (a [`ConnState`] as written).
    pub state: u8,
    pub timeout_secs: u32,
    pub expires_at: u32,
    pub dest_id: u32,
    pub n_controlled: u32,
    pub caddr: u32,
    pub cport: u16,
    pub vaddr: u32,
    pub vport: u16,
    pub daddr: u32,
    pub dport: u16,
    pub laddr: u32,
    pub lport: u16,
}

impl Conn4 {
    #[inline]
    fn from_words(id: ConnId, w: &[u64; V4_WORDS]) -> Conn4 {
        Conn4 {
            id,
            protocol: (w[SEQ] >> 32) as u8,
            flags: ConnFlags(state_flags(w[STATE])),
            state: state_state(w[STATE]),
            timeout_secs: state_timeout(w[STATE]),
            expires_at: timer_expires(w[TIMER]),
            dest_id: w[DEST] as u32,
            n_controlled: dest_n_controlled(w[DEST]),
            caddr: (w[ADDRS] >> 32) as u32,
            cport: (w[PORTS] >> 48) as u16,
            vaddr: w[ADDRS] as u32,
            vport: (w[PORTS] >> 32) as u16,
            daddr: (w[ADDRS + 1] >> 32) as u32,
            dport: (w[PORTS] >> 16) as u16,
            laddr: w[ADDRS + 1] as u32,
            lport: w[PORTS] as u16,
        }
    }

    /// True when a packet in `dir` (with `tcp_flags` for TCP) at `now_secs`
    /// would change nothing: [`ConnTable::tcp_transition`] (TCP) or
    /// [`ConnTable::touch`] with the UDP timeout (other protocols) would
    /// write back the same state, flags, timeout and expiry. Then the
    /// caller may skip them; otherwise it calls them.
    #[inline]
    pub fn unchanged_by(
        &self,
        dir: Direction,
        tcp_flags: u8,
        timeouts: &Timeouts,
        now_secs: u32,
    ) -> bool {
        // The common case first: an ACK (no SYN/FIN/RST) on ESTABLISHED
        // stays ESTABLISHED in all three tables and moves no counter, so
        // only the NOOUTPUT clearing and the timer can change. (A test
        // checks this against the tables for every state and flag byte.)
        if self.protocol == TCP
            && self.state == ConnState::Established as u8
            && tcp_flags & ACK_CLASS_MASK == tcp_flags::ACK
            && !self.flags.contains(ConnFlags::TEMPLATE)
        {
            let timeout = timeouts.tcp.min(MAX24);
            return !(dir == Direction::Output && self.flags.contains(ConnFlags::NOOUTPUT))
                && timeout == self.timeout_secs
                && now_secs.saturating_add(timeout) == self.expires_at;
        }
        self.unchanged_by_tables(dir, tcp_flags, timeouts, now_secs)
    }

    /// [`Self::unchanged_by`] without its ESTABLISHED shortcut: the
    /// transition tables (or the UDP timeout) decide.
    fn unchanged_by_tables(
        &self,
        dir: Direction,
        tcp_flags: u8,
        timeouts: &Timeouts,
        now_secs: u32,
    ) -> bool {
        let (flags, state, timeout) = if self.protocol == TCP {
            match tcp_step(self.flags, self.state, dir, tcp_flags) {
                Some((flags, next)) => (flags, next as u8, next.timeout(timeouts).min(MAX24)),
                // tcp_transition declines: nothing is written.
                None => return true,
            }
        } else {
            (self.flags, self.state, timeouts.udp.min(MAX24))
        };
        flags == self.flags
            && state == self.state
            && timeout == self.timeout_secs
            && now_secs.saturating_add(timeout) == self.expires_at
    }

    /// The state, when the byte is one.
    pub fn conn_state(&self) -> Option<ConnState> {
        ConnState::from_u8(self.state)
    }
}

/// What [`ConnTable::prefetch4`] and [`ConnTable::prefetch4_entry`]
/// learnt of a lookup started ahead of time: the packed key and its hash,
/// the shard probed and the slot stage two loaded. Handed back to
/// [`ConnTable::lookup4_hinted`], it spares the lookup the hash and, when
/// the slot holds the key, the index probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prefetch4 {
    hash: u64,
    /// The key's addresses as [`Key4`] packs them.
    addrs: u64,
    /// Kind, protocol and ports as [`Key4`] packs them (never 0 for a key:
    /// the kind is 1 or 2), so a hint answers only for its own key.
    meta: u64,
    /// The slot stage two loaded, or [`NO_SLOT`].
    pub(crate) slot: u32,
    /// The shard probed: the worker's own.
    pub(crate) shard: u8,
}

/// [`Prefetch4::slot`] before stage two, or when the home group names none.
pub(crate) const NO_SLOT: u32 = u32::MAX;

impl Prefetch4 {
    /// Nothing to prefetch (not an IPv4 flow the fast path looks up).
    pub const NONE: Prefetch4 = Prefetch4 {
        hash: 0,
        addrs: 0,
        meta: 0,
        slot: NO_SLOT,
        shard: 0,
    };

    /// The key's kind, when this hint is for a key.
    fn kind(&self) -> Option<KeyKind> {
        match (self.meta >> 48) as u8 {
            k if k == KeyKind::Input as u8 => Some(KeyKind::Input),
            k if k == KeyKind::Output as u8 => Some(KeyKind::Output),
            _ => None,
        }
    }
}

/// An IPv4 lookup key, packed as the slot stores it, and its hash.
struct Key4 {
    kind: KeyKind,
    key_bit: u8,
    addrs: u64,
    ports: u32,
    /// Kind, protocol and ports: the second word the hash covers.
    meta: u64,
    hash: u64,
}

impl ConnTable {
    /// The IPv4 entry `id` names, as [`Self::get`] reads it; `None` for a
    /// stale or IPv6 id.
    #[inline]
    pub fn get4(&self, id: ConnId) -> Option<Conn4> {
        if id.is_ipv6() {
            return None;
        }
        let w = self.shards.get(id.worker())?.v4.slot(id.slot())?.read()?;
        (w[SEQ] as u32 == id.gen()).then(|| Conn4::from_words(id, &w))
    }

    /// The packed key words of an IPv4 lookup and their hash.
    #[inline(always)]
    fn key4(&self, dir: Direction, proto: u8, a: u32, pa: u16, b: u32, pb: u16) -> Key4 {
        let mut k = Self::key4_unhashed(dir, proto, a, pa, b, pb);
        // The same words, in the same order, as Key::hash for IPv4.
        k.hash = self.hasher.hash(&[k.addrs, k.meta]);
        k
    }

    /// [`Self::key4`] with the hash left 0, for a caller that may have it.
    #[inline(always)]
    fn key4_unhashed(dir: Direction, proto: u8, a: u32, pa: u16, b: u32, pb: u16) -> Key4 {
        let (kind, key_bit) = match dir {
            Direction::Output => (KeyKind::Output, KEY_OUTPUT),
            _ => (KeyKind::Input, KEY_INPUT),
        };
        let addrs = (u64::from(a) << 32) | u64::from(b);
        let ports = (u32::from(pa) << 16) | u32::from(pb);
        let meta = ((kind as u64) << 48) | (u64::from(proto) << 32) | u64::from(ports);
        Key4 {
            kind,
            key_bit,
            addrs,
            ports,
            meta,
            hash: 0,
        }
    }

    /// Stage one of a lookup started ahead of time: start loading the
    /// index group that [`Self::lookup4`] with the same arguments reads
    /// first (in `worker`'s own shard), and return what stage two needs.
    /// Call it for every packet of a receive burst, then
    /// [`Self::prefetch4_entry`] for each, then process them: the misses of
    /// the whole burst overlap instead of stalling one packet at a time. A
    /// hint only: it changes nothing and a wrong guess costs one load.
    #[allow(clippy::too_many_arguments)] // lookup4's arguments, less the clock
    #[inline]
    pub fn prefetch4(
        &self,
        worker: usize,
        dir: Direction,
        proto: u8,
        a: u32,
        pa: u16,
        b: u32,
        pb: u16,
    ) -> Prefetch4 {
        let k = self.key4(dir, proto, a, pa, b, pb);
        let Some(shard) = self.shards.get(worker) else {
            return Prefetch4::NONE;
        };
        shard.v4.index().prefetch_home(k.hash);
        Prefetch4 {
            hash: k.hash,
            addrs: k.addrs,
            meta: k.meta,
            slot: NO_SLOT,
            // At most 255 workers (the config's limit): fits.
            shard: worker as u8,
        }
    }

    /// Stage two: with the index group (by now) in the cache, start
    /// loading the entry slot its first matching key word names, and note
    /// that slot in `p` for [`Self::lookup4_hinted`].
    #[inline]
    pub fn prefetch4_entry(&self, p: &mut Prefetch4) {
        if let Some(slot) = self.prefetch4_target(*p) {
            let store = self.shards.get(usize::from(p.shard)).map(|s| &s.v4);
            if let Some(s) = store.and_then(|st| st.slot(slot as usize)) {
                xvs_hint::prefetch(s);
                p.slot = slot;
            }
        }
    }

    /// The slot stage two loads: the first in the home group whose key
    /// word has the key's kind and tag (the key itself is not compared).
    pub fn prefetch4_target(&self, p: Prefetch4) -> Option<u32> {
        let kind = p.kind()?;
        let shard = self.shards.get(usize::from(p.shard))?;
        shard.v4.index().home_match(p.hash, kind)
    }

    /// The IPv4 connection with input key ⟨proto, a:pa → b:pb⟩ (`Input`:
    /// client → VIP) or output key (`Output`: real server → director-side
    /// address), as [`Self::lookup_in_entry`] / [`Self::lookup_out_entry`]
    /// find it, searching `worker`'s shard first.
    ///
    /// Always inlined: returned through memory, the 56-byte [`Conn4`] was
    /// written field by field and read back in 16-byte moves, a
    /// store-forwarding stall on every packet.
    #[allow(clippy::too_many_arguments)] // the 5-tuple plus direction, worker and clock
    #[inline(always)]
    pub fn lookup4(
        &self,
        worker: usize,
        dir: Direction,
        proto: u8,
        a: u32,
        pa: u16,
        b: u32,
        pb: u16,
        now_secs: u32,
    ) -> Option<Conn4> {
        let k = self.key4(dir, proto, a, pa, b, pb);
        self.lookup_key4(worker, &k, proto, now_secs)
    }

    /// [`Self::lookup4`] for a lookup started ahead of time: when `hint`
    /// was made for this key ([`Self::prefetch4`]), its hash is used, and
    /// the slot stage two loaded is tried before the index. The answer is
    /// [`Self::lookup4`]'s: the slot is checked exactly as a key word's
    /// slot is (consistent copy, key, kind, liveness), and a key has at
    /// most one live entry, so the entry it holds is the one the index
    /// walk would find. A hint for another key, or a slot that no longer
    /// holds the key, only falls back to the index.
    #[allow(clippy::too_many_arguments)] // lookup4's arguments and the hint
    #[inline(always)]
    pub fn lookup4_hinted(
        &self,
        hint: Option<&Prefetch4>,
        worker: usize,
        dir: Direction,
        proto: u8,
        a: u32,
        pa: u16,
        b: u32,
        pb: u16,
        now_secs: u32,
    ) -> Option<Conn4> {
        let mut k = Self::key4_unhashed(dir, proto, a, pa, b, pb);
        // Only a hint made for this very key is used.
        let Some(h) = hint.filter(|h| h.addrs == k.addrs && h.meta == k.meta) else {
            k.hash = self.hasher.hash(&[k.addrs, k.meta]);
            return self.lookup_key4(worker, &k, proto, now_secs);
        };
        k.hash = h.hash;
        if h.slot != NO_SLOT {
            let s = usize::from(h.shard);
            if let Some(shard) = self.shards.get(s) {
                if let Some(c) = Self::hit4(&shard.v4, s, h.slot, &k, proto, now_secs) {
                    return Some(c);
                }
            }
        }
        self.lookup_key4(worker, &k, proto, now_secs)
    }

    /// The index walk of [`Self::lookup4`] for a packed key.
    #[inline(always)]
    fn lookup_key4(&self, worker: usize, k: &Key4, proto: u8, now_secs: u32) -> Option<Conn4> {
        for s in self.probe_order(worker) {
            let store = &self.shards[s].v4;
            let found = store.index().find(k.hash, k.kind, |slot| {
                Self::hit4(store, s, slot, k, proto, now_secs)
            });
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// The entry in `slot` of shard `s`, if it is live and holds key `k`
    /// (one consistent copy of the slot decides).
    #[inline(always)]
    fn hit4(
        store: &crate::store::Store<V4_WORDS>,
        s: usize,
        slot: u32,
        k: &Key4,
        proto: u8,
        now_secs: u32,
    ) -> Option<Conn4> {
        let w = store.slot(slot as usize).and_then(Slot::read)?;
        let flags = ConnFlags(state_flags(w[STATE]));
        let keyed = ((w[SEQ] >> 40) as u8) & k.key_bit != 0;
        let (key_addrs, key_ports) = if k.kind == KeyKind::Input {
            (w[ADDRS], (w[PORTS] >> 32) as u32)
        } else {
            (w[ADDRS + 1], w[PORTS] as u32)
        };
        let hit = keyed
            && flags.contains(ConnFlags::HASHED)
            && !flags.contains(ConnFlags::TEMPLATE)
            && (w[SEQ] >> 32) as u8 == proto
            && key_addrs == k.addrs
            && key_ports == k.ports
            && (now_secs < timer_expires(w[TIMER]) || dest_n_controlled(w[DEST]) > 0);
        hit.then(|| Conn4::from_words(ConnId::new(w[SEQ] as u32, false, s, slot), &w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_established_shortcut_agrees_with_the_tables() {
        let timeouts = Timeouts::default();
        let now = 1000;
        for state in ConnState::ALL {
            for flag_bits in [0u32, 0x40, 0xC0, 0x140, 0x1C0, 0x1040] {
                for tcp in 0..=u8::MAX {
                    for dir in [Direction::Input, Direction::Output, Direction::InputOnly] {
                        for (timeout, expires) in [
                            (timeouts.tcp, now + timeouts.tcp),
                            (timeouts.tcp, now + 1),
                            (7, now + 7),
                        ] {
                            let c = Conn4 {
                                id: ConnId::from_raw(0),
                                protocol: TCP,
                                flags: ConnFlags(flag_bits),
                                state: state as u8,
                                timeout_secs: timeout,
                                expires_at: expires,
                                dest_id: 0,
                                n_controlled: 0,
                                caddr: 0,
                                cport: 0,
                                vaddr: 0,
                                vport: 0,
                                daddr: 0,
                                dport: 0,
                                laddr: 0,
                                lport: 0,
                            };
                            assert_eq!(
                                c.unchanged_by(dir, tcp, &timeouts, now),
                                c.unchanged_by_tables(dir, tcp, &timeouts, now),
                                "{state:?} flags {flag_bits:#x} tcp {tcp:#x} {dir:?} {timeout} {expires}"
                            );
                        }
                    }
                }
            }
        }
    }
}
