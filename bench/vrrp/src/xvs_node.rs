//! One director of an xvs pair: its `xvs run` configuration (the shape of
//! tests/src/vrrp_support.rs's, which the e2e tests use), the process
//! with its stderr read through [`crate::stamp`] so each state change
//! carries the time it was written, and its control socket.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use xvs_lab::Lab;

use crate::stamp::{follow, unix_now, Lines};

/// How one director is configured.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// 1 or 2: addresses 198.18.0.(1+i) and 198.18.1.(1+i).
    pub index: usize,
    pub priority: u8,
    pub advert: Duration,
    /// TCP checks on the web service's real servers (`delay_loop 1`).
    pub health: bool,
    /// A UDP service on port [`FLOOD_PORT`] for the saturation run's
    /// generator.
    pub flood_service: bool,
}

/// The UDP port the saturation run floods (discard).
pub const FLOOD_PORT: u16 = 9;
pub const VIP4: &str = "198.18.0.100";

/// The whole `xvs run` configuration: NAT from the VIP to the three real
/// servers, VI_OUT (VRID 51) owning the VIP on the client side and VI_IN
/// (VRID 52) the real servers' gateway 198.18.1.1, both VRRPv3 in one
/// sync group.
pub fn yaml(lab: &Lab, n: &NodeConfig) -> String {
    let (c, r) = lab.director_ifaces();
    let (ca, ra) = (
        format!("198.18.0.{}", 1 + n.index),
        format!("198.18.1.{}", 1 + n.index),
    );
    let mut y = format!(
        "global:\n  workers: [0]\n  idle: adaptive\n  conn_capacity: 65536\n  umem_frames: 4096\n  ring_size: 1024\n\
         interfaces:\n  - name: {c}\n    addresses: [{ca}/24]\n    queues: [0]\n\
         \x20 - name: {r}\n    addresses: [{ra}/24]\n    queues: [0]\n\
         services:\n  - name: web\n    vip: {VIP4}\n    port: 80\n    protocol: tcp\n    scheduler: rr\n    method: nat\n"
    );
    if n.health {
        y.push_str("    delay_loop: 1\n    connect_timeout: 2\n");
    }
    y.push_str("    real_servers:\n");
    for i in 1..=3 {
        let health = if n.health {
            ", health: {type: tcp}"
        } else {
            ""
        };
        y.push_str(&format!(
            "      - {{address: 198.18.1.{}, port: 80{health}}}\n",
            10 + i
        ));
    }
    if n.flood_service {
        y.push_str(&format!(
            "  - name: flood\n    vip: {VIP4}\n    port: {FLOOD_PORT}\n    protocol: udp\n    scheduler: rr\n    method: nat\n    real_servers:\n"
        ));
        for i in 1..=3 {
            y.push_str(&format!(
                "      - {{address: 198.18.1.{}, port: {FLOOD_PORT}}}\n",
                10 + i
            ));
        }
    }
    y.push_str("vrrp:\n");
    for (name, iface, vrid, addr) in [
        ("VI_OUT", &c, 51, "198.18.0.100/24"),
        ("VI_IN", &r, 52, "198.18.1.1/24"),
    ] {
        y.push_str(&format!(
            "  - name: {name}\n    interface: {iface}\n    vrid: {vrid}\n    priority: {}\n    version: 3\n    advert_interval: {}\n    virtual_addresses: [{addr}]\n",
            n.priority,
            n.advert.as_secs_f64()
        ));
    }
    y.push_str("vrrp_sync_groups:\n  - name: PAIR\n    members: [VI_OUT, VI_IN]\n");
    y
}

/// A running `xvs run`.
#[derive(Debug)]
pub struct XvsNode {
    xvs: PathBuf,
    child: Option<Child>,
    pub sock: PathBuf,
    /// Its stdout and stderr, stamped.
    pub lines: Lines,
    readers: Vec<JoinHandle<()>>,
}

impl XvsNode {
    /// Check `config`, start `xvs run` with it in director `index`'s
    /// namespace and wait until its control socket answers. `log` gets a
    /// stamped copy of its output.
    pub fn start(xvs: &Path, lab: &Lab, index: usize, config: &str, log: &Path) -> Result<Self> {
        let dir = xvs_lab::lab_dir(lab.prefix());
        let file = dir.join(format!("xvs{index}.yaml"));
        std::fs::write(&file, config).with_context(|| file.display().to_string())?;
        let check = Command::new(xvs)
            .args(["check", "-c"])
            .arg(&file)
            .output()?;
        if !check.status.success() {
            bail!(
                "xvs check rejected the configuration:\n{}\n{config}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let sock = dir.join(format!("xvs{index}.sock"));
        let _ = std::fs::remove_file(&sock);
        // `ip netns exec` execs xvs, so the child's pid is xvs's own.
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.ns_director_n(index)])
            .arg(xvs)
            .args(["run", "-c"])
            .arg(&file)
            .arg("--control")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("start xvs run")?;
        let lines = Lines::default();
        let log_file = File::options().create(true).append(true).open(log)?;
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(follow(out, lines.clone(), Some(log_file.try_clone()?))?);
        }
        if let Some(err) = child.stderr.take() {
            readers.push(follow(err, lines.clone(), Some(log_file))?);
        }
        let mut node = XvsNode {
            xvs: xvs.to_owned(),
            child: Some(child),
            sock,
            lines,
            readers,
        };
        let t0 = Instant::now();
        while node.status().is_none() {
            crate::check_interrupted()?;
            if !node.is_running() {
                bail!("xvs run {index} exited:\n{}", node.lines.tail(30));
            }
            if t0.elapsed() > Duration::from_secs(30) {
                bail!("xvs run {index} did not answer:\n{}", node.lines.tail(30));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(node)
    }

    pub fn pid(&self) -> Option<Pid> {
        self.child
            .as_ref()
            .and_then(|c| i32::try_from(c.id()).ok())
            .map(Pid::from_raw)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Send `signal`; the wall-clock time just before it was sent.
    pub fn signal(&self, signal: Signal) -> Result<f64> {
        let pid = self.pid().context("xvs run is not running")?;
        let t = unix_now();
        kill(pid, signal).with_context(|| format!("kill -{signal} {pid}"))?;
        Ok(t)
    }

    /// Wait up to `timeout` for it to exit, then kill it; reap it and
    /// let its log readers finish.
    pub fn reap(&mut self, timeout: Duration) {
        if let Some(mut child) = self.child.take() {
            let t0 = Instant::now();
            while matches!(child.try_wait(), Ok(None)) && t0.elapsed() < timeout {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }

    /// `xvs status --json`, None if it does not answer.
    pub fn status(&self) -> Option<Value> {
        let out = self.ask("status", &["--json"])?;
        serde_json::from_str(&out).ok()
    }

    /// `xvs metrics` (Prometheus text), None if it does not answer.
    pub fn metrics(&self) -> Option<String> {
        self.ask("metrics", &[])
    }

    fn ask(&self, what: &str, args: &[&str]) -> Option<String> {
        let out = Command::new(&self.xvs)
            .arg(what)
            .args(args)
            .arg("--control")
            .arg(&self.sock)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Instance `name`'s state ("master", "backup", ...).
    pub fn state(status: &Value, name: &str) -> Option<String> {
        status
            .get("vrrp")?
            .as_array()?
            .iter()
            .find(|i| i.get("name").and_then(Value::as_str) == Some(name))?
            .get("state")?
            .as_str()
            .map(str::to_owned)
    }

    /// When it wrote that `instance` entered `state` (at or after
    /// `since`): the time the line was read.
    pub fn became(&self, instance: &str, state: &str, since: f64) -> Option<f64> {
        self.lines
            .first_since(since, |l| is_transition(l, instance, state))
    }
}

/// `xvs: vrrp: NAME: FROM -> TO (reason)`, the line the VRRP driver
/// writes for every transition (crates/runtime/src/vrrp.rs).
pub fn is_transition(line: &str, instance: &str, to: &str) -> bool {
    line.strip_prefix("xvs: vrrp: ")
        .and_then(|rest| rest.strip_prefix(instance))
        .and_then(|rest| rest.strip_prefix(": "))
        .and_then(|rest| rest.split_once(" -> "))
        .is_some_and(|(_, after)| after.split_whitespace().next() == Some(to))
}

/// Sum of a Prometheus metric over the series whose labels contain all of
/// `labels`.
pub fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter(|l| labels.iter().all(|lab| l.contains(lab)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

impl Drop for XvsNode {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.signal(Signal::SIGTERM);
            self.reap(Duration::from_secs(3));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_read_from_the_log_line() {
        let l = "xvs: vrrp: VI_OUT: backup -> master (master down: no advert for 36 ms)";
        assert!(is_transition(l, "VI_OUT", "master"));
        assert!(!is_transition(l, "VI_IN", "master"));
        assert!(!is_transition(l, "VI_OUT", "backup"));
        assert!(!is_transition(
            "xvs: vrrp: VI_OUTER: backup -> master (x)",
            "VI_OUT",
            "master"
        ));
        assert!(is_transition(
            "xvs: vrrp: VI_OUT: master -> backup (higher priority)",
            "VI_OUT",
            "backup"
        ));
    }

    #[test]
    fn metrics_are_summed_over_matching_series() {
        let text = "# TYPE xvs_vrrp_became_master_total counter\n\
            xvs_vrrp_became_master_total{instance=\"VI_OUT\"} 2\n\
            xvs_vrrp_became_master_total{instance=\"VI_IN\"} 3\n\
            xvs_vrrp_became_master_total_other 9\n";
        assert_eq!(metric(text, "xvs_vrrp_became_master_total", &[]), 5.0);
        assert_eq!(
            metric(
                text,
                "xvs_vrrp_became_master_total",
                &["instance=\"VI_IN\""]
            ),
            3.0
        );
    }
}
