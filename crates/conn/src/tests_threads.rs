//! Concurrency test with real threads: two writers churn their own shards
//! (insert, expire, reuse slots) while readers on other threads look up
//! entries of both shards, update them through their ids, and check that
//! every copy they get is exactly one entry's data, never a mix.
//!
//! Every field of flow `i` of writer `w` is a function of (w, i), and (w, i)
//! is recoverable from its client address, so a reader can check a copy
//! field by field. There are no timed assertions: the test only asserts
//! what was seen, and that enough was seen to mean something.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use xvs_config::{ForwardMethod, Timeouts};

use crate::tcp_state::tcp_flags::{ACK, SYN};
use crate::{ConnEntry, ConnFlags, ConnState, ConnTable, Direction, NewConn, TableConfig};

/// Writers insert at least this many flows each...
const FLOWS: u32 = 40_000;
/// ...and keep going until the readers together have made this many
/// lookups (so the test overlaps readers and writers however fast either
/// runs), up to a hard cap of `FLOWS * 50`. Optimised builds copy far
/// faster, so they need more copies for the same chance of a collision.
const MIN_READS: u64 = if cfg!(debug_assertions) {
    400_000
} else {
    4_000_000
};
/// Flow keys repeat with this period; only a few dozen are alive at once.
const KEY_MASK: u32 = 0xF_FFFF;
const WORKERS: usize = 2;

/// Flow `i` of writer `w`, IPv6 for odd `i` so both stores are exercised.
fn flow(w: usize, i: u32) -> NewConn {
    let v6 = i % 2 == 1;
    let [_, a, b, c] = i.to_be_bytes();
    let (caddr, vaddr, laddr, daddr) = if v6 {
        let i_hi = (i >> 16) as u16;
        let i_lo = i as u16;
        (
            IpAddr::V6(Ipv6Addr::new(0xfd00, w as u16, 0, 0, 0, 0, i_hi, i_lo)),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0x10, 0, 0, 0, 0, 0, 0x100)),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0x200, w as u16, 0, 0, 0, 0, i_lo)),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, (i % 7) as u16)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(10 + w as u8, a, b, c)),
            IpAddr::V4(Ipv4Addr::new(198, 18, 10, 100)),
            IpAddr::V4(Ipv4Addr::new(10, 200, w as u8, c)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, (i % 7) as u8)),
        )
    };
    NewConn {
        protocol: 6,
        caddr,
        cport: (i as u16) ^ 0x5555,
        vaddr,
        vport: 80,
        laddr,
        lport: (i >> 8) as u16 ^ (i as u16).rotate_left(3),
        daddr,
        dport: 8000 + (i % 13) as u16,
        flags: ConnFlags::for_method(ForwardMethod::FullNat),
        dest_id: i.wrapping_mul(2_654_435_761) ^ w as u32,
        controller: None,
        state: ConnState::None,
        timeout_secs: 2,
    }
}

/// Recover (w, i) from a copy's client address.
fn origin(e: &ConnEntry) -> Option<(usize, u32)> {
    match e.caddr {
        IpAddr::V4(a) => {
            let [w, x, y, z] = a.octets();
            Some((
                usize::from(w.checked_sub(10)?),
                u32::from_be_bytes([0, x, y, z]),
            ))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            Some((usize::from(s[1]), (u32::from(s[6]) << 16) | u32::from(s[7])))
        }
    }
}

/// The copy must be flow (w, i) exactly, in every key field.
fn check(e: &ConnEntry) -> Result<(), String> {
    let (w, i) = origin(e).ok_or_else(|| format!("unknown client {e:?}"))?;
    let f = flow(w, i);
    let got = (
        e.protocol, e.caddr, e.cport, e.vaddr, e.vport, e.laddr, e.lport, e.daddr, e.dport,
        e.dest_id,
    );
    let want = (
        f.protocol, f.caddr, f.cport, f.vaddr, f.vport, f.laddr, f.lport, f.daddr, f.dport,
        f.dest_id,
    );
    if got != want || e.id.worker() != w || e.flags.method() != Some(ForwardMethod::FullNat) {
        return Err(format!("torn or wrong entry: got {got:?}, want {want:?}"));
    }
    Ok(())
}

#[test]
fn writers_churn_while_readers_see_only_whole_entries() {
    let t = Arc::new(
        ConnTable::with_config(TableConfig {
            capacity_v4: 64 * WORKERS,
            capacity_v6: 64 * WORKERS,
            workers: WORKERS,
            hash_seed: 99,
        })
        .unwrap_or_else(|e| panic!("{e}")),
    );
    let progress: Arc<[AtomicU32; WORKERS]> = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));

    let writers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (t, progress, reads) = (Arc::clone(&t), Arc::clone(&progress), Arc::clone(&reads));
            thread::spawn(move || {
                let mut full = 0u32;
                for i in 0..FLOWS * 50 {
                    if i >= FLOWS && reads.load(Ordering::Relaxed) >= MIN_READS {
                        break;
                    }
                    let k = i & KEY_MASK;
                    // Virtual clock: 8 flows per second, 2 s timeout, so a
                    // few dozen flows are alive and slots recycle constantly.
                    let now = i / 8;
                    let mut res = t.insert(w, &flow(w, k), now);
                    if res.is_err() {
                        full += 1;
                        t.expire_step(w, now, usize::MAX, |_| {});
                        res = t.insert(w, &flow(w, k), now);
                    }
                    if res.is_ok() {
                        progress[w].store(i + 1, Ordering::Release);
                    }
                    t.expire_step(w, now, 4, |e| assert!(check(e).is_ok(), "{:?}", check(e)));
                }
                full
            })
        })
        .collect();

    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (t, progress, done, reads) = (
                Arc::clone(&t),
                Arc::clone(&progress),
                Arc::clone(&done),
                Arc::clone(&reads),
            );
            thread::spawn(move || {
                // Short timeouts everywhere: re-armed entries must still
                // expire on the writers' virtual clock, or shards fill up.
                let to = Timeouts {
                    tcp: 2,
                    tcp_fin: 2,
                    udp: 2,
                    syn_sent: 2,
                    syn_recv: 2,
                    time_wait: 2,
                    close: 2,
                    close_wait: 2,
                    last_ack: 2,
                    listen: 2,
                    synack: 2,
                };
                let (mut hits, mut lookups, mut x) = (0u64, 0u64, 0x9E37_79B9u32 + r);
                while !done.load(Ordering::Acquire) {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let w = (x as usize) % WORKERS;
                    let top = progress[w].load(Ordering::Acquire);
                    let i = top.saturating_sub(1 + (x >> 8) % 24);
                    let k = i & KEY_MASK;
                    let f = flow(w, k);
                    lookups += 1;
                    if lookups % 256 == 0 {
                        reads.fetch_add(256, Ordering::Relaxed);
                    }
                    // now = 0: ignore timers, see everything not yet freed.
                    let by_in = t.lookup_in(r as usize, 6, f.caddr, f.cport, f.vaddr, 80, 0);
                    let by_out = t.lookup_out(r as usize, 6, f.daddr, f.dport, f.laddr, f.lport, 0);
                    for id in [by_in, by_out].into_iter().flatten() {
                        // Update through the id from a non-owner thread,
                        // racing the owner's expiry and reuse of the slot.
                        t.count_packet(id);
                        let flags = if x & 1 == 0 { SYN } else { ACK };
                        t.tcp_transition(id, Direction::Input, flags, &to, i / 8);
                        if let Some(e) = t.get(id) {
                            hits += 1;
                            assert!(check(&e).is_ok(), "{:?}", check(&e));
                            assert_eq!(origin(&e), Some((w, k)), "lookup returned another flow");
                        }
                    }
                    // Scans copy every slot, including ones being rewritten
                    // right now: the widest window for a torn copy.
                    if lookups % 32 == 0 {
                        t.for_each(|e| assert!(check(e).is_ok(), "{:?}", check(e)));
                    }
                }
                (hits, lookups)
            })
        })
        .collect();

    let mut full = 0;
    for h in writers {
        full += h.join().unwrap_or_else(|_| panic!("writer panicked"));
    }
    done.store(true, Ordering::Release);
    let mut hits = 0;
    for h in readers {
        let (hit, _) = h.join().unwrap_or_else(|_| panic!("reader panicked"));
        hits += hit;
    }
    // The flows never outgrow the shards, so no insert was refused, and
    // the readers really did find (and check) entries of both shards.
    assert_eq!(full, 0);
    assert!(hits > 0, "readers never found an entry");
    // Everything the writers inserted is accounted for.
    for w in 0..WORKERS {
        t.expire_step(w, u32::MAX, usize::MAX, |e| assert!(check(e).is_ok()));
    }
    assert!(t.is_empty());
}
