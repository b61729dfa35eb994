//! TCP_CHECK against loopback listeners: a listener passes, a closed port
//! is refused, a listener whose accept queue is full times out, and a
//! source address that cannot be bound says so.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::*;
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn};
use xvs_probe::{Endpoint, ProbeKind};

#[test]
fn a_listening_port_passes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(5), ProbeKind::Tcp(endpoint(target))),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
    assert_eq!(prober.in_flight(), 0);
}

#[test]
fn the_connection_is_reset_at_once_not_left_in_time_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(5), ProbeKind::Tcp(endpoint(target))),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
    // The server finds a reset where a FIN would read as end of file.
    let (mut accepted, _) = listener.accept().unwrap();
    accepted
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let read = accepted.read(&mut [0u8; 16]);
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );
}

#[test]
fn a_closed_port_is_refused() {
    let target = closed_tcp_port();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(5), ProbeKind::Tcp(endpoint(target))),
    );
    assert_eq!(reason(&done), "connection refused");
}

#[test]
fn an_ipv6_listener_passes() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("SKIP an_ipv6_listener_passes: no ::1 on this host");
        return;
    };
    let target = listener.local_addr().unwrap();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(5), ProbeKind::Tcp(endpoint(target))),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}

/// A listener with a backlog of 0 holds one finished connection; once it
/// does, the kernel drops further SYNs (tcp_conn_request: accept queue
/// full), so a connect hangs like one to a black-holed host.
#[test]
fn a_target_that_drops_syns_times_out_with_its_own_timeout() {
    let fd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    socket::bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0)).unwrap();
    socket::listen(&fd, Backlog::new(0).unwrap()).unwrap();
    let local: SockaddrIn = socket::getsockname(fd.as_raw_fd()).unwrap();
    let target = SocketAddr::from(std::net::SocketAddrV4::from(local));
    // Fill the accept queue; these are never accepted.
    let _held: Vec<TcpStream> = (0..2)
        .filter_map(|_| TcpStream::connect_timeout(&target, Duration::from_millis(500)).ok())
        .collect();

    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(1), ProbeKind::Tcp(endpoint(target))),
    );
    assert_eq!(reason(&done), "connect timeout after 1 s");
    assert!(done.latency >= Duration::from_secs(1), "{done:?}");
    assert_eq!(prober.counters().probes_timed_out, 1);
}

#[test]
fn a_source_address_that_is_not_ours_fails_the_bind() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let bind: SocketAddr = "192.0.2.1:0".parse().unwrap();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ProbeKind::Tcp(Endpoint {
                target,
                bind: Some(bind),
            }),
        ),
    );
    let why = reason(&done);
    assert!(why.starts_with("bind to 192.0.2.1:0: "), "{why}");
}

#[test]
fn a_fixed_source_port_can_be_used_check_after_check() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let source = closed_tcp_port();
    let mut prober = prober();
    for _ in 0..3 {
        let done = run_one(
            &mut prober,
            probe(
                Duration::from_secs(5),
                ProbeKind::Tcp(Endpoint {
                    target,
                    bind: Some(source),
                }),
            ),
        );
        assert!(done.outcome.is_pass(), "{done:?}");
        // Accept and drop, as a server would.
        let _ = listener.accept();
    }
}
