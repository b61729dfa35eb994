//! `global_defs`: what xvs carries (router_id as a comment, the VRRP
//! defaults every instance inherits, `lvs_timeouts`, `script_user`,
//! `lvs_sync_daemon` as `sync:`), and the reason for each thing it does
//! not.

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::tree::Node;
use super::super::values::{flag, timer, uint};
use super::super::yaml::{MapBuilder, Y};
use super::vrrp::InstanceInfo;
use super::Conv;

/// global_defs values that other sections inherit.
#[derive(Debug, Default)]
pub(crate) struct Defaults {
    /// `vrrp_version`.
    pub vrrp_version: Option<u64>,
    /// `vrrp_garp_master_delay` ... as instance keys (`garp_master_delay`).
    pub garp: Vec<(&'static str, Y)>,
    /// `vrrp_down_timer_adverts`.
    pub down_timer_adverts: Option<u64>,
    /// `v3_checksum_as_v2`.
    pub v3_checksum_as_v2: bool,
    /// `lvs_timeouts` as `global.timeouts`.
    pub timeouts: Option<Y>,
    /// `lvs_sync_daemon`, read once the instances are known.
    pub sync_daemon: Option<Node>,
}

pub(crate) fn global_defs(conv: &mut Conv, block: &Node, defaults: &mut Defaults) {
    for node in block.children() {
        let key = node.keyword();
        match key {
            "router_id" => match node.arg(0) {
                Some(id) => conv
                    .remarks
                    .push(format!("router_id {id} (from {})", node.at)),
                None => conv.invalid(node, "router_id needs a name".into()),
            },
            "script_user" => match node.arg(0) {
                Some(user) => {
                    conv.script_user = Some(match node.arg(1) {
                        Some(group) if !group.trim_start_matches(':').is_empty() => {
                            format!("{user}:{}", group.trim_start_matches(':'))
                        }
                        _ => user.to_string(),
                    });
                }
                None => conv.invalid(node, "script_user needs a user".into()),
            },
            "vrrp_version" => match uint(node, 0) {
                Ok(v @ (2 | 3)) => defaults.vrrp_version = Some(v),
                Ok(v) => conv.invalid(node, format!("version {v} is neither 2 nor 3")),
                Err(e) => conv.invalid(node, e),
            },
            "vrrp_garp_master_delay" | "vrrp_garp_master_refresh" => match timer(node) {
                Ok(v) => defaults.garp.push((instance_key(key), Y::num(v))),
                Err(e) => conv.invalid(node, e),
            },
            "vrrp_garp_master_repeat" | "vrrp_garp_master_refresh_repeat" => match uint(node, 0) {
                Ok(v) => defaults.garp.push((instance_key(key), Y::num(v))),
                Err(e) => conv.invalid(node, e),
            },
            "vrrp_down_timer_adverts" => match uint(node, 0) {
                Ok(v) => defaults.down_timer_adverts = Some(v),
                Err(e) => conv.invalid(node, e),
            },
            "v3_checksum_as_v2" => match flag(node) {
                Ok(v) => defaults.v3_checksum_as_v2 = v,
                Err(e) => conv.invalid(node, e),
            },
            "lvs_timeouts" => lvs_timeouts(conv, node, defaults),
            "lvs_sync_daemon" => defaults.sync_daemon = Some(node.clone()),
            _ => conv.skip(node, reason(key)),
        }
    }
}

/// `vrrp_garp_master_delay` → `garp_master_delay`.
fn instance_key(global: &str) -> &'static str {
    match global {
        "vrrp_garp_master_delay" => "garp_master_delay",
        "vrrp_garp_master_refresh" => "garp_master_refresh",
        "vrrp_garp_master_repeat" => "garp_master_repeat",
        _ => "garp_master_refresh_repeat",
    }
}

/// Why a global_defs keyword is not carried.
fn reason(key: &str) -> String {
    let r = if key.starts_with("notification_email")
        || key.starts_with("smtp_")
        || key == "no_email_faults"
        || key == "no_checker_emails"
    {
        "xvs sends no e-mail; notify scripts (notify_up/down, quorum_up/down, VRRP notify) can"
    } else if key.contains("snmp") || key == "enable_traps" {
        "xvs has no SNMP agent; `xvs metrics` gives the counters in Prometheus format"
    } else if key.contains("dbus") {
        "xvs has no D-Bus interface; `xvs status --json` gives the VRRP states"
    } else if key.contains("notify_fifo") || key == "fifo_write_vrrp_states_on_reload" {
        "xvs has no notify FIFO; notify scripts get the same events"
    } else if key.ends_with("_priority")
        || key.ends_with("_no_swap")
        || key.ends_with("_cpu_affinity")
        || key.ends_with("_rlimit_rttime")
        || key == "min_auto_priority_delay"
    {
        "process scheduling: xvs pins one worker per core (global.workers); set priorities in the service manager"
    } else if key == "vrrp_strict" {
        "xvs has no strict mode: instances keep `accept` on unless they say `no_accept`, and nothing is refused for strictness"
    } else if key.starts_with("vrrp_iptables")
        || key.starts_with("vrrp_ipsets")
        || key.starts_with("nftables")
    {
        "xvs's backup drops VIP traffic itself (its XDP program); no firewall rules are needed"
    } else if key == "enable_script_security" {
        "xvs runs scripts without a shell as the configured user; it does not check script ownership"
    } else if key == "lvs_flush" || key == "lvs_flush_on_stop" {
        "xvs owns its tables: nothing of a previous run survives a restart"
    } else if key.starts_with("vrrp_garp") || key.starts_with("vrrp_gna") || key == "vrrp_min_garp"
    {
        "xvs sends gratuitous ARP/NA per instance (garp_master_*); this pacing option has no equivalent"
    } else if key == "vrrp_mcast_group4" || key == "vrrp_mcast_group6" {
        "xvs uses the RFC multicast groups (224.0.0.18, ff02::12); use unicast_peer to send elsewhere"
    } else {
        "xvs has no equivalent"
    };
    r.to_string()
}

/// `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]` → global.timeouts.
fn lvs_timeouts(conv: &mut Conv, node: &Node, defaults: &mut Defaults) {
    let mut map = MapBuilder::default();
    let args = node.args();
    let mut i = 0;
    while i < args.len() {
        let key = match args[i].as_str() {
            "tcp" => "tcp",
            "tcpfin" => "tcp_fin",
            "udp" => "udp",
            other => {
                conv.invalid(node, format!("unknown timeout `{other}`"));
                return;
            }
        };
        match args.get(i + 1).and_then(|v| v.parse::<u64>().ok()) {
            Some(secs) if secs > 0 => {
                map.put(key, Y::num(secs));
            }
            _ => {
                conv.invalid(node, format!("`{}` needs a number of seconds", args[i]));
                return;
            }
        }
        i += 2;
    }
    if map.0.is_empty() {
        conv.invalid(node, "no timeout given".into());
    } else {
        defaults.timeouts = Some(map.build());
    }
}

/// `lvs_sync_daemon IFACE [[inst] VI] [id N] [maxlen N] [port N] [ttl N]
/// [group ADDR]` as `sync:`. xvs lists the peer directors (they are also
/// its filter), which keepalived.conf does not: they are taken from the
/// named instance's `unicast_peer`, else the section cannot be written.
pub(crate) fn sync_daemon(
    conv: &mut Conv,
    node: &Node,
    instances: &HashMap<String, InstanceInfo>,
) -> Option<(String, Y)> {
    let args = node.args();
    let Some(interface) = args.first() else {
        conv.invalid(node, "the sync interface is missing".into());
        return None;
    };
    let mut instance: Option<&str> = None;
    let (mut id, mut port, mut group): (Option<u64>, Option<u64>, Option<IpAddr>) =
        (None, None, None);
    let mut ignored = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).map(String::as_str);
        match (args[i].as_str(), value) {
            ("inst", Some(v)) => instance = Some(v),
            ("id", Some(v)) => id = v.parse().ok(),
            ("port", Some(v)) => port = v.parse().ok(),
            ("group", Some(v)) => group = v.parse().ok(),
            ("maxlen" | "ttl", Some(_)) => ignored.push(args[i].clone()),
            (name, _) if instance.is_none() && instances.contains_key(name) => {
                instance = Some(name);
                i += 1;
                continue;
            }
            (other, _) => {
                conv.invalid(node, format!("unknown lvs_sync_daemon option `{other}`"));
                return None;
            }
        }
        i += 2;
    }
    let info = instance.and_then(|name| instances.get(name));
    let peers: Vec<IpAddr> = info.map(|i| i.unicast_peers.clone()).unwrap_or_default();
    if peers.is_empty() {
        conv.skip(
            node,
            "xvs needs the other directors' addresses (sync.peers), which keepalived.conf does not list \
             (only an instance with unicast_peer names them); write a `sync:` section by hand",
        );
        return None;
    }
    if !ignored.is_empty() {
        conv.skip(
            node,
            format!(
                "{}: xvs sizes datagrams to the interface MTU and sends with TTL 1",
                ignored.join(", ")
            ),
        );
    }
    conv.need_interface(interface, "lvs_sync_daemon");
    let mut map = MapBuilder::default();
    map.put("interface", Y::str(interface.clone()));
    map.put(
        "peers",
        Y::list(peers.iter().map(|p| Y::str(p.to_string()))),
    );
    // keepalived: the SyncID defaults to the instance's VRID (0 without one).
    let sync_id = id.or(info.map(|i| u64::from(i.vrid))).unwrap_or(0);
    map.put("sync_id", Y::num(sync_id));
    if let Some(port) = port {
        map.put("port", Y::num(port));
    }
    // IPVS sends to 224.0.0.81 unless told otherwise; xvs then sends to the
    // group too, so kernel IPVS peers keep receiving.
    let group = group.or_else(|| {
        peers
            .first()
            .filter(|p| p.is_ipv4())
            .map(|_| IpAddr::from([224, 0, 0, 81]))
    });
    if let Some(group) = group {
        map.put("group", Y::str(group.to_string()));
    }
    Some((
        format!(
            "from lvs_sync_daemon ({}); peers from {}'s unicast_peer",
            node.at,
            instance.unwrap_or("?")
        ),
        map.build(),
    ))
}
