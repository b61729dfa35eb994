//! PING_CHECK over raw sockets to 127.0.0.1 and ::1. Raw ICMP needs root
//! (or CAP_NET_RAW): without it these tests say SKIP loudly, unless
//! XVS_LAB_REQUIRED=1 asks for them to run, where they fail instead.

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use common::*;
use xvs_probe::ProbeKind;

/// Whether raw ICMP sockets can be opened here; prints the SKIP line when
/// not.
fn raw_sockets_allowed(test: &str) -> bool {
    let allowed = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Raw,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        nix::sys::socket::SockProtocol::Icmp,
    )
    .is_ok();
    if !allowed {
        if std::env::var("XVS_LAB_REQUIRED").as_deref() == Ok("1") {
            panic!("{test}: needs root for raw ICMP sockets, and XVS_LAB_REQUIRED=1");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIP {test}: needs root for raw ICMP sockets"
        );
    }
    allowed
}

fn ping(target: &str) -> ProbeKind {
    ProbeKind::Icmp {
        target: target.parse().unwrap(),
        bind: None,
    }
}

fn has_ipv6_loopback() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

#[test]
fn ping_ipv4_loopback_passes() {
    if !raw_sockets_allowed("ping_ipv4_loopback_passes") {
        return;
    }
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(5), ping("127.0.0.1")),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn ping_ipv6_loopback_passes() {
    if !raw_sockets_allowed("ping_ipv6_loopback_passes") {
        return;
    }
    if !has_ipv6_loopback() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIP ping_ipv6_loopback_passes: no ::1 on this host"
        );
        return;
    }
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(5), ping("::1")));
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn many_pings_share_the_socket_and_each_gets_its_own_reply() {
    if !raw_sockets_allowed("many_pings_share_the_socket_and_each_gets_its_own_reply") {
        return;
    }
    let mut prober = prober();
    let targets = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"];
    let mut expected = 0;
    for (id, target) in targets.iter().enumerate() {
        let addr: IpAddr = target.parse().unwrap();
        if addr.is_ipv6() && !has_ipv6_loopback() {
            continue;
        }
        expected += 1;
        prober.start(id as u64, probe(Duration::from_secs(5), ping(target)));
        prober.start(100 + id as u64, probe(Duration::from_secs(5), ping(target)));
    }
    let done = run(&mut prober, expected * 2, Duration::from_secs(30));
    assert!(done.iter().all(|f| f.outcome.is_pass()), "{done:?}");
}

#[test]
fn a_ping_bound_to_an_address_not_ours_fails_the_bind() {
    if !raw_sockets_allowed("a_ping_bound_to_an_address_not_ours_fails_the_bind") {
        return;
    }
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ProbeKind::Icmp {
                target: "127.0.0.1".parse().unwrap(),
                bind: Some("192.0.2.1".parse().unwrap()),
            },
        ),
    );
    assert!(reason(&done).starts_with("bind to 192.0.2.1: "), "{done:?}");
}

#[test]
fn a_ping_from_loopback_passes() {
    if !raw_sockets_allowed("a_ping_from_loopback_passes") {
        return;
    }
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ProbeKind::Icmp {
                target: "127.0.0.1".parse().unwrap(),
                bind: Some("127.0.0.1".parse().unwrap()),
            },
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}
