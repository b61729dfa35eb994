//! Real and sorry servers: `real_server ADDR [PORT] { ... }` with its
//! keys and checkers, `sorry_server ADDR [PORT]`, the forwarding method
//! words, and how a server is written into one service (a DR/TUN server's
//! port is the service's).

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::tree::Node;
use super::super::values::{flag, script, timer, uint};
use super::super::yaml::{MapBuilder, Y};
use super::super::KeepalivedError;
use super::checkers::{checker, is_checker, TrackFile};
use super::vrrp::unknown;
use super::Conv;

/// A server (real or sorry) before it is placed in a service.
pub(super) struct Server {
    pub map: MapBuilder,
    /// Its forwarding method (its own, else the service's).
    pub method: &'static str,
    pub port: Option<u16>,
    pub node: Node,
}

pub(super) fn server_yaml(conv: &mut Conv, server: &Server, service_port: u16) -> Y {
    let mut map = server.map.clone();
    if let Some(Y::Str(addr)) = map.get("address") {
        if let Ok(a) = addr.parse::<IpAddr>() {
            conv.need_address(a, &format!("{} {a}", server.node.keyword()));
        }
    }
    if let Some(p) = server.port {
        if matches!(server.method, "dr" | "tun") && p != service_port && service_port != 0 {
            conv.skip(
                &server.node,
                format!(
                    "port {p}: {} forwards to the service port {service_port} (IPVS ignores the real server's)",
                    server.method.to_ascii_uppercase()
                ),
            );
        } else {
            map.put("port", Y::num(p));
        }
    }
    // Keys after the address and port.
    let mut ordered = MapBuilder::default();
    for key in ["address", "port"] {
        if let Some(v) = map.remove(key) {
            ordered.put(key, v);
        }
    }
    ordered.0.extend(map.0);
    ordered.build()
}

/// `ADDR [PORT]` of a real or sorry server.
pub(super) fn server_address(
    node: &Node,
) -> Result<Option<(MapBuilder, Option<u16>)>, KeepalivedError> {
    let Some(addr) = node.arg(0) else {
        return Err(node.at.error("the address is missing"));
    };
    let a: IpAddr = addr
        .parse()
        .map_err(|_| node.at.error(format!("`{addr}` is not an IP address")))?;
    let port = match node.arg(1) {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) => None,
            Ok(p) => Some(p),
            Err(_) => return Err(node.at.error(format!("`{p}` is not a port"))),
        },
    };
    let mut map = MapBuilder::default();
    map.put("address", Y::str(a.to_string()));
    Ok(Some((map, port)))
}

pub(super) fn real_server(
    conv: &mut Conv,
    node: &Node,
    service_method: &'static str,
    default_weight: Option<u64>,
    track_files: &HashMap<String, TrackFile>,
) -> Result<Option<Server>, KeepalivedError> {
    let Some((mut map, port)) = server_address(node)? else {
        return Ok(None);
    };
    let mut method = service_method;
    let mut health = Vec::new();
    if let Some(w) = default_weight {
        map.put("weight", Y::num(w));
    }
    for child in node.children() {
        let key = child.keyword();
        match key {
            "weight" => match uint(child, 0) {
                Ok(w) if w <= 65_535 => {
                    map.put("weight", Y::num(w));
                }
                Ok(w) => {
                    map.put("weight", Y::num(65_535));
                    conv.skip(
                        child,
                        format!("weight {w}: IPVS weights are 0..65535 in xvs; 65535 used"),
                    );
                }
                Err(e) => conv.invalid(child, e),
            },
            "lvs_method" => {
                if let Some(m) = forwarding(conv, child) {
                    method = m;
                    map.put("method", Y::str(m));
                }
            }
            "uthreshold" | "lthreshold" => match uint(child, 0) {
                Ok(n) => {
                    let name = if key == "uthreshold" {
                        "upper_threshold"
                    } else {
                        "lower_threshold"
                    };
                    map.put(name, Y::num(n));
                }
                Err(e) => conv.invalid(child, e),
            },
            "inhibit_on_failure" | "alpha" => match flag(child) {
                Ok(b) => {
                    map.put(key, Y::bool(b));
                }
                Err(e) => conv.invalid(child, e),
            },
            "notify_up" | "notify_down" => match script(child, conv.script_user.as_deref()) {
                Ok(y) => {
                    map.put(key, y);
                }
                Err(e) => conv.invalid(child, e),
            },
            "retry" => match uint(child, 0) {
                Ok(n) => {
                    map.put(key, Y::num(n));
                }
                Err(e) => conv.invalid(child, e),
            },
            "connect_timeout" | "delay_loop" | "delay_before_retry" | "warmup" => {
                match timer(child) {
                    Ok(v) => {
                        map.put(key, Y::num(v));
                    }
                    Err(e) => conv.invalid(child, e),
                }
            }
            "virtualhost" => match child.arg(0) {
                Some(h) => {
                    map.put(key, Y::str(h));
                }
                None => conv.invalid(child, "the host name is missing".into()),
            },
            "smtp_alert" => conv.skip(
                child,
                "xvs sends no e-mail; notify_up/notify_down scripts can",
            ),
            "snmp_name" => conv.skip(child, "xvs has no SNMP agent"),
            k if is_checker(k) => {
                if let Some(y) = checker(conv, child, track_files) {
                    health.push(y);
                }
            }
            other => conv.skip(child, unknown(other)),
        }
    }
    if !health.is_empty() {
        map.put("health", Y::list(health));
    }
    Ok(Some(Server {
        map,
        method,
        port,
        node: node.clone(),
    }))
}

/// `NAT|DR|TUN [type ipip|gue port N|gre] [csum...]`.
pub(super) fn forwarding(conv: &mut Conv, node: &Node) -> Option<&'static str> {
    let method = match node.arg(0) {
        Some("NAT") => "nat",
        Some("DR") => "dr",
        Some("TUN") => "tun",
        _ => {
            conv.invalid(node, "the method is NAT, DR or TUN".into());
            return None;
        }
    };
    let rest = &node.args()[1..];
    if method == "tun" && !rest.is_empty() && rest != ["type", "ipip"] {
        conv.skip(
            node,
            "tunnel options: xvs tunnels with IPIP only (no GUE, GRE or checksums)",
        );
    }
    Some(method)
}
