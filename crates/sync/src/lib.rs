//! xvs-sync: connection sync between directors — the IPVS sync protocol
//! v1 (REFERENCE §9, `ip_vs_sync.c`) plus xvs's FullNAT and worker
//! options and a bulk transfer of the whole table — as sans-IO state
//! machines.
//!
//! No sockets, threads or clocks: the driver (the runtime's control
//! thread) passes the control clock as an [`std::time::Instant`] and the
//! connection table's clock as `u32` seconds (inside the entries'
//! `expires_at`), sends what [`Sender::poll_transmit`] yields, feeds
//! received datagrams to [`Receiver::handle`] and installs the
//! [`Synced`] entries it returns. Tests drive everything with a virtual
//! clock.
//!
//! Layer: control plane, sans-IO (depends on the wire codec, the
//! connection table's types and the config). Modules: `synced` (the
//! entry and the backup's checks), `policy` (what is sent when),
//! `mode` (what is sent and installed per `sync.mode`), `sender`
//! (packing and pacing), `receiver` (filtering and counting),
//! `bulk` (asking a peer for its table). README.md describes the
//! protocol as xvs speaks it.

mod bulk;
pub mod mode;
pub mod policy;
mod receiver;
mod sender;
mod synced;

pub use bulk::{Bulk, BulkConfig, BulkState};
pub use mode::Origin;
pub use policy::{syncable, DueReason, Tracker};
pub use receiver::{Received, Receiver, ReceiverConfig, RecvCounters, DROP_REASONS};
pub use sender::{Sender, SenderConfig, SenderStats, QUEUE_MAX};
pub use synced::{Invalid, Synced, MAX_TIMEOUT_SECS, TCP, UDP};
