//! xvs configuration layer: the YAML model operators write, its validation
//! (every error names file:line:col and the key), and the immutable,
//! versioned [`Snapshot`] the control thread publishes to the workers.
//!
//! Layer: config (depends on nothing but serde). See DESIGN.md.

pub mod model;
pub mod types;

pub use model::*;
pub use types::*;
