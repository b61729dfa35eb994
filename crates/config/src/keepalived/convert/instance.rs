//! One `vrrp_instance` as an xvs `vrrp:` entry: its keys (keepalived's
//! names, xvs's where they differ), keepalived's fix-ups (nopreempt and
//! preempt_delay dropped with `state MASTER`, the trackers of a sync group
//! member at weight 0, no auth with VRRPv3, a password cut to 8 bytes),
//! the global_defs defaults it inherits, and its sync group's trackers.

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::tree::Node;
use super::super::values::{flag, int, script, timer, uint};
use super::super::yaml::{MapBuilder, Y};
use super::global::Defaults;
use super::vrrp::{unknown, GroupInfo, InstanceInfo, ScriptDefaults};
use super::Conv;

pub(super) fn instance(
    conv: &mut Conv,
    node: &Node,
    name: &str,
    defaults: &Defaults,
    scripts: &HashMap<String, ScriptDefaults>,
    group: Option<&GroupInfo>,
) -> Option<(InstanceInfo, Y)> {
    let mut map = MapBuilder::default();
    map.put("name", Y::str(name));
    let mut s = InstanceState::default();
    for child in node.children() {
        instance_key(conv, child, &mut map, &mut s, scripts, group);
    }
    // Sync group trackers apply to every member (keepalived vrrp_sync.c).
    if let Some(g) = group {
        for entry in &g.track_interfaces {
            s.track_interfaces
                .push(track_item(conv, entry, None, group));
        }
        for entry in &g.track_scripts {
            let item = track_item(conv, entry, script_defaults(scripts, entry), group);
            s.track_scripts.push(item);
        }
    }
    let Some(interface) = s.interface.clone() else {
        conv.skip(
            node,
            "xvs needs the instance's `interface` (keepalived can do without for unicast)",
        );
        return None;
    };
    let Some(vrid) = s.vrid else {
        conv.skip(
            node,
            "no virtual_router_id (keepalived refuses the instance too)",
        );
        return None;
    };
    conv.need_interface(&interface, &format!("vrrp_instance {name}"));
    let ipv6 = s.vips.first().is_some_and(|a| a.contains(':'));
    let version = s
        .version
        .or(defaults.vrrp_version)
        .unwrap_or(if ipv6 { 3 } else { 2 });
    // keepalived clears these with a warning when the instance starts as MASTER
    // or owns the addresses (vrrp.c vrrp_complete_instance).
    if let Some(state) = s.state {
        map.put("state", Y::str(state));
    }
    let master = s.state == Some("master");
    let owner = s.priority == Some(255);
    if let Some(n) = s.nopreempt.as_ref().filter(|_| master || owner) {
        conv.skip(
            n,
            "keepalived ignores nopreempt with state MASTER or priority 255",
        );
    } else if s.nopreempt.is_some() {
        map.put("preempt", Y::bool(false));
    }
    if let Some((n, delay)) = s.preempt_delay.as_ref() {
        if master {
            conv.skip(n, "keepalived ignores preempt_delay with state MASTER");
        } else if s.nopreempt.is_some() && !owner {
            conv.skip(n, "preempt_delay has no effect with nopreempt");
        } else {
            map.put("preempt_delay", Y::num(delay));
        }
    }
    if s.version.is_some() || defaults.vrrp_version.is_some() {
        map.put("version", Y::num(version));
    }
    if let Some((n, pass)) = s.auth_pass.as_ref() {
        if version == 3 {
            conv.skip(
                n,
                "VRRPv3 has no authentication (RFC 5798 §9); keepalived ignores it too",
            );
        } else {
            let cut: String = pass.chars().take(8).collect();
            if cut.len() < pass.len() {
                conv.skip(
                    n,
                    "the password is longer than 8 bytes: keepalived (and xvs) use the first 8",
                );
            }
            map.put("auth_pass", Y::Str(cut));
        }
    }
    if (s.v3_checksum_as_v2 || defaults.v3_checksum_as_v2) && version == 3 && !ipv6 {
        map.put("v3_checksum", Y::str("message_only"));
    }
    if let Some(n) = defaults.down_timer_adverts {
        if map.get("down_timer_adverts").is_none() {
            map.put("down_timer_adverts", Y::num(n));
        }
    }
    for (key, value) in &defaults.garp {
        if map.get(key).is_none() {
            map.put(key, value.clone());
        }
    }
    if map.get("garp_master_refresh").is_none()
        && map.remove("garp_master_refresh_repeat").is_some()
    {
        conv.skip(
            node,
            "garp_master_refresh_repeat without garp_master_refresh repeats nothing (keepalived ignores it too)",
        );
    }
    if let Some((n, secs)) = s.advert.as_ref() {
        map.put(
            "advert_interval",
            Y::num(advert_interval(conv, n, *secs, version)),
        );
    }
    map.put(
        "virtual_addresses",
        Y::list(s.vips.iter().map(|a| Y::str(a.clone()))),
    );
    if !s.peers.is_empty() {
        map.put(
            "unicast_peers",
            Y::list(s.peers.iter().map(|p| Y::str(p.to_string()))),
        );
    }
    if !s.track_interfaces.is_empty() {
        map.put("track_interfaces", Y::list(s.track_interfaces));
    }
    if !s.track_scripts.is_empty() {
        map.put("track_scripts", Y::list(s.track_scripts));
    }
    for (key, value) in s.notify {
        map.put(key, value);
    }
    for vip in &s.vips {
        if let Ok(addr) = vip.split('/').next().unwrap_or("").parse::<IpAddr>() {
            conv.needs.virtual_addresses.push(addr);
            conv.need_address(addr, &format!("vrrp_instance {name} virtual address"));
        }
    }
    for peer in &s.peers {
        conv.need_address(*peer, &format!("vrrp_instance {name} unicast peer"));
    }
    let info = InstanceInfo {
        vrid,
        unicast_peers: s.peers.clone(),
    };
    Some((info, order(map)))
}

/// Put the keys in the order xvs's examples use.
fn order(map: MapBuilder) -> Y {
    const FIRST: [&str; 9] = [
        "name",
        "interface",
        "state",
        "vrid",
        "priority",
        "version",
        "advert_interval",
        "preempt",
        "preempt_delay",
    ];
    let mut rest = map.0;
    let mut out = Vec::with_capacity(rest.len());
    for key in FIRST {
        if let Some(i) = rest.iter().position(|(k, _)| k == key) {
            out.push(rest.remove(i));
        }
    }
    out.extend(rest);
    Y::Map(out)
}

#[derive(Default)]
struct InstanceState {
    interface: Option<String>,
    vrid: Option<u8>,
    priority: Option<u64>,
    version: Option<u64>,
    state: Option<&'static str>,
    nopreempt: Option<Node>,
    preempt_delay: Option<(Node, f64)>,
    auth_pass: Option<(Node, String)>,
    advert: Option<(Node, f64)>,
    v3_checksum_as_v2: bool,
    vips: Vec<String>,
    peers: Vec<IpAddr>,
    track_interfaces: Vec<Y>,
    track_scripts: Vec<Y>,
    notify: Vec<(&'static str, Y)>,
}

fn instance_key(
    conv: &mut Conv,
    child: &Node,
    map: &mut MapBuilder,
    s: &mut InstanceState,
    scripts: &HashMap<String, ScriptDefaults>,
    group: Option<&GroupInfo>,
) {
    let key = child.keyword();
    match key {
        "interface" => match child.arg(0) {
            Some(i) => {
                s.interface = Some(i.to_string());
                map.put("interface", Y::str(i));
            }
            None => conv.invalid(child, "interface needs a name".into()),
        },
        "state" => match child.arg(0) {
            Some("MASTER") => s.state = Some("master"),
            Some("BACKUP") => s.state = s.state.or(Some("backup")),
            _ => conv.invalid(child, "state is MASTER or BACKUP".into()),
        },
        "virtual_router_id" => match uint(child, 0) {
            Ok(v @ 1..=255) => {
                s.vrid = u8::try_from(v).ok();
                map.put("vrid", Y::num(v));
            }
            _ => conv.invalid(child, "the VRID must be 1..255".into()),
        },
        "priority" => match uint(child, 0) {
            Ok(v @ 1..=255) => {
                s.priority = Some(v);
                map.put("priority", Y::num(v));
            }
            _ => conv.invalid(child, "the priority must be 1..255".into()),
        },
        "version" => match uint(child, 0) {
            Ok(v @ (2 | 3)) => s.version = Some(v),
            _ => conv.invalid(child, "the version is 2 or 3".into()),
        },
        "advert_int" => match timer(child) {
            Ok(v) if v > 0.0 => {
                s.advert = Some((child.clone(), v));
                // Placed now, rounded for the version at the end.
                map.put("advert_interval", Y::num(v));
            }
            _ => conv.invalid(child, "the advert interval must be a positive time".into()),
        },
        "nopreempt" => s.nopreempt = Some(child.clone()),
        "preempt" => s.nopreempt = None,
        "preempt_delay" => match timer(child) {
            Ok(v) => s.preempt_delay = Some((child.clone(), v)),
            Err(e) => conv.invalid(child, e),
        },
        "virtual_ipaddress" => {
            for entry in child.entries() {
                let Some(addr) = entry.words.first() else { continue };
                s.vips.push(addr.clone());
                if entry.words.len() > 1 {
                    conv.skip(
                        entry,
                        "address options (dev, brd, label, scope, ...): xvs answers for an instance's addresses on its interface only",
                    );
                }
            }
        }
        "unicast_peer" => {
            for entry in child.entries() {
                match entry.keyword().parse::<IpAddr>() {
                    Ok(a) => s.peers.push(a),
                    Err(_) => conv.invalid(entry, "not an IP address".into()),
                }
                if entry.words.len() > 1 {
                    conv.skip(entry, "min_ttl/max_ttl: xvs checks TTL 255 on multicast adverts only");
                }
            }
        }
        "unicast_src_ip" | "mcast_src_ip" => match child.arg(0) {
            Some(a) => {
                map.put("source_address", Y::str(a));
            }
            None => conv.invalid(child, "the address is missing".into()),
        },
        "authentication" => {
            for entry in child.children() {
                match (entry.keyword(), entry.arg(0)) {
                    ("auth_type", Some("PASS")) => {}
                    ("auth_type", _) => conv.skip(entry, "xvs has no IPsec AH authentication (only PASS)"),
                    ("auth_pass", Some(p)) => s.auth_pass = Some((entry.clone(), p.to_string())),
                    _ => conv.skip(entry, unknown(entry.keyword())),
                }
            }
        }
        "track_interface" => {
            for entry in child.entries() {
                s.track_interfaces.push(track_item(conv, entry, None, group));
            }
        }
        "track_script" => {
            for entry in child.entries() {
                let defaults = script_defaults(scripts, entry);
                s.track_scripts.push(track_item(conv, entry, defaults, group));
            }
        }
        "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
            match script(child, conv.script_user.as_deref()) {
                Ok(y) => s.notify.push((notify_key(key), y)),
                Err(e) => conv.invalid(child, e),
            }
        }
        "garp_master_delay" | "garp_master_refresh" => match timer(child) {
            Ok(v) => {
                map.put(key, Y::num(v));
            }
            Err(e) => conv.invalid(child, e),
        },
        "garp_master_repeat" | "garp_master_refresh_repeat" | "down_timer_adverts" => {
            match uint(child, 0) {
                Ok(v) => {
                    map.put(key, Y::num(v));
                }
                Err(e) => conv.invalid(child, e),
            }
        }
        "use_vmac" => {
            map.put("use_vmac", Y::bool(true));
            if !child.args().is_empty() {
                conv.skip(child, "use_vmac options: xvs answers with the virtual MAC itself, no macvlan interface");
            }
        }
        "accept" => {
            map.put("accept", Y::bool(true));
        }
        "no_accept" => {
            map.put("accept", Y::bool(false));
        }
        "v3_checksum_as_v2" => match flag(child) {
            Ok(v) => s.v3_checksum_as_v2 = v,
            Err(e) => conv.invalid(child, e),
        },
        "virtual_ipaddress_excluded" => conv.skip(
            child,
            "xvs advertises every virtual address; put them in virtual_ipaddress (a keepalived peer logs the count difference, and still accepts the adverts)",
        ),
        "smtp_alert" => conv.skip(child, "xvs sends no e-mail; notify scripts can"),
        "lvs_sync_daemon_interface" => conv.skip(
            child,
            "deprecated in keepalived; use global_defs lvs_sync_daemon (carried as `sync:` when the peers are known)",
        ),
        "notify_deleted" | "notify_master_rx_lower_pri" | "notify_priority_changes" => {
            conv.skip(child, "xvs runs notify scripts on state changes only")
        }
        other => conv.skip(child, instance_reason(other)),
    }
}

fn notify_key(key: &str) -> &'static str {
    match key {
        "notify_master" => "notify_master",
        "notify_backup" => "notify_backup",
        "notify_fault" => "notify_fault",
        "notify_stop" => "notify_stop",
        _ => "notify",
    }
}

fn instance_reason(key: &str) -> String {
    match key {
        "dont_track_primary" => "xvs always tracks the instance's interface".into(),
        "strict_mode" => "xvs has no strict mode".into(),
        "skip_check_adv_addr" | "check_unicast_src" => {
            "xvs checks adverts as keepalived does by default".into()
        }
        "debug" | "kernel_rx_buf_size" | "linkbeat_use_polling" => {
            "keepalived process tuning; not needed by xvs".into()
        }
        "track_file" | "track_process" | "track_bfd" => {
            "xvs tracks interfaces and scripts only; a vrrp_script can check the file or process"
                .into()
        }
        "virtual_routes" | "virtual_rules" => "xvs does not manage kernel routes or rules".into(),
        k if k.starts_with("garp_") => "xvs has no equivalent GARP option".into(),
        other => unknown(other),
    }
}

fn script_defaults(
    scripts: &HashMap<String, ScriptDefaults>,
    entry: &Node,
) -> Option<ScriptDefaults> {
    Some(scripts.get(entry.keyword()).copied().unwrap_or_default())
}

/// One `track_interface` / `track_script` entry: `NAME [weight W
/// [reverse|noreverse]]`. `script` is the vrrp_script's own default (for
/// scripts; None for interfaces). In a sync group without
/// `sync_group_tracking_weight` keepalived uses weight 0.
fn track_item(
    conv: &mut Conv,
    entry: &Node,
    script: Option<ScriptDefaults>,
    group: Option<&GroupInfo>,
) -> Y {
    let name = entry.keyword().to_string();
    let mut weight = script.map_or(0, |s| s.weight);
    let mut reverse = script.is_some_and(|s| s.reverse);
    if entry.arg(0) == Some("weight") {
        match int(entry, 1) {
            Ok(w) => weight = w.clamp(-253, 253),
            Err(e) => conv.invalid(entry, e),
        }
        match entry.arg(2) {
            Some("reverse") => reverse = true,
            Some("noreverse") => reverse = false,
            _ => {}
        }
    } else if entry.arg(0).is_some() {
        conv.invalid(entry, "expected `weight N`".into());
    }
    if weight != 0 && group.is_some_and(|g| !g.tracking_weight) {
        conv.skip(
            entry,
            format!(
                "weight {weight}: in a sync group keepalived uses weight 0 (FAULT while failing)"
            ),
        );
        weight = 0;
    }
    if script.is_none() && reverse {
        conv.skip(entry, "reverse: xvs has no reverse for tracked interfaces");
        reverse = false;
    }
    // A bare name takes the script's own weight (xvs, like keepalived);
    // xvs's `reverse` belongs to the reference only.
    if weight == script.map_or(0, |s| s.weight) && !reverse {
        return Y::Str(name);
    }
    let mut map = MapBuilder::default();
    map.put("name", Y::Str(name)).put("weight", Y::num(weight));
    if reverse {
        map.put("reverse", Y::bool(true));
    }
    Y::Map(map.0)
}

/// keepalived's rounding of the advert interval (vrrp.c
/// vrrp_complete_instance): VRRPv2 whole seconds 1..=255, VRRPv3
/// centiseconds 0.01..=40.95, each change reported.
fn advert_interval(conv: &mut Conv, node: &Node, secs: f64, version: u64) -> f64 {
    let rounded = if version == 2 {
        secs.round().clamp(1.0, 255.0)
    } else {
        ((secs * 100.0).round() / 100.0).clamp(0.01, 40.95)
    };
    if (rounded - secs).abs() > 1e-9 {
        conv.skip(
            node,
            format!("VRRPv{version} cannot carry {secs} s: keepalived (and so this file) uses {rounded} s"),
        );
    }
    rounded
}
