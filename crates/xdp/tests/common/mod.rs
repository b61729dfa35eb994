//! A two-namespace veth lab for the XDP integration tests.
//!
//! Each test gets its own pair of network namespaces, `a` and `b`, joined
//! by a single-queue veth pair (`if_a` in `a`, `if_b` in `b`) with 198.18.0.1/24 and
//! fd00::1/64 on `a`, 198.18.0.2/24 and fd00::2/64 on `b`. Names carry the
//! pid and a per-process counter, so tests running in parallel (and other
//! helpers' tests) never collide. Dropping the [`Pair`] deletes both
//! namespaces, which deletes the veth pair — also when the test panics.
//!
//! How code runs inside a namespace: the test process stays in the root
//! namespace; [`Pair::run_in`] runs a closure on a fresh thread that first
//! `setns`'s into the namespace (setns changes only the calling thread).
//! Sockets and XDP attachments made there stay bound to that namespace's
//! devices after the thread ends, so the test can use them from anywhere.
//! Shell commands use `ip netns exec`.

#![allow(dead_code)] // each test binary uses a different part

use std::fs::File;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};

pub const A4: &str = "198.18.0.1";
pub const B4: &str = "198.18.0.2";
pub const A6: &str = "fd00::1";
pub const B6: &str = "fd00::2";

/// True when running as root; otherwise says loudly why `test` is skipped.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("SKIP {test}: needs root (network namespaces, BPF, XDP attach)");
    false
}

/// Two namespaces joined by a veth pair; deleted on drop.
#[derive(Debug)]
pub struct Pair {
    pub a: String,
    pub b: String,
    pub if_a: String,
    pub if_b: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Pair {
    /// Builds the pair, or says why `test` is skipped (not root) and
    /// returns None. Panics if root cannot build it: that is a failure.
    pub fn new(test: &str) -> Option<Pair> {
        if !root_or_skip(test) {
            return None;
        }
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pair = Pair {
            a: format!("xvst-{pid}-{n}-a"),
            b: format!("xvst-{pid}-{n}-b"),
            // IFNAMSIZ is 16: "xa" + pid (<= 7 digits) + counter.
            if_a: format!("xa{pid}x{n}"),
            if_b: format!("xb{pid}x{n}"),
        };
        sh(&["ip", "netns", "add", &pair.a]);
        sh(&["ip", "netns", "add", &pair.b]);
        // One queue per end, so every packet arrives on rx queue 0 (veth
        // otherwise spreads by the sender's tx queue).
        sh(&[
            "ip",
            "link",
            "add",
            &pair.if_a,
            "netns",
            &pair.a,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
            "type",
            "veth",
            "peer",
            "name",
            &pair.if_b,
            "netns",
            &pair.b,
            "numtxqueues",
            "1",
            "numrxqueues",
            "1",
        ]);
        for (ns, ifname, v4, v6) in [(&pair.a, &pair.if_a, A4, A6), (&pair.b, &pair.if_b, B4, B6)] {
            pair.ip(ns, &["link", "set", "lo", "up"]);
            pair.ip(ns, &["addr", "add", &format!("{v4}/24"), "dev", ifname]);
            // nodad: usable at once, no duplicate-address-detection wait.
            pair.ip(
                ns,
                &["addr", "add", &format!("{v6}/64"), "dev", ifname, "nodad"],
            );
            pair.ip(ns, &["link", "set", ifname, "up"]);
        }
        Some(pair)
    }

    /// Runs `ip -n NS ARGS...`, panicking with its stderr if it fails.
    pub fn ip(&self, ns: &str, args: &[&str]) -> String {
        let mut full = vec!["ip", "-n", ns];
        full.extend_from_slice(args);
        let out = run(&full);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command inside `ns` (`ip netns exec`), returning its output
    /// whatever its exit status.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .expect("spawn ip netns exec")
    }

    /// Runs `f` on a thread that has entered namespace `ns`.
    pub fn run_in<T: Send>(&self, ns: &str, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{ns}");
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                setns(file, CloneFlags::CLONE_NEWNET).expect("setns into the test namespace");
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Whether `ip link show` reports an XDP program on `ifname` in `ns`
    /// (its JSON form has an "xdp" object exactly when one is attached).
    pub fn has_xdp(&self, ns: &str, ifname: &str) -> bool {
        let text = self.ip(ns, &["-j", "-d", "link", "show", "dev", ifname]);
        text.contains("\"xdp\":")
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and so the pair.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sh(args: &[&str]) {
    run(args);
}

/// Polls `probe` until it returns Some or `limit` passes. The limit only
/// bounds how long a failing test takes; the assertion is on the value.
pub fn wait_for<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
