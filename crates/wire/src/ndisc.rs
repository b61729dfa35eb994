//! Neighbour Discovery for IPv6 (RFC 4861): Neighbour Solicitation (§4.3)
//! and Advertisement (§4.4) views, their validation (§7.1.1, §7.1.2), the
//! source/target link-layer address options (§4.6.1), and whole-frame
//! builders for the NS a director sends to resolve a real server and the
//! solicited and unsolicited NAs it sends for the VIPs it owns (§7.2.4,
//! §7.2.6; the latter after a VRRP takeover, RFC 5798 §6.4.2).

use std::net::Ipv6Addr;

use crate::ethernet::{self, MacAddr};
use crate::icmpv6::{self, msg_type};
use crate::{ip_proto, ipv6, WireError};

/// NS and NA: ICMPv6 header, 4 bytes reserved/flags, 16-byte target.
pub const MESSAGE_LEN: usize = 24;
/// One Ethernet link-layer address option (type, length 1, 6-byte MAC).
pub const LINK_OPTION_LEN: usize = 8;
/// RFC 4861 §7.1: ND messages must arrive with hop limit 255 (proof that
/// they were not forwarded by a router).
pub const HOP_LIMIT: u8 = 255;

pub mod option_type {
    pub const SOURCE_LINK_ADDR: u8 = 1;
    pub const TARGET_LINK_ADDR: u8 = 2;
}

pub mod field {
    //! Byte ranges of NS/NA messages.
    use core::ops::Range;
    /// NA flags R, S, O in the high bits of byte 4.
    pub const FLAGS: usize = 4;
    pub const TARGET: Range<usize> = 8..24;
    pub const OPTIONS: usize = 24;
}

/// Neighbour Advertisement flags (RFC 4861 §4.4).
pub mod na_flags {
    pub const ROUTER: u8 = 0x80;
    pub const SOLICITED: u8 = 0x40;
    pub const OVERRIDE: u8 = 0x20;
}

/// ff02::1, all nodes.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Solicited-node multicast address of `addr` (RFC 4291 §2.7.1):
/// ff02::1:ff00:0/104 followed by the low 24 bits of the address.
pub fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// Ethernet multicast MAC for an IPv6 multicast address (RFC 2464 §7):
/// 33:33 followed by its low 32 bits.
pub fn multicast_mac(addr: &Ipv6Addr) -> MacAddr {
    let o = addr.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// A view of a Neighbour Solicitation or Advertisement message (the
/// ICMPv6 payload of the IPv6 packet), length and type checked.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Accepts types 135 and 136 with at least 24 bytes.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < MESSAGE_LEN
            || !matches!(b[0], msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT)
        {
            return Err(WireError::NdiscInvalid);
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        self.b()[0]
    }

    pub fn code(&self) -> u8 {
        self.b()[1]
    }

    pub fn target(&self) -> Ipv6Addr {
        ipv6::addr_at(self.b(), field::TARGET.start)
    }

    /// R/S/O bits (meaningful in advertisements).
    pub fn flags(&self) -> u8 {
        self.b()[field::FLAGS] & 0xe0
    }

    /// The link-layer address option of `kind`, if present. Options are
    /// walked to the end; a zero-length or overrunning one makes the whole
    /// message invalid (RFC 4861 §4.6).
    pub fn link_addr_option(&self, kind: u8) -> Result<Option<MacAddr>, WireError> {
        let mut opts = &self.b()[field::OPTIONS..];
        let mut found = None;
        // Each step consumes at least 8 bytes, so this terminates.
        while !opts.is_empty() {
            if opts.len() < 2 {
                return Err(WireError::NdiscInvalid);
            }
            let len = usize::from(opts[1]) * 8;
            if len == 0 || len > opts.len() {
                return Err(WireError::NdiscInvalid);
            }
            // Ethernet addresses fill one 8-byte unit (RFC 2464 §6).
            if opts[0] == kind && len == LINK_OPTION_LEN && found.is_none() {
                let mut m = [0u8; 6];
                m.copy_from_slice(&opts[2..8]);
                found = Some(m);
            }
            opts = &opts[len..];
        }
        Ok(found)
    }
}

/// A validated Neighbour Solicitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solicit {
    pub src: Ipv6Addr,
    pub target: Ipv6Addr,
    /// Source link-layer address option; absent in DAD probes.
    pub source_mac: Option<MacAddr>,
}

/// A validated Neighbour Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    pub target: Ipv6Addr,
    pub router: bool,
    pub solicited: bool,
    pub override_flag: bool,
    pub target_mac: Option<MacAddr>,
}

/// Checks what RFC 4861 §7.1.1/§7.1.2 ask of both messages: hop limit
/// 255, a verifying checksum, code 0, length, and a unicast target.
fn validate_common<'a>(
    ip: &ipv6::Packet<&'a [u8]>,
    icmp: &'a [u8],
    want_type: u8,
) -> Result<Packet<&'a [u8]>, WireError> {
    let p = Packet::new_checked(icmp)?;
    let view = icmpv6::Packet::new_checked(icmp)?;
    if p.msg_type() != want_type
        || ip.hop_limit() != HOP_LIMIT
        || p.code() != 0
        || !view.verify_checksum(&ip.src(), &ip.dst())
        || p.target().is_multicast()
    {
        return Err(WireError::NdiscInvalid);
    }
    Ok(p)
}

/// Parses and validates a Neighbour Solicitation (RFC 4861 §7.1.1). `ip`
/// is its IPv6 packet and `icmp` the ICMPv6 message inside it.
pub fn parse_solicit(ip: &ipv6::Packet<&[u8]>, icmp: &[u8]) -> Result<Solicit, WireError> {
    let p = validate_common(ip, icmp, msg_type::NEIGHBOR_SOLICIT)?;
    let source_mac = p.link_addr_option(option_type::SOURCE_LINK_ADDR)?;
    // From the unspecified address (DAD): destination must be a
    // solicited-node address and no source link-layer option is allowed.
    if ip.src().is_unspecified() {
        let dst = ip.dst().octets();
        let solicited = dst[..13] == solicited_node(&Ipv6Addr::UNSPECIFIED).octets()[..13];
        if !solicited || source_mac.is_some() {
            return Err(WireError::NdiscInvalid);
        }
    }
    Ok(Solicit {
        src: ip.src(),
        target: p.target(),
        source_mac,
    })
}

/// Parses and validates a Neighbour Advertisement (RFC 4861 §7.1.2).
pub fn parse_advert(ip: &ipv6::Packet<&[u8]>, icmp: &[u8]) -> Result<Advert, WireError> {
    let p = validate_common(ip, icmp, msg_type::NEIGHBOR_ADVERT)?;
    let flags = p.flags();
    // A multicast advertisement cannot be solicited.
    if ip.dst().is_multicast() && flags & na_flags::SOLICITED != 0 {
        return Err(WireError::NdiscInvalid);
    }
    Ok(Advert {
        target: p.target(),
        router: flags & na_flags::ROUTER != 0,
        solicited: flags & na_flags::SOLICITED != 0,
        override_flag: flags & na_flags::OVERRIDE != 0,
        target_mac: p.link_addr_option(option_type::TARGET_LINK_ADDR)?,
    })
}

/// Writes Ethernet + IPv6 (hop limit 255) + NS/NA with one link-layer
/// option, and returns the frame length.
#[allow(clippy::too_many_arguments)] // one call site per message kind, all private
fn emit_frame(
    out: &mut [u8],
    vlan: Option<u16>,
    eth_src: MacAddr,
    eth_dst: MacAddr,
    ip_src: Ipv6Addr,
    ip_dst: Ipv6Addr,
    (kind, flags): (u8, u8),
    target: Ipv6Addr,
    option: u8,
) -> Result<usize, WireError> {
    let l2 = ethernet::write_header(out, eth_dst, eth_src, vlan, ethernet::ethertype::IPV6)?;
    let icmp_len = MESSAGE_LEN + LINK_OPTION_LEN;
    let total = l2 + ipv6::HEADER_LEN + icmp_len;
    let frame = out.get_mut(..total).ok_or(WireError::BufferTooSmall)?;
    ipv6::Repr {
        src: ip_src,
        dst: ip_dst,
        next_header: ip_proto::ICMPV6,
        payload_len: icmp_len,
        hop_limit: HOP_LIMIT,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut frame[l2..])?;
    let m = &mut frame[l2 + ipv6::HEADER_LEN..];
    m[..field::TARGET.start].fill(0);
    m[0] = kind;
    m[field::FLAGS] = flags;
    m[field::TARGET].copy_from_slice(&target.octets());
    m[field::OPTIONS] = option;
    m[field::OPTIONS + 1] = 1;
    m[field::OPTIONS + 2..field::OPTIONS + 8].copy_from_slice(&eth_src);
    icmpv6::fill_checksum(m, &ip_src, &ip_dst);
    Ok(total)
}

/// A multicast Neighbour Solicitation for `target`, to its solicited-node
/// address (RFC 4861 §7.2.2), with our source link-layer address.
pub fn build_solicit(
    out: &mut [u8],
    vlan: Option<u16>,
    our_mac: MacAddr,
    our_ip: Ipv6Addr,
    target: Ipv6Addr,
) -> Result<usize, WireError> {
    let dst = solicited_node(&target);
    emit_frame(
        out,
        vlan,
        our_mac,
        multicast_mac(&dst),
        our_ip,
        dst,
        (msg_type::NEIGHBOR_SOLICIT, 0),
        target,
        option_type::SOURCE_LINK_ADDR,
    )
}

/// The Neighbour Advertisement answering a solicitation for `target`
/// (a VIP or local address we own), per RFC 4861 §7.2.4: sent from the
/// target address with Override set; unicast and Solicited to the
/// solicitor, or to all nodes without Solicited when the solicitation came
/// from the unspecified address (DAD). `solicitor_mac` is the solicitor's
/// source link-layer option, or the frame's source MAC without one.
pub fn build_solicited_advert(
    out: &mut [u8],
    vlan: Option<u16>,
    our_mac: MacAddr,
    router: bool,
    solicitor_ip: Ipv6Addr,
    solicitor_mac: MacAddr,
    target: Ipv6Addr,
) -> Result<usize, WireError> {
    let r = if router { na_flags::ROUTER } else { 0 };
    let (dst, dst_mac, flags) = if solicitor_ip.is_unspecified() {
        (ALL_NODES, multicast_mac(&ALL_NODES), r | na_flags::OVERRIDE)
    } else {
        (
            solicitor_ip,
            solicitor_mac,
            r | na_flags::SOLICITED | na_flags::OVERRIDE,
        )
    };
    emit_frame(
        out,
        vlan,
        our_mac,
        dst_mac,
        target,
        dst,
        (msg_type::NEIGHBOR_ADVERT, flags),
        target,
        option_type::TARGET_LINK_ADDR,
    )
}

/// An unsolicited Neighbour Advertisement for `addr` to all nodes, with
/// Override set and Solicited clear (RFC 4861 §7.2.6): what a new VRRP
/// master sends for each IPv6 VIP (RFC 5798 §6.4.2, Router flag set).
pub fn build_unsolicited_advert(
    out: &mut [u8],
    vlan: Option<u16>,
    our_mac: MacAddr,
    addr: Ipv6Addr,
    router: bool,
) -> Result<usize, WireError> {
    let r = if router { na_flags::ROUTER } else { 0 };
    emit_frame(
        out,
        vlan,
        our_mac,
        multicast_mac(&ALL_NODES),
        addr,
        ALL_NODES,
        (msg_type::NEIGHBOR_ADVERT, r | na_flags::OVERRIDE),
        addr,
        option_type::TARGET_LINK_ADDR,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Icmpv6Type, PacketBuilder};

    const MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x0a];
    const PEER_MAC: MacAddr = [0x02, 0, 0, 0, 0, 0x0b];
    const VIP: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0xab, 0xcdef);
    const PEER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x77);

    fn ip_and_icmp(frame: &[u8]) -> (ipv6::Packet<&[u8]>, &[u8]) {
        let ip = ipv6::Packet::new_checked(&frame[14..]).unwrap();
        let icmp = &frame[54..54 + ip.payload_len()];
        (ip, icmp)
    }

    /// The NS etherparse writes: ICMPv6 type 135 with the raw body.
    fn etherparse_ns(src: Ipv6Addr, dst: Ipv6Addr, eth_dst: MacAddr, target: Ipv6Addr) -> Vec<u8> {
        let mut body = target.octets().to_vec();
        body.extend_from_slice(&[option_type::SOURCE_LINK_ADDR, 1]);
        body.extend_from_slice(&MAC);
        let mut out = Vec::new();
        PacketBuilder::ethernet2(MAC, eth_dst)
            .ipv6(src.octets(), dst.octets(), 255)
            .icmpv6(Icmpv6Type::Unknown {
                type_u8: 135,
                code_u8: 0,
                bytes5to8: [0; 4],
            })
            .write(&mut out, &body)
            .unwrap();
        out
    }

    #[test]
    fn solicited_node_and_multicast_mac() {
        assert_eq!(
            solicited_node(&VIP),
            "ff02::1:ffab:cdef".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            multicast_mac(&solicited_node(&VIP)),
            [0x33, 0x33, 0xff, 0xab, 0xcd, 0xef]
        );
        assert_eq!(multicast_mac(&ALL_NODES), [0x33, 0x33, 0, 0, 0, 1]);
    }

    #[test]
    fn solicit_bytes_and_parse() {
        let mut buf = [0u8; 100];
        let n = build_solicit(&mut buf, None, MAC, VIP, PEER).unwrap();
        assert_eq!(n, 14 + 40 + 32);
        let dst = solicited_node(&PEER);
        let want = etherparse_ns(VIP, dst, multicast_mac(&dst), PEER);
        assert_eq!(buf[..n], want[..]);
        let (ip, icmp) = ip_and_icmp(&buf[..n]);
        assert_eq!(
            parse_solicit(&ip, icmp),
            Ok(Solicit {
                src: VIP,
                target: PEER,
                source_mac: Some(MAC)
            })
        );
    }

    #[test]
    fn solicit_validation() {
        let mut buf = [0u8; 100];
        let n = build_solicit(&mut buf, None, MAC, VIP, PEER).unwrap();
        // Forwarded by a router: hop limit below 255.
        let mut f = buf[..n].to_vec();
        f[14 + 7] = 254;
        let (ip, icmp) = ip_and_icmp(&f);
        assert_eq!(parse_solicit(&ip, icmp), Err(WireError::NdiscInvalid));
        // Corrupted checksum.
        let mut f = buf[..n].to_vec();
        f[60] ^= 1;
        let (ip, icmp) = ip_and_icmp(&f);
        assert_eq!(parse_solicit(&ip, icmp), Err(WireError::NdiscInvalid));
        // Zero-length option (checksum fixed so only the option is wrong).
        let mut f = buf[..n].to_vec();
        f[54 + 25] = 0;
        let (src, dst) = (VIP, solicited_node(&PEER));
        icmpv6::fill_checksum(&mut f[54..], &src, &dst);
        let (ip, icmp) = ip_and_icmp(&f);
        assert_eq!(parse_solicit(&ip, icmp), Err(WireError::NdiscInvalid));
        // DAD probe: from :: to the solicited-node address without SLLA is fine.
        let mut f = buf[..n - 8].to_vec();
        f[14 + 5] = 24;
        f[22..38].fill(0);
        icmpv6::fill_checksum(&mut f[54..], &Ipv6Addr::UNSPECIFIED, &dst);
        let (ip, icmp) = ip_and_icmp(&f);
        assert_eq!(
            parse_solicit(&ip, icmp),
            Ok(Solicit {
                src: Ipv6Addr::UNSPECIFIED,
                target: PEER,
                source_mac: None
            })
        );
        // ...but a DAD probe carrying an SLLA is not.
        let mut f = buf[..n].to_vec();
        f[22..38].fill(0);
        icmpv6::fill_checksum(&mut f[54..], &Ipv6Addr::UNSPECIFIED, &dst);
        let (ip, icmp) = ip_and_icmp(&f);
        assert_eq!(parse_solicit(&ip, icmp), Err(WireError::NdiscInvalid));
        // An NA is not an NS.
        let n = build_unsolicited_advert(&mut buf, None, MAC, VIP, false).unwrap();
        let (ip, icmp) = ip_and_icmp(&buf[..n]);
        assert_eq!(parse_solicit(&ip, icmp), Err(WireError::NdiscInvalid));
    }

    #[test]
    fn solicited_advert_bytes_and_parse() {
        let mut buf = [0u8; 100];
        let n = build_solicited_advert(&mut buf, Some(5), MAC, false, PEER, PEER_MAC, VIP).unwrap();
        assert_eq!(n, 18 + 40 + 32);
        let eth = ethernet::Packet::new_checked(&buf[..n]).unwrap();
        assert_eq!(
            (eth.vlan(), eth.destination(), eth.source()),
            (Some(5), PEER_MAC, MAC)
        );
        let ip = ipv6::Packet::new_checked(eth.payload()).unwrap();
        assert_eq!((ip.src(), ip.dst(), ip.hop_limit()), (VIP, PEER, 255));
        let icmp = ip.payload();
        assert_eq!(
            parse_advert(&ip, icmp),
            Ok(Advert {
                target: VIP,
                router: false,
                solicited: true,
                override_flag: true,
                target_mac: Some(MAC)
            })
        );
        // Cross-check the message with etherparse's NDP parser.
        let sliced = etherparse::SlicedPacket::from_ethernet(&buf[..n]).unwrap();
        let Some(etherparse::TransportSlice::Icmpv6(s)) = sliced.transport else {
            panic!("not ICMPv6")
        };
        match s.icmp_type() {
            Icmpv6Type::NeighborAdvertisement(h) => {
                assert!(h.solicited && h.r#override && !h.router);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dad_answer_and_unsolicited_go_to_all_nodes() {
        let mut buf = [0u8; 100];
        let n = build_solicited_advert(
            &mut buf,
            None,
            MAC,
            true,
            Ipv6Addr::UNSPECIFIED,
            PEER_MAC,
            VIP,
        )
        .unwrap();
        let (ip, icmp) = ip_and_icmp(&buf[..n]);
        assert_eq!(&buf[..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(ip.dst(), ALL_NODES);
        let a = parse_advert(&ip, icmp).unwrap();
        assert!(a.router && !a.solicited && a.override_flag);

        let n = build_unsolicited_advert(&mut buf, None, MAC, VIP, true).unwrap();
        let (ip, icmp) = ip_and_icmp(&buf[..n]);
        assert_eq!((ip.src(), ip.dst()), (VIP, ALL_NODES));
        assert_eq!(icmp[4], na_flags::ROUTER | na_flags::OVERRIDE);
        let a = parse_advert(&ip, icmp).unwrap();
        assert_eq!((a.target, a.target_mac), (VIP, Some(MAC)));

        // Solicited to a multicast destination is invalid (§7.1.2).
        let mut f = buf[..n].to_vec();
        f[54 + 4] |= na_flags::SOLICITED;
        icmpv6::fill_checksum(&mut f[54..], &VIP, &ALL_NODES);
        let (ip, icmp) = ip_and_icmp(&f);
        assert_eq!(parse_advert(&ip, icmp), Err(WireError::NdiscInvalid));
        assert_eq!(
            build_unsolicited_advert(&mut buf[..80], None, MAC, VIP, true),
            Err(WireError::BufferTooSmall)
        );
    }
}
