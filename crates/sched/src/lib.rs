//! xvs-sched: the IPVS schedulers with kernel semantics, down to tie-breaking
//! and list order (REFERENCE.md §1, §2), split into immutable per-service
//! tables and per-worker mutable state.
//!
//! Layer: sched (depends on config only). Sans-IO: the only inputs are the
//! real-server list, a [`SchedKey`] taken from the packet, the load counters
//! and `now`; no clocks, sockets or threads.
//!
//! * [`ServiceScheduler`] is built once per service per snapshot by the
//!   control side: it holds what IPVS builds in its add/del/edit hooks
//!   (the dh/sh bucket tables, the Maglev lookup table of mh, wrr's gcd and
//!   maximum weight). It is immutable and shared by all workers.
//! * [`SchedState`] is one worker's mutable part: rr and wrr cursors, the
//!   lblc/lblcr caches and twos' random generator. Each worker schedules
//!   with its own state, so there is no cross-core write to pick a real
//!   server (DESIGN.md); with N workers an rr service therefore runs N
//!   interleaved round-robins, one per core.
//! * [`DestLoad`] is the one shared, written-by-all part: connection counts
//!   and the overload flag of a real server (see the `load` module).
//!
//! **List order.** IPVS inserts new destinations at the head of the service
//! list, so its schedulers walk newest-first (keepalived's config order
//! reversed). xvs's list order is the config order: `dests` is the service's
//! real servers in the order the operator wrote them, every scheduler walks
//! it front to back, and ties go to the earlier entry. `ipvsadm -A ... -a A
//! -a B -a C` behaves here like a config listing C, B, A.

mod carry;
mod common;
mod dh;
mod fo;
mod lbl_gc;
mod lblc;
mod lblcr;
mod lc;
pub mod load;
mod mh;
mod nq;
mod ovf;
mod rng;
mod rr;
mod scheduler;
mod sed;
mod sh;
mod siphash;
mod twos;
mod wlc;
mod wrr;

use std::net::IpAddr;
use std::sync::Arc;

pub use load::{DestLoad, Thresholds};
pub use mh::{MH_DEFAULT_TABLE_SIZE, MH_MAX_TABLE_SIZE};
pub use scheduler::{SchedState, ServiceScheduler};

/// One real server as a scheduler sees it (built by the data plane per
/// snapshot, in list order).
#[derive(Clone, Debug)]
pub struct SchedDest {
    /// RIP.
    pub addr: IpAddr,
    /// Real-server port (mh hashes it with the address).
    pub port: u16,
    /// Current weight; 0 quiesces the real server.
    pub weight: u32,
    /// IPVS `last_weight`: the weight at add time, then the last non-zero
    /// weight (mh sizes its slots with it so quiesced servers keep theirs).
    pub last_weight: u32,
    /// False once the real server is deleted (IPVS clears `F_AVAILABLE` and
    /// unlinks it from the service list). Schedulers treat such an entry as
    /// absent from the list; it may stay in `dests` so that indices held by
    /// connection entries stay valid.
    pub available: bool,
    /// Shared connection counters and overload flag.
    pub load: Arc<DestLoad>,
}

/// What a scheduler may hash on: fields of the packet that opens the
/// connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchedKey {
    /// IP protocol number (6 TCP, 17 UDP, 132 SCTP, ...).
    pub protocol: u8,
    /// Client address (CIP): sh and mh hash it.
    pub src: IpAddr,
    /// Client port: sh and mh hash it with `sh-port`/`mh-port`.
    pub src_port: u16,
    /// Packet destination (usually the VIP): dh, lblc and lblcr key on it.
    pub dst: IpAddr,
}

/// Why a scheduler could not be built for a service.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    #[error(
        "mh table size {size} is not a prime number; use a prime such as 4093 (the IPVS default) or 65521"
    )]
    MhTableSizeNotPrime { size: u32 },
    #[error("mh table size {size} is out of range; use a prime between 2 and {max}")]
    MhTableSizeOutOfRange { size: u32, max: u32 },
    #[error(
        "mh table of {slots} slots cannot hold {dests} real servers; use a larger prime table size"
    )]
    MhTooManyDests { dests: usize, slots: u32 },
}
