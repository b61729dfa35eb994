//! One test per rejection rule for the document as a whole, `global`,
//! `interfaces` and `vrrp`: each feeds a small document and asserts the
//! exact `file:line:col: key:` the operator sees, plus the gist of the
//! message.

mod common;

use common::{accepts, rejects};

// ---- whole document ----------------------------------------------------

#[test]
fn empty_file() {
    rejects("", "1:1", "", "the config is empty");
    rejects("# just a comment\n\n", "1:1", "", "the config is empty");
}

#[test]
fn not_a_mapping() {
    rejects("- vip: 198.18.0.1\n", "1:1", "", "the top level is a list");
    rejects("\nservices\n", "2:1", "", "the top level is a single value");
}

#[test]
fn yaml_syntax_error() {
    // The unterminated quote is reported where the quoted scalar starts.
    rejects(
        "services:\n  - vip: \"198.18.0.1\n",
        "2:10",
        "",
        "YAML syntax error",
    );
}

#[test]
fn unknown_key() {
    rejects(
        "global:\n  workers: [0]\n  worker_count: 2\n",
        "3:3",
        "global.worker_count",
        "unknown field `worker_count`",
    );
}

#[test]
fn wrong_type() {
    rejects(
        "services:\n  - vip: 198.18.0.1\n    port: http\n",
        "3:11",
        "services[0].port",
        "invalid type",
    );
}

#[test]
fn missing_required_key() {
    rejects(
        "services:\n  - vip: 198.18.0.1\n",
        "2:5",
        "services[0]",
        "missing field `port`",
    );
}

#[test]
fn duplicate_key() {
    rejects(
        "services:\n  - vip: 198.18.0.1\n    port: 80\n    port: 81\n",
        "4:5",
        "",
        "duplicate key `port` (first given at 3:5)",
    );
}

#[test]
fn two_documents() {
    rejects(
        "services: []\n---\nservices: []\n",
        "2:1",
        "",
        "one YAML document",
    );
}

// ---- global ------------------------------------------------------------------

#[test]
fn workers_empty() {
    rejects(
        "global:\n  workers: []\n",
        "2:3",
        "global.workers",
        "at least one worker core",
    );
}

#[test]
fn workers_duplicate_core() {
    rejects(
        "global:\n  workers: [0, 1, 0]\n",
        "2:19",
        "global.workers[2]",
        "core 0 is already listed at workers[0]",
    );
}

#[test]
fn conn_capacity_zero() {
    rejects(
        "global:\n  conn_capacity: 0\n",
        "2:3",
        "global.conn_capacity",
        "at least one entry",
    );
}

#[test]
fn timeout_zero() {
    rejects(
        "global:\n  timeouts:\n    tcp: 900\n    udp: 0\n",
        "4:5",
        "global.timeouts.udp",
        "at least 1 second",
    );
}

#[test]
fn ring_size_not_power_of_two() {
    rejects(
        "global:\n  ring_size: 1000\n",
        "2:3",
        "global.ring_size",
        "power of two",
    );
}

// ---- interfaces ----------------------------------------------------------------

const IFACES: &str = "\
interfaces:
  - name: eth0
    mac: 02:00:00:00:00:01
    addresses: [198.18.0.2/24]
    gateway_v4: 198.18.0.1
  - name: eth1
    addresses: [198.18.1.1/24]
";

#[test]
fn bad_interface_mac() {
    rejects(
        &IFACES.replace("02:00:00:00:00:01", "02:00:00:00:01"),
        "3:10",
        "interfaces[0].mac",
        "is not a MAC address",
    );
    rejects(
        &IFACES.replace("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff"),
        "3:10",
        "interfaces[0].mac",
        "unicast MAC",
    );
}

#[test]
fn bad_real_server_mac() {
    let yaml = "\
services:
  - vip: 198.18.0.100
    port: 80
    real_servers:
      - address: 198.18.0.11
        mac: \"02:00:00:00:00:zz\"
";
    rejects(
        yaml,
        "6:14",
        "services[0].real_servers[0].mac",
        "is not a MAC address",
    );
}

#[test]
fn bad_address() {
    rejects(
        "services:\n  - vip: 198.18.0.300\n    port: 80\n",
        "2:10",
        "services[0].vip",
        "`198.18.0.300` is not an IPv4 or IPv6 address",
    );
}

#[test]
fn bad_prefix() {
    rejects(
        &IFACES.replace("198.18.1.1/24", "198.18.1.1/33"),
        "7:17",
        "interfaces[1].addresses[0]",
        "bad prefix length `/33`",
    );
}

#[test]
fn duplicate_interface_name() {
    rejects(
        &IFACES.replace("name: eth1", "name: eth0"),
        "6:5",
        "interfaces[1].name",
        "interface `eth0` is already defined by interfaces[0]",
    );
}

#[test]
fn gateway_off_link() {
    rejects(
        &IFACES.replace("gateway_v4: 198.18.0.1", "gateway_v4: 198.18.5.1"),
        "5:5",
        "interfaces[0].gateway_v4",
        "not in any IPv4 prefix of `eth0`",
    );
}

#[test]
fn dr_real_server_off_link() {
    let yaml = format!(
        "{IFACES}services:\n  - vip: 198.18.0.100\n    port: 80\n    real_servers:\n      - address: 198.18.7.11\n"
    );
    rejects(
        &yaml,
        "12:9",
        "services[0].real_servers[0].address",
        "must share a link with the director",
    );
    // A static MAC says the operator knows it is on the link.
    accepts(&format!("{yaml}        mac: 02:00:00:00:00:99\n"));
}

// ---- VRRP ----------------------------------------------------------------------

const VRRP: &str = "\
interfaces:
  - name: eth0
    addresses: [198.18.0.2/24]
vrrp:
  - name: VI_1
    interface: eth0
    vrid: 51
    priority: 100
    version: 2
    auth_pass: secret
    virtual_addresses: [198.18.0.100/24]
";

#[test]
fn vrrp_example_is_valid() {
    let snap = accepts(VRRP);
    let inst = &snap.vrrp[0];
    assert_eq!((inst.vrid, inst.priority, inst.version), (51, 100, 2));
    assert_eq!(inst.advert_interval.as_secs(), 1);
    assert!(inst.preempt && !inst.initial_master);
}

#[test]
fn vrrp_vrid_zero() {
    rejects(
        &VRRP.replace("vrid: 51", "vrid: 0"),
        "7:5",
        "vrrp[0].vrid",
        "VRID must be 1..=255, got 0",
    );
}

#[test]
fn vrrp_priority_zero() {
    rejects(
        &VRRP.replace("priority: 100", "priority: 0"),
        "8:5",
        "vrrp[0].priority",
        "priority 0 is reserved",
    );
}

#[test]
fn vrrp_version_not_2_or_3() {
    rejects(
        &VRRP.replace("version: 2", "version: 4"),
        "9:5",
        "vrrp[0].version",
        "version must be 2 or 3, got 4",
    );
}

#[test]
fn vrrp_auth_pass_too_long() {
    rejects(
        &VRRP.replace("auth_pass: secret", "auth_pass: secret123"),
        "10:5",
        "vrrp[0].auth_pass",
        "the VRRPv2 password is 1 to 8 bytes",
    );
}

#[test]
fn vrrp_auth_pass_with_v3() {
    rejects(
        &VRRP.replace("version: 2", "version: 3"),
        "10:5",
        "vrrp[0].auth_pass",
        "VRRPv3 has no authentication",
    );
}

#[test]
fn vrrp_same_vrid_on_one_interface() {
    let yaml = format!(
        "{VRRP}  - name: VI_2\n    interface: eth0\n    vrid: 51\n    virtual_addresses: [198.18.0.101]\n"
    );
    rejects(
        &yaml,
        "14:5",
        "vrrp[1].vrid",
        "VRID 51 on `eth0` is already used by vrrp[0] (VI_1)",
    );
}

#[test]
fn vrrp_same_vrid_for_another_family_is_fine() {
    let yaml = format!(
        "{VRRP}  - name: VI_2\n    interface: eth0\n    vrid: 51\n    virtual_addresses: [\"fd00::100/64\"]\n"
    );
    let snap = accepts(&yaml);
    assert_eq!(snap.vrrp[1].version, 3, "IPv6 defaults to VRRPv3");
}

#[test]
fn vrrp_unknown_interface() {
    rejects(
        &VRRP.replace("interface: eth0", "interface: eth9"),
        "6:5",
        "vrrp[0].interface",
        "unknown interface `eth9` (interfaces: eth0)",
    );
}

#[test]
fn vrrp_empty_virtual_addresses() {
    rejects(
        &VRRP.replace("[198.18.0.100/24]", "[]"),
        "11:5",
        "vrrp[0].virtual_addresses",
        "at least one virtual address",
    );
}

#[test]
fn vrrp_v2_with_ipv6() {
    rejects(
        &VRRP
            .replace("198.18.0.100/24", "\"fd00::100/64\"")
            .replace("    auth_pass: secret\n", ""),
        "9:5",
        "vrrp[0].version",
        "VRRPv2 (RFC 3768) is IPv4-only",
    );
}

#[test]
fn vrrp_mixed_families() {
    rejects(
        &VRRP.replace("[198.18.0.100/24]", "[198.18.0.100/24, \"fd00::100\"]"),
        "11:42",
        "vrrp[0].virtual_addresses[1]",
        "one address family",
    );
}

#[test]
fn vrrp_nopreempt_with_master_state() {
    rejects(
        &VRRP.replace(
            "    version: 2\n",
            "    version: 2\n    state: master\n    preempt: false\n",
        ),
        "11:5",
        "vrrp[0].preempt",
        "preempt: false needs state: backup",
    );
}

#[test]
fn vrrp_v2_fractional_interval() {
    rejects(
        &VRRP.replace(
            "    version: 2\n",
            "    version: 2\n    advert_interval: 0.5\n",
        ),
        "10:5",
        "vrrp[0].advert_interval",
        "VRRPv2 adverts are whole seconds",
    );
}
