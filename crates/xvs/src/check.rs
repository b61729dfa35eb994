//! `xvs check -c FILE`: load and validate a config without touching any
//! interface, then print the resolved virtual services in `ipvsadm -Ln`
//! layout (counters 0), and the VRRP instances with every default filled
//! in, and connection sync's settings, so the operator sees what xvs
//! understood.
//! Exit status 2 on a rejected config, like ipvsadm's failures.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// Exit status for a config that cannot be used.
const EXIT_INVALID: u8 = 2;

pub fn run(path: &Path) -> ExitCode {
    match xvs_config::load_file(path) {
        Ok(snapshot) => {
            let mut text = xvs_config::ipvsadm::list(&snapshot);
            text.push_str(&synproxy_summary(&snapshot));
            text.push_str(&vrrp_summary(&snapshot));
            text.push_str(&sync_summary(&snapshot));
            // A closed stdout (e.g. `| head`) is not a config problem.
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// The services with the SYN proxy on (ipvsadm has no column for it).
fn synproxy_summary(snap: &xvs_config::Snapshot) -> String {
    let names: Vec<String> = snap
        .services
        .iter()
        .filter(|s| s.synproxy)
        .map(|s| format!("TCP {}", xvs_config::ipvsadm::addr_port(s.vip, s.port)))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("SYN proxy: {}\n", names.join(", "))
    }
}

/// One line per VRRP instance (and sync group), defaults resolved.
fn vrrp_summary(snap: &xvs_config::Snapshot) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if snap.vrrp.is_empty() {
        return out;
    }
    out.push_str("VRRP\n");
    for i in &snap.vrrp {
        let addrs: Vec<String> = i
            .virtual_addresses
            .iter()
            .map(|a| format!("{}/{}", a.addr, a.prefix))
            .collect();
        let _ = writeln!(
            out,
            "  {} {} vrid {} v{} priority {} advert {} ms{}{}{}: {}",
            i.name,
            i.interface,
            i.vrid,
            i.version,
            i.priority,
            i.advert_interval.as_millis(),
            if i.preempt { "" } else { " nopreempt" },
            if i.preempt_delay.is_zero() {
                String::new()
            } else {
                format!(" preempt_delay {} s", i.preempt_delay.as_secs_f64())
            },
            if i.unicast_peers.is_empty() {
                String::new()
            } else {
                let peers: Vec<String> = i.unicast_peers.iter().map(ToString::to_string).collect();
                format!(" unicast to {}", peers.join(", "))
            },
            addrs.join(", ")
        );
    }
    for g in &snap.vrrp_sync_groups {
        let members: Vec<&str> = g
            .members
            .iter()
            .filter_map(|&m| snap.vrrp.get(m).map(|i| i.name.as_str()))
            .collect();
        let _ = writeln!(out, "  sync group {}: {}", g.name, members.join(", "));
    }
    out
}

/// Connection sync's settings, defaults resolved (nothing without `sync:`).
fn sync_summary(snap: &xvs_config::Snapshot) -> String {
    let Some(s) = &snap.sync else {
        return String::new();
    };
    let peers: Vec<String> = s.peers.iter().map(ToString::to_string).collect();
    format!(
        "Connection sync{}\n  {} port {} syncid {} from {} to {}; refresh {} s, sweep every {} ms, {}\n",
        match s.mode {
            xvs_config::SyncMode::MasterBackup => String::new(),
            m => format!(" ({})", m.name()),
        },
        s.interface,
        s.port,
        s.sync_id,
        s.source,
        match s.group {
            Some(g) => format!("group {g} (peers {})", peers.join(", ")),
            None => peers.join(", "),
        },
        s.refresh.as_secs_f64(),
        s.sweep_interval.as_millis(),
        if s.bulk {
            format!(
                "bulk transfer before preempting ({} x {} s)",
                s.bulk_attempts,
                s.bulk_timeout.as_secs_f64()
            )
        } else {
            "no bulk transfer".to_string()
        }
    )
}
