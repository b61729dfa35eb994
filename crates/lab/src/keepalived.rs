//! A real keepalived in a director namespace: VRRP only (this kernel has no
//! IPVS), in the foreground, one per director, so xvs's VRRP can be run
//! against it or compared with it on the same pair.
//!
//! ```text
//! <lab dir>/keepalived-notify.sh       reads the notify FIFO (installed once)
//! <lab dir>/keepalived-dirN/keepalived.conf
//!                          keepalived.pid, vrrp.pid    this director's own
//!                          K-keepalived.log            stdout and stderr
//!                          notify.fifo                 keepalived writes state changes
//!                          state.NAME                  instance NAME's last state
//!                          notify.log                  every line read from the FIFO
//! ```
//!
//! Each keepalived gets its own pid files (`-p`, `-r`), so two run side by
//! side without touching /run; nothing else of theirs is shared (checked
//! on 2.2.7: with those options it writes nothing outside the lab
//! directory unless sent SIGUSR1/SIGUSR2, which dump to /tmp).
//!
//! States are reported through keepalived's notify FIFO rather than a
//! `notify` script per change: keepalived starts notify scripts without
//! waiting for them, so two changes a few milliseconds apart (BACKUP then
//! MASTER at start-up, with 0.1 s adverts) could land out of order, while
//! the FIFO is read line by line by one process.
//!
//! Layer: test support (drives keepalived, `ip` and `kill`).

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crate::keepalived_conf::KeepalivedNotify;
use crate::process::{run, LabProcess, POLL};
use crate::state::write_atomic;
use crate::{Lab, LabError, REQUIRE_ENV};

/// Where Debian installs keepalived; `$XVS_LAB_KEEPALIVED` overrides it.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";
/// The variable naming another keepalived binary.
pub const KEEPALIVED_ENV: &str = "XVS_LAB_KEEPALIVED";
/// How long keepalived gets to start its VRRP process.
pub const KEEPALIVED_READY_TIMEOUT: Duration = Duration::from_secs(20);

const NOTIFY_SCRIPT: &str = "keepalived-notify.sh";
const CONF_FILE: &str = "keepalived.conf";
const PID_FILE: &str = "keepalived.pid";
const VRRP_PID_FILE: &str = "vrrp.pid";
const FIFO_FILE: &str = "notify.fifo";
const STATE_PREFIX: &str = "state.";

/// keepalived starts it with the FIFO's path and writes
/// `TYPE "NAME" STATE PRIORITY` lines to the FIFO; it keeps each
/// instance's last state in `state.NAME` beside the FIFO (by rename, so a
/// reader never sees half a file), and every line in notify.log. It ends
/// at end of file, when keepalived is gone.
const NOTIFY_SCRIPT_TEXT: &str = r#"#!/bin/sh
# Installed by xvs-lab (keepalived.rs): reads keepalived's VRRP notify FIFO.
dir=$(dirname "$1")
while read -r type name state priority; do
    echo "$type $name $state $priority" >> "$dir/notify.log"
    [ "$type" = INSTANCE ] || continue
    name=${name#\"}
    name=${name%\"}
    case $name in ''|.*|*/*) continue ;; esac
    printf '%s\n' "$state" > "$dir/.state.$name.tmp"
    mv -f "$dir/.state.$name.tmp" "$dir/state.$name"
done < "$1"
"#;

/// The keepalived binary the lab runs.
pub fn keepalived_path() -> PathBuf {
    std::env::var_os(KEEPALIVED_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(KEEPALIVED))
}

/// True when keepalived is installed. Otherwise prints
/// `SKIP {test}: keepalived not installed` straight to stderr (as
/// [`require_root`](crate::require_root) does) and returns false; panics
/// instead when `XVS_LAB_REQUIRED=1`.
pub fn require_keepalived(test: &str) -> bool {
    let path = keepalived_path();
    if path.is_file() {
        return true;
    }
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!(
            "{test}: keepalived not installed ({}) and {REQUIRE_ENV}=1",
            path.display()
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIP {test}: keepalived not installed ({}; apt-get install keepalived) ***",
        path.display()
    );
    false
}

impl Lab {
    /// Director `i`'s keepalived directory (configuration, pid files,
    /// logs, states).
    pub fn keepalived_dir(&self, director: usize) -> PathBuf {
        self.dir.join(format!("keepalived-dir{director}"))
    }

    /// The notify FIFO and script of director `i`'s keepalived, for
    /// [`keepalived_conf`](crate::keepalived_conf): with them,
    /// [`keepalived_state`](Self::keepalived_state) follows its instances.
    pub fn keepalived_notify(&self, director: usize) -> KeepalivedNotify {
        KeepalivedNotify {
            fifo: self.keepalived_dir(director).join(FIFO_FILE),
            script: self.dir.join(NOTIFY_SCRIPT),
        }
    }

    /// Check `config` with `keepalived --config-test` in director `i`'s
    /// namespace (so its interfaces are known). keepalived exits non-zero
    /// for anything it would warn about and then change; the error carries
    /// its complaints.
    pub fn check_keepalived_config(&self, director: usize, config: &str) -> Result<(), LabError> {
        self.check_director(director)?;
        let dir = self.keepalived_dir(director);
        let name = format!(".check-{}.conf", std::process::id());
        write_atomic(&dir, &name, config.as_bytes())?;
        let path = dir.join(&name);
        let keepalived = keepalived_path();
        let result = self.exec(
            &self.ns_director_n(director),
            &[
                &keepalived.to_string_lossy(),
                "--config-test",
                "-f",
                &path.to_string_lossy(),
            ],
        );
        let _ = std::fs::remove_file(&path);
        result.map(drop)
    }

    /// Run keepalived with `config` in director `i`'s namespace: VRRP
    /// only, in the foreground, logging to the console (into
    /// `K-keepalived.log`), with this director's own pid files; the child
    /// is not respawned if it dies, so a killed keepalived stays dead.
    /// Checks the configuration first, and returns once the VRRP process
    /// runs. Dropping the handle stops it (SIGTERM: it resigns with
    /// priority 0 and removes its addresses); see
    /// [`crash_keepalived`](Self::crash_keepalived) for a crash.
    pub fn start_keepalived(&self, director: usize, config: &str) -> Result<LabProcess, LabError> {
        self.check_director(director)?;
        let dir = self.keepalived_dir(director);
        std::fs::create_dir_all(&dir).map_err(|e| LabError::io(&dir, e))?;
        self.install_notify_script()?;
        if let Some(pid) = self.keepalived_pids(director).first() {
            return Err(LabError::Spec(format!(
                "keepalived already runs for director {director} (pid {pid}): \
                 stop it or crash_keepalived({director}) first"
            )));
        }
        clear_run_files(&dir)?;
        self.check_keepalived_config(director, config)?;
        write_atomic(&dir, CONF_FILE, config.as_bytes())?;

        let keepalived = keepalived_path().to_string_lossy().into_owned();
        let conf = dir.join(CONF_FILE).to_string_lossy().into_owned();
        let pid = dir.join(PID_FILE).to_string_lossy().into_owned();
        let vrrp_pid = dir.join(VRRP_PID_FILE).to_string_lossy().into_owned();
        let ns = self.ns_director_n(director);
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        let log = dir.join(format!("{n}-keepalived.log"));
        let mut process = LabProcess::start(
            &[
                "ip",
                "netns",
                "exec",
                &ns,
                &keepalived,
                "--dont-fork",
                "--log-console",
                "--log-detail",
                "--no-syslog",
                "--vrrp",
                "--dont-respawn",
                "--use-file",
                &conf,
                "--pid",
                &pid,
                "--vrrp_pid",
                &vrrp_pid,
            ],
            &log,
        )?;
        let deadline = Instant::now() + KEEPALIVED_READY_TIMEOUT;
        loop {
            if let Some(status) = process.try_wait()? {
                return Err(LabError::NotReady {
                    what: format!("keepalived in {ns}"),
                    timeout: KEEPALIVED_READY_TIMEOUT,
                    detail: format!("it exited ({status}): {}", process.log()),
                });
            }
            if read_pid(&dir.join(VRRP_PID_FILE)).is_some_and(|p| self.is_keepalived(director, p)) {
                return Ok(process);
            }
            if Instant::now() >= deadline {
                return Err(LabError::NotReady {
                    what: format!("keepalived in {ns}"),
                    timeout: KEEPALIVED_READY_TIMEOUT,
                    detail: format!("no VRRP process yet: {}", process.log()),
                });
            }
            thread::sleep(POLL);
        }
    }

    /// The last state director `i`'s keepalived reported for `instance`
    /// (`BACKUP`, `MASTER`, `FAULT`, `STOP`), `None` before its first
    /// report. Needs a configuration with
    /// [`keepalived_notify`](Self::keepalived_notify). After a crash it
    /// keeps saying what the instance was.
    pub fn keepalived_state(&self, director: usize, instance: &str) -> Option<String> {
        if instance.is_empty() || instance.starts_with('.') || instance.contains('/') {
            return None;
        }
        let path = self
            .keepalived_dir(director)
            .join(format!("{STATE_PREFIX}{instance}"));
        let text = std::fs::read_to_string(path).ok()?;
        let state = text.trim();
        (!state.is_empty()).then(|| state.to_owned())
    }

    /// The pids of director `i`'s running keepalived (parent first, then
    /// its VRRP process), from its pid files; empty when none runs.
    pub fn keepalived_pids(&self, director: usize) -> Vec<u32> {
        let dir = self.keepalived_dir(director);
        [PID_FILE, VRRP_PID_FILE]
            .iter()
            .filter_map(|f| read_pid(&dir.join(f)))
            .filter(|&p| self.is_keepalived(director, p))
            .collect()
    }

    /// Kill director `i`'s keepalived as a crash would: SIGKILL to the
    /// VRRP process (no priority-0 advert, its addresses stay on the
    /// interface) and to its parent, which is stopped first so it cannot
    /// react. The peer takes over after its master-down interval
    /// (RFC 5798 §6.4.2: three adverts and the skew time).
    pub fn crash_keepalived(&self, director: usize) -> Result<(), LabError> {
        self.check_director(director)?;
        let dir = self.keepalived_dir(director);
        let parent = read_pid(&dir.join(PID_FILE)).filter(|&p| self.is_keepalived(director, p));
        let vrrp = read_pid(&dir.join(VRRP_PID_FILE)).filter(|&p| self.is_keepalived(director, p));
        if parent.is_none() && vrrp.is_none() {
            return Err(LabError::Spec(format!(
                "no keepalived runs for director {director}"
            )));
        }
        if let Some(p) = parent {
            let _ = run(&["kill", "-s", "STOP", &p.to_string()]);
        }
        for p in vrrp.into_iter().chain(parent) {
            // It may have exited meanwhile: that is the goal.
            let _ = run(&["kill", "-s", "KILL", &p.to_string()]);
        }
        Ok(())
    }

    /// True when `addr` is configured on `iface` in `ns` (`ip -o addr
    /// show`); false also when the namespace or interface does not exist.
    pub fn has_address(&self, ns: &str, iface: &str, addr: IpAddr) -> bool {
        self.exec(ns, &["ip", "-o", "addr", "show", "dev", iface])
            .is_ok_and(|out| addresses(&String::from_utf8_lossy(&out.stdout)).contains(&addr))
    }

    /// Write the FIFO reader (root's, mode 0755, so keepalived's script
    /// security accepts it).
    fn install_notify_script(&self) -> Result<(), LabError> {
        write_atomic(&self.dir, NOTIFY_SCRIPT, NOTIFY_SCRIPT_TEXT.as_bytes())?;
        let path = self.dir.join(NOTIFY_SCRIPT);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| LabError::io(&path, e))
    }

    /// True when process `pid` is a keepalived run with director `i`'s
    /// configuration: a stale pid file may name a pid reused since.
    fn is_keepalived(&self, director: usize, pid: u32) -> bool {
        let conf = self.keepalived_dir(director).join(CONF_FILE);
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
            cmdline
                .split(|&b| b == 0)
                .any(|arg| arg == conf.as_os_str().as_encoded_bytes())
        })
    }
}

/// Remove what a previous keepalived of this director left: pid files
/// (after a crash) and states (they would describe the old run).
fn clear_run_files(dir: &Path) -> Result<(), LabError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LabError::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == PID_FILE || name == VRRP_PID_FILE || name.starts_with(STATE_PREFIX) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| LabError::io(&path, e))?;
        }
    }
    Ok(())
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The addresses in `ip -o addr show` output, one line per address:
/// `2: eth0    inet 198.18.0.2/24 brd ... scope global eth0\ ...`.
pub(crate) fn addresses(output: &str) -> Vec<IpAddr> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet" || *w == "inet6")?;
            let cidr = words.next()?;
            cidr.split('/').next()?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_ip_o_addr() {
        let out = "\
2: labc    inet 198.18.0.2/24 scope global labc\\       valid_lft forever preferred_lft forever
2: labc    inet 198.18.0.100/32 scope global labc\\       valid_lft forever preferred_lft forever
2: labc    inet6 fd00:0:0:1::2/64 scope global nodad \\       valid_lft forever preferred_lft forever
2: labc    inet6 fe80::4493:77ff:feca:5602/64 scope link \\       valid_lft forever preferred_lft forever
";
        let found = addresses(out);
        for a in [
            "198.18.0.2",
            "198.18.0.100",
            "fd00:0:0:1::2",
            "fe80::4493:77ff:feca:5602",
        ] {
            let a: IpAddr = a.parse().expect("a literal");
            assert!(found.contains(&a), "{a}");
        }
        assert_eq!(found.len(), 4);
        assert!(addresses("").is_empty());
    }

    #[test]
    fn the_notify_script_is_plain_sh() {
        let parsed = run(&["sh", "-n", "-c", NOTIFY_SCRIPT_TEXT]);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn the_notify_script_keeps_the_last_state_per_instance() {
        let dir = std::env::temp_dir().join(format!("xvs-lab-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A plain file stands in for the FIFO: the script reads to its end.
        let fifo = dir.join(FIFO_FILE);
        std::fs::write(
            &fifo,
            "INSTANCE \"VI_1\" BACKUP 150\nINSTANCE \"VI_1\" MASTER 150\n\
             GROUP \"G\" MASTER 0\nINSTANCE \"../x\" MASTER 1\nINSTANCE \"VI_2\" BACKUP 100\n",
        )
        .unwrap();
        run(&[
            "sh",
            "-c",
            NOTIFY_SCRIPT_TEXT,
            "sh",
            &fifo.to_string_lossy(),
        ])
        .unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        assert_eq!(read("state.VI_1").as_deref(), Some("MASTER\n"));
        assert_eq!(read("state.VI_2").as_deref(), Some("BACKUP\n"));
        assert_eq!(read("notify.log").map(|l| l.lines().count()), Some(5));
        // No state for the group, none for the name with a slash, no
        // temporary left.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [FIFO_FILE, "notify.log", "state.VI_1", "state.VI_2"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
