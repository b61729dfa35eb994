//! RFC 5798 §6.4.1 Startup with keepalived's choices (REFERENCE §8.4
//! "Start"): owners master at once, everything else backup with the full
//! Master_Down_Interval, FAULT when the link is down, Init while a weight-0
//! script has not answered.

mod common;

use common::*;
use xvs_vrrp::{Action, Reason, State};
use xvs_wire::vrrp::{Advert, ChecksumKind, AUTH_NONE};

#[test]
fn owner_becomes_master_at_once_with_exact_actions() {
    for (version, ipv6) in [(2, false), (3, false), (3, true)] {
        let mut h = Harness::single(instance("vi", 7, 255, version, ipv6), env(ipv6, 5));
        let acts = h.drain();
        let kind = if version == 2 {
            ChecksumKind::MessageOnly
        } else {
            ChecksumKind::PseudoHeader
        };
        let announce = Action::Announce {
            instance: 0,
            interface: "eth0".into(),
            mac: OUR_MAC,
            addresses: vec![vip(ipv6, 0)],
        };
        let mut want = vec![
            Action::Send {
                instance: 0,
                interface: "eth0".into(),
                src_mac: OUR_MAC,
                src: host(ipv6, 5),
                dst: group_addr(ipv6),
                advert: Advert {
                    version,
                    vrid: 7,
                    priority: 255,
                    auth_type: AUTH_NONE,
                    interval_field: if version == 2 { 1 } else { 100 },
                    addresses: vec![vip(ipv6, 0)],
                    auth_data: [0; 8],
                },
                checksum: kind,
            },
            Action::Transition {
                instance: 0,
                from: State::Init,
                to: State::Master,
                reason: Reason::Startup,
            },
        ];
        want.extend(std::iter::repeat_n(announce, 5));
        assert_eq!(acts, want, "v{version} ipv6={ipv6}");
        assert_eq!(h.state(), State::Master);
        // Adver_Timer = Advertisement_Interval.
        assert_eq!(h.router.poll_timeout(), Some(h.at(secs(1.0))));
        assert_eq!(h.router.master_addresses(), vec![vip(ipv6, 0)]);
        assert!(h.router.standby_addresses().is_empty());
    }
}

#[test]
fn non_owner_starts_backup_with_master_down_interval() {
    // REFERENCE §8.2: prio 100, 1 s → down 3.609375 s (v2 and v3).
    for (version, ipv6) in [(2, false), (3, false), (3, true)] {
        let mut h = Harness::single(instance("vi", 7, 100, version, ipv6), env(ipv6, 5));
        assert_eq!(
            h.drain(),
            vec![Action::Transition {
                instance: 0,
                from: State::Init,
                to: State::Backup,
                reason: Reason::Startup,
            }]
        );
        assert_eq!(h.router.poll_timeout(), Some(h.at(us(3_609_375))));
        assert_eq!(h.router.standby_addresses(), vec![vip(ipv6, 0)]);
        assert!(h.router.master_addresses().is_empty());
    }
}

#[test]
fn initial_master_non_owner_still_starts_backup() {
    let mut cfg = instance("vi", 7, 150, 2, false);
    cfg.initial_master = true;
    let mut h = Harness::single(cfg, env(false, 5));
    let t = transitions(&h.drain());
    assert_eq!(t, vec![(0, State::Init, State::Backup, Reason::Startup)]);
    // (256 − 150) / 256 s = 414 062 µs.
    assert_eq!(h.router.poll_timeout(), Some(h.at(us(3_414_062))));
}

#[test]
fn skew_uses_priority_and_down_timer_adverts() {
    for (prio, adverts, v3_interval_ms, want_us) in [
        (1u8, 3u32, 1000u64, 3_996_093u64),
        (254, 3, 1000, 3_007_812),
        (100, 1, 1000, 1_609_375),
        (100, 10, 1000, 10_609_375),
        // v3 at 0.5 s: 3 · 0.5 s + 156 · 50 · 625 / 16 µs.
        (100, 3, 500, 1_804_687),
    ] {
        let v3 = v3_interval_ms != 1000;
        let mut cfg = instance("vi", 1, prio, if v3 { 3 } else { 2 }, false);
        cfg.down_timer_adverts = adverts;
        cfg.advert_interval = std::time::Duration::from_millis(v3_interval_ms);
        let h = Harness::single(cfg, env(false, 5));
        assert_eq!(
            h.router.poll_timeout(),
            Some(h.at(us(want_us))),
            "prio {prio} adverts {adverts}"
        );
    }
}

#[test]
fn interface_down_at_start_is_fault() {
    let mut cfg = instance("vi", 7, 255, 2, false);
    cfg.notify.fault = Some(script("/fault"));
    let mut e = env(false, 5);
    e.up = false;
    let mut h = Harness::single(cfg, e);
    let acts = h.drain();
    assert_eq!(
        transitions(&acts),
        vec![(
            0,
            State::Init,
            State::Fault,
            Reason::Fault {
                what: "interface eth0 down".into()
            }
        )]
    );
    assert!(sends(&acts).is_empty());
    assert_eq!(notifies(&acts), vec![vec!["/fault".to_string()]]);
    assert_eq!(h.router.poll_timeout(), None);
    assert_eq!(h.router.status(h.now)[0].faults, vec!["eth0".to_string()]);
}

#[test]
fn weight_zero_script_holds_init_until_first_result() {
    let mut cfg = instance("vi", 7, 100, 2, false);
    cfg.track_scripts = vec![track(0, 0, false)];
    let mut h = Harness::new(
        vec![cfg.clone()],
        vec![vrrp_script("chk", 0, 2, 2)],
        Vec::new(),
        vec![env(false, 5)],
    );
    // keepalived runs every tracked script at start-up.
    let acts = h.drain();
    assert_eq!(
        acts,
        vec![Action::RunScript {
            script: 0,
            timeout: secs(1.0)
        }]
    );
    assert_eq!(h.state(), State::Init);
    // Only the script timer runs.
    assert_eq!(h.router.poll_timeout(), Some(h.at(secs(2.0))));
    // "One success is enough" for the first result, even with rise 2.
    h.now = h.at(secs(0.5));
    h.router.handle_script(0, true, h.now);
    assert_eq!(
        transitions(&h.drain()),
        vec![(0, State::Init, State::Backup, Reason::Startup)]
    );
    assert_eq!(h.router.poll_timeout(), Some(h.at(secs(2.0))));
    let acts = h.run_until(h.at(us(500_000 + 3_609_375)));
    assert_eq!(transitions(&untimed(acts))[0].2, State::Master);

    // A first failure goes to FAULT.
    let mut h = Harness::new(
        vec![cfg],
        vec![vrrp_script("chk", 0, 2, 2)],
        Vec::new(),
        vec![env(false, 5)],
    );
    h.drain();
    h.router.handle_script(0, false, h.now);
    assert_eq!(
        transitions(&h.drain()),
        vec![(
            0,
            State::Init,
            State::Fault,
            Reason::Fault {
                what: "script chk failed".into()
            }
        )]
    );
}

#[test]
fn weighted_script_does_not_hold_start_up() {
    let mut cfg = instance("vi", 7, 100, 2, false);
    cfg.track_scripts = vec![track(0, 10, false)];
    let mut h = Harness::new(
        vec![cfg],
        vec![vrrp_script("chk", 10, 1, 1)],
        Vec::new(),
        vec![env(false, 5)],
    );
    let acts = h.drain();
    assert_eq!(transitions(&acts)[0].2, State::Backup);
    assert_eq!(h.router.status(h.now)[0].effective_priority, 100);
}

#[test]
fn notify_backup_runs_at_start_up() {
    let mut cfg = instance("vi_1", 7, 100, 2, false);
    cfg.notify.backup = Some(script("/backup"));
    cfg.notify.any = Some(script("/any"));
    let mut h = Harness::single(cfg, env(false, 5));
    assert_eq!(
        notifies(&h.drain()),
        vec![
            vec!["/backup".to_string()],
            ["/any", "INSTANCE", "vi_1", "BACKUP", "100"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ]
    );
}

#[test]
fn missing_environment_is_fault_not_a_panic() {
    let h = xvs_vrrp::Router::new(
        &[instance("vi", 7, 100, 2, false)],
        &[],
        &[],
        Vec::new(),
        std::time::Instant::now(),
    );
    assert_eq!(h.state(0), State::Fault);
    assert_eq!(h.state(5), State::Init);
}
