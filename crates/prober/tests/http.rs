//! HTTP_GET against loopback servers: status sets, digests, several URLs,
//! and a server that never answers costing only its own probe's timeout.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use xvs_config::HttpProtocol;
use xvs_probe::{HttpRequest, ProbeKind};

fn get(path: &str, status: Vec<(u16, u16)>, digest: Option<[u8; 16]>) -> HttpRequest {
    HttpRequest {
        path: path.into(),
        host: "backend.test".into(),
        protocol: HttpProtocol::Http10,
        status,
        digest,
    }
}

fn http(target: SocketAddr, requests: Vec<HttpRequest>) -> ProbeKind {
    ProbeKind::Http {
        endpoint: endpoint(target),
        tls: None,
        requests,
    }
}

/// MD5("hello world").
const HELLO_MD5: [u8; 16] = [
    0x5e, 0xb6, 0x3b, 0xbb, 0xe0, 0x1e, 0xee, 0xd0, 0x93, 0xcb, 0x22, 0xbb, 0x8f, 0x5a, 0xcd, 0xc3,
];

#[test]
fn status_200_passes() {
    let target = http_server(response(200, "ok"));
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(target, vec![get("/", vec![(200, 299)], None)]),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn status_500_fails_with_the_status_in_the_reason() {
    let target = http_server(response(500, "oops"));
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(target, vec![get("/", vec![(200, 299)], None)]),
        ),
    );
    let why = reason(&done);
    assert!(why.starts_with("HTTP 500"), "{why}");
}

#[test]
fn status_ranges_decide() {
    let target = http_server(response(302, ""));
    let mut prober = prober();
    let moved = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(target, vec![get("/", vec![(200, 200), (300, 399)], None)]),
        ),
    );
    assert!(moved.outcome.is_pass(), "{moved:?}");
    let refused = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(target, vec![get("/", vec![(200, 299)], None)]),
        ),
    );
    assert!(reason(&refused).starts_with("HTTP 302"), "{refused:?}");
}

#[test]
fn the_body_digest_must_match() {
    let target = http_server(response(200, "hello world"));
    let mut prober = prober();
    let matched = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(target, vec![get("/", vec![(200, 299)], Some(HELLO_MD5))]),
        ),
    );
    assert!(matched.outcome.is_pass(), "{matched:?}");
    let mut other = HELLO_MD5;
    other[0] ^= 1;
    let mismatched = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(target, vec![get("/", vec![(200, 299)], Some(other))]),
        ),
    );
    assert!(
        reason(&mismatched).starts_with("digest mismatch"),
        "{mismatched:?}"
    );
}

#[test]
fn the_request_is_the_pure_crate_s() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let (heads, seen) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        heads.send(read_head(&mut stream)).unwrap();
        stream.write_all(&response(200, "")).unwrap();
    });
    let request = get("/health?x=1", vec![(200, 299)], None);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(5), http(target, vec![request.clone()])),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
    assert_eq!(
        seen.recv().unwrap(),
        xvs_probe::http::request_bytes(&request)
    );
}

#[test]
fn every_url_is_fetched_in_order_and_the_failing_one_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let (paths, seen) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let head = String::from_utf8(read_head(&mut stream)).unwrap();
            let path = head.split(' ').nth(1).unwrap_or("").to_string();
            let status = if path == "/bad" { 503 } else { 200 };
            paths.send(path).unwrap();
            stream.write_all(&response(status, "")).unwrap();
        }
    });
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(
                target,
                vec![
                    get("/one", vec![(200, 299)], None),
                    get("/bad", vec![(200, 299)], None),
                    get("/never", vec![(200, 299)], None),
                ],
            ),
        ),
    );
    let why = reason(&done);
    assert!(why.starts_with("GET /bad: HTTP 503"), "{why}");
    let fetched: Vec<String> = seen.try_iter().collect();
    assert_eq!(fetched, ["/one", "/bad"]);
}

#[test]
fn a_silent_server_costs_only_its_own_probe() {
    let silent = silent_server();
    let healthy = http_server(response(200, "ok"));
    let mut prober = prober();
    let request = || vec![get("/", vec![(200, 299)], None)];
    prober.start(1, probe(Duration::from_secs(2), http(silent, request())));
    prober.start(2, probe(Duration::from_secs(2), http(healthy, request())));
    let done = run(&mut prober, 2, Duration::from_secs(30));
    assert_eq!(done[0].id, 2, "the healthy server answers first: {done:?}");
    assert!(done[0].outcome.is_pass(), "{done:?}");
    assert_eq!(done[1].id, 1);
    assert_eq!(reason(&done[1]), "no complete HTTP response within 2 s");
    assert!(done[0].latency < done[1].latency, "{done:?}");
}

#[test]
fn a_connection_closed_without_an_answer_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_head(&mut stream);
        // Dropped: FIN without a byte.
    });
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(target, vec![get("/", vec![(200, 299)], None)]),
        ),
    );
    assert_eq!(reason(&done), "empty response");
}

#[test]
fn a_refused_connection_fails_at_once() {
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            http(closed_tcp_port(), vec![get("/", vec![(200, 299)], None)]),
        ),
    );
    assert_eq!(reason(&done), "connection refused");
}

#[test]
fn garbage_from_the_server_fails_the_probe_and_nothing_else() {
    let mut bytes = vec![0u8; 70_000];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i * 131 % 251) as u8;
    }
    let noisy = http_server(bytes);
    let healthy = http_server(response(200, "ok"));
    let mut prober = prober();
    let request = || vec![get("/", vec![(200, 299)], None)];
    prober.start(1, probe(Duration::from_secs(5), http(noisy, request())));
    prober.start(2, probe(Duration::from_secs(5), http(healthy, request())));
    let done = run(&mut prober, 2, Duration::from_secs(30));
    assert!(!by_id(&done, 1).outcome.is_pass(), "{done:?}");
    assert!(by_id(&done, 2).outcome.is_pass(), "{done:?}");
}
