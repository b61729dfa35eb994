//! xvs-bench: fixtures for the criterion benches that measure the
//! per-packet cost of the pure pipeline (`Worker::process`), and the
//! helpers behind the `conn-memory` and `bench-report` binaries.
//!
//! Every bench drives one [`Rig`]: a compiled plan, a neighbour map, a
//! connection table and one worker, plus preallocated packet buffers.
//! Frames are processed in receive bursts as the worker loop does
//! ([`Rig::transmit_burst`]): each is copied into its buffer at a fixed
//! headroom (the pipeline rewrites frames in place, TUN even grows them at
//! the front), the burst's lookups are started, and each is processed;
//! nothing is allocated inside the timed loop. The copy is measured on its
//! own ([`Rig::copy_burst`]) so it can be subtracted. The scenarios — an established flow per method and
//! direction ([`established`]), a new flow per scheduler ([`new_flow`]),
//! a table with 1 K or 1 M live connections ([`populated`]), and a stream
//! of short connections with connection sync off and on, its events
//! consumed by the sync sender ([`sync_cost`]) — are
//! built here, outside the timed code, and are unit-tested so that a bench
//! cannot silently measure a drop path instead of a forward.
//!
//! Layer: benchmarks (depends on dataplane, conn, config, testkit, sync). Not
//! part of the director.

pub mod established;
pub mod flows;
pub mod neighbors;
pub mod new_flow;
pub mod populated;
pub mod report;
pub mod rig;
pub mod sync_cost;

pub use established::{established, Established, Path};
pub use neighbors::FastNeighbors;
pub use new_flow::{new_flows, scheduler_yaml, NewFlows, FLOWS_PER_ROUND, NEW_FLOW_REAL_SERVERS};
pub use populated::{populated, populated_hot, Populated, HOT_FLOWS, POPULATED_CAPACITY};
pub use rig::{Rig, SetupError};
pub use sync_cost::{sync_flows, SyncFlows, SyncMode, PACKETS_PER_FLOW};
