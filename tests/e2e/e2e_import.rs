//! End to end, `xvs import`: every keepalived.conf in tests/keepalived/
//! is converted (with `--interface` options naming the lab director's
//! interfaces, or read from the director's namespace), the result passes
//! `xvs check`, a real `xvs run` starts with it in the lab, and real
//! clients' traffic goes through it as the keepalived.conf says: digests
//! checked, the sorry server taking over, a VRRP pair failing over on a
//! tracked script, misc_dynamic weights, every group member served, IPv6,
//! and the options not carried listed with file:line.
//!
//! The fixtures name the demo's interfaces (`xvs-c`, `xvs-r`) and scripts
//! under /etc/keepalived/; each test copies them, renaming the interfaces
//! to its lab's and pointing the scripts at ones it writes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use xvs_e2e::health_support::{self, quorum_up, server, status, wait_checked, wait_server};
use xvs_e2e::support::*;
use xvs_e2e::vrrp_support::{assert_serves, pair_lab, wait_state};
use xvs_lab::{Lab, Method, Target};

/// The lab prepared for `test`, serialized with the other timed lab
/// tests of this binary.
fn import_lab(test: &str, method: Method) -> Option<(std::sync::MutexGuard<'static, ()>, Lab)> {
    health_support::health_lab(test, method)
}

/// Copy tests/keepalived/ to `dir`, renaming the interfaces and pointing
/// /etc/keepalived/ at `dir`.
fn prepare(lab: &Lab, dir: &Path) {
    let (c, r) = lab.director_ifaces();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("keepalived");
    copy_tree(&src, dir, &|text: &str| {
        text.replace("xvs-c", &c)
            .replace("xvs-r", &r)
            .replace("/etc/keepalived/", &format!("{}/", dir.display()))
    });
}

fn copy_tree(src: &Path, dst: &Path, edit: &dyn Fn(&str) -> String) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to, edit);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(&to, edit(&text)).unwrap();
        }
    }
}

/// A script file, executable.
fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `--interface` options for director `n` of the lab (0: the single one).
fn interface_args(lab: &Lab, n: usize) -> Vec<String> {
    let (c, r) = lab.director_ifaces();
    let (client, server) = match n {
        0 => (2, 1),
        n => (n + 1, n + 1),
    };
    vec![
        "--interface".into(),
        format!("{c}=198.18.0.{client}/24,fd00:0:0:1::{client}/64"),
        "--interface".into(),
        format!("{r}=198.18.1.{server}/24,fd00:0:0:2::{server}/64"),
    ]
}

/// Run `xvs import conf -o out` with `extra` options; its stderr. The
/// output must be written, pass `xvs check`, and say it was imported.
fn import(conf: &Path, out: &Path, extra: &[String]) -> String {
    let o = Command::new(xvs_bin())
        .arg("import")
        .arg(conf)
        .arg("-o")
        .arg(out)
        .args(["--workers", "0", "--idle", "adaptive"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "xvs import {}: {stderr}",
        conf.display()
    );
    check(out);
    stderr
}

fn check(config: &Path) {
    let o = Command::new(xvs_bin())
        .args(["check", "-c"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "xvs check {}: {}\n{}",
        config.display(),
        String::from_utf8_lossy(&o.stderr),
        std::fs::read_to_string(config).unwrap_or_default()
    );
}

/// Import `fixture` for the single director and start `xvs run` with it.
fn import_and_start(lab: Lab, fixture: &str) -> (Running, PathBuf, String) {
    let dir = xvs_lab::lab_dir(lab.prefix()).join("keepalived");
    prepare(&lab, &dir);
    let out = dir.join("imported.yaml");
    let stderr = import(&dir.join(fixture), &out, &interface_args(&lab, 0));
    let yaml = std::fs::read_to_string(&out).unwrap();
    (start(lab, &yaml), dir, stderr)
}

fn http(r: &Running, vip: &str, count: usize) -> xvs_lab::ClientReport {
    r.lab.http_requests(&url(vip, 80), count, 1, None).unwrap()
}

#[test]
fn dr_with_http_digests_balances_over_the_checked_servers() {
    let test = "dr_with_http_digests_balances_over_the_checked_servers";
    let Some((_serial, lab)) = import_lab(test, Method::Dr) else {
        return;
    };
    let (r, _, stderr) = import_and_start(lab, "dr-http-digest.conf");
    assert!(stderr.contains("every option"), "{stderr}");
    for rs in ["198.18.1.11:80", "198.18.1.12:80", "198.18.1.13:80"] {
        wait_checked(&r, VIP4, 80, rs, 15);
    }
    assert_spread(
        "DR rr",
        &http(&r, VIP4, 30),
        &[("rs1", 10), ("rs2", 10), ("rs3", 10)],
        &r,
    );
    // The digest is what keeps rs2 in: another body takes it out.
    r.lab.set_health_body(2, "rs2 changed\n").unwrap();
    wait_server(&r, VIP4, 80, "198.18.1.12:80", false, 15);
    assert_spread(
        "without rs2",
        &http(&r, VIP4, 10),
        &[("rs1", 5), ("rs3", 5)],
        &r,
    );
}

#[test]
fn nat_with_a_sorry_server_read_from_the_system() {
    let test = "nat_with_a_sorry_server_read_from_the_system";
    let Some((_serial, lab)) = import_lab(test, Method::Nat) else {
        return;
    };
    // No --interface: `xvs import` runs in the director's namespace and
    // reads its interfaces there.
    let dir = xvs_lab::lab_dir(lab.prefix()).join("keepalived");
    prepare(&lab, &dir);
    let out = dir.join("imported.yaml");
    let o = lab
        .exec(
            &lab.ns_director(),
            &[
                xvs_bin(),
                "import",
                dir.join("nat-tcp-sorry.conf").to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--workers",
                "0",
                "--idle",
                "adaptive",
            ],
        )
        .expect("xvs import in the director namespace");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    check(&out);
    let yaml = std::fs::read_to_string(&out).unwrap();
    let (c, rif) = lab.director_ifaces();
    for (name, addr) in [(&c, "198.18.0.2/24"), (&rif, "198.18.1.1/24")] {
        let at = yaml
            .find(&format!("name: {name}\n"))
            .unwrap_or_else(|| panic!("{yaml}"));
        assert!(yaml[at..].contains(addr), "{name} has {addr}:\n{yaml}");
        assert!(
            yaml[..at].ends_with("# read from the system (ip addr)\n  - "),
            "{yaml}"
        );
    }
    let mut r = start(lab, &yaml);
    for rs in ["198.18.1.11:8080", "198.18.1.12:8080"] {
        wait_checked(&r, VIP4, 80, rs, 15);
    }
    let before = http(&r, VIP4, 20);
    assert!(
        before.failed == 0 && before.by_server.keys().all(|s| s == "rs1" || s == "rs2"),
        "only the real servers, never the sorry server: {before:?}"
    );
    // Both real servers die: the quorum is lost and the sorry server
    // takes every new connection.
    r.lab.stop_backend(1).unwrap();
    r.lab.stop_backend(2).unwrap();
    wait_until(
        20,
        "the quorum is lost",
        || quorum_up(&status(&r), VIP4, 80) == Some(false),
        || format!("{:#}", status(&r)),
    );
    assert_spread("sorry", &http(&r, VIP4, 10), &[("rs3", 10)], &r);
    assert!(server(&status(&r), VIP4, 80, "198.18.1.12:8080").is_some_and(|s| !s.up));
}

#[test]
fn vrrp_pair_elects_fails_over_on_the_tracked_script_and_notifies() {
    let test = "vrrp_pair_elects_fails_over_on_the_tracked_script_and_notifies";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    let base = xvs_lab::lab_dir(lab.prefix());
    let mut directors = Vec::new();
    for (n, fixture) in [(1, "vrrp-pair-master.conf"), (2, "vrrp-pair-backup.conf")] {
        let dir = base.join(format!("keepalived{n}"));
        prepare(&lab, &dir);
        script(
            &dir.join("chk_uplink.sh"),
            &format!("test ! -e {}/uplink-down", dir.display()),
        );
        script(
            &dir.join("notify.sh"),
            &format!("echo \"$*\" >> {}/notify.log", dir.display()),
        );
        let out = dir.join("imported.yaml");
        import(&dir.join(fixture), &out, &interface_args(&lab, n));
        let yaml = std::fs::read_to_string(&out).unwrap();
        let d = launch(&lab, &lab.ns_director_n(n), &format!("xvs{n}"), &yaml);
        directors.push((d, dir));
    }
    let both = ["VI_OUT", "VI_IN"];
    let (d1, dir1) = &directors[0];
    let (d2, dir2) = &directors[1];
    wait_state(d1, &both, "master", 15);
    wait_state(d2, &both, "backup", 15);
    assert_serves(&lab, VIP4, "director 1 master");

    // chk_uplink fails on director 1: FAULT, the sync group follows, and
    // director 2 takes both addresses.
    std::fs::write(dir1.join("uplink-down"), "").unwrap();
    wait_state(d1, &both, "fault", 10);
    wait_state(d2, &both, "master", 15);
    assert_serves(&lab, VIP4, "director 2 master");

    let log = |dir: &Path| std::fs::read_to_string(dir.join("notify.log")).unwrap_or_default();
    wait_until(
        5,
        "notify scripts ran",
        || log(dir1).contains("INSTANCE VI_OUT FAULT") && log(dir2).contains("VI_IN-master"),
        || format!("director 1:\n{}\ndirector 2:\n{}", log(dir1), log(dir2)),
    );
    assert!(log(dir1).contains("GROUP G_NAT FAULT"), "{}", log(dir1));
    assert!(
        log(dir2).contains("INSTANCE VI_OUT MASTER 100"),
        "{}",
        log(dir2)
    );
}

#[test]
fn misc_dynamic_exit_codes_set_the_weights() {
    let test = "misc_dynamic_exit_codes_set_the_weights";
    let Some((_serial, lab)) = import_lab(test, Method::Nat) else {
        return;
    };
    let dir = xvs_lab::lab_dir(lab.prefix()).join("keepalived");
    prepare(&lab, &dir);
    // Exit status - 2 is the weight: rs1 3, rs2 1; rs3 exits 1 (down).
    for (rs, code) in [("198.18.1.11", 5), ("198.18.1.12", 3), ("198.18.1.13", 1)] {
        std::fs::write(dir.join(format!("weight-{rs}")), code.to_string()).unwrap();
    }
    script(
        &dir.join("weight.sh"),
        &format!("exit $(cat {}/weight-$1)", dir.display()),
    );
    let out = dir.join("imported.yaml");
    import(
        &dir.join("misc-dynamic.conf"),
        &out,
        &interface_args(&lab, 0),
    );
    let r = start(lab, &std::fs::read_to_string(&out).unwrap());
    wait_server(&r, VIP4, 80, "198.18.1.13:80", false, 15);
    wait_until(
        15,
        "weights 3 and 1 from the exit codes",
        || {
            let s = status(&r);
            server(&s, VIP4, 80, "198.18.1.11:80").is_some_and(|x| x.up && x.effective_weight == 3)
                && server(&s, VIP4, 80, "198.18.1.12:80")
                    .is_some_and(|x| x.up && x.effective_weight == 1)
        },
        || format!("{:#}", status(&r)),
    );
    assert_spread("wrr 3:1", &http(&r, VIP4, 8), &[("rs1", 6), ("rs2", 2)], &r);
}

#[test]
fn every_member_of_a_virtual_server_group_is_served() {
    let test = "every_member_of_a_virtual_server_group_is_served";
    let Some((_serial, lab)) = import_lab(test, Method::Nat) else {
        return;
    };
    let (r, _, _) = import_and_start(lab, "group.conf");
    for rs in ["198.18.1.11:53", "198.18.1.12:53"] {
        wait_checked(&r, VIP4, 53, rs, 20);
    }
    let even = [("rs1", 2), ("rs2", 2), ("rs3", 2)];
    for vip in ["198.18.0.100", "198.18.0.101", "198.18.0.102"] {
        assert_spread(&format!("HTTP to {vip}"), &http(&r, vip, 6), &even, &r);
    }
    let dns = r.lab.udp_requests(udp(VIP4, 53), 4, None).unwrap();
    assert_spread("UDP to the DNS group", &dns, &[("rs1", 2), ("rs2", 2)], &r);
}

#[test]
fn ipv6_dr_is_persistent_per_client() {
    let test = "ipv6_dr_is_persistent_per_client";
    let Some((_serial, lab)) = import_lab(test, Method::Dr) else {
        return;
    };
    let (r, _, _) = import_and_start(lab, "ipv6.conf");
    for rs in [
        "[fd00:0:0:2::11]:80",
        "[fd00:0:0:2::12]:80",
        "[fd00:0:0:2::13]:80",
    ] {
        wait_checked(&r, VIP6, 80, rs, 20);
    }
    let report = http(&r, VIP6, 10);
    assert!(
        report.failed == 0 && report.by_server.len() == 1,
        "one client, one real server (persistence): {report:?}\n{}",
        request(&r, "stats")
    );
}

#[test]
fn include_globs_are_read_and_what_is_not_carried_is_listed() {
    let test = "include_globs_are_read_and_what_is_not_carried_is_listed";
    let Some((_serial, lab)) = import_lab(test, Method::Nat) else {
        return;
    };
    let (r, dir, stderr) = import_and_start(lab, "include/keepalived.conf");
    let listed: Vec<&str> = stderr.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(listed.len(), 15, "{stderr}");
    let main = dir.join("include/keepalived.conf").display().to_string();
    let web = dir.join("include/conf.d/10-web.conf").display().to_string();
    for (file, line, what) in [
        (&main, 7, "notification_email"),
        (&main, 18, "static_ipaddress"),
        (&web, 16, "regex"),
        (&web, 47, "virtual_server fwmark 1"),
    ] {
        let prefix = format!("  {file}:{line}: {what}");
        assert!(
            listed.iter().any(|l| l.starts_with(&prefix)),
            "{prefix}\n{stderr}"
        );
    }
    let yaml = std::fs::read_to_string(&r.config).unwrap();
    assert!(
        yaml.contains(&format!("#   {web}:47: virtual_server fwmark 1")),
        "{yaml}"
    );

    // What was carried runs: HTTP through :80, the UDP echo through :53.
    for rs in ["198.18.1.11:53", "198.18.1.12:53"] {
        wait_checked(&r, VIP4, 53, rs, 20);
    }
    let web_report = http(&r, VIP4, 9);
    assert_eq!(web_report.failed, 0, "{web_report:?}");
    let mut opts = r.lab.client_options(Target::Udp(udp(VIP4, 53)), 4);
    opts.timeout = Duration::from_secs(2);
    let dns = r.lab.run_client(&opts).unwrap();
    assert_spread("UDP echo", &dns, &[("rs1", 2), ("rs2", 2)], &r);
}

/// No lab needed: the command's failures.
#[test]
fn syntax_errors_and_unknown_interfaces_fail_with_where_and_why() {
    let dir = std::env::temp_dir().join(format!("xvs-import-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.conf");
    std::fs::write(
        &bad,
        "global_defs {\n  router_id x\n\nvirtual_server 1.2.3.4 80 {\n}\n",
    )
    .unwrap();
    let o = Command::new(xvs_bin())
        .arg("import")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:1: the block of `global_defs` is never closed",
            bad.display()
        )),
        "{stderr}"
    );

    // A VRRP interface this system does not have: written, but exit 2.
    let vrrp = dir.join("vrrp.conf");
    std::fs::write(
        &vrrp,
        "vrrp_instance V {\n  interface no-such-if0\n  virtual_router_id 9\n  virtual_ipaddress {\n    198.18.0.100/24\n  }\n}\n",
    )
    .unwrap();
    let out = dir.join("vrrp.yaml");
    let o = Command::new(xvs_bin())
        .arg("import")
        .arg(&vrrp)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("lacks the interface(s) no-such-if0"),
        "{stderr}"
    );
    assert!(std::fs::read_to_string(&out).unwrap().contains("name: V"));

    // Given with --interface, it passes.
    let o = Command::new(xvs_bin())
        .arg("import")
        .arg(&vrrp)
        .args(["-o"])
        .arg(&out)
        .args(["--interface", "no-such-if0=198.18.0.2/24"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    check(&out);
    let _ = std::fs::remove_dir_all(&dir);
}
