//! The xvs lab: a test-support library (and the `xvs-lab` CLI) that builds
//! a client, a director (or a VRRP pair of them), a switch and N real
//! servers in their own network namespaces, so xvs is tested end to end
//! with real TCP/UDP, real ARP/ND and real backends (DESIGN.md "The lab").
//!
//! ```text
//! ns {p}cl   client        eth0 198.18.0.10/24 (+ .11-.20), fd00:0:0:1::10/64
//!    | veth                default routes via the director
//! ns {p}dir  director      {p}c 198.18.0.2/24, fd00:0:0:1::2/64
//!                          {p}r 198.18.1.1/24, fd00:0:0:2::1/64
//!                          forwarding on, rp_filter off, Q queues per veth
//!    | veth
//! ns {p}sw   switch        bridge br0: "dir" + one port per real server
//! ns {p}rsI  real servers  eth0 198.18.1.(10+I)/24, fd00:0:0:2::(10+I)/64
//!                          default routes via the director
//! ```
//!
//! With `directors: 2` ([`LabSpec::directors`]) the directors are a VRRP
//! pair on shared segments, and the gateways are virtual addresses no
//! interface holds until a VRRP master (xvs answering ARP/ND from
//! userspace, or keepalived adding it) takes them:
//!
//! ```text
//! ns {p}cl   client        eth0 as above; default routes via 198.18.0.1,
//!    |                     fd00:0:0:1::1 (virtual); the VIPs are on-link
//! ns {p}sw   switch        br1: "cl", "dirc", "dir2c"   (client segment)
//!    |                     br0: "dir", "dir2", "rsI"    (real-server segment)
//! ns {p}dir  director 1    {p}c 198.18.0.2, fd00:0:0:1::2; {p}r 198.18.1.2, fd00:0:0:2::2
//! ns {p}dir2 director 2    {p}c 198.18.0.3, fd00:0:0:1::3; {p}r 198.18.1.3, fd00:0:0:2::3
//!                          both: forwarding on, rp_filter off, Q queues,
//!                          checksums finished in software on both veths
//! ns {p}rsI  real servers  default routes via 198.18.1.1, fd00:0:0:2::1
//!                          (virtual: on no interface)
//! ```
//!
//! With `directors: 3` three directors stand behind an upstream router
//! that spreads flows over them with multipath routes (crate::ecmp draws
//! it); the test runs BIRD in the router and directors.
//!
//! [`Lab::start_keepalived`] runs a real keepalived (VRRP only) in either
//! director, and [`keepalived_conf`] writes its configuration.
//!
//! [`Method`] says how the real servers are prepared (VIP on lo for DR and
//! TUN) and [`Method::KernelNat`] makes the director itself balance with
//! nftables, the baseline xvs is compared with. Every command runs inside
//! the namespace it configures; only 198.18.0.0/15 and fd00::/8 are used.
//! A [`Lab`] tears everything down when dropped, also when a test panics.
//!
//! Each real server's backend (scripts/lab-backend.py) serves HTTP on 80
//! and 8080 (`/health` answers what the test set), UDP echo on 53 and 5353,
//! DNS on UDP 5300, SMTP on TCP 2525, and HTTPS on 443 once given a
//! certificate; a test makes a real server unhealthy by writing its state
//! files ([`Lab::set_health_status`], [`Lab::set_dns_rcode`], ...) or by
//! cutting it off ([`Lab::blackhole`], [`Lab::drop_icmp_echo`]), and gives
//! it many addresses with [`Lab::add_backend_addresses`].
//!
//! Layer: test support (drives `ip`, `sysctl`, `nft`, `ss`, keepalived and
//! the Python scripts scripts/lab-backend.py and scripts/lab-client.py).

mod backends;
mod client;
pub mod ecmp;
mod error;
mod extra;
mod faults;
mod hold;
mod keepalived;
mod keepalived_conf;
mod lab;
mod names;
mod nft;
mod process;
mod spec;
mod state;
mod topology;

pub use backends::{scripts_dir, READY_TIMEOUT};
pub use client::{ClientOptions, ClientReport, Target, DEFAULT_TIMEOUT};
pub use error::LabError;
pub use faults::FAULT_TABLE;
pub use hold::{Hold, HoldFailure, HoldReport, HOLD_PORT, HOLD_READY_TIMEOUT, HOLD_REPORT_SLACK};
pub use keepalived::{
    keepalived_path, require_keepalived, KEEPALIVED, KEEPALIVED_ENV, KEEPALIVED_READY_TIMEOUT,
};
pub use keepalived_conf::{
    keepalived_conf, InitialState, KeepalivedNotify, VrrpInstance, VrrpVersion,
};
pub use lab::{lab_dir, parse_mac, Lab};
pub use names::MAX_PREFIX_LEN;
pub use nft::kernel_nat_ruleset;
pub use process::{LabProcess, TERM_GRACE};
pub use spec::*;
pub use state::{BODY_FILE, CERT_FILE, DNS_RCODE_FILE, KEY_FILE, SMTP_BANNER_FILE, STATUS_FILE};
pub use topology::list_namespaces;

use std::io::Write;
use std::process::{Command, Stdio};

/// Set to `1` to make [`require_root`] fail the test instead of skipping
/// (CI, where the lab must run).
pub const REQUIRE_ENV: &str = "XVS_LAB_REQUIRED";

/// True when the lab can run here (root, `ip netns`, python3). Otherwise
/// prints `SKIP {test}: reason` straight to stderr — past the test
/// harness's output capture, so a skipped test is visible in a normal
/// `cargo test` run — and returns false; panics instead when
/// `XVS_LAB_REQUIRED=1`.
pub fn require_root(test: &str) -> bool {
    let Some(reason) = missing_capability() else {
        return true;
    };
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("{test}: the lab cannot run here ({reason}) and {REQUIRE_ENV}=1");
    }
    // io::stderr() directly: eprintln! output is captured for passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIP {test}: {reason} (the lab needs root and network namespaces) ***"
    );
    false
}

/// Why the lab cannot run here, if it cannot.
pub fn missing_capability() -> Option<String> {
    match effective_uid() {
        Some(0) => {}
        Some(uid) => return Some(format!("not root (euid {uid})")),
        None => return Some("cannot read the effective uid from /proc/self/status".into()),
    }
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !works("ip", &["netns", "list"]) {
        return Some("`ip netns list` fails (iproute2 missing or no netns support)".into());
    }
    if !works("python3", &["-c", "pass"]) {
        return Some("python3 is missing (scripts/install-deps.sh)".into());
    }
    None
}

/// The effective uid, from the `Uid:` line of /proc/self/status (real,
/// effective, saved, filesystem).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_effective_uid(&status)
}

fn parse_effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_uid_is_the_second_field() {
        let status = "Name:\tcargo\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tx\n"), None);
        assert!(effective_uid().is_some(), "this process has a status file");
    }
}
