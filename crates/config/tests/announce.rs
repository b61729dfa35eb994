//! `announce:` (BGP announcement through BIRD): defaults, every key, and
//! each rejection with the `file:line:col: key:` the operator sees.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{accepts, rejects};

/// Two services on two VIPs; `announce:` starts on line 11, its keys at
/// column 3.
const BASE: &str = "\
services:
  - vip: 198.18.0.100
    port: 80
    method: dr
    real_servers:
      - address: 198.18.1.11
  - vip: 198.18.0.101
    port: 80
    real_servers:
      - address: 198.18.1.11
announce:
";

fn with(keys: &str) -> String {
    format!("{BASE}{keys}")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address literal")
}

#[test]
fn defaults_announce_every_service_vip_on_the_template_device() {
    let a = accepts(&with("  enabled: true\n"))
        .announce
        .expect("announce resolved");
    assert_eq!(a.device, "xvs-bgp");
    assert_eq!((a.table, a.protocol), (100, 210));
    assert_eq!(a.drain_time, Duration::from_secs(5));
    assert_eq!(a.vips, vec![ip("198.18.0.100"), ip("198.18.0.101")]);
}

#[test]
fn no_section_or_disabled_announces_nothing() {
    assert!(accepts("services: []\n").announce.is_none());
    assert!(accepts(&with("  enabled: false\n")).announce.is_none());
}

#[test]
fn every_key_is_taken() {
    let a = accepts(&with(
        "  device: bgp0\n  table: 4000\n  protocol: 99\n  drain_time: 0.5\n  vips: [198.18.0.101]\n",
    ))
    .announce
    .expect("announce resolved");
    assert_eq!((a.device.as_str(), a.table, a.protocol), ("bgp0", 4000, 99));
    assert_eq!(a.drain_time, Duration::from_millis(500));
    assert_eq!(a.vips, vec![ip("198.18.0.101")]);
    let a = accepts(&with("  drain_time: 0\n")).announce.unwrap();
    assert_eq!(
        a.drain_time,
        Duration::ZERO,
        "0: exit right after withdrawing"
    );
}

#[test]
fn rejections_name_the_key() {
    rejects(
        &with("  vips: [198.18.0.100, 198.18.0.9]\n"),
        "12:24",
        "announce.vips[1]",
        "198.18.0.9 is not the VIP of a service",
    );
    rejects(
        &with("  vips: [198.18.0.100, 198.18.0.100]\n"),
        "12:24",
        "announce.vips[1]",
        "listed twice",
    );
    rejects(
        &with("  table: 254\n"),
        "12:3",
        "announce.table",
        "254 is not a table of its own",
    );
    rejects(
        &with("  protocol: 2\n"),
        "12:3",
        "announce.protocol",
        "must be 5..=255",
    );
    rejects(
        &with("  protocol: 256\n"),
        "12:3",
        "announce.protocol",
        "must be 5..=255",
    );
    rejects(
        &with("  device: a-name-far-too-long\n"),
        "12:3",
        "announce.device",
        "not an interface name",
    );
    rejects(
        &with("  drain_time: -1\n"),
        "12:3",
        "announce.drain_time",
        "",
    );
    rejects(&with("  devcie: x\n"), "12:3", "", "devcie");
}
