//! Unit tests of `receiver`: peer and SyncID filtering, control
//! datagrams, drops counted by reason, and that the reason list covers
//! every error the codec and the checks can give.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use xvs_wire::sync::{build, build_control, SyncEntry};

use super::*;
use crate::synced::tests::{dr6_udp, fullnat4};

fn peer() -> IpAddr {
    Ipv4Addr::new(192, 0, 2, 2).into()
}

fn receiver(sync_id: u8) -> Receiver {
    Receiver::new(ReceiverConfig {
        sync_id,
        peers: vec![peer(), "2001:db8::2".parse().unwrap()],
    })
}

fn datagram(sync_id: u8, entries: &[SyncEntry]) -> Vec<u8> {
    let mut d = Vec::new();
    build(&mut d, sync_id, entries);
    d
}

fn good() -> Vec<SyncEntry> {
    vec![
        Synced::from_entry(&fullnat4()).to_wire(),
        Synced::from_entry(&dr6_udp()).to_wire(),
    ]
}

#[test]
fn entries_from_a_peer() {
    let mut r = receiver(7);
    let Received::Entries(got) = r.handle(peer(), &datagram(7, &good())) else {
        panic!("entries expected");
    };
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].local,
        Some((Ipv4Addr::new(198, 18, 0, 5).into(), 40001))
    );
    // The same peer seen through a dual-stack socket.
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 2).to_ipv6_mapped());
    assert!(
        matches!(r.handle(mapped, &datagram(7, &good())), Received::Entries(e) if e.len() == 2)
    );
    let c = r.counters();
    assert_eq!((c.datagrams, c.entries_ok, c.dropped_total()), (2, 4, 0));
}

#[test]
fn strangers_are_dropped() {
    let mut r = receiver(0);
    let d = datagram(0, &good());
    assert_eq!(
        r.handle(Ipv4Addr::new(192, 0, 2, 3).into(), &d),
        Received::Dropped
    );
    let v6: IpAddr = Ipv6Addr::LOCALHOST.into();
    assert_eq!(r.handle(v6, &d), Received::Dropped);
    let mut ctl = Vec::new();
    build_control(&mut ctl, 0, Control::BulkRequest);
    assert_eq!(r.handle(v6, &ctl), Received::Dropped);
    assert_eq!(r.counters().dropped("not_peer"), 3);
}

#[test]
fn sync_id_filter_only_when_own_is_set() {
    let mut r = receiver(7);
    assert_eq!(r.handle(peer(), &datagram(8, &good())), Received::Dropped);
    let mut ctl = Vec::new();
    build_control(&mut ctl, 8, Control::BulkDone);
    assert_eq!(r.handle(peer(), &ctl), Received::Dropped);
    assert_eq!(r.counters().dropped("sync_id"), 2);
    let mut any = receiver(0);
    assert!(matches!(
        any.handle(peer(), &datagram(8, &good())),
        Received::Entries(_)
    ));
    assert_eq!(any.handle(peer(), &ctl), Received::BulkDone);
    ctl.clear();
    build_control(&mut ctl, 7, Control::BulkRequest);
    assert_eq!(r.handle(peer(), &ctl), Received::BulkRequest);
    assert_eq!(r.counters().controls, 1);
}

#[test]
fn drops_by_reason() {
    let mut r = receiver(0);
    assert_eq!(r.handle(peer(), &[0, 0, 0]), Received::Dropped);
    let mut v0 = datagram(0, &good());
    v0[6] = 1; // spare
    assert_eq!(r.handle(peer(), &v0), Received::Dropped);
    let mut entries = good();
    entries.insert(
        1,
        SyncEntry {
            protocol: 1,
            ..entries[0].clone()
        },
    );
    entries.push(SyncEntry {
        cport: 0,
        ..entries[0].clone()
    });
    let d = datagram(0, &entries);
    assert!(matches!(r.handle(peer(), &d), Received::Entries(e) if e.len() == 2));
    // A truncated last entry: the rest of the datagram is dropped.
    let mut cut = datagram(0, &good());
    cut[4] = 3; // three announced, two there
    assert!(matches!(r.handle(peer(), &cut), Received::Entries(e) if e.len() == 2));
    let c = r.counters();
    let nonzero: Vec<_> = c.drops().filter(|&(_, n)| n > 0).collect();
    assert_eq!(
        nonzero,
        [
            ("short", 1),
            ("spare", 1),
            ("entry_truncated", 1),
            ("protocol", 1),
            ("cport", 1)
        ]
    );
    assert_eq!((c.datagrams, c.entries_ok, c.dropped_total()), (4, 4, 5));
    assert_eq!(c.dropped("no_such_reason"), 0);
}

#[test]
fn reason_list_covers_every_error() {
    let sync = [
        SyncError::Short,
        SyncError::Size,
        SyncError::Reserved,
        SyncError::Version,
        SyncError::Spare,
    ]
    .map(SyncError::reason);
    let entry = [
        EntryError::Truncated,
        EntryError::Version,
        EntryError::Type,
        EntryError::Size,
        EntryError::Option,
        EntryError::SeqData,
        EntryError::PeData,
        EntryError::PeName,
        EntryError::MandatoryOption(0x10),
    ]
    .map(EntryError::reason);
    let mut all = vec!["not_peer", "sync_id"];
    all.extend(sync);
    all.extend(entry);
    all.extend(Invalid::REASONS);
    assert_eq!(all, DROP_REASONS);
    let mut unique = all.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
}
