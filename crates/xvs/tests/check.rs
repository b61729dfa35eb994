//! `xvs check` as operators run it: the built binary on the example files
//! and on broken ones, checking stdout, stderr and the exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

fn xvs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xvs"))
        .args(args)
        .output()
        .expect("the xvs binary runs")
}

fn check(path: &Path) -> Output {
    xvs(&["check", "-c", path.to_str().expect("UTF-8 path")])
}

/// A scratch file under the target dir, unique per test.
fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xvs-check");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scratch file");
    path
}

#[test]
fn lab_prints_ipvsadm_listing() {
    let out = check(&config_dir().join("lab.yaml"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    let expected = "\
IP Virtual Server version 1.2.1 (size=65536)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  198.18.0.100:80 rr
  -> 198.18.1.11:80               Masq    1      0          0         
  -> 198.18.1.12:80               Masq    1      0          0         
  -> 198.18.1.13:80               Masq    1      0          0         
";
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn vrrp_instances_are_listed_with_their_defaults() {
    let out = check(&config_dir().join("lab-pair-backup.yaml"));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let vrrp = text.split_once("VRRP\n").map(|(_, v)| v).unwrap_or("");
    assert_eq!(
        vrrp,
        "  VI_OUT xvs-c vrid 51 v3 priority 100 advert 100 ms: 198.18.0.100/24\n\
         \x20 VI_IN xvs-r vrid 52 v3 priority 100 advert 100 ms: 198.18.1.1/24\n\
         \x20 sync group LAB: VI_OUT, VI_IN\n\
         Connection sync\n\
         \x20 xvs-r port 8848 syncid 0 from 198.18.1.3 to 198.18.1.2; refresh 30 s, sweep every 1000 ms, bulk transfer before preempting (3 x 2 s)\n",
        "{text}"
    );
}

#[test]
fn every_example_checks_clean() {
    let mut seen = 0;
    for entry in std::fs::read_dir(config_dir()).expect("config/ exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let out = check(&path);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("IP Virtual Server version 1.2.1 (size="),
            "{stdout}"
        );
        seen += 1;
    }
    assert!(seen >= 7, "expected the seven example files, found {seen}");
}

#[test]
fn nat_example_shows_ipv6_and_ops() {
    let out = check(&config_dir().join("nat.yaml"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\nUDP  198.18.0.53:53 rr ops\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nTCP  [fd00:0:0:1::100]:443 lc persistent 300 mask 64\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  -> [fd00:0:0:2::11]:8443        Masq    1      0          0         \n"),
        "{stdout}"
    );
}

#[test]
fn invalid_config_exits_2_with_position() {
    let path = scratch(
        "dr-port.yaml",
        "services:\n  - vip: 198.18.0.100\n    port: 80\n    real_servers:\n      - address: 198.18.0.11\n        port: 8080\n",
    );
    let out = check(&path);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout for a rejected config"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "{}:6:9: services[0].real_servers[0].port: DR real servers must use the service port (80), got 8080\n",
            path.display()
        )
    );
}

#[test]
fn missing_file_exits_2() {
    let out = xvs(&["check", "-c", "/nonexistent/xvs.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("/nonexistent/xvs.yaml: cannot read the config file"),
        "{stderr}"
    );
}

#[test]
fn empty_file_exits_2() {
    let path = scratch("empty.yaml", "");
    let out = check(&path);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":1:1: the config is empty"), "{stderr}");
}

#[test]
fn check_requires_a_config() {
    let out = xvs(&["check"]);
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config <FILE>"));
}

/// What `xvs run` would refuse at start-up and the file alone shows is
/// refused here: two workers on interfaces with one queue (the README's
/// sample used to say so and only `xvs run` noticed), and one address in
/// two roles.
#[test]
fn what_run_would_refuse_is_refused_by_check() {
    let cases = [
        (
            "workers-queues.yaml",
            "global:\n  workers: [0, 1]\ninterfaces:\n  - name: eth0\n    addresses: [198.18.0.2/24]\n",
            ":4:5: interfaces[0]: no `queues:`, so queue 0 only, for 2 workers (global.workers [0, 1])",
        ),
        (
            "same-address.yaml",
            "interfaces:\n  - name: eth0\n    addresses: [198.18.0.2/24]\n  - name: eth1\n    addresses: [198.18.0.2/24]\n",
            ":5:17: interfaces[1].addresses[0]: 198.18.0.2 is given twice: it is already an address of interface eth0",
        ),
        (
            "lip-is-vip.yaml",
            "local_pools:\n  - name: a\n    addresses: [198.18.0.100]\nservices:\n  - vip: 198.18.0.100\n    port: 80\n    method: fullnat\n    local_pool: a\n    real_servers:\n      - address: 198.18.1.11\n",
            ":3:17: local_pools[0].addresses[0]: local address 198.18.0.100 is also the VIP of services[0]",
        ),
    ];
    for (name, yaml, want) in cases {
        let path = scratch(name, yaml);
        let out = check(&path);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(out.stdout.is_empty(), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!("{}{want}", path.display())),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

/// The README's sample configuration is one a user can run: it passes
/// `xvs check` (tests/e2e/e2e_examples.rs runs it in the lab).
#[test]
fn the_readme_sample_checks_clean() {
    let readme = std::fs::read_to_string(config_dir().join("../README.md")).expect("README.md");
    let sample = readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a yaml block");
    assert!(sample.contains("interfaces:"), "{sample}");
    let out = check(&scratch("readme-sample.yaml", sample));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
