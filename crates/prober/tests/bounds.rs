//! The in-flight cap: probes beyond it wait in order and run as room
//! frees up; their timeout starts when they do; cancel reaches the queue.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::*;
use xvs_config::HttpProtocol;
use xvs_probe::{HttpRequest, ProbeKind};
use xvs_prober::{Prober, ProberConfig};

fn http(target: std::net::SocketAddr) -> ProbeKind {
    ProbeKind::Http {
        endpoint: endpoint(target),
        tls: None,
        requests: vec![HttpRequest {
            path: "/".into(),
            host: "backend.test".into(),
            protocol: HttpProtocol::Http10,
            status: vec![(200, 299)],
            digest: None,
        }],
    }
}

#[test]
fn probes_over_the_cap_wait_in_order_then_run() {
    let silent = silent_server();
    let healthy = http_server(response(200, "ok"));
    let mut prober = Prober::new(ProberConfig { max_in_flight: 2 }).unwrap();
    // Two probes that hold their slot for their whole timeout...
    prober.start(1, probe(Duration::from_secs(3), http(silent)));
    prober.start(2, probe(Duration::from_secs(3), http(silent)));
    // ...and three that have to wait for them.
    for id in 3..6 {
        prober.start(id, probe(Duration::from_secs(5), http(healthy)));
    }
    assert_eq!(prober.in_flight(), 2);
    assert_eq!(prober.queued(), 3);
    assert_eq!(prober.counters().probes_deferred, 3);
    assert_eq!(prober.counters().probes_started, 2);

    let done = run(&mut prober, 5, Duration::from_secs(30));
    let order: Vec<u64> = done.iter().map(|f| f.id).collect();
    assert_eq!(&order[..2], [1, 2], "the queued ran only after: {done:?}");
    let mut rest = order[2..].to_vec();
    rest.sort_unstable();
    assert_eq!(rest, [3, 4, 5]);
    assert!(done[2..].iter().all(|f| f.outcome.is_pass()), "{done:?}");
    // Latency counts from the start, not from the queueing (which took
    // the 3 s the first two held their slots).
    assert!(
        done[2..].iter().all(|f| f.latency < Duration::from_secs(3)),
        "{done:?}"
    );
    assert_eq!(prober.counters().probes_started, 5);
    assert_eq!(prober.counters().probes_timed_out, 2);
    assert_eq!((prober.in_flight(), prober.queued()), (0, 0));
}

#[test]
fn cancel_reaches_queued_and_running_probes() {
    let silent = silent_server();
    let mut prober = Prober::new(ProberConfig { max_in_flight: 1 }).unwrap();
    prober.start(1, probe(Duration::from_secs(30), http(silent)));
    prober.start(2, probe(Duration::from_secs(30), http(silent)));
    assert_eq!((prober.in_flight(), prober.queued()), (1, 1));
    prober.cancel(2);
    assert_eq!((prober.in_flight(), prober.queued()), (1, 0));
    prober.cancel(1);
    assert_eq!(prober.in_flight(), 0);
    let mut finished = Vec::new();
    prober
        .poll(Some(Duration::from_millis(50)), &mut finished)
        .unwrap();
    assert!(finished.is_empty(), "{finished:?}");
}

#[test]
fn many_probes_share_one_loop() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let refused = closed_tcp_port();
    let mut prober = Prober::new(ProberConfig { max_in_flight: 32 }).unwrap();
    for id in 0..200u64 {
        let to = if id % 2 == 0 { target } else { refused };
        prober.start(
            id,
            probe(Duration::from_secs(10), ProbeKind::Tcp(endpoint(to))),
        );
    }
    let done = run(&mut prober, 200, Duration::from_secs(60));
    for f in &done {
        assert_eq!(f.outcome.is_pass(), f.id % 2 == 0, "{f:?}");
    }
    assert_eq!(prober.counters().probes_started, 200);
}

#[test]
fn the_waker_ends_a_long_poll_early() {
    let mut prober = prober();
    let waker = prober.waker();
    let started = std::time::Instant::now();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        waker.wake().unwrap();
    });
    let mut finished = Vec::new();
    prober
        .poll(Some(Duration::from_secs(60)), &mut finished)
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
}
