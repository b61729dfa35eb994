//! The VRRP part of `xvs status` as text: one block per instance with its
//! state, priorities, the master, the last transition and why, and the
//! advert counters (rejections by reason when there are any).
//!
//! Layer: runtime (presentation of [`xvs_vrrp::InstanceStatus`]).

use std::fmt::Write;

use xvs_vrrp::{InstanceStatus, Reason};

pub fn render_text(instances: &[InstanceStatus]) -> String {
    let mut out = String::from("VRRP\n");
    for i in instances {
        let _ = writeln!(
            out,
            "  {} ({} vrid {} v{}): {}  priority {} (base {})  interval {} ms",
            i.name,
            i.interface,
            i.vrid,
            i.version,
            i.state.name().to_uppercase(),
            i.effective_priority,
            i.base_priority,
            i.advert_interval_ms
        );
        let addrs: Vec<String> = i
            .virtual_addresses
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(out, "    addresses: {}", addrs.join(", "));
        match (i.master, i.master_priority) {
            (Some(m), Some(p)) => {
                let _ = writeln!(out, "    master: {m} (priority {p})");
            }
            (Some(m), None) => {
                let _ = writeln!(out, "    master: {m}");
            }
            _ => {
                let _ = writeln!(out, "    master: unknown");
            }
        }
        if let Some(g) = &i.sync_group {
            let _ = writeln!(out, "    sync group: {g}");
        }
        if !i.faults.is_empty() {
            let _ = writeln!(out, "    faults: {}", i.faults.join(", "));
        }
        if let Some(t) = &i.last_transition {
            let _ = writeln!(
                out,
                "    last transition: {} -> {}, {:.1} s ago: {}",
                t.from.name(),
                t.to.name(),
                t.ago_ms as f64 / 1000.0,
                reason_text(&t.reason)
            );
        }
        let c = &i.counters;
        let _ = writeln!(
            out,
            "    adverts: {} received, {} sent; became master {}, released {}; priority 0 received {}, sent {}; split brain seen {}",
            c.adverts_received,
            c.adverts_sent,
            c.became_master,
            c.released_master,
            c.priority_zero_received,
            c.priority_zero_sent,
            c.split_brain
        );
        let rejected: Vec<String> = c
            .rejected
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        if !rejected.is_empty() {
            let _ = writeln!(out, "    rejected: {}", rejected.join(", "));
        }
    }
    out
}

/// A transition's reason in words (also the daemon's log).
pub fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::Startup => "start-up".into(),
        Reason::MasterDown => "no advert from the master within the down interval".into(),
        Reason::MasterResigned { from } => format!("master {from} resigned (priority 0)"),
        Reason::Preempt { from, priority } => {
            format!("preempted lower-priority master {from} (priority {priority})")
        }
        Reason::HigherPriority { from, priority } => {
            format!("{from} advertises priority {priority}")
        }
        Reason::Fault { what } => format!("fault: {what}"),
        Reason::Recovered => "faults cleared".into(),
        Reason::SyncGroup { member } => format!("sync group follows {member}"),
        Reason::Shutdown => "shutting down".into(),
    }
}
