//! xvs-dataplane: the sans-IO per-packet pipeline. A [`Worker`] takes one
//! received Ethernet frame, the published [`Plan`] and `now`, rewrites the
//! frame in place and returns a [`Verdict`]: forward on an interface, wait
//! for a neighbour, hand to the control thread, give back to the kernel, or
//! drop with a counted reason. DR, NAT, TUN (IPIP) and FullNAT, IPv4 and
//! IPv6, TCP and UDP, with ICMP errors translated as IPVS does. For
//! connection sync, a worker reports the entries to send and installs the
//! ones received through a [`SyncLink`] shared with the control thread.
//!
//! Layer: dataplane (depends on wire, config, sched, conn). No sockets,
//! threads or clocks: the AF_XDP driver feeds it.

mod counters;
mod extra_tx;
mod fast;
mod fragment_path;
mod fragments;
mod frame_buf;
mod icmp;
mod inbound;
mod outbound;
mod plan;
mod pressure;
mod route;
mod sync_install;
mod sync_link;
mod synproxy;
mod verdict;
mod worker;
mod xmit;

pub use counters::{Stats, StatsTotals, WorkerCounters, EVICTION_REASONS};
pub use frame_buf::FrameBuf;
pub use plan::{
    DestRegistry, DestShared, NextHop, Plan, PlanDest, PlanError, PlanPool, PlanService,
    ServiceShared,
};
pub use route::{route, source_address, Egress, NeighborTable, Neighbors, StaticNeighbors};
pub use sync_install::HOUSEKEEPING_INSTALL_BUDGET;
pub use sync_link::{syncs_tcp_state, Install, InstallFailure, SyncLink, WorkerSync};
pub use synproxy::{SynProxy, PROXY_WINDOW_SCALE};
pub use verdict::{DropReason, Punt, Verdict};
pub use worker::Worker;
