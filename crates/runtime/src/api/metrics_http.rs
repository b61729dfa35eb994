//! The Prometheus endpoint (`global.metrics_listen`): a minimal HTTP/1.1
//! server answering `GET /metrics` (and `HEAD`) with the exporter's text
//! format 0.0.4, 404 for any other path, 405 for other methods, then
//! closing the connection (RFC 9112 §9.6 `Connection: close`; Prometheus
//! reconnects for each scrape).
//!
//! The request head is parsed by httparse (a workspace dependency, the
//! health checks' HTTP parser); [`route`] is pure and tested on bytes. A
//! thread per connection, at most [`MAX_SCRAPERS`] at once, each with read
//! and write timeouts and an overall deadline, so a slow client never
//! holds the endpoint.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The exposition format's content type (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Concurrent connections served; more are answered 503 at once.
pub const MAX_SCRAPERS: usize = 8;
/// A request head larger than this is refused (431).
const MAX_HEAD: usize = 8 * 1024;
/// Per read and per write.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// For the whole request head, however slowly it trickles in.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// What a request head asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics` (`head_only` for HEAD).
    Metrics {
        head_only: bool,
    },
    NotFound {
        head_only: bool,
    },
    MethodNotAllowed,
    BadRequest,
    HeadTooLarge,
}

/// Route the request whose head starts `buf`; `None` while the head is
/// incomplete.
pub fn route(buf: &[u8]) -> Option<Route> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Some(Route::HeadTooLarge),
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => Some(Route::HeadTooLarge),
        Err(_) => Some(Route::BadRequest),
        Ok(httparse::Status::Complete(_)) => {
            let head_only = match req.method {
                Some("GET") => false,
                Some("HEAD") => true,
                _ => return Some(Route::MethodNotAllowed),
            };
            let path = req.path.unwrap_or("");
            // Prometheus may add query parameters; they select nothing here.
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            Some(if path == "/metrics" {
                Route::Metrics { head_only }
            } else {
                Route::NotFound { head_only }
            })
        }
    }
}

/// The full response for `route`; `metrics` renders the body when asked.
pub fn response(route: Route, metrics: impl FnOnce() -> String) -> Vec<u8> {
    let (status, content_type, body, head_only, extra) = match route {
        Route::Metrics { head_only } => ("200 OK", CONTENT_TYPE, metrics(), head_only, ""),
        Route::NotFound { head_only } => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: the metrics are at /metrics\n".to_string(),
            head_only,
            "",
        ),
        Route::MethodNotAllowed => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".to_string(),
            false,
            "Allow: GET, HEAD\r\n",
        ),
        Route::BadRequest => (
            "400 Bad Request",
            "text/plain; charset=utf-8",
            "malformed request\n".to_string(),
            false,
            "",
        ),
        Route::HeadTooLarge => (
            "431 Request Header Fields Too Large",
            "text/plain; charset=utf-8",
            "request head too large\n".to_string(),
            false,
            "",
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Serve `listener` until `stop` is set; `render` produces the metrics text.
pub fn serve(
    listener: TcpListener,
    render: Arc<dyn Fn() -> String + Send + Sync>,
    stop: Arc<AtomicBool>,
) {
    if let Err(e) = listener.set_nonblocking(true) {
        tracing::error!("metrics endpoint: {e}; not serving");
        return;
    }
    let active = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => {
                // EMFILE and the like: back off rather than spin.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_SCRAPERS {
            active.fetch_sub(1, Ordering::AcqRel);
            let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
            let _ = (&stream).write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            continue;
        }
        let (active2, render) = (Arc::clone(&active), Arc::clone(&render));
        let spawned = std::thread::Builder::new()
            .name("xvs-metrics-http".into())
            .spawn(move || {
                serve_one(stream, &*render);
                active2.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn serve_one(mut stream: TcpStream, render: &dyn Fn() -> String) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let deadline = Instant::now() + HEAD_DEADLINE;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let route = loop {
        if let Some(r) = route(&buf) {
            break r;
        }
        if Instant::now() >= deadline {
            return;
        }
        match stream.read(&mut chunk) {
            // Closed or timed out before a whole head: nothing to answer.
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let _ = stream.write_all(&response(route, render));
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let cases: [(&[u8], Option<Route>); 10] = [
            (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Some(Route::Metrics { head_only: false }),
            ),
            (
                b"HEAD /metrics HTTP/1.0\r\n\r\n",
                Some(Route::Metrics { head_only: true }),
            ),
            (
                b"GET /metrics?name[]=xvs_up HTTP/1.1\r\nAccept: text/plain\r\n\r\n",
                Some(Route::Metrics { head_only: false }),
            ),
            (
                b"GET / HTTP/1.1\r\n\r\n",
                Some(Route::NotFound { head_only: false }),
            ),
            (
                b"GET /metricsx HTTP/1.1\r\n\r\n",
                Some(Route::NotFound { head_only: false }),
            ),
            (
                b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                Some(Route::MethodNotAllowed),
            ),
            (b"GET /metrics HTTP/1.1\r\nHost: x\r\n", None),
            (b"GET /met", None),
            (b"", None),
            (
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                Some(Route::BadRequest),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(route(bytes), want, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn oversized_heads_are_refused() {
        let mut head = b"GET /metrics HTTP/1.1\r\n".to_vec();
        while head.len() < MAX_HEAD {
            head.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(route(&head), Some(Route::HeadTooLarge));
        let mut many = b"GET /metrics HTTP/1.1\r\n".to_vec();
        for i in 0..40 {
            many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(route(&many), Some(Route::HeadTooLarge));
    }

    proptest::proptest! {
        /// Any bytes: a route or "need more", never a panic; and a head
        /// that routes keeps its route when more bytes follow it (a body or
        /// a pipelined request changes nothing).
        #[test]
        fn any_bytes_route_or_wait(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Some(r) = route(&bytes) {
                let mut longer = bytes.clone();
                longer.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
                if r != Route::HeadTooLarge {
                    proptest::prop_assert_eq!(route(&longer), Some(r));
                }
            }
        }
    }

    #[test]
    fn responses() {
        let ok = response(Route::Metrics { head_only: false }, || "xvs_up 1\n".into());
        assert_eq!(
            String::from_utf8(ok).expect("text"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 9\r\nConnection: close\r\n\r\nxvs_up 1\n"
        );
        let head = response(Route::Metrics { head_only: true }, || "xvs_up 1\n".into());
        assert!(String::from_utf8(head)
            .expect("text")
            .ends_with("Content-Length: 9\r\nConnection: close\r\n\r\n"));
        let not_found = response(Route::NotFound { head_only: false }, || {
            panic!("not rendered for a 404")
        });
        assert!(not_found.starts_with(b"HTTP/1.1 404 Not Found\r\n"));
        let post = String::from_utf8(response(Route::MethodNotAllowed, String::new)).expect("text");
        assert!(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(post.contains("\r\nAllow: GET, HEAD\r\n"));
    }

    /// Over a real socket: a scrape, a 404, and a client that sends nothing
    /// does not stop the next scrape.
    #[test]
    fn serves_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || serve(listener, Arc::new(|| "xvs_up 1\n".to_string()), stop))
        };
        let get = |path: &str| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").expect("send");
            let mut out = String::new();
            s.read_to_string(&mut out).expect("answer");
            out
        };
        let _idle = TcpStream::connect(addr).expect("idle client");
        let ok = get("/metrics");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nxvs_up 1\n"), "{ok}");
        assert!(get("/").starts_with("HTTP/1.1 404 Not Found\r\n"));
        stop.store(true, Ordering::Relaxed);
        server.join().expect("server");
    }
}
