//! Receive checks (keepalived `vrrp_check_packet` order): every
//! rejection reason counted once, and a rejected advert changes nothing.

mod common;

use common::*;
use xvs_vrrp::{Reject, State};
use xvs_wire::vrrp::{ChecksumKind, AUTH_PASS};

/// A backup of priority 100 at host 5, 1 s after start-up.
fn backup(cfg: xvs_config::VrrpInstance, ipv6: bool) -> Harness {
    let mut h = Harness::single(cfg, env(ipv6, 5));
    h.drain();
    h.advance(secs(1.0));
    h
}

/// Delivers `frame`, asserts it was rejected for `why` alone and changed
/// nothing.
fn assert_rejected(h: &mut Harness, frame: &[u8], why: Reject) {
    let before = h.router.status(h.now);
    let timer = h.router.poll_timeout();
    let acts = h.recv(frame);
    assert!(acts.is_empty(), "{why:?}: {acts:?}");
    assert_eq!(h.router.poll_timeout(), timer, "{why:?}: timer moved");
    let after = h.router.status(h.now);
    assert_eq!(after[0].master, before[0].master, "{why:?}");
    assert_eq!(
        after[0].counters.adverts_received,
        before[0].counters.adverts_received
    );
    for r in Reject::ALL {
        let d = h.rejected(0, r.name())
            - before[0]
                .counters
                .rejected
                .iter()
                .find(|(n, _)| n == r.name())
                .unwrap()
                .1;
        assert_eq!(d, u64::from(r == why), "{why:?}: counter {}", r.name());
    }
}

#[test]
fn rejected_names_follow_reject_all() {
    let h = backup(instance("vi", 7, 100, 2, false), false);
    let names: Vec<String> = h.router.status(h.now)[0]
        .counters
        .rejected
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    let want: Vec<String> = Reject::ALL.iter().map(|r| r.name().to_string()).collect();
    assert_eq!(names, want);
}

#[test]
fn ttl_must_be_255_for_multicast_only() {
    for (version, ipv6) in [(2, false), (3, false), (3, true)] {
        let mut h = backup(instance("vi", 7, 100, version, ipv6), ipv6);
        let a = peer_advert(version, ipv6, 7, 200);
        let f = frame(host(ipv6, 9), group_addr(ipv6), &a, kind_for(version));
        assert_rejected(&mut h, &with_ttl(f, 64), Reject::Ttl);
    }
    // keepalived does not check the TTL of unicast adverts.
    let mut cfg = instance("vi", 7, 100, 2, false);
    cfg.unicast_peers = vec![host(false, 9)];
    let mut h = backup(cfg, false);
    let a = peer_advert(2, false, 7, 200);
    let f = frame(
        host(false, 9),
        host(false, 5),
        &a,
        ChecksumKind::MessageOnly,
    );
    h.recv(&with_ttl(f, 1));
    assert_eq!(h.router.status(h.now)[0].counters.adverts_received, 1);
}

#[test]
fn malformed_messages() {
    let mut h = backup(instance("vi", 7, 100, 2, false), false);
    let a = peer_advert(2, false, 7, 200);
    let good = frame(
        host(false, 9),
        group_addr(false),
        &a,
        ChecksumKind::MessageOnly,
    );
    let vrrp = 14 + 20;
    // Type 2.
    let mut f = good.clone();
    f[vrrp] = 0x22;
    assert_rejected(&mut h, &f, Reject::Malformed);
    // The count claims two addresses.
    let mut f = good.clone();
    f[vrrp + 3] = 2;
    assert_rejected(&mut h, &f, Reject::Malformed);
    // Version 5.
    let mut f = good;
    f[vrrp] = 0x51;
    assert_rejected(&mut h, &f, Reject::Malformed);
}

#[test]
fn checksum_convention_per_instance() {
    // (version, ipv6, instance convention, sent with, accepted)
    use xvs_config::V3Checksum::{MessageOnly as CfgMsg, PseudoHeader as CfgPseudo};
    use ChecksumKind::{MessageOnly, PseudoHeader};
    for (version, ipv6, conv, sent, ok) in [
        (2, false, CfgPseudo, MessageOnly, true),
        (2, false, CfgPseudo, PseudoHeader, false),
        (3, false, CfgPseudo, PseudoHeader, true),
        (3, false, CfgPseudo, MessageOnly, false),
        (3, false, CfgMsg, MessageOnly, true),
        (3, false, CfgMsg, PseudoHeader, false),
        (3, true, CfgMsg, PseudoHeader, true),
        (3, true, CfgPseudo, MessageOnly, false),
    ] {
        let mut cfg = instance("vi", 7, 100, version, ipv6);
        cfg.v3_checksum = conv;
        let mut h = backup(cfg, ipv6);
        let a = peer_advert(version, ipv6, 7, 200);
        let f = frame(host(ipv6, 9), group_addr(ipv6), &a, sent);
        if ok {
            h.recv(&f);
            assert_eq!(h.router.status(h.now)[0].counters.adverts_received, 1);
        } else {
            assert_rejected(&mut h, &f, Reject::Checksum);
        }
    }
    // A corrupted checksum.
    let mut h = backup(instance("vi", 7, 100, 2, false), false);
    let a = peer_advert(2, false, 7, 200);
    let mut f = frame(
        host(false, 9),
        group_addr(false),
        &a,
        ChecksumKind::MessageOnly,
    );
    f[14 + 20 + 6] ^= 0xff;
    assert_rejected(&mut h, &f, Reject::Checksum);
}

#[test]
fn unknown_vrid_interface_or_family_is_unmatched() {
    let mut h = backup(instance("vi", 7, 100, 3, false), false);
    let a = peer_advert(3, false, 8, 200);
    h.recv(&frame(
        host(false, 9),
        group_addr(false),
        &a,
        ChecksumKind::PseudoHeader,
    ));
    let a = peer_advert(3, false, 7, 200);
    let f = frame(
        host(false, 9),
        group_addr(false),
        &a,
        ChecksumKind::PseudoHeader,
    );
    h.router.handle_frame("eth1", &f, h.now);
    let a = peer_advert(3, true, 7, 200);
    h.recv(&frame(
        host(true, 9),
        group_addr(true),
        &a,
        ChecksumKind::PseudoHeader,
    ));
    assert_eq!(h.router.unmatched(), 3);
    assert_eq!(h.router.status(h.now)[0].counters.adverts_received, 0);
    assert_eq!(h.rejected(0, "unknown_vrid"), 0);
    // Not VRRP at all.
    h.recv(&[0u8; 10]);
    h.recv(&[]);
    assert_eq!(h.router.undecodable(), 2);
    assert!(h.drain().is_empty());
}

#[test]
fn version_must_match() {
    let mut h = backup(instance("vi", 7, 100, 2, false), false);
    let a = peer_advert(3, false, 7, 200);
    let f = frame(
        host(false, 9),
        group_addr(false),
        &a,
        ChecksumKind::PseudoHeader,
    );
    assert_rejected(&mut h, &f, Reject::VersionMismatch);
    let mut h = backup(instance("vi", 7, 100, 3, false), false);
    let a = peer_advert(2, false, 7, 200);
    let f = frame(
        host(false, 9),
        group_addr(false),
        &a,
        ChecksumKind::MessageOnly,
    );
    assert_rejected(&mut h, &f, Reject::VersionMismatch);
}

#[test]
fn v2_authentication() {
    let mut cfg = instance("vi", 7, 100, 2, false);
    cfg.auth_pass = Some("pw".into());
    let mut h = backup(cfg, false);
    let send = |auth_type: u8, data: &[u8; 8]| {
        let mut a = peer_advert(2, false, 7, 200);
        a.auth_type = auth_type;
        a.auth_data = *data;
        frame(
            host(false, 9),
            group_addr(false),
            &a,
            ChecksumKind::MessageOnly,
        )
    };
    let f = send(0, &[0; 8]);
    assert_rejected(&mut h, &f, Reject::Auth);
    let f = send(AUTH_PASS, b"px\0\0\0\0\0\0");
    assert_rejected(&mut h, &f, Reject::Auth);
    // Not NUL-padded.
    let f = send(AUTH_PASS, b"pw\0\0\0\0\0x");
    assert_rejected(&mut h, &f, Reject::Auth);
    let f = send(AUTH_PASS, b"pw\0\0\0\0\0\0");
    h.recv(&f);
    assert_eq!(h.router.status(h.now)[0].counters.adverts_received, 1);
    // No password configured: a PASS advert is an auth type mismatch.
    let mut h = backup(instance("vi", 7, 100, 2, false), false);
    let f = send(AUTH_PASS, b"pw\0\0\0\0\0\0");
    assert_rejected(&mut h, &f, Reject::Auth);
}

#[test]
fn v2_interval_must_match() {
    let mut h = backup(instance("vi", 7, 100, 2, false), false);
    let a = advert(2, 7, 200, 3, vec![vip(false, 0)]);
    let f = frame(
        host(false, 9),
        group_addr(false),
        &a,
        ChecksumKind::MessageOnly,
    );
    assert_rejected(&mut h, &f, Reject::Interval);
}

#[test]
fn address_list_mismatch_is_counted_but_accepted() {
    for (version, ipv6) in [(2, false), (3, true)] {
        let mut h = backup(instance("vi", 7, 100, version, ipv6), ipv6);
        let interval = if version == 2 { 1 } else { 100 };
        // Another count.
        let a = advert(version, 7, 200, interval, vec![vip(ipv6, 0), vip(ipv6, 1)]);
        h.recv_advert(ipv6, 9, &a);
        // Same count, another address.
        let a = advert(version, 7, 200, interval, vec![vip(ipv6, 1)]);
        h.recv_advert(ipv6, 9, &a);
        let st = &h.router.status(h.now)[0];
        assert_eq!(st.counters.adverts_received, 2);
        assert_eq!(st.master, Some(host(ipv6, 9)));
        assert_eq!(h.rejected(0, "address_list"), 2);
        // The same list in another order is no mismatch.
        let mut cfg = instance("vi", 7, 100, version, ipv6);
        cfg.virtual_addresses.push(xvs_config::IpNet {
            addr: vip(ipv6, 1),
            prefix: 32,
        });
        let mut h = backup(cfg, ipv6);
        h.recv_advert(
            ipv6,
            9,
            &advert(version, 7, 200, interval, vec![vip(ipv6, 1), vip(ipv6, 0)]),
        );
        assert_eq!(h.rejected(0, "address_list"), 0);
    }
}

#[test]
fn unicast_source_must_be_a_peer() {
    for ipv6 in [false, true] {
        let mut cfg = instance("vi", 7, 100, 3, ipv6);
        cfg.unicast_peers = vec![host(ipv6, 9)];
        let mut h = backup(cfg, ipv6);
        let a = peer_advert(3, ipv6, 7, 200);
        let f = frame(host(ipv6, 8), host(ipv6, 5), &a, ChecksumKind::PseudoHeader);
        assert_rejected(&mut h, &f, Reject::NotPeer);
        // A peer, but multicast: the instance is unicast.
        let f = frame(
            host(ipv6, 9),
            group_addr(ipv6),
            &a,
            ChecksumKind::PseudoHeader,
        );
        assert_rejected(&mut h, &f, Reject::NotPeer);
        let f = frame(host(ipv6, 9), host(ipv6, 5), &a, ChecksumKind::PseudoHeader);
        h.recv(&f);
        assert_eq!(h.router.status(h.now)[0].counters.adverts_received, 1);
    }
    // A multicast instance does not take unicast adverts.
    let mut h = backup(instance("vi", 7, 100, 2, false), false);
    let a = peer_advert(2, false, 7, 200);
    let f = frame(
        host(false, 9),
        host(false, 5),
        &a,
        ChecksumKind::MessageOnly,
    );
    assert_rejected(&mut h, &f, Reject::NotPeer);
}

#[test]
fn own_adverts_looped_back() {
    for (version, ipv6) in [(2, false), (3, true)] {
        let mut h = backup(instance("vi", 7, 100, version, ipv6), ipv6);
        let a = peer_advert(version, ipv6, 7, 100);
        let f = frame(host(ipv6, 5), group_addr(ipv6), &a, kind_for(version));
        assert_rejected(&mut h, &f, Reject::Own);
    }
}

#[test]
fn fault_and_init_ignore_everything_uncounted() {
    let mut e = env(false, 5);
    e.up = false;
    let mut h = Harness::single(instance("vi", 7, 100, 2, false), e);
    h.drain();
    assert_eq!(h.state(), State::Fault);
    h.recv_advert(false, 9, &peer_advert(2, false, 7, 200));
    let f = with_ttl(
        frame(
            host(false, 9),
            group_addr(false),
            &peer_advert(2, false, 7, 200),
            ChecksumKind::MessageOnly,
        ),
        1,
    );
    h.recv(&f);
    let st = &h.router.status(h.now)[0];
    assert_eq!(st.counters.adverts_received, 0);
    assert!(st.counters.rejected.iter().all(|(_, n)| *n == 0));
}
