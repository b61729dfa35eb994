//! Health-check test support: services with checkers in YAML, the health
//! status read back as JSON (`xvs status --json`), and a client that keeps
//! sending through the VIP in the background, recording when each request
//! started and which real server answered (lab-client.py --timeline).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::{request, wait_until, xvs_bin, Running};

/// Tests that time what the health checker does run one at a time: on a
/// two-core machine, labs checking in parallel would delay each other's
/// probes and blur the deadlines they assert.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The start of every timed health test: wait for the other ones, then
/// build a lab for `method` (None, loudly, when the lab cannot run here).
/// Keep the guard alive for the whole test.
pub fn health_lab(
    test: &str,
    method: xvs_lab::Method,
) -> Option<(MutexGuard<'static, ()>, xvs_lab::Lab)> {
    let guard = serial();
    super::support::lab(test, method, 1).map(|lab| (guard, lab))
}

/// Now as UNIX seconds (the clock lab-client.py's timeline uses).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `xvs status --json`.
pub fn status(r: &Running) -> Value {
    let out = Command::new(xvs_bin())
        .args(["status", "--json", "--control"])
        .arg(&r.sock)
        .output()
        .expect("run xvs status");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "xvs status --json is not JSON ({e}):\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// One real server in a status document.
#[derive(Debug, Clone)]
pub struct ServerState {
    pub up: bool,
    pub effective_weight: u64,
    /// Every checker's last result ("ok" or the failure reason).
    pub results: Vec<String>,
    pub transitions: u64,
}

/// The state of real server `rip` (as `ip` or `[v6]`, with `:port`) of the
/// service at `vip:port`, if listed.
pub fn server(status: &Value, vip: &str, port: u16, rs: &str) -> Option<ServerState> {
    let services = status.get("services")?.as_array()?;
    let svc = services.iter().find(|s| {
        s.get("vip").and_then(Value::as_str) == Some(vip)
            && s.get("port").and_then(Value::as_u64) == Some(u64::from(port))
    })?;
    let rs = svc
        .get("real_servers")?
        .as_array()?
        .iter()
        .find(|r| endpoint(r) == rs)?;
    Some(ServerState {
        up: rs.get("up").and_then(Value::as_bool)?,
        effective_weight: rs.get("effective_weight").and_then(Value::as_u64)?,
        results: rs
            .get("checkers")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        c.get("last_result")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default(),
        transitions: rs.get("transitions").and_then(Value::as_u64).unwrap_or(0),
    })
}

fn endpoint(rs: &Value) -> String {
    let addr = rs.get("address").and_then(Value::as_str).unwrap_or("");
    let port = rs.get("port").and_then(Value::as_u64).unwrap_or(0);
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// Wait until every checker of real server `rs` of `vip:port` has run
/// and passed (a server starts up without alpha, before any check: this
/// is the proof that its probes got their answers).
pub fn wait_checked(r: &Running, vip: &str, port: u16, rs: &str, secs: u64) {
    wait_until(
        secs,
        &format!("{rs} of {vip}:{port}: not every checker passed"),
        || {
            server(&status(r), vip, port, rs).is_some_and(|s| {
                s.up && !s.results.is_empty() && s.results.iter().all(|x| x == "ok")
            })
        },
        || {
            format!(
                "status:\n{}\nlog:\n{}",
                serde_json::to_string_pretty(&status(r)).unwrap_or_default(),
                r.xvs.log()
            )
        },
    );
}

/// Whether the service at `vip:port` has its quorum.
pub fn quorum_up(status: &Value, vip: &str, port: u16) -> Option<bool> {
    let services = status.get("services")?.as_array()?;
    let svc = services.iter().find(|s| {
        s.get("vip").and_then(Value::as_str) == Some(vip)
            && s.get("port").and_then(Value::as_u64) == Some(u64::from(port))
    })?;
    svc.get("quorum")?.get("up")?.as_bool()
}

/// Wait until real server `rs` of `vip:port` is up (or down), with the
/// status document in the failure message. Returns when it was seen.
pub fn wait_server(r: &Running, vip: &str, port: u16, rs: &str, up: bool, secs: u64) -> Instant {
    wait_until(
        secs,
        &format!(
            "{rs} of {vip}:{port} did not go {}",
            if up { "up" } else { "down" }
        ),
        || server(&status(r), vip, port, rs).is_some_and(|s| s.up == up),
        || {
            format!(
                "status:\n{}\nlist:\n{}\nlog:\n{}",
                serde_json::to_string_pretty(&status(r)).unwrap_or_default(),
                request(r, "list"),
                r.xvs.log()
            )
        },
    );
    Instant::now()
}

/// One request of a background client.
#[derive(Debug, Clone)]
pub struct Sample {
    /// UNIX seconds when it started.
    pub t: f64,
    /// Seconds it took (answered or failed).
    pub d: f64,
    pub server: Option<String>,
    pub error: Option<String>,
}

/// A client sending HTTP requests through the VIP for a while.
#[derive(Debug)]
pub struct ClientLoop {
    child: Child,
    timeline: PathBuf,
}

impl ClientLoop {
    /// `concurrency` threads, each: GET `url`, pause `interval`, for
    /// `duration`; new connection per request.
    pub fn start(
        lab: &xvs_lab::Lab,
        url: &str,
        duration: Duration,
        concurrency: usize,
        interval: Duration,
    ) -> ClientLoop {
        ClientLoop::spawn(
            lab,
            url,
            duration,
            &[
                "--interval".into(),
                interval.as_secs_f64().to_string(),
                "--concurrency".into(),
                concurrency.to_string(),
            ],
        )
    }

    /// Open loop: a GET of `url` starts every `every` for `duration`,
    /// whether or not earlier ones finished (up to 200 in flight).
    pub fn every(lab: &xvs_lab::Lab, url: &str, duration: Duration, every: Duration) -> ClientLoop {
        ClientLoop::spawn(
            lab,
            url,
            duration,
            &[
                "--every".into(),
                every.as_secs_f64().to_string(),
                "--concurrency".into(),
                "200".into(),
            ],
        )
    }

    fn spawn(lab: &xvs_lab::Lab, url: &str, duration: Duration, pace: &[String]) -> ClientLoop {
        let dir = xvs_lab::lab_dir(lab.prefix());
        let timeline = dir.join(format!("timeline-{}.jsonl", unix_now()));
        let script = xvs_lab::scripts_dir().join("lab-client.py");
        let servers: Vec<String> = (1..=lab.spec().real_servers)
            .map(|i| lab.rs_name(i))
            .collect();
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns_client(), "python3"])
            .arg(&script)
            .args(["http", url, "--timeout", "2"])
            .args(["--duration", &duration.as_secs_f64().to_string()])
            .args(pace)
            .args(["--servers", &servers.join(",")])
            .arg("--timeline")
            .arg(&timeline)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lab-client.py");
        ClientLoop { child, timeline }
    }

    /// Wait for the client to finish; every request it sent.
    pub fn finish(mut self) -> Vec<Sample> {
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.timeline).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| Sample {
                t: v.get("t").and_then(Value::as_f64).unwrap_or(0.0),
                d: v.get("d").and_then(Value::as_f64).unwrap_or(0.0),
                server: v.get("server").and_then(Value::as_str).map(str::to_string),
                error: v.get("error").and_then(Value::as_str).map(str::to_string),
            })
            .collect()
    }
}

impl Drop for ClientLoop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Share of `server` among the answered requests started in [from, to).
pub fn share(samples: &[Sample], server: &str, from: f64, to: f64) -> (usize, usize) {
    let answered: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t >= from && s.t < to && s.server.is_some())
        .collect();
    let hits = answered
        .iter()
        .filter(|s| s.server.as_deref() == Some(server))
        .count();
    (hits, answered.len())
}

/// Print past the test harness's capture (a figure the issue asks the
/// test to report).
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The CPUs the `xvs-health` thread of the running xvs may use
/// (Cpus_allowed_list of /proc/PID/task/TID/status), if found.
pub fn health_thread_cpus(r: &Running) -> Option<Vec<usize>> {
    let pid = r.xvs.pid()?;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let task = tasks.flatten().find(|t| {
        std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "xvs-health")
    })?;
    let status = std::fs::read_to_string(task.path().join("status")).ok()?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
        .trim()
        .to_string();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().ok()?..=b.parse::<usize>().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}
