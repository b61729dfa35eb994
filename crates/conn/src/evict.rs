//! Making room in a full shard: which entries give way to a new one, and
//! how much a shard is filled (for the caller's pressure decisions).
//!
//! Layer: conn (DESIGN.md). IPVS answers a full table with drop_entry
//! (ip_vs_random_dropentry() in ip_vs_conn.c), which walks a random part
//! of the table and drops half-open TCP entries; xvs does the same
//! deterministically and boundedly per packet: [`ConnTable::make_room`]
//! examines at most `scan` slots of the inserting worker's own store from
//! a rolling cursor and frees the first entry that is already expired or
//! embryonic or an unused persistence template, else the first closing one
//! it saw. Established entries, and templates that still control a
//! connection, are never taken (IPVS may drop an ESTABLISHED entry that
//! carried few packets; a flood must not cost a real client its
//! connection). A freed entry goes through the expiry teardown —
//! unindexed under every key, its controller's count dropped, a final copy
//! handed to the caller to unbind the real server's counters — so the only
//! difference from an expiry is the moment.
//!
//! Which entries are embryonic: TCP entries that never completed the
//! handshake (NONE, SYN_SENT, SYN_RECV, SYNACK, LISTEN — a spoofed SYN
//! leaves one in SYN_RECV for 60 s), and UDP entries whose timer no packet
//! moved since the second they opened in (no [`ConnFlags::REFRESHED`]). UDP
//! has no handshake, so "saw traffic after its first moment" is the only
//! sign of a live exchange the table has without counting every packet; a
//! DNS-style query and answer loses nothing when its entry goes after the
//! answer, and a spoofed-source UDP flood creates exactly such entries.
//! Closing: FIN_WAIT, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK.
//!
//! Unused templates: a persistent service gives every new client network a
//! template that outlives its connections by the persistence timeout, so a
//! spoofed SYN flood leaves one template per forged source behind each
//! evicted SYN_RECV entry and fills the table with them all the same. IPVS
//! answers this in drop_entry by expiring the dropped entry's controlling
//! template with it (ip_vs_conn_expire_now() on cp->control, which frees it
//! once nothing else holds it); xvs's table may hold the template in
//! another worker's shard, which only its owner may free, so instead a
//! template that controls nothing (`n_controlled` 0: its connections were
//! evicted, expired or closed) gives way like an embryonic entry, as
//! [`Eviction::Template`]. What is lost is only affinity: the client's next
//! connection is scheduled afresh. The caller names the template the new
//! connection is about to bind to (`spare`), so making room for it never
//! takes that one.

use crate::entry::{ConnEntry, ConnId};
use crate::flags::ConnFlags;
use crate::slot::{
    dest_n_controlled, state_flags, state_state, Fields, DEST, STATE, TIMER, V4_WORDS, V6_WORDS,
};
use crate::store::Store;
use crate::table::{ConnTable, PickStore, Shard};
use crate::tcp_state::ConnState;

const TCP: u8 = 6;

/// Why [`ConnTable::make_room`] freed an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Eviction {
    /// Its timer had run out; the expiry sweep had not reached it yet.
    Expired,
    /// A connection that never got past its handshake (see the module docs).
    Embryonic,
    /// A TCP connection already closing.
    Closing,
    /// A persistence template that controls no connection (see the module
    /// docs).
    Template,
}

/// What an entry with this protocol, flags and state byte may give way
/// as, if anything (`None`: established, never evicted). A template's
/// class holds only while it controls nothing, which the caller checks.
pub(crate) fn evictable(proto: u8, flags: u32, state: u8) -> Option<Eviction> {
    let flags = ConnFlags(flags);
    if flags.contains(ConnFlags::TEMPLATE) {
        return Some(Eviction::Template);
    }
    if proto != TCP {
        return (!flags.contains(ConnFlags::REFRESHED)).then_some(Eviction::Embryonic);
    }
    match ConnState::from_u8(state)? {
        ConnState::None
        | ConnState::SynSent
        | ConnState::SynRecv
        | ConnState::SynAck
        | ConnState::Listen => Some(Eviction::Embryonic),
        ConnState::FinWait
        | ConnState::TimeWait
        | ConnState::Close
        | ConnState::CloseWait
        | ConnState::LastAck => Some(Eviction::Closing),
        ConnState::Established | ConnState::Udp => None,
    }
}

/// The class of a consistent copy at `now`: expired first (nothing is
/// lost by freeing it), then as [`evictable`].
fn class_at(f: &Fields, now: u32) -> Option<Eviction> {
    if now >= f.expires && f.n_controlled == 0 {
        return Some(Eviction::Expired);
    }
    if f.n_controlled > 0 {
        return None;
    }
    evictable(f.proto, f.flags, f.state)
}

impl ConnTable {
    /// Owner only (`worker` is the caller's own index): free one entry of
    /// `worker`'s IPv4 (`v6` false) or IPv6 store to make room for a new
    /// one, examining at most `scan` slots from the store's eviction cursor
    /// (see the module docs for the order). The freed entry's final copy
    /// and the reason go to `on_free`, as [`ConnTable::expire_step`] hands
    /// expired ones, so the caller unbinds the real server's counters.
    /// `spare` is the template the new entry will name as its controller,
    /// if any: it is never taken. `None` if nothing among the examined
    /// slots may give way.
    pub fn make_room(
        &self,
        worker: usize,
        v6: bool,
        now_secs: u32,
        scan: usize,
        spare: Option<ConnId>,
        mut on_free: impl FnMut(&ConnEntry, Eviction),
    ) -> Option<Eviction> {
        if v6 {
            self.make_room_in::<V6_WORDS>(worker, now_secs, scan, spare, &mut on_free)
        } else {
            self.make_room_in::<V4_WORDS>(worker, now_secs, scan, spare, &mut on_free)
        }
    }

    fn make_room_in<const W: usize>(
        &self,
        worker: usize,
        now: u32,
        scan: usize,
        spare: Option<ConnId>,
        on_free: &mut impl FnMut(&ConnEntry, Eviction),
    ) -> Option<Eviction>
    where
        Shard: PickStore<W>,
    {
        let shard = self.shards.get(worker)?;
        let store: &Store<W> = shard.store();
        let n = store.capacity();
        if n == 0 {
            return None;
        }
        let start = store.evict_cursor() % n;
        let mut closing = None;
        for k in 0..scan.min(n) {
            let i = if start + k >= n {
                start + k - n
            } else {
                start + k
            };
            let Some(f) = store.read(i) else { continue };
            // i < capacity ≤ 2^24.
            if spare.is_some_and(|s| s == ConnId::new(f.seq, W == V6_WORDS, worker, i as u32)) {
                continue;
            }
            let taken = match class_at(&f, now) {
                Some(Eviction::Expired) => self
                    .expire_slot::<W>(worker, i, now, &mut |e| on_free(e, Eviction::Expired))
                    .then_some(Eviction::Expired),
                Some(class @ (Eviction::Embryonic | Eviction::Template)) => self
                    .evict_slot::<W>(worker, i, &f, class, on_free)
                    .then_some(class),
                Some(Eviction::Closing) => {
                    closing = closing.or(Some((i, f)));
                    None
                }
                None => None,
            };
            if taken.is_some() {
                store.set_evict_cursor(i + 1);
                return taken;
            }
        }
        store.set_evict_cursor(start + scan.min(n));
        let (i, f) = closing?;
        self.evict_slot::<W>(worker, i, &f, Eviction::Closing, on_free)
            .then_some(Eviction::Closing)
    }

    /// Owner: free the live entry `f` in slot `i` if it still controls
    /// nothing and may still give way as `class`, as
    /// [`ConnTable::expire_step`] frees an expired one.
    fn evict_slot<const W: usize>(
        &self,
        worker: usize,
        i: usize,
        f: &Fields,
        class: Eviction,
        on_free: &mut impl FnMut(&ConnEntry, Eviction),
    ) -> bool
    where
        Shard: PickStore<W>,
    {
        let Some(shard) = self.shards.get(worker) else {
            return false;
        };
        let store: &Store<W> = shard.store();
        let Some(slot) = store.slot(i) else {
            return false;
        };
        let owner = shard.enter();
        let gen = f.seq;
        // 1. Nothing may bind to it any more (only templates control others).
        if slot
            .retag_if(DEST, gen, |d| dest_n_controlled(d) == 0)
            .is_err()
        {
            return false;
        }
        // 2. Freeze state and flags, unless another worker moved the entry
        //    on meanwhile (the client's ACK made it ESTABLISHED): then it
        //    stays.
        if slot
            .retag_if(STATE, gen, |w| {
                evictable(f.proto, state_flags(w), state_state(w)) == Some(class)
            })
            .is_err()
        {
            slot.restore_tag(DEST, gen);
            return false;
        }
        // 3. Claim the timer whatever it says: the entry goes now.
        if slot.retag_if(TIMER, gen, |_| true).is_err() {
            slot.restore_tag(DEST, gen);
            slot.restore_tag(STATE, gen);
            return false;
        }
        // Only the owner changes seq, so the slot is still this entry.
        let last = store.read(i).unwrap_or(*f);
        store.unpublish_free(i as u32, &last, &self.hasher);
        if last.controller != 0 {
            self.adjust_controlled(ConnId::from_raw(last.controller), false);
        }
        // i < capacity ≤ 2^24.
        let id = ConnId::new(gen, W == V6_WORDS, worker, i as u32);
        drop(owner);
        on_free(&ConnEntry::from_fields(id, &last), class);
        true
    }

    /// How full `worker`'s shard is, in percent of the fuller of its two
    /// stores (0 for an unknown worker or an empty store): one relaxed load
    /// per family, for the caller's pressure decisions.
    pub fn shard_fill_percent(&self, worker: usize) -> u32 {
        let Some(s) = self.shards.get(worker) else {
            return 0;
        };
        // live ≤ cap, so the result is ≤ 100; an empty store is 0 % full.
        let pct =
            |live: usize, cap: usize| live.saturating_mul(100).checked_div(cap).unwrap_or(0) as u32;
        pct(s.v4.len(), s.v4.capacity()).max(pct(s.v6.len(), s.v6.capacity()))
    }
}
