//! xvs-announce: when a director announces each VIP to its upstream
//! routers and when it withdraws it, as a sans-IO state machine.
//!
//! Several directors behind ECMP each announce the VIPs over BGP (BIRD
//! does the BGP; xvs never speaks it). A director must withdraw a VIP as
//! soon as it cannot serve it, or the router keeps hashing a share of the
//! flows to it:
//! - no worker is running (they all stopped or died);
//! - a service on the VIP lost its health quorum (keepalived's
//!   `quorum_state_up` false: too few live real servers) and has no sorry
//!   server (the runtime decides that; here a VIP is servable or not);
//! - the operator drained the director (`xvs drain`);
//! - `xvs run` is stopping: every VIP is withdrawn first, the director
//!   keeps forwarding for `drain_time` so that the routers move new flows
//!   away and established ones finish, then it exits.
//!
//! The [`Announcer`] does no I/O and reads no clock, in the shape of
//! quinn-proto: the driver feeds it what it learnt ([`Announcer::handle`])
//! with the time, asks when to wake ([`Announcer::poll_timeout`]) and
//! carries out the [`Action`]s it yields ([`Announcer::poll`]): install
//! this VIP's route (BIRD announces it), remove it (BIRD withdraws it),
//! exit. Tests drive it with a virtual clock.
//!
//! What xvs does not see — its own process killed, the machine dead — is
//! covered below this layer: the routes live on a device whose lifetime
//! is the process's, and BFD between BIRD and the router (see the
//! runtime's `announce` driver and config/bird-director.conf).
//!
//! Layer: control plane, sans-IO (no dependency on other xvs crates).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Something the driver learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// How many workers run now (0: none forwards, withdraw everything).
    Workers(usize),
    /// Every VIP the director announces and whether it can serve it now
    /// (see [`fold_services`]). A VIP missing from the list is withdrawn
    /// (it left the configuration).
    Vips(BTreeMap<IpAddr, bool>),
    /// `xvs drain`: withdraw every VIP, keep forwarding.
    Drain,
    /// `xvs undrain`: announce again what can be served.
    Undrain,
    /// `xvs run` is stopping (SIGTERM/SIGINT): withdraw, wait the drain
    /// time, exit.
    Shutdown,
}

/// What the driver must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make the VIP reachable through this director (BIRD announces it).
    Announce(IpAddr),
    /// Take the VIP's route away (BIRD withdraws it).
    Withdraw(IpAddr),
    /// The shutdown drain time is over: stop forwarding and exit.
    Exit,
}

/// Why a VIP is not announced (the first reason that applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Withheld {
    ShuttingDown,
    Drained,
    NoWorkers,
    NoQuorum,
}

impl std::fmt::Display for Withheld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Withheld::ShuttingDown => "shutting down",
            Withheld::Drained => "drained",
            Withheld::NoWorkers => "no worker running",
            Withheld::NoQuorum => "a service lost its quorum",
        })
    }
}

/// One VIP in a [`Status`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VipStatus {
    pub vip: IpAddr,
    pub announced: bool,
    /// Why it is not announced (None while announced).
    pub withheld: Option<Withheld>,
}

/// The announcer as `xvs status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub drained: bool,
    pub shutting_down: bool,
    pub workers: usize,
    pub vips: Vec<VipStatus>,
}

/// The announce/withdraw state machine of one director.
#[derive(Debug)]
pub struct Announcer {
    drain_time: Duration,
    workers: usize,
    drained: bool,
    /// When the shutdown drain ends (Some once shutdown began).
    exit_at: Option<Instant>,
    exited: bool,
    /// Every configured VIP and whether its services can serve.
    vips: BTreeMap<IpAddr, bool>,
    /// What the driver was told to install (and not told to remove).
    announced: BTreeSet<IpAddr>,
    actions: VecDeque<Action>,
}

impl Announcer {
    /// A director that announces nothing yet: it announces once the
    /// driver reported running workers and servable VIPs.
    pub fn new(drain_time: Duration) -> Announcer {
        Announcer {
            drain_time,
            workers: 0,
            drained: false,
            exit_at: None,
            exited: false,
            vips: BTreeMap::new(),
            announced: BTreeSet::new(),
            actions: VecDeque::new(),
        }
    }

    /// Take in what the driver learnt at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        match input {
            Input::Workers(n) => self.workers = n,
            Input::Vips(vips) => self.vips = vips,
            Input::Drain => self.drained = true,
            Input::Undrain => self.drained = false,
            Input::Shutdown => {
                if self.exit_at.is_none() {
                    self.exit_at = Some(now + self.drain_time);
                }
            }
        }
        self.reconcile();
    }

    /// The next action to carry out, if any (call until None).
    pub fn poll(&mut self, now: Instant) -> Option<Action> {
        if let Some(a) = self.actions.pop_front() {
            return Some(a);
        }
        match self.exit_at {
            Some(at) if now >= at && !self.exited => {
                self.exited = true;
                Some(Action::Exit)
            }
            _ => None,
        }
    }

    /// When [`Announcer::poll`] has something to say without new input
    /// (the end of the shutdown drain).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.exit_at.filter(|_| !self.exited)
    }

    /// Why `vip` is not announced now (None: it is, or should be).
    fn withheld(&self, vip: IpAddr) -> Option<Withheld> {
        if self.exit_at.is_some() {
            Some(Withheld::ShuttingDown)
        } else if self.drained {
            Some(Withheld::Drained)
        } else if self.workers == 0 {
            Some(Withheld::NoWorkers)
        } else if !self.vips.get(&vip).copied().unwrap_or(false) {
            Some(Withheld::NoQuorum)
        } else {
            None
        }
    }

    /// Queue the difference between what is announced and what should be:
    /// withdrawals first, so a director never briefly announces more than
    /// it can serve.
    fn reconcile(&mut self) {
        let want: BTreeSet<IpAddr> = self
            .vips
            .keys()
            .copied()
            .filter(|&v| self.withheld(v).is_none())
            .collect();
        let gone: Vec<IpAddr> = self.announced.difference(&want).copied().collect();
        let new: Vec<IpAddr> = want.difference(&self.announced).copied().collect();
        for v in gone {
            self.announced.remove(&v);
            self.actions.push_back(Action::Withdraw(v));
        }
        for v in new {
            self.announced.insert(v);
            self.actions.push_back(Action::Announce(v));
        }
    }

    pub fn is_drained(&self) -> bool {
        self.drained
    }

    pub fn is_announced(&self, vip: IpAddr) -> bool {
        self.announced.contains(&vip)
    }

    pub fn status(&self) -> Status {
        Status {
            drained: self.drained,
            shutting_down: self.exit_at.is_some(),
            workers: self.workers,
            vips: self
                .vips
                .keys()
                .map(|&vip| VipStatus {
                    vip,
                    announced: self.announced.contains(&vip),
                    withheld: self.withheld(vip),
                })
                .collect(),
        }
    }
}

/// Fold per-service quorum into per-VIP ability to serve: a VIP can be
/// served when every service on it has its quorum (a router sends every
/// port of the VIP to the director, so one service without real servers
/// would black-hole its share of that service's flows).
pub fn fold_services(services: impl IntoIterator<Item = (IpAddr, bool)>) -> BTreeMap<IpAddr, bool> {
    let mut vips = BTreeMap::new();
    for (vip, quorum_up) in services {
        let entry = vips.entry(vip).or_insert(true);
        *entry &= quorum_up;
    }
    vips
}

#[cfg(test)]
mod tests;
