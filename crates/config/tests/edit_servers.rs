//! Runtime changes to real servers with ipvsadm's semantics (-a/-e/-d,
//! and drain = weight 0) on the example configs: ports default as in the
//! file, duplicates and unknown servers are refused naming what exists,
//! and an address or port cannot be edited.

mod edit_support;

use edit_support::*;
use xvs_config::edit::Change;

#[test]
fn add_real_server_defaults_its_port_and_refuses_a_duplicate() {
    let mut running = start(LAB);
    let snap = applied(
        &mut running,
        add_server(WEB, "{address: 198.18.1.14, weight: 2}"),
    );
    let rs = &snap.services[0].real_servers[3];
    assert_eq!((rs.port, rs.weight), (80, 2));
    assert!(rs.checkers.is_empty());
    for yaml in ["{address: 198.18.1.14}", "{address: 198.18.1.11, port: 80}"] {
        let text = refused(&mut running, add_server(WEB, yaml));
        assert!(
            text.contains("(ipvsadm -a refuses it too): edit it instead"),
            "{text}"
        );
    }
    assert_eq!(
        refused(&mut running, add_server(WEB, "{address: 198.18.1.11}")),
        "runtime change: service tcp:198.18.0.100:80 already has real server 198.18.1.11:80 \
         (ipvsadm -a refuses it too): edit it instead"
    );
    // NAT may use another port: a new real server.
    applied(
        &mut running,
        add_server(WEB, "{address: 198.18.1.11, port: 8080}"),
    );
    assert_eq!(
        refused(&mut running, add_server(WEB, "{address: 198.18.1.15, weight: 70000}")),
        "runtime change: services[0].real_servers[5].weight: weight must be 0..=65535 \
         (as ipvsadm -w), got 70000 (refused: add real server 198.18.1.15:80 to tcp:198.18.0.100:80)"
    );
    let text = refused(
        &mut running,
        add_server(WEB, "{address: 198.18.1.15, wieght: 2}"),
    );
    assert!(
        text.starts_with(
            "runtime change: services[0].real_servers[5].wieght: unknown field `wieght`"
        ),
        "{text}"
    );
    let text = refused(&mut running, add_server(WEB, "{address: fd00::15}"));
    assert!(
        text.contains("services[0].real_servers[5].address: real server fd00::15 is IPv6"),
        "{text}"
    );
    let text = refused(
        &mut running,
        add_server("tcp:198.18.0.100:81", "{address: 198.18.1.15}"),
    );
    assert!(
        text.contains("there is no service tcp:198.18.0.100:81 (services: tcp:198.18.0.100:80)"),
        "{text}"
    );
}

#[test]
fn dr_real_servers_keep_the_service_port() {
    let mut running = start(DR);
    let snap = applied(&mut running, add_server(WEB, "{address: 198.18.0.13}"));
    assert_eq!(snap.services[0].real_servers[2].port, 80);
    let text = refused(
        &mut running,
        add_server(WEB, "{address: 198.18.0.14, port: 8080}"),
    );
    assert!(
        text.contains("DR real servers must use the service port (80), got 8080"),
        "{text}"
    );
    // DR needs the real server on a link of the director.
    let text = refused(&mut running, add_server(WEB, "{address: 203.0.113.9}"));
    assert!(
        text.contains(
            "real_servers[3].address: DR real server 203.0.113.9 is not in any interface's prefix"
        ),
        "{text}"
    );
}

#[test]
fn edit_real_server_sets_keys_but_not_its_address() {
    let mut running = start(NAT);
    let snap = applied(
        &mut running,
        edit_server(
            WEB,
            "198.18.1.11:8080",
            "{weight: 5, upper_threshold: null, lower_threshold: null}",
        ),
    );
    let rs = &snap.services[0].real_servers[0];
    assert_eq!(
        (rs.weight, rs.upper_threshold, rs.lower_threshold),
        (5, 0, 0)
    );
    assert_eq!(rs.checkers.len(), 1, "health kept");
    // Without a port: the only real server at that address.
    let snap = applied(
        &mut running,
        edit_server(
            WEB,
            "198.18.1.12",
            "{health: {type: tcp, delay_loop: 2}, address: 198.18.1.12, port: 8080}",
        ),
    );
    assert_eq!(
        snap.services[0].real_servers[1].checkers[0]
            .delay_loop
            .as_secs(),
        2
    );
    for yaml in ["{address: 198.18.1.13}", "{port: 8081}", "{port: null}"] {
        let text = refused(&mut running, edit_server(WEB, "198.18.1.12:8080", yaml));
        assert!(
            text.contains("the address and port identify real server 198.18.1.12:8080 of tcp:198.18.0.100:80 and cannot be edited"),
            "{text}"
        );
    }
    assert_eq!(
        refused(&mut running, edit_server(WEB, "198.18.1.12:8080", "{weight: -1}")),
        "runtime change: services[0].real_servers[1].weight: invalid type: integer `-1`, expected u64 \
         (refused: edit real server 198.18.1.12:8080 of tcp:198.18.0.100:80)"
    );
    let text = refused(
        &mut running,
        edit_server(
            WEB,
            "198.18.1.12:8080",
            "{lower_threshold: 10, upper_threshold: 5}",
        ),
    );
    assert!(
        text.contains(
            "real_servers[1].lower_threshold: lower_threshold 10 is above upper_threshold 5"
        ),
        "{text}"
    );
    assert_eq!(
        refused(
            &mut running,
            edit_server(WEB, "198.18.1.14:80", "{weight: 1}")
        ),
        "runtime change: service tcp:198.18.0.100:80 has no real server 198.18.1.14:80 \
         (it has 198.18.1.11:8080, 198.18.1.12:8080)"
    );
    applied(
        &mut running,
        add_server(WEB, "{address: 198.18.1.12, port: 8081}"),
    );
    assert_eq!(
        refused(&mut running, edit_server(WEB, "198.18.1.12", "{weight: 1}")),
        "runtime change: service tcp:198.18.0.100:80 has 2 real servers at 198.18.1.12 \
         (198.18.1.12:8080, 198.18.1.12:8081): give the port"
    );
}

#[test]
fn remove_real_server() {
    let mut running = start(LAB);
    let remove = |rs: &str| Change::RemoveRealServer {
        service: service(WEB),
        server: server(rs),
    };
    let snap = applied(&mut running, remove("198.18.1.12"));
    let left: Vec<String> = snap.services[0]
        .real_servers
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(left, ["198.18.1.11", "198.18.1.13"]);
    let text = refused(&mut running, remove("198.18.1.12:80"));
    assert!(
        text.ends_with("has no real server 198.18.1.12:80 (it has 198.18.1.11:80, 198.18.1.13:80)"),
        "{text}"
    );
    applied(&mut running, remove("198.18.1.11:80"));
    let snap = applied(&mut running, remove("198.18.1.13"));
    assert!(snap.services[0].real_servers.is_empty());
    let text = refused(&mut running, remove("198.18.1.13"));
    assert!(text.ends_with("(it has none)"), "{text}");
}

#[test]
fn drain_sets_weight_zero_and_is_idempotent() {
    let mut running = start(NAT);
    let drain = |rs: &str| Change::DrainRealServer {
        service: service(WEB),
        server: server(rs),
    };
    let snap = applied(&mut running, drain("198.18.1.11"));
    assert_eq!(weights(&snap, 0), [0, 1]);
    assert_eq!(
        snap.services[0].real_servers[0].upper_threshold, 1000,
        "only the weight"
    );
    // Again: accepted, nothing differs.
    let again = applied(&mut running, drain("198.18.1.11:8080"));
    assert_eq!(again, snap);
    assert_eq!(running.changes(), 2);
    let text = refused(&mut running, drain("198.18.1.13"));
    assert!(text.contains("has no real server 198.18.1.13"), "{text}");
}
