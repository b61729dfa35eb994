//! A VRRP pair in the lab, xvs or keepalived behind one interface: start a
//! director, read both instances' states, stop one as a crash (SIGKILL)
//! or cleanly (SIGTERM), and tell when the other reported master.
//! Director 1 has priority 150 and director 2 priority 100, as in the
//! issue; director 1 is the master whenever the pair is settled.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use nix::sys::signal::Signal;
use xvs_lab::Lab;

use crate::keepalived_node::{self, Fifo, KeepalivedNode};
use crate::xvs_node::{self, NodeConfig, XvsNode};

/// Which implementation runs in both directors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    Xvs,
    Keepalived,
}

impl Daemon {
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Xvs => "xvs",
            Daemon::Keepalived => "keepalived",
        }
    }
}

/// How the master is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL: no last advert; the backup waits out Master_Down_Interval.
    Kill,
    /// SIGTERM: the master sends priority 0; the backup waits its skew time.
    Term,
    /// SIGSTOP, then SIGCONT after [`STALL_INTERVALS`] advert intervals: a
    /// master that stalls (a long pause, a starved control thread) long
    /// enough for the backup to take over, and then goes on as master.
    Stall,
}

/// How long a stalled master stays stopped, in advert intervals: well
/// over Master_Down_Interval (about 3.6 intervals for the backup).
pub const STALL_INTERVALS: u32 = 10;

/// The priorities of director 1 and 2.
pub const PRIORITIES: [u8; 2] = [150, 100];
pub const INSTANCES: [&str; 2] = ["VI_OUT", "VI_IN"];

#[derive(Debug)]
enum Node {
    Xvs(XvsNode),
    Keepalived(KeepalivedNode),
}

#[derive(Debug)]
pub struct Pair<'a> {
    lab: &'a Lab,
    daemon: Daemon,
    advert: Duration,
    xvs: PathBuf,
    /// Where the daemons' stamped logs go.
    logs: PathBuf,
    /// Extra settings for xvs (health checks, the flood service).
    pub health: bool,
    pub flood_service: bool,
    nodes: [Option<Node>; 2],
    fifos: [Option<Fifo>; 2],
}

impl<'a> Pair<'a> {
    pub fn new(
        lab: &'a Lab,
        daemon: Daemon,
        advert: Duration,
        xvs: &Path,
        logs: &Path,
    ) -> Result<Self> {
        let mut fifos = [None, None];
        if daemon == Daemon::Keepalived {
            for (i, slot) in fifos.iter_mut().enumerate() {
                let log = File::options()
                    .create(true)
                    .append(true)
                    .open(logs.join(format!("keepalived{}-notify.log", i + 1)))?;
                *slot = Some(Fifo::open(lab, i + 1, log)?);
            }
        }
        Ok(Pair {
            lab,
            daemon,
            advert,
            xvs: xvs.to_owned(),
            logs: logs.to_owned(),
            health: false,
            flood_service: false,
            nodes: [None, None],
            fifos,
        })
    }

    /// Start director `index` (1 or 2).
    pub fn start(&mut self, index: usize) -> Result<()> {
        let priority = PRIORITIES[index - 1];
        let node = match self.daemon {
            Daemon::Xvs => {
                let cfg = NodeConfig {
                    index,
                    priority,
                    advert: self.advert,
                    health: self.health,
                    flood_service: self.flood_service,
                };
                let yaml = xvs_node::yaml(self.lab, &cfg);
                let log = self.logs.join(format!("xvs{index}.log"));
                // The kernel releases a dead process's AF_XDP queues from a
                // workqueue: a restart right after a kill can find them
                // still taken. Try again a little later.
                let mut attempt = 1;
                loop {
                    match XvsNode::start(&self.xvs, self.lab, index, &yaml, &log) {
                        Ok(node) => break Node::Xvs(node),
                        Err(e) if attempt < 3 => {
                            eprintln!(
                                "vrrp-failover: starting xvs {index} (attempt {attempt}): {e:#}"
                            );
                            attempt += 1;
                            std::thread::sleep(Duration::from_secs(1));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Daemon::Keepalived => {
                let fifo = self.fifo(index)?.path.to_string_lossy().into_owned();
                let text = keepalived_node::conf(
                    &format!("dir{index}"),
                    &fifo,
                    &keepalived_node::instances(self.lab, priority, self.advert),
                )?;
                Node::Keepalived(KeepalivedNode::start(self.lab, index, &text)?)
            }
        };
        self.nodes[index - 1] = Some(node);
        Ok(())
    }

    fn fifo(&self, index: usize) -> Result<&Fifo> {
        match &self.fifos[index - 1] {
            Some(f) => Ok(f),
            None => bail!("director {index} has no notify FIFO"),
        }
    }

    pub fn xvs_node(&self, index: usize) -> Option<&XvsNode> {
        match self.nodes[index - 1].as_ref()? {
            Node::Xvs(x) => Some(x),
            Node::Keepalived(_) => None,
        }
    }

    /// The states of VI_OUT and VI_IN in director `index`, lower case;
    /// None for what it has not reported (since its last start).
    pub fn states(&self, index: usize) -> [Option<String>; 2] {
        match &self.nodes[index - 1] {
            None => [None, None],
            Some(Node::Xvs(x)) => match x.status() {
                Some(s) => INSTANCES.map(|i| XvsNode::state(&s, i)),
                None => [None, None],
            },
            Some(Node::Keepalived(k)) => {
                let Ok(fifo) = self.fifo(index) else {
                    return [None, None];
                };
                INSTANCES.map(|i| {
                    fifo.lines
                        .between(k.started, f64::INFINITY, |l| {
                            keepalived_node::state_of(l, i).is_some()
                        })
                        .last()
                        .and_then(|l| keepalived_node::state_of(&l.text, i))
                })
            }
        }
    }

    /// Wait until director 1 is master and director 2 backup in both
    /// instances; how long it took.
    pub fn wait_settled(&self, timeout: Duration) -> Result<Duration> {
        let t0 = Instant::now();
        let want =
            |s: &[Option<String>; 2], state: &str| s.iter().all(|x| x.as_deref() == Some(state));
        loop {
            crate::check_interrupted()?;
            let (a, b) = (self.states(1), self.states(2));
            if want(&a, "master") && want(&b, "backup") {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > timeout {
                bail!(
                    "the pair did not settle in {timeout:?}: director 1 {a:?}, director 2 {b:?}\n\
                     director 1:\n{}\ndirector 2:\n{}",
                    self.tail(1),
                    self.tail(2)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop director `index` as `how`; the time just before the signal.
    pub fn stop(&mut self, index: usize, how: Stop) -> Result<f64> {
        match (&mut self.nodes[index - 1], how) {
            (Some(Node::Xvs(x)), Stop::Kill) => x.signal(Signal::SIGKILL),
            (Some(Node::Xvs(x)), Stop::Term) => x.signal(Signal::SIGTERM),
            (Some(Node::Keepalived(k)), Stop::Kill) => k.crash(self.lab),
            (Some(Node::Keepalived(k)), Stop::Term) => k.terminate(),
            (Some(Node::Xvs(x)), Stop::Stall) => {
                let t = x.signal(Signal::SIGSTOP)?;
                std::thread::sleep(self.advert * STALL_INTERVALS);
                x.signal(Signal::SIGCONT)?;
                Ok(t)
            }
            (Some(Node::Keepalived(k)), Stop::Stall) => {
                k.stall(self.lab, self.advert * STALL_INTERVALS)
            }
            (None, _) => bail!("director {index} is not running"),
        }
    }

    /// After [`stop`](Self::stop): wait until director `index` is gone.
    pub fn reap(&mut self, index: usize) {
        match self.nodes[index - 1].take() {
            Some(Node::Xvs(mut x)) => x.reap(Duration::from_secs(10)),
            Some(Node::Keepalived(mut k)) => k.reap(Duration::from_secs(10)),
            None => {}
        }
    }

    /// When director `index` reported VI_OUT master at or after `since`
    /// (its log line or FIFO line, stamped on arrival).
    pub fn became_master(&self, index: usize, since: f64) -> Option<f64> {
        self.became(index, "master", since)
    }

    /// When director `index` reported VI_OUT `state` at or after `since`.
    pub fn became(&self, index: usize, state: &str, since: f64) -> Option<f64> {
        match &self.nodes[index - 1] {
            Some(Node::Xvs(x)) => x.became("VI_OUT", state, since),
            Some(Node::Keepalived(_)) => self.fifo(index).ok()?.lines.first_since(since, |l| {
                keepalived_node::state_of(l, "VI_OUT").as_deref() == Some(state)
            }),
            None => None,
        }
    }

    /// The last lines of director `index`'s log or FIFO.
    pub fn tail(&self, index: usize) -> String {
        match &self.nodes[index - 1] {
            Some(Node::Xvs(x)) => x.lines.tail(20),
            _ => self
                .fifos
                .get(index - 1)
                .and_then(Option::as_ref)
                .map(|f| f.lines.tail(20))
                .unwrap_or_default(),
        }
    }
}
