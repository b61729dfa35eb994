//! The two rtnetlink requests xvs needs around XDP attachment: which XDP
//! programs an interface has (`RTM_GETLINK`, the `IFLA_XDP` nest) and
//! detaching one program by identity (`RTM_SETLINK` with `IFLA_XDP_FD = -1`,
//! `XDP_FLAGS_REPLACE` and `IFLA_XDP_EXPECTED_FD`, Linux 5.7+), which is how a
//! stale program left by a crashed process is removed without touching
//! anyone else's.
//!
//! Message encoding and decoding are pure functions tested on byte arrays;
//! [`attached_programs`] and [`detach_program`] add one socket round trip.
//! Layouts and numbers follow include/uapi/linux/{netlink,rtnetlink,if_link}.h.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{
    bind, recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr,
    SockFlag, SockProtocol, SockType,
};
use nix::sys::time::{TimeVal, TimeValLike};

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = 0x3fff;

const IFLA_XDP: u16 = 43;
const IFLA_EXT_MASK: u16 = 29;
/// RTEXT_FILTER_SKIP_STATS: leave the counters out of the reply.
const RTEXT_FILTER_SKIP_STATS: u32 = 1 << 3;

const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;
const IFLA_XDP_EXPECTED_FD: u16 = 8;

const XDP_ATTACHED_DRV: u8 = 1;
const XDP_ATTACHED_SKB: u8 = 2;
const XDP_ATTACHED_HW: u8 = 3;
const XDP_ATTACHED_MULTI: u8 = 4;

const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_FLAGS_HW_MODE: u32 = 1 << 3;
const XDP_FLAGS_REPLACE: u32 = 1 << 4;

/// Where in the stack an attached XDP program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpSlot {
    /// In the driver (native XDP).
    Driver,
    /// In the generic (skb) path.
    Generic,
    /// Offloaded to the NIC.
    Hardware,
}

impl XdpSlot {
    fn flags(self) -> u32 {
        match self {
            XdpSlot::Driver => XDP_FLAGS_DRV_MODE,
            XdpSlot::Generic => XDP_FLAGS_SKB_MODE,
            XdpSlot::Hardware => XDP_FLAGS_HW_MODE,
        }
    }
}

/// One XDP program attached to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachedProgram {
    /// The slot it occupies.
    pub slot: XdpSlot,
    /// The kernel's program id (as `bpftool prog show id N`).
    pub prog_id: u32,
}

/// A failed rtnetlink exchange.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket call itself failed.
    #[error("rtnetlink {call}: {source}")]
    Socket {
        call: &'static str,
        #[source]
        source: nix::Error,
    },
    /// The kernel answered the request with an error.
    #[error("rtnetlink request refused: {0}")]
    Refused(nix::Error),
    /// The reply did not parse.
    #[error("malformed rtnetlink reply: {0}")]
    Malformed(&'static str),
}

/// Lists the XDP programs attached to interface `ifindex`.
pub fn attached_programs(ifindex: u32) -> Result<Vec<AttachedProgram>, NetlinkError> {
    let sock = open()?;
    let seq = 1;
    sendto_kernel(&sock, &encode_getlink(seq, ifindex))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(|source| {
            NetlinkError::Socket {
                call: "recv",
                source,
            }
        })?;
        match parse_reply(buf.get(..n).unwrap_or(&[]), seq)? {
            Reply::Link(progs) => return Ok(progs),
            Reply::Ack => return Err(NetlinkError::Malformed("ack instead of a link message")),
            Reply::Other => continue,
        }
    }
}

/// Detaches the program `expected` from `slot` of interface `ifindex`, and
/// only that program: if something else is attached there by now the
/// kernel refuses (EEXIST) instead of removing it.
pub fn detach_program(
    ifindex: u32,
    slot: XdpSlot,
    expected: BorrowedFd<'_>,
) -> Result<(), NetlinkError> {
    set_xdp_fd(ifindex, None, Some(expected), slot)
}

/// Attaches program `fd` to `slot` the legacy way (no BPF link: it stays
/// attached when the process exits), or with `fd = None` detaches. With
/// `expected`, the kernel only acts if that program is the one attached.
/// xvs itself attaches through BPF links; this exists to detach stale
/// programs and to let tests create one.
pub fn set_xdp_fd(
    ifindex: u32,
    fd: Option<BorrowedFd<'_>>,
    expected: Option<BorrowedFd<'_>>,
    slot: XdpSlot,
) -> Result<(), NetlinkError> {
    let sock = open()?;
    let seq = 2;
    let msg = encode_setlink_xdp(
        seq,
        ifindex,
        fd.map_or(-1, |f| f.as_raw_fd()),
        expected.map(|f| f.as_raw_fd()),
        slot.flags(),
    );
    sendto_kernel(&sock, &msg)?;
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let n = recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(|source| {
            NetlinkError::Socket {
                call: "recv",
                source,
            }
        })?;
        match parse_reply(buf.get(..n).unwrap_or(&[]), seq)? {
            Reply::Ack => return Ok(()),
            Reply::Link(_) | Reply::Other => continue,
        }
    }
}

fn open() -> Result<OwnedFd, NetlinkError> {
    let sock = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|source| NetlinkError::Socket {
        call: "socket",
        source,
    })?;
    bind(sock.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(|source| NetlinkError::Socket {
        call: "bind",
        source,
    })?;
    // The kernel answers at once; the timeout only turns a lost reply into
    // an error instead of a hang.
    setsockopt(&sock, sockopt::ReceiveTimeout, &TimeVal::seconds(5)).map_err(|source| {
        NetlinkError::Socket {
            call: "setsockopt",
            source,
        }
    })?;
    Ok(sock)
}

fn sendto_kernel(sock: &OwnedFd, msg: &[u8]) -> Result<(), NetlinkError> {
    sendto(
        sock.as_raw_fd(),
        msg,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(|source| NetlinkError::Socket {
        call: "sendto",
        source,
    })?;
    Ok(())
}

fn push_nlmsghdr(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32) {
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched by finish()
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
}

fn push_ifinfomsg(buf: &mut Vec<u8>, ifindex: u32) {
    buf.push(0); // AF_UNSPEC
    buf.push(0);
    buf.extend_from_slice(&0u16.to_ne_bytes()); // device type
    buf.extend_from_slice(&ifindex.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // flags
    buf.extend_from_slice(&0u32.to_ne_bytes()); // change mask
}

fn push_attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    // Attribute payloads here are at most a few bytes; u16 cannot overflow.
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align4(buf.len()), 0);
}

fn finish(mut buf: Vec<u8>) -> Vec<u8> {
    let len = (buf.len() as u32).to_ne_bytes();
    buf[..4].copy_from_slice(&len);
    buf
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// `RTM_GETLINK` for one interface, without statistics.
fn encode_getlink(seq: u32, ifindex: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(40);
    push_nlmsghdr(&mut buf, RTM_GETLINK, NLM_F_REQUEST, seq);
    push_ifinfomsg(&mut buf, ifindex);
    push_attr(
        &mut buf,
        IFLA_EXT_MASK,
        &RTEXT_FILTER_SKIP_STATS.to_ne_bytes(),
    );
    finish(buf)
}

/// `RTM_SETLINK` carrying an `IFLA_XDP` nest: program fd (-1 detaches),
/// mode flags, and the expected current program when given.
fn encode_setlink_xdp(
    seq: u32,
    ifindex: u32,
    fd: i32,
    expected: Option<i32>,
    flags: u32,
) -> Vec<u8> {
    let mut nest = Vec::with_capacity(24);
    push_attr(&mut nest, IFLA_XDP_FD, &fd.to_ne_bytes());
    let flags = if expected.is_some() {
        flags | XDP_FLAGS_REPLACE
    } else {
        flags
    };
    push_attr(&mut nest, IFLA_XDP_FLAGS, &flags.to_ne_bytes());
    if let Some(e) = expected {
        push_attr(&mut nest, IFLA_XDP_EXPECTED_FD, &e.to_ne_bytes());
    }
    let mut buf = Vec::with_capacity(64);
    push_nlmsghdr(&mut buf, RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
    push_ifinfomsg(&mut buf, ifindex);
    push_attr(&mut buf, IFLA_XDP | NLA_F_NESTED, &nest);
    finish(buf)
}

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// NLMSG_ERROR with error 0.
    Ack,
    /// RTM_NEWLINK: the XDP programs it lists.
    Link(Vec<AttachedProgram>),
    /// Something not for this request (another sequence number, DONE).
    Other,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses the first message of a datagram whose sequence number is `seq`.
fn parse_reply(datagram: &[u8], seq: u32) -> Result<Reply, NetlinkError> {
    let mut rest = datagram;
    while rest.len() >= NLMSG_HDRLEN {
        let len = u32_at(rest, 0).ok_or(NetlinkError::Malformed("short header"))? as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(NetlinkError::Malformed("message length out of range"));
        }
        let ty = u16_at(rest, 4).ok_or(NetlinkError::Malformed("short header"))?;
        let msg_seq = u32_at(rest, 8).ok_or(NetlinkError::Malformed("short header"))?;
        let body = &rest[NLMSG_HDRLEN..len];
        if msg_seq == seq {
            match ty {
                NLMSG_ERROR => {
                    let code =
                        u32_at(body, 0).ok_or(NetlinkError::Malformed("short error"))? as i32;
                    if code == 0 {
                        return Ok(Reply::Ack);
                    }
                    return Err(NetlinkError::Refused(nix::Error::from_raw(-code)));
                }
                RTM_NEWLINK => return parse_link(body).map(Reply::Link),
                NLMSG_DONE => return Ok(Reply::Other),
                _ => {}
            }
        }
        rest = rest.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(Reply::Other)
}

/// Iterates the attributes of `b` as (type without flags, payload).
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u16_at(b, 0)? as usize;
        let ty = u16_at(b, 2)?;
        let payload = b.get(4..len)?;
        b = b.get(align4(len)..).unwrap_or(&[]);
        Some((ty & NLA_TYPE_MASK, payload))
    })
}

fn parse_link(body: &[u8]) -> Result<Vec<AttachedProgram>, NetlinkError> {
    let attributes = body
        .get(IFINFOMSG_LEN..)
        .ok_or(NetlinkError::Malformed("short ifinfomsg"))?;
    let Some((_, xdp)) = attrs(attributes).find(|(ty, _)| *ty == IFLA_XDP) else {
        return Ok(Vec::new());
    };
    let mut attached = 0u8;
    let (mut prog, mut drv, mut skb, mut hw) = (0, 0, 0, 0);
    for (ty, payload) in attrs(xdp) {
        let word = u32_at(payload, 0);
        match ty {
            IFLA_XDP_ATTACHED => attached = payload.first().copied().unwrap_or(0),
            IFLA_XDP_PROG_ID => prog = word.unwrap_or(0),
            IFLA_XDP_DRV_PROG_ID => drv = word.unwrap_or(0),
            IFLA_XDP_SKB_PROG_ID => skb = word.unwrap_or(0),
            IFLA_XDP_HW_PROG_ID => hw = word.unwrap_or(0),
            _ => {}
        }
    }
    let one = |slot| {
        vec![AttachedProgram {
            slot,
            prog_id: prog,
        }]
    };
    Ok(match attached {
        XDP_ATTACHED_DRV => one(XdpSlot::Driver),
        XDP_ATTACHED_SKB => one(XdpSlot::Generic),
        XDP_ATTACHED_HW => one(XdpSlot::Hardware),
        XDP_ATTACHED_MULTI => [
            (XdpSlot::Driver, drv),
            (XdpSlot::Generic, skb),
            (XdpSlot::Hardware, hw),
        ]
        .into_iter()
        .filter(|(_, id)| *id != 0)
        .map(|(slot, prog_id)| AttachedProgram { slot, prog_id })
        .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(len: u32, ty: u16, flags: u16, seq: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v
    }

    fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_attr(&mut v, ty, payload);
        v
    }

    #[test]
    fn getlink_request_layout() {
        let msg = encode_getlink(7, 42);
        let mut want = hdr(40, RTM_GETLINK, NLM_F_REQUEST, 7);
        want.extend_from_slice(&[0, 0, 0, 0]);
        want.extend_from_slice(&42u32.to_ne_bytes());
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&IFLA_EXT_MASK.to_ne_bytes());
        want.extend_from_slice(&8u32.to_ne_bytes());
        assert_eq!(msg, want);
    }

    #[test]
    fn setlink_detach_by_identity_sets_replace_and_expected_fd() {
        let msg = encode_setlink_xdp(3, 5, -1, Some(9), XDP_FLAGS_SKB_MODE);
        // header 16 + ifinfomsg 16 + nest header 4 + three 8-byte attributes
        assert_eq!(msg.len(), 60);
        assert_eq!(u32_at(&msg, 0), Some(60));
        assert_eq!(u16_at(&msg, 4), Some(RTM_SETLINK));
        assert_eq!(u16_at(&msg, 6), Some(NLM_F_REQUEST | NLM_F_ACK));
        assert_eq!(u32_at(&msg, 20), Some(5), "ifindex");
        assert_eq!(u16_at(&msg, 32), Some(28), "nest length");
        assert_eq!(u16_at(&msg, 34), Some(IFLA_XDP | NLA_F_NESTED));
        let nest: Vec<_> = attrs(&msg[36..]).map(|(t, p)| (t, p.to_vec())).collect();
        assert_eq!(
            nest,
            vec![
                (IFLA_XDP_FD, (-1i32).to_ne_bytes().to_vec()),
                (
                    IFLA_XDP_FLAGS,
                    (XDP_FLAGS_SKB_MODE | XDP_FLAGS_REPLACE)
                        .to_ne_bytes()
                        .to_vec()
                ),
                (IFLA_XDP_EXPECTED_FD, 9i32.to_ne_bytes().to_vec()),
            ]
        );
    }

    #[test]
    fn setlink_without_expected_fd_has_no_replace_flag() {
        let msg = encode_setlink_xdp(3, 5, 11, None, XDP_FLAGS_DRV_MODE);
        let nest: Vec<_> = attrs(&msg[36..]).collect();
        assert_eq!(nest.len(), 2);
        assert_eq!(nest[1].1, XDP_FLAGS_DRV_MODE.to_ne_bytes());
    }

    fn newlink(seq: u32, xdp_nest: &[u8]) -> Vec<u8> {
        let mut body = vec![0u8; IFINFOMSG_LEN];
        body.extend(attr(3, b"veth0\0")); // IFLA_IFNAME before the nest
        body.extend(attr(IFLA_XDP | NLA_F_NESTED, xdp_nest));
        let mut msg = hdr((NLMSG_HDRLEN + body.len()) as u32, RTM_NEWLINK, 0, seq);
        msg.extend(body);
        msg
    }

    #[test]
    fn newlink_with_one_generic_program() {
        let mut nest = attr(IFLA_XDP_ATTACHED, &[XDP_ATTACHED_SKB]);
        nest.extend(attr(IFLA_XDP_PROG_ID, &77u32.to_ne_bytes()));
        let reply = parse_reply(&newlink(1, &nest), 1).unwrap();
        assert_eq!(
            reply,
            Reply::Link(vec![AttachedProgram {
                slot: XdpSlot::Generic,
                prog_id: 77
            }])
        );
    }

    #[test]
    fn newlink_with_multi_lists_every_slot() {
        let mut nest = attr(IFLA_XDP_ATTACHED, &[XDP_ATTACHED_MULTI]);
        nest.extend(attr(IFLA_XDP_DRV_PROG_ID, &5u32.to_ne_bytes()));
        nest.extend(attr(IFLA_XDP_HW_PROG_ID, &6u32.to_ne_bytes()));
        let Reply::Link(progs) = parse_reply(&newlink(1, &nest), 1).unwrap() else {
            panic!("expected a link reply");
        };
        assert_eq!(
            progs,
            vec![
                AttachedProgram {
                    slot: XdpSlot::Driver,
                    prog_id: 5
                },
                AttachedProgram {
                    slot: XdpSlot::Hardware,
                    prog_id: 6
                },
            ]
        );
    }

    #[test]
    fn newlink_without_xdp_means_nothing_attached() {
        let nest = attr(IFLA_XDP_ATTACHED, &[0]);
        assert_eq!(
            parse_reply(&newlink(1, &nest), 1).unwrap(),
            Reply::Link(vec![])
        );
    }

    #[test]
    fn error_reply_carries_the_errno_and_ack_is_zero() {
        let mut msg = hdr(36, NLMSG_ERROR, 0, 4);
        msg.extend_from_slice(&(-(libc_ebusy())).to_ne_bytes());
        msg.extend_from_slice(&hdr(16, RTM_SETLINK, 0, 4));
        match parse_reply(&msg, 4) {
            Err(NetlinkError::Refused(e)) => assert_eq!(e, nix::Error::EBUSY),
            other => panic!("expected EBUSY, got {other:?}"),
        }
        let mut ack = hdr(36, NLMSG_ERROR, 0, 4);
        ack.extend_from_slice(&0i32.to_ne_bytes());
        ack.extend_from_slice(&hdr(16, RTM_SETLINK, 0, 4));
        assert_eq!(parse_reply(&ack, 4).unwrap(), Reply::Ack);
        assert_eq!(
            parse_reply(&ack, 5).unwrap(),
            Reply::Other,
            "another request's ack"
        );
    }

    fn libc_ebusy() -> i32 {
        nix::Error::EBUSY as i32
    }

    #[test]
    fn truncated_replies_are_errors_not_panics() {
        let mut nest = attr(IFLA_XDP_ATTACHED, &[XDP_ATTACHED_SKB]);
        nest.extend(attr(IFLA_XDP_PROG_ID, &77u32.to_ne_bytes()));
        let msg = newlink(1, &nest);
        for cut in 0..msg.len() {
            // Every prefix either parses or is rejected; none panics.
            let _ = parse_reply(&msg[..cut], 1);
        }
        let mut bad = msg.clone();
        bad[..4].copy_from_slice(&10_000u32.to_ne_bytes());
        assert!(matches!(
            parse_reply(&bad, 1),
            Err(NetlinkError::Malformed(_))
        ));
    }
}
