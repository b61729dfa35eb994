//! The health-check thread: the thin I/O layer of keepalived's checker
//! half. It drives the sans-IO [`Monitor`] (when to check, what a result
//! means) with the clock and with the [`Prober`] event loop (sockets, TLS,
//! ICMP, child processes), runs the notify and quorum scripts the monitor
//! asks for, logs every transition, suspends the checks of `ha_suspend`
//! services whose VIP VRRP keeps standby, and hands each new
//! [`HealthView`] to the control thread, which folds it into the next
//! plan (RCU): workers never see a probe. Probes use the kernel's stack: the steering program
//! passes their replies to the kernel (packets to the director's own
//! addresses are never xvs's).
//!
//! One thread, one epoll set, however many real servers: a probe that gets
//! no answer costs only its own deadline.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender};
use xvs_config::{ipvsadm, Snapshot};
use xvs_health::{Event, HealthView, Monitor, Status};
use xvs_prober::{Finished, Prober, ProberConfig};

use crate::shared::Shared;

/// How long a notify or quorum script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Checks due within this much of each other start together: a thousand
/// real servers checked every second then cost about a hundred wake-ups a
/// second instead of a thousand, for at most this much lateness (keepalived
/// checks on a timer of its own granularity too).
const SLACK: Duration = Duration::from_millis(10);
/// The loop wakes at least this often, to see the stop flag.
const TICK: Duration = Duration::from_millis(200);
/// At shutdown, how long omega's notifiers get before they are killed
/// (keepalived gives its shutdown scripts one second).
const SHUTDOWN_SCRIPT_GRACE: Duration = Duration::from_secs(1);
/// Metrics are recorded this often.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// Control thread → health thread.
#[derive(Debug)]
pub enum HealthMsg {
    /// A reload was accepted: check what it configures.
    Reconfigure(Arc<Snapshot>),
    /// The virtual addresses whose VRRP instance is not master here
    /// (`VrrpDriver::standby`), sent at start and whenever VRRP changes
    /// them: services with `ha_suspend` on these VIPs stop checking.
    Standby(Vec<IpAddr>),
}

/// Apply one message from the control thread to the monitor at `now`.
fn handle_msg(monitor: &mut Monitor, msg: HealthMsg, now: Instant) {
    match msg {
        HealthMsg::Reconfigure(snap) => monitor.reconfigure(&snap, now),
        HealthMsg::Standby(standby) => monitor.set_standby(&standby, now),
    }
}

/// The running health thread.
#[derive(Debug)]
pub struct HealthThread {
    to_health: Sender<HealthMsg>,
    waker: Arc<mio::Waker>,
    handle: Option<JoinHandle<()>>,
}

impl HealthThread {
    /// Start checking `snapshot`; views go to `views`.
    pub fn spawn(
        snapshot: Arc<Snapshot>,
        shared: Arc<Shared>,
        views: Sender<Arc<HealthView>>,
    ) -> std::io::Result<HealthThread> {
        let prober = Prober::new(ProberConfig {
            max_in_flight: snapshot.global.health.max_in_flight as usize,
        })?;
        let waker = prober.waker();
        shared.health.set_waker(Arc::clone(&waker));
        let (to_health, from_control) = crossbeam::channel::unbounded();
        let workers = snapshot.global.workers.clone();
        let handle = std::thread::Builder::new()
            .name("xvs-health".into())
            .spawn(move || {
                if let Err(e) = keep_off_cores(&workers) {
                    tracing::warn!("health: cannot keep off the worker cores: {e}");
                }
                HealthLoop::new(snapshot, shared, views, from_control, prober).run();
            })?;
        Ok(HealthThread {
            to_health,
            waker,
            handle: Some(handle),
        })
    }

    /// Hand the thread a message and wake it.
    pub fn send(&self, msg: HealthMsg) {
        if self.to_health.send(msg).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// Wait for the thread to finish (after the stop flag is set): it runs
    /// omega's notifiers and reaps every child first.
    pub fn join(mut self) {
        let _ = self.waker.wake();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct HealthLoop {
    monitor: Monitor,
    prober: Prober,
    shared: Arc<Shared>,
    views: Sender<Arc<HealthView>>,
    from_control: Receiver<HealthMsg>,
    /// The checker type of each probe in flight (metric labels).
    in_flight: HashMap<u64, &'static str>,
    sent_view: u64,
    /// The newest `xvs status` request answered.
    answered: u64,
    last_metrics: Instant,
}

impl HealthLoop {
    fn new(
        snapshot: Arc<Snapshot>,
        shared: Arc<Shared>,
        views: Sender<Arc<HealthView>>,
        from_control: Receiver<HealthMsg>,
        prober: Prober,
    ) -> HealthLoop {
        let now = Instant::now();
        let seed = seed();
        HealthLoop {
            monitor: Monitor::new(&snapshot, now, seed),
            prober,
            shared,
            views,
            from_control,
            in_flight: HashMap::new(),
            sent_view: u64::MAX,
            answered: 0,
            last_metrics: now,
        }
    }

    fn run(&mut self) {
        let mut finished = Vec::new();
        loop {
            let now = Instant::now();
            // In order: a reload keeps the standby set sent before it.
            // (global.health.max_in_flight needs a restart.)
            while let Ok(msg) = self.from_control.try_recv() {
                handle_msg(&mut self.monitor, msg, now);
            }
            if self.shared.stop.load(Ordering::Relaxed) {
                self.stop(now);
                return;
            }
            self.monitor.handle_timeout(now);
            while let Some((id, probe)) = self.monitor.poll_probe(now + SLACK) {
                self.in_flight.insert(id, probe.kind.type_name());
                self.prober.start(id, probe);
            }
            self.events();
            self.publish(now);

            let wait = self.monitor.poll_timeout().map_or(TICK, |t| {
                (t.saturating_duration_since(now) + SLACK).min(TICK)
            });
            if let Err(e) = self.prober.poll(Some(wait), &mut finished) {
                tracing::error!("health: event loop: {e}");
                std::thread::sleep(TICK);
            }
            let now = Instant::now();
            for Finished {
                id,
                outcome,
                latency,
            } in finished.drain(..)
            {
                if let Some(kind) = self.in_flight.remove(&id) {
                    let result = if outcome.is_pass() { "pass" } else { "fail" };
                    metrics::histogram!("xvs_health_check_duration_seconds", "type" => kind)
                        .record(latency.as_secs_f64());
                    metrics::counter!("xvs_health_checks_total", "type" => kind, "result" => result)
                        .increment(1);
                }
                self.monitor.handle_outcome(id, outcome, latency, now);
            }
        }
    }

    /// Log lines and scripts, in the order the monitor produced them.
    fn events(&mut self) {
        while let Some(event) = self.monitor.poll_event() {
            match event {
                Event::Log(line) => tracing::info!("health: {line}"),
                Event::RunScript(script) => {
                    tracing::info!("health: running {}", script.display());
                    self.prober.run_script(&script, SCRIPT_TIMEOUT);
                }
            }
        }
        for error in self.prober.take_script_errors() {
            tracing::warn!("health: {error}");
        }
    }

    /// A changed view goes to the control thread. The status is built
    /// when `xvs status` asks or the view changed (it costs an allocation
    /// per real server: not worth doing after every check); the gauges
    /// follow every change, the engine's counters every second.
    fn publish(&mut self, now: Instant) {
        let changed = self.monitor.view_version() != self.sent_view;
        if changed {
            self.sent_view = self.monitor.view_version();
            let _ = self.views.send(Arc::new(self.monitor.view().clone()));
        }
        let asked = self.shared.health.asked();
        if changed || asked != self.answered {
            self.answered = asked;
            let status = Arc::new(self.monitor.status(now));
            if changed {
                record_server_metrics(&status);
            }
            self.shared.health.post(status, asked);
        }
        if now.duration_since(self.last_metrics) >= METRICS_EVERY {
            self.last_metrics = now;
            record_engine_metrics(&self.prober);
        }
    }

    /// keepalived at shutdown: omega's down notifiers get a moment, then
    /// every child is killed and reaped.
    fn stop(&mut self, now: Instant) {
        self.monitor.shutdown(now);
        self.events();
        let deadline = Instant::now() + SHUTDOWN_SCRIPT_GRACE;
        let mut finished = Vec::new();
        while self.prober.children() > 0 && Instant::now() < deadline {
            let _ = self
                .prober
                .poll(Some(Duration::from_millis(20)), &mut finished);
        }
        self.prober.shutdown();
    }
}

/// Per real server: up (1/0) and the weight health gives it, for every
/// configured real server (one the plan removed shows weight 0).
fn record_server_metrics(status: &Status) {
    for svc in &status.services {
        let service = format!("{} {}", svc.protocol, ipvsadm::addr_port(svc.vip, svc.port));
        for rs in &svc.real_servers {
            let real_server = ipvsadm::addr_port(rs.address, rs.port);
            metrics::gauge!("xvs_real_server_up", "service" => service.clone(), "real_server" => real_server.clone())
                .set(if rs.up { 1.0 } else { 0.0 });
            metrics::gauge!("xvs_real_server_effective_weight", "service" => service.clone(), "real_server" => real_server)
                .set(f64::from(rs.effective_weight));
        }
    }
}

/// The probe engine's own counters.
fn record_engine_metrics(prober: &Prober) {
    let c = prober.counters();
    for (name, value) in [
        ("xvs_health_probes_started_total", c.probes_started),
        ("xvs_health_probes_deferred_total", c.probes_deferred),
        ("xvs_health_probes_timed_out_total", c.probes_timed_out),
        ("xvs_health_scripts_run_total", c.scripts_run),
        ("xvs_health_scripts_killed_total", c.scripts_killed),
        ("xvs_health_scripts_failed_total", c.scripts_failed),
    ] {
        metrics::counter!(name).absolute(value);
    }
}

/// Worker cores never run probe work: the calling thread may run on every
/// CPU it is allowed now except `workers` (if that leaves any; on a
/// machine with no spare core the scheduler shares them).
pub(crate) fn keep_off_cores(workers: &[usize]) -> nix::Result<()> {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let allowed = sched_getaffinity(Pid::from_raw(0))?;
    let mut spare = CpuSet::new();
    let mut any = false;
    for cpu in (0..CpuSet::count()).filter(|c| !workers.contains(c)) {
        if allowed.is_set(cpu).unwrap_or(false) {
            spare.set(cpu)?;
            any = true;
        }
    }
    if any {
        sched_setaffinity(Pid::from_raw(0), &spare)?;
    }
    Ok(())
}

/// A seed for the warmup spread: different on every start.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
services:
  - vip: 198.18.0.100
    port: 80
    method: nat
    ha_suspend: true
    real_servers:
      - address: 198.18.1.11
        health: { type: tcp, delay_loop: 10, warmup: 0 }
  - vip: 198.18.0.100
    port: 443
    method: nat
    real_servers:
      - address: 198.18.1.11
        health: { type: tcp, delay_loop: 10, warmup: 0 }
";

    fn suspended(monitor: &Monitor, now: Instant) -> Vec<bool> {
        monitor
            .status(now)
            .services
            .iter()
            .map(|s| s.suspended)
            .collect()
    }

    fn probes_due(monitor: &mut Monitor, now: Instant) -> usize {
        std::iter::from_fn(|| monitor.poll_probe(now)).count()
    }

    #[test]
    fn standby_and_reconfigure_messages_reach_the_monitor_in_order() {
        let snap = Arc::new(xvs_config::load_str(CONFIG, "test.yaml").expect("config"));
        let vip: IpAddr = "198.18.0.100".parse().expect("vip");
        let t0 = Instant::now();
        let mut monitor = Monitor::new(&snap, t0, 1);
        handle_msg(&mut monitor, HealthMsg::Standby(vec![vip]), t0);
        assert_eq!(suspended(&monitor, t0), [true, false]);
        // Only the service without ha_suspend is checked (first at 1 s).
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(probes_due(&mut monitor, t1), 1);
        // A reload keeps the standby set sent before it.
        handle_msg(&mut monitor, HealthMsg::Reconfigure(Arc::clone(&snap)), t1);
        assert_eq!(suspended(&monitor, t1), [true, false]);
        // Master again: the suspended service is checked at once.
        let t2 = t0 + Duration::from_secs(5);
        handle_msg(&mut monitor, HealthMsg::Standby(Vec::new()), t2);
        assert_eq!(suspended(&monitor, t2), [false, false]);
        assert_eq!(probes_due(&mut monitor, t2), 1);
    }
}
