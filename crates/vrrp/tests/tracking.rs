//! Tracked interfaces and scripts (REFERENCE §8.4 "Tracking"): weights
//! and their clamping, rise/fall, reverse, FAULT and recovery, and when
//! the router runs each script.

mod common;

use common::*;
use xvs_config::{TrackInterface, VrrpInstance, VrrpScript};
use xvs_vrrp::{Action, Reason, State};

fn with_links(prio: u8, links: &[(&str, i32)]) -> VrrpInstance {
    let mut cfg = instance("vi", 7, prio, 2, false);
    cfg.track_interfaces = links
        .iter()
        .map(|(n, w)| TrackInterface {
            name: n.to_string(),
            weight: *w,
        })
        .collect();
    cfg
}

fn priority(h: &Harness) -> u8 {
    h.router.status(h.now)[0].effective_priority
}

#[test]
fn interface_weights_add_while_up_or_down() {
    let mut h = Harness::single(
        with_links(100, &[("eth1", 20), ("eth2", -30)]),
        env(false, 5),
    );
    h.drain();
    // Tracked interfaces count as up until told otherwise.
    assert_eq!(priority(&h), 120);
    h.router.handle_link("eth1", false, h.now);
    assert_eq!(priority(&h), 100);
    h.router.handle_link("eth2", false, h.now);
    assert_eq!(priority(&h), 70);
    assert_eq!(h.router.status(h.now)[0].faults, vec!["eth1", "eth2"]);
    h.router.handle_link("eth1", true, h.now);
    h.router.handle_link("eth2", true, h.now);
    assert_eq!(priority(&h), 120);
    assert!(transitions(&h.drain()).is_empty());
}

#[test]
fn priority_is_clamped_and_an_owner_never_moves() {
    for (base, links, want_up, want_down) in [
        (250u8, vec![("eth1", 20)], 254u8, 250u8),
        (10, vec![("eth1", -30)], 10, 1),
        (255, vec![("eth1", 20)], 255, 255),
        (255, vec![("eth1", -30)], 255, 255),
        (100, vec![("eth1", 253), ("eth2", 253)], 254, 254),
    ] {
        let mut h = Harness::single(with_links(base, &links), env(false, 5));
        assert_eq!(priority(&h), want_up, "base {base} {links:?}");
        h.router.handle_link("eth1", false, h.now);
        assert_eq!(priority(&h), want_down, "base {base} {links:?}");
        h.drain();
    }
}

#[test]
fn weight_zero_interface_down_is_fault_until_it_comes_back() {
    let mut cfg = with_links(255, &[("eth1", 0)]);
    cfg.notify.fault = Some(script("/fault"));
    cfg.notify.master = Some(script("/master"));
    let mut h = Harness::single(cfg, env(false, 5));
    h.drain();
    h.advance(secs(0.5));
    h.router.handle_link("eth1", false, h.now);
    let acts = h.drain();
    // The master resigns with priority 0 on the way to FAULT.
    assert_eq!(sends(&acts), vec![(0, 0, group_addr(false))]);
    assert_eq!(
        transitions(&acts),
        vec![(
            0,
            State::Master,
            State::Fault,
            Reason::Fault {
                what: "interface eth1 down".into()
            }
        )]
    );
    assert_eq!(notifies(&acts), vec![vec!["/fault".to_string()]]);
    assert_eq!(h.router.poll_timeout(), None);
    let c = &h.router.status(h.now)[0].counters;
    assert_eq!((c.priority_zero_sent, c.released_master), (1, 1));
    // An owner recovers straight to MASTER.
    h.advance(secs(2.0));
    h.router.handle_link("eth1", true, h.now);
    let acts = h.drain();
    assert_eq!(
        transitions(&acts),
        vec![(0, State::Fault, State::Master, Reason::Recovered)]
    );
    assert_eq!(sends(&acts), vec![(0, 255, group_addr(false))]);
}

#[test]
fn recovery_is_backup_with_the_full_down_interval() {
    let mut h = Harness::single(with_links(100, &[("eth1", 0)]), env(false, 5));
    h.drain();
    h.router.handle_link("eth1", false, h.now);
    h.drain();
    h.advance(secs(7.0));
    h.router.handle_link("eth1", true, h.now);
    assert_eq!(
        transitions(&h.drain()),
        vec![(0, State::Fault, State::Backup, Reason::Recovered)]
    );
    assert_eq!(h.router.poll_timeout(), Some(h.now + us(3_609_375)));
}

#[test]
fn every_fault_must_clear() {
    let mut cfg = with_links(100, &[("eth1", 0)]);
    cfg.track_scripts = vec![track(0, 0, false)];
    let mut h = Harness::new(
        vec![cfg],
        vec![vrrp_script("chk", 0, 1, 1)],
        Vec::new(),
        vec![env(false, 5)],
    );
    h.router.handle_script(0, true, h.now);
    h.drain();
    h.router.handle_link("eth1", false, h.now);
    h.router.handle_script(0, false, h.now);
    h.router.handle_link("eth0", false, h.now);
    let t = transitions(&h.drain());
    assert_eq!(t.len(), 1);
    assert_eq!(
        h.router.status(h.now)[0].faults,
        vec!["eth0", "eth1", "chk"]
    );
    h.router.handle_link("eth1", true, h.now);
    h.router.handle_script(0, true, h.now);
    assert_eq!(h.state(), State::Fault);
    h.router.handle_link("eth0", true, h.now);
    assert_eq!(h.state(), State::Backup);
}

fn script_router(prio: u8, weight: i32, reverse: bool, rise: u32, fall: u32) -> Harness {
    let mut cfg = instance("vi", 7, prio, 2, false);
    cfg.track_scripts = vec![track(0, weight, reverse)];
    let mut h = Harness::new(
        vec![cfg],
        vec![vrrp_script("chk", weight, rise, fall)],
        Vec::new(),
        vec![env(false, 5)],
    );
    h.drain();
    h
}

#[test]
fn script_weights_and_reverse() {
    // (weight, reverse, priority after success, after failure)
    for (weight, reverse, ok, failed) in [
        (10, false, 110u8, 100u8),
        (-10, false, 100, 90),
        // keepalived reverse negates: a positive weight lowers the
        // priority while the script succeeds…
        (10, true, 90, 100),
        // …and a negative one raises it while it fails.
        (-10, true, 100, 110),
    ] {
        let mut h = script_router(100, weight, reverse, 1, 1);
        // No result yet: no contribution.
        assert_eq!(priority(&h), 100);
        h.router.handle_script(0, true, h.now);
        assert_eq!(priority(&h), ok, "w {weight} reverse {reverse}");
        h.router.handle_script(0, false, h.now);
        assert_eq!(priority(&h), failed, "w {weight} reverse {reverse}");
        h.router.handle_script(0, true, h.now);
        assert_eq!(priority(&h), ok, "w {weight} reverse {reverse}");
        assert!(transitions(&h.drain()).is_empty());
    }
}

#[test]
fn weight_zero_reverse_faults_while_the_script_succeeds() {
    let mut h = script_router(100, 0, true, 1, 1);
    h.router.handle_script(0, false, h.now);
    assert_eq!(h.state(), State::Backup);
    h.router.handle_script(0, true, h.now);
    assert_eq!(h.state(), State::Fault);
    assert_eq!(
        transitions(&h.drain()).last().unwrap().3,
        Reason::Fault {
            what: "script chk succeeded (reverse)".into()
        }
    );
}

#[test]
fn rise_and_fall_counts() {
    let mut h = script_router(100, 0, false, 3, 2);
    h.router.handle_script(0, true, h.now);
    assert_eq!(h.state(), State::Backup);
    // fall 2: one failure is not enough.
    h.router.handle_script(0, false, h.now);
    assert_eq!(h.state(), State::Backup);
    h.router.handle_script(0, false, h.now);
    assert_eq!(h.state(), State::Fault);
    // rise 3.
    h.router.handle_script(0, true, h.now);
    h.router.handle_script(0, true, h.now);
    assert_eq!(h.state(), State::Fault);
    h.router.handle_script(0, true, h.now);
    assert_eq!(h.state(), State::Backup);
    let t = transitions(&h.drain());
    assert_eq!(t.last().unwrap().3, Reason::Recovered);
}

#[test]
fn a_masters_priority_change_shows_in_its_next_advert() {
    let mut h = script_router(200, -50, false, 1, 1);
    let acts = h.run_until(h.at(secs(4.0)));
    assert_eq!(h.state(), State::Master);
    assert!(send_times(h.t0, &acts).iter().all(|(_, p)| *p == 200));
    h.router.handle_script(0, false, h.now);
    assert!(sends(&h.drain()).is_empty());
    let acts = h.advance(secs(1.0));
    assert_eq!(send_times(h.t0, &acts).first().map(|s| s.1), Some(150));
}

#[test]
fn a_backups_priority_change_moves_its_down_timer_by_the_skew() {
    let mut h = script_router(100, 50, false, 1, 1);
    h.advance(secs(1.0));
    // Down timer 3.609375 s from 0; at 150 the skew is 0.4140625 s
    // instead of 0.609375 s.
    h.router.handle_script(0, true, h.now);
    assert_eq!(priority(&h), 150);
    let acts = h.run_until(h.at(secs(5.0)));
    assert_eq!(send_times(h.t0, &acts).first(), Some(&(us(3_414_062), 150)));
    // And back: 150 → 100 moves a running timer later by the same.
    let mut h = script_router(150, -50, false, 1, 1);
    h.advance(secs(1.0));
    h.router.handle_script(0, false, h.now);
    assert_eq!(priority(&h), 100);
    let acts = h.run_until(h.at(secs(5.0)));
    assert_eq!(send_times(h.t0, &acts).first(), Some(&(us(3_609_375), 100)));
}

#[test]
fn scripts_run_at_start_then_every_interval_once_for_all_instances() {
    let mut a = instance("a", 1, 100, 2, false);
    a.track_scripts = vec![track(0, 0, false)];
    let mut b = instance("b", 2, 100, 2, false);
    b.track_scripts = vec![track(0, 10, false)];
    let unused = VrrpScript {
        name: "unused".into(),
        ..vrrp_script("unused", 0, 1, 1)
    };
    let mut h = Harness::new(
        vec![a, b],
        vec![vrrp_script("chk", 0, 1, 1), unused],
        Vec::new(),
        vec![env(false, 5), env(false, 5)],
    );
    let run = |acts: &[(std::time::Instant, Action)], t0| -> Vec<(std::time::Duration, usize)> {
        acts.iter()
            .filter_map(|(t, a)| match a {
                Action::RunScript { script, timeout } => {
                    assert_eq!(*timeout, secs(1.0));
                    Some((*t - t0, *script))
                }
                _ => None,
            })
            .collect()
    };
    let mut acts = h.run_until(h.t0);
    h.router.handle_script(0, true, h.now);
    acts.extend(h.run_until(h.at(secs(2.0))));
    // Still running at 2 s (no result): 4 s is skipped too.
    acts.extend(h.run_until(h.at(secs(4.0))));
    h.router.handle_script(0, false, h.now);
    acts.extend(h.run_until(h.at(secs(6.0))));
    assert_eq!(
        run(&acts, h.t0),
        vec![(secs(0.0), 0), (secs(2.0), 0), (secs(6.0), 0)]
    );
    // The one result moved both instances.
    assert_eq!(h.router.state(0), State::Fault);
    assert_eq!(h.router.status(h.now)[1].effective_priority, 100);
}

#[test]
fn unknown_script_index_is_ignored() {
    let mut h = script_router(100, 0, false, 1, 1);
    h.router.handle_script(7, true, h.now);
    assert_eq!(h.state(), State::Init);
}
