//! Announcing the VIPs over BGP: the thin I/O around
//! [`xvs_announce::Announcer`]. The control thread feeds it the number
//! of running workers, each VIP's health quorum (from the health view),
//! `xvs drain`/`undrain` and the stop signal; its actions become routes
//! on the route device ([`xvs_route::RouteDevice`]) that BIRD learns and
//! announces (config/bird-director.conf), and, at the end of the stop's
//! drain time, the daemon's stop flag.
//!
//! What this driver cannot do — withdraw after xvs is killed — the route
//! device does by dying with the process.
//!
//! Layer: runtime.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use xvs_announce::{Action, Announcer, Input, Status};
use xvs_config::{Announce, Snapshot};
use xvs_health::HealthView;
use xvs_route::RouteDevice;

/// Counts running worker threads: each holds one of these while its loop
/// runs, and the count drops when a worker returns or panics.
#[derive(Debug)]
pub struct WorkerAlive(Arc<AtomicUsize>);

impl WorkerAlive {
    pub fn enter(count: &Arc<AtomicUsize>) -> WorkerAlive {
        count.fetch_add(1, Ordering::AcqRel);
        WorkerAlive(Arc::clone(count))
    }
}

impl Drop for WorkerAlive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The announcer, its route device and what it last told the announcer.
#[derive(Debug)]
pub struct AnnounceDriver {
    announcer: Announcer,
    device: RouteDevice,
    workers: Arc<AtomicUsize>,
    /// Set by SIGTERM/SIGINT instead of the stop flag: the stop waits
    /// for the drain time.
    stop_requested: Arc<AtomicBool>,
    stopping: bool,
    last_workers: Option<usize>,
    last_vips: Option<BTreeMap<IpAddr, bool>>,
    /// Set once the drain after a stop signal is over.
    exit: bool,
}

impl AnnounceDriver {
    /// Create the route device; nothing is announced until the first
    /// [`AnnounceDriver::run`] sees running workers.
    pub fn start(
        cfg: &Announce,
        workers: Arc<AtomicUsize>,
        stop_requested: Arc<AtomicBool>,
    ) -> Result<AnnounceDriver, xvs_route::RouteError> {
        let device = RouteDevice::create(&cfg.device, cfg.table, cfg.protocol)?;
        Ok(AnnounceDriver {
            announcer: Announcer::new(cfg.drain_time),
            device,
            workers,
            stop_requested,
            stopping: false,
            last_workers: None,
            last_vips: None,
            exit: false,
        })
    }

    /// True once the stop's drain time is over: the daemon may stop.
    pub fn exit(&self) -> bool {
        self.exit
    }

    /// True once a stop signal arrived.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// When [`AnnounceDriver::run`] must run again without new input.
    pub fn deadline(&self) -> Option<Instant> {
        self.announcer.poll_timeout()
    }

    /// Feed what changed since the last call and carry out the actions:
    /// `file` is the configuration as loaded (with runtime changes),
    /// `view` the health checker's latest verdicts.
    pub fn run(&mut self, file: &Snapshot, view: &HealthView, now: Instant) {
        if !self.stopping && self.stop_requested.load(Ordering::Relaxed) {
            self.stopping = true;
            tracing::info!("stopping: withdrawing the VIPs, then draining");
            self.announcer.handle(Input::Shutdown, now);
        }
        let workers = self.workers.load(Ordering::Acquire);
        if self.last_workers != Some(workers) {
            self.last_workers = Some(workers);
            self.announcer.handle(Input::Workers(workers), now);
        }
        let vips = servable(file, view);
        if self.last_vips.as_ref() != Some(&vips) {
            self.last_vips = Some(vips.clone());
            self.announcer.handle(Input::Vips(vips), now);
        }
        self.apply(now);
    }

    /// `xvs drain` (`on`) or `xvs undrain`: what changed, for the operator.
    pub fn drain(&mut self, on: bool, now: Instant) -> String {
        let was = self.announcer.is_drained();
        self.announcer
            .handle(if on { Input::Drain } else { Input::Undrain }, now);
        self.apply(now);
        let announced = self
            .announcer
            .status()
            .vips
            .iter()
            .filter(|v| v.announced)
            .count();
        match (was, on) {
            (false, true) => {
                "drained: every VIP withdrawn; established connections keep being forwarded".into()
            }
            (true, true) => "already drained".into(),
            (true, false) => format!("undrained: {announced} VIP(s) announced"),
            (false, false) => format!("not drained; {announced} VIP(s) announced"),
        }
    }

    pub fn status(&self) -> Status {
        self.announcer.status()
    }

    fn apply(&mut self, now: Instant) {
        let mut changed = false;
        while let Some(action) = self.announcer.poll(now) {
            match action {
                Action::Announce(vip) => {
                    changed = true;
                    match self.device.announce(vip) {
                        Ok(()) => tracing::info!(%vip, "announcing {vip}"),
                        Err(e) => tracing::error!(%vip, "announcing {vip}: {e}"),
                    }
                }
                Action::Withdraw(vip) => {
                    changed = true;
                    match self.device.withdraw(vip) {
                        Ok(()) => tracing::info!(%vip, "withdrew {vip}"),
                        Err(e) => tracing::error!(%vip, "withdrawing {vip}: {e}"),
                    }
                }
                Action::Exit => {
                    tracing::info!("drain time over");
                    self.exit = true;
                }
            }
        }
        if changed {
            self.record();
        }
    }

    /// `xvs_announced{vip}` and `xvs_drained` in the metrics facade.
    pub fn record(&self) {
        let status = self.announcer.status();
        for v in &status.vips {
            metrics::gauge!("xvs_announced", "vip" => v.vip.to_string()).set(if v.announced {
                1.0
            } else {
                0.0
            });
        }
        metrics::gauge!("xvs_drained").set(if status.drained { 1.0 } else { 0.0 });
    }
}

/// Every announced VIP that still has a service, and whether all its
/// services have their quorum (a service the health checker has not
/// reported on yet counts as up, as its real servers start up).
pub fn servable(file: &Snapshot, view: &HealthView) -> BTreeMap<IpAddr, bool> {
    let Some(cfg) = &file.announce else {
        return BTreeMap::new();
    };
    xvs_announce::fold_services(
        file.services
            .iter()
            .filter(|s| cfg.vips.contains(&s.vip))
            .map(|s| {
                let quorum = view
                    .service(&xvs_health::service_key(s))
                    .map(|v| v.quorum_up);
                (s.vip, service_servable(s, quorum))
            }),
    )
}

/// Whether a service can take its VIP's traffic: its quorum holds (or the
/// health checker has not said yet), or it has a sorry server, which
/// keepalived puts in when the quorum is lost — withdrawing then would
/// send every flow elsewhere, or nowhere when every director sees the
/// same real servers fail, instead of to the sorry server.
fn service_servable(s: &xvs_config::VirtualService, quorum_up: Option<bool>) -> bool {
    quorum_up.unwrap_or(true) || s.health.sorry_server.is_some()
}

/// `xvs status`: the announcement state, one line per VIP.
pub fn render_text(s: &Status) -> String {
    let mut out = format!(
        "BGP announcement: {}{} worker(s) running\n",
        if s.shutting_down {
            "stopping (VIPs withdrawn, draining); "
        } else if s.drained {
            "drained (xvs undrain announces again); "
        } else {
            ""
        },
        s.workers
    );
    for v in &s.vips {
        match v.withheld {
            None => out.push_str(&format!("  {} announced\n", v.vip)),
            Some(why) => out.push_str(&format!("  {} withdrawn: {why}\n", v.vip)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_vips_with_services_are_servable() {
        let snap = xvs_config::load_str(
            "services:\n  - vip: 198.18.0.100\n    port: 80\n    real_servers: [{address: 198.18.1.11}]\n\
             \x20 - vip: 198.18.0.101\n    port: 80\n    real_servers: [{address: 198.18.1.11}]\n\
             announce:\n  vips: [198.18.0.101]\n",
            "t.yaml",
        )
        .expect("valid");
        let vips = servable(&snap, &HealthView::default());
        let want: BTreeMap<IpAddr, bool> = [("198.18.0.101".parse().unwrap(), true)].into();
        assert_eq!(vips, want, "no verdict yet counts as up");
        let mut gone = snap.clone();
        gone.services.pop();
        assert!(servable(&gone, &HealthView::default()).is_empty());
        gone.announce = None;
        assert!(servable(&gone, &HealthView::default()).is_empty());
    }

    #[test]
    fn a_service_with_a_sorry_server_stays_servable_without_quorum() {
        let snap = xvs_config::load_str(
            "services:\n  - vip: 198.18.0.100\n    port: 80\n    real_servers: [{address: 198.18.1.11}]\n\
             \x20 - vip: 198.18.0.101\n    port: 80\n    real_servers: [{address: 198.18.1.11}]\n\
             \x20   sorry_server: {address: 198.18.1.99}\n",
            "t.yaml",
        )
        .expect("valid");
        let (plain, sorry) = (&snap.services[0], &snap.services[1]);
        assert!(service_servable(plain, None), "no verdict yet");
        assert!(service_servable(plain, Some(true)));
        assert!(!service_servable(plain, Some(false)), "quorum lost");
        assert!(
            service_servable(sorry, Some(false)),
            "the sorry server serves"
        );
    }

    #[test]
    fn status_text_says_why_a_vip_is_withdrawn() {
        let mut a = Announcer::new(std::time::Duration::ZERO);
        let now = Instant::now();
        let vip: IpAddr = "198.18.0.100".parse().unwrap();
        a.handle(Input::Vips([(vip, true)].into()), now);
        a.handle(Input::Workers(1), now);
        assert!(render_text(&a.status()).contains("198.18.0.100 announced"));
        a.handle(Input::Drain, now);
        let text = render_text(&a.status());
        assert!(text.contains("drained (xvs undrain"), "{text}");
        assert!(text.contains("198.18.0.100 withdrawn: drained"), "{text}");
    }
}
