//! ICMP for IPv4 (RFC 792): a view with type, code and checksum, the offset
//! of the packet quoted in error messages, and builders for the errors a
//! director sends: fragmentation needed (RFC 1191 §4, next-hop MTU in bytes
//! 6-7), port unreachable, and time exceeded in transit.
//!
//! Errors quote as much of the offending packet as fits in 576 bytes
//! (RFC 1812 §4.3.2.3), which is at least the IP header plus the 8 bytes
//! RFC 792 requires. Building one copies the quote: it is the slow path.

use std::net::Ipv4Addr;

use crate::checksum;
use crate::ipv4;
use crate::{ip_proto, WireError};

/// ICMP header length (type, code, checksum, 4 bytes rest-of-header).
pub const HEADER_LEN: usize = 8;
/// Largest ICMP error datagram we send (RFC 1812 §4.3.2.3).
pub const MAX_ERROR_LEN: usize = 576;
/// TTL of the errors we originate (Linux's default ip_default_ttl).
pub const ERROR_TTL: u8 = 64;

pub mod msg_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const SOURCE_QUENCH: u8 = 4;
    pub const REDIRECT: u8 = 5;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAMETER_PROBLEM: u8 = 12;
}

/// Destination-unreachable codes (RFC 792, RFC 1191).
pub mod unreach_code {
    pub const PORT: u8 = 3;
    pub const FRAG_NEEDED: u8 = 4;
}

pub mod field {
    //! Byte ranges of the header.
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const REST: Range<usize> = 4..8;
    /// RFC 1191 §4: next-hop MTU in a fragmentation-needed message.
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
}

/// True for the error types that quote a packet and relate to a flow:
/// destination unreachable, source quench, time exceeded and parameter
/// problem (the set ip_vs_in_icmp handles, plus 12).
pub const fn is_error_type(t: u8) -> bool {
    matches!(
        t,
        msg_type::DEST_UNREACHABLE
            | msg_type::SOURCE_QUENCH
            | msg_type::TIME_EXCEEDED
            | msg_type::PARAMETER_PROBLEM
    )
}

/// A validated view of an ICMP message (the IPv4 payload).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::IcmpTruncated);
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

    /// Bytes 4-7, whose meaning depends on the type.
    pub fn rest_of_header(&self) -> u32 {
        let b = self.b();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    /// Echo identifier (types 0 and 8).
    pub fn echo_ident(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]])
    }

    /// Echo sequence number (types 0 and 8).
    pub fn echo_seq(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }

    /// Next-hop MTU of a fragmentation-needed message (RFC 1191 §4); zero
    /// from pre-RFC 1191 routers.
    pub fn next_hop_mtu(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }

    pub fn is_error(&self) -> bool {
        is_error_type(self.msg_type())
    }

    /// For error messages, the quoted packet: it starts at offset 8.
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }

    /// RFC 792: the checksum covers the whole ICMP message.
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(checksum::sum_bytes(0, self.b()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn fill_checksum(&mut self) {
        let b = self.buffer.as_mut();
        b[field::CHECKSUM].fill(0);
        let hc = checksum::checksum(b);
        b[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// The ICMP errors a director originates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Type 3 code 4 with the MTU the packet must fit (RFC 1191 §4).
    FragmentationNeeded { mtu: u16 },
    /// Type 3 code 3: no real server for the service (ip_vs_leave).
    PortUnreachable,
    /// Type 11 code 0: TTL exceeded in transit (RFC 1812 §5.3.1).
    TimeExceeded,
}

impl ErrorKind {
    fn type_code_rest(self) -> (u8, u8, u32) {
        match self {
            ErrorKind::FragmentationNeeded { mtu } => (
                msg_type::DEST_UNREACHABLE,
                unreach_code::FRAG_NEEDED,
                u32::from(mtu),
            ),
            ErrorKind::PortUnreachable => (msg_type::DEST_UNREACHABLE, unreach_code::PORT, 0),
            ErrorKind::TimeExceeded => (msg_type::TIME_EXCEEDED, 0, 0),
        }
    }
}

/// Builds an IPv4 packet carrying an ICMP error about `offending` (an IPv4
/// packet, from its IP header; bytes past its total length are ignored)
/// into `out`, and returns the packet length. The caller puts the
/// link-layer header in front (write into `out[14..]`, then
/// `ethernet::write_header`).
///
/// The error goes back to the offending packet's source, from `src`, with
/// a fresh `ident`. As Linux icmp_send(): TOS keeps the offending packet's
/// TOS bits with precedence "internetwork control" (0xC0), DF is clear,
/// TTL 64. Whether an error may be sent at all (RFC 1122 §3.2.2) is
/// checked by `frame::may_send_icmp_error`.
pub fn build_error(
    out: &mut [u8],
    kind: ErrorKind,
    src: Ipv4Addr,
    ident: u16,
    offending: &[u8],
) -> Result<usize, WireError> {
    ipv4::check_header(offending)?;
    let orig_len = usize::from(u16::from_be_bytes([offending[2], offending[3]]));
    let quote_len = orig_len
        .min(offending.len())
        .min(MAX_ERROR_LEN - ipv4::MIN_HEADER_LEN - HEADER_LEN);
    let icmp_len = HEADER_LEN + quote_len;
    let total = ipv4::MIN_HEADER_LEN + icmp_len;
    let out = out.get_mut(..total).ok_or(WireError::BufferTooSmall)?;
    let orig_src = ipv4::addr_at(offending, ipv4::field::SRC.start);
    let orig_tos = offending[ipv4::field::TOS];
    ipv4::Repr {
        src,
        dst: orig_src,
        protocol: ip_proto::ICMP,
        payload_len: icmp_len,
        ttl: ERROR_TTL,
        // RT_TOS keeps bits 1-4; precedence 6 (RFC 1812 §4.3.2.5).
        tos: (orig_tos & 0x1e) | 0xc0,
        ident,
        dont_fragment: false,
    }
    .emit(out)?;
    let icmp = &mut out[ipv4::MIN_HEADER_LEN..];
    let (t, code, rest) = kind.type_code_rest();
    icmp[field::TYPE] = t;
    icmp[field::CODE] = code;
    icmp[field::CHECKSUM].fill(0);
    icmp[field::REST].copy_from_slice(&rest.to_be_bytes());
    icmp[HEADER_LEN..].copy_from_slice(&offending[..quote_len]);
    let hc = checksum::checksum(icmp);
    icmp[field::CHECKSUM].copy_from_slice(&hc.to_be_bytes());
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{
        icmpv4::{DestUnreachableHeader, TimeExceededCode},
        IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, PacketBuilder,
    };

    const CLIENT: [u8; 4] = [198, 51, 100, 9];
    const VIP: [u8; 4] = [192, 0, 2, 80];

    fn tcp_packet(payload_len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4(CLIENT, VIP, 1)
            .tcp(33000, 80, 5, 1024)
            .write(&mut out, &vec![0x5a; payload_len])
            .unwrap();
        out
    }

    /// The whole ICMP packet etherparse would build for this error.
    fn etherparse_error(t: Icmpv4Type, quote: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4(VIP, CLIENT, ERROR_TTL)
            .icmpv4(t)
            .write(&mut out, quote)
            .unwrap();
        out
    }

    /// etherparse's defaults differ from Linux icmp_send(): TOS 0 and DF
    /// set. Patch them to what we (and Linux) send.
    fn as_linux_sends(mut want: Vec<u8>, ident: u16) -> Vec<u8> {
        want[1] = 0xc0;
        want[4..6].copy_from_slice(&ident.to_be_bytes());
        want[6] &= !0x40;
        ipv4::Packet::new_checked(&mut want[..])
            .unwrap()
            .fill_checksum();
        want
    }

    #[test]
    fn echo_view() {
        let mut b = Vec::new();
        PacketBuilder::ipv4(CLIENT, VIP, 64)
            .icmpv4_echo_request(0x1234, 7)
            .write(&mut b, b"ping")
            .unwrap();
        let p = Packet::new_checked(&b[20..]).unwrap();
        assert_eq!((p.msg_type(), p.code()), (msg_type::ECHO_REQUEST, 0));
        assert_eq!((p.echo_ident(), p.echo_seq()), (0x1234, 7));
        assert!(!p.is_error());
        assert!(p.verify_checksum());
        let h = Icmpv4Header::from_slice(&b[20..]).unwrap().0;
        assert_eq!(p.checksum(), h.checksum);
        assert_eq!(
            h.icmp_type,
            Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 0x1234, seq: 7 })
        );
        assert_eq!(
            Packet::new_checked(&b[20..27]).unwrap_err(),
            WireError::IcmpTruncated
        );
    }

    #[test]
    fn frag_needed_bytes() {
        let offending = tcp_packet(1460);
        let mut out = [0u8; 700];
        let n = build_error(
            &mut out,
            ErrorKind::FragmentationNeeded { mtu: 1400 },
            Ipv4Addr::from(VIP),
            0,
            &offending,
        )
        .unwrap();
        assert_eq!(n, MAX_ERROR_LEN);
        let quote = &offending[..MAX_ERROR_LEN - 28];
        let want = etherparse_error(
            Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
                next_hop_mtu: 1400,
            }),
            quote,
        );
        let want = as_linux_sends(want, 0);
        assert_eq!(out[..n], want[..]);
        let icmp = Packet::new_checked(&out[20..n]).unwrap();
        assert_eq!(icmp.next_hop_mtu(), 1400);
        assert!(icmp.verify_checksum() && icmp.is_error());
        assert!(Icmpv4Slice::from_slice(&out[20..n]).is_ok());
    }

    #[test]
    fn short_packets_are_quoted_whole() {
        let offending = tcp_packet(3);
        let mut out = [0u8; 600];
        let n = build_error(&mut out, ErrorKind::TimeExceeded, VIP.into(), 9, &offending).unwrap();
        assert_eq!(n, 28 + offending.len());
        let want = etherparse_error(
            Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
            &offending,
        );
        let want = as_linux_sends(want, 9);
        assert_eq!(out[..n], want[..]);

        // Ethernet padding after the packet is not quoted.
        let mut padded = offending.clone();
        padded.extend_from_slice(&[0; 10]);
        let n2 = build_error(&mut out, ErrorKind::PortUnreachable, VIP.into(), 9, &padded).unwrap();
        assert_eq!(n2, n);
        assert_eq!((out[20], out[21]), (3, 3));
    }

    #[test]
    fn builder_errors() {
        let offending = tcp_packet(0);
        let mut out = [0u8; 40];
        assert_eq!(
            build_error(
                &mut out,
                ErrorKind::PortUnreachable,
                VIP.into(),
                0,
                &offending
            ),
            Err(WireError::BufferTooSmall)
        );
        let mut big = [0u8; 100];
        assert_eq!(
            build_error(
                &mut big,
                ErrorKind::PortUnreachable,
                VIP.into(),
                0,
                &offending[..10]
            ),
            Err(WireError::Ipv4Truncated)
        );
    }
}
