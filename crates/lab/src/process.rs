//! Running programs for the lab: one-shot commands whose failure carries
//! their stderr, and long-running processes ([`LabProcess`]) whose output
//! goes to a log file and which are stopped when dropped.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::LabError;

/// How long a process gets between SIGTERM and SIGKILL when stopped.
pub const TERM_GRACE: Duration = Duration::from_secs(2);
/// How often waiting loops look again.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// `args` as one shell-like string, for error messages.
pub(crate) fn show(args: &[&str]) -> String {
    args.join(" ")
}

/// Run `args` (program first) to completion; a non-zero exit is an error
/// carrying stderr (or stdout when stderr is empty).
pub fn run(args: &[&str]) -> Result<Output, LabError> {
    run_with_stdin(args, None)
}

/// As [`run`], writing `stdin` to the program first (for `nft -f -`).
pub fn run_with_stdin(args: &[&str], stdin: Option<&str>) -> Result<Output, LabError> {
    let (program, rest) = args.split_first().ok_or_else(|| LabError::Spawn {
        command: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
    })?;
    let mut cmd = Command::new(program);
    cmd.args(rest)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawn_err = |source| LabError::Spawn {
        command: show(args),
        source,
    };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The input is small (an nft ruleset), well under a pipe buffer, so
        // writing it all before reading the output cannot deadlock.
        pipe.write_all(text.as_bytes()).map_err(spawn_err)?;
    }
    let output = child.wait_with_output().map_err(spawn_err)?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    let stderr = if stderr.is_empty() {
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    } else {
        stderr
    };
    Err(LabError::Command {
        command: show(args),
        status: output.status.to_string(),
        stderr,
    })
}

/// A long-running program started in a lab namespace. Its stdout and
/// stderr go to one log file. Dropping it stops it (SIGTERM, then SIGKILL
/// after [`TERM_GRACE`]) unless it was [`detach`](Self::detach)ed.
#[derive(Debug)]
pub struct LabProcess {
    child: Option<Child>,
    command: String,
    log: PathBuf,
}

impl LabProcess {
    /// Start `args` with stdin closed and output appended to `log`.
    pub fn start(args: &[&str], log: &Path) -> Result<Self, LabError> {
        let (program, rest) = args.split_first().ok_or_else(|| LabError::Spawn {
            command: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
        })?;
        let out = File::create(log).map_err(|e| LabError::io(log, e))?;
        let err = out.try_clone().map_err(|e| LabError::io(log, e))?;
        let child = Command::new(program)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| LabError::Spawn {
                command: show(args),
                source,
            })?;
        Ok(LabProcess {
            child: Some(child),
            command: show(args),
            log: log.to_owned(),
        })
    }

    /// The process id (of the program itself: `ip netns exec` execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The command line it was started with.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The log file holding its stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Its output so far (empty if the log cannot be read).
    pub fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Its exit status if it has exited, `None` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, LabError> {
        match self.child.as_mut() {
            None => Ok(None),
            Some(child) => child.try_wait().map_err(|source| LabError::Spawn {
                command: self.command.clone(),
                source,
            }),
        }
    }

    /// True while it runs.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && matches!(self.try_wait(), Ok(None))
    }

    /// Wait up to `timeout` for it to exit on its own.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, LabError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if self.child.is_none() || Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(POLL);
        }
    }

    /// Send a signal by name (`TERM`, `HUP`, `INT`, ...) with kill(1).
    pub fn signal(&self, signal: &str) -> Result<(), LabError> {
        match self.pid() {
            Some(pid) => run(&["kill", "-s", signal, &pid.to_string()]).map(drop),
            None => Ok(()),
        }
    }

    /// Stop it: SIGTERM, wait up to [`TERM_GRACE`], then SIGKILL; reaps it.
    pub fn stop(&mut self) -> Result<Option<ExitStatus>, LabError> {
        if self.child.is_none() {
            return Ok(None);
        }
        if let Some(status) = self.try_wait()? {
            self.child = None;
            return Ok(Some(status));
        }
        // A failed SIGTERM (it exited meanwhile) is not an error: the wait
        // below finds out.
        let _ = self.signal("TERM");
        let status = match self.wait_timeout(TERM_GRACE)? {
            Some(status) => status,
            None => {
                let child = self.child.as_mut().ok_or_else(|| LabError::Spawn {
                    command: self.command.clone(),
                    source: std::io::Error::other("no child"),
                })?;
                let _ = child.kill();
                child.wait().map_err(|source| LabError::Spawn {
                    command: self.command.clone(),
                    source,
                })?
            }
        };
        self.child = None;
        Ok(Some(status))
    }

    /// Leave it running after this handle is gone (`xvs-lab up`);
    /// `xvs-lab down` kills it with its namespace.
    pub fn detach(mut self) {
        self.child = None;
    }
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("xvs-lab: stopping `{}`: {e}", self.command);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_command_carries_stderr() {
        let err = run(&["sh", "-c", "echo boom >&2; exit 3"]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("boom") && text.contains("exit status: 3"),
            "{text}"
        );
    }

    #[test]
    fn stderr_falls_back_to_stdout() {
        let err = run(&["sh", "-c", "echo on-stdout; exit 1"]).unwrap_err();
        assert!(err.to_string().contains("on-stdout"), "{err}");
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = run(&["/nonexistent/xvs-lab-program"]).unwrap_err();
        assert!(matches!(err, LabError::Spawn { .. }), "{err}");
        assert!(run(&[]).is_err());
    }

    #[test]
    fn stdin_reaches_the_program() {
        let out = run_with_stdin(&["cat"], Some("ruleset\n")).unwrap();
        assert_eq!(out.stdout, b"ruleset\n");
    }

    fn temp_log(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("xvs-lab-test-{}-{name}.log", std::process::id()))
    }

    #[test]
    fn process_output_goes_to_its_log_and_stop_reaps_it() {
        let log = temp_log("sleeper");
        let mut p = LabProcess::start(&["sh", "-c", "echo started; exec sleep 60"], &log).unwrap();
        assert!(p.is_running());
        // The echo happens before the exec; wait for it without a timed assertion.
        while !p.log().contains("started") {
            thread::sleep(POLL);
        }
        let status = p.stop().unwrap().unwrap();
        assert!(!status.success(), "killed by SIGTERM, not a clean exit");
        assert!(!p.is_running());
        assert_eq!(p.stop().unwrap(), None, "stopping twice is a no-op");
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn exit_status_is_reported() {
        let log = temp_log("exit");
        let mut p = LabProcess::start(&["sh", "-c", "exit 7"], &log).unwrap();
        let status = p.wait_timeout(Duration::from_secs(30)).unwrap().unwrap();
        assert_eq!(status.code(), Some(7));
        let _ = std::fs::remove_file(log);
    }
}
