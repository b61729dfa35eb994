//! One [`InstanceStatus`] row for `xvs status`.

use std::time::Instant;

use crate::instance::Instance;
use crate::{InstanceStatus, LastTransition, State};

pub(crate) fn row(inst: &Instance, sync_group: Option<String>, now: Instant) -> InstanceStatus {
    let (master, master_priority) = if inst.state == State::Master {
        (Some(inst.env.primary), Some(inst.effective))
    } else {
        (inst.master.map(|m| m.0), inst.master.map(|m| m.1))
    };
    InstanceStatus {
        name: inst.cfg.name.clone(),
        interface: inst.cfg.interface.clone(),
        vrid: inst.cfg.vrid,
        version: inst.cfg.version,
        state: inst.state,
        base_priority: inst.cfg.priority,
        effective_priority: inst.effective,
        master,
        master_priority,
        advert_interval_ms: u64::try_from(inst.master_adver_interval.as_millis())
            .unwrap_or(u64::MAX),
        virtual_addresses: inst.vips.clone(),
        sync_group,
        faults: inst.failing.clone(),
        last_transition: inst.last.as_ref().map(|l| LastTransition {
            ago_ms: u64::try_from(now.saturating_duration_since(l.at).as_millis())
                .unwrap_or(u64::MAX),
            from: l.from,
            to: l.to,
            reason: l.reason.clone(),
        }),
        counters: inst.tally.to_counters(),
    }
}
