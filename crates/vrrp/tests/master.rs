//! Master behaviour beyond the plain table: the advert cadence, the
//! RFC 5798 §6.4.3 address tie-break as unsigned integers, interval
//! adoption when yielding, and priority 0 on the way out.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::*;
use xvs_config::IpNet;
use xvs_vrrp::{Action, Reason, State};
use xvs_wire::vrrp::ChecksumKind;

fn master(version: u8, ipv6: bool, primary: IpAddr) -> Harness {
    let mut e = env(ipv6, 5);
    e.primary = primary;
    let mut h = Harness::single(instance("vi", 7, 255, version, ipv6), e);
    h.drain();
    assert_eq!(h.state(), State::Master);
    h
}

#[test]
fn adverts_every_interval_exactly() {
    let mut cfg = instance("vi", 7, 255, 3, false);
    cfg.advert_interval = secs(0.25);
    let mut h = Harness::single(cfg, env(false, 5));
    h.drain();
    let acts = h.run_until(h.at(secs(1.0)));
    assert_eq!(
        send_times(h.t0, &acts),
        vec![
            (secs(0.25), 255),
            (secs(0.5), 255),
            (secs(0.75), 255),
            (secs(1.0), 255)
        ]
    );
    assert_eq!(h.router.status(h.now)[0].counters.adverts_sent, 5);
}

#[test]
fn tie_break_compares_addresses_unsigned_in_network_order() {
    // (ours, sender, sender wins)
    let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    let v6 = |last| IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last));
    for (ours, sender, yields) in [
        (v4(10, 0, 0, 5), v4(10, 0, 0, 9), true),
        (v4(10, 0, 0, 5), v4(10, 0, 0, 3), false),
        // Above 127.255.255.255 a signed compare would be wrong.
        (v4(10, 0, 0, 5), v4(200, 0, 0, 1), true),
        (v4(200, 0, 0, 1), v4(10, 0, 0, 5), false),
        (v4(10, 0, 1, 0), v4(10, 0, 0, 255), false),
        (v6(0x0005), v6(0x8000), true),
        (v6(0x8000), v6(0x0005), false),
    ] {
        let ipv6 = ours.is_ipv6();
        let mut h = master(3, ipv6, ours);
        let a = peer_advert(3, ipv6, 7, 255);
        let f = frame(sender, group_addr(ipv6), &a, ChecksumKind::PseudoHeader);
        let acts = h.recv(&f);
        let want = if yields { State::Backup } else { State::Master };
        assert_eq!(h.state(), want, "ours {ours} sender {sender}");
        if yields {
            assert_eq!(
                transitions(&acts)[0].3,
                Reason::HigherPriority {
                    from: sender,
                    priority: 255
                }
            );
        } else {
            assert_eq!(sends(&acts).len(), 1);
        }
    }
}

#[test]
fn yielding_v3_master_adopts_the_interval() {
    let mut h = Harness::single(instance("vi", 7, 100, 3, false), env(false, 5));
    h.drain();
    h.run_until(h.at(secs(4.0)));
    assert_eq!(h.state(), State::Master);
    let a = advert(3, 7, 200, 300, vec![vip(false, 0)]);
    let acts = h.recv_advert(false, 9, &a);
    assert_eq!(transitions(&acts)[0].2, State::Backup);
    // 3 · 3 s + 156 · 300 · 625 / 16 µs.
    assert_eq!(h.router.poll_timeout(), Some(h.now + us(10_828_125)));
    assert_eq!(h.router.status(h.now)[0].advert_interval_ms, 3000);
    // v2 keeps its interval (there is nothing to adopt).
    let mut h = Harness::single(instance("vi", 7, 100, 2, false), env(false, 5));
    h.drain();
    h.run_until(h.at(secs(4.0)));
    h.recv_advert(false, 9, &peer_advert(2, false, 7, 200));
    assert_eq!(h.router.poll_timeout(), Some(h.now + us(3_609_375)));
}

#[test]
fn lower_priority_master_gets_one_advert_at_once_each_time() {
    let mut h = master(2, false, host(false, 5));
    // Within the first interval: adverts that crossed ours (a preemption
    // in progress) get an advert, but are no split brain.
    h.advance(secs(0.3));
    let acts = h.recv_advert(false, 3, &peer_advert(2, false, 7, 100));
    assert_eq!(sends(&acts), vec![(0, 255, group_addr(false))]);
    assert_eq!(announces(&acts), 0);
    // The Adver_Timer restarted from now.
    assert_eq!(h.router.poll_timeout(), Some(h.now + secs(1.0)));
    assert_eq!(h.router.status(h.now)[0].counters.split_brain, 0);
    // Later: another master took the addresses over; it gets an advert
    // and the addresses are announced again (garp_master_repeat, 5).
    h.advance(secs(1.0));
    let acts = h.recv_advert(false, 3, &peer_advert(2, false, 7, 100));
    assert_eq!(sends(&acts).len(), 1);
    assert_eq!(announces(&acts), 5);
    let acts = h.recv_advert(false, 3, &peer_advert(2, false, 7, 100));
    assert_eq!(sends(&acts).len(), 1);
    assert_eq!(h.router.status(h.now)[0].counters.split_brain, 2);
}

#[test]
fn priority_zero_from_another_router_is_not_split_brain() {
    let mut h = master(2, false, host(false, 5));
    let acts = h.recv_advert(false, 9, &peer_advert(2, false, 7, 0));
    assert_eq!(sends(&acts), vec![(0, 255, group_addr(false))]);
    let c = &h.router.status(h.now)[0].counters;
    assert_eq!((c.split_brain, c.priority_zero_received), (0, 1));
}

#[test]
fn vmac_is_the_source_of_adverts_and_announcements() {
    for ipv6 in [false, true] {
        let mut cfg = instance("vi", 42, 255, 3, ipv6);
        cfg.use_vmac = true;
        let mut h = Harness::single(cfg, env(ipv6, 5));
        let want = [0x00, 0x00, 0x5e, 0x00, if ipv6 { 2 } else { 1 }, 42];
        for a in h.drain() {
            match a {
                Action::Send { src_mac, .. } => assert_eq!(src_mac, want),
                Action::Announce { mac, .. } => assert_eq!(mac, want),
                _ => {}
            }
        }
    }
}

#[test]
fn unicast_master_sends_one_copy_per_peer() {
    let mut cfg = instance("vi", 7, 255, 2, false);
    cfg.unicast_peers = vec![host(false, 8), host(false, 9)];
    let mut h = Harness::single(cfg, env(false, 5));
    let acts = h.drain();
    assert_eq!(
        sends(&acts),
        vec![(0, 255, host(false, 8)), (0, 255, host(false, 9))]
    );
    // One advert (keepalived counts per advert, not per copy).
    assert_eq!(h.router.status(h.now)[0].counters.adverts_sent, 1);
}

#[test]
fn advert_carries_every_address_and_the_password() {
    let mut cfg = instance("vi", 7, 255, 2, false);
    cfg.virtual_addresses.push(IpNet {
        addr: vip(false, 1),
        prefix: 32,
    });
    cfg.auth_pass = Some("secret".into());
    let mut h = Harness::single(cfg, env(false, 5));
    let acts = h.drain();
    let Some(Action::Send {
        advert, checksum, ..
    }) = acts.first()
    else {
        panic!("no advert first: {acts:?}");
    };
    assert_eq!(advert.addresses, vec![vip(false, 0), vip(false, 1)]);
    assert_eq!(advert.auth_type, xvs_wire::vrrp::AUTH_PASS);
    assert_eq!(&advert.auth_data, b"secret\0\0");
    assert_eq!(*checksum, ChecksumKind::MessageOnly);
    // Two addresses per announcement.
    let Some(Action::Announce { addresses, .. }) = acts.get(2) else {
        panic!("{acts:?}");
    };
    assert_eq!(addresses.len(), 2);
}

#[test]
fn v3_ipv4_checksum_follows_the_configuration() {
    for (conv, kind) in [
        (
            xvs_config::V3Checksum::PseudoHeader,
            ChecksumKind::PseudoHeader,
        ),
        (
            xvs_config::V3Checksum::MessageOnly,
            ChecksumKind::MessageOnly,
        ),
    ] {
        let mut cfg = instance("vi", 7, 255, 3, false);
        cfg.v3_checksum = conv;
        let mut h = Harness::single(cfg, env(false, 5));
        let acts = h.drain();
        assert!(matches!(acts[0], Action::Send { checksum, .. } if checksum == kind));
    }
    // IPv6 always uses the pseudo-header.
    let mut cfg = instance("vi", 7, 255, 3, true);
    cfg.v3_checksum = xvs_config::V3Checksum::MessageOnly;
    let mut h = Harness::single(cfg, env(true, 5));
    assert!(matches!(
        h.drain()[0],
        Action::Send {
            checksum: ChecksumKind::PseudoHeader,
            ..
        }
    ));
}

#[test]
fn another_master_is_reported_as_split_brain_and_the_lower_one_yields() {
    // We are master at 200 (not an owner); a master at 100 and then one
    // at 250 are heard.
    let mut h = Harness::single(instance("vi", 7, 200, 3, false), env(false, 5));
    h.drain();
    h.advance(secs(5.0));
    assert_eq!(h.state(), State::Master);
    let lower = h.recv_advert(false, 9, &peer_advert(3, false, 7, 100));
    let split: Vec<&Action> = lower
        .iter()
        .filter(|a| matches!(a, Action::SplitBrain { .. }))
        .collect();
    assert_eq!(
        split,
        vec![&Action::SplitBrain {
            instance: 0,
            other: host(false, 9),
            other_priority: 100,
            ours: 200
        }]
    );
    // The higher master keeps its state, answers at once and announces
    // its addresses again (the other one had taken them).
    assert_eq!(h.state(), State::Master);
    assert_eq!(sends(&lower).len(), 1);
    assert_eq!(announces(&lower), 5);
    let higher = h.recv_advert(false, 9, &peer_advert(3, false, 7, 250));
    assert!(!higher
        .iter()
        .any(|a| matches!(a, Action::SplitBrain { .. })));
    // Yielding to a higher priority is how a preemption ends: counted
    // by the side that stays master, not here.
    assert_eq!(h.state(), State::Backup);
    assert_eq!(h.router.status(h.now)[0].counters.split_brain, 1);
}
