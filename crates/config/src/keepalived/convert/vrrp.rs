//! `vrrp_script`, `vrrp_sync_group` and (through `instance`)
//! `vrrp_instance` as xvs's `vrrp_scripts:`, `vrrp_sync_groups:` and
//! `vrrp:` (the names are keepalived's; raw/vrrp.rs says which differ). A
//! sync group's own trackers are given to each member, as keepalived
//! tracks them for every member.

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::tree::Node;
use super::super::values::{int, script, timer, uint};
use super::super::yaml::{MapBuilder, Y};
use super::global::Defaults;
use super::{Conv, Items};

/// What other sections need to know about an instance.
#[derive(Clone, Debug)]
pub(crate) struct InstanceInfo {
    pub vrid: u8,
    pub unicast_peers: Vec<IpAddr>,
}

/// The converted VRRP sections.
#[derive(Debug, Default)]
pub(crate) struct Vrrp {
    pub scripts: Items,
    pub instances: Items,
    pub groups: Items,
    pub info: HashMap<String, InstanceInfo>,
}

/// A vrrp_script's default weight and reverse, for its references.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ScriptDefaults {
    pub weight: i64,
    pub reverse: bool,
}

/// A sync group's membership and the trackers it gives its members.
#[derive(Debug, Default)]
pub(super) struct GroupInfo {
    pub tracking_weight: bool,
    pub track_interfaces: Vec<Node>,
    pub track_scripts: Vec<Node>,
}

pub(crate) fn convert(conv: &mut Conv, nodes: &[Node], defaults: &Defaults) -> Vrrp {
    let mut out = Vrrp::default();
    let mut scripts: HashMap<String, ScriptDefaults> = HashMap::new();
    for node in nodes.iter().filter(|n| n.keyword() == "vrrp_script") {
        if let Some((name, d, item)) = vrrp_script(conv, node) {
            scripts.insert(name, d);
            out.scripts.push((Some(format!("from {}", node.at)), item));
        }
    }
    let mut membership: HashMap<String, String> = HashMap::new();
    let mut groups: HashMap<String, GroupInfo> = HashMap::new();
    for node in nodes.iter().filter(|n| n.keyword() == "vrrp_sync_group") {
        if let Some((name, members, info, item)) = sync_group(conv, node) {
            for m in members {
                membership.insert(m, name.clone());
            }
            groups.insert(name, info);
            out.groups.push((Some(format!("from {}", node.at)), item));
        }
    }
    for node in nodes.iter().filter(|n| n.keyword() == "vrrp_instance") {
        let Some(name) = node.arg(0) else {
            conv.invalid(node, "vrrp_instance needs a name".into());
            continue;
        };
        let group = membership.get(name).and_then(|g| groups.get(g));
        if let Some((info, item)) =
            super::instance::instance(conv, node, name, defaults, &scripts, group)
        {
            out.info.insert(name.to_string(), info);
            out.instances
                .push((Some(format!("from {}", node.at)), item));
        }
    }
    out
}

fn vrrp_script(conv: &mut Conv, node: &Node) -> Option<(String, ScriptDefaults, Y)> {
    let Some(name) = node.arg(0) else {
        conv.invalid(node, "vrrp_script needs a name".into());
        return None;
    };
    let mut map = MapBuilder::default();
    map.put("name", Y::str(name));
    let mut d = ScriptDefaults::default();
    let mut user: Option<String> = None;
    for child in node.children() {
        match child.keyword() {
            "script" => match script(child, conv.script_user.as_deref()) {
                Ok(y) => {
                    map.put("script", y);
                }
                Err(e) => conv.invalid(child, e),
            },
            "interval" | "timeout" => match timer(child) {
                Ok(v) => {
                    map.put(child.keyword(), Y::num(v.max(0.001)));
                }
                Err(e) => conv.invalid(child, e),
            },
            "weight" => match int(child, 0) {
                Ok(w) => {
                    d.weight = w.clamp(-253, 253);
                    d.reverse = child.arg(1) == Some("reverse");
                    map.put("weight", Y::num(d.weight));
                }
                Err(e) => conv.invalid(child, e),
            },
            "rise" | "fall" => match uint(child, 0) {
                Ok(v) => {
                    map.put(child.keyword(), Y::num(v.max(1)));
                }
                Err(e) => conv.invalid(child, e),
            },
            "user" => match child.arg(0) {
                Some(u) => {
                    user = Some(match child.arg(1).map(|g| g.trim_start_matches(':')) {
                        Some(g) if !g.is_empty() => format!("{u}:{g}"),
                        _ => u.to_string(),
                    })
                }
                None => conv.invalid(child, "user needs a name".into()),
            },
            "init_fail" => conv.skip(
                child,
                "xvs starts a script as keepalived does without init_fail (failed until it first runs)",
            ),
            other => conv.skip(child, unknown(other)),
        }
    }
    let Some(command) = map.remove("script") else {
        conv.skip(
            node,
            "vrrp_script without a `script` (keepalived drops it too)",
        );
        return None;
    };
    let command = match (command, user) {
        (Y::Str(c), Some(u)) => Y::Map(vec![
            ("command".into(), Y::Str(c)),
            ("user".into(), Y::Str(u)),
        ]),
        (Y::Map(mut m), Some(u)) => {
            m.retain(|(k, _)| k != "user");
            m.push(("user".into(), Y::Str(u)));
            Y::Map(m)
        }
        (other, None) => other,
        (other, Some(_)) => other,
    };
    let mut ordered = MapBuilder::default();
    ordered.put("name", Y::str(name)).put("script", command);
    for (k, v) in map.0.into_iter().filter(|(k, _)| k != "name") {
        ordered.put(&k, v);
    }
    Some((name.to_string(), d, ordered.build()))
}

fn sync_group(conv: &mut Conv, node: &Node) -> Option<(String, Vec<String>, GroupInfo, Y)> {
    let Some(name) = node.arg(0) else {
        conv.invalid(node, "vrrp_sync_group needs a name".into());
        return None;
    };
    let mut map = MapBuilder::default();
    map.put("name", Y::str(name));
    let mut members = Vec::new();
    let mut info = GroupInfo::default();
    for child in node.children() {
        match child.keyword() {
            "group" => {
                members = child
                    .entries()
                    .flat_map(|e| e.words.iter().cloned())
                    .collect();
                map.put(
                    "members",
                    Y::list(members.iter().map(|m| Y::str(m.clone()))),
                );
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                match script(child, conv.script_user.as_deref()) {
                    Ok(y) => {
                        map.put(child.keyword(), y);
                    }
                    Err(e) => conv.invalid(child, e),
                }
            }
            "track_interface" => info.track_interfaces.extend(child.entries().cloned()),
            "track_script" => info.track_scripts.extend(child.entries().cloned()),
            "sync_group_tracking_weight" => info.tracking_weight = true,
            "global_tracking" => {
                conv.skip(child, "deprecated in keepalived; xvs tracks per instance")
            }
            "smtp_alert" => conv.skip(child, "xvs sends no e-mail; notify scripts can"),
            other => conv.skip(child, unknown(other)),
        }
    }
    if members.is_empty() {
        conv.skip(
            node,
            "a sync group without members (keepalived drops it too)",
        );
        return None;
    }
    Some((name.to_string(), members, info, map.build()))
}

pub(crate) fn unknown(key: &str) -> String {
    format!("`{key}` has no xvs equivalent here")
}
