//! `xvs diff`: what differs between the file's snapshot and the running
//! one after runtime changes, line by line.

use xvs_config::edit::{diff, Change, RunningConfig, ServerRef, ServiceRef};
use xvs_config::{load_str, Snapshot};

const LAB: &str = include_str!("../../../config/lab.yaml");
const NAT: &str = include_str!("../../../config/nat.yaml");
const DR: &str = include_str!("../../../config/dr.yaml");
const WEB: &str = "tcp:198.18.0.100:80";

fn service(text: &str) -> ServiceRef {
    ServiceRef::parse(text).expect("a service")
}

fn server(text: &str) -> ServerRef {
    ServerRef::parse(text).expect("a server")
}

/// The diff after applying `changes` to `text`.
#[track_caller]
fn drift(text: &str, changes: &[Change]) -> Vec<String> {
    let (mut running, file) = RunningConfig::from_text(text, "f.yaml").expect("valid");
    let mut now = file.clone();
    for change in changes {
        now = running
            .apply(change)
            .unwrap_or_else(|e| panic!("{change}: {e}"));
    }
    diff(&file, &now)
}

fn edit_service(yaml: &str) -> Change {
    Change::EditService {
        service: service(WEB),
        yaml: yaml.into(),
    }
}

fn add_server(yaml: &str) -> Change {
    Change::AddRealServer {
        service: service(WEB),
        yaml: yaml.into(),
    }
}

fn edit_server(rs: &str, yaml: &str) -> Change {
    Change::EditRealServer {
        service: service(WEB),
        server: server(rs),
        yaml: yaml.into(),
    }
}

fn remove_server(rs: &str) -> Change {
    Change::RemoveRealServer {
        service: service(WEB),
        server: server(rs),
    }
}

#[test]
fn no_change_no_drift() {
    assert!(drift(LAB, &[]).is_empty());
    let drain = Change::DrainRealServer {
        service: service(WEB),
        server: server("198.18.1.11"),
    };
    let undo = edit_server("198.18.1.11", "{weight: 1}");
    assert!(drift(LAB, &[drain, undo]).is_empty());
}

#[test]
fn services_added_and_removed() {
    let add = Change::AddService {
        yaml: "{vip: 198.18.0.101, port: 443, scheduler: rr, method: nat, \
               real_servers: [{address: 198.18.1.21, weight: 2}, {address: 198.18.1.22}]}"
            .into(),
    };
    let remove = Change::RemoveService {
        service: service(WEB),
    };
    assert_eq!(
        drift(LAB, &[add, remove]),
        [
            "- service tcp:198.18.0.100:80 (rr, nat)",
            "+ service tcp:198.18.0.101:443 (rr, nat)",
            "+ real server 198.18.1.21:443 of tcp:198.18.0.101:443 (weight 2, nat)",
            "+ real server 198.18.1.22:443 of tcp:198.18.0.101:443 (weight 1, nat)",
        ]
    );
}

#[test]
fn changed_keys_of_a_service() {
    assert_eq!(
        drift(
            NAT,
            &[edit_service(
                "{scheduler: sh, flags: [sh-fallback], persistence: {timeout: 600, netmask: 255.255.255.0}, name: www, quorum: 2}"
            )]
        ),
        [
            "~ service tcp:198.18.0.100:80: name web -> www",
            "~ service tcp:198.18.0.100:80: scheduler wrr -> sh",
            "~ service tcp:198.18.0.100:80: flags none -> fallback",
            "~ service tcp:198.18.0.100:80: persistence off -> 600s/24",
            "~ service tcp:198.18.0.100:80: quorum 1 -> 2",
        ]
    );
    assert_eq!(
        drift(LAB, &[edit_service("{scheduler: wlc}")]),
        ["~ service tcp:198.18.0.100:80: scheduler rr -> wlc"]
    );
    assert_eq!(
        drift(
            LAB,
            &[edit_service(
                "{sorry_server: {address: 198.18.1.99}, omega: true, quorum_up: /bin/true}"
            )]
        ),
        [
            "~ service tcp:198.18.0.100:80: quorum_up changed",
            "~ service tcp:198.18.0.100:80: sorry_server none -> 198.18.1.99:80 (nat, weight 1)",
            "~ service tcp:198.18.0.100:80: omega false -> true",
        ]
    );
}

#[test]
fn real_servers_added_removed_and_changed() {
    assert_eq!(
        drift(
            NAT,
            &[
                add_server("{address: 198.18.1.13, port: 8080, weight: 2}"),
                remove_server("198.18.1.12"),
                edit_server(
                    "198.18.1.11",
                    "{weight: 1, upper_threshold: 0, lower_threshold: 0, health: {type: tcp}, mac: 02:00:00:00:00:11}"
                ),
            ]
        ),
        [
            "~ real server 198.18.1.11:8080 of tcp:198.18.0.100:80: weight 3 -> 1",
            "~ real server 198.18.1.11:8080 of tcp:198.18.0.100:80: upper_threshold 1000 -> 0",
            "~ real server 198.18.1.11:8080 of tcp:198.18.0.100:80: lower_threshold 750 -> 0",
            "~ real server 198.18.1.11:8080 of tcp:198.18.0.100:80: mac none -> 02:00:00:00:00:11",
            "~ real server 198.18.1.11:8080 of tcp:198.18.0.100:80: health http -> tcp",
            "- real server 198.18.1.12:8080 of tcp:198.18.0.100:80",
            "+ real server 198.18.1.13:8080 of tcp:198.18.0.100:80 (weight 2, nat)",
        ]
    );
    assert_eq!(
        drift(
            LAB,
            &[edit_server(
                "198.18.1.12",
                "{health: {type: http, path: /ready}, slowstart: 2.5, inhibit_on_failure: true}"
            )]
        ),
        [
            "~ real server 198.18.1.12:80 of tcp:198.18.0.100:80: health changed",
            "~ real server 198.18.1.12:80 of tcp:198.18.0.100:80: inhibit_on_failure false -> true",
            "~ real server 198.18.1.12:80 of tcp:198.18.0.100:80: slowstart off -> 2.5s",
        ]
    );
}

#[test]
fn weights_after_drains() {
    let drain = |rs: &str| Change::DrainRealServer {
        service: service(WEB),
        server: server(rs),
    };
    assert_eq!(
        drift(DR, &[drain("198.18.1.11"), drain("198.18.1.12")]),
        [
            "~ real server 198.18.1.11:80 of tcp:198.18.0.100:80: weight 3 -> 0",
            "~ real server 198.18.1.12:80 of tcp:198.18.0.100:80: weight 1 -> 0",
        ]
    );
}

#[test]
fn a_server_removed_and_added_back_moves_to_the_end() {
    assert_eq!(
        drift(
            LAB,
            &[
                remove_server("198.18.1.11"),
                add_server("{address: 198.18.1.11, health: {type: http, path: /health}}"),
            ]
        ),
        ["~ service tcp:198.18.0.100:80: real server order changed"]
    );
}

#[test]
fn other_sections_differ_only_when_the_file_was_edited() {
    let file: Snapshot = load_str(NAT, "nat.yaml").expect("valid");
    let edited = NAT.replace("conn_capacity: 262144", "conn_capacity: 524288");
    let running: Snapshot = load_str(&edited, "nat.yaml").expect("valid");
    assert_eq!(
        diff(&file, &running),
        ["~ global: changed (reload to apply the file's)"]
    );
    // Versions and standby VIPs are runtime state, not drift.
    let mut later = file.clone();
    later.version = 7;
    later.standby = vec!["198.18.0.100".parse().expect("ip")];
    assert!(diff(&file, &later).is_empty());
}
