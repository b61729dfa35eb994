//! `global.metrics_listen`: the Prometheus endpoint's address — off by
//! default, IPv4 or IPv6 ADDRESS:PORT, a name or port 0 refused at the
//! key's line:col.

mod common;

use common::{accepts, rejects};

#[test]
fn off_by_default() {
    assert_eq!(accepts("{}\n").global.metrics_listen, None);
}

#[test]
fn ipv4_and_ipv6_addresses() {
    let snap = accepts("global:\n  metrics_listen: 127.0.0.1:9100\n");
    assert_eq!(
        snap.global.metrics_listen,
        Some("127.0.0.1:9100".parse().expect("literal"))
    );
    // A flow sequence to YAML unless quoted.
    let snap = accepts("global:\n  metrics_listen: \"[::1]:9100\"\n");
    assert_eq!(
        snap.global.metrics_listen,
        Some("[::1]:9100".parse().expect("literal"))
    );
}

#[test]
fn not_an_address() {
    rejects(
        "global:\n  workers: [0]\n  metrics_listen: localhost:9100\n",
        "3:3",
        "global.metrics_listen",
        "`localhost:9100` is not ADDRESS:PORT; write e.g. 127.0.0.1:9100",
    );
    rejects(
        "global:\n  metrics_listen: 127.0.0.1\n",
        "2:3",
        "global.metrics_listen",
        "is not ADDRESS:PORT",
    );
}

#[test]
fn port_zero() {
    rejects(
        "global:\n  metrics_listen: 0.0.0.0:0\n",
        "2:3",
        "global.metrics_listen",
        "port 0 would pick a random port",
    );
}
