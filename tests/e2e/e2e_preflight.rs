//! `xvs run` refuses, in one line and before it touches any interface, a
//! configuration `xvs check` accepts but this host cannot run: two workers
//! on a lab whose veths have one RX queue, and an interface that does not
//! exist. Each refusal exits 1 with the line that names the problem, the
//! file position and the fix, and leaves no XDP program on the lab's
//! interfaces; the same lab then runs the one-worker configuration (with
//! its program attached while it runs, so the "no XDP" check can see one).

use std::path::{Path, PathBuf};
use std::process::Command;

use xvs_e2e::support::*;
use xvs_lab::{Lab, Method};

/// Write `yaml` into the lab's directory; `xvs check` must accept it.
fn write_checked(lab: &Lab, tag: &str, yaml: &str) -> PathBuf {
    let dir = xvs_lab::lab_dir(lab.prefix());
    std::fs::create_dir_all(&dir).expect("lab dir");
    let path = dir.join(format!("{tag}.yaml"));
    std::fs::write(&path, yaml).expect("write config");
    let check = Command::new(xvs_bin())
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .expect("xvs check runs");
    assert!(
        check.status.success(),
        "xvs check must accept what only the host can refuse:\n{}\n{yaml}",
        String::from_utf8_lossy(&check.stderr)
    );
    path
}

/// Run `xvs run` with `config` in the director and wait for it to exit:
/// (exit code, everything it printed).
fn run_refused(lab: &Lab, config: &Path) -> (Option<i32>, String) {
    xvs_e2e::support::run_refused(lab, config, &config.with_extension("sock"))
}

/// What `ip -d link show` says about the director's two interfaces.
fn links(lab: &Lab) -> String {
    let (c, r) = lab.director_ifaces();
    let mut text = String::new();
    for iface in [c, r] {
        let out = lab
            .exec(
                &lab.ns_director(),
                &["ip", "-d", "link", "show", "dev", &iface],
            )
            .expect("ip link show");
        text.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    text
}

fn assert_no_xdp(lab: &Lab, what: &str) {
    let text = links(lab);
    assert!(
        !text.contains("xdp"),
        "{what}: an XDP program was left attached:\n{text}"
    );
}

fn web() -> String {
    service("web", VIP4, "tcp", 80, "nat", "rr", 8080, "", &[1, 1, 1])
}

#[test]
fn refusals_are_one_line_and_leave_the_interfaces_untouched() {
    let Some(lab) = lab(
        "refusals_are_one_line_and_leave_the_interfaces_untouched",
        Method::Nat,
        1,
    ) else {
        return;
    };
    let (c, r) = lab.director_ifaces();
    assert_no_xdp(&lab, "before any xvs run");

    // Two workers, two queues listed on each interface: `xvs check`
    // accepts it (nothing in the file is wrong), but the lab's veths have
    // one RX queue each. Line 7 is the first interface's `queues:`.
    let two = format!(
        "global:\n  workers: [0, 1]\n  idle: adaptive\n  umem_frames: 4096\ninterfaces:\n  - name: {c}\n    queues: [0, 1]\n    addresses: [198.18.0.2/24]\n  - name: {r}\n    queues: [0, 1]\n    addresses: [198.18.1.1/24]\nservices:\n{}",
        web()
    );
    let path = write_checked(&lab, "two-workers", &two);
    let (code, log) = run_refused(&lab, &path);
    assert_eq!(code, Some(1), "{log}");
    assert_eq!(
        log,
        format!(
            "xvs run: interface {c} has 1 RX queue but {}:7:5 asks for queues [0, 1] \
             (2 workers): set global.workers to 1 core and queues to [0], or give {c} 2 \
             queues (ethtool -L {c} combined 2)\n",
            path.display()
        )
    );
    assert_no_xdp(&lab, "after the queue refusal");

    // An interface the director's namespace does not have (line 9).
    let missing = format!(
        "global:\n  workers: [0]\n  idle: adaptive\ninterfaces:\n  - name: {c}\n    addresses: [198.18.0.2/24]\n  - name: {r}\n    addresses: [198.18.1.1/24]\n  - name: xvs-nosuch0\n    addresses: [198.18.5.1/24]\nservices:\n{}",
        web()
    );
    let path = write_checked(&lab, "missing", &missing);
    let (code, log) = run_refused(&lab, &path);
    assert_eq!(code, Some(1), "{log}");
    assert_eq!(
        log,
        format!(
            "xvs run: interface xvs-nosuch0 ({}:9:5) does not exist on this host: change the \
             name to one `ip link` lists, or create xvs-nosuch0 first\n",
            path.display()
        )
    );
    assert_no_xdp(&lab, "after the missing-interface refusal");

    // The control: one worker on the same lab runs, its program shows in
    // `ip -d link show` while it does, and a request goes through.
    let yaml = header(&lab, 1) + "services:\n" + &web();
    let running = start(lab, &yaml);
    let text = links(&running.lab);
    assert!(
        text.matches("xdp").count() >= 2,
        "xvs run attaches its program to both interfaces:\n{text}"
    );
    let report = running
        .lab
        .http_requests(&url(VIP4, 80), 3, 1, None)
        .expect("client runs");
    assert_eq!(report.failed, 0, "{report:?}\n{}", running.xvs.log());
}

/// The report that started this: config/dr.yaml (two workers, queues
/// [0, 1]) on a NIC with one queue failed with a bare "AF_XDP bind …
/// Invalid argument" after the steering program was attached. On a
/// one-queue DR lab (interface names mapped to the lab's, nothing else
/// changed) it is now refused in one line, untouched interfaces after.
#[test]
fn the_dr_example_on_one_queue_is_refused_in_one_line() {
    let Some(lab) = lab(
        "the_dr_example_on_one_queue_is_refused_in_one_line",
        Method::Dr,
        1,
    ) else {
        return;
    };
    let dr =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/dr.yaml"))
            .expect("read config/dr.yaml");
    let (c, _) = lab.director_ifaces();
    let path = write_checked(&lab, "dr", &for_lab(&lab, &dr));
    let (code, log) = run_refused(&lab, &path);
    assert_eq!(code, Some(1), "{log}");
    // config/dr.yaml line 20: eth0's `queues: [0, 1]`.
    assert_eq!(
        log,
        format!(
            "xvs run: interface {c} has 1 RX queue but {}:20:5 asks for queues [0, 1] \
             (2 workers): set global.workers to 1 core and queues to [0], or give {c} 2 \
             queues (ethtool -L {c} combined 2)\n",
            path.display()
        )
    );
    assert_no_xdp(&lab, "after refusing config/dr.yaml");
}
