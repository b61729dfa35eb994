//! VRRP in the config: every key of a `vrrp:` instance (tracking and
//! notify scripts included) with keepalived's defaults (REFERENCE §8.4),
//! the values each accepts, and one test per rejection rule with the exact
//! `file:line:col: key:` the operator sees. `vrrp_scripts:` and
//! `vrrp_sync_groups:` are in tests/vrrp_groups.rs.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{accepts, rejects, BASE};
use xvs_config::{load_str, GarpSettings, V3Checksum, VrrpInstance};

/// BASE with `keys` added to VI_1.
fn one(keys: &str) -> String {
    format!("{BASE}{keys}")
}

/// BASE with `keys1` added to VI_1, a second instance VI_2 (its name on
/// line 17 plus the lines of `keys1`) with `keys2`, then `tail`.
fn two(keys1: &str, keys2: &str, tail: &str) -> String {
    format!(
        "{BASE}{keys1}  - name: VI_2\n    interface: eth1\n    vrid: 52\n    virtual_addresses: [198.18.1.1/24]\n{keys2}{tail}"
    )
}

/// The first instance of an accepted config.
#[track_caller]
fn instance(yaml: &str) -> VrrpInstance {
    accepts(yaml).vrrp.swap_remove(0)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address literal")
}

// ---- defaults ------------------------------------------------------------------

#[test]
fn instance_defaults_follow_keepalived() {
    let snap = accepts(BASE);
    let inst = &snap.vrrp[0];
    assert_eq!((inst.priority, inst.version), (100, 2));
    assert_eq!(inst.advert_interval, Duration::from_secs(1));
    assert!(!inst.initial_master && inst.preempt);
    assert_eq!(inst.preempt_delay, Duration::ZERO);
    assert_eq!(inst.source_address, None);
    assert!(inst.unicast_peers.is_empty() && inst.auth_pass.is_none());
    assert_eq!(inst.down_timer_adverts, 3, "the RFCs' 3 intervals");
    assert_eq!(inst.v3_checksum, V3Checksum::PseudoHeader);
    assert!(!inst.use_vmac);
    assert!(inst.accept, "keepalived accepts unless vrrp_strict");
    assert_eq!(
        inst.garp,
        GarpSettings {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
        }
    );
    assert!(inst.track_interfaces.is_empty() && inst.track_scripts.is_empty());
    assert_eq!(inst.notify, Default::default());
    assert!(snap.vrrp_sync_groups.is_empty());
    assert!(snap.standby.is_empty());
}

#[test]
fn standby_is_runtime_state_not_a_key() {
    rejects(
        &format!("{BASE}standby: [198.18.0.100]\n"),
        "17:1",
        "standby",
        "unknown field `standby`",
    );
}

#[test]
fn top_level_message_names_the_vrrp_keys() {
    rejects(
        "",
        "1:1",
        "",
        "global, interfaces, local_pools, services, vrrp, vrrp_scripts, vrrp_sync_groups, sync",
    );
}

// ---- priority, preempt, accept --------------------------------------------------

#[test]
fn owner_always_preempts() {
    rejects(
        &one("    priority: 255\n    preempt: false\n"),
        "18:5",
        "vrrp[0].preempt",
        "an address owner (priority 255) always preempts",
    );
    let inst = instance(&one("    priority: 254\n    preempt: false\n"));
    assert!(!inst.preempt);
}

#[test]
fn accept() {
    assert!(!instance(&one("    accept: false\n")).accept);
    assert!(instance(&one("    accept: true\n")).accept);
    assert!(instance(&one("    priority: 255\n    accept: true\n")).accept);
    rejects(
        &one("    priority: 255\n    accept: false\n"),
        "18:5",
        "vrrp[0].accept",
        "an address owner (priority 255) always accepts",
    );
    rejects(
        &one("    accept: yes please\n"),
        "17:13",
        "vrrp[0].accept",
        "invalid type",
    );
}

// ---- preempt_delay ----------------------------------------------------------------

#[test]
fn preempt_delay_values() {
    let inst = instance(&one("    preempt_delay: 300\n"));
    assert_eq!(inst.preempt_delay, Duration::from_secs(300));
    let inst = instance(&one("    preempt_delay: 4.12\n"));
    assert_eq!(inst.preempt_delay, Duration::from_secs_f64(4.12));
    let inst = instance(&one("    preempt_delay: 1000\n"));
    assert_eq!(inst.preempt_delay, Duration::from_secs(1000));
    // 0 is the default, so it fits any state.
    let inst = instance(&one("    state: master\n    preempt_delay: 0\n"));
    assert_eq!(inst.preempt_delay, Duration::ZERO);
}

#[test]
fn preempt_delay_out_of_range() {
    rejects(
        &one("    preempt_delay: 1001\n"),
        "17:5",
        "vrrp[0].preempt_delay",
        "preempt_delay must be 0..=1000 seconds",
    );
    rejects(
        &one("    preempt_delay: -1\n"),
        "17:5",
        "vrrp[0].preempt_delay",
        "got -1",
    );
    rejects(
        &one("    preempt_delay: .nan\n"),
        "17:5",
        "vrrp[0].preempt_delay",
        "must be 0..=1000",
    );
}

#[test]
fn preempt_delay_needs_backup_and_preemption() {
    rejects(
        &one("    state: master\n    preempt_delay: 10\n"),
        "18:5",
        "vrrp[0].preempt_delay",
        "preempt_delay needs state: backup",
    );
    rejects(
        &one("    preempt: false\n    preempt_delay: 10\n"),
        "18:5",
        "vrrp[0].preempt_delay",
        "preempt: false turns preemption off",
    );
    let inst = instance(&one("    state: backup\n    preempt_delay: 10\n"));
    assert!(inst.preempt && !inst.initial_master);
}

// ---- source_address ----------------------------------------------------------------

#[test]
fn source_address_values() {
    let inst = instance(&one("    source_address: 198.18.0.2\n"));
    assert_eq!(inst.source_address, Some(ip("198.18.0.2")));
    // IPv6: a link-local source is fine though eth0 lists none; a global one
    // only towards unicast peers, and then one of eth0's.
    let v6 = "    virtual_addresses: [\"fd00::100/64\"]\n";
    let base6 = BASE.replace("    virtual_addresses: [198.18.0.100/24]\n", v6);
    let inst = instance(&format!("{base6}    source_address: \"fe80::1\"\n"));
    assert_eq!(inst.source_address, Some(ip("fe80::1")));
    let inst = instance(&format!(
        "{base6}    unicast_peers: [\"fd00::3\"]\n    source_address: \"fd00::2\"\n"
    ));
    assert_eq!(inst.source_address, Some(ip("fd00::2")));
    // Without addresses to compare with, any unicast address goes.
    let bare = "vrrp:\n  - name: VI_1\n    interface: eth0\n    vrid: 51\n    virtual_addresses: [198.18.0.100]\n    source_address: 198.18.0.77\n";
    assert_eq!(instance(bare).source_address, Some(ip("198.18.0.77")));
}

#[test]
fn source_address_of_the_other_family() {
    rejects(
        &one("    source_address: \"fd00::2\"\n"),
        "17:5",
        "vrrp[0].source_address",
        "fd00::2 is an IPv6 address, but the instance's virtual addresses are IPv4",
    );
}

#[test]
fn source_address_not_on_the_interface() {
    rejects(
        &one("    source_address: 198.18.1.2\n"),
        "17:5",
        "vrrp[0].source_address",
        "198.18.1.2 is not an address of `eth0` (its IPv4 addresses: 198.18.0.2)",
    );
    let base6 = BASE.replace("[198.18.0.100/24]", "[\"fd00::100/64\"]");
    rejects(
        &format!("{base6}    unicast_peers: [\"fd00::3\"]\n    source_address: \"fd00::9\"\n"),
        "18:5",
        "vrrp[0].source_address",
        "fd00::9 is not an address of `eth0` (its IPv6 addresses: fd00::2)",
    );
    // A listed link-local address makes the link-local source checkable.
    let listed = base6.replace("\"fd00::2/64\"]", "\"fd00::2/64\", \"fe80::2/64\"]");
    rejects(
        &format!("{listed}    source_address: \"fe80::9\"\n"),
        "17:5",
        "vrrp[0].source_address",
        "its IPv6 addresses: fe80::2",
    );
}

#[test]
fn source_address_not_unicast() {
    for bad in ["0.0.0.0", "224.0.0.18", "255.255.255.255", "127.0.0.1"] {
        rejects(
            &one(&format!("    source_address: {bad}\n")),
            "17:5",
            "vrrp[0].source_address",
            "cannot be the source of adverts",
        );
    }
}

#[test]
fn source_address_ipv6_multicast_needs_link_local() {
    rejects(
        &(BASE.replace("[198.18.0.100/24]", "[\"fd00::100/64\"]")
            + "    source_address: \"fd00::2\"\n"),
        "17:5",
        "vrrp[0].source_address",
        "fd00::2 is not link-local; multicast IPv6 adverts are sent from the interface's link-local",
    );
}

#[test]
fn source_address_not_an_address() {
    rejects(
        &one("    source_address: eth0\n"),
        "17:21",
        "vrrp[0].source_address",
        "`eth0` is not an IPv4 or IPv6 address",
    );
}

// ---- down_timer_adverts ------------------------------------------------------------

#[test]
fn down_timer_adverts() {
    assert_eq!(
        instance(&one("    down_timer_adverts: 1\n")).down_timer_adverts,
        1
    );
    assert_eq!(
        instance(&one("    down_timer_adverts: 100\n")).down_timer_adverts,
        100
    );
    for bad in ["0", "101"] {
        rejects(
            &one(&format!("    down_timer_adverts: {bad}\n")),
            "17:5",
            "vrrp[0].down_timer_adverts",
            &format!("down_timer_adverts must be 1..=100 advert intervals (keepalived's range; the RFCs use 3), got {bad}"),
        );
    }
    rejects(
        &one("    down_timer_adverts: -3\n"),
        "17:25",
        "vrrp[0].down_timer_adverts",
        "invalid type: integer `-3`, expected u64",
    );
}

// ---- v3_checksum -------------------------------------------------------------------

#[test]
fn v3_checksum_values() {
    let inst = instance(&one("    version: 3\n    v3_checksum: message_only\n"));
    assert_eq!(inst.v3_checksum, V3Checksum::MessageOnly);
    let inst = instance(&one("    version: 3\n    v3_checksum: pseudo_header\n"));
    assert_eq!(inst.v3_checksum, V3Checksum::PseudoHeader);
    rejects(
        &one("    version: 3\n    v3_checksum: rfc9568\n"),
        "18:18",
        "vrrp[0].v3_checksum",
        "unknown variant `rfc9568`, expected `pseudo_header` or `message_only`",
    );
}

#[test]
fn v3_checksum_only_for_v3_over_ipv4() {
    rejects(
        &one("    v3_checksum: message_only\n"),
        "17:5",
        "vrrp[0].v3_checksum",
        "VRRPv2 always sums the message alone (RFC 3768 §5.3.8)",
    );
    rejects(
        &(BASE.replace("[198.18.0.100/24]", "[\"fd00::100/64\"]")
            + "    v3_checksum: pseudo_header\n"),
        "17:5",
        "vrrp[0].v3_checksum",
        "over IPv6 the checksum always covers the pseudo-header (RFC 5798 §5.2.8)",
    );
}

// ---- use_vmac ------------------------------------------------------------------------

#[test]
fn use_vmac() {
    assert!(instance(&one("    use_vmac: true\n")).use_vmac);
    assert!(!instance(&one("    use_vmac: false\n")).use_vmac);
    rejects(
        &one("    use_vmac: vrrp.51\n"),
        "17:15",
        "vrrp[0].use_vmac",
        "invalid type",
    );
}

// ---- garp_master_* -----------------------------------------------------------------

#[test]
fn garp_values() {
    let garp = instance(&one(
        "    garp_master_delay: 0\n    garp_master_repeat: 1\n    garp_master_refresh: 60\n    garp_master_refresh_repeat: 2\n",
    ))
    .garp;
    assert_eq!(
        garp,
        GarpSettings {
            master_delay: Duration::ZERO,
            master_repeat: 1,
            master_refresh: Some(Duration::from_secs(60)),
            master_refresh_repeat: 2,
        }
    );
    let garp = instance(&one(
        "    garp_master_delay: 1.5\n    garp_master_repeat: 255\n    garp_master_refresh: 0\n",
    ))
    .garp;
    assert_eq!(garp.master_delay, Duration::from_millis(1500));
    assert_eq!(garp.master_repeat, 255);
    assert_eq!(garp.master_refresh, None, "0 turns refreshing off");
    assert_eq!(garp.master_refresh_repeat, 1);
}

#[test]
fn garp_bad_values() {
    rejects(
        &one("    garp_master_delay: -5\n"),
        "17:5",
        "vrrp[0].garp_master_delay",
        "must be zero or more seconds, got -5",
    );
    for bad in ["0", "256"] {
        rejects(
            &one(&format!("    garp_master_repeat: {bad}\n")),
            "17:5",
            "vrrp[0].garp_master_repeat",
            &format!("garp_master_repeat must be 1..=255 announcements per address, got {bad}"),
        );
    }
    rejects(
        &one("    garp_master_refresh: -1\n"),
        "17:5",
        "vrrp[0].garp_master_refresh",
        "must be zero or more seconds",
    );
    rejects(
        &one("    garp_master_refresh: 10\n    garp_master_refresh_repeat: 0\n"),
        "18:5",
        "vrrp[0].garp_master_refresh_repeat",
        "garp_master_refresh_repeat must be 1..=255",
    );
}

#[test]
fn garp_refresh_repeat_without_refresh() {
    rejects(
        &one("    garp_master_refresh_repeat: 3\n"),
        "17:5",
        "vrrp[0].garp_master_refresh_repeat",
        "has no effect without a garp_master_refresh interval",
    );
    rejects(
        &one("    garp_master_refresh: 0\n    garp_master_refresh_repeat: 3\n"),
        "18:5",
        "vrrp[0].garp_master_refresh_repeat",
        "has no effect without a garp_master_refresh interval",
    );
}

// ---- track_interfaces ----------------------------------------------------------------

#[test]
fn track_interfaces_both_forms() {
    let inst = instance(&one(
        "    track_interfaces:\n      - eth1\n      - {name: eth0, weight: -253}\n      - name: lo\n        weight: 253\n",
    ).replace("  - name: eth1\n    addresses", "  - name: lo\n  - name: eth1\n    addresses"));
    let tracked: Vec<(&str, i32)> = inst
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(tracked, [("eth1", 0), ("eth0", -253), ("lo", 253)]);
    // Without an interfaces: list any name is taken.
    let bare = "vrrp:\n  - name: VI_1\n    interface: eth0\n    vrid: 51\n    virtual_addresses: [198.18.0.100]\n    track_interfaces: [bond0]\n";
    assert_eq!(instance(bare).track_interfaces[0].name, "bond0");
}

#[test]
fn track_interface_may_be_any_system_interface_with_a_valid_name() {
    // Not listed under interfaces: an uplink xvs does not forward on.
    let cfg = one("    track_interfaces: [eth1, uplink0]\n");
    assert_eq!(instance(&cfg).track_interfaces[1].name, "uplink0");
    rejects(
        &one("    track_interfaces:\n      - eth1\n      - name: an-uplink-name-too-long\n        weight: 10\n"),
        "19:9",
        "vrrp[0].track_interfaces[1].name",
        "is not an interface name",
    );
}

#[test]
fn track_interface_twice() {
    rejects(
        &one("    track_interfaces: [eth1, {name: eth1, weight: 5}]\n"),
        "17:31",
        "vrrp[0].track_interfaces[1].name",
        "interface `eth1` is already tracked by track_interfaces[0]",
    );
}

#[test]
fn track_interface_empty_name() {
    rejects(
        &one("    track_interfaces: [\"\"]\n"),
        "17:24",
        "vrrp[0].track_interfaces[0]",
        "a tracked interface needs a name",
    );
}

#[test]
fn track_interface_weight_out_of_range() {
    for bad in ["254", "-254"] {
        rejects(
            &one(&format!(
                "    track_interfaces:\n      - name: eth1\n        weight: {bad}\n"
            )),
            "19:9",
            "vrrp[0].track_interfaces[0].weight",
            &format!("weight must be -253..=253 (keepalived's range), got {bad}"),
        );
    }
}

#[test]
fn track_interface_bad_shape() {
    rejects(
        &one("    track_interfaces:\n      - {name: eth1, reverse: true}\n"),
        "18:22",
        "vrrp[0].track_interfaces[0].reverse",
        "unknown field `reverse`, expected `name` or `weight`",
    );
    rejects(
        &one("    track_interfaces: [7]\n"),
        "17:24",
        "vrrp[0].track_interfaces[0]",
        "expected an interface name, or {name, weight}",
    );
}

// ---- track_scripts -------------------------------------------------------------------

#[test]
fn track_scripts_both_forms() {
    let inst = instance(&one(
        "    track_scripts:\n      - chk_web\n      - chk_db\n",
    ));
    let tracked: Vec<(usize, i32, bool)> = inst
        .track_scripts
        .iter()
        .map(|t| (t.script, t.weight, t.reverse))
        .collect();
    assert_eq!(
        tracked,
        [(0, 0, false), (1, -20, false)],
        "the scripts' weights"
    );

    let inst = instance(&one(
        "    track_scripts:\n      - {name: chk_db, weight: 30, reverse: true}\n      - name: chk_web\n        reverse: true\n",
    ));
    let tracked: Vec<(usize, i32, bool)> = inst
        .track_scripts
        .iter()
        .map(|t| (t.script, t.weight, t.reverse))
        .collect();
    assert_eq!(tracked, [(1, 30, true), (0, 0, true)]);

    // weight 0 overrides a weighted script: FAULT while it fails.
    let inst = instance(&one("    track_scripts: [{name: chk_db, weight: 0}]\n"));
    assert_eq!(inst.track_scripts[0].weight, 0);
}

#[test]
fn track_script_unknown() {
    rejects(
        &one("    track_scripts: [chk_web, chk_dns]\n"),
        "17:30",
        "vrrp[0].track_scripts[1]",
        "unknown vrrp script `chk_dns` (vrrp_scripts: chk_web, chk_db)",
    );
    let yaml = two(
        "",
        "    track_scripts:\n      - name: chk_web\n      - name: chk_dns\n        weight: 5\n",
        "",
    );
    rejects(
        &yaml,
        "23:9",
        "vrrp[1].track_scripts[1].name",
        "unknown vrrp script `chk_dns`",
    );
    let no_scripts = "vrrp:\n  - name: VI_1\n    interface: eth0\n    vrid: 51\n    virtual_addresses: [198.18.0.100]\n    track_scripts: [chk_web]\n";
    rejects(
        no_scripts,
        "6:21",
        "vrrp[0].track_scripts[0]",
        "unknown vrrp script `chk_web`: no vrrp_scripts are defined",
    );
}

#[test]
fn track_script_twice() {
    rejects(
        &one("    track_scripts:\n      - chk_db\n      - {name: chk_db, weight: 0}\n"),
        "19:10",
        "vrrp[0].track_scripts[1].name",
        "vrrp script `chk_db` is already tracked by track_scripts[0]",
    );
}

#[test]
fn track_script_empty_name() {
    rejects(
        &one("    track_scripts: [{name: \"\"}]\n"),
        "17:22",
        "vrrp[0].track_scripts[0].name",
        "a tracked script needs the name of a vrrp_scripts entry",
    );
}

#[test]
fn track_script_weight_out_of_range() {
    rejects(
        &one("    track_scripts: [{name: chk_web, weight: 300}]\n"),
        "17:37",
        "vrrp[0].track_scripts[0].weight",
        "weight must be -253..=253 (keepalived's range), got 300",
    );
}

#[test]
fn track_script_bad_shape() {
    rejects(
        &one("    track_scripts: [{name: chk_web, fall: 2}]\n"),
        "17:37",
        "vrrp[0].track_scripts[0].fall",
        "unknown field `fall`, expected one of `name`, `weight`, `reverse`",
    );
}

#[test]
fn owner_trackers_must_be_unweighted() {
    let owner = "    priority: 255\n    state: master\n";
    rejects(
        &one(&format!(
            "{owner}    track_interfaces:\n      - {{name: eth1, weight: -10}}\n"
        )),
        "20:22",
        "vrrp[0].track_interfaces[0].weight",
        "track_interfaces[0] (`eth1`) has weight -10, but an address owner's priority (255) never changes",
    );
    rejects(
        &one(&format!("{owner}    track_scripts: [chk_web, chk_db]\n")),
        "19:30",
        "vrrp[0].track_scripts[1]",
        "track_scripts[1] (`chk_db`) has weight -20, the script's own (vrrp_scripts[1].weight; give weight: 0 here to override it), but an address owner's",
    );
    let inst = instance(&one(&format!(
        "{owner}    track_interfaces: [eth1]\n    track_scripts: [chk_web, {{name: chk_db, weight: 0}}]\n"
    )));
    assert_eq!(inst.priority, 255);
    assert_eq!(inst.track_scripts.len(), 2);
}

// ---- notify scripts --------------------------------------------------------------------

#[test]
fn instance_notify_scripts() {
    let inst = instance(&one(
        "    notify_master: /etc/xvs/to-master.sh\n    notify_backup: \"/etc/xvs/to-state.sh backup\"\n    notify_fault: {command: /etc/xvs/fault.sh, user: nobody:nogroup}\n    notify_stop: /etc/xvs/stop.sh\n    notify: \"/usr/bin/logger -t 'xvs vrrp'\"\n",
    ));
    let n = &inst.notify;
    assert_eq!(n.master.as_ref().unwrap().argv, ["/etc/xvs/to-master.sh"]);
    assert_eq!(
        n.backup.as_ref().unwrap().argv,
        ["/etc/xvs/to-state.sh", "backup"]
    );
    let fault = n.fault.as_ref().unwrap();
    assert_eq!(fault.argv, ["/etc/xvs/fault.sh"]);
    assert_eq!(
        (fault.user.as_deref(), fault.group.as_deref()),
        (Some("nobody"), Some("nogroup"))
    );
    assert_eq!(n.stop.as_ref().unwrap().argv, ["/etc/xvs/stop.sh"]);
    assert_eq!(
        n.any.as_ref().unwrap().argv,
        ["/usr/bin/logger", "-t", "xvs vrrp"]
    );
}

#[test]
fn instance_notify_bad_scripts() {
    rejects(
        &one("    notify_master: \"\"\n"),
        "17:5",
        "vrrp[0].notify_master",
        "the command is empty",
    );
    rejects(
        &one("    notify: \"/bin/x 'unclosed\"\n"),
        "17:5",
        "vrrp[0].notify",
        "cannot split",
    );
    rejects(
        &one("    notify_fault:\n      command: /bin/x\n      user: \"a b\"\n"),
        "19:7",
        "vrrp[0].notify_fault.user",
        "`a b` is not a user name, or user:group",
    );
    rejects(
        &one("    notify_stop: {command: /bin/x, group: wheel}\n"),
        "17:36",
        "vrrp[0].notify_stop.group",
        "unknown field `group`",
    );
}
// ---- positions of the existing keys with the new ones around -----------------------------

#[test]
fn errors_point_into_the_second_instance() {
    let yaml = two(
        "    track_interfaces: [eth1]\n",
        "    preempt_delay: 5\n    state: master\n",
        "",
    );
    let err = load_str(&yaml, "x.yaml").expect_err("preempt_delay with state master");
    assert_eq!(err.key(), "vrrp[1].preempt_delay");
    let at = err.location().expect("has a position");
    assert_eq!((at.line, at.col), (22, 5));
    assert_eq!(
        yaml.lines().nth(at.line - 1).map(str::trim),
        Some("preempt_delay: 5"),
        "the line shown is the key's own"
    );
}
