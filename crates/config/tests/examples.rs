//! Every example in config/ must load: they are the documentation operators
//! copy from, so a schema change that breaks one fails here.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use xvs_config::{load_file, ForwardMethod, Protocol, SchedulerKind};

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(config_dir())
        .expect("config/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_is_valid() {
    let files = example_files();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for required in [
        "backup.yaml",
        "dr.yaml",
        "fullnat.yaml",
        "health.yaml",
        "lab.yaml",
        "master.yaml",
        "nat.yaml",
        "tun.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "config/{required} is missing"
        );
    }
    for file in &files {
        let snap = load_file(file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !snap.services.is_empty(),
            "{} has no services",
            file.display()
        );
    }
}

#[test]
fn lab_is_a_nat_rr_service_with_three_real_servers() {
    let snap = load_file(&config_dir().join("lab.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = snap.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["xvs-c", "xvs-r"]);
    assert_eq!(snap.services.len(), 1);
    let svc = &snap.services[0];
    assert_eq!(svc.vip, "198.18.0.100".parse::<IpAddr>().expect("literal"));
    assert_eq!((svc.port, svc.protocol), (80, Protocol::Tcp));
    assert_eq!(svc.scheduler, SchedulerKind::Rr);
    let rips: Vec<String> = svc
        .real_servers
        .iter()
        .map(|r| format!("{}:{}", r.address, r.port))
        .collect();
    assert_eq!(rips, ["198.18.1.11:80", "198.18.1.12:80", "198.18.1.13:80"]);
    assert!(svc
        .real_servers
        .iter()
        .all(|r| r.method == ForwardMethod::Nat));
}

#[test]
fn examples_use_only_benchmark_and_ula_addresses() {
    // 198.18.0.0/15 (RFC 2544) and fd00::/8 (RFC 4193) only, so copying an
    // example never points traffic at someone's real network.
    for file in example_files() {
        let snap = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let mut addrs: Vec<IpAddr> = Vec::new();
        for svc in &snap.services {
            addrs.push(svc.vip);
            addrs.extend(svc.real_servers.iter().map(|r| r.address));
            addrs.extend(svc.health.sorry_server.as_ref().map(|s| s.address));
            for c in svc.real_servers.iter().flat_map(|r| &r.checkers) {
                addrs.extend(c.connect_ip);
                addrs.extend(c.bindto);
            }
        }
        for iface in &snap.interfaces {
            addrs.extend(iface.addresses.iter().map(|n| n.addr));
            addrs.extend(iface.gateway_v4.map(IpAddr::V4));
        }
        for pool in &snap.local_pools {
            addrs.extend(pool.addresses.iter().copied());
        }
        for inst in &snap.vrrp {
            addrs.extend(inst.virtual_addresses.iter().map(|n| n.addr));
            addrs.extend(inst.unicast_peers.iter().copied());
            addrs.extend(inst.source_address);
        }
        for addr in addrs {
            let ok = match addr {
                IpAddr::V4(a) => a.octets()[0] == 198 && (a.octets()[1] & 0xfe) == 18,
                IpAddr::V6(a) => a.segments()[0] >> 8 == 0xfd,
            };
            assert!(
                ok,
                "{}: {addr} is outside 198.18.0.0/15 and fd00::/8",
                file.display()
            );
        }
    }
}

#[test]
fn examples_cover_ipv6_and_every_method() {
    let mut methods = Vec::new();
    for name in ["dr.yaml", "nat.yaml"] {
        let snap = load_file(&config_dir().join(name)).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            snap.services.iter().any(|s| s.vip.is_ipv6()),
            "{name} has no IPv6 service"
        );
    }
    for file in example_files() {
        let snap = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        methods.extend(
            snap.services
                .iter()
                .flat_map(|s| s.real_servers.iter().map(|r| r.method)),
        );
    }
    for m in [
        ForwardMethod::Dr,
        ForwardMethod::Nat,
        ForwardMethod::Tun,
        ForwardMethod::FullNat,
    ] {
        assert!(methods.contains(&m), "no example uses {m:?}");
    }
}

#[test]
fn master_and_backup_carry_the_same_services() {
    let master = load_file(&config_dir().join("master.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let backup = load_file(&config_dir().join("backup.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(master.services, backup.services);
    assert!(!master.vrrp.is_empty());
    assert_eq!(master.vrrp.len(), backup.vrrp.len());
    for (m, b) in master.vrrp.iter().zip(&backup.vrrp) {
        assert_eq!(
            (m.vrid, &m.interface, &m.virtual_addresses),
            (b.vrid, &b.interface, &b.virtual_addresses)
        );
        assert!(m.initial_master && !b.initial_master);
        assert!(m.priority > b.priority);
        assert_eq!(
            (&m.track_interfaces, &m.track_scripts),
            (&b.track_interfaces, &b.track_scripts)
        );
    }
    assert_eq!(master.vrrp_scripts, backup.vrrp_scripts);
    assert_eq!(master.vrrp_sync_groups, backup.vrrp_sync_groups);
    assert!(
        !master.vrrp_sync_groups.is_empty(),
        "the pair shows a sync group"
    );
}

#[test]
fn the_health_example_shows_every_checker() {
    let snap = load_file(&config_dir().join("health.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let mut kinds: Vec<&str> = snap
        .services
        .iter()
        .flat_map(|s| &s.real_servers)
        .flat_map(|r| &r.checkers)
        .map(|c| c.type_name())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        ["dns", "file", "http", "icmp", "misc", "smtp", "ssl", "tcp", "udp"]
    );
    let web = &snap.services[0];
    assert!(web.health.sorry_server.is_some() && web.health.quorum == 2);
    assert!(web.real_servers[1].health.inhibit_on_failure);
}

#[test]
fn the_readme_configs_are_valid() {
    let readme = std::fs::read_to_string(config_dir().join("../README.md")).expect("README.md");
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert!(
        blocks.len() >= 2,
        "the README shows a config and a health example"
    );
    for (i, yaml) in blocks.iter().enumerate() {
        xvs_config::load_str(yaml, &format!("README.md yaml block {i}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
