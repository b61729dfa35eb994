//! What differs between two snapshots (`xvs diff`: the file's against the
//! running one), one line per difference, in a stable order: services in
//! the first snapshot's order (removed, or their changed keys and real
//! servers), then services only the second has; then the other sections,
//! which runtime changes never touch (a difference there means the file
//! was edited since it was loaded).
//!
//! Lines start with `+` (only in the running configuration), `-` (only in
//! the file) or `~` (in both, changed: `old -> new`).

use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Duration;

use super::ServiceRef;
use crate::health::{HealthCheck, SorryServer};
use crate::{ForwardMethod, Persistence, RealServer, SchedFlags, Snapshot, VirtualService};

/// What differs between the file's snapshot and the running one; empty
/// when nothing does. Versions and runtime state (`standby`) are ignored.
pub fn diff(file: &Snapshot, running: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let in_running = |id: ServiceRef| running.services.iter().find(|s| ServiceRef::of(s) == id);
    for old in &file.services {
        let id = ServiceRef::of(old);
        match in_running(id) {
            None => out.push(format!("- service {id} ({})", summary(old))),
            Some(new) => service_changes(id, (old, file), (new, running), &mut out),
        }
    }
    for new in &running.services {
        let id = ServiceRef::of(new);
        if !file.services.iter().any(|s| ServiceRef::of(s) == id) {
            out.push(format!("+ service {id} ({})", summary(new)));
            for rs in &new.real_servers {
                out.push(format!("+ {} ({})", server_name(rs, id), rs_summary(rs)));
            }
        }
    }
    let sections: [(&str, bool); 8] = [
        ("global", file.global != running.global),
        ("interfaces", file.interfaces != running.interfaces),
        ("local_pools", file.local_pools != running.local_pools),
        ("vrrp", file.vrrp != running.vrrp),
        ("vrrp_scripts", file.vrrp_scripts != running.vrrp_scripts),
        (
            "vrrp_sync_groups",
            file.vrrp_sync_groups != running.vrrp_sync_groups,
        ),
        ("sync", file.sync != running.sync),
        ("announce", file.announce != running.announce),
    ];
    for (section, differs) in sections {
        if differs {
            out.push(format!("~ {section}: changed (reload to apply the file's)"));
        }
    }
    out
}

/// `rr, nat`: what `+ service` and `- service` show.
fn summary(svc: &VirtualService) -> String {
    format!("{}, {}", svc.scheduler, method(svc.method))
}

fn rs_summary(rs: &RealServer) -> String {
    format!("weight {}, {}", rs.weight, method(rs.method))
}

fn server_name(rs: &RealServer, id: ServiceRef) -> String {
    format!(
        "real server {} of {id}",
        SocketAddr::new(rs.address, rs.port)
    )
}

/// The word the file uses (`method: nat`).
fn method(m: ForwardMethod) -> &'static str {
    match m {
        ForwardMethod::Dr => "dr",
        ForwardMethod::Nat => "nat",
        ForwardMethod::Tun => "tun",
        ForwardMethod::FullNat => "fullnat",
    }
}

/// One `~ {what}: {key} {old} -> {new}` line when the values differ.
fn field<T: PartialEq + Display>(out: &mut Vec<String>, what: &str, key: &str, old: T, new: T) {
    if old != new {
        out.push(format!("~ {what}: {key} {old} -> {new}"));
    }
}

/// A `~ {what}: {key} changed` line for values with no short rendering.
fn changed<T: PartialEq>(out: &mut Vec<String>, what: &str, key: &str, old: &T, new: &T) {
    if old != new {
        out.push(format!("~ {what}: {key} changed"));
    }
}

fn service_changes(
    id: ServiceRef,
    (old, file): (&VirtualService, &Snapshot),
    (new, running): (&VirtualService, &Snapshot),
    out: &mut Vec<String>,
) {
    let what = format!("service {id}");
    let what = what.as_str();
    field(out, what, "name", &old.name, &new.name);
    field(out, what, "scheduler", old.scheduler, new.scheduler);
    field(
        out,
        what,
        "flags",
        flags(old.sched_flags),
        flags(new.sched_flags),
    );
    field(
        out,
        what,
        "mh_table_size",
        old.mh_table_size,
        new.mh_table_size,
    );
    field(out, what, "method", method(old.method), method(new.method));
    field(
        out,
        what,
        "persistence",
        persistence(old.persistence),
        persistence(new.persistence),
    );
    field(out, what, "ops", old.ops, new.ops);
    field(out, what, "synproxy", old.synproxy, new.synproxy);
    let pool = |snap: &Snapshot, index: Option<usize>| {
        index
            .and_then(|i| snap.local_pools.get(i))
            .map_or_else(|| "none".to_string(), |p| p.name.clone())
    };
    field(
        out,
        what,
        "local_pool",
        pool(file, old.local_pool),
        pool(running, new.local_pool),
    );
    let (h, n) = (&old.health, &new.health);
    field(out, what, "quorum", h.quorum, n.quorum);
    field(out, what, "hysteresis", h.hysteresis, n.hysteresis);
    changed(out, what, "quorum_up", &h.quorum_up, &n.quorum_up);
    changed(out, what, "quorum_down", &h.quorum_down, &n.quorum_down);
    field(
        out,
        what,
        "sorry_server",
        sorry(h.sorry_server.as_ref()),
        sorry(n.sorry_server.as_ref()),
    );
    field(
        out,
        what,
        "sorry_server_inhibit",
        h.sorry_server_inhibit,
        n.sorry_server_inhibit,
    );
    field(out, what, "omega", h.omega, n.omega);
    field(out, what, "ha_suspend", h.ha_suspend, n.ha_suspend);

    let key = |rs: &RealServer| (rs.address, rs.port);
    for rs in &old.real_servers {
        match new.real_servers.iter().find(|r| key(r) == key(rs)) {
            None => out.push(format!("- {}", server_name(rs, id))),
            Some(now) => server_changes(&server_name(rs, id), rs, now, out),
        }
    }
    for rs in &new.real_servers {
        if !old.real_servers.iter().any(|r| key(r) == key(rs)) {
            out.push(format!("+ {} ({})", server_name(rs, id), rs_summary(rs)));
        }
    }
    // Schedulers break ties in list order (rr starts at the first), so an
    // order change is a difference even with the same servers.
    let common = |a: &VirtualService, b: &VirtualService| -> Vec<(std::net::IpAddr, u16)> {
        a.real_servers
            .iter()
            .map(key)
            .filter(|k| b.real_servers.iter().any(|r| key(r) == *k))
            .collect()
    };
    if common(old, new) != common(new, old) {
        out.push(format!("~ {what}: real server order changed"));
    }
}

fn server_changes(what: &str, old: &RealServer, new: &RealServer, out: &mut Vec<String>) {
    field(out, what, "weight", old.weight, new.weight);
    field(
        out,
        what,
        "upper_threshold",
        old.upper_threshold,
        new.upper_threshold,
    );
    field(
        out,
        what,
        "lower_threshold",
        old.lower_threshold,
        new.lower_threshold,
    );
    field(out, what, "method", method(old.method), method(new.method));
    field(out, what, "mac", mac(old.mac), mac(new.mac));
    let (a, b) = (checkers(&old.checkers), checkers(&new.checkers));
    if a != b {
        out.push(format!("~ {what}: health {a} -> {b}"));
    } else {
        changed(out, what, "health", &old.checkers, &new.checkers);
    }
    let (h, n) = (&old.health, &new.health);
    field(
        out,
        what,
        "inhibit_on_failure",
        h.inhibit_on_failure,
        n.inhibit_on_failure,
    );
    changed(out, what, "notify_up", &h.notify_up, &n.notify_up);
    changed(out, what, "notify_down", &h.notify_down, &n.notify_down);
    field(
        out,
        what,
        "slowstart",
        seconds(h.slowstart),
        seconds(n.slowstart),
    );
}

fn flags(f: SchedFlags) -> String {
    let mut words = Vec::new();
    if f.fallback {
        words.push("fallback");
    }
    if f.port {
        words.push("port");
    }
    if words.is_empty() {
        "none".into()
    } else {
        words.join(",")
    }
}

/// `off` or `300s/24` (timeout, client prefix).
fn persistence(p: Option<Persistence>) -> String {
    p.map_or_else(
        || "off".into(),
        |p| format!("{}s/{}", p.timeout.as_secs(), p.prefix),
    )
}

fn sorry(s: Option<&SorryServer>) -> String {
    s.map_or_else(
        || "none".into(),
        |s| {
            format!(
                "{} ({}, weight {})",
                SocketAddr::new(s.address, s.port),
                method(s.method),
                s.weight
            )
        },
    )
}

fn mac(m: Option<[u8; 6]>) -> String {
    m.map_or_else(
        || "none".into(),
        |m| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        },
    )
}

/// The checkers' types (`http,tcp`), `none` for none.
fn checkers(list: &[HealthCheck]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    let names: Vec<&str> = list.iter().map(HealthCheck::type_name).collect();
    names.join(",")
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or_else(|| "off".into(), |d| format!("{}s", d.as_secs_f64()))
}
