//! State shared between the control thread and the workers: the published
//! plan and neighbour table (RCU via arc-swap: workers load once per batch,
//! the control thread is the only writer), the health checker's status, the
//! stop flag, and the messages workers send to the control thread.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::{ArcSwap, ArcSwapOption};
use xvs_dataplane::{NeighborTable, Plan, WorkerCounters};
use xvs_health::Status;

/// Counters of the driver loop itself (the pipeline's are in WorkerCounters).
#[derive(Debug, Default)]
pub struct DriverCounters {
    /// Frames dropped because the TX ring was full.
    pub tx_ring_full: AtomicU64,
    /// Frames that waited for a neighbour too long (or found the queue full).
    pub neighbor_timeout: AtomicU64,
    /// Punted frames dropped because the control channel was full.
    pub punt_dropped: AtomicU64,
    /// Frames handed to the kernel's TX rings.
    pub tx_packets: AtomicU64,
    /// Descriptors from the kernel we could not map to a frame (never expected).
    pub bad_descriptors: AtomicU64,
    /// The kernel's own AF_XDP counters for this worker's sockets
    /// (XDP_STATISTICS, sampled once a second): packets dropped before
    /// xvs saw them, and why.
    pub kernel_rx_dropped: AtomicU64,
    pub kernel_fill_ring_empty: AtomicU64,
    pub kernel_rx_ring_full: AtomicU64,
}

impl DriverCounters {
    #[inline]
    pub fn add(cell: &AtomicU64, n: u64) {
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }
}

/// Everything a worker needs from the outside world.
#[derive(Debug)]
pub struct Shared {
    pub plan: ArcSwap<Plan>,
    pub neighbors: ArcSwap<NeighborTable>,
    pub stop: Arc<AtomicBool>,
    pub epoch: Instant,
    pub workers: Vec<Arc<WorkerCounters>>,
    pub drivers: Vec<Arc<DriverCounters>>,
    /// Where `xvs status` meets the health thread.
    pub health: HealthDesk,
    /// The VRRP instances as the control thread last saw them (empty: no
    /// `vrrp:` instances). Refreshed on every transition, every
    /// [`crate::control::VRRP_STATUS_EVERY_MS`], and when asked.
    pub vrrp: VrrpDesk,
    /// Connection sync as the control thread last saw it (None: no
    /// `sync:` section), refreshed every
    /// [`crate::control::VRRP_STATUS_EVERY_MS`].
    pub sync: ArcSwapOption<crate::sync::SyncStatus>,
    /// BGP announcement as the control thread last saw it (None: no
    /// `announce:` section), refreshed like `sync`.
    pub announce: ArcSwapOption<xvs_announce::Status>,
    /// Requests that change the running configuration, for the control
    /// thread (which answers each on its `reply`).
    pub calls: crossbeam::channel::Sender<ControlCall>,
    /// The steering program's counters of every interface, read when
    /// the metrics are rendered.
    pub steering: Vec<xvs_xdp::SteerCounterReader>,
}

/// What the API asks of the control thread.
#[derive(Debug)]
pub enum ControlRequest {
    /// Load the configuration file again (`xvs reload`, SIGHUP). Replaces
    /// every runtime change, and says so.
    Reload,
    /// A runtime change (`xvs service …`, `xvs real-server …`).
    Change(xvs_config::edit::Change),
    /// The running configuration as YAML that `xvs check` accepts.
    Save,
    /// What the running configuration changes from the file, one line each.
    Diff,
    /// `xvs drain` (true) / `xvs undrain` (false): withdraw every VIP
    /// from the routers while forwarding on, or announce them again.
    Drain(bool),
}

/// A request and where its answer goes: `Ok(text)` on success (a summary,
/// the YAML, the diff), `Err(message)` when refused (a rejected file with
/// its file:line:col, a change that does not validate, one that needs a
/// restart).
#[derive(Debug)]
pub struct ControlCall {
    pub request: ControlRequest,
    pub reply: crossbeam::channel::Sender<Result<String, String>>,
}

/// Where the API thread asks the control thread for a fresh VRRP status:
/// the control loop, which wakes at least every 5 ms, answers.
#[derive(Debug, Default)]
pub struct VrrpDesk {
    status: ArcSwapOption<VrrpStatus>,
    asked: AtomicU64,
    answered: AtomicU64,
}

impl VrrpDesk {
    /// Requests not answered yet.
    pub fn pending(&self) -> bool {
        self.asked.load(Ordering::Acquire) > self.answered.load(Ordering::Acquire)
    }

    /// Store a status; it answers every request made before.
    pub fn post(&self, status: Arc<VrrpStatus>) {
        let asked = self.asked.load(Ordering::Acquire);
        self.status.store(Some(status));
        self.answered.store(asked, Ordering::Release);
    }

    /// A status taken after this call (or the last one, after `wait`);
    /// None when VRRP does not run.
    pub fn ask(&self, wait: std::time::Duration) -> Option<Arc<VrrpStatus>> {
        self.status.load_full()?;
        let n = self.asked.fetch_add(1, Ordering::AcqRel) + 1;
        let deadline = Instant::now() + wait;
        while self.answered.load(Ordering::Acquire) < n && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.status.load_full()
    }
}

/// VRRP instances for `xvs status`, taken at `at_ms` (since the epoch).
#[derive(Debug, Clone)]
pub struct VrrpStatus {
    pub at_ms: u64,
    pub instances: Vec<xvs_vrrp::InstanceStatus>,
}

/// `xvs status` on demand: building the status costs an allocation per
/// real server, so the health thread builds it when asked (and when a
/// transition changes it), not on every check. The API thread asks
/// ([`HealthDesk::ask`]), wakes the health thread and waits until a status
/// at least that new is posted.
#[derive(Debug, Default)]
pub struct HealthDesk {
    status: ArcSwapOption<Status>,
    asked: AtomicU64,
    answered: AtomicU64,
    waker: ArcSwapOption<mio::Waker>,
}

impl HealthDesk {
    /// The health thread: how to wake it.
    pub fn set_waker(&self, waker: Arc<mio::Waker>) {
        self.waker.store(Some(waker));
    }

    /// The health thread: the number of the newest request.
    pub fn asked(&self) -> u64 {
        self.asked.load(Ordering::Acquire)
    }

    /// The health thread: a status answering requests up to `asked`.
    pub fn post(&self, status: Arc<Status>, asked: u64) {
        self.status.store(Some(status));
        self.answered.store(asked, Ordering::Release);
    }

    /// A fresh status (at most `wait` old news if the health thread is
    /// busy); `None` before the first.
    pub fn ask(&self, wait: std::time::Duration) -> Option<Arc<Status>> {
        let n = self.asked.fetch_add(1, Ordering::AcqRel) + 1;
        if let Some(w) = self.waker.load_full() {
            let _ = w.wake();
            let deadline = Instant::now() + wait;
            while self.answered.load(Ordering::Acquire) < n && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        self.status.load_full()
    }
}

impl Shared {
    /// Seconds since start (the connection table's clock).
    #[inline]
    pub fn now_secs(&self) -> u32 {
        self.epoch.elapsed().as_secs() as u32
    }

    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// Worker → control thread.
#[derive(Debug)]
pub enum ControlMsg {
    /// A frame for the control thread (ARP/ND for our addresses, ping to a VIP, VRRP).
    Punt { iface: usize, frame: Vec<u8> },
    /// Please resolve `ip` on `iface`.
    Resolve { iface: usize, ip: IpAddr },
}
