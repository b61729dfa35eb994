//! ICMPv6 (RFC 4443): a view with type, code and the pseudo-header
//! checksum (RFC 4443 §2.3, RFC 8200 §8.1), the offset of the packet quoted
//! in error messages (types below 128, §2.1), and builders for the errors a
//! director sends: Packet Too Big (§3.2), port unreachable (§3.1 code 4)
//! and hop limit exceeded (§3.3 code 0).
//!
//! Errors quote as much of the offending packet as fits in the IPv6
//! minimum MTU of 1280 bytes (§2.4 (c)). Neighbour Discovery messages,
//! which are ICMPv6 too, live in [`crate::ndisc`].

use std::net::{IpAddr, Ipv6Addr};

use crate::checksum;
use crate::ipv6;
use crate::{ip_proto, WireError};

/// Type, code, checksum.
pub const HEADER_LEN: usize = 4;
/// Error messages have 4 more bytes (unused / MTU / pointer) before the quote.
pub const ERROR_HEADER_LEN: usize = 8;
/// Largest ICMPv6 error packet we send (RFC 4443 §2.4 (c)).
pub const MAX_ERROR_LEN: usize = 1280;
/// Hop limit of the errors we originate (Linux's default hop limit).
pub const ERROR_HOP_LIMIT: u8 = 64;

pub mod msg_type {
    pub const DEST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAMETER_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
    pub const REDIRECT: u8 = 137;
}

/// Destination-unreachable code 4 (RFC 4443 §3.1).
pub const CODE_PORT_UNREACHABLE: u8 = 4;

pub mod field {
    //! Byte ranges of the header.
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// MTU of Packet Too Big, pointer of Parameter Problem, else unused.
    pub const REST: Range<usize> = 4..8;
}

/// RFC 4443 §2.1: types 0-127 are errors.
pub const fn is_error_type(t: u8) -> bool {
    t < 128
}

/// A validated view of an ICMPv6 message (the upper-layer payload).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Needs the 4-byte header, and the 8-byte one for error types.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN || (is_error_type(b[0]) && b.len() < ERROR_HEADER_LEN) {
            return Err(WireError::Icmpv6Truncated);
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        self.b()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.b()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }

    pub fn is_error(&self) -> bool {
        is_error_type(self.msg_type())
    }

    /// Bytes 4-7 (MTU of Packet Too Big), or 0 if the message is shorter.
    pub fn rest_of_header(&self) -> u32 {
        match self.b().get(field::REST) {
            Some(r) => u32::from_be_bytes([r[0], r[1], r[2], r[3]]),
            None => 0,
        }
    }

    /// MTU reported by a Packet Too Big message (RFC 4443 §3.2).
    pub fn mtu(&self) -> u32 {
        self.rest_of_header()
    }

    /// Everything after the 4-byte header.
    pub fn body(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    /// The packet quoted by an error message (after byte 8).
    pub fn invoking_packet(&self) -> &[u8] {
        self.b().get(ERROR_HEADER_LEN..).unwrap_or(&[])
    }

    /// The checksum over the IPv6 pseudo-header and the message verifies.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let len = self.b().len();
        // A message longer than u32 cannot exist in an IPv6 packet without
        // jumbograms; saturate instead of wrapping.
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let ph = checksum::pseudo_header_v6(src, dst, ip_proto::ICMPV6, len);
        checksum::verifies(checksum::sum_bytes(ph, self.b()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        fill_checksum(self.buffer.as_mut(), src, dst);
    }

    /// Patches the checksum for an address change in the pseudo-header.
    pub fn update_pseudo_header(&mut self, old: &Ipv6Addr, new: &Ipv6Addr) {
        checksum::patch(self.buffer.as_mut(), field::CHECKSUM.start, |hc| {
            checksum::update_addr(hc, &IpAddr::V6(*old), &IpAddr::V6(*new))
        });
    }
}

/// Computes the checksum of the ICMPv6 message `msg` in place.
pub(crate) fn fill_checksum(msg: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) {
    msg[field::CHECKSUM].fill(0);
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    let ph = checksum::pseudo_header_v6(src, dst, ip_proto::ICMPV6, len);
    let hc = checksum::finish(checksum::sum_bytes(ph, msg));
    msg[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
}

/// The ICMPv6 errors a director originates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Type 2 with the MTU of the next hop (RFC 4443 §3.2).
    PacketTooBig { mtu: u32 },
    /// Type 1 code 4: no real server for the service (ip_vs_leave).
    PortUnreachable,
    /// Type 3 code 0: hop limit exceeded in transit.
    HopLimitExceeded,
}

impl ErrorKind {
    fn type_code_rest(self) -> (u8, u8, u32) {
        match self {
            ErrorKind::PacketTooBig { mtu } => (msg_type::PACKET_TOO_BIG, 0, mtu),
            ErrorKind::PortUnreachable => (msg_type::DEST_UNREACHABLE, CODE_PORT_UNREACHABLE, 0),
            ErrorKind::HopLimitExceeded => (msg_type::TIME_EXCEEDED, 0, 0),
        }
    }
}

/// Builds an IPv6 packet carrying an ICMPv6 error about `offending` (an
/// IPv6 packet, from its header; bytes past its payload length are
/// ignored) into `out`, and returns the packet length. The error goes from
/// `src` to the offending packet's source with hop limit 64, traffic class
/// and flow label 0 (as Linux icmp6_send() on a default socket). Whether an
/// error may be sent at all (RFC 4443 §2.4 (e)) is checked by
/// `frame::may_send_icmp_error`.
pub fn build_error(
    out: &mut [u8],
    kind: ErrorKind,
    src: Ipv6Addr,
    offending: &[u8],
) -> Result<usize, WireError> {
    ipv6::check_header(offending)?;
    let orig_len = ipv6::HEADER_LEN + usize::from(u16::from_be_bytes([offending[4], offending[5]]));
    let quote_len = orig_len
        .min(offending.len())
        .min(MAX_ERROR_LEN - ipv6::HEADER_LEN - ERROR_HEADER_LEN);
    let icmp_len = ERROR_HEADER_LEN + quote_len;
    let total = ipv6::HEADER_LEN + icmp_len;
    let out = out.get_mut(..total).ok_or(WireError::BufferTooSmall)?;
    let dst = ipv6::addr_at(offending, ipv6::field::SRC.start);
    ipv6::Repr {
        src,
        dst,
        next_header: ip_proto::ICMPV6,
        payload_len: icmp_len,
        hop_limit: ERROR_HOP_LIMIT,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(out)?;
    let icmp = &mut out[ipv6::HEADER_LEN..];
    let (t, code, rest) = kind.type_code_rest();
    icmp[field::TYPE] = t;
    icmp[field::CODE] = code;
    icmp[field::REST].copy_from_slice(&rest.to_be_bytes());
    icmp[ERROR_HEADER_LEN..].copy_from_slice(&offending[..quote_len]);
    fill_checksum(icmp, &src, &dst);
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{icmpv6::DestUnreachableCode, Icmpv6Slice, Icmpv6Type, PacketBuilder};

    const CLIENT: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    const VIP: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
    ];

    fn udp6(payload_len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv6(CLIENT, VIP, 1)
            .udp(5000, 53)
            .write(&mut out, &vec![0x11; payload_len])
            .unwrap();
        out
    }

    fn etherparse_error(t: Icmpv6Type, quote: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv6(VIP, CLIENT, ERROR_HOP_LIMIT)
            .icmpv6(t)
            .write(&mut out, quote)
            .unwrap();
        out
    }

    #[test]
    fn packet_too_big_bytes() {
        let offending = udp6(1400);
        let mut out = vec![0u8; 1500];
        let n = build_error(
            &mut out,
            ErrorKind::PacketTooBig { mtu: 1280 },
            VIP.into(),
            &offending,
        )
        .unwrap();
        assert_eq!(n, MAX_ERROR_LEN);
        let want = etherparse_error(Icmpv6Type::PacketTooBig { mtu: 1280 }, &offending[..1232]);
        assert_eq!(out[..n], want[..]);
        let p = Packet::new_checked(&out[40..n]).unwrap();
        assert_eq!((p.msg_type(), p.mtu()), (2, 1280));
        assert!(p.is_error());
        assert!(p.verify_checksum(&VIP.into(), &CLIENT.into()));
        assert_eq!(p.invoking_packet(), &offending[..1232]);
    }

    #[test]
    fn port_unreachable_and_hop_limit_bytes() {
        let offending = udp6(4);
        let mut out = [0u8; 200];
        let n = build_error(&mut out, ErrorKind::PortUnreachable, VIP.into(), &offending).unwrap();
        let want = etherparse_error(
            Icmpv6Type::DestinationUnreachable(DestUnreachableCode::Port),
            &offending,
        );
        assert_eq!(out[..n], want[..]);
        let n = build_error(
            &mut out,
            ErrorKind::HopLimitExceeded,
            VIP.into(),
            &offending,
        )
        .unwrap();
        let want = etherparse_error(
            Icmpv6Type::TimeExceeded(etherparse::icmpv6::TimeExceededCode::HopLimitExceeded),
            &offending,
        );
        assert_eq!(out[..n], want[..]);
        assert!(Icmpv6Slice::from_slice(&out[40..n]).is_ok());
        assert_eq!(
            build_error(
                &mut out[..60],
                ErrorKind::HopLimitExceeded,
                VIP.into(),
                &offending
            ),
            Err(WireError::BufferTooSmall)
        );
    }

    #[test]
    fn view_and_pseudo_header_update() {
        let mut b = Vec::new();
        PacketBuilder::ipv6(CLIENT, VIP, 64)
            .icmpv6_echo_request(1, 2)
            .write(&mut b, b"hi")
            .unwrap();
        let mut p = Packet::new_checked(&mut b[40..]).unwrap();
        assert_eq!((p.msg_type(), p.code(), p.is_error()), (128, 0, false));
        assert!(p.verify_checksum(&CLIENT.into(), &VIP.into()));
        let rip = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 5);
        p.update_pseudo_header(&VIP.into(), &rip);
        assert!(p.verify_checksum(&CLIENT.into(), &rip));
        assert_eq!(
            Packet::new_checked(&[1u8, 0, 0, 0, 0][..]).unwrap_err(),
            WireError::Icmpv6Truncated
        );
        assert_eq!(
            Packet::new_checked(&[128u8, 0, 0][..]).unwrap_err(),
            WireError::Icmpv6Truncated
        );
        assert!(Packet::new_checked(&[128u8, 0, 0, 0][..]).is_ok());
    }
}
