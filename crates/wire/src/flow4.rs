//! The commonest frame a director forwards, at fixed offsets: untagged
//! Ethernet, an IPv4 header without options, not a fragment, TCP or UDP.
//!
//! [`Flow4::parse`] accepts only frames [`crate::parse_frame`] accepts too,
//! and reads the same values from them (a property test holds it to that);
//! anything else — VLAN tags, options, fragments, IPv6, ICMP, damage — is
//! `None`, and the caller takes the general path. The rewrites patch every
//! checksum by RFC 1624 in the same order as [`crate::rewrite`], so a frame
//! leaves byte for byte as the general path would send it.

use std::net::{IpAddr, Ipv4Addr};

use crate::checksum;
use crate::frame::{Fragment, FrameInfo, FrameKind};
use crate::ip_proto;

/// Frame offset of the IPv4 header.
pub const IP_AT: usize = 14;
/// Frame offset of the TCP/UDP header.
pub const L4_AT: usize = IP_AT + 20;

const TTL_AT: usize = IP_AT + 8;
const IP_CSUM_AT: usize = IP_AT + 10;
const SRC_AT: usize = IP_AT + 12;
const DST_AT: usize = IP_AT + 16;
/// Ethernet + IPv4 + the smaller transport header (UDP).
const MIN_FRAME: usize = L4_AT + 8;

/// What the data plane needs of such a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow4 {
    pub src: u32,
    pub dst: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    /// TCP control bits, 0 for UDP.
    pub tcp_flags: u8,
    pub ttl: u8,
    pub dont_fragment: bool,
    /// IPv4 total length (Ethernet padding excluded).
    pub ip_len: u16,
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Flow4 {
    /// The frame's flow, or `None` when it is not of the fixed shape (or
    /// is damaged: the general parser then says how).
    #[inline]
    pub fn parse(frame: &[u8]) -> Option<Flow4> {
        if frame.len() < MIN_FRAME || frame[12] != 0x08 || frame[13] != 0x00 || frame[IP_AT] != 0x45
        {
            return None;
        }
        let total = be16(frame, IP_AT + 2);
        let l4_len = usize::from(total).checked_sub(20)?;
        if IP_AT + usize::from(total) > frame.len() {
            return None;
        }
        // Any fragment (MF set or an offset) has its own rules.
        let frag = be16(frame, IP_AT + 6);
        if frag & 0x3FFF != 0 {
            return None;
        }
        let protocol = frame[IP_AT + 9];
        let tcp_flags = match protocol {
            ip_proto::TCP => {
                let data_offset = usize::from(*frame.get(L4_AT + 12)? >> 4) * 4;
                if l4_len < 20 || data_offset < 20 || data_offset > l4_len {
                    return None;
                }
                frame[L4_AT + 13]
            }
            ip_proto::UDP => {
                if l4_len < 8 || usize::from(be16(frame, L4_AT + 4)) != l4_len {
                    return None;
                }
                0
            }
            _ => return None,
        };
        Some(Flow4 {
            src: be32(frame, SRC_AT),
            dst: be32(frame, DST_AT),
            src_port: be16(frame, L4_AT),
            dst_port: be16(frame, L4_AT + 2),
            protocol,
            tcp_flags,
            ttl: frame[TTL_AT],
            dont_fragment: frag & 0x4000 != 0,
            ip_len: total,
        })
    }

    /// The ⟨protocol, source, source port, destination, destination
    /// port⟩ that [`Flow4::parse`] would read, checking only the frame's
    /// shape (IPv4 without options, TCP or UDP) and not its lengths or
    /// fragment bits: a cheap guess for starting a lookup early, never a
    /// basis for forwarding.
    #[inline(always)]
    pub fn peek(frame: &[u8]) -> Option<(u8, u32, u16, u32, u16)> {
        let h: &[u8; MIN_FRAME] = frame.get(..MIN_FRAME)?.try_into().ok()?;
        let protocol = h[IP_AT + 9];
        if h[12] != 0x08
            || h[13] != 0x00
            || h[IP_AT] != 0x45
            || (protocol != ip_proto::TCP && protocol != ip_proto::UDP)
        {
            return None;
        }
        Some((
            protocol,
            be32(h, SRC_AT),
            be16(h, L4_AT),
            be32(h, DST_AT),
            be16(h, L4_AT + 2),
        ))
    }

    /// The summary [`crate::parse_frame`] gives for this frame.
    pub fn info(&self) -> FrameInfo {
        FrameInfo {
            l3_offset: IP_AT,
            vlan: None,
            kind: FrameKind::Ipv4,
            l4_offset: L4_AT,
            protocol: self.protocol,
            src: IpAddr::V4(Ipv4Addr::from(self.src)),
            dst: IpAddr::V4(Ipv4Addr::from(self.dst)),
            src_port: self.src_port,
            dst_port: self.dst_port,
            tcp_flags: self.tcp_flags,
            fragment: Fragment::None,
            ip_len: usize::from(self.ip_len),
            hop_limit: self.ttl,
            dont_fragment: self.dont_fragment,
        }
    }

    /// The TTL decrement of a forward (the caller checked `ttl > 1`):
    /// [`Self::translate`] with no address change, in fewer instructions
    /// (DR and TUN call it on every packet).
    #[inline]
    pub fn decrement_ttl(&mut self, frame: &mut [u8]) {
        // TTL, protocol and the header checksum: one bounds check.
        let Some(h) = frame.get_mut(TTL_AT..IP_CSUM_AT + 2) else {
            return;
        };
        let ttl = self.ttl.wrapping_sub(1);
        let old = u16::from_be_bytes([self.ttl, self.protocol]);
        let new = u16::from_be_bytes([ttl, self.protocol]);
        h[0] = ttl;
        let hc = checksum::update_u16(u16::from_be_bytes([h[2], h[3]]), old, new);
        h[2..4].copy_from_slice(&hc.to_be_bytes());
        self.ttl = ttl;
    }

    /// Put an outer IPv4 header (IPIP, 4in4) in the 20 bytes in front of
    /// this packet, which starts at `buf[ip_start]`; returns where the
    /// outer packet starts. The bytes of `ipip::encap_v4` for the packet
    /// (TTL and ECN-adjusted TOS from the inner header, DF copied only with
    /// `copy_df`), with the checksum summed from the fields rather than
    /// re-read from the buffer. `None` without headroom.
    #[inline(always)]
    pub fn encap_ipip(
        &self,
        buf: &mut [u8],
        ip_start: usize,
        src: u32,
        dst: u32,
        ident: u16,
        copy_df: bool,
    ) -> Option<usize> {
        let outer = ip_start.checked_sub(20)?;
        let h = buf.get_mut(outer..ip_start + 2)?;
        let tos = crate::ipip::ecn_encapsulate(h[21]);
        let total = self.ip_len.checked_add(20)?;
        let flags: u16 = if copy_df && self.dont_fragment {
            0x4000
        } else {
            0
        };
        let first = u16::from_be_bytes([0x45, tos]);
        let ttl_proto = u16::from_be_bytes([self.ttl, ip_proto::IPIP]);
        let sum = u32::from(first)
            + u32::from(total)
            + u32::from(ident)
            + u32::from(flags)
            + u32::from(ttl_proto)
            + (src >> 16)
            + (src & 0xffff)
            + (dst >> 16)
            + (dst & 0xffff);
        h[0..2].copy_from_slice(&first.to_be_bytes());
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&ident.to_be_bytes());
        h[6..8].copy_from_slice(&flags.to_be_bytes());
        h[8..10].copy_from_slice(&ttl_proto.to_be_bytes());
        h[10..12].copy_from_slice(&(!checksum::fold(sum)).to_be_bytes());
        h[12..16].copy_from_slice(&src.to_be_bytes());
        h[16..20].copy_from_slice(&dst.to_be_bytes());
        Some(outer)
    }

    /// Forward the packet: decrement the TTL and, if given, set the source
    /// and/or destination address and port, in one pass. Each checksum is
    /// patched once with the sum of every change; RFC 1624 updates compose
    /// (each step's result is the next step's input, and one's-complement
    /// addition folds to zero only when every term is zero), so the bytes
    /// are those of the general rewrites (`rewrite::decrement_hop_limit`,
    /// `set_dst`, `set_src`) in turn. A UDP checksum of 0 (none) stays 0.
    /// Always inlined: callers pass constant `Some`/`None` shapes.
    #[inline(always)]
    pub fn translate(
        &mut self,
        frame: &mut [u8],
        src: Option<(u32, u16)>,
        dst: Option<(u32, u16)>,
    ) {
        let l4_len = if self.protocol == ip_proto::TCP {
            20
        } else {
            8
        };
        let Some(h) = frame.get_mut(IP_AT..L4_AT + l4_len) else {
            return;
        };
        const TTL: usize = TTL_AT - IP_AT;
        const CSUM: usize = IP_CSUM_AT - IP_AT;
        const L4: usize = L4_AT - IP_AT;
        let d16 = |old: u16, new: u16| u32::from(!old) + u32::from(new);
        let d32 = |old: u32, new: u32| {
            d16((old >> 16) as u16, (new >> 16) as u16) + d16(old as u16, new as u16)
        };
        let ttl = self.ttl.wrapping_sub(1);
        let mut ip_sum = u32::from(!be16(h, CSUM))
            + d16(
                u16::from_be_bytes([self.ttl, self.protocol]),
                u16::from_be_bytes([ttl, self.protocol]),
            );
        h[TTL] = ttl;
        self.ttl = ttl;
        let mut l4_sum = 0;
        if let Some((addr, port)) = src {
            let d = d32(self.src, addr);
            ip_sum += d;
            l4_sum += d + d16(self.src_port, port);
            h[SRC_AT - IP_AT..SRC_AT - IP_AT + 4].copy_from_slice(&addr.to_be_bytes());
            h[L4..L4 + 2].copy_from_slice(&port.to_be_bytes());
            self.src = addr;
            self.src_port = port;
        }
        if let Some((addr, port)) = dst {
            let d = d32(self.dst, addr);
            ip_sum += d;
            l4_sum += d + d16(self.dst_port, port);
            h[DST_AT - IP_AT..DST_AT - IP_AT + 4].copy_from_slice(&addr.to_be_bytes());
            h[L4 + 2..L4 + 4].copy_from_slice(&port.to_be_bytes());
            self.dst = addr;
            self.dst_port = port;
        }
        h[CSUM..CSUM + 2].copy_from_slice(&(!checksum::fold(ip_sum)).to_be_bytes());
        if src.is_none() && dst.is_none() {
            return;
        }
        if self.protocol == ip_proto::TCP {
            let at = L4 + 16;
            let hc = !checksum::fold(u32::from(!be16(h, at)) + l4_sum);
            h[at..at + 2].copy_from_slice(&hc.to_be_bytes());
        } else {
            let at = L4 + 6;
            let old = be16(h, at);
            if old != 0 {
                let hc = checksum::udp_wire_value(!checksum::fold(u32::from(!old) + l4_sum));
                h[at..at + 2].copy_from_slice(&hc.to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::parse_frame;
    use crate::rewrite;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    fn agrees(f: &Flow4, i: &FrameInfo) {
        assert_eq!(&f.info(), i);
        assert_eq!(i.kind, FrameKind::Ipv4);
        assert_eq!(i.vlan, None);
        assert_eq!((i.l3_offset, i.l4_offset), (IP_AT, L4_AT));
        assert_eq!(i.fragment, Fragment::None);
        assert_eq!(i.src, IpAddr::V4(Ipv4Addr::from(f.src)));
        assert_eq!(i.dst, IpAddr::V4(Ipv4Addr::from(f.dst)));
        assert_eq!((i.src_port, i.dst_port), (f.src_port, f.dst_port));
        assert_eq!((i.protocol, i.tcp_flags), (f.protocol, f.tcp_flags));
        assert_eq!((i.hop_limit, i.dont_fragment), (f.ttl, f.dont_fragment));
        assert_eq!(i.ip_len, usize::from(f.ip_len));
    }

    fn tcp_frame(payload: &[u8], flags_syn: bool) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([198, 18, 0, 1], [198, 18, 0, 100], 64)
            .tcp(40000, 80, 7, 1000);
        let b = if flags_syn { b.syn() } else { b.ack(9) };
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn udp_frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([198, 18, 0, 1], [198, 18, 0, 100], 64)
            .udp(5353, 53)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    #[test]
    fn reads_what_the_general_parser_reads() {
        for frame in [
            tcp_frame(b"x", true),
            tcp_frame(b"", false),
            udp_frame(b"q"),
        ] {
            let f = Flow4::parse(&frame).expect("fixed-shape frame");
            agrees(&f, &parse_frame(&frame).unwrap());
        }
        // Ethernet padding after a short packet is not part of it.
        let mut padded = udp_frame(b"");
        padded.resize(60, 0);
        let f = Flow4::parse(&padded).unwrap();
        assert_eq!(f.ip_len, 28);
        agrees(&f, &parse_frame(&padded).unwrap());
    }

    #[test]
    fn leaves_other_shapes_to_the_general_path() {
        let base = tcp_frame(b"x", false);
        let mut v = base.clone();
        v[14] = 0x46; // options
        assert!(Flow4::parse(&v).is_none());
        let mut v = base.clone();
        v[14 + 6] = 0x20; // MF
        assert!(Flow4::parse(&v).is_none());
        let mut v = base.clone();
        v[14 + 7] = 1; // offset
        assert!(Flow4::parse(&v).is_none());
        let mut v = base.clone();
        v[12] = 0x81; // VLAN
        assert!(Flow4::parse(&v).is_none());
        let mut v = base.clone();
        v[14 + 9] = 1; // ICMP
        assert!(Flow4::parse(&v).is_none());
        let mut v = base.clone();
        v[L4_AT + 12] = 0x40; // data offset 16
        assert!(Flow4::parse(&v).is_none());
        assert!(Flow4::parse(&base[..base.len() - 1]).is_none());
        let mut v = udp_frame(b"abc");
        v[L4_AT + 5] += 1; // UDP length
        assert!(Flow4::parse(&v).is_none());
    }

    /// `translate` gives the general rewrites' bytes, for each shape of
    /// rewrite the methods use (the frame's TTL is above 1, as the fast
    /// path requires).
    fn same_rewrites(frame: &[u8], addr: u32, port: u16) {
        let changes = [
            (None, None),
            (None, Some((addr, port))),
            (Some((addr, port)), None),
            (Some((addr ^ 0x0101, port ^ 0x5a5a)), Some((addr, port))),
        ];
        for (src, dst) in changes {
            let mut fast = frame.to_vec();
            let mut general = frame.to_vec();
            let mut f = Flow4::parse(&fast).unwrap();
            let mut info = parse_frame(&general).unwrap();
            f.translate(&mut fast, src, dst);
            rewrite::decrement_hop_limit(&mut general, &mut info).unwrap();
            if let Some((a, p)) = dst {
                rewrite::set_dst(&mut general, &mut info, Ipv4Addr::from(a).into(), p).unwrap();
            }
            if let Some((a, p)) = src {
                rewrite::set_src(&mut general, &mut info, Ipv4Addr::from(a).into(), p).unwrap();
            }
            assert_eq!(fast, general, "{src:?} {dst:?}");
            agrees(&f, &info);
            if src.is_none() && dst.is_none() {
                let mut ttl_only = frame.to_vec();
                let mut g = Flow4::parse(&ttl_only).unwrap();
                g.decrement_ttl(&mut ttl_only);
                assert_eq!(ttl_only, general);
                assert_eq!(g, f);
            }
        }
    }

    /// `encap_ipip` writes the general encapsulation's bytes.
    fn same_encapsulation(frame: &[u8], tos: u8, src: u32, dst: u32, ident: u16) {
        let mut frame = frame.to_vec();
        frame[IP_AT + 1] = tos; // the checksum is not checked here
        let head = 40;
        let mut fast = vec![0u8; head];
        fast.extend_from_slice(&frame);
        let mut general = fast.clone();
        let f = Flow4::parse(&frame).unwrap();
        let ip = head + IP_AT;
        for copy_df in [false, true] {
            let a = f.encap_ipip(&mut fast, ip, src, dst, ident, copy_df);
            let len = usize::from(f.ip_len);
            let b = crate::ipip::encap_v4(
                &mut general,
                ip,
                len,
                src.into(),
                dst.into(),
                ident,
                copy_df,
            );
            assert_eq!(a, b.ok());
            assert_eq!(fast, general);
        }
        assert_eq!(f.encap_ipip(&mut fast, 19, src, dst, ident, true), None);
    }

    proptest! {
        /// On any bytes, a frame the fast parser takes is one the general
        /// parser takes, with the same reading.
        #[test]
        fn never_disagrees_with_parse_frame(
            seed in prop_oneof![Just(0u8), Just(1), Just(2)],
            payload in proptest::collection::vec(any::<u8>(), 0..40),
            flips in proptest::collection::vec((0usize..80, any::<u8>()), 0..4),
            cut in 0usize..100,
        ) {
            let mut frame = match seed {
                0 => tcp_frame(&payload, false),
                1 => tcp_frame(&payload, true),
                _ => udp_frame(&payload),
            };
            for (at, v) in flips {
                if let Some(b) = frame.get_mut(at) {
                    *b = v;
                }
            }
            frame.truncate(frame.len().saturating_sub(cut % 8));
            if let Some(f) = Flow4::parse(&frame) {
                let info = parse_frame(&frame).expect("general parser accepts it too");
                agrees(&f, &info);
            }
        }

        #[test]
        fn rewrites_match_the_general_ones(
            payload in proptest::collection::vec(any::<u8>(), 0..40),
            udp in any::<bool>(),
            zero_udp_sum in any::<bool>(),
            ttl in 2u8..=255,
            addr in any::<u32>(),
            port in any::<u16>(),
        ) {
            let mut frame = if udp { udp_frame(&payload) } else { tcp_frame(&payload, false) };
            if udp && zero_udp_sum {
                frame[L4_AT + 6] = 0;
                frame[L4_AT + 7] = 0;
            }
            let old_ttl = frame[TTL_AT];
            frame[TTL_AT] = ttl;
            let hc = checksum::update_u16(
                be16(&frame, IP_CSUM_AT),
                u16::from_be_bytes([old_ttl, frame[IP_AT + 9]]),
                u16::from_be_bytes([ttl, frame[IP_AT + 9]]),
            );
            frame[IP_CSUM_AT..IP_CSUM_AT + 2].copy_from_slice(&hc.to_be_bytes());
            same_rewrites(&frame, addr, port);
            same_encapsulation(&frame, port as u8, addr, addr.rotate_left(7) ^ u32::from(port), port);
            let df = frame[IP_AT + 6] | 0x40;
            frame[IP_AT + 6] = df;
            same_encapsulation(&frame, (port >> 8) as u8, !addr, addr, !port);
        }
    }
}
