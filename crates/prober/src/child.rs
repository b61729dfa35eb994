//! MISC_CHECK programs and notify/quorum scripts: spawned without a shell,
//! watched through a pidfd on the event loop, stopped with SIGTERM and
//! then SIGKILL, and always reaped.
//!
//! Layer: driver. As keepalived's check_misc.c and notify.c: the program
//! runs in its own process group (so a timeout stops the whole group, not
//! only its leader), with the configured user's uid, gid and supplementary
//! groups, stdio on /dev/null and an environment of PATH alone.
//!
//! Why a pidfd: it turns "the child exited" into readiness on the one
//! event loop, so a child is reaped as soon as it exits and an idle
//! engine sleeps for as long as its caller lets it. Kernels older than 5.3
//! have no pidfd_open; there a child is polled with `try_wait` on every
//! loop iteration and the engine caps its sleep at [`POLL_INTERVAL`] while
//! such children run.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry};
use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{Gid, Group, Pid, Uid, User};
use xvs_config::Script;
use xvs_probe::Outcome;

use crate::net::{describe, describe_errno};
use crate::task::{Ctx, Step};
use xvs_probe::misc;

/// How long a child has between SIGTERM and SIGKILL (keepalived: 2 s).
pub(crate) const TERM_GRACE: Duration = Duration::from_secs(2);
/// How long a SIGKILLed child has to be reaped before the probe is given
/// up as failed (keepalived: 10 s); the child is still reaped later.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(10);
/// How often children are polled where there is no pidfd.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// PATH for the child when the daemon has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Running,
    /// SIGTERM sent to the group at the timeout.
    Terminating,
    /// SIGKILL sent to the group.
    Killing,
}

#[derive(Debug)]
pub(crate) struct ChildTask {
    child: Child,
    pidfd: Option<OwnedFd>,
    /// argv[0], for reasons.
    program: String,
    dynamic: bool,
    stage: Stage,
    timed_out: bool,
    reaped: Option<Reaped>,
}

#[derive(Clone, Copy, Debug)]
enum Reaped {
    Status(ExitStatus),
    /// Someone else reaped it (SIGCHLD set to SIG_IGN in the daemon).
    Lost,
}

/// Who the child runs as.
struct Identity {
    uid: Option<Uid>,
    gid: Option<Gid>,
    groups: Vec<libc::gid_t>,
}

fn identity(script: &Script) -> Result<Identity, String> {
    let mut who = Identity {
        uid: None,
        gid: None,
        groups: Vec::new(),
    };
    let mut user_name = None;
    if let Some(name) = &script.user {
        let user = User::from_name(name)
            .map_err(|e| format!("user {name}: cannot look it up: {}", describe_errno(e)))?
            .ok_or_else(|| format!("user {name} does not exist"))?;
        who.uid = Some(user.uid);
        who.gid = Some(user.gid);
        user_name = Some(name);
    }
    if let Some(name) = &script.group {
        let group = Group::from_name(name)
            .map_err(|e| format!("group {name}: cannot look it up: {}", describe_errno(e)))?
            .ok_or_else(|| format!("group {name} does not exist"))?;
        who.gid = Some(group.gid);
    }
    if let Some(gid) = who.gid {
        // The user's supplementary groups, as initgroups(3) would set them
        // (keepalived's notify.c does the same); a bare group: that alone.
        let listed = user_name
            .and_then(|name| CString::new(name.as_str()).ok())
            .and_then(|name| nix::unistd::getgrouplist(&name, gid).ok());
        who.groups = match listed {
            Some(groups) => groups.into_iter().map(Gid::as_raw).collect(),
            None => vec![gid.as_raw()],
        };
    }
    Ok(who)
}

/// Unit tests set this to run the engine as on a kernel without pidfds.
#[cfg(test)]
pub(crate) static NO_PIDFD: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Opens a pidfd for `pid`; `None` where the kernel has none.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    #[cfg(test)]
    if NO_PIDFD.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new file
    // descriptor or -1; it reads and writes no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the syscall returned a fresh descriptor that nothing else
    // owns (pidfds are always close-on-exec).
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The command line as a program started without a shell.
fn command(script: &Script, who: Identity) -> Result<Command, String> {
    let (program, args) = script
        .argv
        .split_first()
        .ok_or_else(|| "empty command line".to_string())?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if who.gid.is_some() || who.uid.is_some() {
        let Identity { uid, gid, groups } = who;
        // std's own uid()/gid() would set the uid before any hook of ours
        // could set the supplementary groups, so the whole switch is done
        // here, in the order that keeps the privilege to make it: groups,
        // gid, uid.
        let hook = move || -> std::io::Result<()> {
            // SAFETY: setgroups(2) reads `groups.len()` gids from a live
            // vector that was allocated before the fork; the call does not
            // allocate and is async-signal-safe, as a pre_exec hook must be.
            if !groups.is_empty() && unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(gid) = gid {
                nix::unistd::setgid(gid)?;
            }
            if let Some(uid) = uid {
                nix::unistd::setuid(uid)?;
            }
            Ok(())
        };
        // SAFETY: the hook runs between fork and exec in the child, where
        // only async-signal-safe calls are allowed; it makes three plain
        // system calls and touches only the data it owns.
        unsafe {
            cmd.pre_exec(hook);
        }
    }
    Ok(cmd)
}

impl ChildTask {
    /// Starts `script` and registers its pidfd under the task's token.
    pub fn spawn(script: &Script, dynamic: bool, ctx: &Ctx<'_>) -> Result<ChildTask, String> {
        let who = identity(script)?;
        let program = script.argv.first().cloned().unwrap_or_default();
        let child = command(script, who)?
            .spawn()
            .map_err(|e| format!("cannot run {program}: {}", describe(&e)))?;
        let mut task = ChildTask {
            pidfd: pidfd_open(child.id()),
            child,
            program,
            dynamic,
            stage: Stage::Running,
            timed_out: false,
            reaped: None,
        };
        if let Some(fd) = &task.pidfd {
            let raw = fd.as_raw_fd();
            if ctx
                .registry
                .register(&mut SourceFd(&raw), ctx.token, Interest::READABLE)
                .is_err()
            {
                // Still watched: by polling.
                task.pidfd = None;
            }
        }
        Ok(task)
    }

    /// Whether the engine must poll this child (no pidfd).
    pub fn uses_polling(&self) -> bool {
        self.pidfd.is_none()
    }

    pub fn is_reaped(&self) -> bool {
        self.reaped.is_some()
    }

    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// The child exited (pidfd readable) or may have (polling).
    pub fn on_ready(&mut self) -> Step {
        match self.reap() {
            Some(Reaped::Status(status)) => Step::Done(misc::exit_outcome(
                status.code(),
                status.signal(),
                self.timed_out,
                self.dynamic,
            )),
            Some(Reaped::Lost) => Step::Done(Outcome::fail(format!(
                "{}: exit status lost (reaped elsewhere)",
                self.program
            ))),
            None => Step::Wait,
        }
    }

    /// The timeout: SIGTERM, 2 s later SIGKILL, 10 s later give up (and
    /// keep the child to reap it whenever it goes).
    pub fn on_deadline(&mut self, ctx: &mut Ctx<'_>) -> Step {
        match self.stage {
            Stage::Running => {
                self.timed_out = true;
                self.signal_group(Signal::SIGTERM);
                self.stage = Stage::Terminating;
                Step::WaitUntil(ctx.now + TERM_GRACE)
            }
            Stage::Terminating => {
                self.signal_group(Signal::SIGKILL);
                self.stage = Stage::Killing;
                Step::WaitUntil(ctx.now + KILL_GRACE)
            }
            Stage::Killing => Step::Done(Outcome::fail(format!(
                "{} timed out and did not exit within {} s of SIGKILL",
                self.program,
                KILL_GRACE.as_secs()
            ))),
        }
    }

    /// Stops the whole group now (cancel, shutdown).
    pub fn kill(&mut self) {
        if self.reaped.is_none() {
            self.signal_group(Signal::SIGKILL);
            self.stage = Stage::Killing;
        }
    }

    /// Waits for the child, for shutdown (after [`ChildTask::kill`]).
    pub fn wait_blocking(&mut self) {
        if self.reaped.is_none() {
            self.reaped = Some(match self.child.wait() {
                Ok(status) => Reaped::Status(status),
                Err(_) => Reaped::Lost,
            });
        }
    }

    pub fn close(mut self, registry: &Registry) {
        if let Some(fd) = self.pidfd.take() {
            let raw = fd.as_raw_fd();
            let _ = registry.deregister(&mut SourceFd(&raw));
        }
    }

    fn signal_group(&self, signal: Signal) {
        // The child is its group's leader (process_group(0)), and until it
        // is reaped its pid, and so the group id, cannot be reused.
        if self.reaped.is_some() {
            return;
        }
        let Ok(pid) = i32::try_from(self.child.id()) else {
            return;
        };
        match killpg(Pid::from_raw(pid), signal) {
            // ESRCH: the group is gone already; the reap will tell.
            Ok(()) | Err(Errno::ESRCH) => {}
            // EPERM: the program switched to a user we may not signal.
            Err(_) => {}
        }
    }

    /// Reaps the child if it has exited. Once we have signalled a group,
    /// what is left of it is killed while the exited leader still pins the
    /// group id (keepalived does the same after a SIGTERM).
    fn reap(&mut self) -> Option<Reaped> {
        if self.reaped.is_some() {
            return self.reaped;
        }
        if self.stage != Stage::Running && self.has_exited() {
            self.signal_group(Signal::SIGKILL);
        }
        self.reaped = match self.child.try_wait() {
            Ok(Some(status)) => Some(Reaped::Status(status)),
            Ok(None) => None,
            // ECHILD: there is no status left to read.
            Err(_) => Some(Reaped::Lost),
        };
        self.reaped
    }

    /// Whether the child is a zombie, without reaping it.
    fn has_exited(&self) -> bool {
        let Ok(pid) = i32::try_from(self.child.id()) else {
            return false;
        };
        matches!(
            waitid(
                Id::Pid(Pid::from_raw(pid)),
                WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT,
            ),
            Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..))
        )
    }
}
