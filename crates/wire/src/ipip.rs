//! IP-in-IP tunnelling for LVS-TUN: IPv4 in IPv4 (RFC 2003 §3.1) and IPv6
//! in IPv6 (RFC 2473 §3), written into the headroom in front of the inner
//! packet so the packet itself never moves, plus decapsulation (strip the
//! outer header, report where the inner packet starts).
//!
//! The outer header follows ip_vs_tunnel_xmit(): IHL 5, TOS from the inner
//! packet with ECN encapsulated as INET_ECN_encapsulate() does (RFC 3168
//! §9.1.1 full functionality: ECN copied, CE becomes ECT(0)), DF copied
//! from the inner packet when PMTU discovery is on, a fresh IP ID from the
//! caller, TTL = inner TTL, protocol 4, director source, RIP destination.
//! IPv6: next header 41, hop limit = inner, flow label 0.
//!
//! Frame-level helpers move only the link-layer header (at most 22 bytes),
//! never the payload.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use crate::ethernet::{self, ethertype};
use crate::{ip_proto, ipv4, ipv6, WireError};

/// ECN codepoints (RFC 3168 §5).
const ECN_MASK: u8 = 0b11;
const ECN_ECT0: u8 = 0b10;
const ECN_CE: u8 = 0b11;

/// Outer TOS / traffic class for an inner one: DSCP copied, ECN copied
/// except CE, which is sent as ECT(0) so a decapsulator that ignores the
/// outer ECN does not lose the congestion mark's meaning twice.
pub const fn ecn_encapsulate(inner: u8) -> u8 {
    let ecn = if inner & ECN_MASK == ECN_CE {
        ECN_ECT0
    } else {
        inner & ECN_MASK
    };
    (inner & !ECN_MASK) | ecn
}

/// Parameters of a 4in4 tunnel to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Tunnel {
    /// Director address (route source).
    pub src: Ipv4Addr,
    /// Real server (RIP).
    pub dst: Ipv4Addr,
    /// Fresh IP ID for the outer header.
    pub ident: u16,
    /// Copy DF from the inner packet (IPVS pmtu_disc=1); else DF clear.
    pub copy_df: bool,
}

/// Parameters of a 6in6 tunnel to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Tunnel {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

/// Either tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnel {
    V4(Ipv4Tunnel),
    V6(Ipv6Tunnel),
}

impl Tunnel {
    /// Bytes the outer header adds.
    pub const fn overhead(&self) -> usize {
        match self {
            Tunnel::V4(_) => ipv4::MIN_HEADER_LEN,
            Tunnel::V6(_) => ipv6::HEADER_LEN,
        }
    }
}

/// Writes an outer IPv4 header into the 20 bytes before `inner_start`,
/// where an IPv4 packet starts; returns the outer packet's start.
pub fn encap_ipv4(buf: &mut [u8], inner_start: usize, t: &Ipv4Tunnel) -> Result<usize, WireError> {
    let inner = ipv4::Packet::new_checked(buf.get(inner_start..).ok_or(WireError::Ipv4Truncated)?)?;
    let outer_start = inner_start
        .checked_sub(ipv4::MIN_HEADER_LEN)
        .ok_or(WireError::NoHeadroom)?;
    let repr = ipv4::Repr {
        src: t.src,
        dst: t.dst,
        protocol: ip_proto::IPIP,
        payload_len: inner.total_len(),
        ttl: inner.ttl(),
        tos: ecn_encapsulate(inner.tos()),
        ident: t.ident,
        dont_fragment: t.copy_df && inner.dont_fragment(),
    };
    repr.emit(&mut buf[outer_start..inner_start])?;
    Ok(outer_start)
}

/// Writes an outer IPv6 header into the 40 bytes before `inner_start`,
/// where an IPv6 packet starts; returns the outer packet's start.
pub fn encap_ipv6(buf: &mut [u8], inner_start: usize, t: &Ipv6Tunnel) -> Result<usize, WireError> {
    let inner = ipv6::Packet::new_checked(buf.get(inner_start..).ok_or(WireError::Ipv6Truncated)?)?;
    let outer_start = inner_start
        .checked_sub(ipv6::HEADER_LEN)
        .ok_or(WireError::NoHeadroom)?;
    let repr = ipv6::Repr {
        src: t.src,
        dst: t.dst,
        next_header: ip_proto::IPV6,
        payload_len: inner.total_len(),
        hop_limit: inner.hop_limit(),
        traffic_class: ecn_encapsulate(inner.traffic_class()),
        flow_label: 0,
    };
    repr.emit(&mut buf[outer_start..inner_start])?;
    Ok(outer_start)
}

/// [`encap_ipv4`] for a caller that tracks the inner packet's extent
/// itself (a UMEM chunk longer than the packet): the inner IPv4 packet is
/// `buf[inner_start..inner_start + inner_len]`, and must fit in it.
pub fn encap_v4(
    buf: &mut [u8],
    inner_start: usize,
    inner_len: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    copy_df: bool,
) -> Result<usize, WireError> {
    let end = inner_start.saturating_add(inner_len);
    let area = buf.get_mut(..end).ok_or(WireError::Ipv4Truncated)?;
    encap_ipv4(
        area,
        inner_start,
        &Ipv4Tunnel {
            src,
            dst,
            ident,
            copy_df,
        },
    )
}

/// [`encap_ipv6`] with the inner packet at `buf[inner_start..][..inner_len]`.
pub fn encap_v6(
    buf: &mut [u8],
    inner_start: usize,
    inner_len: usize,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Result<usize, WireError> {
    let end = inner_start.saturating_add(inner_len);
    let area = buf.get_mut(..end).ok_or(WireError::Ipv6Truncated)?;
    encap_ipv6(area, inner_start, &Ipv6Tunnel { src, dst })
}

/// Encapsulates the Ethernet frame at `buf[frame]` in place: the outer IP
/// header goes between the link-layer header and the inner packet, and the
/// link-layer header (with its VLAN tags) moves back into the headroom.
/// Ethernet padding after the inner packet is dropped. Returns the new
/// frame's range in `buf`. The ethertype is unchanged (4in4, 6in6).
pub fn encap_frame(
    buf: &mut [u8],
    frame: Range<usize>,
    tunnel: &Tunnel,
) -> Result<Range<usize>, WireError> {
    let f = buf.get(frame.clone()).ok_or(WireError::EthernetTruncated)?;
    let l2 = ethernet::tagged_header_len(f)?;
    let inner_start = frame.start + l2;
    let new_start = inner_start
        .checked_sub(tunnel.overhead() + l2)
        .ok_or(WireError::NoHeadroom)?;
    // Move the link-layer header into the headroom first: the outer IP
    // header overwrites where it was. Only headroom is touched until the
    // inner packet has been validated, so on error the frame is intact.
    buf.copy_within(frame.start..inner_start, new_start);
    // Encapsulate within the frame's own bytes plus the headroom before it.
    let area = &mut buf[..frame.end];
    let outer_start = match tunnel {
        Tunnel::V4(t) => encap_ipv4(area, inner_start, t)?,
        Tunnel::V6(t) => encap_ipv6(area, inner_start, t)?,
    };
    let outer_len = outer_ip_len(&area[outer_start..], tunnel)?;
    Ok(new_start..outer_start + outer_len)
}

fn outer_ip_len(outer: &[u8], tunnel: &Tunnel) -> Result<usize, WireError> {
    Ok(match tunnel {
        Tunnel::V4(_) => ipv4::Packet::new_checked(outer)?.total_len(),
        Tunnel::V6(_) => ipv6::Packet::new_checked(outer)?.total_len(),
    })
}

/// Where the inner packet of a tunnel packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decap {
    /// Offset of the inner IP header in the buffer.
    pub inner_offset: usize,
    /// Inner packet length, from its own header.
    pub inner_len: usize,
    /// 4 or 6.
    pub inner_version: u8,
}

/// Validates an IP-in-IP packet starting at `buf[start]` (IPv4 or IPv6
/// outer, carrying protocol 4 or 41) and locates the inner packet. A
/// fragmented outer packet cannot be decapsulated without reassembly.
pub fn decap(buf: &[u8], start: usize) -> Result<Decap, WireError> {
    let outer = buf.get(start..).ok_or(WireError::Ipv4Truncated)?;
    let (proto, l4, end) = match outer.first().map(|b| b >> 4) {
        Some(4) => {
            let p = ipv4::Packet::new_checked(outer)?;
            if p.is_fragment() {
                return Err(WireError::TunnelFragmented);
            }
            (p.protocol(), p.header_len(), p.total_len())
        }
        Some(6) => {
            let p = ipv6::Packet::new_checked(outer)?;
            let ul = p.upper_layer()?;
            if ul.fragment != crate::Fragment::None {
                return Err(WireError::TunnelFragmented);
            }
            (ul.protocol, ul.offset, p.total_len())
        }
        Some(_) => return Err(WireError::NotTunnel),
        None => return Err(WireError::Ipv4Truncated),
    };
    let inner = &outer[l4..end];
    let (inner_len, inner_version) = match proto {
        ip_proto::IPIP => (ipv4::Packet::new_checked(inner)?.total_len(), 4),
        ip_proto::IPV6 => (ipv6::Packet::new_checked(inner)?.total_len(), 6),
        _ => return Err(WireError::NotTunnel),
    };
    Ok(Decap {
        inner_offset: start + l4,
        inner_len,
        inner_version,
    })
}

/// Decapsulates the Ethernet frame at `buf[frame]` in place: the
/// link-layer header moves forward over the outer IP header, its ethertype
/// set for the inner packet. Returns the new frame's range in `buf`.
pub fn decap_frame(buf: &mut [u8], frame: Range<usize>) -> Result<Range<usize>, WireError> {
    let f = buf.get(frame.clone()).ok_or(WireError::EthernetTruncated)?;
    let l2 = ethernet::tagged_header_len(f)?;
    let d = decap(f, l2)?;
    let new_start = frame.start + d.inner_offset - l2;
    buf.copy_within(frame.start..frame.start + l2, new_start);
    let et = if d.inner_version == 4 {
        ethertype::IPV4
    } else {
        ethertype::IPV6
    };
    let at = new_start + l2 - 2;
    buf[at..at + 2].copy_from_slice(&et.to_be_bytes());
    Ok(new_start..frame.start + d.inner_offset + d.inner_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use etherparse::{IpNumber, Ipv4Header, Ipv6Header, PacketBuilder};

    const DIP: [u8; 4] = [10, 0, 0, 1];
    const RIP: [u8; 4] = [10, 0, 0, 7];
    const DIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const RIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];

    fn t4(copy_df: bool) -> Tunnel {
        Tunnel::V4(Ipv4Tunnel {
            src: DIP.into(),
            dst: RIP.into(),
            ident: 0x4242,
            copy_df,
        })
    }

    #[test]
    fn ecn() {
        assert_eq!(ecn_encapsulate(0xb8), 0xb8); // EF, not-ECT
        assert_eq!(ecn_encapsulate(0xb9), 0xb9); // ECT(1)
        assert_eq!(ecn_encapsulate(0xba), 0xba); // ECT(0)
        assert_eq!(ecn_encapsulate(0xbb), 0xba); // CE -> ECT(0)
    }

    #[test]
    fn encap_frame_4in4_bytes() {
        let mut inner = tcp4(true, b"data");
        inner[15] = 0x2b; // DSCP 10, CE
        ipv4::Packet::new_checked(&mut inner[14..])
            .unwrap()
            .fill_checksum();
        let headroom = 32;
        let mut buf = vec![0u8; headroom];
        buf.extend_from_slice(&inner);
        buf.extend_from_slice(&[0; 6]); // padding, dropped
        let end = buf.len();
        let r = encap_frame(&mut buf, headroom..end, &t4(true)).unwrap();
        assert_eq!(r, headroom - 20..headroom + inner.len());
        let out = &buf[r];
        // Expected: same Ethernet header, outer header built by etherparse,
        // the inner packet untouched.
        let mut outer =
            Ipv4Header::new(inner.len() as u16 - 14, 64, IpNumber::IPV4, DIP, RIP).unwrap();
        outer.identification = 0x4242;
        outer.dont_fragment = true;
        outer.dscp = etherparse::IpDscp::try_new(10).unwrap();
        outer.ecn = etherparse::IpEcn::TWO; // ECT(0)
        outer.header_checksum = outer.calc_header_checksum();
        let mut want = inner[..14].to_vec();
        want.extend_from_slice(&outer.to_bytes());
        want.extend_from_slice(&inner[14..]);
        assert_eq!(out, &want[..]);
        // The result parses as a tunnel frame to the RIP.
        let info = crate::parse_frame(out).unwrap();
        assert_eq!((info.protocol, info.dst), (ip_proto::IPIP, RIP.into()));
    }

    #[test]
    fn df_only_when_asked() {
        let inner = tcp4(true, b"");
        let mut buf = vec![0u8; 20];
        buf.extend_from_slice(&inner);
        let end = buf.len();
        let r = encap_frame(&mut buf, 20..end, &t4(false)).unwrap();
        let outer = ipv4::Packet::new_checked(&buf[r.start + 14..]).unwrap();
        assert!(!outer.dont_fragment());
        assert!(outer.verify_checksum());
        assert_eq!(outer.ttl(), 64);
    }

    #[test]
    fn encap_6in6_and_decap_round_trip() {
        let inner = tcp6(b"hello");
        let mut buf = vec![0u8; 64];
        buf.extend_from_slice(&inner);
        let end = buf.len();
        let tun = Tunnel::V6(Ipv6Tunnel {
            src: DIP6.into(),
            dst: RIP6.into(),
        });
        let r = encap_frame(&mut buf, 64..end, &tun).unwrap();
        assert_eq!(r, 24..end);
        let mut want = inner[..14].to_vec();
        let outer = Ipv6Header {
            traffic_class: 0,
            flow_label: Default::default(),
            payload_length: (inner.len() - 14) as u16,
            next_header: IpNumber::IPV6,
            hop_limit: 64,
            source: DIP6,
            destination: RIP6,
        };
        want.extend_from_slice(&outer.to_bytes());
        want.extend_from_slice(&inner[14..]);
        assert_eq!(&buf[r.clone()], &want[..]);

        let back = decap_frame(&mut buf, r).unwrap();
        assert_eq!(back, 64..end);
        assert_eq!(&buf[back], &inner[..]);
    }

    #[test]
    fn decap_4in4_sets_ethertype_and_keeps_vlan() {
        // A tunnel frame as a TUN director would send it, with a VLAN tag.
        let inner_ip = &tcp4(false, b"x")[14..];
        let mut f = Vec::new();
        PacketBuilder::ethernet2(CMAC, DMAC)
            .single_vlan(etherparse::VlanId::try_new(9).unwrap())
            .ipv4(DIP, RIP, 20)
            .write(&mut f, IpNumber::IPV4, inner_ip)
            .unwrap();
        let len = f.len();
        let r = decap_frame(&mut f, 0..len).unwrap();
        assert_eq!(r, 20..len);
        let eth = ethernet::Packet::new_checked(&f[r.clone()]).unwrap();
        assert_eq!((eth.vlan(), eth.ethertype()), (Some(9), ethertype::IPV4));
        assert_eq!(eth.payload(), inner_ip);
        assert_eq!(
            decap(&f, r.start + 18),
            Err(WireError::NotTunnel),
            "the inner TCP packet is not a tunnel"
        );
    }

    #[test]
    fn positional_forms_match() {
        let inner = &tcp4(true, b"abc")[14..];
        let mut a = vec![0u8; 20];
        a.extend_from_slice(inner);
        a.extend_from_slice(&[0xee; 30]); // rest of the chunk
        let mut b = a.clone();
        assert_eq!(
            encap_v4(&mut a, 20, inner.len(), DIP.into(), RIP.into(), 9, true),
            Ok(0)
        );
        let t = Ipv4Tunnel {
            src: DIP.into(),
            dst: RIP.into(),
            ident: 9,
            copy_df: true,
        };
        assert_eq!(encap_ipv4(&mut b, 20, &t), Ok(0));
        assert_eq!(a, b);
        // The stated length must hold the whole inner packet.
        let mut c = vec![0u8; 20];
        c.extend_from_slice(inner);
        assert_eq!(
            encap_v4(&mut c, 20, inner.len() - 1, DIP.into(), RIP.into(), 9, true),
            Err(WireError::Ipv4TotalLengthBeyondFrame)
        );
        assert_eq!(
            encap_v4(&mut c, 20, inner.len() + 1, DIP.into(), RIP.into(), 9, true),
            Err(WireError::Ipv4Truncated)
        );
        let inner6 = &tcp6(b"")[14..];
        let mut d = vec![0u8; 40];
        d.extend_from_slice(inner6);
        assert_eq!(
            encap_v6(&mut d, 40, inner6.len(), DIP6.into(), RIP6.into()),
            Ok(0)
        );
        assert_eq!(
            decap(&d, 0).map(|x| (x.inner_offset, x.inner_len)),
            Ok((40, inner6.len()))
        );
    }

    #[test]
    fn errors() {
        let inner = tcp4(true, b"");
        let mut buf = inner.clone();
        let len = buf.len();
        assert_eq!(
            encap_frame(&mut buf, 0..len, &t4(true)),
            Err(WireError::NoHeadroom)
        );
        let mut buf = vec![0u8; 10];
        buf.extend_from_slice(&inner);
        let len = buf.len();
        assert_eq!(
            encap_frame(&mut buf, 10..len, &t4(true)),
            Err(WireError::NoHeadroom)
        );
        let tun6 = Tunnel::V6(Ipv6Tunnel {
            src: DIP6.into(),
            dst: RIP6.into(),
        });
        let mut buf = vec![0u8; 40];
        buf.extend_from_slice(&inner);
        let len = buf.len();
        assert_eq!(
            encap_frame(&mut buf, 40..len, &tun6),
            Err(WireError::Ipv6BadVersion)
        );
        assert_eq!(
            &buf[40..],
            &inner[..],
            "a failed encapsulation leaves the frame intact"
        );
        // Fragmented tunnel packet.
        let mut f = Vec::new();
        PacketBuilder::ipv4(DIP, RIP, 20)
            .write(&mut f, IpNumber::IPV4, &inner[14..])
            .unwrap();
        f[6] |= 0x20;
        assert_eq!(decap(&f, 0), Err(WireError::TunnelFragmented));
        f[6] &= !0x20;
        assert_eq!(decap(&f, 0).unwrap().inner_offset, 20);
        assert_eq!(decap(&f, 0).unwrap().inner_len, inner.len() - 14);
        assert_eq!(decap(&f[..5], 0), Err(WireError::Ipv4Truncated));
        assert_eq!(decap(&f, 100), Err(WireError::Ipv4Truncated));
        assert_eq!(decap(&[0x50u8; 30], 0), Err(WireError::NotTunnel));
        // Inner longer than the outer payload.
        let mut g = f.clone();
        g[23] += 1;
        assert_eq!(decap(&g, 0), Err(WireError::Ipv4TotalLengthBeyondFrame));
        // Encapsulating a near-64K packet would overflow the total length.
        let mut big = vec![0u8; 20 + 65535];
        big[20] = 0x45;
        big[22..24].copy_from_slice(&65535u16.to_be_bytes());
        let t = Ipv4Tunnel {
            src: DIP.into(),
            dst: RIP.into(),
            ident: 0,
            copy_df: false,
        };
        assert_eq!(encap_ipv4(&mut big, 20, &t), Err(WireError::TooLong));
    }
}
