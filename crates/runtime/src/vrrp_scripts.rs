//! The thread that runs VRRP's programs: `vrrp_scripts` checks (whose
//! results move priorities) and notify scripts. It owns a prober engine
//! of its own, so a slow or hung script never delays an advert on the
//! control thread, and programs are started, timed out (SIGTERM, SIGKILL
//! 2 s later, whole process group) and reaped as MISC_CHECK programs are.
//!
//! Layer: runtime driver.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{Receiver, Sender};
use xvs_config::Script;
use xvs_probe::{Outcome, Probe, ProbeKind};
use xvs_prober::{Finished, Prober, ProberConfig};

/// How long a notify script may run before it is stopped (keepalived
/// gives notify scripts no timeout; a stuck one must not pile up).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);
/// Programs that may run at once.
const MAX_IN_FLIGHT: usize = 64;

/// Control thread → script thread.
#[derive(Debug)]
pub enum ScriptJob {
    /// Run track script `index`; its result comes back as `(index, ok)`.
    Track {
        index: usize,
        script: Script,
        timeout: Duration,
    },
    /// Run a notify script and forget it.
    Notify(Script),
}

/// The running script thread.
#[derive(Debug)]
pub struct ScriptThread {
    jobs: Sender<ScriptJob>,
    waker: Arc<mio::Waker>,
    handle: Option<JoinHandle<()>>,
}

impl ScriptThread {
    /// Start the thread; results of track scripts go to `results`. It
    /// keeps off the `workers` cores and ends when `stop` is set (after
    /// reaping its children).
    pub fn spawn(
        workers: Vec<usize>,
        stop: Arc<AtomicBool>,
        results: Sender<(usize, bool)>,
    ) -> std::io::Result<ScriptThread> {
        let prober = Prober::new(ProberConfig {
            max_in_flight: MAX_IN_FLIGHT,
        })?;
        let waker = prober.waker();
        let (jobs, from_control) = crossbeam::channel::unbounded();
        let handle = std::thread::Builder::new()
            .name("xvs-vrrp-scripts".into())
            .spawn(move || {
                if let Err(e) = crate::health::keep_off_cores(&workers) {
                    tracing::warn!("vrrp scripts: cannot keep off the worker cores: {e}");
                }
                run(prober, &from_control, &results, &stop);
            })?;
        Ok(ScriptThread {
            jobs,
            waker,
            handle: Some(handle),
        })
    }

    pub fn submit(&self, job: ScriptJob) {
        if self.jobs.send(job).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// Wait for the thread (after the stop flag is set).
    pub fn join(mut self) {
        let _ = self.waker.wake();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    mut prober: Prober,
    jobs: &Receiver<ScriptJob>,
    results: &Sender<(usize, bool)>,
    stop: &AtomicBool,
) {
    let mut next_id: u64 = 0;
    // Probe id → track script index.
    let mut running: HashMap<u64, usize> = HashMap::new();
    let mut finished: Vec<Finished> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        for job in jobs.try_iter() {
            match job {
                ScriptJob::Track {
                    index,
                    script,
                    timeout,
                } => {
                    next_id += 1;
                    running.insert(next_id, index);
                    prober.start(
                        next_id,
                        Probe {
                            timeout,
                            kind: ProbeKind::Misc {
                                script,
                                dynamic: false,
                            },
                        },
                    );
                }
                ScriptJob::Notify(script) => prober.run_script(&script, NOTIFY_TIMEOUT),
            }
        }
        for reason in prober.take_script_errors() {
            tracing::warn!("vrrp: notify script: {reason}");
        }
        if prober
            .poll(Some(Duration::from_millis(200)), &mut finished)
            .is_err()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        for f in finished.drain(..) {
            if let Some(index) = running.remove(&f.id) {
                let ok = matches!(f.outcome, Outcome::Pass { .. });
                if let Outcome::Fail { reason } = &f.outcome {
                    tracing::info!("vrrp: track script {index} failed: {reason}");
                }
                let _ = results.send((index, ok));
            }
        }
    }
    prober.shutdown();
}
