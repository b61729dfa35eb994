//! `virtual_server` (an address and port, or a `group`, expanded into one
//! service per group member named after the group) with its real servers
//! and sorry server, as xvs `services:`. keepalived's defaults are written
//! out where they differ from xvs's: NAT forwarding (xvs: DR), UDP when
//! `protocol` is missing (xvs: TCP), persistence for a port-0 service; a
//! DR/TUN real server's port is the service's (keepalived passes a
//! different one to IPVS, which never uses it).

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::tree::Node;
use super::super::values::{flag, script, timer, uint};
use super::super::yaml::{MapBuilder, Y};
use super::super::KeepalivedError;
use super::checkers::TrackFile;
use super::servers::{forwarding, real_server, server_address, server_yaml, Server};
use super::vrrp::unknown;
use super::vsg::Member;
use super::{Conv, Items};

const SCHEDULERS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];

pub(crate) fn services(
    conv: &mut Conv,
    nodes: &[Node],
    groups: &HashMap<String, Vec<Member>>,
    track_files: &HashMap<String, TrackFile>,
) -> Result<Items, KeepalivedError> {
    let mut out = Items::new();
    for node in nodes.iter().filter(|n| n.keyword() == "virtual_server") {
        let targets: Vec<(IpAddr, u16, Option<String>, String)> = match (node.arg(0), node.arg(1)) {
            (Some("fwmark"), _) => {
                conv.skip(
                    node,
                    "xvs has no firewall-mark services (it matches address, port and protocol); \
                     write one virtual_server per address and port",
                );
                continue;
            }
            (Some("group"), Some(name)) => match groups.get(name) {
                Some(members) => members
                    .iter()
                    .map(|m| {
                        (
                            m.addr,
                            m.port,
                            Some(name.to_string()),
                            format!(" (member at {})", m.at),
                        )
                    })
                    .collect(),
                None => {
                    return Err(node.at.error(format!("no virtual_server_group `{name}`")));
                }
            },
            (Some(addr), port) => {
                let vip: IpAddr = addr
                    .parse()
                    .map_err(|_| node.at.error(format!("`{addr}` is not an IP address")))?;
                let port = match port {
                    None => 0,
                    Some(p) => p
                        .parse::<u16>()
                        .map_err(|_| node.at.error(format!("`{p}` is not a port")))?,
                };
                vec![(vip, port, None, String::new())]
            }
            (None, _) => return Err(node.at.error("virtual_server needs an address and port")),
        };
        let Some(parts) = service_parts(conv, node, track_files)? else {
            continue;
        };
        for (vip, port, group, member) in targets {
            let item = place(conv, &parts, vip, port, group.as_deref());
            let mut comment = format!("from {}: {}{member}", node.at, node.words.join(" "));
            if !parts.protocol_given {
                comment.push_str("\nno `protocol`: keepalived (and so this file) uses UDP");
            }
            out.push((Some(comment), item));
        }
    }
    Ok(out)
}

/// A virtual_server's settings, before they are given an address.
struct Parts {
    keys: MapBuilder,
    protocol_given: bool,
    persistent: bool,
    servers: Vec<Server>,
    sorry: Option<Server>,
}

fn service_parts(
    conv: &mut Conv,
    node: &Node,
    track_files: &HashMap<String, TrackFile>,
) -> Result<Option<Parts>, KeepalivedError> {
    let mut keys = MapBuilder::default();
    let mut method = "nat";
    let mut flags: Vec<&Node> = Vec::new();
    let mut rs_nodes = Vec::new();
    let mut sorry: Option<Server> = None;
    let mut sorry_method: Option<&'static str> = None;
    let mut default_weight: Option<u64> = None;
    let mut granularity: Option<&str> = None;
    let mut timeout: Option<u64> = None;
    let mut sctp = false;
    for child in node.children() {
        let key = child.keyword();
        match key {
            "lvs_sched" | "lb_algo" => match child.arg(0) {
                Some(s) if SCHEDULERS.contains(&s) => {
                    keys.put("scheduler", Y::str(s));
                }
                _ => conv.invalid(child, "not an IPVS scheduler".into()),
            },
            "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port"
            | "mh-fallback" => flags.push(child),
            "ops" => {
                keys.put("ops", Y::bool(true));
            }
            "hashed" => conv.skip(child, "an old IPVS flag with no effect"),
            "lvs_method" | "lb_kind" => match forwarding(conv, child) {
                Some(m) => method = m,
                None => continue,
            },
            "persistence_timeout" => match child.arg(0) {
                None => timeout = Some(360),
                Some(_) => match uint(child, 0) {
                    Ok(t) => timeout = Some(t),
                    Err(e) => conv.invalid(child, e),
                },
            },
            "persistence_granularity" => granularity = child.arg(0),
            "persistence_engine" => {
                conv.skip(child, "xvs has no persistence engines (SIP Call-ID)")
            }
            "protocol" => match child.arg(0).map(str::to_ascii_uppercase).as_deref() {
                Some("TCP") => {
                    keys.put("protocol", Y::str("tcp"));
                }
                Some("UDP") => {
                    keys.put("protocol", Y::str("udp"));
                }
                Some("SCTP") => sctp = true,
                _ => conv.invalid(child, "the protocol is TCP, UDP or SCTP".into()),
            },
            "ha_suspend" | "alpha" | "omega" | "inhibit_on_failure" => match flag(child) {
                Ok(b) => {
                    keys.put(key, Y::bool(b));
                }
                Err(e) => conv.invalid(child, e),
            },
            "virtualhost" => match child.arg(0) {
                Some(h) => {
                    keys.put(key, Y::str(h));
                }
                None => conv.invalid(child, "the host name is missing".into()),
            },
            "quorum" | "hysteresis" | "retry" => match uint(child, 0) {
                Ok(n) => {
                    keys.put(key, Y::num(n));
                }
                Err(e) => conv.invalid(child, e),
            },
            "quorum_up" | "quorum_down" => match script(child, conv.script_user.as_deref()) {
                Ok(y) => {
                    keys.put(key, y);
                }
                Err(e) => conv.invalid(child, e),
            },
            "connect_timeout" | "delay_loop" | "delay_before_retry" | "warmup" => {
                match timer(child) {
                    Ok(v) => {
                        keys.put(key, Y::num(v));
                    }
                    Err(e) => conv.invalid(child, e),
                }
            }
            "weight" => match uint(child, 0) {
                Ok(w) => default_weight = Some(w),
                Err(e) => conv.invalid(child, e),
            },
            "sorry_server" => {
                sorry = server_address(child)?.map(|(map, port)| Server {
                    map,
                    method: "",
                    port,
                    node: child.clone(),
                })
            }
            "sorry_server_inhibit" => {
                keys.put("sorry_server_inhibit", Y::bool(true));
            }
            "sorry_server_lvs_method" => sorry_method = forwarding(conv, child),
            "real_server" => rs_nodes.push(child),
            "smtp_alert" => conv.skip(
                child,
                "xvs sends no e-mail; quorum_up/quorum_down scripts can",
            ),
            "snmp_name" => conv.skip(child, "xvs has no SNMP agent"),
            "ip_family" => conv.skip(
                child,
                "only needed for fwmark services, which xvs does not have",
            ),
            other => conv.skip(child, unknown(other)),
        }
    }
    if sctp {
        conv.skip(
            node,
            "xvs balances TCP and UDP only; this SCTP service is not carried",
        );
        return Ok(None);
    }
    let protocol_given = keys.get("protocol").is_some();
    if !protocol_given {
        keys.put("protocol", Y::str("udp"));
    }
    let scheduler = match keys.get("scheduler") {
        Some(Y::Str(s)) => s.clone(),
        _ => "wlc".to_string(),
    };
    keys.put("scheduler", Y::Str(scheduler.clone()));
    let flag_list = sched_flags(conv, &flags, &scheduler);
    if !flag_list.is_empty() {
        keys.put("flags", Y::list(flag_list.into_iter().map(Y::str)));
    }
    keys.put("method", Y::str(method));
    if keys.get("ops").is_some() && keys.get("protocol") != Some(&Y::str("udp")) {
        keys.remove("ops");
        conv.skip(
            node,
            "ops: one-packet scheduling is for UDP only (keepalived resets it too)",
        );
    }
    if timeout.is_some() || granularity.is_some() {
        keys.put(
            "persistence",
            persistence(conv, node, timeout.unwrap_or(360), granularity),
        );
    }
    if let (Some(Y::Raw(q)), Some(Y::Raw(h))) = (keys.get("quorum"), keys.get("hysteresis")) {
        let (q, h) = (q.parse::<u64>().unwrap_or(1), h.parse::<u64>().unwrap_or(0));
        if h >= q {
            keys.put("hysteresis", Y::num(q.saturating_sub(1)));
            conv.skip(node, format!("hysteresis {h} is not below the quorum {q}: keepalived (and so this file) uses {}", q.saturating_sub(1)));
        }
    }
    let mut servers = Vec::new();
    for rs in rs_nodes {
        if let Some(s) = real_server(conv, rs, method, default_weight, track_files)? {
            servers.push(s);
        }
    }
    if servers.is_empty() {
        conv.skip(
            node,
            "a virtual_server without real servers (keepalived drops it too)",
        );
        return Ok(None);
    }
    if let Some(s) = sorry.as_mut() {
        s.method = sorry_method.unwrap_or(method);
        if sorry_method.is_some() {
            s.map.put("method", Y::str(s.method));
        }
    }
    Ok(Some(Parts {
        keys,
        protocol_given,
        persistent: timeout.is_some() || granularity.is_some(),
        servers,
        sorry,
    }))
}

/// The service for one address and port.
fn place(conv: &mut Conv, parts: &Parts, vip: IpAddr, port: u16, group: Option<&str>) -> Y {
    let mut map = MapBuilder::default();
    let protocol = match parts.keys.get("protocol") {
        Some(Y::Str(p)) => p.to_ascii_uppercase(),
        _ => "UDP".into(),
    };
    if let Some(group) = group {
        let at = match vip {
            IpAddr::V4(a) => format!("{a}:{port}"),
            IpAddr::V6(a) => format!("[{a}]:{port}"),
        };
        map.put("name", Y::Str(format!("{group} {protocol} {at}")));
    }
    map.put("vip", Y::str(vip.to_string()));
    map.put("port", Y::num(port));
    const FIRST: [&str; 6] = [
        "protocol",
        "scheduler",
        "flags",
        "method",
        "persistence",
        "ops",
    ];
    for key in FIRST {
        if let Some(v) = parts.keys.get(key) {
            map.put(key, v.clone());
        }
    }
    for (k, v) in &parts.keys.0 {
        map.put(k, v.clone());
    }
    if port == 0 && !parts.persistent {
        // check_data.c: "zero port only valid for persistent services - setting".
        map.put("persistence", Y::num(360));
    }
    conv.need_address(vip, &format!("virtual_server {vip}"));
    if let Some(sorry) = &parts.sorry {
        map.put("sorry_server", server_yaml(conv, sorry, port));
    }
    let servers: Vec<Y> = parts
        .servers
        .iter()
        .map(|s| server_yaml(conv, s, port))
        .collect();
    map.put("real_servers", Y::list(servers));
    map.build()
}

/// keepalived's flag-1/flag-2 are the sh/mh fallback/port flags; sh-* and
/// mh-* apply to their scheduler only (keepalived ignores them otherwise).
fn sched_flags(conv: &mut Conv, flags: &[&Node], scheduler: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for node in flags {
        let name = match (node.keyword(), scheduler) {
            ("flag-1", "sh" | "mh") => format!("{scheduler}-fallback"),
            ("flag-2", "sh" | "mh") => format!("{scheduler}-port"),
            (k @ ("sh-port" | "sh-fallback"), "sh") | (k @ ("mh-port" | "mh-fallback"), "mh") => {
                k.to_string()
            }
            (k, _) => {
                conv.skip(node, format!("`{k}` has no meaning for scheduler {scheduler} in xvs (keepalived passes it to IPVS, which ignores it)"));
                continue;
            }
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// `persistence_timeout` with `persistence_granularity` (an IPv4 netmask,
/// or for IPv6 a prefix length).
fn persistence(conv: &mut Conv, node: &Node, timeout: u64, granularity: Option<&str>) -> Y {
    let Some(g) = granularity else {
        return Y::num(timeout);
    };
    let mut map = MapBuilder::default();
    map.put("timeout", Y::num(timeout));
    if g.contains('.') {
        map.put("netmask", Y::str(g));
    } else if let Ok(prefix) = g.parse::<u8>() {
        map.put("prefix", Y::num(prefix));
    } else {
        conv.invalid(
            node,
            format!("persistence_granularity `{g}` is neither a netmask nor a prefix length"),
        );
        return Y::num(timeout);
    }
    map.build()
}
