//! `sync:` (connection sync): defaults, every key, and one test per
//! rejection rule with the exact `file:line:col: key:` the operator sees.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{accepts, rejects};

/// Two interfaces; `sync:` starts on line 6, its keys at column 3.
const BASE: &str = "\
interfaces:
  - name: eth0
    addresses: [198.18.0.2/24, \"fd00::2/64\"]
  - name: eth1
    addresses: [198.18.1.2/24]
sync:
  interface: eth1
";

fn with(keys: &str) -> String {
    format!("{BASE}{keys}")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address literal")
}

#[test]
fn defaults_follow_ipvs_where_it_has_them() {
    let snap = accepts(&with("  peers: [198.18.1.3]\n"));
    let s = snap.sync.expect("sync resolved");
    assert_eq!(s.interface, "eth1");
    assert_eq!(s.peers, vec![ip("198.18.1.3")]);
    assert_eq!((s.port, s.sync_id, s.group), (8848, 0, None));
    assert_eq!(
        s.source,
        ip("198.18.1.2"),
        "the interface's address of the peers' family"
    );
    assert_eq!(s.refresh, Duration::from_secs(30));
    assert_eq!(s.max_delay, Duration::from_millis(20));
    assert_eq!(s.sweep_interval, Duration::from_secs(1));
    assert!(s.bulk);
    assert_eq!(
        (s.bulk_timeout, s.bulk_attempts),
        (Duration::from_secs(2), 3)
    );
    assert_eq!(s.queue, 16_384);
}

#[test]
fn no_sync_section_means_no_sync() {
    assert!(accepts("interfaces: []\n").sync.is_none());
}

#[test]
fn every_key_is_taken() {
    let snap = accepts(
        "interfaces:\n  - name: eth0\n    addresses: [198.18.0.2/24, \"fd00::2/64\"]\n\
         sync:\n  interface: eth0\n  peers: [\"fd00::3\", \"fd00::4\"]\n  group: \"ff02::81\"\n\
         \x20 port: 9000\n  sync_id: 7\n  source_address: \"fd00::2\"\n  refresh: 0\n\
         \x20 max_delay: 0.005\n  sweep_interval: 0.5\n  bulk: false\n  bulk_timeout: 1.5\n\
         \x20 bulk_attempts: 5\n  queue: 1024\n",
    );
    let s = snap.sync.expect("sync resolved");
    assert_eq!(s.peers, vec![ip("fd00::3"), ip("fd00::4")]);
    assert_eq!(s.group, Some(ip("ff02::81")));
    assert_eq!((s.port, s.sync_id), (9000, 7));
    assert_eq!(s.source, ip("fd00::2"));
    assert_eq!(s.refresh, Duration::ZERO, "0 turns refreshes off");
    assert_eq!(s.max_delay, Duration::from_millis(5));
    assert_eq!(s.sweep_interval, Duration::from_millis(500));
    assert!(!s.bulk);
    assert_eq!(
        (s.bulk_timeout, s.bulk_attempts, s.queue),
        (Duration::from_millis(1500), 5, 1024)
    );
}

#[test]
fn rejects_an_unknown_interface() {
    rejects(
        "interfaces:\n  - name: eth0\n    addresses: [198.18.0.2/24]\nsync:\n  interface: eth9\n  peers: [198.18.0.3]\n",
        "5:3",
        "sync.interface",
        "unknown interface `eth9` (interfaces: eth0)",
    );
}

#[test]
fn rejects_missing_peers() {
    rejects(&with(""), "6:1", "sync.peers", "list the other directors");
}

#[test]
fn rejects_own_duplicate_and_mixed_peers() {
    rejects(
        &with("  peers: [198.18.0.2]\n"),
        "8:11",
        "sync.peers[0]",
        "this director's own address",
    );
    rejects(
        &with("  peers: [198.18.1.3, 198.18.1.3]\n"),
        "8:23",
        "sync.peers[1]",
        "already listed at peers[0]",
    );
    rejects(
        &with("  peers: [198.18.1.3, \"fd00::3\"]\n"),
        "8:23",
        "sync.peers[1]",
        "the peers share one family",
    );
    rejects(
        &with("  peers: [224.0.0.81]\n"),
        "8:11",
        "sync.peers[0]",
        "not a director's address",
    );
}

#[test]
fn rejects_a_group_that_is_not_multicast_of_the_family() {
    rejects(
        &with("  peers: [198.18.1.3]\n  group: 198.18.1.255\n"),
        "9:3",
        "sync.group",
        "not an IPv4 multicast group",
    );
    rejects(
        &with("  peers: [198.18.1.3]\n  group: \"ff02::81\"\n"),
        "9:3",
        "sync.group",
        "not an IPv4 multicast group",
    );
}

#[test]
fn rejects_a_source_that_cannot_send() {
    rejects(
        &with("  peers: [198.18.1.3]\n  source_address: 198.18.0.2\n"),
        "9:3",
        "sync.source_address",
        "is not an address of `eth1`",
    );
    rejects(
        &with("  peers: [\"fd00::3\"]\n"),
        "7:3",
        "sync.interface",
        "`eth1` has no IPv6 address",
    );
}

#[test]
fn rejects_out_of_range_numbers() {
    let p = "  peers: [198.18.1.3]\n";
    rejects(
        &with(&format!("{p}  port: 0\n")),
        "9:3",
        "sync.port",
        "must be 1..=65535, got 0",
    );
    rejects(
        &with(&format!("{p}  sync_id: 256\n")),
        "9:3",
        "sync.sync_id",
        "must be 0..=255",
    );
    rejects(
        &with(&format!("{p}  max_delay: 3\n")),
        "9:3",
        "sync.max_delay",
        "at most 2 seconds",
    );
    rejects(
        &with(&format!("{p}  max_delay: 0\n")),
        "9:3",
        "sync.max_delay",
        "more than zero",
    );
    rejects(
        &with(&format!("{p}  sweep_interval: 0.01\n")),
        "9:3",
        "sync.sweep_interval",
        "at least 0.1",
    );
    rejects(
        &with(&format!("{p}  bulk_attempts: 0\n")),
        "9:3",
        "sync.bulk_attempts",
        "must be 1..=100",
    );
    rejects(
        &with(&format!("{p}  queue: 8\n")),
        "9:3",
        "sync.queue",
        "must be 64..=4194304",
    );
    rejects(
        &with(&format!("{p}  refresh: -1\n")),
        "9:3",
        "sync.refresh",
        "zero or more",
    );
}

#[test]
fn rejects_unknown_keys_with_their_position() {
    rejects(
        &with("  peers: [198.18.1.3]\n  mcast: yes\n"),
        "9:3",
        "",
        "unknown field `mcast`",
    );
}

#[test]
fn mode_defaults_to_master_backup_and_takes_all_to_all() {
    use xvs_config::SyncMode;
    let s = |keys: &str| accepts(&with(keys)).sync.expect("sync resolved");
    assert_eq!(s("  peers: [198.18.1.3]\n").mode, SyncMode::MasterBackup);
    assert_eq!(
        s("  peers: [198.18.1.3]\n  mode: master_backup\n").mode,
        SyncMode::MasterBackup
    );
    assert_eq!(
        s("  peers: [198.18.1.3, 198.18.1.4]\n  mode: all_to_all\n").mode,
        SyncMode::AllToAll
    );
    rejects(
        &with("  peers: [198.18.1.3]\n  mode: mesh\n"),
        "9:9",
        "",
        "unknown variant `mesh`",
    );
}
