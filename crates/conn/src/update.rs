//! Changes to existing entries: the TCP state transition, sync updates,
//! idle-timer re-arming, packet counting and forced expiry, which any
//! worker (or the control thread) may apply through a [`ConnId`], and the
//! owner's incremental expiry sweep.
//!
//! Every change from a non-owner is a tagged CAS on one word (see
//! [`crate::slot`]); none takes a lock or waits for another worker. Two
//! workers may process the two directions of one NAT flow at once: each
//! state change is atomic, and the idle timer is re-armed right after in a
//! second CAS, so at worst the timer of the losing transition's state
//! survives; the kernel has the same window between its state change under
//! cp->lock and the timer update in ip_vs_conn_put().

use crate::entry::{ConnEntry, ConnId, Transition};
use crate::flags::ConnFlags;
use crate::slot::{
    dest_n_controlled, dest_word, state_flags, state_state, state_timeout, state_word,
    timer_expires, timer_in_pkts, timer_word, DEST, MAX24, STATE, TIMER, V4_WORDS, V6_WORDS,
};
use crate::table::{ConnTable, PickStore, Shard};
use crate::tcp_state::{next_state, ConnState, Direction};
use xvs_config::Timeouts;

/// How long an expired entry that still controls others is kept
/// (REFERENCE §3; ip_vs_conn_expire() re-arms with 60*HZ).
pub const CONTROLLER_REARM_SECS: u32 = 60;

const TCP: u8 = 6;

/// The IPVS TCP transition of an entry's flags and state byte for a
/// segment with `tcp_flags` in `dir` (set_tcp_state()): on an entry with
/// `NOOUTPUT`, an `Output` packet clears the flag and uses the OUTPUT
/// table, an `Input` packet uses INPUT-ONLY; a state change moves the
/// entry between active and inactive (active ⇔ ESTABLISHED, REFERENCE
/// §4.3). `None` for a template or a state byte that is no state.
#[inline]
pub(crate) fn tcp_step(
    mut flags: ConnFlags,
    state: u8,
    dir: Direction,
    tcp_flags: u8,
) -> Option<(ConnFlags, ConnState)> {
    if flags.contains(ConnFlags::TEMPLATE) {
        return None;
    }
    let cur = ConnState::from_u8(state)?;
    let table = if flags.contains(ConnFlags::NOOUTPUT) {
        if dir == Direction::Output {
            flags.remove(ConnFlags::NOOUTPUT);
            Direction::Output
        } else {
            Direction::InputOnly
        }
    } else {
        dir
    };
    let next = next_state(table, tcp_flags, cur)?;
    if next != cur {
        // REFERENCE §4.3: only a state change moves the counters.
        let inactive = flags.contains(ConnFlags::INACTIVE);
        if !inactive && next != ConnState::Established {
            flags.insert(ConnFlags::INACTIVE);
        } else if inactive && next == ConnState::Established {
            flags.remove(ConnFlags::INACTIVE);
        }
    }
    Some((flags, next))
}

/// The flags and state a new TCP entry has once the packet that opened
/// it (client → VIP, `tcp_flags`) has been tracked: what inserting it in
/// NONE and then applying [`ConnTable::tcp_transition`] would leave, so
/// the opener can insert it that way in one step.
pub fn opened_tcp(flags: ConnFlags, tcp_flags: u8) -> (ConnFlags, ConnState) {
    tcp_step(flags, ConnState::None as u8, Direction::Input, tcp_flags)
        .unwrap_or((flags, ConnState::None))
}

impl ConnTable {
    /// Apply the IPVS TCP transition (REFERENCE §4.2) for a segment with
    /// `tcp_flags` travelling in `dir`, from any worker.
    ///
    /// As set_tcp_state(): on an entry with `NOOUTPUT`, an `Output` packet
    /// clears the flag and uses the OUTPUT table, an `Input` packet uses
    /// INPUT-ONLY. When the state changes, the entry moves between inactive
    /// and active (active ⇔ ESTABLISHED, REFERENCE §4.3) and the result says
    /// so. The new state's timeout from `timeouts` becomes the idle timeout
    /// and the timer is re-armed from `now_secs`. `None` for a stale id, a
    /// non-TCP entry or a template.
    pub fn tcp_transition(
        &self,
        id: ConnId,
        dir: Direction,
        tcp_flags: u8,
        timeouts: &Timeouts,
        now_secs: u32,
    ) -> Option<Transition> {
        let slot = self.slot_of(id)?;
        if slot.proto(id.gen())? != TCP {
            return None;
        }
        let (old, new) = slot.update(STATE, id.gen(), |w| {
            let (flags, next) =
                tcp_step(ConnFlags(state_flags(w)), state_state(w), dir, tcp_flags)?;
            Some(state_word(
                flags.bits(),
                next as u8,
                next.timeout(timeouts),
                0,
            ))
        })?;
        let timeout = state_timeout(new);
        slot.update(TIMER, id.gen(), |t| {
            Some(timer_word(
                now_secs.saturating_add(timeout),
                timer_in_pkts(t),
                0,
            ))
        });
        let was_inactive = ConnFlags(state_flags(old)).contains(ConnFlags::INACTIVE);
        let is_inactive = ConnFlags(state_flags(new)).contains(ConnFlags::INACTIVE);
        Some(Transition {
            old: ConnState::from_u8(state_state(old)).unwrap_or(ConnState::None),
            new: ConnState::from_u8(state_state(new)).unwrap_or(ConnState::None),
            became_active: was_inactive && !is_inactive,
            became_inactive: !was_inactive && is_inactive,
        })
    }

    /// Apply a sync update to an existing entry, from any thread, as an
    /// IPVS backup does for a connection it already has (ip_vs_proc_conn(),
    /// REFERENCE §9): the entry takes the `INACTIVE`, `IN_SEQ` and `OUT_SEQ`
    /// bits of `flags` ([`ConnFlags::BACKUP_UPD_MASK`]) and keeps its other
    /// flags; its state becomes `state`, its idle timeout `timeout_secs`
    /// (clamped to 24 bits), and its timer is re-armed to expire
    /// `timeout_secs` after `now_secs`.
    ///
    /// The result says, as [`Self::tcp_transition`]'s does, whether the
    /// entry moved between inactive and active so the caller can move the
    /// real server's counters; for a template (counted in `persistconns`
    /// only) it never does, as the kernel moves no counter for one. `None`
    /// for a stale id or an entry being freed.
    pub fn resync(
        &self,
        id: ConnId,
        flags: ConnFlags,
        state: ConnState,
        timeout_secs: u32,
        now_secs: u32,
    ) -> Option<Transition> {
        let slot = self.slot_of(id)?;
        let upd = ConnFlags::BACKUP_UPD_MASK.bits();
        let timeout = timeout_secs.min(MAX24);
        let (old, new) = slot.update(STATE, id.gen(), |w| {
            let f = (state_flags(w) & !upd) | (flags.bits() & upd);
            Some(state_word(f, state as u8, timeout, 0))
        })?;
        slot.update(TIMER, id.gen(), |t| {
            Some(timer_word(
                now_secs.saturating_add(timeout),
                timer_in_pkts(t),
                0,
            ))
        });
        let old_flags = ConnFlags(state_flags(old));
        let counted = !old_flags.contains(ConnFlags::TEMPLATE);
        let was_inactive = old_flags.contains(ConnFlags::INACTIVE);
        let is_inactive = ConnFlags(state_flags(new)).contains(ConnFlags::INACTIVE);
        Some(Transition {
            old: ConnState::from_u8(state_state(old)).unwrap_or(ConnState::None),
            new: state,
            became_active: counted && was_inactive && !is_inactive,
            became_inactive: counted && !was_inactive && is_inactive,
        })
    }

    /// Re-arm the idle timer: the entry now expires `timeout_secs` after
    /// `now_secs` (UDP packets in either direction, templates on use); if
    /// that moved the timer, the entry is marked [`ConnFlags::REFRESHED`].
    /// False for a stale id.
    pub fn touch(&self, id: ConnId, timeout_secs: u32, now_secs: u32) -> bool {
        let Some(slot) = self.slot_of(id) else {
            return false;
        };
        let timeout = timeout_secs.min(MAX24);
        let Some((old, new)) = slot.update(TIMER, id.gen(), |t| {
            Some(timer_word(
                now_secs.saturating_add(timeout),
                timer_in_pkts(t),
                0,
            ))
        }) else {
            return false;
        };
        // The timer moved: the entry saw a packet after the second it
        // opened in (the fast path skips a touch that would not move it, so
        // both paths set this alike).
        let refreshed = if timer_expires(old) != timer_expires(new) {
            ConnFlags::REFRESHED.bits()
        } else {
            0
        };
        // Record the timeout for listings and sync; usually unchanged,
        // so this is a load, not a second CAS.
        slot.update(STATE, id.gen(), |w| {
            let flags = state_flags(w) | refreshed;
            (state_timeout(w) != timeout || flags != state_flags(w))
                .then(|| state_word(flags, state_state(w), timeout, 0))
        });
        true
    }

    /// Count one packet (IPVS counts input packets for its sync
    /// thresholds). Returns the new count (24 bits, wrapping), `None` for a
    /// stale id.
    pub fn count_packet(&self, id: ConnId) -> Option<u32> {
        let slot = self.slot_of(id)?;
        let (_, new) = slot.update(TIMER, id.gen(), |t| {
            let n = timer_in_pkts(t).wrapping_add(1) & MAX24;
            Some(timer_word(timer_expires(t), n, 0))
        })?;
        Some(timer_in_pkts(new))
    }

    /// Make the entry expire now (conn_reuse_mode rescheduling,
    /// expire_nodest_conn): lookups stop finding it at once (unless it
    /// controls others, REFERENCE §3) and the owner's next sweep frees it.
    pub fn expire_now(&self, id: ConnId) -> bool {
        self.slot_of(id)
            .and_then(|s| {
                s.update(TIMER, id.gen(), |t| {
                    Some(timer_word(0, timer_in_pkts(t), 0))
                })
            })
            .is_some()
    }

    /// Take the entry out of every lookup for good while leaving it to
    /// expire normally, as IPVS rehashes an invalid template so that it
    /// "never matches again" (REFERENCE §3). Clears `HASHED`.
    pub fn unhash(&self, id: ConnId) -> bool {
        self.slot_of(id)
            .and_then(|s| {
                s.update(STATE, id.gen(), |w| {
                    let f = state_flags(w) & !ConnFlags::HASHED.bits();
                    Some(state_word(f, state_state(w), state_timeout(w), 0))
                })
            })
            .is_some()
    }

    /// Change the `n_controlled` count of `id` by ±1. False if `id` is
    /// stale or retired (being freed), or the count is saturated.
    pub(crate) fn adjust_controlled(&self, id: ConnId, increment: bool) -> bool {
        let Some(slot) = self.slot_of(id) else {
            return false;
        };
        slot.update(DEST, id.gen(), |d| {
            let n = dest_n_controlled(d);
            let n = if increment {
                if n >= MAX24 {
                    return None;
                }
                n + 1
            } else {
                n.saturating_sub(1)
            };
            Some(dest_word(d as u32, n, 0))
        })
        .is_some()
    }

    /// Owner only: examine up to `budget` slots of `worker`'s shard from
    /// its rolling cursor (IPv4 slots, then IPv6), and free every entry
    /// whose timer has run out, handing a final copy to `on_expire` so the
    /// caller can unbind the real server's counters (the copy's `INACTIVE`
    /// flag says which). An entry that still controls others is re-armed for
    /// [`CONTROLLER_REARM_SECS`] instead (REFERENCE §3); freeing a
    /// controlled entry decrements its controller's `n_controlled`. Returns
    /// the number of entries freed. Call it every loop iteration with a
    /// small budget: the work per call is bounded, and there is no full scan.
    pub fn expire_step(
        &self,
        worker: usize,
        now_secs: u32,
        budget: usize,
        mut on_expire: impl FnMut(&ConnEntry),
    ) -> usize {
        let Some(shard) = self.shards.get(worker) else {
            return 0;
        };
        let n4 = shard.v4.capacity();
        let total = n4 + shard.v6.capacity();
        if total == 0 {
            return 0;
        }
        let mut cursor = shard.cursor.load(std::sync::atomic::Ordering::Relaxed) % total;
        let mut freed = 0;
        for _ in 0..budget.min(total) {
            let hit = if cursor < n4 {
                self.expire_slot::<V4_WORDS>(worker, cursor, now_secs, &mut on_expire)
            } else {
                self.expire_slot::<V6_WORDS>(worker, cursor - n4, now_secs, &mut on_expire)
            };
            freed += usize::from(hit);
            cursor = if cursor + 1 == total { 0 } else { cursor + 1 };
        }
        shard
            .cursor
            .store(cursor, std::sync::atomic::Ordering::Relaxed);
        freed
    }

    /// Owner: expire slot `i` of `worker`'s `W`-wide store if due.
    pub(crate) fn expire_slot<const W: usize>(
        &self,
        worker: usize,
        i: usize,
        now: u32,
        on_expire: &mut impl FnMut(&ConnEntry),
    ) -> bool
    where
        Shard: PickStore<W>,
    {
        let Some(shard) = self.shards.get(worker) else {
            return false;
        };
        let store = <Shard as PickStore<W>>::store(shard);
        let Some(slot) = store.slot(i) else {
            return false;
        };
        let Some(f) = store.read(i) else {
            return false;
        };
        if now < f.expires {
            return false;
        }
        let owner = shard.enter();
        let gen = f.seq;
        // 1. Stop new controlled entries from binding to it, unless it
        //    already controls some: then it lives on (ip_vs_conn_expire()).
        if slot
            .retag_if(DEST, gen, |d| dest_n_controlled(d) == 0)
            .is_err()
        {
            slot.update(TIMER, gen, |t| {
                (now >= timer_expires(t)).then(|| {
                    timer_word(
                        now.saturating_add(CONTROLLER_REARM_SECS),
                        timer_in_pkts(t),
                        0,
                    )
                })
            });
            return false;
        }
        // 2. Claim the timer, unless a packet re-armed it meanwhile.
        if slot
            .retag_if(TIMER, gen, |t| now >= timer_expires(t))
            .is_err()
        {
            slot.restore_tag(DEST, gen);
            return false;
        }
        // 3. Freeze state/flags: no transition can land after this, so the
        //    copy handed to on_expire has the flags the counters reflect.
        //    (Only the owner retags, so this cannot fail; undo if it did.)
        if slot.retag_if(STATE, gen, |_| true).is_err() {
            slot.restore_tag(DEST, gen);
            slot.restore_tag(TIMER, gen);
            return false;
        }
        // Only the owner changes seq, so the slot is still this entry.
        let last = store.read(i).unwrap_or(f);
        store.unpublish_free(i as u32, &last, &self.hasher);
        if last.controller != 0 {
            self.adjust_controlled(ConnId::from_raw(last.controller), false);
        }
        // i < capacity ≤ 2^24.
        let id = ConnId::new(gen, W == V6_WORDS, worker, i as u32);
        // The slot is consistent again: the callback may insert on this
        // worker.
        drop(owner);
        on_expire(&ConnEntry::from_fields(id, &last));
        true
    }
}
