//! The daemon's side of `list` and `conns`: the running plan's services
//! with their live counters and rates, and the connection table's entries,
//! as [`super::data`] values.
//!
//! Services and real servers come out in ipvsadm's order (libipvs
//! `ipvs_cmp_services` / `ipvs_cmp_dests`: family, protocol, address,
//! port), as `ipvsadm -Ln` prints them. Connections are read with
//! [`ConnTable::for_each`]: lock-free copies, the workers never wait.

use std::net::IpAddr;

use xvs_config::edit::{ServerRef, ServiceRef};
use xvs_config::{ForwardMethod, Protocol, SchedulerKind, VirtualService};
use xvs_conn::{ConnEntry, ConnTable};
use xvs_dataplane::{Plan, StatsTotals};

use super::data::{
    ConnListing, ConnsListing, Counters, Endpoint, Listing, PersistenceListing, RateListing,
    RealServerListing, ServiceListing,
};
use crate::estimator::{RateTable, Rates};

/// `list`: every service, or only `only` (an error naming it if the
/// running configuration has no such service).
pub fn listing(
    plan: &Plan,
    rates: &RateTable,
    only: Option<ServiceRef>,
) -> Result<Listing, String> {
    let snapshot = &plan.snapshot;
    let mut order: Vec<usize> = (0..snapshot.services.len().min(plan.services.len())).collect();
    order.sort_by_key(|&i| {
        let s = &snapshot.services[i];
        (addr_key(s.vip), s.protocol.number(), s.port)
    });
    if let Some(want) = only {
        order.retain(|&i| ServiceRef::of(&snapshot.services[i]) == want);
        if order.is_empty() {
            return Err(format!(
                "no service {want} in the running configuration (`xvs list` shows them)"
            ));
        }
    }
    let services = order
        .into_iter()
        .map(|si| service_listing(plan, rates, si))
        .collect();
    Ok(Listing {
        conn_capacity: snapshot.global.conn_capacity,
        services,
    })
}

fn service_listing(plan: &Plan, rates: &RateTable, si: usize) -> ServiceListing {
    let svc = &plan.snapshot.services[si];
    let live = &plan.services[si];
    let mut order: Vec<usize> = (0..svc.real_servers.len().min(live.sched_dests.len())).collect();
    order.sort_by_key(|&di| {
        let rs = &svc.real_servers[di];
        (addr_key(rs.address), rs.port)
    });
    let real_servers = order
        .into_iter()
        .map(|di| {
            let rs = &svc.real_servers[di];
            let load = &live.sched_dests[di].load;
            let id = live.dest_ids.get(di).copied();
            let dest = id.and_then(|id| plan.dest(id));
            RealServerListing {
                address: rs.address,
                port: rs.port,
                method: method_word(rs.method).to_string(),
                weight: rs.weight,
                active_conns: load.activeconns(),
                inactive_conns: load.inactconns(),
                stats: counters(dest.map(|d| d.shared.stats.totals()).unwrap_or_default()),
                rate: rate(id.map(|id| rates.dest(id)).unwrap_or_default()),
            }
        })
        .collect();
    ServiceListing {
        name: svc.name.clone(),
        protocol: protocol_word(svc.protocol).to_string(),
        vip: svc.vip,
        port: svc.port,
        scheduler: svc.scheduler.name().to_string(),
        flags: sched_flags(svc),
        persistence: svc.persistence.map(|p| PersistenceListing {
            timeout: p.timeout.as_secs(),
            prefix: p.prefix,
        }),
        ops: svc.ops,
        synproxy: svc.synproxy,
        stats: counters(live.shared.stats.totals()),
        rate: rate(rates.service(svc.protocol, svc.vip, svc.port)),
        real_servers,
    }
}

/// `conns`: every entry of the table (templates too), optionally only
/// those of one service and/or one real server, sorted by service, client
/// and real server. `now_secs` is the table's clock.
pub fn conns(
    table: &ConnTable,
    now_secs: u32,
    service: Option<ServiceRef>,
    real_server: Option<ServerRef>,
) -> ConnsListing {
    let mut connections = Vec::new();
    table.for_each(|e| {
        if service.is_some_and(|s| !of_service(e, s))
            || real_server.is_some_and(|r| !of_server(e, r))
        {
            return;
        }
        connections.push(conn_listing(e, now_secs));
    });
    connections.sort_by(|a, b| {
        (&a.protocol, a.vservice, a.source, a.destination).cmp(&(
            &b.protocol,
            b.vservice,
            b.source,
            b.destination,
        ))
    });
    ConnsListing { connections }
}

fn of_service(e: &ConnEntry, s: ServiceRef) -> bool {
    e.protocol == s.protocol.number() && e.vaddr == s.vip && e.vport == s.port
}

fn of_server(e: &ConnEntry, r: ServerRef) -> bool {
    e.daddr == r.address && r.port.is_none_or(|p| p == e.dport)
}

fn conn_listing(e: &ConnEntry, now_secs: u32) -> ConnListing {
    let method = e.flags.method();
    ConnListing {
        protocol: match Protocol::from_number(e.protocol) {
            Some(p) => protocol_word(p).to_string(),
            // ipvsadm -Lnc: firewall-mark templates (protocol 0) show "IP".
            None if e.protocol == 0 => "ip".to_string(),
            None => e.protocol.to_string(),
        },
        state: e.state.name().to_string(),
        expires_in: e.expires_in(now_secs),
        template: e.is_template(),
        method: method.map_or("other", method_word).to_string(),
        source: Endpoint {
            address: e.caddr,
            port: e.cport,
        },
        vservice: Endpoint {
            address: e.vaddr,
            port: e.vport,
        },
        local: (method == Some(ForwardMethod::FullNat)).then_some(Endpoint {
            address: e.laddr,
            port: e.lport,
        }),
        destination: Endpoint {
            address: e.daddr,
            port: e.dport,
        },
        worker: e.id.worker(),
    }
}

/// The configuration file's word for a method.
pub fn method_word(m: ForwardMethod) -> &'static str {
    match m {
        ForwardMethod::Dr => "dr",
        ForwardMethod::Nat => "nat",
        ForwardMethod::Tun => "tun",
        ForwardMethod::FullNat => "fullnat",
    }
}

fn protocol_word(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// Flag names in ipvsadm's order (SCHED1 fallback, then SCHED2 port),
/// `mh-` for Maglev and `sh-` otherwise, as ipvsadm prints them.
fn sched_flags(svc: &VirtualService) -> Vec<String> {
    let prefix = if svc.scheduler == SchedulerKind::Mh {
        "mh"
    } else {
        "sh"
    };
    let mut names = Vec::new();
    if svc.sched_flags.fallback {
        names.push(format!("{prefix}-fallback"));
    }
    if svc.sched_flags.port {
        names.push(format!("{prefix}-port"));
    }
    names
}

/// AF_INET (2) sorts before AF_INET6 (10), then the address as a number.
fn addr_key(addr: IpAddr) -> (u8, u128) {
    match addr {
        IpAddr::V4(a) => (0, u128::from(u32::from(a))),
        IpAddr::V6(a) => (1, u128::from(a)),
    }
}

fn counters(t: StatsTotals) -> Counters {
    Counters {
        conns: t.conns,
        in_packets: t.in_packets,
        out_packets: t.out_packets,
        in_bytes: t.in_bytes,
        out_bytes: t.out_bytes,
    }
}

fn rate(r: Rates) -> RateListing {
    RateListing {
        cps: r.cps,
        in_pps: r.in_pps,
        out_pps: r.out_pps,
        in_bps: r.in_bps,
        out_bps: r.out_bps,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use xvs_conn::{ConnFlags, ConnState, NewConn};
    use xvs_dataplane::DestRegistry;

    use super::*;

    pub(crate) fn plan(yaml: &str) -> Plan {
        let snap = xvs_config::load_str(yaml, "t.yaml").expect("valid");
        Plan::compile(Arc::new(snap), &mut DestRegistry::new(1), None).expect("compiles")
    }

    const TWO: &str = "
services:
  - vip: 198.18.0.100
    port: 80
    method: nat
    real_servers:
      - {address: 198.18.1.12, weight: 2}
      - {address: 198.18.1.11}
  - vip: 198.18.0.100
    port: 53
    protocol: udp
    scheduler: mh
    flags: [mh-port]
    persistence: {timeout: 60, netmask: 255.255.255.0}
    real_servers:
      - {address: 198.18.1.11, method: dr}
  - vip: 198.18.0.10
    port: 80
    real_servers: []
";

    #[test]
    fn services_and_real_servers_in_ipvsadm_order() {
        let p = plan(TWO);
        let l = listing(&p, &RateTable::default(), None).expect("all");
        let keys: Vec<String> = l
            .services
            .iter()
            .map(|s| format!("{} {}:{}", s.protocol, s.vip, s.port))
            .collect();
        assert_eq!(
            keys,
            [
                "tcp 198.18.0.10:80",
                "tcp 198.18.0.100:80",
                "udp 198.18.0.100:53"
            ]
        );
        let web = &l.services[1];
        assert_eq!(web.scheduler, "wlc");
        let rs: Vec<(String, u32, &str)> = web
            .real_servers
            .iter()
            .map(|r| (r.address.to_string(), r.weight, r.method.as_str()))
            .collect();
        assert_eq!(
            rs,
            [
                ("198.18.1.11".to_string(), 1, "nat"),
                ("198.18.1.12".to_string(), 2, "nat")
            ]
        );
        let dns = &l.services[2];
        assert_eq!(dns.flags, ["mh-port"]);
        assert_eq!(
            dns.persistence,
            Some(PersistenceListing {
                timeout: 60,
                prefix: 24
            })
        );
        assert_eq!(dns.real_servers[0].method, "dr");
        assert_eq!(l.conn_capacity, 1 << 20);
    }

    #[test]
    fn one_service_or_a_clear_error() {
        let p = plan(TWO);
        let want = ServiceRef::parse("udp:198.18.0.100:53").expect("valid");
        let l = listing(&p, &RateTable::default(), Some(want)).expect("exists");
        assert_eq!(l.services.len(), 1);
        assert_eq!(l.services[0].port, 53);
        let missing = ServiceRef::parse("udp:198.18.0.100:54").expect("valid");
        let err = listing(&p, &RateTable::default(), Some(missing)).expect_err("absent");
        assert_eq!(
            err,
            "no service udp:198.18.0.100:54 in the running configuration (`xvs list` shows them)"
        );
    }

    fn new_conn(cport: u16, daddr: &str, dport: u16, flags: ConnFlags, laddr: &str) -> NewConn {
        NewConn {
            protocol: 6,
            caddr: "198.18.0.1".parse().expect("literal"),
            cport,
            vaddr: "198.18.0.100".parse().expect("literal"),
            vport: 80,
            laddr: laddr.parse().expect("literal"),
            lport: cport + 1,
            daddr: daddr.parse().expect("literal"),
            dport,
            flags,
            dest_id: 0,
            controller: None,
            state: ConnState::Established,
            timeout_secs: 900,
        }
    }

    #[test]
    fn conns_with_filters() {
        let table = ConnTable::new(1024, 2);
        let nat = ConnFlags::for_method(ForwardMethod::Nat);
        let fnat = ConnFlags::for_method(ForwardMethod::FullNat);
        table
            .insert(
                0,
                &new_conn(1000, "198.18.1.11", 8080, nat, "198.18.0.1"),
                100,
            )
            .expect("room");
        table
            .insert(
                1,
                &new_conn(1001, "198.18.1.12", 8080, fnat, "198.18.1.200"),
                100,
            )
            .expect("room");
        let mut udp = new_conn(1002, "198.18.1.11", 53, nat, "198.18.0.1");
        udp.protocol = 17;
        udp.vport = 53;
        udp.state = ConnState::Udp;
        udp.timeout_secs = 300;
        table.insert(0, &udp, 100).expect("room");

        let all = conns(&table, 160, None, None);
        assert_eq!(all.connections.len(), 3);
        let first = &all.connections[0];
        assert_eq!(
            (
                first.protocol.as_str(),
                first.state.as_str(),
                first.expires_in
            ),
            ("tcp", "ESTABLISHED", 840)
        );
        assert_eq!(first.local, None);
        let full = &all.connections[1];
        assert_eq!(full.method, "fullnat");
        assert_eq!(full.worker, 1);
        assert_eq!(
            full.local,
            Some(Endpoint {
                address: "198.18.1.200".parse().expect("literal"),
                port: 1002
            })
        );
        assert_eq!(all.connections[2].state, "UDP");

        let web = ServiceRef::parse("tcp:198.18.0.100:80").ok();
        assert_eq!(conns(&table, 160, web, None).connections.len(), 2);
        let rs = ServerRef::parse("198.18.1.11").ok();
        assert_eq!(conns(&table, 160, None, rs).connections.len(), 2);
        assert_eq!(conns(&table, 160, web, rs).connections.len(), 1);
        let rs_port = ServerRef::parse("198.18.1.11:53").ok();
        let only = conns(&table, 160, None, rs_port);
        assert_eq!(only.connections.len(), 1);
        assert_eq!(only.connections[0].protocol, "udp");
        let dns = ServiceRef::parse("udp:198.18.0.100:53").ok();
        assert_eq!(conns(&table, 160, dns, rs).connections.len(), 1);
        let none = ServiceRef::parse("udp:198.18.0.100:80").ok();
        assert!(conns(&table, 160, none, None).connections.is_empty());
    }
}
