//! VRRP in the config, second part: `vrrp_scripts:` and
//! `vrrp_sync_groups:` with keepalived's defaults (REFERENCE §8.4), the
//! values each key accepts, and one test per rejection rule with the exact
//! `file:line:col: key:`. Instance keys are in tests/vrrp.rs.

mod common;

use std::time::Duration;

use common::{accepts, rejects, BASE};

/// BASE with `keys1` added to VI_1, a second instance VI_2 (its name on
/// line 17 plus the lines of `keys1`) with `keys2`, then `tail`.
fn two(keys1: &str, keys2: &str, tail: &str) -> String {
    format!(
        "{BASE}{keys1}  - name: VI_2\n    interface: eth1\n    vrid: 52\n    virtual_addresses: [198.18.1.1/24]\n{keys2}{tail}"
    )
}

#[test]
fn script_defaults_follow_keepalived() {
    let snap = accepts(BASE);
    assert_eq!(snap.vrrp_scripts.len(), 2);
    let web = &snap.vrrp_scripts[0];
    assert_eq!(web.name, "chk_web");
    assert_eq!(web.script.argv, ["/usr/local/bin/chk_web"]);
    assert_eq!(web.interval, Duration::from_secs(1));
    assert_eq!(
        web.timeout, web.interval,
        "timeout defaults to the interval"
    );
    assert_eq!((web.weight, web.rise, web.fall), (0, 1, 1));
    assert_eq!(snap.vrrp_scripts[1].weight, -20);

    let snap = accepts(&BASE.replace("    weight: -20\n", "    weight: -20\n    interval: 2.5\n"));
    let db = &snap.vrrp_scripts[1];
    assert_eq!(db.interval, Duration::from_millis(2500));
    assert_eq!(db.timeout, db.interval, "follows a configured interval too");
}

// ---- vrrp_scripts ------------------------------------------------------------------------

/// BASE with `keys` added to the first script (chk_web, line 8 is its
/// last key), so added keys start on line 9.
fn script(keys: &str) -> String {
    BASE.replace(
        "    script: /usr/local/bin/chk_web\n",
        &format!("    script: /usr/local/bin/chk_web\n{keys}"),
    )
}

#[test]
fn vrrp_script_values() {
    let snap = accepts(&script(
        "    interval: 2\n    timeout: 0.5\n    weight: 253\n    rise: 3\n    fall: 2\n",
    ));
    let s = &snap.vrrp_scripts[0];
    assert_eq!(s.interval, Duration::from_secs(2));
    assert_eq!(s.timeout, Duration::from_millis(500));
    assert_eq!((s.weight, s.rise, s.fall), (253, 3, 2));
    let snap = accepts(&BASE.replace(
        "script: /usr/local/bin/chk_web",
        "script: {command: \"/bin/pidof nginx\", user: nobody}",
    ));
    let s = &snap.vrrp_scripts[0].script;
    assert_eq!(s.argv, ["/bin/pidof", "nginx"]);
    assert_eq!(s.user.as_deref(), Some("nobody"));
}

#[test]
fn vrrp_script_name_rules() {
    rejects(
        &BASE.replace("name: chk_db", "name: chk_web"),
        "9:5",
        "vrrp_scripts[1].name",
        "vrrp script `chk_web` is already defined by vrrp_scripts[0]",
    );
    rejects(
        &BASE.replace("name: chk_db", "name: \"\""),
        "9:5",
        "vrrp_scripts[1].name",
        "a vrrp script needs a name",
    );
}

#[test]
fn vrrp_script_bad_command() {
    rejects(
        &BASE.replace("script: /usr/local/bin/chk_web", "script: \"  \""),
        "8:5",
        "vrrp_scripts[0].script",
        "the command is empty",
    );
    rejects(
        &BASE.replace(
            "script: /usr/local/bin/chk_web",
            "script: {command: /bin/x, user: \"root:\"}",
        ),
        "8:31",
        "vrrp_scripts[0].script.user",
        "is not a user name",
    );
    rejects(
        &BASE.replace("    script: /usr/local/bin/chk_web\n", ""),
        "7:5",
        "vrrp_scripts[0]",
        "missing field `script`",
    );
}

#[test]
fn vrrp_script_bad_times() {
    rejects(
        &script("    interval: 0\n"),
        "9:5",
        "vrrp_scripts[0].interval",
        "must be more than zero seconds, got 0",
    );
    rejects(
        &script("    timeout: -1\n"),
        "9:5",
        "vrrp_scripts[0].timeout",
        "must be more than zero seconds, got -1",
    );
}

#[test]
fn vrrp_script_bad_weight_and_counts() {
    rejects(
        &script("    weight: -254\n"),
        "9:5",
        "vrrp_scripts[0].weight",
        "weight must be -253..=253 (keepalived's range), got -254",
    );
    rejects(
        &script("    rise: 0\n"),
        "9:5",
        "vrrp_scripts[0].rise",
        "must be at least 1 (consecutive successes before the result counts)",
    );
    rejects(
        &script("    fall: 0\n"),
        "9:5",
        "vrrp_scripts[0].fall",
        "must be at least 1 (consecutive failures before the result counts)",
    );
    rejects(
        &script("    fall: 5000000000\n"),
        "9:5",
        "vrrp_scripts[0].fall",
        "5000000000 consecutive failures is too many",
    );
    rejects(
        &script("    init_fail: true\n"),
        "9:5",
        "vrrp_scripts[0].init_fail",
        "unknown field `init_fail`",
    );
}

// ---- vrrp_sync_groups ------------------------------------------------------------------

/// VI_1 and VI_2 (VI_2's name on line 17 when `keys1` is empty), then
/// `vrrp_sync_groups:` and `groups` (the first group's name on line 22).
fn grouped(keys1: &str, keys2: &str, groups: &str) -> String {
    two(keys1, keys2, &format!("vrrp_sync_groups:\n{groups}"))
}

const GROUP: &str = "  - name: G1\n    members: [VI_1, VI_2]\n";

#[test]
fn sync_group_values() {
    let snap = accepts(&grouped(
        "",
        "",
        "  - name: G1\n    members: [VI_2, VI_1]\n    notify_master: /etc/xvs/group-master.sh\n    notify: {command: /etc/xvs/group.sh, user: nobody}\n",
    ));
    assert_eq!(snap.vrrp_sync_groups.len(), 1);
    let g = &snap.vrrp_sync_groups[0];
    assert_eq!(g.name, "G1");
    assert_eq!(g.members, [1, 0], "indices into vrrp, in the group's order");
    assert_eq!(
        g.notify.master.as_ref().unwrap().argv,
        ["/etc/xvs/group-master.sh"]
    );
    assert_eq!(
        g.notify.any.as_ref().unwrap().user.as_deref(),
        Some("nobody")
    );
    assert!(g.notify.backup.is_none() && g.notify.fault.is_none() && g.notify.stop.is_none());

    // Unweighted trackers are what sync groups are for.
    let snap = accepts(&grouped(
        "    track_interfaces: [eth1]\n    track_scripts: [chk_web, {name: chk_db, weight: 0}]\n",
        "",
        GROUP,
    ));
    assert_eq!(snap.vrrp_sync_groups[0].members, [0, 1]);
}

#[test]
fn sync_group_name_rules() {
    rejects(
        &grouped(
            "",
            "",
            &format!("{GROUP}{}", GROUP.replace("[VI_1, VI_2]", "[VI_3, VI_4]")),
        ),
        "24:5",
        "vrrp_sync_groups[1].name",
        "sync group `G1` is already defined by vrrp_sync_groups[0]",
    );
    rejects(
        &grouped("", "", &GROUP.replace("G1", "\"\"")),
        "22:5",
        "vrrp_sync_groups[0].name",
        "a sync group needs a name",
    );
}

#[test]
fn sync_group_too_small() {
    rejects(
        &grouped("", "", &GROUP.replace("[VI_1, VI_2]", "[VI_1]")),
        "23:5",
        "vrrp_sync_groups[0].members",
        "a sync group needs at least two instances to keep together, got 1",
    );
    rejects(
        &grouped("", "", &GROUP.replace("[VI_1, VI_2]", "[]")),
        "23:5",
        "vrrp_sync_groups[0].members",
        "got 0",
    );
    rejects(
        &grouped("", "", "  - name: G1\n"),
        "22:5",
        "vrrp_sync_groups[0]",
        "missing field `members`",
    );
}

#[test]
fn sync_group_unknown_member() {
    rejects(
        &grouped(
            "",
            "",
            "  - name: G1\n    members:\n      - VI_1\n      - VI_2\n      - VI_3\n",
        ),
        "26:9",
        "vrrp_sync_groups[0].members[2]",
        "unknown instance `VI_3` (vrrp: VI_1, VI_2)",
    );
    rejects(
        "vrrp_sync_groups:\n  - name: G1\n    members: [VI_1, VI_2]\n",
        "3:15",
        "vrrp_sync_groups[0].members[0]",
        "unknown instance `VI_1`: no vrrp instances are defined",
    );
}

#[test]
fn sync_group_member_twice() {
    rejects(
        &grouped("", "", &GROUP.replace("[VI_1, VI_2]", "[VI_1, VI_2, VI_1]")),
        "23:27",
        "vrrp_sync_groups[0].members[2]",
        "instance `VI_1` is already listed at members[0]",
    );
}

#[test]
fn sync_group_member_of_two_groups() {
    let yaml = two(
        "",
        "",
        "  - name: VI_3\n    interface: eth1\n    vrid: 53\n    virtual_addresses: [198.18.1.3]\nvrrp_sync_groups:\n  - name: G1\n    members: [VI_1, VI_2]\n  - name: G2\n    members: [VI_3, VI_2]\n",
    );
    rejects(
        &yaml,
        "29:21",
        "vrrp_sync_groups[1].members[1]",
        "instance `VI_2` is already in sync group `G1` (vrrp_sync_groups[0]); an instance can be in one group only",
    );
}

#[test]
fn sync_group_members_need_unweighted_trackers() {
    // An explicit interface weight.
    rejects(
        &grouped("", "    track_interfaces:\n      - {name: eth0, weight: 10}\n", GROUP),
        "22:22",
        "vrrp[1].track_interfaces[0].weight",
        "track_interfaces[0] (`eth0`) has weight 10, but `VI_2` is in sync group `G1` (vrrp_sync_groups[0].members[1]): members change state together, so their trackers must have weight 0",
    );
    // An explicit script weight.
    rejects(
        &grouped(
            "    track_scripts: [{name: chk_web, weight: 5}]\n",
            "",
            GROUP,
        ),
        "17:37",
        "vrrp[0].track_scripts[0].weight",
        "sync_group_tracking_weight, which xvs does not support",
    );
    // The script's own weight, pointed at the item that takes it.
    rejects(
        &grouped("    track_scripts:\n      - chk_db\n", "", GROUP),
        "18:9",
        "vrrp[0].track_scripts[0]",
        "track_scripts[0] (`chk_db`) has weight -20, the script's own (vrrp_scripts[1].weight; give weight: 0 here to override it), but `VI_1` is in sync group `G1`",
    );
}

#[test]
fn sync_group_cannot_mix_owners_and_others() {
    rejects(
        &grouped("    priority: 255\n    state: master\n", "", GROUP),
        "25:21",
        "vrrp_sync_groups[0].members[1]",
        "`VI_1` is an address owner starting as master (priority 255, state: master) but `VI_2` is not",
    );
    // All owners starting as master is fine, as is priority 255 as backup.
    let both = "    priority: 255\n    state: master\n";
    accepts(&grouped(both, both, GROUP));
    accepts(&grouped("    priority: 255\n", "", GROUP));
}

#[test]
fn sync_group_notify_bad_script() {
    rejects(
        &grouped(
            "",
            "",
            &format!("{GROUP}    notify_backup: {{command: \"\"}}\n"),
        ),
        "24:21",
        "vrrp_sync_groups[0].notify_backup.command",
        "the command is empty",
    );
    rejects(
        &grouped("", "", &format!("{GROUP}    track_script: [chk_web]\n")),
        "24:5",
        "vrrp_sync_groups[0].track_script",
        "unknown field `track_script`",
    );
}
