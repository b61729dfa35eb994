//! The daemon's local control socket (a Unix stream socket) and its
//! Prometheus endpoint.
//!
//! Protocol (docs/control-protocol.md, [`protocol`]): one JSON request
//! line in, one JSON answer out, versioned. Every `xvs` command that talks
//! to the daemon goes through it (`list`, `conns`, `status`, `metrics`,
//! `reload`, `service`, `real-server`, `diff`, `save`), and so can
//! scripts: the listings answer data, which the CLI renders as ipvsadm
//! does ([`render`]) or prints as it came (`--json`).
//!
//! Serving: the accept loop hands each connection to its own thread (at
//! most [`MAX_CLIENTS`]; more are answered "busy"), which checks the
//! peer's credentials ([`access`]), reads the request line under a
//! timeout and answers, so a slow or stuck client never delays another.
//! Reads (`list`, `conns`, `metrics`) are served from the published plan,
//! the lock-free connection table and the counters directly; changes
//! (`reload`, runtime edits, `diff`, `save`) go to the control thread as a
//! [`crate::shared::ControlCall`] and wait for its answer. The same loop
//! runs the rate estimator every 2 s ([`crate::estimator`]).

pub mod access;
pub mod client;
pub mod data;
pub mod dispatch;
pub mod listing;
pub mod metrics_http;
pub mod protocol;
pub mod render;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;
use xvs_conn::ConnTable;

use crate::estimator::ESTIMATOR_INTERVAL;
use crate::shared::Shared;
use dispatch::{Backend, Daemon};
use protocol::Answer;

/// Connections served at once; one more is answered "busy" and closed.
pub const MAX_CLIENTS: usize = 32;
/// How long a client has to send its request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the answer may take to write (a client that stops reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request line (a `--yaml` change is the largest).
pub const MAX_REQUEST: u64 = 1 << 20;

/// Serves the control socket until the stop flag is set.
#[derive(Debug)]
pub struct Api {
    pub path: PathBuf,
    listener: UnixListener,
    metrics: Option<TcpListener>,
}

impl Api {
    /// Bind the control socket at `path` (mode 0600, in a directory only
    /// root can write: see [`access`]).
    pub fn bind(path: &Path) -> std::io::Result<Api> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            access::prepare_dir(dir)?;
        }
        // A socket file left by a crashed daemon must not stop a restart;
        // one that answers belongs to a running daemon.
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another xvs answers on it; stop that one or give this one another --control",
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        access::secure_socket(path)?;
        listener.set_nonblocking(true)?;
        Ok(Api {
            path: path.to_path_buf(),
            listener,
            metrics: None,
        })
    }

    /// Also serve `GET /metrics` on `addr` (`global.metrics_listen`).
    /// Binding here, before the daemon starts, makes a busy port a start
    /// error; without this call, [`Api::serve`] binds the configured
    /// address itself and only logs a failure.
    pub fn listen_metrics(mut self, addr: SocketAddr) -> std::io::Result<Api> {
        self.metrics = Some(TcpListener::bind(addr)?);
        Ok(self)
    }

    /// Serve until `shared.stop` is set (and the metrics endpoint, when
    /// [`Api::listen_metrics`] bound one).
    pub fn serve(self, shared: Arc<Shared>, table: Arc<ConnTable>, prometheus: PrometheusHandle) {
        let daemon = Arc::new(Daemon::new(Arc::clone(&shared), table, prometheus));
        let metrics = self.metrics;
        let metrics_thread = metrics.and_then(|listener| {
            let d = Arc::clone(&daemon);
            let stop = Arc::clone(&shared.stop);
            std::thread::Builder::new()
                .name("xvs-metrics".into())
                .spawn(move || metrics_http::serve(listener, Arc::new(move || d.metrics()), stop))
                .map_err(|e| tracing::error!("metrics endpoint: {e}"))
                .ok()
        });

        let active = Arc::new(AtomicUsize::new(0));
        daemon.sample_rates();
        let mut next_sample = Instant::now() + ESTIMATOR_INTERVAL;
        while !shared.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next_sample {
                daemon.sample_rates();
                // Keep the 2 s grid; after a stall, start a new one.
                next_sample += ESTIMATOR_INTERVAL;
                if next_sample <= now {
                    next_sample = now + ESTIMATOR_INTERVAL;
                }
            }
            match self.listener.accept() {
                Ok((stream, _)) => accept(stream, &daemon, &active),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        let _ = std::fs::remove_file(&self.path);
        if let Some(h) = metrics_thread {
            let _ = h.join();
        }
    }
}

/// Hand a connection to a thread of its own, or answer "busy".
fn accept(stream: UnixStream, daemon: &Arc<Daemon>, active: &Arc<AtomicUsize>) {
    if active.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
        active.fetch_sub(1, Ordering::AcqRel);
        // On the accept thread, so nothing here may block: the request
        // (usually there already) is drained without waiting, so closing
        // does not reset the connection under the answer.
        let _ = stream.set_nonblocking(true);
        drain(&stream);
        let busy = Answer::error(format!(
            "busy: {MAX_CLIENTS} requests are in progress; try again"
        ));
        let _ = (&stream).write_all(busy.to_line().as_bytes());
        let _ = stream.shutdown(std::net::Shutdown::Write);
        drain(&stream);
        return;
    }
    let (daemon, active2) = (Arc::clone(daemon), Arc::clone(active));
    let spawned = std::thread::Builder::new()
        .name("xvs-api-client".into())
        .spawn(move || {
            serve_connection(&stream, &*daemon);
            active2.fetch_sub(1, Ordering::AcqRel);
        });
    if spawned.is_err() {
        active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One connection: read one request line, check who sent it, answer, close.
pub fn serve_connection(stream: &UnixStream, backend: &impl Backend) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    // The line is read before the credentials are checked (it is only
    // parsed after): a refused client still gets its answer, where
    // closing on its unread request would reset the connection.
    let request = read_request(stream);
    let answer = match access::check_peer(stream).and(request) {
        Ok(line) => dispatch::answer(backend, &line),
        Err(e) => Answer::error(e),
    };
    let mut w = stream;
    let _ = w.write_all(answer.to_line().as_bytes());
    let _ = w.flush();
    // Let the client read the answer before the close: whatever it still
    // sends (a request past the limit) is read and dropped until it closes.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    drain(stream);
}

/// Read and drop what the client sent, up to [`MAX_REQUEST`] bytes, until
/// it closes, the read times out or (non-blocking) nothing is there.
fn drain(stream: &UnixStream) {
    let mut sink = [0u8; 4096];
    let mut left = MAX_REQUEST;
    while left > 0 {
        match (&*stream).read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n as u64),
        }
    }
}

/// The request line (a last line without its newline counts, when the
/// client shut its side down after it).
fn read_request(stream: &UnixStream) -> Result<String, String> {
    let mut line = String::new();
    let mut reader = BufReader::new(stream.take(MAX_REQUEST));
    match reader.read_line(&mut line) {
        Ok(_) if line.ends_with('\n') => Ok(line),
        Ok(n) if n as u64 >= MAX_REQUEST => Err(format!(
            "request longer than {MAX_REQUEST} bytes; a request is one line"
        )),
        Ok(0) => Err("no request: the connection closed before a request line".into()),
        Ok(_) => Ok(line),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!(
                "no request line within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))
        }
        Err(e) => Err(format!("cannot read the request: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use data::{ConnsListing, Listing};
    use serde_json::Value;
    use xvs_config::edit::{ServerRef, ServiceRef};

    struct Fixed;

    impl Backend for Fixed {
        fn listing(&self, _: Option<ServiceRef>) -> Result<Listing, String> {
            Ok(Listing {
                conn_capacity: 1,
                services: vec![],
            })
        }
        fn conns(&self, _: Option<ServiceRef>, _: Option<ServerRef>) -> ConnsListing {
            ConnsListing {
                connections: vec![],
            }
        }
        fn status(&self, _: bool) -> Result<Value, String> {
            Ok(Value::Null)
        }
        fn metrics(&self) -> String {
            String::new()
        }
        fn control(&self, _: crate::shared::ControlRequest) -> Result<String, String> {
            Err("no control thread".into())
        }
    }

    fn exchange(request: &[u8], shutdown: bool) -> Answer {
        let (client, server) = UnixStream::pair().expect("pair");
        (&client).write_all(request).expect("send");
        if shutdown {
            client
                .shutdown(std::net::Shutdown::Write)
                .expect("shutdown");
        }
        serve_connection(&server, &Fixed);
        drop(server);
        let mut text = String::new();
        (&client).read_to_string(&mut text).expect("answer");
        serde_json::from_str(&text).expect("one JSON answer")
    }

    #[test]
    fn one_line_one_answer() {
        let a = exchange(b"{\"version\":1,\"command\":\"list\"}\n", false);
        assert_eq!(
            a.data,
            Some(serde_json::json!({"conn_capacity": 1, "services": []}))
        );
        // Without the newline, once the client has shut its side down.
        let a = exchange(b"{\"version\":1,\"command\":\"list\"}", true);
        assert!(a.ok);
        let a = exchange(b"", true);
        assert_eq!(
            a.error.as_deref(),
            Some("no request: the connection closed before a request line")
        );
        let a = exchange(b"{\"version\":1,\"command\":\"reload\"}\n", false);
        assert_eq!(a.error.as_deref(), Some("no control thread"));
    }

    #[test]
    fn a_silent_client_times_out() {
        let (client, server) = UnixStream::pair().expect("pair");
        let t0 = Instant::now();
        serve_connection(&server, &Fixed);
        assert!(t0.elapsed() >= REQUEST_TIMEOUT);
        drop(server);
        let mut text = String::new();
        (&client).read_to_string(&mut text).expect("answer");
        assert!(text.contains("no request line within 5 s"), "{text}");
    }
}
