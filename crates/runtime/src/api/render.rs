//! The CLI's text for the listing answers, in ipvsadm's layouts
//! (ipvsadm.c `print_title`, `print_service_entry`, `print_conn`;
//! REFERENCE §6): `-Ln`, `-Ln --stats`, `-Ln --rate` (each with
//! `--exact`) and `-Lnc`. Rendered from the same [`super::data`] a script
//! gets with `--json`, so text and JSON never disagree.
//!
//! Layer: runtime, pure (data in, text out).

use std::fmt::Write as _;

use xvs_config::ipvsadm::{addr_port, dest_name, largenum, largenum_exact, service_line_of};

use super::data::{ConnsListing, Counters, Endpoint, Listing, RateListing, ServiceListing};

/// ip_vs.h IP_VS_VERSION_CODE 0x010201, as ipvsadm prints it.
const IPVS_VERSION: &str = "1.2.1";

/// Which columns `xvs list` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Columns {
    /// Forward, Weight, ActiveConn, InActConn (`ipvsadm -Ln`).
    Connections,
    /// Conns, InPkts, OutPkts, InBytes, OutBytes (`--stats`).
    Stats,
    /// CPS, InPPS, OutPPS, InBPS, OutBPS (`--rate`).
    Rate,
}

/// A listing as ipvsadm prints it. `one_service`: the answer to
/// `--service`, which (like `ipvsadm -Ln -t VIP:PORT`) has no version line.
pub fn listing(l: &Listing, columns: Columns, exact: bool, one_service: bool) -> String {
    let mut out = String::new();
    if !one_service {
        let _ = writeln!(
            out,
            "IP Virtual Server version {IPVS_VERSION} (size={})",
            l.conn_capacity
        );
    }
    match columns {
        Columns::Connections => {
            out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
            out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
        }
        Columns::Stats => title(
            &mut out,
            ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"],
        ),
        Columns::Rate => title(&mut out, ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]),
    }
    let num = |n: u64| {
        if exact {
            largenum_exact(n)
        } else {
            largenum(n)
        }
    };
    for svc in &l.services {
        match columns {
            Columns::Connections => {
                out.push_str(&service_line(svc));
                out.push('\n');
            }
            Columns::Stats => {
                let _ = write!(out, "{:<33}", service_name(svc));
                push_counters(&mut out, &svc.stats, num);
            }
            Columns::Rate => {
                let _ = write!(out, "{:<33}", service_name(svc));
                let r = &svc.rate;
                for n in [r.cps, r.in_pps, r.out_pps, r.in_bps, r.out_bps] {
                    out.push_str(&num(n));
                }
                out.push('\n');
            }
        }
        for rs in &svc.real_servers {
            let name = dest_name(rs.address, rs.port);
            match columns {
                // "  -> %-28s %-7s %-6d %-10u %-10u": trailing blanks kept.
                Columns::Connections => {
                    let _ = writeln!(
                        out,
                        "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                        name,
                        forward_word(&rs.method),
                        rs.weight,
                        rs.active_conns,
                        rs.inactive_conns
                    );
                }
                Columns::Stats => {
                    let _ = write!(out, "  -> {name:<28}");
                    push_counters(&mut out, &rs.stats, num);
                }
                // "  -> %-28s %8llu %8llu %8llu" and the byte rates as largenums.
                Columns::Rate => {
                    let RateListing {
                        cps,
                        in_pps,
                        out_pps,
                        in_bps,
                        out_bps,
                    } = rs.rate;
                    let _ = write!(out, "  -> {name:<28} {cps:>8} {in_pps:>8} {out_pps:>8}");
                    out.push_str(&num(in_bps));
                    out.push_str(&num(out_bps));
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// `"%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n"`.
fn title(out: &mut String, names: [&str; 5]) {
    let _ = write!(out, "{:<33}", "Prot LocalAddress:Port");
    for name in names {
        let _ = write!(out, " {name:>8}");
    }
    out.push_str("\n  -> RemoteAddress:Port\n");
}

fn push_counters(out: &mut String, c: &Counters, num: impl Fn(u64) -> String) {
    for n in [
        c.conns,
        c.in_packets,
        c.out_packets,
        c.in_bytes,
        c.out_bytes,
    ] {
        out.push_str(&num(n));
    }
    out.push('\n');
}

/// `TCP  198.18.0.100:80` (xvs_config::ipvsadm's column).
fn service_name(svc: &ServiceListing) -> String {
    xvs_config::ipvsadm::service_name(&svc.protocol.to_ascii_uppercase(), svc.vip, svc.port)
}

/// A service's line in xvs_config::ipvsadm's `-Ln` layout.
fn service_line(svc: &ServiceListing) -> String {
    service_line_of(
        &svc.protocol.to_ascii_uppercase(),
        svc.vip,
        svc.port,
        &svc.scheduler,
        &svc.flags,
        svc.persistence.map(|p| (p.timeout, p.prefix)),
        svc.ops,
    )
}

/// ipvsadm's Forward column for the file's method word.
fn forward_word(method: &str) -> &str {
    match method {
        "dr" => "Route",
        "nat" => "Masq",
        "tun" => "Tunnel",
        "fullnat" => "FullNat",
        other => other,
    }
}

/// `ipvsadm -Lnc`: `"%-3s %-6s %-11s %-18s %-18s %s"` rows with the
/// expiry as MM:SS. When FullNAT entries are listed, a `local` column (the
/// director's address towards the real server, as DPVS prints it) comes
/// before the destination; other methods show `-` there.
pub fn conns(c: &ConnsListing) -> String {
    let with_local = c.connections.iter().any(|e| e.local.is_some());
    let mut out = String::from("IPVS connection entries\n");
    if with_local {
        out.push_str(
            "pro expire state       source             virtual            local              destination\n",
        );
    } else {
        out.push_str("pro expire state       source             virtual            destination\n");
    }
    for e in &c.connections {
        let expire = format!("{:02}:{:02}", e.expires_in / 60, e.expires_in % 60);
        let _ = write!(
            out,
            "{:<3} {:<6} {:<11} {:<18} {:<18} ",
            e.protocol.to_ascii_uppercase(),
            expire,
            e.state,
            endpoint(&e.source),
            endpoint(&e.vservice),
        );
        if with_local {
            let local = e.local.as_ref().map_or_else(|| "-".to_string(), endpoint);
            let _ = write!(out, "{local:<18} ");
        }
        out.push_str(&endpoint(&e.destination));
        out.push('\n');
    }
    out
}

fn endpoint(e: &Endpoint) -> String {
    addr_port(e.address, e.port)
}

#[cfg(test)]
mod tests {
    use super::super::data::{ConnListing, PersistenceListing, RealServerListing};
    use super::*;
    use crate::estimator::RateTable;

    /// The configuration of xvs_config::ipvsadm's own layout test: the
    /// daemon's listing, rendered here, must print what `xvs check` prints.
    // xvs_config::ipvsadm's layout-test services (one file for both
    // renderers), plus a FullNAT service.
    const CONFIG: &str = concat!(
        include_str!("../../../config/src/ipvsadm_example.yaml"),
        "  - local_pool: lip\n    vip: 198.18.0.1\n    port: 80\n    method: fullnat\n    real_servers:\n      - {address: 198.18.1.20, port: 8080, weight: 65535}\nlocal_pools:\n  - {name: lip, addresses: [198.18.1.10]}\n"
    );

    fn daemon_listing() -> (xvs_config::Snapshot, Listing) {
        let plan = super::super::listing::tests::plan(CONFIG);
        let snap = (*plan.snapshot).clone();
        let l = super::super::listing::listing(&plan, &RateTable::default(), None).expect("all");
        (snap, l)
    }

    #[test]
    fn plain_list_is_what_xvs_check_prints() {
        let (snap, l) = daemon_listing();
        assert_eq!(
            listing(&l, Columns::Connections, false, false),
            xvs_config::ipvsadm::list(&snap)
        );
    }

    #[test]
    fn stats_list_is_ipvsadms() {
        let (snap, mut l) = daemon_listing();
        let zero = xvs_config::ipvsadm::Stats::default();
        assert_eq!(
            listing(&l, Columns::Stats, false, false),
            xvs_config::ipvsadm::list_stats(&snap, |_| zero, |_, _| zero, false)
        );
        // Live numbers go through the same largenum rules.
        let fullnat = l
            .services
            .iter_mut()
            .find(|s| s.vip.to_string() == "198.18.0.1")
            .expect("listed");
        fullnat.stats.out_bytes = 345_678_901;
        let text = listing(&l, Columns::Stats, false, false);
        assert!(
            text.contains(
                "TCP  198.18.0.1:80                       0        0        0        0  345678K\n"
            ),
            "{text}"
        );
        let exact = listing(&l, Columns::Stats, true, false);
        assert!(
            exact.contains(
                "TCP  198.18.0.1:80                       0        0        0        0 345678901\n"
            ),
            "{exact}"
        );
    }

    #[test]
    fn live_connection_counts() {
        let (_, mut l) = daemon_listing();
        let web = l
            .services
            .iter_mut()
            .find(|s| s.port == 80 && s.vip.to_string() == "192.168.10.100")
            .expect("listed");
        web.real_servers[0].active_conns = 12;
        web.real_servers[0].inactive_conns = 40;
        let text = listing(&l, Columns::Connections, false, false);
        assert!(text.contains(
            "TCP  192.168.10.100:80 wlc persistent 300 mask 255.255.255.0\n  -> 10.0.0.11:80                 Masq    3      12         40        \n"
        ), "{text}");
    }

    /// REFERENCE §6's `--rate` layout: services as largenums, real servers'
    /// CPS/InPPS/OutPPS as `%8llu` and the byte rates as largenums.
    #[test]
    fn rate_layout() {
        let rs = RealServerListing {
            address: "10.0.0.11".parse().expect("literal"),
            port: 80,
            method: "nat".into(),
            weight: 1,
            active_conns: 0,
            inactive_conns: 0,
            stats: Counters::default(),
            rate: RateListing {
                cps: 12,
                in_pps: 340,
                out_pps: 310,
                in_bps: 45_678,
                out_bps: 123_456_789,
            },
        };
        let l = Listing {
            conn_capacity: 4096,
            services: vec![ServiceListing {
                name: "web".into(),
                protocol: "tcp".into(),
                vip: "192.168.10.100".parse().expect("literal"),
                port: 80,
                scheduler: "wlc".into(),
                flags: vec![],
                persistence: Some(PersistenceListing {
                    timeout: 300,
                    prefix: 32,
                }),
                ops: false,
                synproxy: false,
                stats: Counters::default(),
                rate: RateListing {
                    cps: 24,
                    in_pps: 680,
                    out_pps: 620,
                    in_bps: 91_356,
                    out_bps: 246_913_578,
                },
                real_servers: vec![rs],
            }],
        };
        assert_eq!(
            listing(&l, Columns::Rate, false, false),
            "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  192.168.10.100:80                  24      680      620    91356  246913K
  -> 10.0.0.11:80                       12      340      310    45678  123456K
"
        );
        // One service (`--service`): no version line, as ipvsadm -t.
        assert!(listing(&l, Columns::Connections, false, true).starts_with(
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nTCP  192.168.10.100:80 wlc persistent 300\n"
        ));
        assert!(listing(&l, Columns::Rate, true, true).contains(
            "  -> 10.0.0.11:80                       12      340      310    45678 123456789\n"
        ));
    }

    fn conn(proto: &str, state: &str, expires_in: u32, local: Option<&str>) -> ConnListing {
        let ep = |s: &str| {
            let a: std::net::SocketAddr = s.parse().expect("literal");
            Endpoint {
                address: a.ip(),
                port: a.port(),
            }
        };
        ConnListing {
            protocol: proto.into(),
            state: state.into(),
            expires_in,
            template: state == "NONE",
            method: if local.is_some() { "fullnat" } else { "nat" }.into(),
            source: ep("192.168.1.50:51234"),
            vservice: ep("192.168.10.100:80"),
            local: local.map(ep),
            destination: ep("10.0.0.11:80"),
            worker: 0,
        }
    }

    /// REFERENCE §6's `-Lnc` example, row for row.
    #[test]
    fn conns_layout() {
        let mut template = conn("tcp", "NONE", 281, None);
        template.source.address = "192.168.1.0".parse().expect("literal");
        template.source.port = 0;
        let c = ConnsListing {
            connections: vec![conn("tcp", "ESTABLISHED", 898, None), template],
        };
        assert_eq!(
            conns(&c),
            "\
IPVS connection entries
pro expire state       source             virtual            destination
TCP 14:58  ESTABLISHED 192.168.1.50:51234 192.168.10.100:80  10.0.0.11:80
TCP 04:41  NONE        192.168.1.0:0      192.168.10.100:80  10.0.0.11:80
"
        );
        let c = ConnsListing {
            connections: vec![
                conn("tcp", "ESTABLISHED", 59, Some("10.0.0.200:20001")),
                conn("udp", "UDP", 6000, None),
            ],
        };
        assert_eq!(
            conns(&c),
            "\
IPVS connection entries
pro expire state       source             virtual            local              destination
TCP 00:59  ESTABLISHED 192.168.1.50:51234 192.168.10.100:80  10.0.0.200:20001   10.0.0.11:80
UDP 100:00 UDP         192.168.1.50:51234 192.168.10.100:80  -                  10.0.0.11:80
"
        );
    }
}
