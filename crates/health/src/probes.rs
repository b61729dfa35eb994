//! From a configured checker to the probe the I/O engine runs: where it
//! connects (keepalived's `connect_ip`/`connect_port`, defaulting to the
//! real server), where it binds (`bindto`/`bind_port`), how long it may
//! take, and what it sends. Pure: the one random input (UDP_CHECK's
//! default payload) is a parameter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use xvs_config::{HealthCheck, HealthCheckKind, HttpCheck};
use xvs_probe::{Endpoint, HttpRequest, Probe, ProbeKind, TlsParams, UdpExpect};

/// FILE_CHECK reads a local file: keepalived watches it with inotify and
/// has no timeout; a read that hangs this long (a dead NFS mount) fails.
pub const FILE_TIMEOUT: Duration = Duration::from_secs(1);

/// The probe for one run of `check` on the real server at
/// `real_server` (address, port). `random` is UDP_CHECK's payload when
/// the checker has none (keepalived sends random bytes then).
pub fn build_probe(check: &HealthCheck, real_server: (IpAddr, u16), random: [u8; 16]) -> Probe {
    let endpoint = endpoint(check, real_server);
    let (timeout, kind) = match &check.kind {
        HealthCheckKind::Tcp => (check.connect_timeout, ProbeKind::Tcp(endpoint)),
        HealthCheckKind::Http(http) => (
            check.connect_timeout,
            ProbeKind::Http {
                endpoint,
                tls: None,
                requests: requests(http, endpoint.target),
            },
        ),
        HealthCheckKind::Ssl(http, tls) => (
            check.connect_timeout,
            ProbeKind::Http {
                endpoint,
                tls: Some(TlsParams {
                    sni: tls.sni.clone(),
                    verify: tls.verify,
                    ca_file: tls.ca_file.clone(),
                }),
                requests: requests(http, endpoint.target),
            },
        ),
        HealthCheckKind::Udp(udp) => (
            check.connect_timeout,
            ProbeKind::Udp {
                endpoint,
                payload: udp.payload.clone().unwrap_or_else(|| random.to_vec()),
                expect: UdpExpect {
                    require_reply: udp.require_reply,
                    pattern: udp.reply_pattern.clone(),
                    min_len: udp.min_reply_length,
                    max_len: udp.max_reply_length,
                },
            },
        ),
        HealthCheckKind::Icmp => (
            check.connect_timeout,
            ProbeKind::Icmp {
                target: endpoint.target.ip(),
                bind: check.bindto,
            },
        ),
        HealthCheckKind::Dns(dns) => (
            check.connect_timeout,
            ProbeKind::Dns {
                endpoint,
                query_type: dns.query_type.code(),
                name: dns.name.clone(),
            },
        ),
        HealthCheckKind::Smtp { helo_name } => (
            check.connect_timeout,
            ProbeKind::Smtp {
                endpoint,
                helo_name: helo_name.clone(),
            },
        ),
        // check_misc.c: a program gets misc_timeout, not connect_timeout.
        HealthCheckKind::Misc(misc) => (
            misc.timeout,
            ProbeKind::Misc {
                script: misc.script.clone(),
                dynamic: misc.dynamic,
            },
        ),
        HealthCheckKind::File(file) => (
            FILE_TIMEOUT,
            ProbeKind::File {
                path: file.path.clone(),
                weight: file.weight,
                reverse: file.reverse,
            },
        ),
    };
    Probe { timeout, kind }
}

/// connect_ip:connect_port, each defaulting to the real server's
/// (check_api.c sets the checker's destination to the real server before
/// its keywords are read); bindto:bind_port, where a port alone binds the
/// unspecified address of the target's family and port 0 means any.
pub fn endpoint(check: &HealthCheck, real_server: (IpAddr, u16)) -> Endpoint {
    let target = SocketAddr::new(
        check.connect_ip.unwrap_or(real_server.0),
        check.port.unwrap_or(real_server.1),
    );
    let bind = match (check.bindto, check.bind_port) {
        (None, None) => None,
        (Some(ip), port) => Some(SocketAddr::new(ip, port.unwrap_or(0))),
        (None, Some(port)) => {
            let any = match target {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            Some(SocketAddr::new(any, port))
        }
    };
    Endpoint { target, bind }
}

/// What `xvs status` shows as a checker's target: the address it probes,
/// or the program or file it runs or reads.
pub fn target_label(check: &HealthCheck, real_server: (IpAddr, u16)) -> String {
    let endpoint = endpoint(check, real_server);
    match &check.kind {
        HealthCheckKind::Icmp => endpoint.target.ip().to_string(),
        HealthCheckKind::Misc(misc) => misc.script.display(),
        HealthCheckKind::File(file) => file.path.display().to_string(),
        _ => endpoint.target.to_string(),
    }
}

/// One request per URL; `Host:` is the URL's virtualhost (already
/// inherited url > checker > real server > service by the config), else
/// the target as `ip:port` (`[v6]:port`), as check_http.c writes it.
fn requests(http: &HttpCheck, target: SocketAddr) -> Vec<HttpRequest> {
    http.urls
        .iter()
        .map(|url| HttpRequest {
            path: url.path.clone(),
            host: url
                .virtualhost
                .clone()
                .unwrap_or_else(|| target.to_string()),
            protocol: http.protocol,
            status: url.status.clone(),
            digest: url.digest,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use xvs_config::{
        DnsCheck, DnsQueryType, FileCheck, HttpProtocol, HttpUrl, MiscCheck, Script, TlsCheck,
        UdpCheck,
    };

    fn check(kind: HealthCheckKind) -> HealthCheck {
        HealthCheck {
            kind,
            connect_ip: None,
            port: None,
            bindto: None,
            bind_port: None,
            connect_timeout: Duration::from_secs(3),
            delay_loop: Duration::from_secs(6),
            retry: 1,
            delay_before_retry: Duration::from_secs(1),
            warmup: Duration::ZERO,
            alpha: false,
            log_all_failures: false,
        }
    }

    const RS: (IpAddr, u16) = (IpAddr::V4(Ipv4Addr::new(198, 18, 1, 11)), 8080);

    fn url(path: &str, host: Option<&str>) -> HttpUrl {
        HttpUrl {
            path: path.into(),
            status: vec![(200, 299)],
            digest: None,
            virtualhost: host.map(Into::into),
        }
    }

    #[test]
    fn tcp_defaults_to_the_real_server_and_connect_timeout() {
        let p = build_probe(&check(HealthCheckKind::Tcp), RS, [0; 16]);
        assert_eq!(p.timeout, Duration::from_secs(3));
        let ProbeKind::Tcp(e) = p.kind else {
            panic!("{:?}", p.kind)
        };
        assert_eq!(e.target, "198.18.1.11:8080".parse().unwrap());
        assert_eq!(e.bind, None);
    }

    #[test]
    fn connect_ip_port_and_bind_override() {
        let mut c = check(HealthCheckKind::Tcp);
        c.connect_ip = Some("198.18.9.9".parse().unwrap());
        c.port = Some(9000);
        c.bindto = Some("198.18.0.1".parse().unwrap());
        let e = endpoint(&c, RS);
        assert_eq!(e.target, "198.18.9.9:9000".parse().unwrap());
        assert_eq!(e.bind, Some("198.18.0.1:0".parse().unwrap()));
        c.bind_port = Some(5555);
        assert_eq!(
            endpoint(&c, RS).bind,
            Some("198.18.0.1:5555".parse().unwrap())
        );
        // A port alone binds the unspecified address of the target's family.
        c.bindto = None;
        assert_eq!(endpoint(&c, RS).bind, Some("0.0.0.0:5555".parse().unwrap()));
        let v6 = (IpAddr::V6("2001:db8::11".parse().unwrap()), 80);
        c.connect_ip = None;
        assert_eq!(endpoint(&c, v6).bind, Some("[::]:5555".parse().unwrap()));
    }

    #[test]
    fn http_host_is_the_virtualhost_or_the_target() {
        let http = HttpCheck {
            urls: vec![url("/a", Some("www.example.com")), url("/b", None)],
            protocol: HttpProtocol::Http11,
        };
        let p = build_probe(&check(HealthCheckKind::Http(http.clone())), RS, [0; 16]);
        let ProbeKind::Http { tls, requests, .. } = p.kind else {
            panic!()
        };
        assert!(tls.is_none());
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].host, "www.example.com");
        assert_eq!(requests[0].path, "/a");
        assert_eq!(requests[1].host, "198.18.1.11:8080");
        assert_eq!(requests[1].protocol, HttpProtocol::Http11);

        let v6 = (IpAddr::V6("2001:db8::11".parse().unwrap()), 443);
        let tls = TlsCheck {
            sni: Some("www.example.com".into()),
            verify: true,
            ca_file: Some(PathBuf::from("/etc/ca.pem")),
        };
        let p = build_probe(&check(HealthCheckKind::Ssl(http, tls)), v6, [0; 16]);
        let ProbeKind::Http { tls, requests, .. } = p.kind else {
            panic!()
        };
        let tls = tls.unwrap();
        assert_eq!(tls.sni.as_deref(), Some("www.example.com"));
        assert!(tls.verify);
        assert_eq!(requests[1].host, "[2001:db8::11]:443");
    }

    #[test]
    fn udp_payload_is_configured_or_random() {
        let mut udp = UdpCheck {
            payload: None,
            require_reply: true,
            reply_pattern: Some(vec![(0xab, 0xff)]),
            min_reply_length: 1,
            max_reply_length: 64,
        };
        let p = build_probe(&check(HealthCheckKind::Udp(udp.clone())), RS, [7; 16]);
        let ProbeKind::Udp {
            payload, expect, ..
        } = p.kind
        else {
            panic!()
        };
        assert_eq!(payload, vec![7; 16]);
        assert!(expect.require_reply);
        assert_eq!((expect.min_len, expect.max_len), (1, 64));
        assert_eq!(expect.pattern, Some(vec![(0xab, 0xff)]));
        udp.payload = Some(b"ping".to_vec());
        let p = build_probe(&check(HealthCheckKind::Udp(udp)), RS, [7; 16]);
        let ProbeKind::Udp { payload, .. } = p.kind else {
            panic!()
        };
        assert_eq!(payload, b"ping");
    }

    #[test]
    fn dns_smtp_icmp_fields() {
        let dns = DnsCheck {
            query_type: DnsQueryType::Aaaa,
            name: "example.com".into(),
        };
        let p = build_probe(&check(HealthCheckKind::Dns(dns)), RS, [0; 16]);
        assert!(matches!(
            p.kind,
            ProbeKind::Dns { query_type: 28, ref name, .. } if name == "example.com"
        ));
        let p = build_probe(
            &check(HealthCheckKind::Smtp {
                helo_name: "me.example".into(),
            }),
            RS,
            [0; 16],
        );
        assert!(
            matches!(p.kind, ProbeKind::Smtp { ref helo_name, .. } if helo_name == "me.example")
        );
        let mut c = check(HealthCheckKind::Icmp);
        c.bindto = Some("198.18.0.1".parse().unwrap());
        let p = build_probe(&c, RS, [0; 16]);
        assert_eq!(
            p.kind,
            ProbeKind::Icmp {
                target: RS.0,
                bind: Some("198.18.0.1".parse().unwrap())
            }
        );
        assert_eq!(target_label(&c, RS), "198.18.1.11");
    }

    #[test]
    fn misc_uses_its_own_timeout_and_file_one_second() {
        let script = Script {
            argv: vec!["/bin/check".into(), "a b".into()],
            user: None,
            group: None,
        };
        let misc = MiscCheck {
            script: script.clone(),
            timeout: Duration::from_secs(17),
            dynamic: true,
        };
        let c = check(HealthCheckKind::Misc(misc));
        let p = build_probe(&c, RS, [0; 16]);
        assert_eq!(p.timeout, Duration::from_secs(17));
        assert_eq!(
            p.kind,
            ProbeKind::Misc {
                script,
                dynamic: true
            }
        );
        assert_eq!(target_label(&c, RS), "/bin/check a b");
        let file = FileCheck {
            path: "/run/w".into(),
            weight: -2,
            reverse: true,
        };
        let c = check(HealthCheckKind::File(file));
        let p = build_probe(&c, RS, [0; 16]);
        assert_eq!(p.timeout, FILE_TIMEOUT);
        assert_eq!(
            p.kind,
            ProbeKind::File {
                path: "/run/w".into(),
                weight: -2,
                reverse: true
            }
        );
        assert_eq!(target_label(&c, RS), "/run/w");
    }
}
