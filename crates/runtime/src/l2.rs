//! Layer 2 and the director's own small talk, sans-IO: answering ARP and
//! neighbour solicitations for the addresses xvs owns (VIPs and FullNAT
//! local addresses, which the kernel does not have), answering pings to a
//! VIP, learning neighbours from what is heard, and building the
//! gratuitous ARP / unsolicited NA sent when xvs starts serving a VIP.

use std::net::IpAddr;

use xvs_config::MacAddr;
use xvs_wire::{arp, checksum, ethernet, icmpv6, ip_proto, ipv6, ndisc, parse_frame, FrameKind};

/// Something heard on the wire that tells where an address lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heard {
    pub ip: IpAddr,
    pub mac: MacAddr,
}

/// What the control thread should do with a frame.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct L2Outcome {
    /// A frame to send back out of the same interface.
    pub reply: Option<Vec<u8>>,
    /// A neighbour binding learnt from the frame.
    pub heard: Option<Heard>,
}

/// How xvs answers for one of its addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The MAC ARP/ND replies give (the interface's, or a VRRP virtual MAC).
    pub mac: MacAddr,
    /// Whether pings to it are answered (VRRP `accept: false`: not).
    pub echo: bool,
}

/// Handle one frame punted by a worker or heard by the control socket.
/// `owned` says whether xvs answers for an address, and how.
pub fn handle_frame(frame: &[u8], owned: &dyn Fn(IpAddr) -> Option<Answer>) -> L2Outcome {
    let Ok(info) = parse_frame(frame) else {
        return L2Outcome::default();
    };
    match info.kind {
        FrameKind::Arp => handle_arp(frame, info.l3_offset, info.vlan, owned),
        FrameKind::Ipv6 if info.protocol == ip_proto::ICMPV6 => handle_icmpv6(frame, &info, owned),
        FrameKind::Ipv4 if info.protocol == ip_proto::ICMP => L2Outcome {
            reply: echo_reply_v4(frame, &info, owned),
            heard: None,
        },
        _ => L2Outcome::default(),
    }
}

fn handle_arp(
    frame: &[u8],
    l3: usize,
    vlan: Option<u16>,
    owned: &dyn Fn(IpAddr) -> Option<Answer>,
) -> L2Outcome {
    let Ok(p) = arp::Packet::new_checked(&frame[l3..]) else {
        return L2Outcome::default();
    };
    let sender = p.sender_ip();
    let heard = (!sender.is_unspecified()).then_some(Heard {
        ip: sender.into(),
        mac: p.sender_mac(),
    });
    let mut out = L2Outcome { reply: None, heard };
    let answer = owned(p.target_ip().into()).map(|a| a.mac);
    if let (arp::Operation::Request, Some(our_mac), false) =
        (p.operation(), answer, sender.is_unspecified())
    {
        let mut buf = vec![0u8; 64];
        if let Ok(n) = arp::build_reply(
            &mut buf,
            vlan,
            our_mac,
            p.target_ip(),
            p.sender_mac(),
            sender,
        ) {
            buf.truncate(n);
            out.reply = Some(buf);
        }
    }
    out
}

fn handle_icmpv6(
    frame: &[u8],
    info: &xvs_wire::FrameInfo,
    owned: &dyn Fn(IpAddr) -> Option<Answer>,
) -> L2Outcome {
    let Some(ip_bytes) = frame.get(info.l3_offset..info.ip_end()) else {
        return L2Outcome::default();
    };
    let Ok(ip) = ipv6::Packet::new_checked(ip_bytes) else {
        return L2Outcome::default();
    };
    let icmp = &frame[info.l4_offset..info.ip_end()];
    match icmp.first() {
        Some(&icmpv6::msg_type::NEIGHBOR_SOLICIT) => {
            let Ok(ns) = ndisc::parse_solicit(&ip, icmp) else {
                return L2Outcome::default();
            };
            let src = ip.src();
            let heard = ns.source_mac.map(|mac| Heard {
                ip: src.into(),
                mac,
            });
            let mut out = L2Outcome { reply: None, heard };
            if let Some(Answer { mac: our_mac, .. }) = owned(ns.target.into()) {
                let to_mac = ns
                    .source_mac
                    .unwrap_or_else(|| frame[6..12].try_into().unwrap_or([0; 6]));
                let mut buf = vec![0u8; 128];
                if let Ok(n) = ndisc::build_solicited_advert(
                    &mut buf, info.vlan, our_mac, false, src, to_mac, ns.target,
                ) {
                    buf.truncate(n);
                    out.reply = Some(buf);
                }
            }
            out
        }
        Some(&icmpv6::msg_type::NEIGHBOR_ADVERT) => {
            let Ok(na) = ndisc::parse_advert(&ip, icmp) else {
                return L2Outcome::default();
            };
            L2Outcome {
                reply: None,
                heard: na.target_mac.map(|mac| Heard {
                    ip: na.target.into(),
                    mac,
                }),
            }
        }
        Some(&icmpv6::msg_type::ECHO_REQUEST) => L2Outcome {
            reply: owned(ip.dst().into())
                .filter(|a| a.echo)
                .and_then(|a| echo_reply_v6(frame, info, a.mac)),
            heard: None,
        },
        _ => L2Outcome::default(),
    }
}

/// Answer an ICMP echo request to an owned address (ping a VIP).
fn echo_reply_v4(
    frame: &[u8],
    info: &xvs_wire::FrameInfo,
    owned: &dyn Fn(IpAddr) -> Option<Answer>,
) -> Option<Vec<u8>> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (info.src, info.dst) else {
        return None;
    };
    let our_mac = owned(dst.into()).filter(|a| a.echo)?.mac;
    if frame.get(info.l4_offset) != Some(&8) || info.fragment != xvs_wire::Fragment::None {
        return None;
    }
    let mut out = frame[..info.ip_end()].to_vec();
    swap_macs(&mut out, our_mac);
    let ip = &mut out[info.l3_offset..];
    ip[12..16].copy_from_slice(&dst.octets());
    ip[16..20].copy_from_slice(&src.octets());
    ip[8] = 64;
    ip[10..12].fill(0);
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let hc = checksum::checksum(&ip[..ihl]);
    ip[10..12].copy_from_slice(&hc.to_be_bytes());
    let icmp = &mut out[info.l4_offset..];
    icmp[0] = 0; // echo reply
    icmp[2..4].fill(0);
    let c = checksum::checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(out)
}

fn echo_reply_v6(frame: &[u8], info: &xvs_wire::FrameInfo, our_mac: MacAddr) -> Option<Vec<u8>> {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (info.src, info.dst) else {
        return None;
    };
    let mut out = frame[..info.ip_end()].to_vec();
    swap_macs(&mut out, our_mac);
    let ip = &mut out[info.l3_offset..];
    ip[8..24].copy_from_slice(&dst.octets());
    ip[24..40].copy_from_slice(&src.octets());
    ip[7] = 64;
    let icmp = &mut out[info.l4_offset..];
    icmp[0] = icmpv6::msg_type::ECHO_REPLY;
    icmp[2..4].fill(0);
    icmpv6::Packet::new_checked(icmp)
        .ok()?
        .fill_checksum(&dst, &src);
    Some(out)
}

fn swap_macs(frame: &mut [u8], our_mac: MacAddr) {
    let peer: [u8; 6] = frame[6..12].try_into().unwrap_or([0; 6]);
    frame[..6].copy_from_slice(&peer);
    frame[6..12].copy_from_slice(&our_mac);
}

/// The announcement sent when xvs starts serving `ip` on an interface:
/// gratuitous ARP (IPv4) or an unsolicited neighbour advertisement with
/// the override flag (IPv6, RFC 4861 §7.2.6).
pub fn announce(our_mac: MacAddr, ip: IpAddr) -> Option<Vec<u8>> {
    announce_as(our_mac, ip, false)
}

/// [`announce`], as a router (the NA's router flag set) when `router`:
/// what a VRRP master sends for its IPv6 addresses (RFC 5798 §6.4.2).
pub fn announce_as(our_mac: MacAddr, ip: IpAddr, router: bool) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 128];
    let n = match ip {
        IpAddr::V4(v4) => arp::build_gratuitous(&mut buf, None, our_mac, v4).ok()?,
        IpAddr::V6(v6) => {
            ndisc::build_unsolicited_advert(&mut buf, None, our_mac, v6, router).ok()?
        }
    };
    buf.truncate(n);
    Some(buf)
}

/// A probe for `target`, sent from `source` (our address on that interface).
pub fn probe(our_mac: MacAddr, source: IpAddr, target: IpAddr) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 128];
    let n = match (source, target) {
        (IpAddr::V4(s), IpAddr::V4(t)) => arp::build_request(&mut buf, None, our_mac, s, t).ok()?,
        (IpAddr::V6(s), IpAddr::V6(t)) => {
            ndisc::build_solicit(&mut buf, None, our_mac, s, t).ok()?
        }
        _ => return None,
    };
    buf.truncate(n);
    Some(buf)
}

/// The MAC in `frame`'s Ethernet source field.
pub fn source_mac(frame: &[u8]) -> Option<MacAddr> {
    let eth = ethernet::Packet::new_checked(frame).ok()?;
    Some(eth.source())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const OURS: MacAddr = [2, 0, 0, 0, 0, 1];
    const PEER: MacAddr = [2, 0, 0, 0, 0, 2];

    fn vip(ip: IpAddr) -> Option<Answer> {
        (ip == IpAddr::V4(Ipv4Addr::new(198, 18, 0, 100))
            || ip == "fd00:0:0:1::100".parse::<IpAddr>().unwrap())
        .then_some(Answer {
            mac: OURS,
            echo: true,
        })
    }

    /// An ARP request from the peer 198.18.0.10 for `target`.
    fn arp_request(target: Ipv4Addr) -> Vec<u8> {
        let mut req = vec![0u8; 64];
        let n = arp::build_request(&mut req, None, PEER, Ipv4Addr::new(198, 18, 0, 10), target)
            .unwrap();
        req.truncate(n);
        req
    }

    #[test]
    fn answers_arp_for_owned_addresses_only_and_learns_the_sender() {
        let req = arp_request(Ipv4Addr::new(198, 18, 0, 100));
        let out = handle_frame(&req, &vip);
        let reply = out.reply.expect("reply for the VIP");
        let p = arp::Packet::new_checked(&reply[14..]).unwrap();
        assert_eq!(p.operation(), arp::Operation::Reply);
        assert_eq!(
            (p.sender_mac(), p.sender_ip()),
            (OURS, Ipv4Addr::new(198, 18, 0, 100))
        );
        assert_eq!(
            (p.target_mac(), p.target_ip()),
            (PEER, Ipv4Addr::new(198, 18, 0, 10))
        );
        assert_eq!(&reply[..6], &PEER);
        assert_eq!(
            out.heard,
            Some(Heard {
                ip: Ipv4Addr::new(198, 18, 0, 10).into(),
                mac: PEER
            })
        );

        let req = arp_request(Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(
            handle_frame(&req, &vip).reply,
            None,
            "not ours: the kernel answers"
        );
    }

    #[test]
    fn answers_neighbour_solicitation_for_a_vip() {
        let target: Ipv6Addr = "fd00:0:0:1::100".parse().unwrap();
        let from: Ipv6Addr = "fd00:0:0:1::10".parse().unwrap();
        let mut ns = vec![0u8; 128];
        let n = ndisc::build_solicit(&mut ns, None, PEER, from, target).unwrap();
        let out = handle_frame(&ns[..n], &vip);
        let reply = out.reply.expect("NA");
        let info = parse_frame(&reply).unwrap();
        let ip = ipv6::Packet::new_checked(&reply[info.l3_offset..info.ip_end()]).unwrap();
        let na = ndisc::parse_advert(&ip, &reply[info.l4_offset..info.ip_end()]).unwrap();
        assert_eq!(
            (na.target, na.target_mac, na.solicited),
            (target, Some(OURS), true)
        );
        assert_eq!(
            out.heard,
            Some(Heard {
                ip: from.into(),
                mac: PEER
            })
        );
    }

    #[test]
    fn answers_ping_to_a_vip_with_valid_checksums() {
        let mut ping = Vec::new();
        etherparse::PacketBuilder::ethernet2(PEER, OURS)
            .ipv4([198, 18, 0, 10], [198, 18, 0, 100], 64)
            .icmpv4_echo_request(7, 1)
            .write(&mut ping, b"abc")
            .unwrap();
        let reply = handle_frame(&ping, &vip).reply.expect("echo reply");
        let p = etherparse::SlicedPacket::from_ethernet(&reply).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
            panic!()
        };
        assert_eq!(ip.header().source(), [198, 18, 0, 100]);
        assert_eq!(
            ip.header().to_header().calc_header_checksum(),
            ip.header().header_checksum()
        );
        let Some(etherparse::TransportSlice::Icmpv4(icmp)) = p.transport else {
            panic!()
        };
        assert!(matches!(
            icmp.icmp_type(),
            etherparse::Icmpv4Type::EchoReply(_)
        ));
        assert_eq!(
            icmp.icmp_type().calc_checksum(icmp.payload()),
            icmp.checksum()
        );
    }

    #[test]
    fn no_echo_means_no_ping_reply_but_arp_still_answered() {
        let quiet = |ip: IpAddr| vip(ip).map(|a| Answer { echo: false, ..a });
        let mut ping = Vec::new();
        etherparse::PacketBuilder::ethernet2(PEER, OURS)
            .ipv4([198, 18, 0, 10], [198, 18, 0, 100], 64)
            .icmpv4_echo_request(7, 1)
            .write(&mut ping, b"abc")
            .unwrap();
        assert_eq!(handle_frame(&ping, &quiet).reply, None);
        let req = arp_request(Ipv4Addr::new(198, 18, 0, 100));
        assert!(handle_frame(&req, &quiet).reply.is_some());
    }

    #[test]
    fn announcements_are_gratuitous() {
        let g = announce(OURS, Ipv4Addr::new(198, 18, 0, 100).into()).unwrap();
        let p = arp::Packet::new_checked(&g[14..]).unwrap();
        assert_eq!(p.sender_ip(), p.target_ip());
        assert_eq!(&g[..6], &[0xff; 6]);
        assert!(announce(OURS, "fd00:0:0:1::100".parse().unwrap()).is_some());
        assert!(probe(
            OURS,
            Ipv4Addr::new(198, 18, 1, 1).into(),
            Ipv4Addr::new(198, 18, 1, 11).into()
        )
        .is_some());
    }
}
