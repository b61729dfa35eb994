//! Driving scripts/lab-hold.py: long-lived TCP connections held from the
//! client namespace to the real servers' hold service (TCP [`HOLD_PORT`]
//! of scripts/lab-backend.py) while a test acts on the directors (a
//! failover to the backup), and the report of how many went on with the
//! same real server without a reset.
//!
//! The script gets a pipe on stdin ("finish" there ends the hold); its
//! stdout ("ready K", then one JSON object) and stderr (one line per failed
//! connection) go to files in the lab directory, polled like the other
//! processes' logs, so no reader thread is needed.
//!
//! Layer: test support.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::backends::script;
use crate::process::{show, POLL, TERM_GRACE};
use crate::{Lab, LabError};

/// The TCP port of lab-backend.py's hold service.
pub const HOLD_PORT: u16 = 9000;
/// How long [`Lab::hold_start`] waits for every connection to open and
/// answer its first echo (600 connections take well under a second on
/// loopback; a loaded CI machine and a director in between get slack).
pub const HOLD_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// What [`Hold::finish`] waits for the report beyond the per-answer
/// timeout (the final exchange takes at most one timeout).
pub const HOLD_REPORT_SLACK: Duration = Duration::from_secs(20);

/// A running lab-hold.py. Dropping it kills the script (its connections
/// close with it); [`finish`](Self::finish) ends it with a report.
#[derive(Debug)]
pub struct Hold {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    command: String,
    /// Its stdout: "ready K", then the report.
    out: PathBuf,
    /// Its stderr: one line per failed connection, or why it stopped.
    log: PathBuf,
    /// The script's per-answer timeout.
    timeout: Duration,
}

/// What lab-hold.py reports: every connection either continued or failed
/// once, for the first reason it met.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct HoldReport {
    /// Connections whose TCP handshake completed.
    pub opened: usize,
    /// Connections that never failed and answered the final exchange,
    /// every answer from the real server of their first one.
    pub continued: usize,
    /// Failed connections per reason: `connect`, `reset`, `eof`,
    /// `timeout`, `server_changed`, `bad_answer`, `stream_gap`.
    pub failed: BTreeMap<String, usize>,
    /// Connections per real server that answered their first echo.
    pub by_server: BTreeMap<String, usize>,
    /// The first failures (up to 20), in the order they happened.
    pub failures: Vec<HoldFailure>,
}

/// One failed connection, as an example in a [`HoldReport`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct HoldFailure {
    /// The connection's index (its pattern is `i % 3`).
    pub i: usize,
    /// `chatty`, `idle` or `stream`.
    #[serde(default)]
    pub pattern: String,
    /// Its local address `ip:port` (`[v6]:port`); empty when it never got
    /// one.
    pub src: String,
    pub reason: String,
    /// UNIX time of the failure, to line up with what the test did.
    pub at: f64,
    /// What exactly happened (`recv: [Errno 104] Connection reset by peer`).
    #[serde(default)]
    pub detail: String,
}

impl fmt::Display for HoldFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = if self.src.is_empty() { "-" } else { &self.src };
        write!(
            f,
            "#{} {} from {src}: {} at {:.3}",
            self.i, self.pattern, self.reason, self.at
        )?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl HoldReport {
    /// The connections asked for: each continued or failed.
    pub fn total(&self) -> usize {
        self.continued + self.failed_total()
    }

    /// The connections that failed, for any reason.
    pub fn failed_total(&self) -> usize {
        self.failed.values().sum()
    }

    /// One paragraph for an assertion message: the counts, the reasons,
    /// the servers and the first failures.
    pub fn summary(&self) -> String {
        let pairs = |map: &BTreeMap<String, usize>| {
            map.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut text = format!(
            "continued {} of {} (opened {})",
            self.continued,
            self.total(),
            self.opened
        );
        if !self.failed.is_empty() {
            text += &format!("; failed: {}", pairs(&self.failed));
        }
        text += &format!("; by server: {}", pairs(&self.by_server));
        for failure in &self.failures {
            text += &format!("\n  {failure}");
        }
        text
    }
}

/// Parse the report line lab-hold.py printed (JSON is YAML, so serde_yaml
/// reads it) and check that its counts add up.
pub fn parse_hold_report(stdout: &str) -> Result<HoldReport, LabError> {
    let bad = |reason: String| LabError::Report {
        reason: format!("lab-hold.py: {reason}"),
        output: stdout.to_owned(),
    };
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| bad("no JSON object".into()))?;
    let report: HoldReport = serde_yaml::from_str(line).map_err(|e| bad(e.to_string()))?;
    // A connection that never opened can only fail with "connect"; every
    // other one continued or failed once for another reason.
    let never_opened = report.failed.get("connect").copied().unwrap_or(0);
    if report.continued + report.failed_total() - never_opened != report.opened {
        return Err(bad(format!(
            "opened {} is not continued {} plus the failures after opening {}",
            report.opened,
            report.continued,
            report.failed_total() - never_opened
        )));
    }
    let named: usize = report.by_server.values().sum();
    if named < report.continued || named > report.opened {
        return Err(bad(format!(
            "by_server names {named} connections, not between continued {} and opened {}",
            report.continued, report.opened
        )));
    }
    Ok(report)
}

/// K of the first complete "ready K" line, if there is one yet.
fn ready_count(stdout: &str) -> Option<usize> {
    complete_lines(stdout).find_map(|l| l.trim().strip_prefix("ready ")?.parse().ok())
}

/// The lines that end in a newline (the last one may still be written).
fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n').filter(|l| l.ends_with('\n'))
}

/// The lab-hold.py arguments (after the script path).
pub fn hold_args(target: &str, count: usize, sources: &[&str], timeout_secs: f64) -> Vec<String> {
    let mut args = vec![
        target.to_owned(),
        "--count".to_owned(),
        count.to_string(),
        "--timeout".to_owned(),
        // NaN, inf or a negative number reach the script, which refuses
        // them with a usage error that hold_start reports.
        timeout_secs.to_string(),
    ];
    if !sources.is_empty() {
        args.push("--sources".to_owned());
        args.push(sources.join(","));
    }
    args
}

fn read_text(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

impl Lab {
    /// Start lab-hold.py in the client namespace: `count` connections to
    /// `target` (`198.18.0.100:9000`, `[fd00:0:0:1::100]:9000`), bound
    /// round-robin to `sources` (none: the kernel chooses), each answer
    /// due within `timeout_secs`. Returns once every connection has opened
    /// and answered its first echo; fails with the script's stderr when
    /// one did not, or after [`HOLD_READY_TIMEOUT`].
    pub fn hold_start(
        &self,
        target: &str,
        count: usize,
        sources: &[&str],
        timeout_secs: f64,
    ) -> Result<Hold, LabError> {
        let ns = self.ns_client();
        let script = script("lab-hold.py");
        let args = hold_args(target, count, sources, timeout_secs);
        let mut full = vec!["ip", "netns", "exec", ns.as_str(), "python3", &script];
        full.extend(args.iter().map(String::as_str));
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        let out = self.dir.join(format!("{n}-{ns}-lab-hold.out"));
        let log = self.dir.join(format!("{n}-{ns}-lab-hold.log"));
        let timeout = Duration::try_from_secs_f64(timeout_secs).unwrap_or_default();
        let mut hold = Hold::start(&full, out, log, timeout)?;
        hold.wait_ready(count, HOLD_READY_TIMEOUT)?;
        Ok(hold)
    }
}

impl Hold {
    /// Start `args` (program first) with a pipe on stdin, stdout to `out`
    /// and stderr to `log`.
    pub(crate) fn start(
        args: &[&str],
        out: PathBuf,
        log: PathBuf,
        timeout: Duration,
    ) -> Result<Hold, LabError> {
        let command = show(args);
        let (program, rest) = args.split_first().ok_or_else(|| LabError::Spawn {
            command: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
        })?;
        let stdout = File::create(&out).map_err(|e| LabError::io(&out, e))?;
        let stderr = File::create(&log).map_err(|e| LabError::io(&log, e))?;
        let mut child = Command::new(program)
            .args(rest)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|source| LabError::Spawn {
                command: command.clone(),
                source,
            })?;
        let stdin = child.stdin.take();
        Ok(Hold {
            child: Some(child),
            stdin,
            command,
            out,
            log,
            timeout,
        })
    }

    /// The process id (of python itself: `ip netns exec` execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The file holding its stderr: one line per failed connection.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        read_text(&self.log)
    }

    /// Wait up to `timeout` for "ready `count`".
    fn wait_ready(&mut self, count: usize, timeout: Duration) -> Result<(), LabError> {
        let deadline = Instant::now() + timeout;
        let what = format!("`{}`", self.command);
        let not_ready = |detail: String| LabError::NotReady {
            what: what.clone(),
            timeout,
            detail,
        };
        loop {
            // Exit status first: output written before the exit is then
            // surely in the file read next.
            let exited = self.try_wait()?;
            if let Some(ready) = ready_count(&read_text(&self.out)) {
                if ready == count {
                    return Ok(());
                }
                return Err(not_ready(format!(
                    "only {ready} of {count} connections opened and answered their first echo: {}",
                    self.log().trim()
                )));
            }
            if let Some(status) = exited {
                return Err(not_ready(format!(
                    "it exited ({status}): {}",
                    self.log().trim()
                )));
            }
            if Instant::now() >= deadline {
                return Err(not_ready(format!(
                    "no \"ready\" line yet; stderr: {}",
                    self.log().trim()
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// End the hold: every connection still good does its final exchange,
    /// and the script reports. Waits up to the per-answer timeout plus
    /// [`HOLD_REPORT_SLACK`]; kills the script if it has not reported by
    /// then.
    pub fn finish(mut self) -> Result<HoldReport, LabError> {
        if let Some(mut stdin) = self.stdin.take() {
            // A failed write means it has already exited; what it printed
            // says why. Dropping the pipe closes it, which also means
            // "finish" to the script.
            let _ = stdin.write_all(b"finish\n");
        }
        let wait = self.timeout + HOLD_REPORT_SLACK;
        let deadline = Instant::now() + wait;
        loop {
            let exited = self.try_wait()?;
            let out = read_text(&self.out);
            if complete_lines(&out).any(|l| l.trim_start().starts_with('{')) {
                self.stop()?;
                return parse_hold_report(&out);
            }
            if let Some(status) = exited {
                return Err(LabError::Report {
                    reason: format!("lab-hold.py exited ({status}) without a report"),
                    output: format!("{}\nstderr: {}", out.trim(), self.log().trim()),
                });
            }
            if Instant::now() >= deadline {
                self.stop()?;
                return Err(LabError::NotReady {
                    what: format!("the report of `{}`", self.command),
                    timeout: wait,
                    detail: format!("stdout: {}; stderr: {}", out.trim(), self.log().trim()),
                });
            }
            thread::sleep(POLL);
        }
    }

    fn try_wait(&mut self) -> Result<Option<ExitStatus>, LabError> {
        match self.child.as_mut() {
            None => Ok(None),
            Some(child) => child.try_wait().map_err(|source| LabError::Spawn {
                command: self.command.clone(),
                source,
            }),
        }
    }

    /// Give it [`TERM_GRACE`] to exit on its own, then SIGKILL; reap it.
    /// (No SIGTERM first: the script has nothing to clean up, and its
    /// sockets close with it either way.)
    fn stop(&mut self) -> Result<(), LabError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let spawn_err = |source| LabError::Spawn {
            command: self.command.clone(),
            source,
        };
        let deadline = Instant::now() + TERM_GRACE;
        while child.try_wait().map_err(spawn_err)?.is_none() {
            if Instant::now() >= deadline {
                // Only fails when it has exited meanwhile; wait tells.
                let _ = child.kill();
                child.wait().map_err(spawn_err)?;
                break;
            }
            thread::sleep(POLL);
        }
        Ok(())
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        // Dropped without finish (a test failed before it): no report is
        // wanted, so kill at once rather than wait for one.
        self.stdin = None;
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
        }
        if let Err(e) = self.stop() {
            eprintln!("xvs-lab: stopping `{}`: {e}", self.command);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"ready 6
{"opened": 5, "continued": 3, "failed": {"connect": 1, "eof": 1, "reset": 1}, "by_server": {"rs1": 2, "rs2": 3}, "failures": [{"i": 4, "pattern": "idle", "src": "198.18.0.11:40022", "reason": "reset", "at": 1700000000.125, "detail": "recv: [Errno 104] Connection reset by peer"}, {"i": 5, "pattern": "stream", "src": "[fd00:0:0:1::10]:40024", "reason": "eof", "at": 1700000000.5, "detail": "not NAME ANSWER: b'HTTP/1.1 400\\r'"}, {"i": 0, "pattern": "chatty", "src": "", "reason": "connect", "at": 1700000001, "detail": "Connection refused"}]}
"#;

    #[test]
    fn report_is_parsed() {
        let r = parse_hold_report(REPORT).unwrap();
        assert_eq!((r.opened, r.continued, r.total()), (5, 3, 6));
        assert_eq!(r.failed["reset"], 1);
        assert_eq!(r.by_server["rs2"], 3);
        assert_eq!(r.failures.len(), 3);
        assert_eq!(r.failures[0].src, "198.18.0.11:40022");
        assert_eq!(r.failures[0].at, 1700000000.125);
        assert_eq!(r.failures[1].detail, r"not NAME ANSWER: b'HTTP/1.1 400\r'");
        assert_eq!(r.failures[2].at, 1700000001.0, "an integer time is a time");
    }

    #[test]
    fn summary_names_counts_reasons_and_examples() {
        let s = parse_hold_report(REPORT).unwrap().summary();
        assert!(s.starts_with("continued 3 of 6 (opened 5)"), "{s}");
        assert!(s.contains("failed: connect 1, eof 1, reset 1"), "{s}");
        assert!(s.contains("by server: rs1 2, rs2 3"), "{s}");
        assert!(
            s.contains(
                "#4 idle from 198.18.0.11:40022: reset at 1700000000.125 (recv: [Errno 104]"
            ),
            "{s}"
        );
        assert!(s.contains("#0 chatty from -: connect"), "{s}");
        let clean = r#"{"opened": 2, "continued": 2, "failed": {}, "by_server": {"rs1": 2}, "failures": []}"#;
        assert_eq!(
            parse_hold_report(clean).unwrap().summary(),
            "continued 2 of 2 (opened 2); by server: rs1 2"
        );
    }

    #[test]
    fn inconsistent_or_missing_report_is_an_error() {
        assert!(parse_hold_report("ready 3\nTraceback (most recent call last):\n").is_err());
        // A continued connection that never opened.
        let extra = r#"{"opened": 1, "continued": 2, "failed": {}, "by_server": {"rs1": 2}, "failures": []}"#;
        assert!(parse_hold_report(extra).is_err());
        // More named connections than opened ones.
        let named = r#"{"opened": 1, "continued": 1, "failed": {}, "by_server": {"rs1": 2}, "failures": []}"#;
        assert!(parse_hold_report(named).is_err());
        assert!(parse_hold_report(r#"{"opened": "all"}"#).is_err());
    }

    #[test]
    fn ready_needs_a_whole_line() {
        assert_eq!(ready_count("ready 600\n"), Some(600));
        assert_eq!(ready_count("ready 6"), None, "600 may still be written");
        assert_eq!(ready_count("ready many\n"), None);
        assert_eq!(ready_count(""), None);
    }

    #[test]
    fn args_name_every_option() {
        assert_eq!(
            hold_args(
                "[fd00:0:0:1::100]:9000",
                200,
                &["fd00:0:0:1::10", "fd00:0:0:1::11"],
                2.5
            ),
            [
                "[fd00:0:0:1::100]:9000",
                "--count",
                "200",
                "--timeout",
                "2.5",
                "--sources",
                "fd00:0:0:1::10,fd00:0:0:1::11"
            ]
        );
        let plain = hold_args("198.18.0.100:9000", 3, &[], 5.0);
        assert_eq!(plain[4], "5");
        assert!(!plain.contains(&"--sources".to_owned()));
    }

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("xvs-lab-hold-{}-{name}", std::process::id()))
    }

    fn remove(name: &str) {
        for ext in ["out", "log"] {
            let _ = std::fs::remove_file(temp(&format!("{name}.{ext}")));
        }
    }

    fn start_sh(name: &str, script: &str) -> Hold {
        Hold::start(
            &["sh", "-c", script],
            temp(&format!("{name}.out")),
            temp(&format!("{name}.log")),
            Duration::from_secs(1),
        )
        .unwrap()
    }

    #[test]
    fn ready_then_finish_reads_the_report() {
        // Stands in for the script: ready, then a report once told to finish.
        let mut hold = start_sh(
            "finish",
            r#"echo ready 2; read cmd; [ "$cmd" = finish ] && echo '{"opened": 2, "continued": 2, "failed": {}, "by_server": {"rs1": 2}, "failures": []}'"#,
        );
        hold.wait_ready(2, Duration::from_secs(30)).unwrap();
        let report = hold.finish().unwrap();
        assert_eq!((report.continued, report.total()), (2, 2));
        remove("finish");
    }

    #[test]
    fn a_short_ready_or_an_exit_is_an_error_with_stderr() {
        let mut hold = start_sh(
            "short",
            "echo 'connection 1: connect: refused' >&2; echo ready 1; exec sleep 60",
        );
        let err = hold.wait_ready(2, Duration::from_secs(30)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("only 1 of 2") && text.contains("refused"),
            "{text}"
        );
        let mut hold = start_sh("exit", "echo 'usage: bad' >&2; exit 2");
        let text = hold
            .wait_ready(2, Duration::from_secs(30))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("exit status: 2") && text.contains("usage: bad"),
            "{text}"
        );
        remove("short");
        remove("exit");
    }

    #[test]
    fn dropping_kills_the_script() {
        let hold = start_sh("drop", "echo ready 1; exec sleep 60");
        let pid = hold.pid().unwrap();
        drop(hold);
        // Reaped, so the pid is gone (not a zombie).
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        remove("drop");
    }

    #[test]
    fn the_real_script_refuses_bad_arguments() {
        let args = hold_args("127.0.0.1:9000", 0, &[], 1.0);
        let script = script("lab-hold.py");
        let mut full = vec!["python3", script.as_str()];
        full.extend(args.iter().map(String::as_str));
        let mut hold = Hold::start(
            &full,
            temp("real.out"),
            temp("real.log"),
            Duration::from_secs(1),
        )
        .unwrap();
        let text = hold
            .wait_ready(0, Duration::from_secs(30))
            .unwrap_err()
            .to_string();
        assert!(text.contains("--count must be at least 1"), "{text}");
        remove("real");
    }
}
