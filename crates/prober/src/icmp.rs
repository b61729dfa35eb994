//! PING_CHECK: ICMP and ICMPv6 echo over raw sockets shared by every ping
//! probe with the same family and source address.
//!
//! Layer: driver. One raw socket per (family, bind address), opened when
//! the first probe needs it, registered once, and kept: a raw socket sees
//! every ICMP packet the host receives, so one per probe would hand each
//! reply to all of them. Every probe gets its own echo sequence number
//! under the engine's identifier; a reply is offered to the probes waiting
//! on its socket, and the pure matcher (`xvs_probe::icmp`) says whose it
//! is. In-kernel filters let through only echo replies and the errors an
//! echo can draw, so the loop is not woken for the rest of the host's ICMP.
//!
//! Why raw and not the unprivileged ICMP datagram sockets keepalived uses
//! (`SOCK_DGRAM`/`IPPROTO_ICMP`): those are gated by
//! net.ipv4.ping_group_range and rewrite the identifier per socket; the
//! director runs with CAP_NET_RAW anyway for its other raw sockets.

use std::mem::size_of_val;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry};
use nix::errno::Errno;
use nix::sys::socket::{
    self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrStorage,
};
use xvs_probe::Outcome;

use crate::net::{describe_errno, secs};
use crate::slots::{icmp_token, SlotRef};
use crate::task::{Ctx, Step};
use xvs_probe::icmp;

/// Echo payload: enough to be recognisable in a capture.
const PAYLOAD: &[u8] = b"xvs health check";

// Linux raw-socket filters (linux/icmp.h, linux/icmpv6.h); libc has no
// names for them.
const SOL_RAW: libc::c_int = 255;
const ICMP_FILTER: libc::c_int = 1;
const ICMP6_FILTER: libc::c_int = 1;
const ICMP_ECHOREPLY: u32 = 0;
const ICMP_DEST_UNREACH: u32 = 3;
const ICMP_TIME_EXCEEDED: u32 = 11;
const ICMP6_DST_UNREACH: u32 = 1;
const ICMP6_TIME_EXCEEDED: u32 = 3;
const ICMP6_ECHO_REPLY: u32 = 129;

/// One ping probe in flight: which shared socket, which sequence number.
#[derive(Debug)]
pub(crate) struct PingTask {
    socket: usize,
    seq: u16,
}

#[derive(Debug)]
struct Waiter {
    slot: SlotRef,
    target: IpAddr,
    seq: u16,
}

#[derive(Debug)]
struct SharedSocket {
    v6: bool,
    bind: Option<IpAddr>,
    fd: OwnedFd,
    waiters: Vec<Waiter>,
}

/// The shared raw sockets and the echo identifier of this engine.
#[derive(Debug)]
pub(crate) struct IcmpSockets {
    sockets: Vec<SharedSocket>,
    ident: u16,
    next_seq: u16,
}

impl IcmpSockets {
    pub fn new() -> IcmpSockets {
        // The identifier only has to differ from other pingers on the
        // host (ping(8) uses its pid too); mix in the clock for two
        // engines in one process.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Truncation intended: 16 bits of a hash.
        let ident = (std::process::id() ^ nanos ^ (nanos >> 16)) as u16;
        IcmpSockets {
            sockets: Vec::new(),
            ident,
            next_seq: 1,
        }
    }

    /// Sends one echo request to `target` for the probe in `slot`.
    pub fn start(
        &mut self,
        target: IpAddr,
        bind: Option<IpAddr>,
        slot: SlotRef,
        registry: &Registry,
    ) -> Result<PingTask, Outcome> {
        let socket = self
            .socket_for(target.is_ipv6(), bind, registry)
            .map_err(Outcome::fail)?;
        let seq = self.allocate_seq();
        let packet = match target {
            IpAddr::V4(_) => icmp::echo_request_v4(self.ident, seq, PAYLOAD),
            IpAddr::V6(_) => icmp::echo_request_v6(self.ident, seq, PAYLOAD),
        };
        let shared = &mut self.sockets[socket];
        let to = SockaddrStorage::from(SocketAddr::new(target, 0));
        socket::sendto(shared.fd.as_raw_fd(), &packet, &to, MsgFlags::empty())
            .map_err(|e| Outcome::fail(format!("ICMP send to {target}: {}", describe_errno(e))))?;
        shared.waiters.push(Waiter { slot, target, seq });
        Ok(PingTask { socket, seq })
    }

    /// The probe is over (answered, timed out or cancelled).
    pub fn forget(&mut self, task: &PingTask, slot: SlotRef) {
        if let Some(shared) = self.sockets.get_mut(task.socket) {
            shared
                .waiters
                .retain(|w| !(w.slot == slot && w.seq == task.seq));
        }
    }

    /// Reads everything waiting on shared socket `n` and returns the
    /// probes that got their answer. The waiters answered are removed.
    pub fn on_readable(&mut self, n: usize, scratch: &mut [u8]) -> Vec<(SlotRef, Outcome)> {
        let mut answered = Vec::new();
        let Some(shared) = self.sockets.get_mut(n) else {
            return answered;
        };
        // Until EAGAIN (edge-triggered: whatever is left unread would not
        // wake us again). Another error is a pending socket error, cleared
        // by reporting it: read on, but not forever.
        let mut errors = 0;
        loop {
            let (len, from) =
                match socket::recvfrom::<SockaddrStorage>(shared.fd.as_raw_fd(), scratch) {
                    Ok(got) => got,
                    Err(Errno::EAGAIN) => break,
                    Err(_) if errors < 8 => {
                        errors += 1;
                        continue;
                    }
                    Err(_) => break,
                };
            let packet = &scratch[..len.min(scratch.len())];
            let from = from.and_then(|a| a.as_sockaddr_in6().map(|a| a.ip()));
            let matched = shared.waiters.iter().enumerate().find_map(|(i, w)| {
                let outcome = match (w.target, from) {
                    (IpAddr::V4(target), _) => {
                        icmp::match_reply_v4(packet, target, self.ident, w.seq)
                    }
                    (IpAddr::V6(target), Some(from)) => {
                        icmp::match_reply_v6(packet, from, target, self.ident, w.seq)
                    }
                    (IpAddr::V6(_), None) => None,
                };
                outcome.map(|o| (i, o))
            });
            if let Some((i, outcome)) = matched {
                let waiter = shared.waiters.swap_remove(i);
                answered.push((waiter.slot, outcome));
            }
        }
        answered
    }

    fn allocate_seq(&mut self) -> u16 {
        // At most max_in_flight sequence numbers are taken, far fewer than
        // 2^16, so this finds a free one within a few steps.
        loop {
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            let taken = self
                .sockets
                .iter()
                .any(|s| s.waiters.iter().any(|w| w.seq == seq));
            if !taken {
                return seq;
            }
        }
    }

    fn socket_for(
        &mut self,
        v6: bool,
        bind: Option<IpAddr>,
        registry: &Registry,
    ) -> Result<usize, String> {
        if let Some(n) = self
            .sockets
            .iter()
            .position(|s| s.v6 == v6 && s.bind == bind)
        {
            return Ok(n);
        }
        if let Some(local) = bind {
            if local.is_ipv6() != v6 {
                return Err(format!(
                    "bind to {local}: not the address family of the target"
                ));
            }
        }
        let fd = open_raw(v6, bind)?;
        let n = self.sockets.len();
        registry
            .register(
                &mut SourceFd(&fd.as_raw_fd()),
                icmp_token(n),
                Interest::READABLE,
            )
            .map_err(|e| format!("ICMP socket: epoll: {e}"))?;
        self.sockets.push(SharedSocket {
            v6,
            bind,
            fd,
            waiters: Vec::new(),
        });
        Ok(n)
    }

    /// Closes every shared socket (shutdown).
    pub fn close_all(&mut self, registry: &Registry) {
        for shared in self.sockets.drain(..) {
            let _ = registry.deregister(&mut SourceFd(&shared.fd.as_raw_fd()));
        }
    }
}

impl PingTask {
    pub fn on_deadline(&mut self, ctx: &mut Ctx<'_>) -> Step {
        Step::Done(Outcome::fail(format!(
            "no echo reply within {}",
            secs(ctx.timeout)
        )))
    }
}

fn open_raw(v6: bool, bind: Option<IpAddr>) -> Result<OwnedFd, String> {
    let (family, protocol) = if v6 {
        (AddressFamily::Inet6, SockProtocol::IcmpV6)
    } else {
        (AddressFamily::Inet, SockProtocol::Icmp)
    };
    let fd = socket::socket(
        family,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        protocol,
    )
    .map_err(|e| match e {
        Errno::EPERM | Errno::EACCES => {
            format!("ICMP socket: {} (needs root or CAP_NET_RAW)", e.desc())
        }
        other => format!("ICMP socket: {}", describe_errno(other)),
    })?;
    if let Some(local) = bind {
        socket::bind(
            fd.as_raw_fd(),
            &SockaddrStorage::from(SocketAddr::new(local, 0)),
        )
        .map_err(|e| format!("bind to {local}: {}", describe_errno(e)))?;
    }
    // Best effort: without a filter the loop wakes for more packets, and
    // the matcher still ignores them.
    if v6 {
        let mut filter = [u32::MAX; 8];
        for kind in [ICMP6_ECHO_REPLY, ICMP6_DST_UNREACH, ICMP6_TIME_EXCEEDED] {
            filter[(kind >> 5) as usize] &= !(1 << (kind & 31));
        }
        set_filter(&fd, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &filter);
    } else {
        let pass = (1u32 << ICMP_ECHOREPLY) | (1 << ICMP_DEST_UNREACH) | (1 << ICMP_TIME_EXCEEDED);
        set_filter(&fd, SOL_RAW, ICMP_FILTER, &[!pass]);
    }
    Ok(fd)
}

/// Installs an ICMP type filter: one bit per type, set = drop.
fn set_filter(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, bits: &[u32]) {
    let Ok(len) = libc::socklen_t::try_from(size_of_val(bits)) else {
        return;
    };
    // SAFETY: setsockopt(2) reads `len` bytes from `bits`, a live slice of
    // exactly that many bytes, and keeps no pointer to it; the layouts are
    // linux/icmp.h `struct icmp_filter` (one u32) and linux/icmpv6.h
    // `struct icmp6_filter` (eight u32).
    let _ = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            bits.as_ptr().cast::<libc::c_void>(),
            len,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v6_filter_passes_only_echo_replies_and_errors() {
        let mut filter = [u32::MAX; 8];
        for kind in [ICMP6_ECHO_REPLY, ICMP6_DST_UNREACH, ICMP6_TIME_EXCEEDED] {
            filter[(kind >> 5) as usize] &= !(1 << (kind & 31));
        }
        let passes = |kind: u32| filter[(kind >> 5) as usize] & (1 << (kind & 31)) == 0;
        assert!(passes(129) && passes(1) && passes(3));
        assert!(!passes(128) && !passes(135) && !passes(136));
    }
}
