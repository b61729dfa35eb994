//! Behaviour tests of the table API: inserts and the three lookups for both
//! families, Full, expiry and templates, stale ids, transitions.

use std::net::IpAddr;

use xvs_config::{ForwardMethod, Timeouts};

use crate::tcp_state::tcp_flags::{ACK, FIN, RST, SYN};
use crate::{
    ConnEntry, ConnFlags, ConnId, ConnState, ConnTable, Direction, InsertError, NewConn,
    TableConfig, TableError, CONTROLLER_REARM_SECS,
};

use crate::tests_fixtures::{flow, flow4, ip, TCP};
const UDP: u8 = 17;

fn nat4(cport: u16) -> NewConn {
    flow4(ForwardMethod::Nat, cport)
}

fn template(cnet: &str, v: &str, d: &str, timeout: u32) -> NewConn {
    NewConn {
        protocol: TCP,
        caddr: ip(cnet),
        cport: 0,
        vaddr: ip(v),
        vport: 80,
        laddr: ip(cnet),
        lport: 0,
        daddr: ip(d),
        dport: 8080,
        flags: ConnFlags::for_method(ForwardMethod::Dr) | ConnFlags::TEMPLATE,
        dest_id: 7,
        controller: None,
        state: ConnState::None,
        timeout_secs: timeout,
    }
}

fn lookup_in(t: &ConnTable, w: usize, c: &NewConn, now: u32) -> Option<ConnId> {
    t.lookup_in(w, c.protocol, c.caddr, c.cport, c.vaddr, c.vport, now)
}

fn lookup_out(t: &ConnTable, w: usize, c: &NewConn, now: u32) -> Option<ConnId> {
    t.lookup_out(w, c.protocol, c.daddr, c.dport, c.laddr, c.lport, now)
}

fn ins(t: &ConnTable, w: usize, c: &NewConn, now: u32) -> ConnId {
    match t.insert(w, c, now) {
        Ok(id) => id,
        Err(e) => panic!("insert failed: {e}"),
    }
}

fn sweep(t: &ConnTable, w: usize, now: u32) -> Vec<ConnEntry> {
    let mut out = Vec::new();
    t.expire_step(w, now, usize::MAX, |e| out.push(*e));
    out
}

#[test]
fn nat_v4_found_both_ways_from_every_worker() {
    let t = ConnTable::new(64, 2);
    let c = nat4(40000);
    let id = ins(&t, 0, &c, 100);
    assert_eq!(id.worker(), 0);
    for w in 0..2 {
        assert_eq!(lookup_in(&t, w, &c, 100), Some(id));
        assert_eq!(lookup_out(&t, w, &c, 100), Some(id));
    }
    let e = t.get(id).expect("live");
    assert_eq!(
        (e.caddr, e.cport, e.vaddr, e.vport),
        (c.caddr, 40000, c.vaddr, 80)
    );
    assert_eq!((e.daddr, e.dport, e.dest_id), (c.daddr, 8080, 7));
    assert_eq!(e.state, ConnState::None);
    assert_eq!(e.expires_at, 103);
    assert!(e.flags.contains(ConnFlags::HASHED | ConnFlags::INACTIVE));
    // Neighbouring tuples are other flows.
    let mut other = c;
    other.cport = 40001;
    assert_eq!(lookup_in(&t, 1, &other, 100), None);
    assert_eq!(
        t.lookup_in(0, UDP, c.caddr, c.cport, c.vaddr, c.vport, 100),
        None
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t.shard_len(0), 1);
    assert_eq!(t.shard_len(1), 0);
}

#[test]
fn v6_entries_work_the_same() {
    let t = ConnTable::new(16, 2);
    let c = flow(
        ForwardMethod::Nat,
        "fd00::50",
        5555,
        "fd00:10::100",
        "fd00:1::11",
    );
    let id = ins(&t, 1, &c, 0);
    assert!(id.is_ipv6());
    assert_eq!(lookup_in(&t, 0, &c, 1), Some(id));
    assert_eq!(lookup_out(&t, 0, &c, 1), Some(id));
    let e = t.get(id).expect("live");
    assert_eq!(
        (e.caddr, e.vaddr, e.daddr, e.laddr),
        (c.caddr, c.vaddr, c.daddr, c.laddr)
    );
    // The same numbers as IPv4-mapped do not match.
    assert_eq!(
        t.lookup_in(0, TCP, ip("::ffff:198.51.100.50"), 5555, c.vaddr, 80, 1),
        None
    );
    // Template in IPv6.
    let tpl = template("fd00::", "fd00:10::100", "fd00:1::11", 360);
    let tid = ins(&t, 0, &tpl, 0);
    assert_eq!(
        t.lookup_template(1, TCP, ip("fd00::"), c.vaddr, 80, 10),
        Some(tid)
    );
    assert_eq!(sweep(&t, 1, 1000).len(), 1);
    assert_eq!(sweep(&t, 0, 1000).len(), 1);
    assert!(t.is_empty());
}

#[test]
fn dr_entries_have_no_output_key() {
    let t = ConnTable::new(16, 1);
    let c = flow(
        ForwardMethod::Dr,
        "198.51.100.50",
        1000,
        "198.18.10.100",
        "10.0.0.11",
    );
    let id = ins(&t, 0, &c, 0);
    assert_eq!(lookup_in(&t, 0, &c, 0), Some(id));
    assert_eq!(lookup_out(&t, 0, &c, 0), None);
}

#[test]
fn fullnat_replies_are_found_by_local_address() {
    let t = ConnTable::new(16, 2);
    let mut c = flow(
        ForwardMethod::FullNat,
        "198.51.100.50",
        1000,
        "198.18.10.100",
        "10.0.0.11",
    );
    c.laddr = ip("10.0.0.2");
    c.lport = 61000;
    let id = ins(&t, 0, &c, 0);
    assert_eq!(
        t.get(id).map(|e| e.flags.method()),
        Some(Some(ForwardMethod::FullNat))
    );
    assert_eq!(
        t.lookup_out(1, TCP, c.daddr, 8080, ip("10.0.0.2"), 61000, 0),
        Some(id)
    );
    // The client tuple is not the reply key for FullNAT.
    assert_eq!(t.lookup_out(1, TCP, c.daddr, 8080, c.caddr, 1000, 0), None);
    // A second flow may not reuse the local port towards the same RS.
    let mut d = c;
    d.cport = 1001;
    assert_eq!(t.insert(1, &d, 0), Err(InsertError::Exists(id)));
    // Also when the caller vouches for the input key: the output key is
    // still checked.
    assert_eq!(t.insert_unseen(1, &d, 0), Err(InsertError::Exists(id)));
}

#[test]
fn insert_unseen_skips_only_the_input_key_search() {
    let t = ConnTable::new(16, 1);
    let dr = flow(
        ForwardMethod::Dr,
        "198.51.100.50",
        1000,
        "198.18.10.100",
        "10.0.0.11",
    );
    let id = ins(&t, 0, &dr, 0);
    assert_eq!(t.insert(0, &dr, 0), Err(InsertError::Exists(id)));
    // The caller's word is taken: a second entry with the same input key
    // goes in (what two racing workers could do anyway), and lookups find
    // one of them.
    let id2 = t.insert_unseen(0, &dr, 0).expect("inserted");
    assert_ne!(id, id2);
    assert!(matches!(lookup_in(&t, 0, &dr, 0), Some(x) if x == id || x == id2));
    assert_eq!(t.len(), 2);
}

#[test]
fn duplicate_keys_are_refused_across_shards_but_expired_ones_are_not() {
    let t = ConnTable::new(16, 2);
    let c = nat4(40000);
    let id = ins(&t, 0, &c, 0);
    assert_eq!(t.insert(1, &c, 1), Err(InsertError::Exists(id)));
    // After its 3 s, the old entry no longer blocks the key even before
    // the sweep frees it; the new one is what lookups find.
    let id2 = ins(&t, 1, &c, 3);
    assert_ne!(id, id2);
    assert_eq!(lookup_in(&t, 0, &c, 3), Some(id2));
    assert_eq!(t.len(), 2);
}

#[test]
fn address_families_must_not_mix() {
    let t = ConnTable::new(16, 1);
    let mut c = nat4(1);
    c.daddr = ip("fd00::11");
    assert_eq!(t.insert(0, &c, 0), Err(InsertError::AddressFamilyMismatch));
    assert_eq!(t.insert(5, &nat4(1), 0), Err(InsertError::NoSuchWorker(5)));
    assert_eq!(
        t.lookup_in(0, TCP, ip("1.2.3.4"), 1, ip("fd00::1"), 80, 0),
        None
    );
    assert!(t.is_empty());
}

#[test]
fn full_shard_refuses_new_flows_and_keeps_old_ones() {
    // 4 IPv4 slots over 2 shards: 2 each.
    let t = ConnTable::new(4, 2);
    let a = ins(&t, 0, &nat4(1), 0);
    let b = ins(&t, 0, &nat4(2), 0);
    assert_eq!(t.insert(0, &nat4(3), 0), Err(InsertError::Full));
    // Existing flows are untouched and still found.
    assert_eq!(lookup_in(&t, 1, &nat4(1), 1), Some(a));
    assert_eq!(lookup_out(&t, 1, &nat4(2), 1), Some(b));
    // The other shard still has room; the failed flow left nothing behind.
    assert_eq!(lookup_in(&t, 0, &nat4(3), 1), None);
    ins(&t, 1, &nat4(3), 0);
    assert_eq!(t.len(), 3);
    // IPv6 has its own capacity.
    ins(
        &t,
        0,
        &flow(ForwardMethod::Nat, "fd00::1", 1, "fd00::100", "fd00::11"),
        0,
    );
    // Once the shard's entries expire and are swept, it accepts again.
    assert_eq!(sweep(&t, 0, 3).len(), 3);
    ins(&t, 0, &nat4(4), 3);
    ins(&t, 0, &nat4(5), 3);
    assert_eq!(t.insert(0, &nat4(6), 3), Err(InsertError::Full));
}

#[test]
fn entries_vanish_after_their_timeout_and_the_sweep_reports_them() {
    let t = ConnTable::new(8, 1);
    let c = nat4(1);
    let id = ins(&t, 0, &c, 1000);
    let to = Timeouts::default();
    let tr = t
        .tcp_transition(id, Direction::Input, SYN, &to, 1000)
        .expect("tcp");
    assert_eq!((tr.old, tr.new), (ConnState::None, ConnState::SynRecv));
    // SYN_RECV: 60 s.
    assert_eq!(lookup_in(&t, 0, &c, 1059), Some(id));
    assert_eq!(
        lookup_in(&t, 0, &c, 1060),
        None,
        "expired entries are absent"
    );
    assert_eq!(t.get(id).map(|e| e.is_expired(1060)), Some(true));
    assert!(sweep(&t, 0, 1059).is_empty());
    let gone = sweep(&t, 0, 1060);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].id, id);
    assert_eq!(gone[0].state, ConnState::SynRecv);
    assert!(gone[0].flags.contains(ConnFlags::INACTIVE));
    assert_eq!(t.get(id), None);
    assert!(t.is_empty());
}

#[test]
fn expire_step_is_incremental() {
    let t = ConnTable::new(10, 1);
    for p in 0..10 {
        ins(&t, 0, &nat4(p), 0);
    }
    // Each call examines at most `budget` slots from where the last stopped.
    assert_eq!(t.expire_step(0, 100, 3, |_| {}), 3);
    assert_eq!(t.expire_step(0, 100, 3, |_| {}), 3);
    assert_eq!(t.len(), 4);
    // 10 IPv4 + 10 IPv6 slots: the rest is found within one more lap.
    let mut n = 0;
    for _ in 0..5 {
        n += t.expire_step(0, 100, 3, |_| {});
    }
    assert_eq!(n, 4);
    assert!(t.is_empty());
    assert_eq!(t.shards[0].v4.index().used_words(), 0);
    assert_eq!(t.shards[0].v4.index().total_overflow(), 0);
}

#[test]
fn stale_ids_fail_everything() {
    let t = ConnTable::new(1, 1);
    let c = nat4(1);
    let id = ins(&t, 0, &c, 0);
    sweep(&t, 0, 10);
    let to = Timeouts::default();
    assert_eq!(t.get(id), None);
    assert_eq!(t.tcp_transition(id, Direction::Input, ACK, &to, 10), None);
    assert!(!t.touch(id, 100, 10));
    assert_eq!(t.count_packet(id), None);
    assert!(!t.expire_now(id));
    assert!(!t.unhash(id));
    // The one slot is reused with a new generation; the old id still fails
    // and cannot touch the new entry.
    let id2 = ins(&t, 0, &nat4(2), 10);
    assert_ne!(id, id2);
    assert_eq!(t.get(id), None);
    assert!(!t.expire_now(id));
    assert_eq!(lookup_in(&t, 0, &nat4(2), 11), Some(id2));
    // Made-up ids do not panic.
    assert_eq!(t.get(ConnId::from_raw(u64::MAX)), None);
    assert!(!t.touch(ConnId::from_raw(0), 1, 1));
}

#[test]
fn nat_transitions_move_active_inactive_and_rearm() {
    let t = ConnTable::new(8, 2);
    let to = Timeouts::default();
    let id = ins(&t, 0, &nat4(1), 0);
    let step = |dir, f, now| t.tcp_transition(id, dir, f, &to, now).expect("tcp");
    let s = step(Direction::Input, SYN, 0);
    assert!(!s.became_active && !s.became_inactive);
    let s = step(Direction::Output, SYN | ACK, 1);
    assert_eq!(s.new, ConnState::SynRecv);
    let s = step(Direction::Input, ACK, 1);
    assert_eq!(
        (s.old, s.new, s.became_active),
        (ConnState::SynRecv, ConnState::Established, true)
    );
    let e = t.get(id).expect("live");
    assert!(!e.flags.contains(ConnFlags::INACTIVE));
    assert_eq!((e.timeout_secs, e.expires_at), (900, 901));
    // Same state again: no counter movement, timer re-armed.
    let s = step(Direction::Input, ACK, 500);
    assert!(!s.became_active && !s.became_inactive);
    assert_eq!(t.get(id).map(|e| e.expires_at), Some(1400));
    // Client FIN (INPUT: ES → CLOSE_WAIT): inactive again.
    let s = step(Direction::Input, FIN | ACK, 600);
    assert_eq!((s.new, s.became_inactive), (ConnState::CloseWait, true));
    let s = step(Direction::Output, FIN | ACK, 601);
    assert_eq!(s.new, ConnState::TimeWait);
    assert_eq!(
        t.get(id).map(|e| (e.timeout_secs, e.expires_at)),
        Some((120, 721))
    );
    // Non-TCP entries and templates have no TCP transition.
    let u = ins(
        &t,
        1,
        &NewConn {
            protocol: UDP,
            ..nat4(9)
        },
        0,
    );
    assert_eq!(t.tcp_transition(u, Direction::Input, SYN, &to, 0), None);
}

#[test]
fn dr_uses_input_only_until_a_reply_is_seen() {
    let t = ConnTable::new(8, 1);
    let to = Timeouts::default();
    let c = flow(
        ForwardMethod::Dr,
        "198.51.100.50",
        1,
        "198.18.10.100",
        "10.0.0.11",
    );
    let id = ins(&t, 0, &c, 0);
    for f in [SYN, ACK] {
        t.tcp_transition(id, Direction::Input, f, &to, 0);
    }
    // INPUT-ONLY: fin in ES → FIN_WAIT (INPUT would give CLOSE_WAIT).
    let s = t
        .tcp_transition(id, Direction::Input, FIN | ACK, &to, 1)
        .expect("tcp");
    assert_eq!(s.new, ConnState::FinWait);
    assert!(t
        .get(id)
        .is_some_and(|e| e.flags.contains(ConnFlags::NOOUTPUT)));
    // An output packet clears NOOUTPUT and uses the OUTPUT table.
    let s = t
        .tcp_transition(id, Direction::Output, RST, &to, 2)
        .expect("tcp");
    assert_eq!(s.new, ConnState::Close);
    assert!(t
        .get(id)
        .is_some_and(|e| !e.flags.contains(ConnFlags::NOOUTPUT)));
    // From now on INPUT, not INPUT-ONLY: fin in ES → CLOSE_WAIT.
    for f in [SYN, ACK] {
        t.tcp_transition(id, Direction::Input, f, &to, 3);
    }
    let s = t
        .tcp_transition(id, Direction::Input, FIN, &to, 3)
        .expect("tcp");
    assert_eq!(
        (s.old, s.new),
        (ConnState::Established, ConnState::CloseWait)
    );
}

#[test]
fn udp_touch_and_packet_counts() {
    let t = ConnTable::new(8, 2);
    let c = NewConn {
        protocol: UDP,
        state: ConnState::Udp,
        timeout_secs: 300,
        ..nat4(53)
    };
    let id = ins(&t, 0, &c, 0);
    assert_eq!(t.count_packet(id), Some(1));
    assert_eq!(t.count_packet(id), Some(2));
    assert!(t.touch(id, 300, 250));
    assert_eq!(lookup_in(&t, 1, &c, 549), Some(id));
    assert_eq!(lookup_in(&t, 1, &c, 550), None);
    let e = t.get(id).expect("live");
    assert_eq!((e.in_pkts, e.expires_at, e.timeout_secs), (2, 550, 300));
    assert!(t.touch(id, 30, 250));
    assert_eq!(t.get(id).map(|e| e.timeout_secs), Some(30));
}

#[test]
fn expire_now_and_unhash() {
    let t = ConnTable::new(8, 1);
    let a = ins(&t, 0, &nat4(1), 0);
    let b = ins(&t, 0, &nat4(2), 0);
    assert!(t.expire_now(a));
    assert_eq!(lookup_in(&t, 0, &nat4(1), 0), None);
    assert!(t.unhash(b));
    assert_eq!(lookup_in(&t, 0, &nat4(2), 0), None);
    assert_eq!(lookup_out(&t, 0, &nat4(2), 0), None);
    assert!(t
        .get(b)
        .is_some_and(|e| !e.flags.contains(ConnFlags::HASHED)));
    // An unhashed entry does not block a new one with its key.
    let b2 = ins(&t, 0, &nat4(2), 0);
    assert_eq!(lookup_in(&t, 0, &nat4(2), 0), Some(b2));
    let freed: Vec<ConnId> = sweep(&t, 0, 1).into_iter().map(|e| e.id).collect();
    assert_eq!(freed, [a]);
    assert_eq!(sweep(&t, 0, 3).len(), 2);
}

#[test]
fn one_packet_entries_are_never_indexed() {
    let t = ConnTable::new(8, 1);
    let c = NewConn {
        protocol: UDP,
        flags: ConnFlags::for_method(ForwardMethod::Nat) | ConnFlags::ONE_PACKET,
        timeout_secs: 0,
        ..nat4(53)
    };
    let id = ins(&t, 0, &c, 5);
    assert_eq!(lookup_in(&t, 0, &c, 0), None);
    assert!(t
        .get(id)
        .is_some_and(|e| !e.flags.contains(ConnFlags::HASHED)));
    // A second OPS entry for the same tuple is fine.
    ins(&t, 0, &c, 5);
    assert_eq!(sweep(&t, 0, 5).len(), 2);
}

#[test]
fn templates_control_connections_and_outlive_their_timeout() {
    let t = ConnTable::new(16, 2);
    let tpl = template("198.51.100.0", "198.18.10.100", "10.0.0.11", 300);
    let tid = ins(&t, 0, &tpl, 0);
    let vip = ip("198.18.10.100");
    let cnet = ip("198.51.100.0");
    assert_eq!(t.lookup_template(1, TCP, cnet, vip, 80, 0), Some(tid));
    // Template key space is separate: the same tuple is no connection...
    assert_eq!(t.lookup_in(0, TCP, cnet, 0, vip, 80, 0), None);
    // ...and a connection with the same numbers is no template.
    let lookalike = flow(
        ForwardMethod::Dr,
        "198.51.100.0",
        0,
        "198.18.10.100",
        "10.0.0.11",
    );
    ins(&t, 1, &lookalike, 0);
    assert_eq!(t.lookup_template(1, TCP, cnet, vip, 80, 0), Some(tid));
    assert_eq!(t.insert(1, &tpl, 0), Err(InsertError::Exists(tid)));
    // Other ports and protocols are other templates.
    assert_eq!(t.lookup_template(1, TCP, cnet, vip, 443, 0), None);
    assert_eq!(t.lookup_template(1, UDP, cnet, vip, 80, 0), None);

    // A connection on worker 1 controlled by the template on worker 0.
    let mut c = flow(
        ForwardMethod::Dr,
        "198.51.100.7",
        999,
        "198.18.10.100",
        "10.0.0.11",
    );
    c.controller = Some(tid);
    c.timeout_secs = 900;
    let cid = ins(&t, 1, &c, 10);
    assert_eq!(t.get(tid).map(|e| e.n_controlled), Some(1));
    assert_eq!(t.get(cid).and_then(|e| e.controller), Some(tid));

    // At 300 the template's own timer has run out, but it controls a live
    // connection: still found, and the sweep re-arms it for 60 s.
    assert_eq!(t.lookup_template(1, TCP, cnet, vip, 80, 300), Some(tid));
    assert!(sweep(&t, 0, 300).is_empty());
    assert_eq!(
        t.get(tid).map(|e| e.expires_at),
        Some(300 + CONTROLLER_REARM_SECS)
    );
    // Even expire_now does not free a controlling template.
    assert!(t.expire_now(tid));
    assert!(sweep(&t, 0, 400).is_empty());
    assert_eq!(
        t.get(tid).map(|e| e.expires_at),
        Some(400 + CONTROLLER_REARM_SECS)
    );

    // The connection expires (900 s after 10); freeing it releases the
    // template, which then goes at its next expiry.
    // (The look-alike connection on worker 1 expired long ago too.)
    let gone = sweep(&t, 1, 910);
    assert_eq!(gone.len(), 2);
    assert!(gone
        .iter()
        .any(|e| e.id == cid && e.controller == Some(tid)));
    assert_eq!(t.get(tid).map(|e| e.n_controlled), Some(0));
    assert_eq!(t.lookup_template(1, TCP, cnet, vip, 80, 910), None);
    assert_eq!(
        sweep(&t, 0, 910).iter().map(|e| e.id).collect::<Vec<_>>(),
        [tid]
    );
    assert_eq!(
        t.insert(1, &c, 910),
        Err(InsertError::ControllerUnavailable)
    );
}

#[test]
fn invalid_template_is_unhashed_but_lives_on_for_its_connections() {
    let t = ConnTable::new(16, 1);
    let tpl = template("198.51.100.0", "198.18.10.100", "10.0.0.11", 300);
    let tid = ins(&t, 0, &tpl, 0);
    let mut c = nat4(1);
    c.controller = Some(tid);
    let cid = ins(&t, 0, &c, 0);
    assert!(t.unhash(tid));
    assert_eq!(
        t.lookup_template(0, TCP, ip("198.51.100.0"), ip("198.18.10.100"), 80, 0),
        None
    );
    // A replacement template can be created while the old one lives.
    let tid2 = ins(
        &t,
        0,
        &template("198.51.100.0", "198.18.10.100", "10.0.0.12", 300),
        0,
    );
    assert_ne!(tid, tid2);
    assert_eq!(t.get(cid).and_then(|e| e.controller), Some(tid));
    assert_eq!(t.get(tid).map(|e| e.n_controlled), Some(1));
}

#[test]
fn for_each_sees_every_unfreed_entry() {
    let t = ConnTable::new(8, 2);
    let a = ins(&t, 0, &nat4(1), 0);
    let b = ins(
        &t,
        1,
        &flow(ForwardMethod::Dr, "fd00::1", 2, "fd00::100", "fd00::11"),
        0,
    );
    let c = ins(&t, 1, &nat4(3), 0);
    t.expire_now(c);
    let mut seen = Vec::new();
    t.for_each(|e| seen.push(e.id));
    seen.sort_by_key(|id| id.raw());
    let mut want = vec![a, b, c];
    want.sort_by_key(|id| id.raw());
    assert_eq!(seen, want);
}

#[test]
fn sizing_and_memory_figures() {
    // An IPv4 entry is one 64-byte cache line.
    assert_eq!(ConnTable::V4_ENTRY_BYTES, 64);
    assert_eq!(ConnTable::V6_ENTRY_BYTES, 128);
    // IPv4-only table of 7000 entries: 7000·64 slot bytes + 4000 index
    // groups of 64 bytes = 100.57 bytes per entry.
    let t = ConnTable::with_config(TableConfig {
        capacity_v4: 7000,
        capacity_v6: 0,
        workers: 1,
        hash_seed: 1,
    })
    .expect("valid");
    let per = t.memory_bytes() as f64 / 7000.0;
    assert!((per - ConnTable::V4_BYTES_PER_CONN).abs() < 0.01, "{per}");
    assert!(per <= 101.0);
    // Capacity split over shards adds up.
    let t = ConnTable::new(10, 3);
    assert_eq!(t.capacity(), 20);
    assert_eq!(
        (0..3)
            .map(|w| t.shards[w].v4.capacity())
            .collect::<Vec<_>>(),
        [4, 3, 3]
    );
}

#[test]
fn bad_sizes_are_errors_or_clamped() {
    let cfg = TableConfig {
        capacity_v4: 8,
        capacity_v6: 8,
        workers: 0,
        hash_seed: 0,
    };
    assert_eq!(
        ConnTable::with_config(cfg).err(),
        Some(TableError::NoWorkers)
    );
    let cfg = TableConfig {
        workers: 129,
        ..cfg
    };
    assert_eq!(
        ConnTable::with_config(cfg).err(),
        Some(TableError::TooManyWorkers(129))
    );
    let cfg = TableConfig {
        workers: 1,
        capacity_v4: (1 << 24) + 1,
        ..cfg
    };
    assert!(matches!(
        ConnTable::with_config(cfg),
        Err(TableError::ShardTooLarge { .. })
    ));
    let t = ConnTable::new(0, 0);
    assert_eq!((t.workers(), t.capacity()), (1, 0));
    assert_eq!(t.insert(0, &nat4(1), 0), Err(InsertError::Full));
    assert_eq!(t.expire_step(0, 0, 10, |_| {}), 0);
}

#[test]
fn heavy_churn_reclaims_the_index() {
    // Many generations of flows through a small table: lookups stay
    // correct and the index ends empty (no tombstones to reclaim).
    let t = ConnTable::new(64, 1);
    let mut now = 0;
    for round in 0..200u16 {
        let ids: Vec<ConnId> = (0..64)
            .map(|i| ins(&t, 0, &nat4(round * 64 + i), now))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(
                lookup_out(&t, 0, &nat4(round * 64 + i as u16), now),
                Some(*id)
            );
        }
        now += 3;
        assert_eq!(sweep(&t, 0, now).len(), 64);
    }
    let ix = t.shards[0].v4.index();
    assert_eq!((ix.used_words(), ix.total_overflow()), (0, 0));
    assert_eq!(t.shards[0].v4.free_len(), 64);
}

#[test]
fn on_expire_may_insert_on_the_same_worker() {
    // e.g. a caller that reschedules from its expiry hook.
    let t = ConnTable::new(2, 1);
    ins(&t, 0, &nat4(1), 0);
    ins(&t, 0, &nat4(2), 0);
    let mut new_ids = Vec::new();
    let freed = t.expire_step(0, 3, usize::MAX, |e| {
        let again = NewConn {
            timeout_secs: 50,
            ..nat4(e.cport + 100)
        };
        new_ids.push(t.insert(0, &again, 3));
    });
    assert_eq!(freed, 2);
    assert_eq!(new_ids.len(), 2);
    assert!(new_ids.iter().all(Result::is_ok), "{new_ids:?}");
    assert_eq!(lookup_in(&t, 0, &nat4(101), 4), new_ids[0].ok());
}

#[test]
fn entry_lookups_return_what_get_returns() {
    let t = ConnTable::new(64, 2);
    let c = nat4(4242);
    let id = ins(&t, 0, &c, 10);
    let by_id = t.get(id).unwrap();
    let e = t
        .lookup_in_entry(1, c.protocol, c.caddr, c.cport, c.vaddr, c.vport, 11)
        .unwrap();
    assert_eq!(e, by_id);
    let e = t
        .lookup_out_entry(1, c.protocol, c.daddr, c.dport, c.laddr, c.lport, 11)
        .unwrap();
    assert_eq!(e, by_id);
    assert!(t
        .lookup_in_entry(0, c.protocol, c.caddr, c.cport + 1, c.vaddr, c.vport, 11)
        .is_none());
    // Expired entries are absent here too.
    assert!(t
        .lookup_in_entry(0, c.protocol, c.caddr, c.cport, c.vaddr, c.vport, 10_000)
        .is_none());
}

/// [`nat4`]'s client, VIP and real-server addresses as the fast path
/// passes them.
fn nat4_addrs() -> (u32, u32, u32) {
    let addr = |s: &str| match ip(s) {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(_) => 0,
    };
    (
        addr("198.51.100.50"),
        addr("198.18.10.100"),
        addr("10.0.0.11"),
    )
}

/// A lookup started ahead of time (`prefetch4`, `prefetch4_entry`) loads
/// the slot the lookup then reads, for either key of an entry; for a key
/// nobody inserted it names no slot.
#[test]
fn a_prefetched_lookup_names_the_slot_the_lookup_reads() {
    let t = ConnTable::new(4096, 2);
    let now = 100;
    let (client, vip, rip) = nat4_addrs();
    for cport in 1000..1300u16 {
        let worker = usize::from(cport % 2);
        let id = t.insert(worker, &nat4(cport), now).expect("room");
        let input = t.prefetch4(worker, Direction::Input, TCP, client, cport, vip, 80);
        let output = t.prefetch4(worker, Direction::Output, TCP, rip, 8080, client, cport);
        for mut p in [input, output] {
            assert_eq!(
                t.prefetch4_target(p),
                Some(id.slot() as u32),
                "port {cport}"
            );
            t.prefetch4_entry(&mut p);
        }
        let found = t.lookup4(worker, Direction::Input, TCP, client, cport, vip, 80, now);
        assert_eq!(found.map(|c| c.id), Some(id));
        // Not inserted: the other protocol, an unused port.
        let absent = t.prefetch4(worker, Direction::Input, UDP, client, cport, vip, 80);
        assert_eq!(t.prefetch4_target(absent), None);
        let absent = t.prefetch4(worker, Direction::Input, TCP, client, cport + 5000, vip, 80);
        assert_eq!(t.prefetch4_target(absent), None);
    }
    // A shard that does not exist, and the empty hint: nothing to load.
    let p = t.prefetch4(9, Direction::Input, TCP, client, 1000, vip, 80);
    assert_eq!(p, crate::Prefetch4::NONE);
    assert_eq!(t.prefetch4_target(crate::Prefetch4::NONE), None);
    let mut none = crate::Prefetch4::NONE;
    t.prefetch4_entry(&mut none);
    assert_eq!(none, crate::Prefetch4::NONE);
}

/// `lookup4_hinted` answers what `lookup4` answers, whatever the hint: made
/// for the key, for another key, for nothing, or gone stale because the
/// entry it names was removed (and its slot reused) after stage two.
#[test]
fn a_hinted_lookup_answers_as_the_plain_one_whatever_the_hint() {
    use crate::conn4::NO_SLOT;
    // 100 slots a shard: the freed slots are the only room left.
    let t = ConnTable::new(200, 2);
    let now = 100;
    let (client, vip, rip) = nat4_addrs();
    let mut ids = Vec::new();
    for cport in 1000..1200u16 {
        ids.push(
            t.insert(usize::from(cport % 2), &nat4(cport), now)
                .expect("room"),
        );
    }
    let hint = |worker: usize, dir: Direction, cport: u16| {
        let mut p = match dir {
            Direction::Output => t.prefetch4(worker, dir, TCP, rip, 8080, client, cport),
            _ => t.prefetch4(worker, dir, TCP, client, cport, vip, 80),
        };
        t.prefetch4_entry(&mut p);
        p
    };
    // Hints taken now go stale below for a quarter of the entries that
    // are unhashed, and for a quarter that are freed and whose slots are
    // then taken by other keys.
    let mut hints = Vec::new();
    for cport in 1000..1300u16 {
        for worker in 0..2 {
            for dir in [Direction::Input, Direction::Output] {
                hints.push(hint(worker, dir, cport));
            }
        }
    }
    assert!(
        hints
            .iter()
            .filter(|h| **h != crate::Prefetch4::NONE)
            .count()
            > 0
    );
    for id in &ids[100..150] {
        assert!(t.unhash(*id));
    }
    for id in &ids[150..] {
        assert!(t.expire_now(*id));
    }
    let freed: usize = (0..2).map(|w| t.expire_step(w, now, 1000, |_| ())).sum();
    assert_eq!(freed, 50);
    for cport in 2000..2050u16 {
        t.insert(usize::from(cport % 2), &nat4(cport), now)
            .expect("a freed slot");
    }
    let (mut hinted_hits, mut own_shard, mut named) = (0, 0, 0);
    for cport in (1000..1300u16).chain(2000..2050) {
        for worker in 0..2 {
            for dir in [Direction::Input, Direction::Output] {
                let (a, pa, b, pb) = match dir {
                    Direction::Output => (rip, 8080, client, cport),
                    _ => (client, cport, vip, 80),
                };
                let plain = t.lookup4(worker, dir, TCP, a, pa, b, pb, now);
                let none = crate::Prefetch4::NONE;
                for h in hints.iter().chain([&none]).map(Some).chain([None]) {
                    let hinted = t.lookup4_hinted(h, worker, dir, TCP, a, pa, b, pb, now);
                    assert_eq!(
                        hinted, plain,
                        "port {cport} worker {worker} {dir:?} hint {h:?}"
                    );
                }
                // A fresh hint for the key, now and after the entry expired.
                let fresh = hint(worker, dir, cport);
                let hinted = t.lookup4_hinted(Some(&fresh), worker, dir, TCP, a, pa, b, pb, now);
                assert_eq!(hinted, plain);
                hinted_hits += usize::from(hinted.is_some());
                match plain {
                    // In the worker's own shard the hint names the very
                    // slot (the lookup skips the index), unless the key
                    // word lies beyond its home group (then it names none).
                    Some(c) if c.id.worker() == worker => {
                        own_shard += 1;
                        if fresh.slot != NO_SLOT {
                            assert_eq!(fresh.slot, c.id.slot() as u32);
                            named += 1;
                        }
                    }
                    _ => {}
                }
                let late = now + 10_000;
                assert_eq!(
                    t.lookup4_hinted(Some(&fresh), worker, dir, TCP, a, pa, b, pb, late),
                    t.lookup4(worker, dir, TCP, a, pa, b, pb, late),
                );
            }
        }
    }
    // 100 kept and 50 new entries, two keys each, from both workers.
    assert_eq!(hinted_hits, 150 * 2 * 2);
    assert_eq!(own_shard, 150 * 2);
    // Half full, most key words sit in their home group.
    assert!(named * 4 >= own_shard * 3, "{named} of {own_shard}");
}
