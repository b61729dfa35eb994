//! The [`Router`]: every VRRP instance of a director behind one
//! quinn-proto-shaped API — `handle_*` feed it frames, link changes,
//! script results and the time; `poll_timeout` says when to come back;
//! `poll_action` yields what to do. No I/O, no clock.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use xvs_config::{VrrpInstance, VrrpScript, VrrpSyncGroup};
use xvs_wire::vrrp::{parse, parse_frame};

use crate::check::Rx;
use crate::instance::Instance;
use crate::sync_group::Group;
use crate::track::ScriptState;
use crate::{Action, InstanceEnv, InstanceStatus, Reject, State};

/// Every instance of a director.
#[derive(Debug)]
pub struct Router {
    pub(crate) instances: Vec<Instance>,
    pub(crate) scripts: Vec<ScriptState>,
    pub(crate) groups: Vec<Group>,
    /// Link state by interface name (absent: up).
    pub(crate) links: HashMap<String, bool>,
    pub(crate) actions: VecDeque<Action>,
    /// Adverts for no instance ([`Reject::UnknownVrid`]).
    unmatched: u64,
    /// Frames whose IP layer did not parse, or too short to name a VRID.
    undecodable: u64,
    pub(crate) stopped: bool,
    /// While set, a backup accepts a lower-priority master instead of
    /// preempting it ([`Router::hold_preemption`]).
    pub(crate) preempt_held: bool,
}

/// Which timer is due next.
#[derive(Clone, Copy, Debug)]
enum Due {
    Instance(usize),
    Garp(usize),
    Script(usize),
}

impl Router {
    /// Start every instance (RFC 5798 §6.4.1 Startup event) at `now`.
    /// `env[i]` belongs to `instances[i]`; an instance without one (a
    /// driver bug) starts in Fault with its interface reported down.
    pub fn new(
        instances: &[VrrpInstance],
        scripts: &[VrrpScript],
        groups: &[VrrpSyncGroup],
        env: Vec<InstanceEnv>,
        now: Instant,
    ) -> Router {
        // One group per instance (keepalived: "cannot exist in more than
        // one sync group"); unknown indices are dropped.
        let mut group_of: Vec<Option<usize>> = vec![None; instances.len()];
        let groups: Vec<Group> = groups
            .iter()
            .enumerate()
            .map(|(g, cfg)| {
                let mut members = Vec::new();
                for &m in &cfg.members {
                    if let Some(slot @ None) = group_of.get_mut(m) {
                        *slot = Some(g);
                        members.push(m);
                    }
                }
                Group {
                    cfg: cfg.clone(),
                    state: State::Init,
                    members,
                }
            })
            .collect();
        let mut env = env.into_iter();
        let mut links = HashMap::new();
        let instances: Vec<Instance> = instances
            .iter()
            .zip(group_of)
            .map(|(cfg, group)| {
                let env = env.next().unwrap_or_else(|| missing_env(cfg));
                // Instances sharing an interface share its link: down if
                // any of them was told so.
                links
                    .entry(cfg.interface.clone())
                    .and_modify(|up: &mut bool| *up &= env.up)
                    .or_insert(env.up);
                Instance::new(cfg.clone(), env, group)
            })
            .collect();
        let scripts = scripts
            .iter()
            .enumerate()
            .map(|(s, cfg)| {
                let used = instances
                    .iter()
                    .any(|i| i.cfg.track_scripts.iter().any(|t| t.script == s));
                ScriptState::new(cfg.clone(), used, now)
            })
            .collect();
        let mut router = Router {
            instances,
            scripts,
            groups,
            links,
            actions: VecDeque::new(),
            unmatched: 0,
            undecodable: 0,
            stopped: false,
            preempt_held: false,
        };
        // Assess every instance before starting any: a sync group starts
        // from all its members' trackers.
        for i in 0..router.instances.len() {
            router.refresh_tracking(i, now);
        }
        for i in 0..router.instances.len() {
            router.start(i, now);
        }
        router.handle_timeout(now);
        router
    }

    /// Hold (or release) preemption for every instance: while held, a
    /// backup that hears a lower-priority master treats it as it treats
    /// a master it may not preempt (RFC 5798 §6.4.2 with Preempt_Mode
    /// false: the master's adverts keep resetting Master_Down_Timer), so
    /// it takes over only if that master goes silent. Connection sync holds
    /// preemption until a returning director has the peer's connection
    /// table; once released, the next lower-priority advert is preempted
    /// as usual (after `preempt_delay`).
    pub fn hold_preemption(&mut self, held: bool) {
        self.preempt_held = held;
    }

    /// Whether preemption is held ([`Router::hold_preemption`]).
    pub fn preemption_held(&self) -> bool {
        self.preempt_held
    }

    /// A frame received on `interface` (the raw Ethernet frame, which
    /// [`xvs_wire::vrrp::parse_frame`] accepts). Checked as keepalived
    /// checks adverts; a rejected one is counted and changes nothing.
    pub fn handle_frame(&mut self, interface: &str, frame: &[u8], now: Instant) {
        if self.stopped {
            return;
        }
        let Ok(rx) = parse_frame(frame) else {
            self.undecodable += 1;
            return;
        };
        let Some(msg) = frame.get(rx.payload.clone()) else {
            self.undecodable += 1;
            return;
        };
        // The VRID is byte 1 of either version (RFC 5798 §5.2.3); dispatch
        // on it before the message checks so they count per instance.
        let Some(&vrid) = msg.get(1) else {
            self.undecodable += 1;
            return;
        };
        let Some(i) = self.dispatch(interface, vrid, rx.src) else {
            self.unmatched += 1;
            return;
        };
        if !matches!(self.instances[i].state, State::Backup | State::Master) {
            return;
        }
        match parse(msg, rx.src, rx.dst) {
            Ok((advert, sums)) => {
                let facts = Rx {
                    src: rx.src,
                    dst: rx.dst,
                    ttl: rx.ttl,
                };
                self.on_advert(i, &facts, &advert, sums, now);
            }
            Err(_) => self.instances[i].tally.reject(Reject::Malformed),
        }
    }

    /// The instance for (interface, VRID, family); with several (unicast
    /// instances sharing a VRID), the one `src` is a peer of.
    fn dispatch(&self, interface: &str, vrid: u8, src: IpAddr) -> Option<usize> {
        let mut found = None;
        for (i, inst) in self.instances.iter().enumerate() {
            if inst.cfg.interface != interface
                || inst.cfg.vrid != vrid
                || inst.ipv6 != src.is_ipv6()
            {
                continue;
            }
            if inst.cfg.unicast_peers.contains(&src) {
                return Some(i);
            }
            found.get_or_insert(i);
        }
        found
    }

    /// A tracked (or an instance's own) interface changed link state.
    pub fn handle_link(&mut self, interface: &str, up: bool, now: Instant) {
        if self.stopped {
            return;
        }
        self.links.insert(interface.to_string(), up);
        for i in 0..self.instances.len() {
            let inst = &mut self.instances[i];
            let own = inst.cfg.interface == interface;
            if own {
                inst.env.up = up;
            }
            if own
                || inst
                    .cfg
                    .track_interfaces
                    .iter()
                    .any(|t| t.name == interface)
            {
                self.reassess(i, now);
            }
        }
    }

    /// Track script `script` finished: exit status 0 is success; a
    /// timeout or a kill is failure.
    pub fn handle_script(&mut self, script: usize, success: bool, now: Instant) {
        if self.stopped {
            return;
        }
        let Some(s) = self.scripts.get_mut(script) else {
            return;
        };
        s.record(success);
        for i in 0..self.instances.len() {
            if self.instances[i]
                .cfg
                .track_scripts
                .iter()
                .any(|t| t.script == script)
            {
                self.reassess(i, now);
            }
        }
    }

    /// Fire every timer due at `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        while let Some((at, due)) = self.next_due() {
            if at > now {
                break;
            }
            match due {
                Due::Instance(i) => self.on_timer(i, now),
                Due::Garp(i) => {
                    let inst = &mut self.instances[i];
                    let count = inst.garp.fire(&inst.cfg.garp, now);
                    if inst.state == State::Master {
                        self.announce(i, count);
                    } else {
                        inst.garp.cancel();
                    }
                }
                Due::Script(s) => {
                    if self.scripts[s].due(now) {
                        self.actions.push_back(Action::RunScript {
                            script: s,
                            timeout: self.scripts[s].cfg.timeout,
                        });
                    }
                }
            }
        }
    }

    fn next_due(&self) -> Option<(Instant, Due)> {
        let instances = self.instances.iter().enumerate().flat_map(|(i, inst)| {
            [
                inst.timer.map(|t| (t, Due::Instance(i))),
                inst.garp.deadline().map(|t| (t, Due::Garp(i))),
            ]
        });
        let scripts = self
            .scripts
            .iter()
            .enumerate()
            .map(|(s, st)| st.next_run.map(|t| (t, Due::Script(s))));
        instances.chain(scripts).flatten().min_by_key(|(t, _)| *t)
    }

    /// When [`Router::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        self.next_due().map(|(t, _)| t)
    }

    /// The next thing to do, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The director is stopping: masters send priority 0, every instance
    /// goes to Init (notify_stop), then every sync group notifies STOP.
    pub fn shutdown(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for i in 0..self.instances.len() {
            self.enter_init_on_shutdown(i, now);
        }
        for g in 0..self.groups.len() {
            let group = &mut self.groups[g];
            group.state = State::Init;
            for script in
                crate::notify::scripts(&group.cfg.notify, "GROUP", &group.cfg.name, State::Init, 0)
            {
                self.actions.push_back(Action::Notify { script });
            }
        }
        for s in &mut self.scripts {
            s.next_run = None;
        }
    }

    /// The virtual addresses of every instance not in Master, sorted and
    /// deduplicated (an address is served only while its instance is master).
    pub fn standby_addresses(&self) -> Vec<IpAddr> {
        self.addresses(|s| s != State::Master)
    }

    /// The virtual addresses of every instance in Master, sorted and
    /// deduplicated.
    pub fn master_addresses(&self) -> Vec<IpAddr> {
        self.addresses(|s| s == State::Master)
    }

    fn addresses(&self, pick: impl Fn(State) -> bool) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = self
            .instances
            .iter()
            .filter(|i| pick(i.state))
            .flat_map(|i| i.addresses().iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Instance `instance`'s state (Init for an index out of range).
    pub fn state(&self, instance: usize) -> State {
        self.instances
            .get(instance)
            .map_or(State::Init, |i| i.state)
    }

    pub fn status(&self, now: Instant) -> Vec<InstanceStatus> {
        self.instances
            .iter()
            .map(|inst| {
                let group = inst
                    .group
                    .and_then(|g| self.groups.get(g))
                    .map(|g| g.cfg.name.clone());
                crate::status::row(inst, group, now)
            })
            .collect()
    }

    /// Adverts that matched no instance (interface, VRID and family):
    /// [`Reject::UnknownVrid`], counted here since no instance owns them.
    pub fn unmatched(&self) -> u64 {
        self.unmatched
    }

    /// Frames that were not a readable VRRP packet at all (IP layer
    /// broken, a fragment, or a message too short to carry a VRID).
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }
}

/// The environment of an instance the driver gave none for: no address,
/// link down (so it sits in Fault rather than advertising garbage).
fn missing_env(cfg: &VrrpInstance) -> InstanceEnv {
    let ipv6 = cfg
        .virtual_addresses
        .first()
        .is_some_and(|n| n.addr.is_ipv6());
    InstanceEnv {
        primary: if ipv6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        },
        mac: [0; 6],
        up: false,
    }
}
