//! xvs health probes, sans-IO: what a check sends and how its answer is
//! judged, for every keepalived checker (HTTP/SSL, SMTP, DNS, UDP, ICMP,
//! MISC exit codes, FILE values), as pure functions and small state
//! machines over bytes. The [`spec`] module is the contract between the
//! health checker (`xvs-health`, when and what it means) and the I/O
//! engine (`xvs-prober`, sockets and processes).
//!
//! Layer: health (pure; no sockets, clocks or threads). See DESIGN.md.

pub mod dns;
pub mod file;
pub mod http;
pub mod icmp;
pub mod misc;
pub mod smtp;
pub mod spec;
pub mod udp;

pub use http::Progress;
pub use smtp::SmtpStep;
pub use spec::*;

/// What a probe looks at, short, for status output and logs: the address
/// it connects to (`198.18.1.11:80`, `[fd00::11]:53`), the address pinged,
/// the command line run, or the file read.
pub fn describe(kind: &ProbeKind) -> String {
    match kind {
        ProbeKind::Tcp(endpoint)
        | ProbeKind::Http { endpoint, .. }
        | ProbeKind::Udp { endpoint, .. }
        | ProbeKind::Dns { endpoint, .. }
        | ProbeKind::Smtp { endpoint, .. } => endpoint.target.to_string(),
        ProbeKind::Icmp { target, .. } => target.to_string(),
        ProbeKind::Misc { script, .. } => script.display(),
        ProbeKind::File { path, .. } => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};
    use std::path::PathBuf;

    use xvs_config::Script;

    use super::*;

    fn endpoint(target: &str) -> Endpoint {
        Endpoint {
            target: target.parse::<SocketAddr>().unwrap(),
            bind: None,
        }
    }

    #[test]
    fn describe_names_the_target() {
        let cases = [
            (ProbeKind::Tcp(endpoint("198.18.1.11:80")), "198.18.1.11:80"),
            (
                ProbeKind::Dns {
                    endpoint: endpoint("[fd00::11]:53"),
                    query_type: 6,
                    name: ".".into(),
                },
                "[fd00::11]:53",
            ),
            (
                ProbeKind::Http {
                    endpoint: endpoint("198.18.1.11:443"),
                    tls: None,
                    requests: vec![],
                },
                "198.18.1.11:443",
            ),
            (
                ProbeKind::Smtp {
                    endpoint: endpoint("198.18.1.11:25"),
                    helo_name: "x".into(),
                },
                "198.18.1.11:25",
            ),
            (
                ProbeKind::Udp {
                    endpoint: endpoint("198.18.1.11:5060"),
                    payload: vec![],
                    expect: UdpExpect {
                        require_reply: false,
                        pattern: None,
                        min_len: 0,
                        max_len: 255,
                    },
                },
                "198.18.1.11:5060",
            ),
            (
                ProbeKind::Icmp {
                    target: "fd00::11".parse::<IpAddr>().unwrap(),
                    bind: None,
                },
                "fd00::11",
            ),
            (
                ProbeKind::Misc {
                    script: Script {
                        argv: vec!["/usr/bin/check".into(), "arg".into()],
                        user: None,
                        group: None,
                    },
                    dynamic: false,
                },
                "/usr/bin/check arg",
            ),
            (
                ProbeKind::File {
                    path: PathBuf::from("/run/weight"),
                    weight: 1,
                    reverse: false,
                },
                "/run/weight",
            ),
        ];
        for (kind, want) in cases {
            assert_eq!(describe(&kind), want);
        }
    }
}
