//! One director of a keepalived pair (Debian's keepalived, VRRP only: this
//! kernel has no IPVS): the configuration the xvs pair has (VI_OUT and
//! VI_IN, VRRPv3, one sync group), started with the lab's
//! [`Lab::start_keepalived`], and its state changes read from its notify
//! FIFO with the time each line arrived.
//!
//! The FIFO is made and opened (read and write, so it never reads end of
//! file) by the bench before keepalived starts, and outlives keepalived's
//! restarts: keepalived writes `INSTANCE "VI_OUT" MASTER 100` the moment
//! it changes state (vrrp_notify_fifo, keepalived.conf(5)), and a reader
//! that is already blocked on the FIFO stamps it. The lab's own notify
//! script (which keeps only the last state in a file) is not used.

use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use xvs_lab::{keepalived_conf, Lab, LabProcess, VrrpInstance, VrrpVersion};

use crate::stamp::{follow, unix_now, Lines, END};

/// The two instances of director `index` (priority `priority`).
pub fn instances(lab: &Lab, priority: u8, advert: Duration) -> Vec<VrrpInstance> {
    let (c, r) = lab.director_ifaces();
    [
        ("VI_OUT", c, 51, "198.18.0.100"),
        ("VI_IN", r, 52, "198.18.1.1"),
    ]
    .into_iter()
    .map(|(name, iface, vrid, addr)| {
        let mut i = VrrpInstance::new(name, &iface, vrid, priority);
        i.version = VrrpVersion::V3;
        i.advert_int = advert;
        i.virtual_addresses = vec![(addr.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])), 24)];
        i
    })
    .collect()
}

/// The whole keepalived.conf: the lab's rendering of the instances, the
/// notify FIFO, and the sync group (which the lab's writer has no field
/// for; keepalived.conf(5) `vrrp_sync_group`).
pub fn conf(router_id: &str, fifo: &str, instances: &[VrrpInstance]) -> Result<String> {
    let text = keepalived_conf(router_id, None, instances)?;
    let Some((head, rest)) = text.split_once("global_defs {\n") else {
        bail!("keepalived_conf wrote no global_defs block:\n{text}");
    };
    let mut out = format!("{head}global_defs {{\n    vrrp_notify_fifo {fifo}\n{rest}");
    out.push_str("\nvrrp_sync_group PAIR {\n    group {\n");
    for i in instances {
        out.push_str(&format!("        {}\n", i.name));
    }
    out.push_str("    }\n}\n");
    Ok(out)
}

/// The notify FIFO of one director, read for as long as the pair lives.
#[derive(Debug)]
pub struct Fifo {
    pub path: PathBuf,
    pub lines: Lines,
    writer: File,
    reader: Option<JoinHandle<()>>,
}

impl Fifo {
    pub fn open(lab: &Lab, index: usize, log: File) -> Result<Fifo> {
        let dir = lab.keepalived_dir(index);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("bench-notify.fifo");
        let _ = std::fs::remove_file(&path);
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600))
            .with_context(|| format!("mkfifo {}", path.display()))?;
        // Read and write: the read end never sees end of file while
        // keepalived is between runs.
        let file = File::options().read(true).write(true).open(&path)?;
        let writer = file.try_clone()?;
        let lines = Lines::default();
        let reader = follow(file, lines.clone(), Some(log))?;
        Ok(Fifo {
            path,
            lines,
            writer,
            reader: Some(reader),
        })
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = writeln!(self.writer, "{END}");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// keepalived's state line for `instance`: `INSTANCE "NAME" STATE PRIORITY`.
/// Only states: keepalived 2.2 also writes events there
/// (`MASTER_RX_LOWER_PRI` when a master hears a lower priority).
pub fn state_of(line: &str, instance: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    (words.next()? == "INSTANCE").then_some(())?;
    (words.next()?.trim_matches('"') == instance).then_some(())?;
    let state = words.next()?;
    matches!(state, "MASTER" | "BACKUP" | "FAULT" | "STOP").then(|| state.to_lowercase())
}

/// A running keepalived in one director.
#[derive(Debug)]
pub struct KeepalivedNode {
    pub index: usize,
    process: Option<LabProcess>,
    pub started: f64,
}

impl KeepalivedNode {
    pub fn start(lab: &Lab, index: usize, config: &str) -> Result<Self> {
        let started = unix_now();
        let process = lab
            .start_keepalived(index, config)
            .with_context(|| format!("keepalived in director {index}"))?;
        Ok(KeepalivedNode {
            index,
            process: Some(process),
            started,
        })
    }

    /// Crash it as the lab's `crash_keepalived` does (the parent stopped
    /// first so it cannot react, then SIGKILL to the VRRP process and the
    /// parent), without a kill(1) fork between the clock and the signal:
    /// the time just before the VRRP process was killed.
    pub fn crash(&mut self, lab: &Lab) -> Result<f64> {
        let pids = lab.keepalived_pids(self.index);
        let [parent, vrrp] = pids[..] else {
            bail!(
                "keepalived {} runs as {pids:?}, not parent and VRRP child",
                self.index
            );
        };
        let (parent, vrrp) = (pid(parent)?, pid(vrrp)?);
        kill(parent, Signal::SIGSTOP)?;
        let t = unix_now();
        kill(vrrp, Signal::SIGKILL)?;
        kill(parent, Signal::SIGKILL)?;
        Ok(t)
    }

    /// Stop its VRRP process for `pause` (SIGSTOP, SIGCONT): a master that
    /// stalls and then goes on. The time just before it stopped.
    pub fn stall(&mut self, lab: &Lab, pause: Duration) -> Result<f64> {
        let pids = lab.keepalived_pids(self.index);
        let [_, vrrp] = pids[..] else {
            bail!(
                "keepalived {} runs as {pids:?}, not parent and VRRP child",
                self.index
            );
        };
        let vrrp = pid(vrrp)?;
        let t = unix_now();
        kill(vrrp, Signal::SIGSTOP)?;
        std::thread::sleep(pause);
        kill(vrrp, Signal::SIGCONT)?;
        Ok(t)
    }

    /// SIGTERM to the parent, which stops its VRRP process: masters send
    /// priority 0 and remove their addresses. The time just before it.
    pub fn terminate(&mut self) -> Result<f64> {
        let p = self
            .process
            .as_ref()
            .and_then(LabProcess::pid)
            .context("keepalived has no pid")?;
        let p = pid(p)?;
        let t = unix_now();
        kill(p, Signal::SIGTERM)?;
        Ok(t)
    }

    /// Wait up to `timeout` for it to exit, then stop it for good.
    pub fn reap(&mut self, timeout: Duration) {
        if let Some(mut p) = self.process.take() {
            let _ = p.wait_timeout(timeout);
            let _ = p.stop();
        }
    }
}

fn pid(p: u32) -> Result<Pid> {
    Ok(Pid::from_raw(i32::try_from(p)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_lines_are_read() {
        let l = "INSTANCE \"VI_OUT\" MASTER 100";
        assert_eq!(state_of(l, "VI_OUT").as_deref(), Some("master"));
        assert_eq!(state_of(l, "VI_IN"), None);
        assert_eq!(state_of("GROUP \"PAIR\" MASTER 0", "PAIR"), None);
        assert_eq!(
            state_of("INSTANCE \"VI_OUT\" MASTER_RX_LOWER_PRI 150", "VI_OUT"),
            None
        );
        assert_eq!(state_of("INSTANCE \"VI_OUT\"", "VI_OUT"), None);
    }

    #[test]
    fn the_sync_group_and_fifo_are_added() {
        let mut i = VrrpInstance::new("VI_OUT", "labc", 51, 150);
        i.version = VrrpVersion::V3;
        i.advert_int = Duration::from_millis(100);
        i.virtual_addresses = vec![("198.18.0.100".parse().unwrap(), 24)];
        let mut j = i.clone();
        j.name = "VI_IN".into();
        j.interface = "labr".into();
        j.vrid = 52;
        j.virtual_addresses = vec![("198.18.1.1".parse().unwrap(), 24)];
        let text = conf("dir1", "/tmp/x/bench-notify.fifo", &[i, j]).unwrap();
        assert!(text.contains("global_defs {\n    vrrp_notify_fifo /tmp/x/bench-notify.fifo\n"));
        assert!(text.contains("    advert_int 0.1\n"), "{text}");
        assert!(text.ends_with(
            "vrrp_sync_group PAIR {\n    group {\n        VI_OUT\n        VI_IN\n    }\n}\n"
        ));
    }
}
