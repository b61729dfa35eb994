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
    /// The health checker's latest status (`xvs status`), refreshed by the
    /// health thread; `None` until its first pass.
    pub health: ArcSwapOption<Status>,
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
