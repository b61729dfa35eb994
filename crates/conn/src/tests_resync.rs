//! Tests of [`ConnTable::resync`], the sync update of an existing entry
//! (REFERENCE §9, ip_vs_proc_conn()): which flag bits it takes, state,
//! timeout and timer, the active/inactive report, templates, stale ids,
//! and updates from another thread than the owner.

use xvs_config::{ForwardMethod, Timeouts};

use crate::tcp_state::tcp_flags::{ACK, SYN};
use crate::{ConnFlags, ConnState, ConnTable, Direction, NewConn, INITIAL_TIMEOUT_SECS};

use crate::tests_fixtures::flow4;

fn conn(m: ForwardMethod, cport: u16) -> NewConn {
    NewConn {
        flags: ConnFlags::for_method(m) | ConnFlags::SYNC,
        state: ConnState::SynRecv,
        timeout_secs: 60,
        ..flow4(m, cport)
    }
}

#[test]
fn resync_takes_only_the_update_bits_and_sets_state_timeout_and_timer() {
    let t = ConnTable::new(16, 2);
    let id = t
        .insert(0, &conn(ForwardMethod::Dr, 1), 100)
        .expect("insert");
    // Every bit set in the update: only INACTIVE/IN_SEQ/OUT_SEQ may land.
    // Here INACTIVE is clear (the master's entry is ESTABLISHED).
    let upd = ConnFlags(0x00FF_FFFF & !ConnFlags::INACTIVE.bits());
    let tr = t
        .resync(id, upd, ConnState::Established, 900, 200)
        .expect("live entry");
    assert_eq!(
        (tr.old, tr.new),
        (ConnState::SynRecv, ConnState::Established)
    );
    assert!(tr.became_active && !tr.became_inactive);
    let e = t.get(id).expect("live");
    let want = (ConnFlags::for_method(ForwardMethod::Dr)
        | ConnFlags::SYNC
        | ConnFlags::HASHED
        | ConnFlags::IN_SEQ
        | ConnFlags::OUT_SEQ)
        & !ConnFlags::INACTIVE;
    assert_eq!(e.flags, want, "method, NOOUTPUT, SYNC and HASHED kept");
    assert_eq!(e.state, ConnState::Established);
    assert_eq!((e.timeout_secs, e.expires_at), (900, 1100));
    // The same again: no counter movement, the timer re-armed.
    let tr = t
        .resync(id, ConnFlags::EMPTY, ConnState::Established, 900, 300)
        .expect("live");
    assert!(!tr.became_active && !tr.became_inactive);
    assert_eq!(t.get(id).map(|e| e.expires_at), Some(1200));
    assert!(
        !t.get(id).expect("live").flags.contains(ConnFlags::IN_SEQ),
        "SEQ bits follow the update both ways"
    );
    // Into FIN_WAIT with INACTIVE: reported, and the timeout follows.
    let tr = t
        .resync(id, ConnFlags::INACTIVE, ConnState::FinWait, 120, 400)
        .expect("live");
    assert_eq!(
        (tr.old, tr.new),
        (ConnState::Established, ConnState::FinWait)
    );
    assert!(tr.became_inactive && !tr.became_active);
    let e = t.get(id).expect("live");
    assert!(e.flags.contains(ConnFlags::INACTIVE));
    assert_eq!((e.timeout_secs, e.expires_at), (120, 520));
    // An oversized timeout is clamped to the 24-bit field, not wrapped.
    t.resync(id, ConnFlags::INACTIVE, ConnState::FinWait, u32::MAX, 400)
        .expect("live");
    assert_eq!(t.get(id).map(|e| e.timeout_secs), Some((1 << 24) - 1));
}

#[test]
fn a_resynced_entry_carries_on_with_the_packet_path_transitions() {
    let t = ConnTable::new(16, 1);
    let to = Timeouts::default();
    let id = t
        .insert(0, &conn(ForwardMethod::Nat, 2), 0)
        .expect("insert");
    t.resync(id, ConnFlags::EMPTY, ConnState::Established, 900, 10)
        .expect("live");
    // An ACK leaves it ESTABLISHED and active; no counter move.
    let tr = t
        .tcp_transition(id, Direction::Input, ACK, &to, 20)
        .expect("tcp");
    assert_eq!(tr.new, ConnState::Established);
    assert!(!tr.became_active && !tr.became_inactive);
    // A SYN (INPUT: ES → ES) likewise.
    let tr = t
        .tcp_transition(id, Direction::Input, SYN, &to, 20)
        .expect("tcp");
    assert_eq!(tr.new, ConnState::Established);
}

#[test]
fn templates_take_the_update_but_never_move_counters() {
    let t = ConnTable::new(16, 1);
    let tpl = NewConn {
        cport: 0,
        lport: 0,
        flags: ConnFlags::for_method(ForwardMethod::Nat) | ConnFlags::TEMPLATE,
        state: ConnState::None,
        timeout_secs: 300,
        ..conn(ForwardMethod::Nat, 0)
    };
    let id = t.insert(0, &tpl, 0).expect("insert");
    let tr = t
        .resync(id, ConnFlags::EMPTY, ConnState::None, 360, 50)
        .expect("live");
    assert!(!tr.became_active && !tr.became_inactive);
    let tr = t
        .resync(id, ConnFlags::INACTIVE, ConnState::None, 360, 60)
        .expect("live");
    assert!(!tr.became_active && !tr.became_inactive);
    let e = t.get(id).expect("live");
    assert!(e.is_template());
    assert_eq!((e.timeout_secs, e.expires_at), (360, 420));
}

#[test]
fn stale_and_freed_ids_are_refused() {
    let t = ConnTable::new(16, 1);
    let c = NewConn {
        timeout_secs: INITIAL_TIMEOUT_SECS,
        ..conn(ForwardMethod::Dr, 3)
    };
    let id = t.insert(0, &c, 0).expect("insert");
    let mut freed = 0;
    t.expire_step(0, 100, usize::MAX, |_| freed += 1);
    assert_eq!(freed, 1);
    assert_eq!(
        t.resync(id, ConnFlags::EMPTY, ConnState::Established, 900, 100),
        None
    );
    // The slot reused by another entry: the old id still fails.
    let id2 = t
        .insert(0, &conn(ForwardMethod::Dr, 4), 100)
        .expect("insert");
    assert_eq!(
        t.resync(id, ConnFlags::EMPTY, ConnState::Established, 900, 100),
        None
    );
    assert_eq!(
        t.get(id2).map(|e| e.state),
        Some(ConnState::SynRecv),
        "the new entry untouched"
    );
}

#[test]
fn another_thread_may_resync_the_owners_entries() {
    let t = std::sync::Arc::new(ConnTable::new(64, 2));
    let ids: Vec<_> = (0..32)
        .map(|p| {
            t.insert(0, &conn(ForwardMethod::Nat, 100 + p), 0)
                .expect("insert")
        })
        .collect();
    let t2 = std::sync::Arc::clone(&t);
    let ids2 = ids.clone();
    let moved = std::thread::spawn(move || {
        ids2.iter()
            .filter_map(|&id| t2.resync(id, ConnFlags::EMPTY, ConnState::Established, 900, 5))
            .filter(|tr| tr.became_active)
            .count()
    })
    .join()
    .expect("thread");
    assert_eq!(moved, ids.len());
    for id in ids {
        assert_eq!(t.get(id).map(|e| e.state), Some(ConnState::Established));
    }
}
