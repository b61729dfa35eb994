//! Gratuitous ARP / unsolicited NA bursts after becoming master
//! (garp_master_repeat, garp_master_delay, garp_master_refresh,
//! garp_master_refresh_repeat), driven through the router.

mod common;

use std::time::Duration;

use common::*;
use xvs_config::GarpSettings;
use xvs_vrrp::{Action, State};

fn announce_times(h: &Harness, acts: &[(std::time::Instant, Action)]) -> Vec<Duration> {
    acts.iter()
        .filter(|(_, a)| matches!(a, Action::Announce { .. }))
        .map(|(t, _)| *t - h.t0)
        .collect()
}

#[test]
fn bursts_at_once_after_the_delay_then_every_refresh() {
    let mut cfg = instance("vi", 7, 255, 2, false);
    cfg.garp = GarpSettings {
        master_delay: secs(5.0),
        master_repeat: 3,
        master_refresh: Some(secs(60.0)),
        master_refresh_repeat: 2,
    };
    let mut h = Harness::single(cfg, env(false, 5));
    let acts = h.run_until(h.at(secs(130.0)));
    let at = |s: f64, n: usize| std::iter::repeat_n(secs(s), n);
    let want: Vec<Duration> = at(0.0, 3)
        .chain(at(5.0, 3))
        .chain(at(65.0, 2))
        .chain(at(125.0, 2))
        .collect();
    assert_eq!(announce_times(&h, &acts), want);
}

#[test]
fn keepalived_defaults_are_two_bursts_of_five() {
    let mut h = Harness::single(instance("vi", 7, 255, 3, true), env(true, 5));
    let acts = h.run_until(h.at(secs(600.0)));
    let want: Vec<Duration> = std::iter::repeat_n(secs(0.0), 5)
        .chain(std::iter::repeat_n(secs(5.0), 5))
        .collect();
    assert_eq!(announce_times(&h, &acts), want);
}

#[test]
fn no_delay_starts_the_refresh_from_becoming_master() {
    let mut cfg = instance("vi", 7, 255, 2, false);
    cfg.garp = GarpSettings {
        master_delay: Duration::ZERO,
        master_repeat: 1,
        master_refresh: Some(secs(10.0)),
        master_refresh_repeat: 1,
    };
    let mut h = Harness::single(cfg, env(false, 5));
    let acts = h.run_until(h.at(secs(35.0)));
    assert_eq!(
        announce_times(&h, &acts),
        vec![secs(0.0), secs(10.0), secs(20.0), secs(30.0)]
    );
}

#[test]
fn leaving_master_cancels_and_coming_back_restarts_the_schedule() {
    let mut cfg = instance("vi", 7, 100, 2, false);
    cfg.garp.master_repeat = 2;
    let mut h = Harness::single(cfg, env(false, 5));
    h.run_until(h.at(secs(4.0)));
    assert_eq!(h.state(), State::Master);
    // 3.609375 s: 2 announcements; the delayed ones are due at 8.609375 s.
    h.recv_advert(false, 9, &peer_advert(2, false, 7, 200));
    assert_eq!(h.state(), State::Backup);
    let acts = h.run_until(h.at(secs(7.0)));
    assert!(announce_times(&h, &acts).is_empty());
    // Master again at 4 + 3.609375 s: a fresh schedule.
    let acts = h.run_until(h.at(secs(20.0)));
    let t = secs(4.0) + us(3_609_375);
    assert_eq!(
        announce_times(&h, &acts),
        vec![t, t, t + secs(5.0), t + secs(5.0)]
    );
}

#[test]
fn announcements_carry_the_interface_mac_and_every_address() {
    let mut cfg = instance("vi", 7, 255, 2, false);
    cfg.virtual_addresses.push(xvs_config::IpNet {
        addr: vip(false, 1),
        prefix: 32,
    });
    cfg.garp.master_repeat = 1;
    let mut h = Harness::single(cfg, env(false, 5));
    let acts = h.drain();
    assert_eq!(
        acts[2],
        Action::Announce {
            instance: 0,
            interface: "eth0".into(),
            mac: OUR_MAC,
            addresses: vec![vip(false, 0), vip(false, 1)],
        }
    );
}

#[test]
fn nothing_to_announce_without_addresses() {
    let mut cfg = instance("vi", 7, 255, 2, false);
    cfg.virtual_addresses.clear();
    let mut h = Harness::single(cfg, env(false, 5));
    assert_eq!(announces(&h.drain()), 0);
    assert_eq!(h.state(), State::Master);
}
