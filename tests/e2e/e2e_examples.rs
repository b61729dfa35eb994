//! Every example runs: each config/*.yaml and the README's configurations
//! pass `xvs check`, then run under a real `xvs run` in a lab laid out as
//! they expect, and one real HTTP request goes through the IPv4 TCP
//! service on port 80 that `xvs check` lists (each example has one).
//!
//! What the test changes, because it cannot be avoided:
//! - interface names: the files say `eth0`/`eth1` (or the demo lab's
//!   `xvs-c`/`xvs-r`); a lab's director interfaces are named after its
//!   unique prefix, so the client-side name becomes the lab's client-side
//!   interface and the real-server-side one its real-server-side one.
//!   Addresses are the files' own: the examples use the lab's.
//! - master.yaml and backup.yaml track their uplink by pinging 198.18.0.1,
//!   the client segment's router; a lab has no router there, so the test
//!   gives 198.18.0.1 to the lab switch's client-side bridge.
//! - The README's health example is services only: it runs with the
//!   README's sample `global:` and `interfaces:` before it.
//!
//! The README's VRRP and sync blocks name no service (they extend a pair
//! of directors, which config/master.yaml, backup.yaml and
//! lab-pair-*.yaml show whole and which run here): they are checked only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use xvs_e2e::support::*;
use xvs_lab::{Lab, LabSpec, Method};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// How an example is run: the lab it needs and which director runs it.
struct Setup {
    method: Method,
    queues: u32,
    /// 1: a single director; 1 or 2 of a VRRP pair when `pair`.
    director: usize,
    pair: bool,
    /// TUN: start xvs's decap helper on the real servers.
    decap: bool,
}

const SINGLE_NAT: Setup = Setup {
    method: Method::Nat,
    queues: 1,
    director: 1,
    pair: false,
    decap: false,
};

/// Every file in config/, with the lab it runs in. A new example must be
/// added here (every_example_file_has_a_setup).
fn setup(file: &str) -> Option<Setup> {
    let pair = |director| Setup {
        director,
        pair: true,
        ..SINGLE_NAT
    };
    Some(match file {
        "lab.yaml" | "nat.yaml" | "health.yaml" => SINGLE_NAT,
        "dr.yaml" => Setup {
            method: Method::Dr,
            queues: 2,
            ..SINGLE_NAT
        },
        "fullnat.yaml" => Setup {
            method: Method::FullNat,
            queues: 2,
            ..SINGLE_NAT
        },
        "tun.yaml" => Setup {
            method: Method::Tun,
            decap: true,
            ..SINGLE_NAT
        },
        "master.yaml" | "lab-pair-master.yaml" => pair(1),
        "backup.yaml" | "lab-pair-backup.yaml" => pair(2),
        _ => return None,
    })
}

fn example_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("config"))
        .expect("config/ exists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// The README's ```yaml blocks, in order.
fn readme_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .map(str::to_owned)
        .collect()
}

/// `xvs check` on `yaml`: its listing, or a panic with its error.
fn check(label: &str, yaml: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-examples");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(format!("{}.yaml", label.replace(['/', ' '], "_")));
    std::fs::write(&path, yaml).expect("write");
    let out = Command::new(xvs_bin())
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .expect("xvs check runs");
    assert!(
        out.status.success(),
        "{label}: xvs check refused it:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The IPv4 TCP service on port 80 in an `ipvsadm -Ln` listing: every
/// example has one, and the lab's backends answer HTTP.
fn web_vip(listing: &str) -> String {
    listing
        .lines()
        .filter_map(|l| l.strip_prefix("TCP  "))
        .filter_map(|l| l.split_whitespace().next())
        .find(|a| !a.starts_with('[') && a.ends_with(":80"))
        .and_then(|a| a.strip_suffix(":80"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no IPv4 TCP service on port 80 in:\n{listing}"))
}

/// Check `yaml`, run it in the lab `setup` describes, and send one HTTP
/// request through its IPv4 web VIP; wait (up to a minute) for the
/// first answer, since a VRRP example is master only after its election.
fn run_example(label: &str, yaml: &str, setup: &Setup) {
    let vip = web_vip(&check(label, yaml));
    let test = format!("example {label}");
    if !xvs_lab::require_root(&test) {
        return;
    }
    let spec = LabSpec {
        queues: setup.queues,
        directors: if setup.pair { 2 } else { 1 },
        ..LabSpec::new(setup.method)
    };
    let lab = Lab::build(spec).expect("lab builds");
    let yaml = for_lab(&lab, yaml);
    if yaml.contains("ping -c 1 -W 1 198.18.0.1\"") {
        // The uplink the example's check script pings (see the top).
        lab.exec(
            &lab.ns_switch(),
            &["ip", "addr", "add", "198.18.0.1/24", "dev", "br1"],
        )
        .expect("give the switch the client segment's router address");
    }
    let ns = lab.ns_director_n(setup.director);
    let director = launch(&lab, &ns, "example", &yaml);
    let mut running = Running {
        lab,
        xvs: director.xvs,
        sock: director.sock,
        config: director.config,
        decap: Vec::new(),
    };
    if setup.decap {
        start_decap(&mut running);
    }
    let target = url(&vip, 80);
    let t0 = Instant::now();
    loop {
        let report = running
            .lab
            .http_requests(&target, 1, 1, None)
            .expect("client runs");
        if report.ok == 1 {
            break;
        }
        assert!(
            running.xvs.is_running() && t0.elapsed() < Duration::from_secs(60),
            "{label}: no answer through {target}: {report:?}\nstats:\n{}\nxvs log:\n{}",
            ask(&running.sock, "stats").unwrap_or_default(),
            running.xvs.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn run_file(name: &str) {
    let yaml = std::fs::read_to_string(repo().join("config").join(name)).expect("read the example");
    let setup = setup(name).unwrap_or_else(|| panic!("config/{name} has no setup"));
    run_example(&format!("config/{name}"), &yaml, &setup);
}

#[test]
fn every_example_file_has_a_setup() {
    let files = example_files();
    assert!(files.len() >= 10, "{files:?}");
    for name in &files {
        assert!(setup(name).is_some(), "config/{name}: add it to setup()");
    }
}

#[test]
fn renaming_touches_whole_names_only() {
    assert_eq!(
        rename(
            "  - name: eth1\n    track_interfaces: [eth1]\n    x: veth10 eth1x",
            "eth1",
            "p1r"
        ),
        "  - name: p1r\n    track_interfaces: [p1r]\n    x: veth10 eth1x"
    );
    assert_eq!(
        rename("interface: xvs-r", "xvs-r", "ab3r"),
        "interface: ab3r"
    );
}

#[test]
fn lab_yaml() {
    run_file("lab.yaml");
}

#[test]
fn nat_yaml() {
    run_file("nat.yaml");
}

#[test]
fn health_yaml() {
    run_file("health.yaml");
}

#[test]
fn dr_yaml() {
    run_file("dr.yaml");
}

#[test]
fn fullnat_yaml() {
    run_file("fullnat.yaml");
}

#[test]
fn tun_yaml() {
    run_file("tun.yaml");
}

#[test]
fn master_yaml() {
    run_file("master.yaml");
}

#[test]
fn backup_yaml() {
    run_file("backup.yaml");
}

#[test]
fn lab_pair_master_yaml() {
    run_file("lab-pair-master.yaml");
}

#[test]
fn lab_pair_backup_yaml() {
    run_file("lab-pair-backup.yaml");
}

#[test]
fn readme_sample() {
    let blocks = readme_blocks();
    let sample = &blocks[0];
    assert!(
        sample.contains("interfaces:") && sample.contains("services:"),
        "the README's first yaml block is its sample config:\n{sample}"
    );
    run_example("README.md sample", sample, &SINGLE_NAT);
}

#[test]
fn readme_health_example() {
    let blocks = readme_blocks();
    let (head, _) = blocks[0]
        .split_once("services:")
        .expect("the sample has services");
    let health = blocks
        .iter()
        .find(|b| b.contains("health:") && b.trim_start().starts_with("services:"))
        .expect("the README has a health example");
    run_example(
        "README.md health example",
        &format!("{head}{health}"),
        &SINGLE_NAT,
    );
}

#[test]
fn readme_fragments_check() {
    // Every block: the two above run; the VRRP and sync fragments (no
    // service of their own) must at least pass `xvs check`.
    let blocks = readme_blocks();
    assert!(blocks.len() >= 4, "{} yaml blocks", blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        check(&format!("README.md block {i}"), block);
    }
}
