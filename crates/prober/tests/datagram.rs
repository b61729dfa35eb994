//! UDP_CHECK and DNS_CHECK against loopback responders: echoes, patterns,
//! ICMP port unreachable from a closed port, silence with and without
//! require_reply, and DNS rcodes.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::Duration;

use common::*;
use xvs_probe::{ProbeKind, UdpExpect};

fn expect(require_reply: bool, pattern: Option<Vec<(u8, u8)>>) -> UdpExpect {
    UdpExpect {
        require_reply,
        pattern,
        min_len: 0,
        max_len: 255,
    }
}

fn udp(target: SocketAddr, payload: &[u8], expect: UdpExpect) -> ProbeKind {
    ProbeKind::Udp {
        endpoint: endpoint(target),
        payload: payload.to_vec(),
        expect,
    }
}

/// Answers every datagram with `answer(request)`.
fn udp_responder(answer: fn(&[u8]) -> Vec<u8>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&answer(&buf[..len]), from);
        }
    });
    addr
}

/// A bound UDP socket that reads and never answers (kept alive by the
/// returned handle).
fn udp_sink() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

fn closed_udp_port() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

#[test]
fn an_echo_passes_with_require_reply() {
    let target = udp_responder(|req| req.to_vec());
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            udp(target, b"ping", expect(true, None)),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn require_reply_judges_the_pattern() {
    let target = udp_responder(|_| b"OK\x01".to_vec());
    let mut prober = prober();
    // "OK" then any byte (mask 0).
    let matching = vec![(b'O', 0xff), (b'K', 0xff), (0, 0)];
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            udp(target, b"status", expect(true, Some(matching))),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
    let other = vec![(b'N', 0xff), (b'O', 0xff)];
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            udp(target, b"status", expect(true, Some(other))),
        ),
    );
    assert!(reason(&done).contains("pattern"), "{done:?}");
}

#[test]
fn a_closed_port_fails_with_icmp_port_unreachable() {
    let target = closed_udp_port();
    let mut prober = prober();
    for require_reply in [false, true] {
        let done = run_one(
            &mut prober,
            probe(
                Duration::from_secs(5),
                udp(target, b"ping", expect(require_reply, None)),
            ),
        );
        assert_eq!(reason(&done), "ICMP port unreachable", "{done:?}");
        // Decided by the ICMP error, not the deadline.
        assert!(done.latency < Duration::from_secs(5), "{done:?}");
    }
}

#[test]
fn silence_passes_without_require_reply_at_the_deadline() {
    let (_sink, target) = udp_sink();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(1),
            udp(target, b"ping", expect(false, None)),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
    assert!(done.latency >= Duration::from_secs(1), "{done:?}");
    assert_eq!(prober.counters().probes_timed_out, 0);
}

#[test]
fn silence_fails_with_require_reply() {
    let (_sink, target) = udp_sink();
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(1),
            udp(target, b"ping", expect(true, None)),
        ),
    );
    assert_eq!(reason(&done), "no reply within 1 s");
    assert_eq!(prober.counters().probes_timed_out, 1);
}

// DNS: a responder that copies the query's ID and question and sets QR
// with the given RCODE (RFC 1035 §4.1.1 header layout).
fn dns_answer(query: &[u8], rcode: u8) -> Vec<u8> {
    let mut reply = query.to_vec();
    if reply.len() >= 12 {
        reply[2] = 0x80 | (query[2] & 0x79); // QR, opcode and RD kept
        reply[3] = 0x80 | rcode; // RA, RCODE
    }
    reply
}

fn dns(target: SocketAddr) -> ProbeKind {
    ProbeKind::Dns {
        endpoint: endpoint(target),
        query_type: 6,
        name: ".".into(),
    }
}

#[test]
fn dns_noerror_passes() {
    let target = udp_responder(|q| dns_answer(q, 0));
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(5), dns(target)));
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn dns_servfail_fails() {
    let target = udp_responder(|q| dns_answer(q, 2));
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(5), dns(target)));
    assert!(reason(&done).contains("SERVFAIL"), "{done:?}");
}

#[test]
fn dns_ignores_answers_to_other_queries_and_waits() {
    // Wrong ID first, then the right answer: the probe takes the second.
    let target = udp_responder(|q| {
        let mut wrong = dns_answer(q, 2);
        wrong[0] ^= 0xff;
        wrong
    });
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(1), dns(target)));
    assert_eq!(reason(&done), "no reply within 1 s");
}

#[test]
fn dns_queries_carry_fresh_ids() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = socket.local_addr().unwrap();
    let mut prober = prober();
    for id in 0..4 {
        prober.start(id, probe(Duration::from_secs(5), dns(target)));
    }
    let mut ids = Vec::new();
    let mut buf = [0u8; 512];
    for _ in 0..4 {
        // Not polled: sending happens at start.
        let (len, from) = socket.recv_from(&mut buf).unwrap();
        assert!(len >= 12);
        ids.push(u16::from_be_bytes([buf[0], buf[1]]));
        socket.send_to(&dns_answer(&buf[..len], 0), from).unwrap();
    }
    let done = run(&mut prober, 4, Duration::from_secs(30));
    assert!(done.iter().all(|f| f.outcome.is_pass()), "{done:?}");
    // Random 16-bit IDs: four equal ones would be a 2^-48 accident.
    ids.sort_unstable();
    ids.dedup();
    assert!(ids.len() > 1, "every query had ID {ids:?}");
}
