//! Tests of [`ConnTable::make_room`]: which entries give way to a new one
//! and in what order, how far one call looks, and that an eviction tears an
//! entry down as its expiry would (keys, controller count, final copy).

use std::net::IpAddr;

use xvs_config::{ForwardMethod, Timeouts};

use crate::tcp_state::tcp_flags::{ACK, SYN};
use crate::{
    ConnFlags, ConnId, ConnState, ConnTable, Direction, Eviction, InsertError, NewConn, TableConfig,
};

use crate::tests_fixtures::{flow4, ip, TCP};
const UDP: u8 = 17;

fn conn(proto: u8, cport: u16, state: ConnState) -> NewConn {
    NewConn {
        protocol: proto,
        state,
        timeout_secs: 60,
        ..flow4(ForwardMethod::Nat, cport)
    }
}

fn template() -> NewConn {
    NewConn {
        cport: 0,
        lport: 0,
        flags: ConnFlags::for_method(ForwardMethod::Nat) | ConnFlags::TEMPLATE,
        timeout_secs: 300,
        ..conn(TCP, 0, ConnState::None)
    }
}

/// One worker, `cap` IPv4 entries.
fn table(cap: usize) -> ConnTable {
    match ConnTable::with_config(TableConfig {
        capacity_v4: cap,
        capacity_v6: 1,
        workers: 1,
        hash_seed: 9,
    }) {
        Ok(t) => t,
        Err(e) => panic!("table: {e}"),
    }
}

fn ins(t: &ConnTable, c: &NewConn, now: u32) -> ConnId {
    match t.insert(0, c, now) {
        Ok(id) => id,
        Err(e) => panic!("insert {c:?}: {e}"),
    }
}

/// `make_room` with every freed entry collected.
fn room(t: &ConnTable, now: u32, scan: usize) -> (Option<Eviction>, Vec<(ConnId, Eviction)>) {
    let mut freed = Vec::new();
    let got = t.make_room(0, false, now, scan, None, |e, c| freed.push((e.id, c)));
    (got, freed)
}

#[test]
fn half_open_goes_first_then_closing_and_established_and_busy_templates_never() {
    let t = table(6);
    let est = ins(&t, &conn(TCP, 1, ConnState::Established), 10);
    let tw = ins(&t, &conn(TCP, 2, ConnState::TimeWait), 10);
    let tpl = ins(&t, &template(), 10);
    let syn = ins(&t, &conn(TCP, 3, ConnState::SynRecv), 10);
    let fw = ins(&t, &conn(TCP, 4, ConnState::FinWait), 10);
    // The template controls an established connection.
    let held = ins(
        &t,
        &NewConn {
            controller: Some(tpl),
            ..conn(TCP, 5, ConnState::Established)
        },
        10,
    );
    assert_eq!(
        t.insert(0, &conn(TCP, 6, ConnState::None), 10),
        Err(InsertError::Full)
    );
    // The TIME_WAIT entry comes first in slot order, yet the half-open one
    // goes first.
    assert_eq!(
        room(&t, 11, 64),
        (Some(Eviction::Embryonic), vec![(syn, Eviction::Embryonic)])
    );
    assert!(t.get(syn).is_none());
    let (got, freed) = room(&t, 11, 64);
    assert_eq!(got, Some(Eviction::Closing));
    assert_eq!(freed.len(), 1);
    let (got2, freed2) = room(&t, 11, 64);
    assert_eq!(got2, Some(Eviction::Closing));
    let mut closing = vec![freed[0].0, freed2[0].0];
    closing.sort_by_key(|id| id.raw());
    let mut want = vec![tw, fw];
    want.sort_by_key(|id| id.raw());
    assert_eq!(closing, want);
    // Only established entries and the template holding one are left:
    // nothing gives way.
    assert_eq!(room(&t, 11, 64), (None, vec![]));
    assert!(t.get(est).is_some() && t.get(held).is_some() && t.get(tpl).is_some());
    assert_eq!(t.len(), 3);
}

/// Insert `c`; into a full table, make room first (sparing `spare`), as
/// the worker's insert_making_room does.
fn ins_making_room(t: &ConnTable, c: &NewConn, now: u32, spare: Option<ConnId>) -> ConnId {
    match t.insert(0, c, now) {
        Ok(id) => id,
        Err(InsertError::Full) => {
            let got = t.make_room(0, false, now, 64, spare, |_, _| {});
            assert!(got.is_some(), "no room for {c:?}");
            ins(t, c, now)
        }
        Err(e) => panic!("insert {c:?}: {e}"),
    }
}

/// A client of a persistent service from 203.0.113.`n`: its template, and
/// the half-open connection it controls, each inserted making room.
fn spoofed(t: &ConnTable, n: u16, now: u32) -> (ConnId, ConnId) {
    let src = IpAddr::from([203, 0, 113, n as u8]);
    let tpl = NewConn {
        caddr: src,
        laddr: src,
        ..template()
    };
    let tpl = ins_making_room(t, &tpl, now, None);
    let c = NewConn {
        caddr: src,
        laddr: src,
        controller: Some(tpl),
        ..conn(TCP, 1000 + n, ConnState::SynRecv)
    };
    (tpl, ins_making_room(t, &c, now, Some(tpl)))
}

/// As [`spoofed`], but the client's ACK completes the handshake.
fn real_client(t: &ConnTable, n: u16, now: u32) -> (ConnId, ConnId) {
    let (tpl, c) = spoofed(t, n, now);
    assert!(t
        .tcp_transition(c, Direction::Input, ACK, &Timeouts::default(), now)
        .is_some());
    assert_eq!(t.get(c).map(|e| e.state), Some(ConnState::Established));
    (tpl, c)
}

#[test]
fn a_template_left_without_connections_gives_way_but_one_holding_a_connection_never() {
    let t = table(4);
    // A real client: template and an established connection.
    let (real_tpl, real) = real_client(&t, 1, 10);
    // A spoofed source: template and SYN_RECV.
    let (spoof_tpl, spoof) = spoofed(&t, 2, 10);
    assert_eq!(t.len(), 4);
    // The half-open connection goes first (slot order puts the real
    // client's pair before it, and neither may go).
    assert_eq!(
        room(&t, 11, 64),
        (
            Some(Eviction::Embryonic),
            vec![(spoof, Eviction::Embryonic)]
        )
    );
    assert_eq!(t.get(spoof_tpl).map(|e| e.n_controlled), Some(0));
    // Its template now controls nothing and gives way as `template`.
    assert_eq!(
        room(&t, 11, 64),
        (
            Some(Eviction::Template),
            vec![(spoof_tpl, Eviction::Template)]
        )
    );
    assert!(t
        .lookup_template(0, TCP, ip("203.0.113.2"), ip("198.18.10.100"), 80, 11)
        .is_none());
    // The real client's template controls an established connection: never.
    assert_eq!(room(&t, 11, 64), (None, vec![]));
    assert_eq!(room(&t, 500, 64), (None, vec![]));
    assert!(t.get(real_tpl).is_some() && t.get(real).is_some());
}

#[test]
fn a_spoofed_flood_on_a_persistent_service_keeps_finding_room() {
    // Each spoofed SYN needs two slots; without template eviction the
    // table fills with templates after the first evictions.
    let t = table(8);
    let (real_tpl, real) = real_client(&t, 0, 10);
    for n in 1..200u16 {
        spoofed(&t, n, 10);
    }
    assert!(t.get(real_tpl).is_some() && t.get(real).is_some());
}

#[test]
fn the_template_the_new_connection_names_is_spared() {
    let t = table(2);
    let tpl = ins(&t, &template(), 10);
    ins(&t, &conn(TCP, 1, ConnState::Established), 10);
    // The connection about to name it must find it.
    let mut freed = Vec::new();
    let got = t.make_room(0, false, 11, 64, Some(tpl), |e, c| freed.push((e.id, c)));
    assert_eq!((got, freed), (None, vec![]));
    assert_eq!(
        room(&t, 11, 64),
        (Some(Eviction::Template), vec![(tpl, Eviction::Template)])
    );
}

#[test]
fn expired_entries_are_freed_as_expiry_would() {
    let t = table(2);
    let a = ins(&t, &conn(TCP, 1, ConnState::Established), 10);
    let _b = ins(&t, &conn(TCP, 2, ConnState::Established), 10);
    // Established, but its timer ran out: the sweep just has not come.
    assert_eq!(
        room(&t, 70, 64),
        (Some(Eviction::Expired), vec![(a, Eviction::Expired)])
    );
}

#[test]
fn one_call_looks_at_most_scan_slots_and_the_next_goes_on_from_there() {
    let t = table(4);
    for p in 1..=3 {
        ins(&t, &conn(TCP, p, ConnState::Established), 10);
    }
    let syn = ins(&t, &conn(TCP, 9, ConnState::SynRecv), 10);
    // Slots 0 and 1 are established: two slots examined, nothing found.
    assert_eq!(room(&t, 11, 2), (None, vec![]));
    // The cursor moved on: slots 2 and 3, where the half-open one is.
    assert_eq!(
        room(&t, 11, 2),
        (Some(Eviction::Embryonic), vec![(syn, Eviction::Embryonic)])
    );
    // A closing entry within the bound is taken when no half-open one is.
    let t = table(3);
    let fw = ins(&t, &conn(TCP, 1, ConnState::FinWait), 10);
    ins(&t, &conn(TCP, 2, ConnState::Established), 10);
    ins(&t, &conn(TCP, 3, ConnState::SynRecv), 10);
    assert_eq!(
        room(&t, 11, 2),
        (Some(Eviction::Closing), vec![(fw, Eviction::Closing)])
    );
}

#[test]
fn an_evicted_entry_leaves_every_index_and_its_template() {
    let t = table(3);
    let tpl = ins(&t, &template(), 10);
    let c = NewConn {
        controller: Some(tpl),
        ..conn(TCP, 40000, ConnState::SynRecv)
    };
    let id = ins(&t, &c, 10);
    assert_eq!(t.get(tpl).map(|e| e.n_controlled), Some(1));
    let mut copies = Vec::new();
    let got = t.make_room(0, false, 11, 64, None, |e, class| copies.push((*e, class)));
    assert_eq!(got, Some(Eviction::Embryonic));
    assert_eq!(copies.len(), 1);
    let (e, _) = copies[0];
    assert_eq!(e.id, id);
    // The final copy says how the real server counted it.
    assert!(e.flags.contains(ConnFlags::INACTIVE));
    assert_eq!(e.dest_id, 7);
    assert_eq!(t.get(tpl).map(|e| e.n_controlled), Some(0));
    assert!(t
        .lookup_in(0, TCP, c.caddr, c.cport, c.vaddr, c.vport, 11)
        .is_none());
    assert!(t
        .lookup_out(0, TCP, c.daddr, c.dport, c.laddr, c.lport, 11)
        .is_none());
    // The slot is free again: the same flow can be inserted.
    assert!(t.insert(0, &c, 11).is_ok());
}

#[test]
fn a_handshake_that_completes_is_no_longer_evictable() {
    let t = table(2);
    let id = ins(&t, &conn(TCP, 1, ConnState::None), 10);
    let timeouts = Timeouts::default();
    t.tcp_transition(id, Direction::Input, SYN, &timeouts, 10);
    assert_eq!(t.get(id).map(|e| e.state), Some(ConnState::SynRecv));
    t.tcp_transition(id, Direction::Output, SYN | ACK, &timeouts, 10);
    t.tcp_transition(id, Direction::Input, ACK, &timeouts, 10);
    assert_eq!(t.get(id).map(|e| e.state), Some(ConnState::Established));
    assert_eq!(room(&t, 11, 64), (None, vec![]));
}

#[test]
fn udp_gives_way_until_a_later_packet_refreshed_it() {
    let t = table(2);
    let once = ins(&t, &conn(UDP, 1, ConnState::Udp), 10);
    let flow = ins(&t, &conn(UDP, 2, ConnState::Udp), 10);
    // A packet in the second the flow opened in does not move its timer.
    assert!(t.touch(flow, 60, 10));
    assert!(!t
        .get(flow)
        .is_some_and(|e| e.flags.contains(ConnFlags::REFRESHED)));
    // One a second later does.
    assert!(t.touch(flow, 60, 11));
    assert!(t
        .get(flow)
        .is_some_and(|e| e.flags.contains(ConnFlags::REFRESHED)));
    assert_eq!(
        room(&t, 12, 64),
        (Some(Eviction::Embryonic), vec![(once, Eviction::Embryonic)])
    );
    assert_eq!(room(&t, 12, 64), (None, vec![]));
    assert!(t.get(flow).is_some());
}
