//! The rtnetlink requests behind announcing a VIP: bring the route device
//! up (`RTM_NEWLINK` with IFF_UP in the change mask) and add or remove a
//! host route through it (`RTM_NEWROUTE` / `RTM_DELROUTE`). Layouts and
//! numbers follow include/uapi/linux/{netlink,rtnetlink}.h. Encoding and
//! reply parsing are pure and tested on bytes; [`request`] adds one
//! socket round trip.

use std::net::IpAddr;
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    bind, recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr,
    SockFlag, SockProtocol, SockType,
};
use nix::sys::time::{TimeVal, TimeValLike};

use crate::RouteError;

const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const IFF_UP: u32 = 0x1;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_TABLE: u16 = 15;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// xvs's default route protocol number (the `proto` of `ip route`): not
/// one of the numbers in iproute2's rt_protos, so BIRD and operators can
/// tell xvs's routes from everyone else's.
pub const RTPROT_XVS: u8 = 210;

/// One VIP host route through the route device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: IpAddr,
    pub ifindex: u32,
    pub table: u32,
    pub protocol: u8,
}

fn push_nlmsghdr(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32) {
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched by finish()
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
}

fn push_attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    // Payloads here are at most 16 bytes: the length fits a u16.
    buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize((buf.len() + 3) & !3, 0);
}

fn finish(mut buf: Vec<u8>) -> Vec<u8> {
    let len = (buf.len() as u32).to_ne_bytes();
    buf[..4].copy_from_slice(&len);
    buf
}

/// `ip link set <dev> up`.
pub(crate) fn encode_link_up(seq: u32, ifindex: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32);
    push_nlmsghdr(&mut buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
    buf.push(0); // AF_UNSPEC
    buf.push(0);
    buf.extend_from_slice(&0u16.to_ne_bytes()); // device type
    buf.extend_from_slice(&ifindex.to_ne_bytes());
    buf.extend_from_slice(&IFF_UP.to_ne_bytes()); // flags
    buf.extend_from_slice(&IFF_UP.to_ne_bytes()); // change mask: only IFF_UP
    finish(buf)
}

/// `ip route replace VIP/32 dev <dev> proto <p> table <t> scope link`
/// (`add`), or `ip route del` of the same (`!add`).
pub(crate) fn encode_route(seq: u32, r: &RouteSpec, add: bool) -> Vec<u8> {
    let (family, dst_len, addr): (u8, u8, Vec<u8>) = match r.dst {
        IpAddr::V4(a) => (AF_INET, 32, a.octets().to_vec()),
        IpAddr::V6(a) => (AF_INET6, 128, a.octets().to_vec()),
    };
    let (ty, flags) = if add {
        (
            RTM_NEWROUTE,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
        )
    } else {
        (RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK)
    };
    let mut buf = Vec::with_capacity(64);
    push_nlmsghdr(&mut buf, ty, flags, seq);
    // struct rtmsg: tables above 255 only fit RTA_TABLE; rtm_table then
    // says RT_TABLE_UNSPEC (0), as iproute2 does.
    buf.extend_from_slice(&[
        family,
        dst_len,
        0, // src_len
        0, // tos
        u8::try_from(r.table).unwrap_or(0),
        r.protocol,
        RT_SCOPE_LINK,
        RTN_UNICAST,
    ]);
    buf.extend_from_slice(&0u32.to_ne_bytes()); // rtm_flags
    push_attr(&mut buf, RTA_TABLE, &r.table.to_ne_bytes());
    push_attr(&mut buf, RTA_DST, &addr);
    push_attr(&mut buf, RTA_OIF, &r.ifindex.to_ne_bytes());
    finish(buf)
}

/// The kernel's answer to request `seq`: Ok on an ack, the errno on a
/// refusal, None for a message about something else.
pub(crate) fn parse_ack(buf: &[u8], seq: u32) -> Result<Option<Result<(), i32>>, RouteError> {
    let mut rest = buf;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < 16 || len > rest.len() {
            return Err(RouteError::Malformed("message length"));
        }
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        let got = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if ty == NLMSG_ERROR && got == seq {
            let e = rest
                .get(16..20)
                .ok_or(RouteError::Malformed("short error message"))?;
            let errno = i32::from_ne_bytes([e[0], e[1], e[2], e[3]]);
            return Ok(Some(if errno == 0 { Ok(()) } else { Err(-errno) }));
        }
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    Ok(None)
}

/// Send `msg` (sequence `seq`) and wait for its ack; `what` names the
/// request in a refusal.
pub(crate) fn request(msg: &[u8], seq: u32, what: &str) -> Result<(), RouteError> {
    let sock = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|source| RouteError::Socket {
        call: "socket",
        source,
    })?;
    bind(sock.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(|source| RouteError::Socket {
        call: "bind",
        source,
    })?;
    // The kernel answers at once; the timeout turns a lost reply into an
    // error instead of a hang of the control thread.
    setsockopt(&sock, sockopt::ReceiveTimeout, &TimeVal::seconds(2)).map_err(|source| {
        RouteError::Socket {
            call: "setsockopt",
            source,
        }
    })?;
    sendto(
        sock.as_raw_fd(),
        msg,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(|source| RouteError::Socket {
        call: "sendto",
        source,
    })?;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(|source| {
            RouteError::Socket {
                call: "recv",
                source,
            }
        })?;
        match parse_ack(buf.get(..n).unwrap_or(&[]), seq)? {
            Some(Ok(())) => return Ok(()),
            Some(Err(errno)) => {
                return Err(RouteError::Kernel {
                    what: what.to_string(),
                    source: std::io::Error::from_raw_os_error(errno),
                })
            }
            None => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn route_add_is_rtm_newroute_with_table_dst_and_oif() {
        let r = RouteSpec {
            dst: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 100)),
            ifindex: 7,
            table: 1000,
            protocol: RTPROT_XVS,
        };
        let m = encode_route(9, &r, true);
        assert_eq!(m.len(), 16 + 12 + 8 + 8 + 8);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWROUTE);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), 0x505);
        // rtmsg: IPv4, /32, table above 255 → 0 in the header, proto, scope, type.
        assert_eq!(&m[16..24], &[2, 32, 0, 0, 0, 210, 253, 1]);
        assert_eq!(&m[28..32], &[8, 0, 15, 0]);
        assert_eq!(u32::from_ne_bytes(m[32..36].try_into().unwrap()), 1000);
        assert_eq!(&m[36..44], &[8, 0, 1, 0, 198, 18, 0, 100]);
        assert_eq!(&m[44..48], &[8, 0, 4, 0]);
        assert_eq!(u32::from_ne_bytes(m[48..52].try_into().unwrap()), 7);
        let d = encode_route(9, &RouteSpec { table: 100, ..r }, false);
        assert_eq!(u16::from_ne_bytes([d[4], d[5]]), RTM_DELROUTE);
        assert_eq!(u16::from_ne_bytes([d[6], d[7]]), 0x5);
        assert_eq!(d[20], 100, "small tables also go in rtm_table");
    }

    #[test]
    fn ipv6_routes_are_128_bit_host_routes() {
        let r = RouteSpec {
            dst: "fd00::100".parse().unwrap(),
            ifindex: 3,
            table: 100,
            protocol: 210,
        };
        let m = encode_route(1, &r, true);
        assert_eq!(&m[16..18], &[10, 128]);
        assert_eq!(&m[36..40], &[20, 0, 1, 0]);
        assert_eq!(m.len(), 16 + 12 + 8 + 20 + 8);
    }

    #[test]
    fn link_up_sets_only_iff_up() {
        let m = encode_link_up(4, 12);
        assert_eq!(m.len(), 32);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWLINK);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 12);
        assert_eq!(&m[24..32], &[1, 0, 0, 0, 1, 0, 0, 0]);
    }

    fn error_msg(seq: u32, errno: i32) -> Vec<u8> {
        let mut m = Vec::new();
        push_nlmsghdr(&mut m, NLMSG_ERROR, 0, seq);
        m.extend_from_slice(&errno.to_ne_bytes());
        m.extend_from_slice(&[0u8; 16]); // the echoed request header
        finish(m)
    }

    #[test]
    fn acks_and_refusals_are_matched_by_sequence() {
        assert_eq!(parse_ack(&error_msg(5, 0), 5).unwrap(), Some(Ok(())));
        assert_eq!(parse_ack(&error_msg(5, -17), 5).unwrap(), Some(Err(17)));
        assert_eq!(parse_ack(&error_msg(4, 0), 5).unwrap(), None);
        let mut two = error_msg(4, 0);
        two.extend(error_msg(5, -3));
        assert_eq!(parse_ack(&two, 5).unwrap(), Some(Err(3)));
        assert!(
            parse_ack(&[0xff; 20], 5).is_err(),
            "length beyond the buffer"
        );
        let mut short = error_msg(5, 0);
        short.truncate(16);
        short[0..4].copy_from_slice(&16u32.to_ne_bytes());
        assert!(parse_ack(&short, 5).is_err());
    }
}
