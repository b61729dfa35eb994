//! Sockets for probes: created non-blocking and close-on-exec in the
//! target's family, bound when the check says so, connected without
//! waiting; and the words a failure is reported with.
//!
//! Layer: driver. Safe wrappers only (nix); the connect that is still in
//! progress is finished by the event loop (see [`connect_result`]).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    self, setsockopt, sockopt, AddressFamily, SockFlag, SockProtocol, SockType, SockaddrStorage,
};
use xvs_probe::Endpoint;

/// An errno as people read it: "connection refused", without the
/// "(os error 111)" that `io::Error` appends.
pub(crate) fn describe_errno(errno: Errno) -> String {
    lower_first(errno.desc())
}

/// An I/O error as people read it (see [`describe_errno`]).
pub(crate) fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => describe_errno(Errno::from_raw(code)),
        None => lower_first(&err.to_string()),
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A duration as a reason says it: "3 s", "0.5 s", "1.25 s".
pub(crate) fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        return format!("{} s", d.as_secs());
    }
    let text = format!("{:.3}", d.as_secs_f64());
    format!("{} s", text.trim_end_matches('0'))
}

fn family(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// A non-blocking, close-on-exec socket of `target`'s family, bound to
/// `bind` when given. A fixed source port gets SO_REUSEADDR so that the
/// next check can bind it again while the last one's TIME_WAIT lasts.
fn open(
    target: SocketAddr,
    bind: Option<SocketAddr>,
    kind: SockType,
    protocol: SockProtocol,
) -> Result<OwnedFd, String> {
    let fd = socket::socket(
        family(&target),
        kind,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        protocol,
    )
    .map_err(|e| format!("socket: {}", describe_errno(e)))?;
    if let Some(local) = bind {
        if local.is_ipv4() != target.is_ipv4() {
            return Err(format!(
                "bind to {local}: not the address family of the target {target}"
            ));
        }
        if local.port() != 0 {
            setsockopt(&fd, sockopt::ReuseAddr, &true)
                .map_err(|e| format!("bind to {local}: SO_REUSEADDR: {}", describe_errno(e)))?;
        }
        socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(local))
            .map_err(|e| format!("bind to {local}: {}", describe_errno(e)))?;
    }
    Ok(fd)
}

/// Starts a TCP connection to `endpoint`; it completes (or fails) when the
/// socket turns writable, see [`connect_result`].
pub(crate) fn tcp_connect(endpoint: &Endpoint) -> Result<mio::net::TcpStream, String> {
    let fd = open(
        endpoint.target,
        endpoint.bind,
        SockType::Stream,
        SockProtocol::Tcp,
    )?;
    match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(endpoint.target)) {
        Ok(()) | Err(Errno::EINPROGRESS) => {}
        Err(e) => return Err(connect_failure(e)),
    }
    Ok(mio::net::TcpStream::from_std(std::net::TcpStream::from(fd)))
}

/// A UDP socket connected to `endpoint`, so that only its replies reach
/// it and ICMP errors about it come back as errors on recv. IP_RECVERR
/// makes the kernel report every ICMP unreachable, not only the "hard"
/// port and protocol ones (as keepalived's check_udp does).
pub(crate) fn udp_connect(endpoint: &Endpoint) -> Result<mio::net::UdpSocket, String> {
    let fd = open(
        endpoint.target,
        endpoint.bind,
        SockType::Datagram,
        SockProtocol::Udp,
    )?;
    let recverr = if endpoint.target.is_ipv4() {
        setsockopt(&fd, sockopt::Ipv4RecvErr, &true)
    } else {
        setsockopt(&fd, sockopt::Ipv6RecvErr, &true)
    };
    recverr.map_err(|e| format!("socket: IP_RECVERR: {}", describe_errno(e)))?;
    socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(endpoint.target))
        .map_err(|e| format!("connect: {}", describe_errno(e)))?;
    Ok(mio::net::UdpSocket::from_std(std::net::UdpSocket::from(fd)))
}

fn connect_failure(errno: Errno) -> String {
    match errno {
        Errno::ECONNREFUSED | Errno::EHOSTUNREACH | Errno::ENETUNREACH => describe_errno(errno),
        other => format!("connect: {}", describe_errno(other)),
    }
}

/// Where a non-blocking connect stands once its socket was reported
/// ready: `Ok(true)` connected, `Ok(false)` not yet (a spurious wakeup),
/// `Err(reason)` failed. As mio documents: SO_ERROR first, then whether
/// the socket has a peer.
pub(crate) fn connect_result(stream: &mio::net::TcpStream) -> Result<bool, String> {
    match stream.take_error() {
        Ok(Some(err)) | Err(err) => return Err(connect_failure_io(&err)),
        Ok(None) => {}
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(err) => Err(connect_failure_io(&err)),
    }
}

fn connect_failure_io(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => connect_failure(Errno::from_raw(code)),
        None => format!("connect: {}", describe(err)),
    }
}

/// Makes `close` reset the connection at once instead of leaving a
/// TIME_WAIT behind: a TCP_CHECK opens one connection per check, and a
/// check with a fixed `bind_port` could not bind it again for a minute.
pub(crate) fn reset_on_close(stream: &mio::net::TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // Best effort: without it the close is a FIN, which is still correct.
    let _ = setsockopt(stream, sockopt::Linger, &linger);
}

/// The ICMP error a connected UDP socket reported, as a reason. With
/// IP_RECVERR the kernel maps ICMP unreachables to these errnos
/// (icmp_err_convert, icmpv6_err_convert).
pub(crate) fn icmp_error_reason(err: &io::Error) -> String {
    match err.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ECONNREFUSED) => "ICMP port unreachable".into(),
        Some(Errno::EHOSTUNREACH) => "ICMP host unreachable".into(),
        Some(Errno::ENETUNREACH) => "ICMP network unreachable".into(),
        Some(Errno::EACCES) => "ICMP administratively prohibited".into(),
        Some(Errno::EPROTO) | Some(Errno::ENOPROTOOPT) => "ICMP protocol unreachable".into(),
        _ => format!("recv: {}", describe(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_seconds() {
        assert_eq!(secs(Duration::from_secs(3)), "3 s");
        assert_eq!(secs(Duration::from_millis(500)), "0.5 s");
        assert_eq!(secs(Duration::from_millis(1250)), "1.25 s");
        assert_eq!(secs(Duration::ZERO), "0 s");
    }

    #[test]
    fn errors_read_without_the_os_error_number() {
        let err = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(describe(&err), "connection refused");
        assert_eq!(icmp_error_reason(&err), "ICMP port unreachable");
        assert_eq!(connect_failure(Errno::EHOSTUNREACH), "no route to host");
    }
}
