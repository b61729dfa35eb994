//! `global.synproxy_key`: the SYN cookie key shared by directors behind
//! one ECMP route — off (random per start) by default, exactly 32 hex
//! digits, anything else refused at the key's line:col without echoing it.

mod common;

use common::{accepts, rejects};
use xvs_config::SynproxyKey;

#[test]
fn random_per_start_by_default() {
    assert_eq!(accepts("{}\n").global.synproxy_key, None);
}

#[test]
fn thirty_two_hex_digits() {
    let snap = accepts("global:\n  synproxy_key: 00112233445566778899aabbccddeeFF\n");
    assert_eq!(
        snap.global.synproxy_key,
        Some(SynproxyKey([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff
        ]))
    );
    assert_eq!(
        format!("{:?}", snap.global.synproxy_key),
        "Some(SynproxyKey(..))",
        "Debug does not print the key"
    );
}

#[test]
fn not_a_key() {
    rejects(
        "global:\n  workers: [0]\n  synproxy_key: 0011223344556677\n",
        "3:3",
        "global.synproxy_key",
        "16 characters, not 32 hex digits",
    );
    rejects(
        "global:\n  synproxy_key: 00112233445566778899aabbccddeegg\n",
        "2:3",
        "global.synproxy_key",
        "not 32 hex digits",
    );
    rejects(
        "global:\n  synproxy_key: \"00000000000000000000000000000000\"\n",
        "2:3",
        "global.synproxy_key",
        "all zeros is a placeholder",
    );
}
