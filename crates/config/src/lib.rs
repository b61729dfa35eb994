//! xvs configuration layer: the YAML model operators write, its validation
//! (every error names file:line:col and the key), the immutable, versioned
//! [`Snapshot`] the control thread publishes to the workers, and the
//! `ipvsadm -Ln` rendering of a snapshot.
//!
//! Layer: config (depends on nothing but serde and the YAML parsers). See
//! DESIGN.md. Entry points: [`load_file`] and [`load_str`].

pub mod announce;
pub mod conn_sync;
pub mod edit;
pub mod error;
pub mod health;
pub mod ipvsadm;
pub mod keepalived;
mod load;
pub mod marks;
pub mod model;
mod raw;
mod resolve;
pub mod text;
pub mod types;
pub mod vrrp;

pub use announce::Announce;
pub use conn_sync::{ConnSync, SyncMode, DEFAULT_SYNC_PORT};
pub use error::{ConfigError, ErrorStage, Location};
pub use health::*;
pub use load::{load_file, load_str};
pub use model::*;
pub use types::*;
pub use vrrp::*;
