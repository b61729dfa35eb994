//! Turns the deserialized file ([`crate::raw`]) into a [`Snapshot`]:
//! applies the ipvsadm/keepalived defaults and rejects every combination
//! IPVS or keepalived would reject (or would silently ignore), each error
//! pointing at the offending key through the [`KeyIndex`].
//!
//! One module per section: `global` (global, interfaces, local pools),
//! `service` (virtual services and real servers), `health`, `vrrp`
//! (instances), `vrrp_track` (vrrp_scripts and what instances track),
//! `vrrp_sync` (sync groups), `conn_sync` (connection sync); `conflicts`
//! checks what the sections say about each other (workers against queues,
//! one address in two roles).

mod announce;
mod conflicts;
mod conn_sync;
mod global;
mod health;
mod quorum;
mod script;
mod service;
mod vrrp;
mod vrrp_sync;
mod vrrp_track;

use crate::error::{ConfigError, ErrorStage};
use crate::marks::KeyIndex;
use crate::model::Snapshot;
use crate::raw::RawConfig;

pub(crate) type Result<T> = std::result::Result<T, ConfigError>;

/// What every check needs to report an error: the origin to print and the
/// index that turns a key path into line:col.
pub(crate) struct Ctx<'a> {
    pub origin: &'a str,
    pub index: &'a KeyIndex,
}

impl Ctx<'_> {
    /// A semantic error about the value at `key`.
    pub fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        let key = key.into();
        ConfigError::Invalid {
            origin: self.origin.to_string(),
            location: self.index.locate(&key),
            key,
            message: message.into(),
            stage: ErrorStage::Semantic,
        }
    }
}

/// Validate `raw` and build the snapshot (version 0: the control thread
/// numbers what it publishes).
pub(crate) fn resolve(raw: &RawConfig, ctx: &Ctx<'_>) -> Result<Snapshot> {
    let global = global::resolve_global(&raw.global, ctx)?;
    let interfaces = global::resolve_interfaces(&raw.interfaces, ctx)?;
    conflicts::check_queues(&raw.interfaces, &global, &interfaces, ctx)?;
    let local_pools = global::resolve_pools(&raw.local_pools, &global, ctx)?;
    let services = service::resolve_services(&raw.services, &local_pools, &interfaces, ctx)?;
    conflicts::check_addresses(&interfaces, &local_pools, &services, ctx)?;
    quorum::check_bindto(&services, &local_pools, ctx)?;
    let vrrp_scripts = vrrp_track::resolve_vrrp_scripts(&raw.vrrp_scripts, ctx)?;
    let vrrp = vrrp::resolve_vrrp(&raw.vrrp, &interfaces, &vrrp_scripts, ctx)?;
    let vrrp_sync_groups = vrrp_sync::resolve_sync_groups(
        &raw.vrrp_sync_groups,
        &raw.vrrp,
        &vrrp,
        &vrrp_scripts,
        ctx,
    )?;
    let sync = raw
        .sync
        .as_ref()
        .map(|s| conn_sync::resolve_sync(s, &interfaces, ctx))
        .transpose()?;
    let announce = match &raw.announce {
        Some(a) => announce::resolve_announce(a, &services, ctx)?,
        None => None,
    };
    Ok(Snapshot {
        version: 0,
        global,
        interfaces,
        services,
        local_pools,
        vrrp,
        vrrp_scripts,
        vrrp_sync_groups,
        sync,
        announce,
        // Runtime state: no key of the file sets it.
        standby: Vec::new(),
    })
}

/// Duration from operator-written seconds (may be fractional).
pub(crate) fn seconds(
    value: f64,
    key: &str,
    allow_zero: bool,
    ctx: &Ctx<'_>,
) -> Result<std::time::Duration> {
    let ok = value.is_finite() && (value > 0.0 || (allow_zero && value == 0.0));
    if !ok {
        let want = if allow_zero {
            "zero or more"
        } else {
            "more than zero"
        };
        return Err(ctx.err(key, format!("must be {want} seconds, got {value}")));
    }
    std::time::Duration::try_from_secs_f64(value)
        .map_err(|_| ctx.err(key, format!("{value} seconds is too long")))
}
