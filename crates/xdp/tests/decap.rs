//! `xvs decap` end to end (root; skips loudly otherwise): namespace `a`
//! plays the TUN-mode director and sends real IPIP (IPv4 in IPv4) and 6in6
//! packets through a raw socket; namespace `b` is the real server, with
//! the VIPs on `lo`, the decap program on its veth and UDP sockets bound
//! to VIP:port. This kernel has no ipip/ip6_tunnel module, so without the
//! program those packets would never reach the sockets.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::{Pair, A4, A6, B4, B6};
use etherparse::{IpNumber, PacketBuilder};
use nix::sys::socket::{
    sendto, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn,
    SockaddrIn6,
};
use xvs_xdp::{AttachMode, Decap};

const VIP4: &str = "198.18.0.100";
const VIP6: &str = "fd00::100";
const PORT: u16 = 5000;
const WAIT: Duration = Duration::from_secs(10);

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// An inner UDP packet (with its IP header) from the client `a` to `dst`.
fn inner_udp(dst: IpAddr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    match dst {
        IpAddr::V4(d) => PacketBuilder::ipv4(v4(A4).octets(), d.octets(), 64)
            .udp(40000, dport)
            .write(&mut v, payload),
        IpAddr::V6(d) => PacketBuilder::ipv6(v6(A6).octets(), d.octets(), 64)
            .udp(40000, dport)
            .write(&mut v, payload),
    }
    .unwrap();
    v
}

/// Sends `inner` from `a` to `b` inside an outer IP header of the same
/// family, through a raw IPPROTO_RAW socket (the whole outer header is
/// ours: IPv4 protocol 4, IPv6 next header 41).
fn send_tunnelled(pair: &Pair, inner: &[u8], six: bool) {
    let mut outer = Vec::new();
    if six {
        PacketBuilder::ipv6(v6(A6).octets(), v6(B6).octets(), 64)
            .write(&mut outer, IpNumber(41), inner)
            .unwrap();
    } else {
        PacketBuilder::ipv4(v4(A4).octets(), v4(B4).octets(), 64)
            .write(&mut outer, IpNumber(4), inner)
            .unwrap();
    }
    pair.run_in(&pair.a, || {
        let family = if six {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let fd = socket(
            family,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::Raw,
        )
        .expect("raw socket");
        let sent = if six {
            let to = SockaddrIn6::from(std::net::SocketAddrV6::new(v6(B6), 0, 0, 0));
            sendto(fd.as_raw_fd(), &outer, &to, MsgFlags::empty())
        } else {
            let to = SockaddrIn::from(std::net::SocketAddrV4::new(v4(B4), 0));
            sendto(fd.as_raw_fd(), &outer, &to, MsgFlags::empty())
        };
        assert_eq!(sent.expect("send the tunnelled packet"), outer.len());
    });
}

/// Receives one datagram: (payload, source).
fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = sock
        .recv_from(&mut buf)
        .expect("a datagram within the read timeout");
    (buf[..n].to_vec(), from)
}

fn bind_in(pair: &Pair, addr: SocketAddr) -> UdpSocket {
    let sock = pair.run_in(&pair.b, || UdpSocket::bind(addr).unwrap());
    // A safety net against hanging: the assertion is on what arrives.
    sock.set_read_timeout(Some(WAIT)).unwrap();
    sock
}

#[test]
fn decapsulates_ipip_and_6in6_for_vips_only() {
    let test = "decapsulates_ipip_and_6in6_for_vips_only";
    let Some(pair) = Pair::new(test) else { return };
    pair.ip(
        &pair.b,
        &["addr", "add", &format!("{VIP4}/32"), "dev", "lo"],
    );
    pair.ip(
        &pair.b,
        &["addr", "add", &format!("{VIP6}/128"), "dev", "lo", "nodad"],
    );

    let vips: Vec<IpAddr> = vec![VIP4.parse().unwrap(), VIP6.parse().unwrap()];
    let decap = pair
        .run_in(&pair.b, || {
            Decap::attach(&pair.if_b, &vips, AttachMode::Native)
        })
        .unwrap_or_else(|e| panic!("attach decap: {e}"));
    assert!(pair.has_xdp(&pair.b, &pair.if_b));

    let vip4_sock = bind_in(&pair, SocketAddr::new(VIP4.parse().unwrap(), PORT));
    let vip6_sock = bind_in(&pair, SocketAddr::new(VIP6.parse().unwrap(), PORT));
    // The real server's own address, to show a non-VIP inner destination
    // is left alone.
    let own4_sock = bind_in(&pair, SocketAddr::new(B4.parse().unwrap(), PORT));
    let own6_sock = bind_in(&pair, SocketAddr::new(B6.parse().unwrap(), PORT));

    send_tunnelled(
        &pair,
        &inner_udp(VIP4.parse().unwrap(), PORT, b"via ipip"),
        false,
    );
    let (payload, from) = recv(&vip4_sock);
    assert_eq!(payload, b"via ipip");
    assert_eq!(
        from,
        SocketAddr::new(A4.parse().unwrap(), 40000),
        "the client's address"
    );

    send_tunnelled(
        &pair,
        &inner_udp(VIP6.parse().unwrap(), PORT, b"via 6in6"),
        true,
    );
    let (payload, from) = recv(&vip6_sock);
    assert_eq!(payload, b"via 6in6");
    assert_eq!(from, SocketAddr::new(A6.parse().unwrap(), 40000));

    // Tunnelled packets for a non-VIP pass untouched, so the stack sees
    // protocol 4 / next header 41 and (no tunnel module) drops them. The
    // plain datagram sent right after on the same path arrives first at
    // the socket the decapsulated packet would have reached: proof, by
    // order rather than by waiting, that the tunnelled one did not.
    send_tunnelled(
        &pair,
        &inner_udp(B4.parse().unwrap(), PORT, b"must not arrive"),
        false,
    );
    send_tunnelled(
        &pair,
        &inner_udp(B6.parse().unwrap(), PORT, b"must not arrive"),
        true,
    );
    pair.run_in(&pair.a, || {
        let s4 = UdpSocket::bind("0.0.0.0:0").unwrap();
        s4.send_to(b"plain marker", (B4, PORT)).unwrap();
        let s6 = UdpSocket::bind("[::]:0").unwrap();
        s6.send_to(b"plain marker", (B6, PORT)).unwrap();
    });
    assert_eq!(recv(&own4_sock).0, b"plain marker");
    assert_eq!(recv(&own6_sock).0, b"plain marker");

    let c = decap.counters().unwrap();
    assert_eq!(c.decapsulated, 2, "{c:?}");
    assert!(
        c.passed >= 4,
        "two non-VIP tunnels and two markers passed: {c:?}"
    );

    drop(decap);
    assert!(
        !pair.has_xdp(&pair.b, &pair.if_b),
        "drop detaches the program"
    );
}
