//! PING_CHECK, sans-IO: the ICMP (RFC 792) and ICMPv6 (RFC 4443 §4.1)
//! echo requests a ping check sends, and which packets read back from a
//! raw socket answer them.
//!
//! keepalived's check_ping.c uses ping sockets (SOCK_DGRAM), where the
//! kernel delivers only the replies to that socket. A raw socket sees every
//! ICMP message the host receives, so here a packet counts only if it is
//! an echo reply from the target with our identifier and sequence number,
//! or an error that quotes our echo request to the target. Everything else
//! (our own request looped back, other pings, redirects) is `None`: keep
//! waiting. Packets are read with the `xvs-wire` codecs and never trusted:
//! short or malformed ones are `None`.
//!
//! Layer: health (pure).

use std::net::{Ipv4Addr, Ipv6Addr};

use xvs_wire::{checksum, icmp, icmpv6, ip_proto, ipv4, ipv6};

use crate::spec::Outcome;

/// Bytes 4-5 (identifier) and 6-7 (sequence) of an echo message, in
/// ICMP (RFC 792) and ICMPv6 (RFC 4443 §4.1) alike.
const ECHO_ID: std::ops::Range<usize> = 4..6;
const ECHO_SEQ: std::ops::Range<usize> = 6..8;
const ECHO_HEADER_LEN: usize = 8;

/// An ICMP echo request (type 8): header and payload, checksum set (RFC
/// 792: over the whole message). A raw IPv4 socket adds the IP header.
pub fn echo_request_v4(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut msg = echo(icmp::msg_type::ECHO_REQUEST, id, seq, payload);
    let sum = checksum::checksum(&msg);
    msg[icmp::field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    msg
}

/// An ICMPv6 echo request (type 128) with checksum 0: the kernel computes
/// it for raw ICMPv6 sockets (RFC 3542 §3.1), since it covers the
/// pseudo-header and so the source address the kernel picks.
pub fn echo_request_v6(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    echo(icmpv6::msg_type::ECHO_REQUEST, id, seq, payload)
}

fn echo(msg_type: u8, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut msg = vec![0; ECHO_HEADER_LEN];
    msg[0] = msg_type;
    msg[ECHO_ID].copy_from_slice(&id.to_be_bytes());
    msg[ECHO_SEQ].copy_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(payload);
    msg
}

/// Judges a packet read from a raw IPv4 ICMP socket (IPv4 header first).
/// Read into a buffer of 64 KiB: a packet cut short by the read fails its
/// length checks and is ignored.
///
/// `Some(Pass)`: an echo reply from `target` with `id` and `seq`.
/// `Some(Fail)`: destination unreachable, time exceeded or parameter
/// problem, from anyone, quoting our echo request to `target`.
/// `None`: anything else, or a checksum that does not verify.
pub fn match_reply_v4(packet: &[u8], target: Ipv4Addr, id: u16, seq: u16) -> Option<Outcome> {
    let ip = ipv4::Packet::new_checked(packet).ok()?;
    // Raw sockets get reassembled datagrams; a fragment here is not ours.
    if ip.protocol() != ip_proto::ICMP || ip.is_fragment() {
        return None;
    }
    let msg = icmp::Packet::new_checked(ip.payload()).ok()?;
    // The kernel hands raw sockets ICMP before checking its checksum.
    if !msg.verify_checksum() {
        return None;
    }
    if msg.msg_type() == icmp::msg_type::ECHO_REPLY {
        let ours = ip.src() == target && msg.echo_ident() == id && msg.echo_seq() == seq;
        return ours.then(Outcome::pass);
    }
    let what = match msg.msg_type() {
        icmp::msg_type::DEST_UNREACHABLE => "destination unreachable",
        icmp::msg_type::TIME_EXCEEDED => "time exceeded",
        icmp::msg_type::PARAMETER_PROBLEM => "parameter problem",
        // Source quench is deprecated (RFC 6633); redirects and the rest
        // say nothing about the target.
        _ => return None,
    };
    quotes_our_echo_v4(msg.payload(), target, id, seq)
        .then(|| Outcome::fail(format!("ICMP {what} (code {})", msg.code())))
}

/// The quote of an ICMP error (RFC 792: the IP header and at least 8 bytes
/// of data) is our echo request to `target`.
fn quotes_our_echo_v4(quote: &[u8], target: Ipv4Addr, id: u16, seq: u16) -> bool {
    let Some(&ver_ihl) = quote.first() else {
        return false;
    };
    let header_len = usize::from(ver_ihl & 0x0f) * 4;
    if ver_ihl >> 4 != 4 || header_len < ipv4::MIN_HEADER_LEN {
        return false;
    }
    let (Some(&protocol), Some(dst)) = (
        quote.get(ipv4::field::PROTOCOL),
        quote.get(ipv4::field::DST),
    ) else {
        return false;
    };
    let echo = quote.get(header_len..header_len + ECHO_HEADER_LEN);
    protocol == ip_proto::ICMP
        && dst == target.octets()
        && echo.is_some_and(|e| is_echo(e, icmp::msg_type::ECHO_REQUEST, id, seq))
}

/// Judges a message read from a raw ICMPv6 socket (no IPv6 header; `from`
/// is the source recvfrom gave). The kernel has verified its checksum.
///
/// `Some(Pass)`: an echo reply from `target` with `id` and `seq`.
/// `Some(Fail)`: destination unreachable, time exceeded or parameter
/// problem quoting our echo request to `target`. `None`: anything else
/// (Packet Too Big included: the kernel lowers the path MTU and the next
/// request fits).
pub fn match_reply_v6(
    packet: &[u8],
    from: Ipv6Addr,
    target: Ipv6Addr,
    id: u16,
    seq: u16,
) -> Option<Outcome> {
    let msg = icmpv6::Packet::new_checked(packet).ok()?;
    if msg.msg_type() == icmpv6::msg_type::ECHO_REPLY {
        let echo = packet.get(..ECHO_HEADER_LEN)?;
        let ours = from == target && is_echo(echo, icmpv6::msg_type::ECHO_REPLY, id, seq);
        return ours.then(Outcome::pass);
    }
    let what = match msg.msg_type() {
        icmpv6::msg_type::DEST_UNREACHABLE => "destination unreachable",
        icmpv6::msg_type::TIME_EXCEEDED => "time exceeded",
        icmpv6::msg_type::PARAMETER_PROBLEM => "parameter problem",
        _ => return None,
    };
    quotes_our_echo_v6(msg.invoking_packet(), target, id, seq)
        .then(|| Outcome::fail(format!("ICMPv6 {what} (code {})", msg.code())))
}

/// The invoking packet of an ICMPv6 error (RFC 4443 §2.4 (c)) is our echo
/// request to `target`. Ours carry no extension headers, so the ICMPv6
/// header follows the fixed header directly.
fn quotes_our_echo_v6(quote: &[u8], target: Ipv6Addr, id: u16, seq: u16) -> bool {
    let (Some(&version), Some(&next_header), Some(dst)) = (
        quote.first(),
        quote.get(ipv6::field::NEXT_HEADER),
        quote.get(ipv6::field::DST),
    ) else {
        return false;
    };
    let echo = quote.get(ipv6::HEADER_LEN..ipv6::HEADER_LEN + ECHO_HEADER_LEN);
    version >> 4 == 6
        && next_header == ip_proto::ICMPV6
        && dst == target.octets()
        && echo.is_some_and(|e| is_echo(e, icmpv6::msg_type::ECHO_REQUEST, id, seq))
}

/// `echo` (8 bytes) is an echo message of `msg_type` with `id` and `seq`.
fn is_echo(echo: &[u8], msg_type: u8, id: u16, seq: u16) -> bool {
    echo.first() == Some(&msg_type)
        && echo.get(ECHO_ID) == Some(&id.to_be_bytes()[..])
        && echo.get(ECHO_SEQ) == Some(&seq.to_be_bytes()[..])
}

#[cfg(test)]
#[path = "icmp_tests.rs"]
mod tests;
