//! A real server's checkers (`TCP_CHECK`, `HTTP_GET`, `SSL_GET`,
//! `UDP_CHECK`, `PING_CHECK`, `DNS_CHECK`, `SMTP_CHECK`, `MISC_CHECK`,
//! `FILE_CHECK` with the `track_file` it names) as entries of xvs's
//! `health:` list, whose keys keep keepalived's names (raw.rs RawHealth).
//! The common options go where xvs takes them for the kind: a port for
//! the checkers that connect, no port for PING_CHECK (keepalived accepts
//! and ignores one there), timing for all but FILE_CHECK.

use std::collections::HashMap;

use super::super::tree::Node;
use super::super::values::{flag, int, script, timer, uint};
use super::super::yaml::{MapBuilder, Y};
use super::vrrp::unknown;
use super::Conv;

/// A top-level `track_file NAME { file PATH; weight W [reverse] }`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrackFile {
    pub path: Option<String>,
    pub weight: Option<i64>,
    pub reverse: bool,
}

pub(crate) fn track_files(conv: &mut Conv, nodes: &[Node]) -> HashMap<String, TrackFile> {
    let mut out = HashMap::new();
    for node in nodes
        .iter()
        .filter(|n| matches!(n.keyword(), "track_file" | "vrrp_track_file"))
    {
        let Some(name) = node.arg(0) else {
            conv.invalid(node, "track_file needs a name".into());
            continue;
        };
        let mut tf = TrackFile::default();
        for child in node.children() {
            match child.keyword() {
                "file" => tf.path = child.arg(0).map(str::to_string),
                "weight" => match int(child, 0) {
                    Ok(w) => {
                        tf.weight = Some(w);
                        tf.reverse = child.arg(1) == Some("reverse");
                    }
                    Err(e) => conv.invalid(child, e),
                },
                "init_file" => {
                    conv.skip(child, "xvs reads the file; it does not create or write it")
                }
                other => conv.skip(child, unknown(other)),
            }
        }
        out.insert(name.to_string(), tf);
    }
    out
}

/// The xvs kind of a checker keyword; None for other keywords.
fn kind(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "TCP_CHECK" => "tcp",
        "HTTP_GET" => "http",
        "SSL_GET" => "ssl",
        "UDP_CHECK" => "udp",
        "PING_CHECK" => "icmp",
        "DNS_CHECK" => "dns",
        "SMTP_CHECK" => "smtp",
        "MISC_CHECK" => "misc",
        "FILE_CHECK" => "file",
        "BFD_CHECK" => "bfd",
        _ => return None,
    })
}

/// Whether `keyword` is a checker block.
pub(crate) fn is_checker(keyword: &str) -> bool {
    kind(keyword).is_some()
}

/// One checker as a `health:` entry; None when it cannot be carried
/// (reported).
pub(crate) fn checker(
    conv: &mut Conv,
    node: &Node,
    track_files: &HashMap<String, TrackFile>,
) -> Option<Y> {
    let kind = kind(node.keyword())?;
    if kind == "bfd" {
        conv.skip(
            node,
            "xvs has no BFD; a TCP_CHECK or PING_CHECK can watch the server",
        );
        return None;
    }
    let mut map = MapBuilder::default();
    map.put("type", Y::str(kind));
    let connects = matches!(kind, "tcp" | "http" | "ssl" | "udp" | "dns" | "smtp");
    let mut urls = Vec::new();
    for child in node.children() {
        let key = child.keyword();
        match key {
            "connect_port" | "bind_port" if connects => match uint(child, 0) {
                Ok(p @ 1..=65535) => {
                    map.put(if key == "connect_port" { "port" } else { key }, Y::num(p));
                }
                _ => conv.invalid(child, "not a port".into()),
            },
            "connect_ip" | "bindto" if connects || kind == "icmp" => match child.arg(0) {
                Some(a) => {
                    map.put(key, Y::str(a));
                }
                None => conv.invalid(child, "the address is missing".into()),
            },
            "connect_timeout" if connects || kind == "icmp" => time_key(conv, child, &mut map),
            "connect_port" | "bind_port" if kind == "icmp" => conv.skip(
                child,
                "PING_CHECK probes no port (keepalived ignores it too)",
            ),
            "bind_if" => conv.skip(
                child,
                "xvs chooses the probe's interface by route; bindto sets the source",
            ),
            "fwmark" => conv.skip(child, "xvs does not mark probe packets"),
            "delay_loop" | "delay_before_retry" | "warmup" if kind != "file" => {
                time_key(conv, child, &mut map)
            }
            "retry" | "nb_get_retry" if kind != "file" => match uint(child, 0) {
                Ok(n) => {
                    map.put("retry", Y::num(n));
                }
                Err(e) => conv.invalid(child, e),
            },
            "alpha" | "log_all_failures" if kind != "file" => match flag(child) {
                Ok(b) => {
                    map.put(key, Y::bool(b));
                }
                Err(e) => conv.invalid(child, e),
            },
            _ => kind_key(conv, kind, child, &mut map, &mut urls, track_files),
        }
    }
    if matches!(kind, "http" | "ssl") && !http_urls(conv, node, &mut map, urls) {
        return None;
    }
    if kind == "misc" && map.get("command").is_none() {
        conv.skip(
            node,
            "MISC_CHECK without misc_path (keepalived drops it too)",
        );
        return None;
    }
    if kind == "file" && map.get("file").is_none() {
        conv.skip(
            node,
            "FILE_CHECK without a known track_file (keepalived drops it too)",
        );
        return None;
    }
    if kind == "udp" && map.get("require_reply").is_none() {
        for key in ["min_reply_length", "max_reply_length"] {
            if map.remove(key).is_some() {
                conv.skip(
                    node,
                    format!("{key}: only checked with require_reply (as keepalived)"),
                );
            }
        }
    }
    Some(ordered(map))
}

/// What the checker probes first, then how it connects, then its timing.
fn ordered(map: MapBuilder) -> Y {
    const TIMING: [&str; 7] = [
        "connect_timeout",
        "delay_loop",
        "retry",
        "delay_before_retry",
        "warmup",
        "alpha",
        "log_all_failures",
    ];
    const CONNECTION: [&str; 4] = ["port", "connect_ip", "bindto", "bind_port"];
    let rank = |k: &str| match k {
        "type" => 0,
        k if CONNECTION.contains(&k) => 2,
        k if TIMING.contains(&k) => 3,
        _ => 1,
    };
    let mut entries = map.0;
    entries.sort_by_key(|(k, _)| rank(k));
    Y::Map(entries)
}

fn time_key(conv: &mut Conv, child: &Node, map: &mut MapBuilder) {
    match timer(child) {
        Ok(v) => {
            map.put(child.keyword(), Y::num(v));
        }
        Err(e) => conv.invalid(child, e),
    }
}

/// The options of one kind of checker.
fn kind_key(
    conv: &mut Conv,
    kind: &str,
    child: &Node,
    map: &mut MapBuilder,
    urls: &mut Vec<Node>,
    track_files: &HashMap<String, TrackFile>,
) {
    let key = child.keyword();
    let http = matches!(kind, "http" | "ssl");
    match (kind, key) {
        (_, "url") if http => urls.push(child.clone()),
        (_, "http_protocol") if http => match child.arg(0) {
            Some(p @ ("1.0" | "1.0C" | "1.1")) => {
                map.put(key, Y::str(p));
            }
            _ => conv.invalid(child, "http_protocol is 1.0, 1.0C or 1.1".into()),
        },
        (_, "virtualhost") if http => match child.arg(0) {
            Some(h) => {
                map.put(key, Y::str(h));
            }
            None => conv.invalid(child, "the host name is missing".into()),
        },
        // xvs always fetches every URL in one go, as with fast_recovery.
        (_, "fast_recovery") if http => {}
        ("ssl", "enable_sni") => {
            map.put(key, Y::bool(true));
        }
        ("ssl", "sni_name") => match child.arg(0) {
            Some(n) => {
                map.put(key, Y::str(n));
            }
            None => conv.invalid(child, "the name is missing".into()),
        },
        (_, "tls_compliant") if http => {
            conv.skip(child, "xvs's TLS client closes as rustls does; no option")
        }
        ("udp", "payload") => {
            map.put(key, Y::Str(child.args().join(" ")));
        }
        ("udp", "require_reply") => {
            let value = if child.args().is_empty() {
                Y::bool(true)
            } else {
                Y::Str(child.args().join(" "))
            };
            map.put(key, value);
        }
        ("udp", "min_reply_length" | "max_reply_length") => match uint(child, 0) {
            Ok(n) => {
                map.put(key, Y::num(n));
            }
            Err(e) => conv.invalid(child, e),
        },
        ("dns", "type") => match child.arg(0).map(str::to_ascii_uppercase) {
            Some(t) if ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"].contains(&t.as_str()) => {
                map.put("query_type", Y::Str(t));
            }
            _ => conv.invalid(child, "the DNS type is A, NS, CNAME, SOA, MX, TXT or AAAA".into()),
        },
        ("dns", "name") => match child.arg(0) {
            Some(n) => {
                map.put(key, Y::str(n));
            }
            None => conv.invalid(child, "the name is missing".into()),
        },
        ("smtp", "helo_name") => match child.arg(0) {
            Some(n) => {
                map.put(key, Y::str(n));
            }
            None => conv.invalid(child, "the name is missing".into()),
        },
        ("smtp", "host") => conv.skip(
            child,
            "deprecated in keepalived: give the real server one SMTP_CHECK per host (with connect_ip)",
        ),
        ("misc", "misc_path") => match script(child, conv.script_user.as_deref()) {
            Ok(Y::Map(entries)) => {
                for (k, v) in entries {
                    map.put(if k == "command" { "command" } else { "user" }, v);
                }
            }
            Ok(command) => {
                map.put("command", command);
            }
            Err(e) => conv.invalid(child, e),
        },
        ("misc", "misc_timeout") => match timer(child) {
            Ok(v) => {
                map.put("timeout", Y::num(v));
            }
            Err(e) => conv.invalid(child, e),
        },
        ("misc", "misc_dynamic") => {
            map.put("dynamic", Y::bool(true));
        }
        ("misc", "user") => match child.arg(0) {
            Some(u) => {
                let user = match child.arg(1).map(|g| g.trim_start_matches(':')) {
                    Some(g) if !g.is_empty() => format!("{u}:{g}"),
                    _ => u.to_string(),
                };
                map.put("user", Y::Str(user));
            }
            None => conv.invalid(child, "the user is missing".into()),
        },
        ("file", "track_file") => match child.arg(0).and_then(|n| track_files.get(n)) {
            Some(TrackFile { path: Some(path), weight, reverse }) => {
                map.put("file", Y::str(path.clone()));
                if let Some(w) = weight {
                    map.put("weight", Y::num(w));
                }
                if *reverse {
                    map.put("reverse", Y::bool(true));
                }
            }
            _ => conv.invalid(child, "no track_file block of that name with a `file`".into()),
        },
        ("file", "weight") => match int(child, 0) {
            Ok(w) => {
                map.put("weight", Y::num(w));
                if child.arg(1) == Some("reverse") {
                    map.put("reverse", Y::bool(true));
                } else {
                    map.remove("reverse");
                }
            }
            Err(e) => conv.invalid(child, e),
        },
        ("file", "dynamic") => {}
        _ if http && key.starts_with("regex") => conv.skip(child, "xvs's HTTP check has no regex match"),
        ("icmp" | "misc" | "file", k) if is_common(k) => conv.skip(
            child,
            format!("`{k}` does not apply to {} in xvs (nor in keepalived)", child_kind_name(kind)),
        ),
        _ => conv.skip(child, unknown(key)),
    }
}

fn is_common(key: &str) -> bool {
    matches!(
        key,
        "connect_ip"
            | "connect_port"
            | "bindto"
            | "bind_port"
            | "connect_timeout"
            | "retry"
            | "delay_before_retry"
            | "warmup"
            | "delay_loop"
            | "alpha"
            | "log_all_failures"
    )
}

fn child_kind_name(kind: &str) -> &'static str {
    match kind {
        "icmp" => "PING_CHECK",
        "misc" => "MISC_CHECK",
        _ => "FILE_CHECK",
    }
}

/// HTTP_GET/SSL_GET `url` blocks: one without its own virtualhost is
/// written inline (path, status, digest), several as `urls:`. False when
/// there is none (keepalived drops such a checker).
fn http_urls(conv: &mut Conv, node: &Node, map: &mut MapBuilder, urls: Vec<Node>) -> bool {
    if urls.is_empty() {
        conv.skip(
            node,
            "an HTTP/SSL check without a `url` (keepalived drops it too)",
        );
        return false;
    }
    let mut parsed = Vec::new();
    for url in &urls {
        let mut u = MapBuilder::default();
        for child in url.children() {
            match child.keyword() {
                "path" => match child.arg(0) {
                    Some(p) => {
                        u.put("path", Y::str(p));
                    }
                    None => conv.invalid(child, "the path is missing".into()),
                },
                "digest" => match child.arg(0) {
                    Some(d) => {
                        u.put("digest", Y::str(d.to_ascii_lowercase()));
                    }
                    None => conv.invalid(child, "the digest is missing".into()),
                },
                "status_code" => {
                    let codes: Vec<Y> = child
                        .args()
                        .iter()
                        .map(|c| match c.parse::<u64>() {
                            Ok(n) => Y::num(n),
                            Err(_) => Y::str(c.clone()),
                        })
                        .collect();
                    u.put("status", Y::list(codes));
                }
                "virtualhost" => match child.arg(0) {
                    Some(h) => {
                        u.put("virtualhost", Y::str(h));
                    }
                    None => conv.invalid(child, "the host name is missing".into()),
                },
                k if k.starts_with("regex") => {
                    conv.skip(child, "xvs's HTTP check has no regex match")
                }
                "tls_compliant" => {
                    conv.skip(child, "xvs's TLS client closes as rustls does; no option")
                }
                other => conv.skip(child, unknown(other)),
            }
        }
        if u.get("path").is_none() {
            conv.skip(url, "a url without a path (keepalived drops it too)");
            continue;
        }
        parsed.push(u);
    }
    match parsed.len() {
        0 => {
            conv.skip(node, "no usable url left");
            false
        }
        1 if parsed[0].get("virtualhost").is_none() => {
            for (k, v) in parsed.remove(0).0 {
                map.put(&k, v);
            }
            true
        }
        _ => {
            map.put("urls", Y::list(parsed.into_iter().map(MapBuilder::build)));
            true
        }
    }
}
