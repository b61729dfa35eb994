//! One test per rejection rule for services, real servers, FullNAT pools,
//! and persistence (health checks: tests/health.rs): each feeds a small document and asserts
//! the exact `file:line:col: key:` the operator sees, plus the gist of the
//! message. Positions are of the offending key (or of the entry that lacks
//! a required one).

mod common;

use common::{accepts, rejects};

// ---- services -----------------------------------------------------------

#[test]
fn same_vip_port_protocol_twice() {
    let yaml = "\
services:
  - vip: 198.18.0.100
    port: 80
  - name: again
    vip: 198.18.0.100
    port: 80
";
    rejects(
        yaml,
        "5:5",
        "services[1].vip",
        "TCP 198.18.0.100:80 is already defined by services[0]",
    );
    // The same VIP:port over UDP is another service.
    accepts(&yaml.replace(
        "    port: 80\n  - name",
        "    port: 80\n    protocol: udp\n  - name",
    ));
}

#[test]
fn same_real_server_twice() {
    let yaml = "\
services:
  - vip: 198.18.0.100
    port: 80
    method: nat
    real_servers:
      - address: 198.18.1.11
        port: 8080
      - address: 198.18.1.12
      - address: 198.18.1.11
        port: 8080
";
    rejects(
        yaml,
        "9:9",
        "services[0].real_servers[2]",
        "real server 198.18.1.11:8080 is already listed at real_servers[0]",
    );
}

const DR_PORT: &str = "\
services:
  - vip: 198.18.0.100
    port: 80
    real_servers:
      - address: 198.18.1.11
      - address: 198.18.1.12
        port: 8080
";

#[test]
fn dr_real_server_on_another_port() {
    rejects(
        DR_PORT,
        "7:9",
        "services[0].real_servers[1].port",
        "DR real servers must use the service port (80), got 8080",
    );
}

#[test]
fn tun_real_server_on_another_port() {
    let yaml = DR_PORT.replace("    port: 80\n", "    port: 80\n    method: tun\n");
    rejects(
        &yaml,
        "8:9",
        "services[0].real_servers[1].port",
        "TUN real servers must use the service port (80), got 8080",
    );
}

#[test]
fn dr_real_server_port_defaults_to_service_port() {
    let snap = accepts(&DR_PORT.replace("        port: 8080\n", "        port: 80\n"));
    let ports: Vec<u16> = snap.services[0]
        .real_servers
        .iter()
        .map(|r| r.port)
        .collect();
    assert_eq!(ports, [80, 80]);
    // NAT may map to another port.
    let snap = accepts(&DR_PORT.replace("    port: 80\n", "    port: 80\n    method: nat\n"));
    assert_eq!(snap.services[0].real_servers[1].port, 8080);
}

#[test]
fn port_zero_without_persistence() {
    let yaml = "\
services:
  - vip: 198.18.0.100
    port: 0
";
    rejects(
        yaml,
        "3:5",
        "services[0].port",
        "port 0 (all ports) needs persistence",
    );
    accepts(&format!("{yaml}    persistence: true\n"));
}

#[test]
fn ops_on_tcp() {
    let yaml = "\
services:
  - vip: 198.18.0.53
    port: 53
    ops: true
";
    rejects(yaml, "4:5", "services[0].ops", "only for UDP services");
    accepts(&format!("{yaml}    protocol: udp\n"));
}

#[test]
fn synproxy_needs_tcp_and_replies_through_the_director() {
    let yaml = "\
services:
  - vip: 198.18.0.80
    port: 80
    synproxy: true
    method: METHOD
    real_servers:
      - address: 198.18.1.11
        port: 80
";
    // DR and TUN replies bypass the director: the message says what
    // protects those services instead.
    for (method, word) in [("dr", "DR"), ("tun", "TUN")] {
        rejects(
            &yaml.replace("METHOD", method),
            "4:5",
            "services[0].synproxy",
            &format!("{word} replies bypass the director"),
        );
        rejects(
            &yaml.replace("METHOD", method),
            "4:5",
            "services[0].synproxy",
            "net.ipv4.tcp_syncookies",
        );
    }
    // One DR real server in a NAT service is enough to refuse it.
    rejects(
        &format!("{}        method: dr\n", yaml.replace("METHOD", "nat")),
        "4:5",
        "services[0].synproxy",
        "DR replies bypass the director",
    );
    rejects(
        &yaml.replace("METHOD", "nat").replacen(
            "    port: 80\n",
            "    port: 80\n    protocol: udp\n",
            1,
        ),
        "5:5",
        "services[0].synproxy",
        "for TCP services only",
    );
    accepts(&yaml.replace("METHOD", "nat"));
}

#[test]
fn sh_flag_on_another_scheduler() {
    let yaml = "\
services:
  - vip: 198.18.0.100
    port: 80
    scheduler: wlc
    flags: [sh-port]
";
    rejects(
        yaml,
        "5:13",
        "services[0].flags[0]",
        "`sh-port` applies only to scheduler sh (this service uses wlc)",
    );
}

#[test]
fn mh_flag_on_sh() {
    let yaml = "\
services:
  - vip: 198.18.0.100
    port: 80
    scheduler: sh
    flags:
      - sh-fallback
      - mh-port
";
    rejects(
        yaml,
        "7:9",
        "services[0].flags[1]",
        "`mh-port` applies only to scheduler mh",
    );
}

const MH: &str = "\
services:
  - vip: 198.18.0.100
    port: 80
    scheduler: mh
    mh_table_size: 4093
    real_servers:
      - address: 198.18.1.11
      - address: 198.18.1.12
      - address: 198.18.1.13
";

#[test]
fn mh_table_size_not_prime() {
    rejects(
        &MH.replace("4093", "4096"),
        "5:5",
        "services[0].mh_table_size",
        "must be a prime",
    );
}

#[test]
fn mh_table_smaller_than_real_servers() {
    rejects(
        &MH.replace("4093", "2"),
        "5:5",
        "services[0].mh_table_size",
        "the Maglev table (2 slots) is smaller than the 3 real servers",
    );
    accepts(&MH.replace("4093", "3"));
}

#[test]
fn mh_table_size_on_another_scheduler() {
    rejects(
        &MH.replace("scheduler: mh", "scheduler: rr"),
        "5:5",
        "services[0].mh_table_size",
        "only used by scheduler mh",
    );
}

#[test]
fn unknown_scheduler() {
    rejects(
        &MH.replace("scheduler: mh", "scheduler: maglev"),
        "4:16",
        "services[0].scheduler",
        "unknown scheduler `maglev`",
    );
}

// ---- FullNAT and local pools ---------------------------------------------

const FULLNAT: &str = "\
global:
  workers: [0, 1]
local_pools:
  - name: lip
    addresses: [198.18.1.10, 198.18.1.11]
    ports: 1024-65535
services:
  - vip: 198.18.0.100
    port: 80
    method: fullnat
    local_pool: lip
    real_servers:
      - address: 198.18.1.21
";

#[test]
fn fullnat_example_is_valid() {
    let snap = accepts(FULLNAT);
    assert_eq!(snap.services[0].local_pool, Some(0));
    assert_eq!(
        (snap.local_pools[0].port_min, snap.local_pools[0].port_max),
        (1024, 65535)
    );
}

#[test]
fn fullnat_without_local_pool() {
    rejects(
        &FULLNAT.replace("    local_pool: lip\n", ""),
        "8:5",
        "services[0].local_pool",
        "fullnat needs a local_pool",
    );
}

#[test]
fn fullnat_real_server_override_needs_a_pool_too() {
    let yaml = FULLNAT
        .replace(
            "    method: fullnat\n    local_pool: lip\n",
            "    method: nat\n",
        )
        .replace(
            "      - address: 198.18.1.21\n",
            "      - address: 198.18.1.21\n        method: fullnat\n",
        );
    rejects(
        &yaml,
        "8:5",
        "services[0].local_pool",
        "fullnat needs a local_pool",
    );
}

#[test]
fn unknown_pool_name() {
    rejects(
        &FULLNAT.replace("local_pool: lip", "local_pool: lips"),
        "11:5",
        "services[0].local_pool",
        "unknown local pool `lips` (defined pools: lip)",
    );
}

#[test]
fn local_pool_without_fullnat() {
    rejects(
        &FULLNAT.replace("method: fullnat", "method: nat"),
        "11:5",
        "services[0].local_pool",
        "local_pool is only used by fullnat",
    );
}

#[test]
fn pool_without_addresses() {
    rejects(
        &FULLNAT.replace("[198.18.1.10, 198.18.1.11]", "[]"),
        "5:5",
        "local_pools[0].addresses",
        "needs at least one local address",
    );
}

#[test]
fn pool_of_the_wrong_family() {
    rejects(
        &FULLNAT.replace("[198.18.1.10, 198.18.1.11]", "[\"fd00::10\"]"),
        "11:5",
        "services[0].local_pool",
        "pool `lip` has no IPv4 address for this IPv4 service",
    );
}

#[test]
fn pool_with_inverted_port_range() {
    rejects(
        &FULLNAT.replace("1024-65535", "5000-4000"),
        "6:5",
        "local_pools[0].ports",
        "the port range 5000-4000 is empty",
    );
}

#[test]
fn pool_with_port_zero() {
    rejects(
        &FULLNAT.replace("1024-65535", "0-100"),
        "6:5",
        "local_pools[0].ports",
        "ports must be 1..=65535",
    );
}

#[test]
fn pool_with_fewer_ports_than_workers() {
    rejects(
        &FULLNAT.replace("1024-65535", "2000"),
        "6:5",
        "local_pools[0].ports",
        "1 ports cannot be shared among 2 workers",
    );
    accepts(&FULLNAT.replace("1024-65535", "2000-2001"));
}

#[test]
fn duplicate_pool_name() {
    let yaml = FULLNAT.replace(
        "services:\n",
        "  - name: lip\n    addresses: [198.18.1.12]\nservices:\n",
    );
    rejects(
        &yaml,
        "7:5",
        "local_pools[1].name",
        "pool `lip` is already defined by local_pools[0]",
    );
}

// ---- address families -----------------------------------------------------

const FAMILY: &str = "\
services:
  - vip: 198.18.0.100
    port: 80
    method: METHOD
    real_servers:
      - address: 198.18.1.11
      - address: fd00::11
";

#[test]
fn family_mismatch_nat() {
    rejects(
        &FAMILY.replace("METHOD", "nat"),
        "7:9",
        "services[0].real_servers[1].address",
        "real server fd00::11 is IPv6 but the VIP 198.18.0.100 is IPv4; NAT needs the same family",
    );
}

#[test]
fn family_mismatch_tun() {
    rejects(
        &FAMILY.replace("METHOD", "tun"),
        "7:9",
        "services[0].real_servers[1].address",
        "TUN needs the same family",
    );
}

#[test]
fn family_mismatch_dr() {
    rejects(
        &FAMILY.replace("METHOD", "dr"),
        "7:9",
        "services[0].real_servers[1].address",
        "DR needs the same family",
    );
}

// ---- real-server values ----------------------------------------------------

const RS: &str = "\
services:
  - vip: 198.18.0.100
    port: 80
    method: nat
    real_servers:
      - address: 198.18.1.11
        weight: 1
        upper_threshold: 100
        lower_threshold: 50
";

#[test]
fn weight_above_65535() {
    rejects(
        &RS.replace("weight: 1", "weight: 65536"),
        "7:9",
        "services[0].real_servers[0].weight",
        "weight must be 0..=65535",
    );
    accepts(&RS.replace("weight: 1", "weight: 65535"));
    accepts(&RS.replace("weight: 1", "weight: 0"));
}

#[test]
fn lower_threshold_above_upper() {
    rejects(
        &RS.replace("lower_threshold: 50", "lower_threshold: 150"),
        "9:9",
        "services[0].real_servers[0].lower_threshold",
        "lower_threshold 150 is above upper_threshold 100",
    );
    // Without an upper threshold the lower one is not compared.
    accepts(
        &RS.replace("upper_threshold: 100", "upper_threshold: 0")
            .replace("50", "150"),
    );
}

// ---- persistence -------------------------------------------------------------

const PERSIST: &str = "\
services:
  - vip: 198.18.0.100
    port: 80
    persistence:
      timeout: 300
      netmask: 255.255.255.0
";

#[test]
fn persistence_forms() {
    let snap = accepts(PERSIST);
    let p = snap.services[0].persistence.expect("persistent");
    assert_eq!((p.timeout.as_secs(), p.prefix), (300, 24));
    let snap = accepts(&PERSIST.replace(
        "    persistence:\n      timeout: 300\n      netmask: 255.255.255.0\n",
        "    persistence: true\n",
    ));
    let p = snap.services[0].persistence.expect("persistent");
    assert_eq!((p.timeout.as_secs(), p.prefix), (360, 32));
    let snap = accepts(&PERSIST.replace(
        "    persistence:\n      timeout: 300\n      netmask: 255.255.255.0\n",
        "    persistence: false\n",
    ));
    assert!(snap.services[0].persistence.is_none());
}

#[test]
fn persistence_netmask_not_contiguous() {
    rejects(
        &PERSIST.replace("255.255.255.0", "255.0.255.0"),
        "6:7",
        "services[0].persistence.netmask",
        "netmask 255.0.255.0 is not contiguous",
    );
}

#[test]
fn persistence_ipv6_prefix_above_128() {
    let yaml = PERSIST
        .replace("198.18.0.100", "fd00::100")
        .replace("netmask: 255.255.255.0", "prefix: 129");
    rejects(
        &yaml,
        "6:7",
        "services[0].persistence.prefix",
        "prefix must be 0..=128",
    );
    let snap = accepts(&yaml.replace("129", "64"));
    assert_eq!(snap.services[0].persistence.map(|p| p.prefix), Some(64));
}

#[test]
fn persistence_netmask_on_ipv6() {
    let yaml = PERSIST.replace("198.18.0.100", "fd00::100");
    rejects(
        &yaml,
        "6:7",
        "services[0].persistence.netmask",
        "give an IPv6 service a prefix length",
    );
}

#[test]
fn persistence_timeout_zero() {
    let yaml = PERSIST.replace(
        "    persistence:\n      timeout: 300\n      netmask: 255.255.255.0\n",
        "    persistence: 0\n",
    );
    rejects(
        &yaml,
        "4:5",
        "services[0].persistence",
        "the persistence timeout must be 1..=2678400 s",
    );
}
