//! Backup behaviour beyond the plain table: preempt off, preempt_delay,
//! VRRPv3 interval adoption, and why a backup became master.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use xvs_vrrp::{Reason, State};

/// Adverts from host `from` every second from `start` to `end` (seconds
/// after t0), running every timer in between.
fn adverts_every_second(
    h: &mut Harness,
    from: u16,
    prio: u8,
    start: u64,
    end: u64,
) -> Vec<(std::time::Instant, xvs_vrrp::Action)> {
    let mut out = Vec::new();
    for s in start..=end {
        out.extend(h.run_until(h.at(secs(s as f64))));
        let acts = h.recv_advert(false, from, &peer_advert(2, false, 7, prio));
        out.extend(acts.into_iter().map(|a| (h.now, a)));
    }
    out
}

/// The one transition of a backup that preempts host 3's priority-100 master.
fn preempted_by_host_3() -> Vec<(usize, State, State, Reason)> {
    vec![(
        0,
        State::Backup,
        State::Master,
        Reason::Preempt {
            from: host(false, 3),
            priority: 100,
        },
    )]
}

#[test]
fn lower_priority_master_is_preempted_after_the_remaining_down_time() {
    let mut h = Harness::single(instance("vi", 7, 150, 2, false), env(false, 5));
    h.drain();
    let acts = adverts_every_second(&mut h, 3, 100, 1, 10);
    // Ignored: the start-up down timer (3.4140625 s) runs out.
    let t = transitions(&untimed(acts.clone()));
    assert_eq!(t, preempted_by_host_3());
    let first_send = acts
        .iter()
        .find(|(_, a)| matches!(a, xvs_vrrp::Action::Send { .. }))
        .unwrap()
        .0;
    assert_eq!(first_send, h.at(us(3_414_062)));
    // The old master keeps advertising (it never yields here): seven
    // adverts after the takeover, the first 0.59 s into it (less than one
    // interval: the preemption's own crossing, not counted).
    assert_eq!(h.router.status(h.now)[0].counters.split_brain, 6);
}

#[test]
fn nopreempt_accepts_a_lower_priority_master_forever() {
    let mut cfg = instance("vi", 7, 150, 2, false);
    cfg.preempt = false;
    let mut h = Harness::single(cfg, env(false, 5));
    h.drain();
    let acts = adverts_every_second(&mut h, 3, 100, 1, 30);
    assert!(transitions(&untimed(acts)).is_empty());
    assert_eq!(h.state(), State::Backup);
    let st = &h.router.status(h.now)[0];
    assert_eq!(st.master, Some(host(false, 3)));
    assert_eq!(st.master_priority, Some(100));
    // The master stops: Master_Down_Interval after its last advert.
    let acts = h.run_until(h.at(secs(40.0)));
    let t = transitions(&untimed(acts.clone()));
    assert_eq!(t[0].3, Reason::MasterDown);
    assert_eq!(
        send_times(h.t0, &acts)[0],
        (us(30_000_000 + 3_414_062), 150)
    );
}

#[test]
fn preempt_delay_accepts_lower_priority_until_it_runs_out() {
    let mut cfg = instance("vi", 7, 150, 2, false);
    cfg.preempt_delay = secs(10.0);
    let mut h = Harness::single(cfg, env(false, 5));
    h.drain();
    // The first lower-priority advert at 1 s starts the delay: accepted
    // until 11 s (exclusive), so the last reset is at 10 s.
    let acts = adverts_every_second(&mut h, 3, 100, 1, 20);
    let t = transitions(&untimed(acts.clone()));
    assert_eq!(t, preempted_by_host_3());
    assert_eq!(send_times(h.t0, &acts)[0].0, us(10_000_000 + 3_414_062));
}

#[test]
fn preempt_delay_restarts_after_a_higher_priority_master() {
    let mut cfg = instance("vi", 7, 150, 2, false);
    cfg.preempt_delay = secs(5.0);
    let mut h = Harness::single(cfg, env(false, 5));
    h.drain();
    let mut acts = adverts_every_second(&mut h, 3, 100, 1, 3);
    // A higher-priority master in between clears the delay…
    acts.extend(adverts_every_second(&mut h, 9, 200, 4, 4));
    // …so the next lower-priority advert (5 s) starts it again: accepted
    // until 10 s, last reset at 9 s.
    acts.extend(adverts_every_second(&mut h, 3, 100, 5, 20));
    let first = send_times(h.t0, &acts)[0];
    assert_eq!(first, (us(9_000_000 + 3_414_062), 150));
}

#[test]
fn priority_zero_gives_skew_time_then_master_resigned() {
    for (version, ipv6) in [(2, false), (3, false), (3, true)] {
        let mut h = Harness::single(instance("vi", 7, 100, version, ipv6), env(ipv6, 5));
        h.drain();
        h.advance(secs(1.0));
        h.recv_advert(ipv6, 9, &peer_advert(version, ipv6, 7, 200));
        h.advance(secs(1.0));
        let acts = h.recv_advert(ipv6, 9, &peer_advert(version, ipv6, 7, 0));
        assert!(acts.is_empty());
        let st = &h.router.status(h.now)[0];
        assert_eq!(st.master, None);
        assert_eq!(st.counters.priority_zero_received, 1);
        let acts = h.run_until(h.at(secs(5.0)));
        assert_eq!(send_times(h.t0, &acts)[0], (us(2_609_375), 100));
        assert_eq!(
            transitions(&untimed(acts))[0].3,
            Reason::MasterResigned {
                from: host(ipv6, 9)
            }
        );
    }
}

#[test]
fn v3_backup_adopts_the_masters_interval() {
    for ipv6 in [false, true] {
        let mut h = Harness::single(instance("vi", 7, 100, 3, ipv6), env(ipv6, 5));
        h.drain();
        h.advance(secs(1.0));
        // The master advertises every 2 s (200 cs).
        let a = advert(3, 7, 200, 200, vec![vip(ipv6, 0)]);
        assert!(h.recv_advert(ipv6, 9, &a).is_empty());
        assert_eq!(h.router.status(h.now)[0].advert_interval_ms, 2000);
        // 3 · 2 s + 156 · 200 · 625 / 16 µs = 7.21875 s.
        assert_eq!(
            h.router.poll_timeout(),
            Some(h.at(us(1_000_000 + 7_218_750)))
        );
        let acts = h.run_until(h.at(secs(20.0)));
        // As master it advertises its own interval, every second.
        let sent: Vec<_> = acts
            .iter()
            .filter_map(|(t, a)| match a {
                xvs_vrrp::Action::Send { advert, .. } => Some((*t - h.t0, advert.interval_field)),
                _ => None,
            })
            .take(3)
            .collect();
        assert_eq!(
            sent,
            vec![
                (us(8_218_750), 100),
                (us(9_218_750), 100),
                (us(10_218_750), 100)
            ]
        );
        assert_eq!(h.router.status(h.now)[0].advert_interval_ms, 1000);
    }
}

#[test]
fn v3_interval_mismatch_is_accepted_v2_is_not() {
    let mut h = Harness::single(instance("vi", 7, 100, 3, false), env(false, 5));
    h.drain();
    h.recv_advert(false, 9, &advert(3, 7, 200, 50, vec![vip(false, 0)]));
    let st = &h.router.status(h.now)[0];
    assert_eq!(st.counters.adverts_received, 1);
    assert_eq!(st.master, Some(host(false, 9)));
    assert_eq!(st.advert_interval_ms, 500);

    let mut h = Harness::single(instance("vi", 7, 100, 2, false), env(false, 5));
    h.drain();
    h.recv_advert(false, 9, &advert(2, 7, 200, 2, vec![vip(false, 0)]));
    let st = &h.router.status(h.now)[0];
    assert_eq!(st.counters.adverts_received, 0);
    assert_eq!(st.master, None);
    assert_eq!(h.rejected(0, "interval"), 1);
}

#[test]
fn down_timer_adverts_sets_the_multiplier_on_every_reset() {
    for adverts in [1u32, 2, 5] {
        let mut cfg = instance("vi", 7, 100, 2, false);
        cfg.down_timer_adverts = adverts;
        let mut h = Harness::single(cfg, env(false, 5));
        h.drain();
        h.advance(secs(0.5));
        h.recv_advert(false, 9, &peer_advert(2, false, 7, 200));
        assert_eq!(
            h.router.poll_timeout(),
            Some(h.now + secs(f64::from(adverts)) + us(609_375)),
            "down_timer_adverts {adverts}"
        );
    }
}

#[test]
fn equal_priority_is_accepted_whatever_the_address() {
    let mut h = Harness::single(instance("vi", 7, 100, 2, false), env(false, 5));
    h.drain();
    for s in 1..=10 {
        h.run_until(h.at(secs(f64::from(s))));
        h.recv_advert(false, 3, &peer_advert(2, false, 7, 100));
    }
    assert_eq!(h.state(), State::Backup);
    assert_eq!(
        h.router.status(h.now)[0].master,
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)))
    );
}

#[test]
fn held_preemption_accepts_a_lower_priority_master_until_released() {
    let mut h = Harness::single(instance("vi", 7, 150, 2, false), env(false, 5));
    h.router.hold_preemption(true);
    assert!(h.router.preemption_held());
    h.drain();
    let acts = adverts_every_second(&mut h, 3, 100, 1, 10);
    assert!(
        transitions(&untimed(acts)).is_empty(),
        "held: the lower-priority master's adverts keep resetting the down timer"
    );
    assert_eq!(h.state(), State::Backup);
    h.router.hold_preemption(false);
    let acts = adverts_every_second(&mut h, 3, 100, 11, 20);
    assert_eq!(transitions(&untimed(acts.clone())), preempted_by_host_3());
    // The last advert accepted was at 10 s: the timer it set runs out.
    assert_eq!(send_times(h.t0, &acts)[0].0, us(10_000_000 + 3_414_062));
}

#[test]
fn held_preemption_still_takes_over_from_a_silent_master() {
    let mut h = Harness::single(instance("vi", 7, 150, 2, false), env(false, 5));
    h.router.hold_preemption(true);
    h.drain();
    adverts_every_second(&mut h, 3, 100, 1, 2);
    let acts = h.run_until(h.at(secs(10.0)));
    let t = transitions(&untimed(acts.clone()));
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].1, t[0].2), (State::Backup, State::Master));
    assert_eq!(send_times(h.t0, &acts)[0].0, us(2_000_000 + 3_414_062));
}
