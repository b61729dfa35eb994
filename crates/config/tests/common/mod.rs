//! Shared assertions of the rejection tests.

use xvs_config::load_str;

/// Assert `yaml` is rejected at `at` ("line:col") on `key` with a message
/// containing `fragment`.
#[track_caller]
pub fn rejects(yaml: &str, at: &str, key: &str, fragment: &str) {
    let err = match load_str(yaml, "bad.yaml") {
        Ok(_) => panic!("accepted a config that must be rejected:\n{yaml}"),
        Err(e) => e,
    };
    let text = err.to_string();
    let prefix = if key.is_empty() {
        format!("bad.yaml:{at}: ")
    } else {
        format!("bad.yaml:{at}: {key}: ")
    };
    assert!(
        text.starts_with(&prefix),
        "expected `{prefix}…`, got `{text}`"
    );
    assert!(text.contains(fragment), "expected `{fragment}` in `{text}`");
}

#[track_caller]
pub fn accepts(yaml: &str) -> xvs_config::Snapshot {
    load_str(yaml, "ok.yaml").unwrap_or_else(|e| panic!("{e}"))
}

/// The VRRP tests' document (tests/vrrp.rs, tests/vrrp_groups.rs): two
/// interfaces, two scripts (the second weighted), one instance whose last
/// key is on line 16; tests append keys (at column 5) from line 17.
#[allow(dead_code)] // not every test binary uses it
pub const BASE: &str = "\
interfaces:
  - name: eth0
    addresses: [198.18.0.2/24, \"fd00::2/64\"]
  - name: eth1
    addresses: [198.18.1.2/24]
vrrp_scripts:
  - name: chk_web
    script: /usr/local/bin/chk_web
  - name: chk_db
    script: /usr/local/bin/chk_db
    weight: -20
vrrp:
  - name: VI_1
    interface: eth0
    vrid: 51
    virtual_addresses: [198.18.0.100/24]
";
