//! `xvs check --fleet`, run as an operator would on the config files of
//! three directors: those that agree (they differ only in their own
//! interfaces, addresses and workers) are reported as agreeing; a weight
//! changed on one director is reported as one line naming both files, the
//! service, the real server and the field, with exit status 1; a file that
//! does not load is reported with file:line:col and exit status 2.
//! No lab: the command reads files only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn director(own: u8, weight: u32) -> String {
    format!(
        "
global:
  workers: [0]
interfaces:
  - name: eth{own}
    addresses: [198.18.0.{own}/24]
  - name: back{own}
    addresses: [198.18.1.{own}/24]
services:
  - name: web
    vip: 198.18.0.100
    port: 80
    protocol: tcp
    method: dr
    scheduler: mh
    flags: [mh-port]
    real_servers:
      - {{address: 198.18.1.11, weight: {weight}}}
      - {{address: 198.18.1.12}}
"
    )
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xvs-check-fleet");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn fleet(files: &[&PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xvs"))
        .args(["check", "--fleet"])
        .args(files)
        .output()
        .expect("xvs check --fleet runs")
}

#[test]
fn check_fleet_reports_agreement_differences_and_bad_files() {
    let a = write("a.yaml", &director(2, 1));
    let b = write("b.yaml", &director(3, 1));
    let c = write("c.yaml", &director(4, 5));

    let out = fleet(&[&a, &b]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.trim(), "2 configs agree");

    let out = fleet(&[&a, &b, &c]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one difference: {stdout}");
    let line = lines[0];
    for part in [
        a.display().to_string().as_str(),
        c.display().to_string().as_str(),
        "TCP 198.18.0.100:80 real server 198.18.1.11:80",
        "weight: 1 vs 5",
    ] {
        assert!(line.contains(part), "`{part}` missing from: {line}");
    }

    let bad = write(
        "bad.yaml",
        &director(5, 1).replace("scheduler: mh", "scheduler: nope"),
    );
    let out = fleet(&[&a, &bad]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:15:", bad.display())),
        "file:line:col of the bad scheduler: {stderr}"
    );
}
