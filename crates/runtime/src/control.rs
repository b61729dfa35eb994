//! The control thread: everything that is not per-packet. It answers ARP,
//! ND and pings for the addresses xvs owns, resolves and ages neighbours,
//! announces VIPs (gratuitous ARP / unsolicited NA), publishes the
//! neighbour table and the plan to the workers, reloads the configuration
//! on SIGHUP (a bad file is rejected and the running plan stays), folds the
//! health checker's verdicts into the plan, records counters in the
//! metrics facade, and tells systemd about reloads and the stop. With
//! `announce:` it also drives the BGP announcement of the VIPs
//! (crate::announce) and answers `xvs drain` / `xvs undrain`.
//!
//! The plan the workers run is always `xvs_health::apply(file, view)`: the
//! configuration file as last loaded, with what health checking makes of
//! it (dead real servers removed or at weight 0, dynamic and slow-start
//! weights, the sorry server). Either side changing publishes a new plan.

use std::collections::HashSet;
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::Receiver;
use xvs_config::{MacAddr, Snapshot};
use xvs_conn::ConnTable;
use xvs_dataplane::{route, source_address, DestRegistry, NeighborTable, Plan};
use xvs_health::HealthView;
use xvs_xsk::{poll_readable, PacketSocket};

use crate::health::{HealthMsg, HealthThread};
use crate::l2;
use crate::neighbor::NeighborCache;
use crate::sd_notify::Notifier;
use crate::shared::{ControlCall, ControlMsg, ControlRequest, Shared, VrrpStatus};
use crate::sync::SyncDriver;
use crate::vrrp::VrrpDriver;

/// How many times a VIP is announced after start or reload, one second apart
/// (keepalived's garp_master_repeat defaults to 5; 3 is plenty on a LAN).
const ANNOUNCE_REPEAT: u32 = 3;
const ANNOUNCE_INTERVAL_MS: u64 = 1000;
const METRICS_INTERVAL_MS: u64 = 1000;
/// How often the VRRP status `xvs status` shows is refreshed (besides on
/// every transition).
pub const VRRP_STATUS_EVERY_MS: u64 = 200;
/// The control thread's longest sleep when nothing wakes it.
const IDLE_POLL: Duration = Duration::from_millis(5);

/// One interface as the control thread sees it.
#[derive(Debug)]
pub struct ControlIface {
    pub name: String,
    pub mac: MacAddr,
    /// Receives ARP (replies and requests the kernel got) and sends frames.
    pub arp: PacketSocket,
    /// Receives IPv6 frames the kernel got (neighbour advertisements).
    pub ipv6: PacketSocket,
}

/// Something that must happen when the plan changes (steering maps).
pub trait PlanListener {
    fn plan_changed(&mut self, plan: &Plan);
}

#[derive(Debug)]
pub struct Control<L: PlanListener> {
    pub shared: Arc<Shared>,
    pub from_workers: Receiver<ControlMsg>,
    pub ifaces: Vec<ControlIface>,
    pub cache: NeighborCache,
    pub registry: DestRegistry,
    pub config_path: Option<PathBuf>,
    pub reload: Arc<AtomicBool>,
    pub table: Arc<ConnTable>,
    pub listener: L,
    pub owned: HashSet<IpAddr>,
    pub announcements: Vec<(u64, usize, IpAddr, u32)>,
    /// The configuration as loaded from the file (MACs resolved).
    file_snapshot: Arc<Snapshot>,
    /// The health checker's latest verdicts, and where they arrive.
    health_view: Arc<HealthView>,
    from_health: Option<Receiver<Arc<HealthView>>>,
    health: Option<HealthThread>,
    /// VRRP, when the configuration has instances.
    vrrp: Option<VrrpDriver>,
    /// Connection sync, when the configuration has a `sync:` section.
    sync: Option<SyncDriver>,
    /// BGP announcement, when the configuration has an `announce:` section.
    announce: Option<crate::announce::AnnounceDriver>,
    /// Requests from the API (reload, runtime changes, save, diff).
    calls: Option<Receiver<ControlCall>>,
    /// The running configuration as a document runtime changes edit (the
    /// file as last loaded, plus those changes).
    running: Option<xvs_config::edit::RunningConfig>,
    last_vrrp_status_ms: u64,
    /// Readable when a stop signal arrived (its poll wakes at once).
    wake: Option<std::os::unix::net::UnixStream>,
    published_version: u64,
    last_metrics_ms: u64,
    /// The NAT reply rules kept for draining real servers, as last given
    /// to the steering program.
    draining: Vec<(IpAddr, u16, u8)>,
    /// systemd's notification socket (reloads, status, the stop).
    notifier: Notifier,
}

impl<L: PlanListener> Control<L> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: Arc<Shared>,
        from_workers: Receiver<ControlMsg>,
        ifaces: Vec<ControlIface>,
        registry: DestRegistry,
        config_path: Option<PathBuf>,
        reload: Arc<AtomicBool>,
        table: Arc<ConnTable>,
        listener: L,
        file_snapshot: Arc<Snapshot>,
        vrrp: Option<VrrpDriver>,
    ) -> Control<L> {
        let mut c = Control {
            shared,
            from_workers,
            ifaces,
            cache: NeighborCache::new(),
            registry,
            config_path,
            reload,
            table,
            listener,
            owned: HashSet::new(),
            announcements: Vec::new(),
            file_snapshot,
            health_view: Arc::new(HealthView::default()),
            from_health: None,
            health: None,
            vrrp,
            sync: None,
            announce: None,
            calls: None,
            running: None,
            last_vrrp_status_ms: 0,
            wake: None,
            published_version: u64::MAX,
            last_metrics_ms: 0,
            draining: Vec::new(),
            notifier: Notifier::default(),
        };
        let plan = c.shared.plan.load_full();
        c.adopt(&plan);
        c.post_vrrp_status(0);
        c
    }

    /// Run health checks: `thread` checks, its views arrive on `views`.
    pub fn attach_health(&mut self, thread: HealthThread, views: Receiver<Arc<HealthView>>) {
        self.health = Some(thread);
        self.from_health = Some(views);
        if let Some(h) = &self.health {
            h.send(HealthMsg::Standby(
                self.vrrp
                    .as_ref()
                    .map_or_else(Vec::new, |v| v.standby().to_vec()),
            ));
        }
    }

    /// Run connection sync from this thread. While its bulk transfer is
    /// under way, VRRP preemption is held.
    pub fn attach_sync(&mut self, sync: SyncDriver) {
        if let Some(v) = self.vrrp.as_mut() {
            v.hold_preemption(sync.holds_preemption());
        }
        self.sync = Some(sync);
    }

    /// Announce the VIPs over BGP from this thread. A stop signal then
    /// withdraws them and drains before the loop ends.
    pub fn attach_announce(&mut self, announce: crate::announce::AnnounceDriver) {
        self.announce = Some(announce);
        self.run_announce();
    }

    /// Feed the announcer and carry out what it says; once the stop's
    /// drain time is over, set the stop flag that ends the loop (and the
    /// workers).
    fn run_announce(&mut self) {
        let Some(a) = self.announce.as_mut() else {
            return;
        };
        let was_stopping = a.stopping();
        a.run(&self.file_snapshot, &self.health_view, Instant::now());
        if a.stopping() && !was_stopping {
            // The signal's wake-up byte: read it, or every poll during
            // the drain returns at once.
            if let Some(w) = self.wake.as_mut() {
                use std::io::Read;
                let mut b = [0u8; 64];
                while matches!(w.read(&mut b), Ok(n) if n > 0) {}
            }
        }
        if a.exit() {
            self.shared.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Answer the API's requests from this thread; `running` is the
    /// configuration file as loaded at start.
    pub fn attach_calls(
        &mut self,
        calls: Receiver<ControlCall>,
        running: xvs_config::edit::RunningConfig,
    ) {
        self.calls = Some(calls);
        self.running = Some(running);
    }

    /// Tell systemd about reloads, the running version and the stop
    /// through `notifier` (after start-up's `READY=1`).
    pub fn notify_systemd(&mut self, notifier: Notifier) {
        self.notifier = notifier;
    }

    /// Wake the loop when `stream` becomes readable (a stop signal).
    pub fn wake_on(&mut self, stream: std::os::unix::net::UnixStream) {
        let _ = stream.set_nonblocking(true);
        self.wake = Some(stream);
    }

    /// Stop the health thread (after the stop flag is set): omega's
    /// notifiers run and every child is reaped.
    pub fn stop_health(&mut self) {
        if let Some(h) = self.health.take() {
            h.join();
        }
    }

    /// Learn what a plan means for the control thread: the addresses we
    /// answer for, the neighbours to keep resolved, VIP announcements.
    fn adopt(&mut self, plan: &Plan) {
        let now = self.shared.now_ms();
        let vips: HashSet<IpAddr> = plan.services.iter().map(|s| s.vip).collect();
        let locals: HashSet<IpAddr> = plan
            .pools
            .iter()
            .flat_map(|p| p.addresses.iter().copied())
            .collect();
        // VRRP: a virtual address is ours while its instance is master
        // (and announced by VRRP, with its own schedule); while backup or
        // fault, neither its ARP/ND nor its traffic is.
        let (vrrp_addrs, standby): (HashSet<IpAddr>, HashSet<IpAddr>) = match &self.vrrp {
            Some(v) => (
                v.virtual_addresses().collect(),
                v.standby().iter().copied().collect(),
            ),
            None => Default::default(),
        };
        let new_vips: Vec<IpAddr> = vips
            .iter()
            .copied()
            .filter(|v| !self.owned.contains(v) && !vrrp_addrs.contains(v))
            .collect();
        self.owned = vips
            .union(&locals)
            .chain(vrrp_addrs.iter())
            .copied()
            .filter(|a| !standby.contains(a))
            .collect();
        self.cache.clear_wanted();
        if let Some(v) = &self.vrrp {
            for (iface, peer) in v.peers() {
                self.cache.want(iface, peer);
            }
        }
        for svc in &plan.services {
            for d in &svc.sched_dests {
                if let Some(e) = route(&plan.interfaces, d.addr) {
                    self.cache.want(e.iface, e.next_hop);
                }
            }
        }
        for (i, iface) in plan.interfaces.iter().enumerate() {
            for gw in [
                iface.gateway_v4.map(IpAddr::V4),
                iface.gateway_v6.map(IpAddr::V6),
            ]
            .into_iter()
            .flatten()
            {
                self.cache.want(i, gw);
            }
        }
        // Announce each new VIP on the interfaces whose prefix holds it
        // (all interfaces if none does).
        for vip in new_vips {
            let on: Vec<usize> = plan
                .interfaces
                .iter()
                .enumerate()
                .filter(|(_, i)| i.addresses.iter().any(|n| n.contains(vip)))
                .map(|(i, _)| i)
                .collect();
            let on = if on.is_empty() {
                (0..plan.interfaces.len()).collect()
            } else {
                on
            };
            for i in on {
                self.announcements.push((now, i, vip, ANNOUNCE_REPEAT));
            }
        }
        self.draining = crate::daemon::draining_nat_sources(plan);
        self.listener.plan_changed(plan);
    }

    fn fds(&self) -> Vec<RawFd> {
        let mut fds: Vec<RawFd> = self
            .ifaces
            .iter()
            .flat_map(|i| [i.arp.fd(), i.ipv6.fd()])
            .collect();
        if let Some(v) = &self.vrrp {
            fds.extend(v.fds());
        }
        if let Some(s) = &self.sync {
            fds.extend(s.fds());
        }
        if let Some(w) = &self.wake {
            use std::os::fd::AsRawFd;
            fds.push(w.as_raw_fd());
        }
        fds
    }

    /// How long the loop may sleep: [`IDLE_POLL`], or less when a VRRP
    /// timer is due sooner (rounded up to the next millisecond).
    fn sleep_ms(&self) -> i32 {
        let mut wait = IDLE_POLL;
        let deadlines = [
            self.vrrp.as_ref().and_then(VrrpDriver::deadline),
            self.sync.as_ref().and_then(SyncDriver::deadline),
            self.announce
                .as_ref()
                .and_then(crate::announce::AnnounceDriver::deadline),
        ];
        for at in deadlines.into_iter().flatten() {
            wait = wait.min(at.saturating_duration_since(Instant::now()));
        }
        i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(5)
    }

    /// Run connection sync, and hold VRRP preemption while its bulk
    /// transfer is under way.
    fn run_sync(&mut self) {
        let Some(s) = self.sync.as_mut() else {
            return;
        };
        let plan = self.shared.plan.load_full();
        s.run(&plan, self.shared.now_secs(), Instant::now());
        let hold = s.holds_preemption();
        if let Some(v) = self.vrrp.as_mut() {
            v.hold_preemption(hold);
        }
    }

    /// Run VRRP: adverts in, timers, actions out; a change of which
    /// addresses are served publishes a new plan at once.
    fn run_vrrp(&mut self) {
        let Some(v) = self.vrrp.as_mut() else {
            return;
        };
        if v.run(&mut self.cache, Instant::now()) {
            self.publish("vrrp");
            if let Some(h) = &self.health {
                h.send(HealthMsg::Standby(
                    self.vrrp
                        .as_ref()
                        .map_or_else(Vec::new, |v| v.standby().to_vec()),
                ));
            }
            self.post_vrrp_status(self.shared.now_ms());
        }
    }

    /// Publish the VRRP status for `xvs status`.
    fn post_vrrp_status(&mut self, now_ms: u64) {
        if let Some(v) = &self.vrrp {
            self.last_vrrp_status_ms = now_ms;
            let instances = v.status(Instant::now());
            crate::export::record_vrrp(&instances);
            self.shared.vrrp.post(Arc::new(VrrpStatus {
                at_ms: now_ms,
                instances,
            }));
        }
    }

    /// The director is stopping: VRRP masters resign first.
    fn stop_vrrp(&mut self) {
        if let Some(v) = self.vrrp.as_mut() {
            v.shutdown(&mut self.cache, Instant::now());
        }
        self.post_vrrp_status(self.shared.now_ms());
    }

    /// Run until the stop flag is set.
    pub fn run(&mut self) {
        let fds = self.fds();
        let mut buf = vec![0u8; 4096];
        let mut probes = Vec::new();
        while !self.shared.stop.load(Ordering::Relaxed) {
            // Wake for kernel-received ARP/ND and VRRP, for the next VRRP
            // timer, or every 5 ms for the rest.
            let _ = poll_readable(&fds, self.sleep_ms());
            self.run_sync();
            self.run_vrrp();
            let now = self.shared.now_ms();
            while let Ok(msg) = self.from_workers.try_recv() {
                match msg {
                    ControlMsg::Punt { iface, frame } => self.on_frame(iface, &frame, now, true),
                    ControlMsg::Resolve { iface, ip } => self.cache.request(iface, ip),
                }
            }
            for i in 0..self.ifaces.len() {
                for v6 in [false, true] {
                    loop {
                        let sock = if v6 {
                            &self.ifaces[i].ipv6
                        } else {
                            &self.ifaces[i].arp
                        };
                        match sock.recv(&mut buf) {
                            Ok(Some(n)) => {
                                let frame = buf[..n].to_vec();
                                self.on_frame(i, &frame, now, false);
                            }
                            _ => break,
                        }
                    }
                }
            }
            if let Some(view) = self.from_health.as_ref().and_then(|r| r.try_iter().last()) {
                self.health_view = view;
                self.publish("health");
            }
            self.run_announce();
            self.cache.poll_probes(now, &mut probes);
            let plan = self.shared.plan.load_full();
            for &(iface, target) in &probes {
                let Some(src) = source_address(&plan.interfaces, iface, target) else {
                    continue;
                };
                if let (Some(i), Some(frame)) = (
                    self.ifaces.get(iface),
                    l2::probe(self.ifaces[iface].mac, src, target),
                ) {
                    let _ = i.arp.send(&frame);
                }
            }
            if self.cache.version() != self.published_version {
                self.published_version = self.cache.version();
                self.shared.neighbors.store(Arc::new(NeighborTable::new(
                    self.cache.resolved(),
                    Some(&plan),
                )));
            }
            self.announce(now);
            if self.reload.swap(false, Ordering::Relaxed) {
                match self.reload_config() {
                    Ok(text) => tracing::info!("{text}"),
                    Err(e) => tracing::warn!("{e}"),
                }
            }
            let calls: Vec<ControlCall> = self
                .calls
                .as_ref()
                .map(|c| c.try_iter().collect())
                .unwrap_or_default();
            for call in calls {
                let answer = self.answer(call.request);
                match &answer {
                    Ok(text) if !text.is_empty() && text.len() < 200 && !text.contains('\n') => {
                        tracing::info!("{text}");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("{e}"),
                }
                let _ = call.reply.send(answer);
            }
            if now.saturating_sub(self.last_metrics_ms) >= METRICS_INTERVAL_MS {
                self.last_metrics_ms = now;
                self.record_metrics();
                // A draining NAT real server's last connection ended (or
                // one gained connections): its reply rule follows.
                let draining = crate::daemon::draining_nat_sources(&plan);
                if draining != self.draining {
                    self.draining = draining;
                    self.listener.plan_changed(&plan);
                }
            }
            if now.saturating_sub(self.last_vrrp_status_ms) >= VRRP_STATUS_EVERY_MS
                || self.shared.vrrp.pending()
            {
                self.post_vrrp_status(now);
                if let Some(s) = &self.sync {
                    self.shared.sync.store(Some(Arc::new(s.status(now))));
                }
                if let Some(a) = &self.announce {
                    self.shared.announce.store(Some(Arc::new(a.status())));
                }
            }
        }
        tracing::info!("stopping");
        self.notifier.stopping("stopping");
        self.stop_vrrp();
    }

    pub fn record_metrics(&self) {
        let entries: Vec<usize> = (0..self.shared.workers.len())
            .map(|w| self.table.shard_len(w))
            .collect();
        crate::export::record(&self.shared, &entries);
        if let Some(s) = &self.sync {
            crate::export::record_sync(s);
        }
        if let Some(a) = &self.announce {
            a.record();
        }
    }

    fn on_frame(&mut self, iface: usize, frame: &[u8], now: u64, punted: bool) {
        let Some(i) = self.ifaces.get(iface) else {
            return;
        };
        let owned = &self.owned;
        let vrrp = self.vrrp.as_ref();
        let out = l2::handle_frame(frame, &|ip| {
            owned.contains(&ip).then(|| l2::Answer {
                mac: vrrp.and_then(|v| v.answer_mac(ip)).unwrap_or(i.mac),
                echo: vrrp.is_none_or(|v| v.accepts(ip)),
            })
        });
        if let Some(reply) = out.reply {
            let _ = i.arp.send(&reply);
        }
        if let Some(h) = out.heard {
            // Requests punted to us come from hosts talking to a VIP: worth
            // remembering (NAT replies go back to them).
            self.cache.learn(iface, h.ip, h.mac, now, punted);
        }
    }

    fn announce(&mut self, now: u64) {
        let mut keep = Vec::with_capacity(self.announcements.len());
        for (due, iface, ip, left) in std::mem::take(&mut self.announcements) {
            if due > now {
                keep.push((due, iface, ip, left));
                continue;
            }
            if let Some(i) = self.ifaces.get(iface) {
                if let Some(frame) = l2::announce(i.mac, ip) {
                    let _ = i.arp.send(&frame);
                }
            }
            if left > 1 {
                keep.push((now + ANNOUNCE_INTERVAL_MS, iface, ip, left - 1));
            }
        }
        self.announcements = keep;
    }

    /// One API request: the answer's text, or why it was refused.
    fn answer(&mut self, request: ControlRequest) -> Result<String, String> {
        match request {
            ControlRequest::Reload => self.reload_config(),
            ControlRequest::Change(change) => self.change(&change),
            ControlRequest::Save => self
                .running
                .as_ref()
                .map(xvs_config::edit::RunningConfig::to_yaml)
                .ok_or_else(|| "no running configuration".to_string()),
            ControlRequest::Diff => self.diff(),
            ControlRequest::Drain(on) => match self.announce.as_mut() {
                Some(a) => {
                    let text = a.drain(on, Instant::now());
                    self.shared.announce.store(Some(Arc::new(a.status())));
                    Ok(text)
                }
                None => Err(
                    "this director announces no VIPs (no announce: section); nothing to drain"
                        .into(),
                ),
            },
        }
    }

    /// A runtime change: validated as the file is, published at once,
    /// kept until the next reload.
    fn change(&mut self, change: &xvs_config::edit::Change) -> Result<String, String> {
        let Some(running) = &self.running else {
            return Err("no running configuration".into());
        };
        let current = self.shared.plan.load_full();
        let mut next = running.clone();
        let mut snap = next.apply(change).map_err(|e| e.to_string())?;
        if let Err(e) = crate::daemon::check_reload_compatible(&self.file_snapshot, &mut snap) {
            return Err(format!("runtime change {change} refused: {e}"));
        }
        let previous = std::mem::replace(&mut self.file_snapshot, Arc::new(snap));
        if !self.publish(&format!("runtime change {change}")) {
            self.file_snapshot = previous;
            return Err(format!(
                "runtime change {change}: the plan does not compile; keeping version {}",
                current.version
            ));
        }
        if let Some(h) = &self.health {
            h.send(HealthMsg::Reconfigure(Arc::clone(&self.file_snapshot)));
        }
        let n = next.changes();
        self.running = Some(next);
        Ok(format!(
            "{change}: running version {}; {n} runtime change{} since the file was loaded (xvs diff shows them; a reload replaces them)",
            self.shared.plan.load().version,
            if n == 1 { "" } else { "s" }
        ))
    }

    /// What the running configuration changes from the file as it is on
    /// disk now, one line each.
    fn diff(&self) -> Result<String, String> {
        let Some(running) = &self.running else {
            return Err("no running configuration".into());
        };
        let Some(path) = &self.config_path else {
            return Err("no configuration file to compare with".into());
        };
        let file = xvs_config::load_file(path)
            .map_err(|e| format!("the file does not load, nothing to compare with: {e}"))?;
        let lines = xvs_config::edit::diff(&file, running.snapshot());
        Ok(if lines.is_empty() {
            format!("the running configuration is {}\n", path.display())
        } else {
            lines.iter().map(|l| format!("{l}\n")).collect()
        })
    }

    /// SIGHUP, `xvs reload`: [`Control::reload_file`] between systemd's
    /// `RELOADING=1` and `READY=1` (whether or not the file was taken: the
    /// director runs either way).
    fn reload_config(&mut self) -> Result<String, String> {
        self.notifier.reloading("reloading the configuration");
        let result = self.reload_file();
        let version = self.shared.plan.load().version;
        self.notifier.ready(&match &result {
            Ok(_) => running_status(version),
            Err(_) => format!("{}; the last reload was refused", running_status(version)),
        });
        result
    }

    /// Load the file again; on success compile and publish (replacing any
    /// runtime change), on failure say why (the file:line:col of a
    /// rejected file) and keep running the current plan.
    fn reload_file(&mut self) -> Result<String, String> {
        let Some(path) = self.config_path.clone() else {
            return Err("no configuration file to reload".into());
        };
        let current = self.shared.plan.load_full();
        let loaded = std::fs::read_to_string(&path)
            .map_err(|source| xvs_config::ConfigError::Io {
                origin: path.display().to_string(),
                source,
            })
            .and_then(|text| {
                xvs_config::edit::RunningConfig::from_text(&text, &path.display().to_string())
            });
        let (running, mut snap) = match loaded {
            Ok(x) => x,
            Err(e) => {
                return Err(format!(
                    "reload failed: {e}; keeping version {}",
                    current.version
                ));
            }
        };
        if let Err(e) = crate::daemon::check_reload_compatible(&self.file_snapshot, &mut snap) {
            return Err(format!(
                "reload of {} refused: {e}; keeping version {}",
                path.display(),
                current.version
            ));
        }
        let previous = std::mem::replace(&mut self.file_snapshot, Arc::new(snap));
        if !self.publish(&format!("reload of {}", path.display())) {
            self.file_snapshot = previous;
            return Err(format!(
                "reload of {}: the plan does not compile; keeping version {}",
                path.display(),
                current.version
            ));
        }
        if let Some(h) = &self.health {
            h.send(HealthMsg::Reconfigure(Arc::clone(&self.file_snapshot)));
        }
        let replaced = self.running.replace(running).map_or(0, |r| r.changes());
        Ok(format!(
            "reloaded {}: running version {}{}",
            path.display(),
            self.shared.plan.load().version,
            match replaced {
                0 => String::new(),
                1 => "; replaced 1 runtime change".to_string(),
                n => format!("; replaced {n} runtime changes"),
            }
        ))
    }

    /// Compile `apply(file, health view)` into the next plan and publish
    /// it: the plan first, then the neighbour slots of its next hops (until
    /// those land, workers on the new plan hash). `why` is for the log.
    /// False (and nothing changes) if the plan does not compile.
    fn publish(&mut self, why: &str) -> bool {
        let current = self.shared.plan.load_full();
        let mut snap = effective(&self.file_snapshot, &self.health_view, self.vrrp.as_ref());
        snap.version = current.version;
        if snap == *current.snapshot {
            // Nothing the workers use changed (a quorum flag, a view that
            // matches the start-up state, the same file): no new plan.
            tracing::info!(
                version = current.version,
                "{why}: nothing changed, keeping version {}",
                current.version
            );
            return true;
        }
        snap.version = current.version + 1;
        match Plan::compile(Arc::new(snap), &mut self.registry, Some(&current)) {
            Ok(plan) => {
                let plan = Arc::new(plan);
                self.shared.plan.store(Arc::clone(&plan));
                let neighbors = self.shared.neighbors.load().for_plan(&plan);
                self.shared.neighbors.store(Arc::new(neighbors));
                self.adopt(&plan);
                tracing::info!(
                    version = plan.version,
                    "{why}: published version {}",
                    plan.version
                );
                self.notifier.status(&running_status(plan.version));
                true
            }
            Err(e) => {
                tracing::error!(
                    version = current.version,
                    "{why}: the plan does not compile: {e}; keeping version {}",
                    current.version
                );
                false
            }
        }
    }

    /// The snapshot currently published (for the API).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.shared.plan.load().snapshot)
    }
}

/// The status line systemd shows (`systemctl status xvs`).
pub fn running_status(version: u64) -> String {
    format!("running version {version}")
}

/// What the workers run: the file as loaded, with what health checking
/// makes of it, the VRRP addresses this director does not serve now, and
/// the virtual MACs its frames leave from while master (`use_vmac`).
pub fn effective(file: &Snapshot, view: &HealthView, vrrp: Option<&VrrpDriver>) -> Snapshot {
    let mut snap = xvs_health::apply(file, view);
    if let Some(v) = vrrp {
        snap.standby = v.standby().to_vec();
        for (name, mac) in v.source_macs() {
            if let Some(i) = snap.interfaces.iter_mut().find(|i| i.name == name) {
                i.mac = Some(mac);
            }
        }
    }
    snap
}
