//! Unit tests of `sender` on a virtual clock: pacing of partial
//! datagrams, byte-accurate packing of each entry kind, control
//! datagrams in order, the queue cap.

use std::time::{Duration, Instant};

use xvs_conn::{ConnEntry, ConnState};
use xvs_wire::sync::{parse, parse_control};

use super::*;
use crate::synced::tests::{dr6_udp, fullnat4, template4};

const MS: Duration = Duration::from_millis(1);

fn sender(mtu: u16) -> Sender {
    Sender::new(SenderConfig {
        sync_id: 9,
        mtu,
        ..SenderConfig::default()
    })
}

fn drain(s: &mut Sender, now: Instant) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.poll_transmit(now)).collect()
}

fn entry_count(d: &[u8]) -> usize {
    let (h, entries) = parse(d).unwrap();
    assert_eq!(h.sync_id, 9);
    assert!(entries.iter().all(Result::is_ok));
    entries.len()
}

#[test]
fn partial_datagram_waits_max_delay() {
    let t0 = Instant::now();
    let mut s = sender(1500);
    assert_eq!(s.poll_timeout(), None);
    assert!(s.offer(&fullnat4(), t0));
    assert!(!s.offer(&fullnat4(), t0 + MS), "already sent");
    assert_eq!(s.poll_transmit(t0 + 19 * MS), None);
    assert_eq!(s.poll_timeout(), Some(t0 + 20 * MS));
    // A second entry joins without moving the deadline.
    let udp = dr6_udp_swept(&mut s);
    assert!(s.offer(&udp, t0 + 10 * MS));
    assert_eq!(s.poll_timeout(), Some(t0 + 20 * MS));
    let d = s.poll_transmit(t0 + 20 * MS).unwrap();
    assert_eq!(entry_count(&d), 2);
    assert_eq!(d.len(), 8 + 48 + 76);
    assert_eq!(
        (s.poll_transmit(t0 + 40 * MS), s.poll_timeout()),
        (None, None)
    );
    let st = s.stats();
    assert_eq!((st.entries_sent, st.datagrams, st.bytes), (2, 1, 132));
}

/// `dr6_udp()` after a sweep has seen it, so the policy sends it.
fn dr6_udp_swept(s: &mut Sender) -> ConnEntry {
    let e = dr6_udp();
    s.begin_sweep();
    assert!(!s.offer(&e, Instant::now()));
    s.end_sweep();
    e
}

/// Entries of every size, many at once: each datagram is within the
/// limit, full ones go at once, nothing is lost.
#[test]
fn packs_by_real_size() {
    let t0 = Instant::now();
    let kinds = [
        (Synced::from_entry(&fullnat4()), 48),
        (Synced::from_entry(&dr6_udp()), 76),
        (Synced::from_entry(&template4()), 40),
        (
            Synced {
                local: Some(("2001:db8::5".parse().unwrap(), 1)),
                ..Synced::from_entry(&dr6_udp())
            },
            96,
        ),
        (
            Synced {
                worker: None,
                ..Synced::from_entry(&template4())
            },
            36,
        ),
    ];
    for (k, len) in &kinds {
        assert_eq!(wire_len(&k.to_wire()), *len);
    }
    for mtu in [0, 576, 1280, 1500, 9000, u16::MAX] {
        let mut s = sender(mtu);
        let limit = max_message_len(mtu).max(8 + 96);
        let mut pushed = 0;
        for i in 0..1000 {
            let (k, _) = &kinds[i % kinds.len()];
            s.push(k, t0);
            pushed += 1;
        }
        // Full datagrams are out without waiting.
        let now = drain(&mut s, t0);
        let later = drain(&mut s, t0 + 20 * MS);
        assert!(later.len() <= 1, "one partial at most");
        let mut got = 0;
        for d in now.iter().chain(&later) {
            assert!(d.len() <= limit, "mtu {mtu}: {} > {limit}", d.len());
            got += entry_count(d);
        }
        assert_eq!(got, pushed, "mtu {mtu}");
        assert_eq!(s.stats().entries_sent, pushed as u64);
    }
}

#[test]
fn datagram_of_one_kind_at_mtu_1500() {
    let t0 = Instant::now();
    let mut s = sender(1500);
    let e = Synced::from_entry(&fullnat4());
    for _ in 0..29 {
        s.push(&e, t0);
    }
    // 8 + 29·48 = 1400: 44 bytes left could still take a 40-byte entry.
    assert_eq!(s.queued(), 0);
    s.push(&e, t0);
    assert_eq!(s.queued(), 1);
    let d = s.poll_transmit(t0).unwrap();
    assert_eq!((d.len(), entry_count(&d)), (1400, 29));
}

#[test]
fn bulk_done_follows_all_entries() {
    let t0 = Instant::now();
    let mut s = sender(1500);
    let e = Synced::from_entry(&fullnat4());
    for _ in 0..40 {
        s.push(&e, t0);
    }
    s.bulk_done(t0);
    assert_eq!(s.poll_timeout(), None);
    let out = drain(&mut s, t0);
    assert_eq!(out.len(), 3);
    assert_eq!(entry_count(&out[0]) + entry_count(&out[1]), 40);
    assert_eq!(parse_control(&out[2]), Some((9, Control::BulkDone)));
    let st = s.stats();
    assert_eq!((st.datagrams, st.control_sent, st.entries_sent), (2, 1, 40));
}

#[test]
fn bulk_request_leaves_the_partial_pending() {
    let t0 = Instant::now();
    let mut s = sender(1500);
    s.push(&Synced::from_entry(&fullnat4()), t0);
    s.bulk_request(t0);
    let out = drain(&mut s, t0);
    assert_eq!(out.len(), 1);
    assert_eq!(parse_control(&out[0]), Some((9, Control::BulkRequest)));
    assert_eq!(drain(&mut s, t0 + 20 * MS).len(), 1);
}

#[test]
fn offer_follows_the_policy() {
    let t0 = Instant::now();
    let mut s = Sender::new(SenderConfig {
        refresh_secs: 60,
        ..SenderConfig::default()
    });
    let syn = ConnEntry {
        state: ConnState::SynRecv,
        ..fullnat4()
    };
    assert!(!s.offer(&syn, t0));
    let es = fullnat4();
    assert!(s.offer(&es, t0));
    let later = ConnEntry {
        expires_at: es.expires_at + 60,
        ..es
    };
    assert!(s.offer(&later, t0));
    assert_eq!(s.stats().refreshes, 1);
    assert!(!s.offer(&later, t0));
}

#[test]
fn queue_is_capped() {
    let t0 = Instant::now();
    let mut s = sender(1500);
    let e = Synced::from_entry(&fullnat4());
    // Every 29th entry fills a datagram: QUEUE_MAX + 2 of them, and one
    // entry pending.
    for _ in 0..29 * (QUEUE_MAX + 2) + 1 {
        s.push(&e, t0);
    }
    assert_eq!(s.queued(), QUEUE_MAX);
    let st = s.stats();
    assert_eq!((st.queue_dropped, st.entries_dropped), (2, 58));
    s.bulk_done(t0);
    assert_eq!(s.stats().queue_dropped, 4, "the partial and BulkDone too");
    assert_eq!(drain(&mut s, t0).len(), QUEUE_MAX);
}
