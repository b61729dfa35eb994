//! xvs-conn: the director's connection table — fixed capacity, sharded per
//! worker with one writer each, lock-free lookups from every worker — and
//! the IPVS TCP state machine with its timeouts and active/inactive
//! accounting.
//!
//! Layer: conn (DESIGN.md). Sans-IO: every call takes `now_secs` (the
//! caller's monotonic clock in whole seconds, as IPVS keeps timeouts); there
//! are no threads, clocks or sockets here, and no `unsafe`: concurrency is
//! built from atomics only.
//!
//! How a worker uses it, per packet:
//! 1. [`ConnTable::lookup_in`] (client → VIP) or [`ConnTable::lookup_out`]
//!    (NAT/FullNAT reply) finds the entry in any shard.
//! 2. New flow: schedule, then [`ConnTable::insert`] into its own shard
//!    (state NONE, 3 s), then [`ConnTable::tcp_transition`] for the SYN.
//! 3. TCP: [`ConnTable::tcp_transition`] on every segment (re-arms the idle
//!    timer, tells the caller when the entry became active/inactive); UDP:
//!    [`ConnTable::touch`].
//! 4. Connection sync (backup): [`ConnTable::resync`] updates an entry
//!    the master reported again (flags, state, timeout, timer).
//! 5. Once per loop: [`ConnTable::expire_step`] with a small budget frees
//!    expired entries of the worker's own shard and reports each one so the
//!    real server's counters can be unbound.
//! 6. An insert that fails with `Full`: [`ConnTable::make_room`] frees one
//!    half-open or closing entry of the worker's shard (reported the same
//!    way), and the insert is tried once more.
//!
//! Module map: [`tcp_state`] (transition tables), [`flags`] (IPVS flag
//! values), `entry` (ids and records), `table`/`update` (the API), `store`,
//! `index` and `slot` (the lock-free storage), `hash` (keyed key hash).

pub mod flags;
pub mod tcp_state;

mod conn4;
mod entry;
mod evict;
mod hash;
mod index;
mod slot;
mod store;
mod table;
mod update;

pub use conn4::{Conn4, Prefetch4};
pub use entry::{ConnEntry, ConnId, InsertError, NewConn, TableConfig, TableError, Transition};
pub use evict::Eviction;
pub use flags::ConnFlags;
pub use table::ConnTable;
pub use tcp_state::{ConnState, Direction, INITIAL_TIMEOUT_SECS};
pub use update::{opened_tcp, CONTROLLER_REARM_SECS};

#[cfg(test)]
mod tests_evict;
#[cfg(test)]
mod tests_fixtures;
#[cfg(test)]
mod tests_model;
#[cfg(test)]
mod tests_resync;
#[cfg(test)]
mod tests_table;
#[cfg(test)]
mod tests_threads;
