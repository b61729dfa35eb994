//! Unit tests of `policy`: the state list, thresholds, state changes,
//! the refresh rule on a virtual `now_secs` clock, and sweep-bounded
//! memory.

use xvs_conn::{ConnEntry, ConnFlags, ConnState};

use super::*;
use crate::synced::tests::{dr6_udp, fullnat4, id, template4};

/// `e` as the table shows it at `now` after a packet: expiry re-armed.
fn at(e: &ConnEntry, now: u32) -> ConnEntry {
    ConnEntry {
        expires_at: now + e.timeout_secs,
        ..*e
    }
}

fn in_state(e: &ConnEntry, state: ConnState) -> ConnEntry {
    ConnEntry { state, ..*e }
}

#[test]
fn syncable_states() {
    let tcp = fullnat4();
    let sent = [
        ConnState::Established,
        ConnState::FinWait,
        ConnState::Close,
        ConnState::CloseWait,
        ConnState::TimeWait,
    ];
    for s in ConnState::ALL {
        if s != ConnState::Udp {
            assert_eq!(syncable(&in_state(&tcp, s)), sent.contains(&s), "{s:?}");
        }
    }
    assert!(syncable(&dr6_udp()));
    assert!(syncable(&template4()));
    let ops = ConnEntry {
        flags: dr6_udp().flags | ConnFlags::ONE_PACKET,
        ..dr6_udp()
    };
    assert!(!syncable(&ops));
}

#[test]
fn tcp_once_established_then_on_state_changes() {
    let mut t = Tracker::new();
    let syn = in_state(&fullnat4(), ConnState::SynRecv);
    assert_eq!(t.due_reason(&syn, 0), None);
    assert!(t.is_empty(), "unsendable entries are not remembered");
    let es = at(&fullnat4(), 100);
    assert_eq!(t.due_reason(&es, 0), Some(DueReason::First));
    assert_eq!(t.due_reason(&es, 0), None);
    // More packets: no refresh without a refresh period.
    assert_eq!(t.due_reason(&at(&es, 5000), 0), None);
    let fin = in_state(&es, ConnState::FinWait);
    assert_eq!(t.due_reason(&fin, 0), Some(DueReason::StateChange));
    // Through LAST_ACK (not sent) to CLOSE (sent).
    assert_eq!(t.due_reason(&in_state(&es, ConnState::LastAck), 0), None);
    let close = in_state(&es, ConnState::Close);
    assert_eq!(t.due_reason(&close, 0), Some(DueReason::StateChange));
    assert_eq!(t.due_reason(&close, 0), None);
}

#[test]
fn refresh_step_is_min_of_period_and_half_timeout() {
    let mut t = Tracker::new();
    let es = fullnat4(); // 900 s timeout: half is 450 s
    assert!(t.due(&at(&es, 0), 60));
    // Expiry moves with each packet; a refresh once it moved by 60 s.
    assert!(!t.due(&at(&es, 59), 60));
    assert!(t.due(&at(&es, 60), 60));
    assert!(!t.due(&at(&es, 119), 60));
    assert!(t.due(&at(&es, 120), 60));
    // A long period: half the timeout.
    let mut t = Tracker::new();
    assert!(t.due(&at(&es, 0), 3600));
    assert!(!t.due(&at(&es, 449), 3600));
    assert!(t.due(&at(&es, 450), 3600));
    // A short timeout: at least 10 s.
    let mut t = Tracker::new();
    let tw = ConnEntry {
        timeout_secs: 4,
        ..in_state(&es, ConnState::TimeWait)
    };
    assert!(t.due(&at(&tw, 0), 3600));
    assert!(!t.due(&at(&tw, 9), 3600));
    assert!(t.due(&at(&tw, 10), 3600));
    // An expiry that went back (expire_now) is no refresh.
    assert!(!t.due(
        &ConnEntry {
            expires_at: 0,
            ..tw
        },
        3600
    ));
}

#[test]
fn udp_waits_for_one_sweep() {
    let mut t = Tracker::new();
    let udp = at(&dr6_udp(), 0);
    // Offered on an event before any sweep: not yet.
    assert!(!t.due(&udp, 30));
    t.begin_sweep();
    assert!(!t.due(&udp, 30));
    t.end_sweep();
    // The next sweep sees it again: it outlived a sweep.
    t.begin_sweep();
    assert!(t.due(&at(&udp, 1), 30));
    assert!(!t.due(&at(&udp, 2), 30));
    t.end_sweep();
    t.begin_sweep();
    assert!(t.due(&at(&udp, 31), 30), "refreshed like any entry");
    t.end_sweep();
}

#[test]
fn templates_at_once() {
    let mut t = Tracker::new();
    let tpl = ConnEntry {
        protocol: UDP,
        ..at(&template4(), 0)
    };
    assert!(t.due(&tpl, 0));
    assert!(!t.due(&tpl, 0));
}

#[test]
fn sweeps_bound_the_memory() {
    let mut t = Tracker::new();
    let a = at(&fullnat4(), 0);
    let b = ConnEntry {
        id: id(4, false),
        ..a
    };
    t.begin_sweep();
    assert!(t.due(&a, 0));
    assert!(t.due(&b, 0));
    t.end_sweep();
    assert_eq!(t.len(), 2);
    // `b` left the table: the next sweep does not offer it.
    t.begin_sweep();
    assert!(!t.due(&a, 0));
    t.end_sweep();
    assert_eq!(t.len(), 1);
    // Were it offered again it would be new (and sent again).
    t.begin_sweep();
    assert!(t.due(&b, 0));
    assert!(!t.due(&a, 0));
    t.end_sweep();
    assert_eq!(t.len(), 2);
    // A reused slot is another id: sent as new.
    let reused = ConnEntry {
        id: xvs_conn::ConnId::from_raw(a.id.raw() + (4 << 32)),
        ..a
    };
    assert!(t.due(&reused, 0));
}

#[test]
fn unsendable_states_keep_their_memory_through_a_sweep() {
    let mut t = Tracker::new();
    let es = at(&fullnat4(), 0);
    assert!(t.due(&es, 0));
    t.begin_sweep();
    assert!(!t.due(&in_state(&es, ConnState::LastAck), 0));
    t.end_sweep();
    assert_eq!(t.len(), 1);
    // Back to ESTABLISHED is no change from what was sent.
    assert!(!t.due(&es, 0));
}
