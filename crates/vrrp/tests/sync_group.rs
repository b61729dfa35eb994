//! Sync groups (keepalived `vrrp_sync.c`): members go MASTER only
//! together, and one member's BACKUP or FAULT takes the others along;
//! the group's notify scripts run on the group's changes.

mod common;

use common::*;
use xvs_config::{VrrpInstance, VrrpNotify, VrrpSyncGroup};
use xvs_vrrp::{Reason, State};

fn members(prio_a: u8, prio_b: u8) -> Vec<VrrpInstance> {
    let mut a = instance("a", 1, prio_a, 2, false);
    a.notify.any = Some(script("/any"));
    let b = instance("b", 2, prio_b, 2, false);
    vec![a, b]
}

fn sync_group() -> VrrpSyncGroup {
    VrrpSyncGroup {
        notify: VrrpNotify {
            master: Some(script("/g-master")),
            any: Some(script("/g-any")),
            ..VrrpNotify::default()
        },
        ..group("g", vec![0, 1])
    }
}

fn harness(insts: Vec<VrrpInstance>) -> Harness {
    Harness::new(
        insts,
        Vec::new(),
        vec![sync_group()],
        vec![env(false, 5), env(false, 5)],
    )
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn start_up_all_backup_and_group_notifies() {
    let mut h = harness(members(100, 100));
    let acts = h.drain();
    assert_eq!(
        transitions(&acts),
        vec![
            (0, State::Init, State::Backup, Reason::Startup),
            (1, State::Init, State::Backup, Reason::Startup),
        ]
    );
    assert_eq!(
        notifies(&acts),
        vec![
            strs(&["/any", "INSTANCE", "a", "BACKUP", "100"]),
            strs(&["/g-any", "GROUP", "g", "BACKUP", "0"]),
        ]
    );
    assert_eq!(h.router.status(h.now)[0].sync_group.as_deref(), Some("g"));
}

#[test]
fn a_member_is_held_in_backup_until_every_member_wants_master() {
    let mut h = harness(members(100, 100));
    h.drain();
    // A master for b's VRID keeps b in backup; a hears nothing.
    let mut acts = Vec::new();
    for s in 1..=8 {
        acts.extend(h.run_until(h.at(secs(f64::from(s)))));
        h.recv_advert(false, 9, &peer_advert(2, false, 2, 200));
    }
    assert!(transitions(&untimed(acts)).is_empty());
    assert_eq!(
        (h.router.state(0), h.router.state(1)),
        (State::Backup, State::Backup)
    );
    // a's down timer ran out at 3.609 s and again wants MASTER at 7.2 s.
    // b's master stops after 8 s: b goes at 11.609375 s, a with it.
    let acts = h.run_until(h.at(secs(12.0)));
    let t = transitions(&untimed(acts.clone()));
    assert_eq!(
        t,
        vec![
            (1, State::Backup, State::Master, Reason::MasterDown),
            (
                0,
                State::Backup,
                State::Master,
                Reason::SyncGroup { member: "b".into() }
            ),
        ]
    );
    assert_eq!(
        acts.iter()
            .find(|(_, a)| matches!(a, xvs_vrrp::Action::Transition { .. }))
            .unwrap()
            .0,
        h.at(us(11_609_375))
    );
    assert_eq!(
        notifies(&untimed(acts)),
        vec![
            strs(&["/any", "INSTANCE", "a", "MASTER", "100"]),
            strs(&["/g-master"]),
            strs(&["/g-any", "GROUP", "g", "MASTER", "0"]),
        ]
    );
}

#[test]
fn both_members_time_out_together() {
    let mut h = harness(members(100, 100));
    h.drain();
    let acts = h.run_until(h.at(secs(4.0)));
    // a times out first (same instant, index order) but b does not want
    // MASTER yet: a is held; b's expiry then takes both.
    let t = transitions(&untimed(acts));
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].0, 1);
    assert_eq!(t[0].3, Reason::MasterDown);
    assert_eq!(t[1].3, Reason::SyncGroup { member: "b".into() });
}

#[test]
fn one_member_to_backup_takes_the_masters_along() {
    let mut h = harness(members(100, 100));
    h.run_until(h.at(secs(4.0)));
    assert_eq!(h.router.master_addresses().len(), 1);
    h.drain();
    let acts = h.recv_advert(false, 9, &peer_advert(2, false, 1, 200));
    assert_eq!(
        transitions(&acts),
        vec![
            (
                0,
                State::Master,
                State::Backup,
                Reason::HigherPriority {
                    from: host(false, 9),
                    priority: 200
                }
            ),
            (
                1,
                State::Master,
                State::Backup,
                Reason::SyncGroup { member: "a".into() }
            ),
        ]
    );
    // Nobody resigns with priority 0 on the way to BACKUP.
    assert!(sends(&acts).is_empty());
    assert_eq!(
        notifies(&acts).last().unwrap(),
        &strs(&["/g-any", "GROUP", "g", "BACKUP", "0"])
    );
    // The yielded member's down timer is full, like its own.
    assert_eq!(h.router.poll_timeout(), Some(h.now + us(3_609_375)));
}

#[test]
fn one_member_faulty_takes_all_to_fault_and_back() {
    let mut insts = members(100, 100);
    insts[1].track_interfaces = vec![xvs_config::TrackInterface {
        name: "eth1".into(),
        weight: 0,
    }];
    let mut h = harness(insts);
    h.run_until(h.at(secs(4.0)));
    h.drain();
    h.router.handle_link("eth1", false, h.now);
    let acts = h.drain();
    assert_eq!(
        transitions(&acts),
        vec![
            (
                1,
                State::Master,
                State::Fault,
                Reason::Fault {
                    what: "interface eth1 down".into()
                }
            ),
            (
                0,
                State::Master,
                State::Fault,
                Reason::SyncGroup { member: "b".into() }
            ),
        ]
    );
    // Both masters resign.
    assert_eq!(
        sends(&acts).iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
        vec![(1, 0), (0, 0)]
    );
    h.advance(secs(1.0));
    h.router.handle_link("eth1", true, h.now);
    assert_eq!(
        transitions(&h.drain()),
        vec![
            (1, State::Fault, State::Backup, Reason::Recovered),
            (
                0,
                State::Fault,
                State::Backup,
                Reason::SyncGroup { member: "b".into() }
            ),
        ]
    );
}

#[test]
fn faulty_member_at_start_up_faults_the_group() {
    let mut insts = members(100, 100);
    insts[1].interface = "eth1".into();
    let mut down = env(false, 5);
    down.up = false;
    let mut h = Harness::new(
        insts,
        Vec::new(),
        vec![sync_group()],
        vec![env(false, 5), down],
    );
    let t = transitions(&h.drain());
    assert_eq!(
        t,
        vec![
            (
                0,
                State::Init,
                State::Fault,
                Reason::SyncGroup { member: "b".into() }
            ),
            (
                1,
                State::Init,
                State::Fault,
                Reason::Fault {
                    what: "interface eth1 down".into()
                }
            ),
        ]
    );
}

#[test]
fn a_group_of_owners_starts_master() {
    let mut h = harness(members(255, 255));
    let t = transitions(&h.drain());
    assert!(t
        .iter()
        .all(|t| t.2 == State::Master && t.3 == Reason::Startup));
    assert_eq!(t.len(), 2);
}

#[test]
fn members_wanting_master_wait_one_interval_and_the_minimal_skew() {
    // keepalived vrrp_init_state: an owner in a mixed group, or `state
    // MASTER`, starts BACKUP with adver_int + VRRP_TIMER_SKEW_MIN.
    let mut insts = members(255, 100);
    insts[1].initial_master = true;
    let mut h = harness(insts);
    h.drain();
    assert_eq!(h.router.poll_timeout(), Some(h.at(us(1_003_906))));
    // Both want MASTER: the first expiry takes the group.
    let acts = h.run_until(h.at(us(1_003_906)));
    let t = transitions(&untimed(acts));
    assert_eq!(t[0], (0, State::Backup, State::Master, Reason::MasterDown));
    assert_eq!(t[1].3, Reason::SyncGroup { member: "a".into() });
}

#[test]
fn a_pending_member_holds_the_group_in_init() {
    let mut insts = members(100, 100);
    insts[1].track_scripts = vec![track(0, 0, false)];
    let mut h = Harness::new(
        insts,
        vec![vrrp_script("chk", 0, 1, 1)],
        vec![sync_group()],
        vec![env(false, 5), env(false, 5)],
    );
    assert!(transitions(&h.drain()).is_empty());
    assert_eq!(
        (h.router.state(0), h.router.state(1)),
        (State::Init, State::Init)
    );
    h.router.handle_script(0, true, h.now);
    let t = transitions(&h.drain());
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|t| t.2 == State::Backup));
}

#[test]
fn shutdown_notifies_stop_for_instances_then_groups() {
    let mut h = harness(members(255, 255));
    h.drain();
    h.router.shutdown(h.now);
    let acts = h.drain();
    assert_eq!(
        sends(&acts).iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![0, 0]
    );
    assert_eq!(
        notifies(&acts),
        vec![
            strs(&["/any", "INSTANCE", "a", "STOP", "255"]),
            strs(&["/g-any", "GROUP", "g", "STOP", "0"]),
        ]
    );
}
