//! The daemon's local control socket (a Unix stream socket): one request
//! line in, one text answer out. `xvs list`, `xvs list --stats` and
//! `xvs metrics` talk to it; so do the end-to-end tests.
//!
//! Requests: `list`, `stats`, `stats exact`, `metrics`, `reload`,
//! `status` (the health checker's view: real servers, checkers, quorum) and
//! `status json` (the same as JSON).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use xvs_conn::ConnTable;

use crate::shared::Shared;

/// How long `status` waits for the health thread to build a fresh one.
const STATUS_WAIT: Duration = Duration::from_secs(1);

/// Serves the control socket until the stop flag is set.
#[derive(Debug)]
pub struct Api {
    pub path: PathBuf,
    listener: UnixListener,
}

impl Api {
    pub fn bind(path: &Path) -> std::io::Result<Api> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // A socket file left by a crashed daemon must not stop a restart.
        if path.exists() && UnixStream::connect(path).is_err() {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Api {
            path: path.to_path_buf(),
            listener,
        })
    }

    pub fn serve(
        self,
        shared: Arc<Shared>,
        table: Arc<ConnTable>,
        prometheus: PrometheusHandle,
        reload: Arc<AtomicBool>,
    ) {
        while !shared.stop.load(Ordering::Relaxed) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let _ = handle(stream, &shared, &table, &prometheus, &reload);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn handle(
    stream: UnixStream,
    shared: &Shared,
    table: &ConnTable,
    prometheus: &PrometheusHandle,
    reload: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let plan = shared.plan.load();
    let answer = match line.trim() {
        "list" => crate::export::list(&plan),
        "stats" => crate::export::list_stats(&plan, false),
        "stats exact" => crate::export::list_stats(&plan, true),
        "metrics" => {
            let entries: Vec<usize> = (0..shared.workers.len())
                .map(|w| table.shard_len(w))
                .collect();
            crate::export::record(shared, &entries);
            prometheus.render()
        }
        "status" => {
            let mut out = match shared.health.ask(STATUS_WAIT) {
                Some(status) => status.render_text(),
                None => "health checking is starting\n".to_string(),
            };
            if let Some(v) = shared.vrrp.ask(STATUS_WAIT) {
                out.push('\n');
                out.push_str(&crate::vrrp_status::render_text(&v.instances));
            }
            if let Some(s) = shared.sync.load_full() {
                out.push('\n');
                out.push_str(&s.render_text());
            }
            out
        }
        "status json" => match shared.health.ask(STATUS_WAIT) {
            Some(status) => {
                let mut value = serde_json::to_value(&*status).unwrap_or_default();
                if let (Some(v), Some(map)) = (shared.vrrp.ask(STATUS_WAIT), value.as_object_mut()) {
                    map.insert(
                        "vrrp".into(),
                        serde_json::to_value(&v.instances).unwrap_or_default(),
                    );
                }
                if let (Some(s), Some(map)) = (shared.sync.load_full(), value.as_object_mut()) {
                    map.insert(
                        "sync".into(),
                        serde_json::to_value(&*s).unwrap_or_default(),
                    );
                }
                serde_json::to_string_pretty(&value)
                    .map(|mut s| {
                        s.push('\n');
                        s
                    })
                    .unwrap_or_else(|e| format!("error: {e}\n"))
            }
            None => "error: health checking is starting\n".to_string(),
        },
        "reload" => {
            reload.store(true, Ordering::Relaxed);
            "reload requested\n".to_string()
        }
        other => format!(
            "error: unknown request {other:?} (list, stats, stats exact, metrics, reload, status, status json)\n"
        ),
    };
    (&stream).write_all(answer.as_bytes())
}

/// Client side: send one request to the daemon at `path` and return its answer.
pub fn request(path: &Path, what: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("{what}\n").as_bytes())?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
