//! The traffic ends on loopback: a bench built on them must not measure a
//! failure path without saying so.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::client::{run_load, run_streams, LoadReport, LoadSpec, StreamReport, StreamSpec};
use crate::server::{Server, ServerStats};
use crate::RESPONSE;

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

struct Running {
    stop: Arc<AtomicBool>,
    stats: Arc<ServerStats>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    port: u16,
    sink: u16,
}

impl Running {
    fn start() -> Running {
        let server =
            Server::bind(SocketAddrV4::new(LO, 0), Some(SocketAddrV4::new(LO, 0))).unwrap();
        let (port, sink) = server.ports().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ServerStats::default());
        let (s, st) = (stop.clone(), stats.clone());
        let thread = std::thread::spawn(move || server.run(&s, &st));
        Running {
            stop,
            stats,
            thread: Some(thread),
            port,
            sink: sink.unwrap(),
        }
    }

    fn finish(mut self) -> Arc<ServerStats> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap().unwrap();
        self.stats.clone()
    }
}

fn spec(port: u16) -> LoadSpec {
    LoadSpec {
        target: SocketAddrV4::new(LO, port),
        sources: vec![LO],
        concurrency: 8,
        duration: Duration::from_millis(300),
        timeout: Duration::from_secs(5),
        rate: 0,
    }
}

#[test]
fn every_connection_completes_with_the_whole_response() {
    let server = Running::start();
    let report = run_load(&spec(server.port)).unwrap();
    let stats = server.finish();
    let done = report.completed + report.completed_late;
    assert!(report.completed > 0, "{report:?}");
    assert_eq!(report.ended(), done, "no failure of any kind: {report:?}");
    assert_eq!(report.opened, done, "{report:?}");
    assert_eq!(report.bytes, done * RESPONSE.len() as u64);
    assert_eq!(stats.answered.load(Ordering::Relaxed), done);
    let per_second: u64 = report.per_second.iter().map(|p| p.1).sum();
    assert_eq!(per_second, done);
    assert!((report.success() - 1.0).abs() < 1e-9);
}

#[test]
fn a_refused_target_is_counted_as_failures_not_completions() {
    // A port nothing listens on: bind one, learn its number, close it.
    let port = {
        let l = std::net::TcpListener::bind((LO, 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let report = run_load(&spec(port)).unwrap();
    assert_eq!(report.completed + report.completed_late, 0, "{report:?}");
    assert!(report.connect_failed > 0, "{report:?}");
    assert_eq!(report.success(), 0.0);
    assert!(
        report.first_error.as_deref().unwrap().contains("refused"),
        "{report:?}"
    );
}

#[test]
fn a_server_answering_something_else_is_counted_as_broken() {
    let listener = std::net::TcpListener::bind((LO, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    listener.set_nonblocking(true).unwrap();
    let t = std::thread::spawn(move || {
        use std::io::{Read, Write};
        while !s.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    let mut b = [0u8; 64];
                    let _ = c.read(&mut b);
                    let _ = c.write_all(b"HTTP/1.0 503 Service Unavailable\r\n\r\n");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    let report = run_load(&LoadSpec {
        concurrency: 2,
        ..spec(port)
    })
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    assert_eq!(report.completed + report.completed_late, 0, "{report:?}");
    assert!(report.broken > 0, "{report:?}");
}

#[test]
fn pacing_bounds_the_connections_opened() {
    let server = Running::start();
    let report = run_load(&LoadSpec {
        rate: 20,
        duration: Duration::from_millis(500),
        ..spec(server.port)
    })
    .unwrap();
    server.finish();
    // 20 a second for half a second: the first at once, then one per 50 ms.
    assert!(report.opened >= 1 && report.opened <= 11, "{report:?}");
    assert_eq!(report.ended(), report.opened, "{report:?}");
}

#[test]
fn streams_deliver_bytes_the_server_reads() {
    let server = Running::start();
    let report = run_streams(&StreamSpec {
        target: SocketAddrV4::new(LO, server.sink),
        source: LO,
        streams: 2,
        duration: Duration::from_millis(1200),
    })
    .unwrap();
    let stats = server.finish();
    assert_eq!((report.connected, report.failed), (2, 0), "{report:?}");
    assert!(report.acked_bytes > 0, "{report:?}");
    let sunk = stats.sunk_bytes.load(Ordering::Relaxed);
    // The server read some of it while the run lasted (the rest may
    // still be in its receive buffer, or in flight, when it stops).
    assert!(sunk > 0, "{sunk} {report:?}");
    assert_eq!(report.per_second.len(), 1, "{report:?}");
}

#[test]
fn streams_to_a_closed_port_fail() {
    let port = {
        let l = std::net::TcpListener::bind((LO, 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let report = run_streams(&StreamSpec {
        target: SocketAddrV4::new(LO, port),
        source: LO,
        streams: 2,
        duration: Duration::from_millis(200),
    })
    .unwrap();
    assert_eq!(
        (report.connected, report.failed, report.acked_bytes),
        (0, 2, 0)
    );
}

#[test]
fn reports_survive_json() {
    let r = LoadReport {
        opened: 5,
        completed: 3,
        completed_late: 1,
        slow: 1,
        connect_failed: 1,
        bytes: 512,
        elapsed_s: 1.5,
        per_second: vec![(3, 2), (2, 2)],
        first_error: Some("x".into()),
        ..LoadReport::default()
    };
    assert_eq!(LoadReport::from_json(&r.to_json()), Some(r));
    let s = StreamReport {
        connected: 2,
        acked_bytes: 9,
        elapsed_s: 1.0,
        per_second: vec![4, 5],
        ..StreamReport::default()
    };
    assert_eq!(StreamReport::from_json(&s.to_json()), Some(s));
}
