//! End-to-end test support: a lab (network namespaces with a client, the
//! director and real servers running real HTTP and UDP servers), a real
//! `xvs run` in the director's namespace, and helpers to read its counters
//! through its control socket.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use xvs_lab::{Lab, LabProcess, LabSpec, Method};

pub const VIP4: &str = "198.18.0.100";
pub const VIP6: &str = "fd00:0:0:1::100";

/// The `xvs` binary the suites run, found once per test executable:
/// `$XVS_BIN` if set, else the `xvs` cargo built into the same target
/// directory as this test (`target/<profile>/deps/e2e_x-HASH` runs
/// `target/<profile>/xvs`). `env!("CARGO_BIN_EXE_xvs")` exists only for
/// tests of the package that owns the binary, and `cargo test -p xvs-e2e`
/// does not build another package's binary, hence the search and the
/// message saying how to build it.
pub fn xvs_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| locate_xvs().unwrap_or_else(|why| panic!("{why}")))
}

fn locate_xvs() -> Result<String, String> {
    let path = match std::env::var_os("XVS_BIN") {
        Some(bin) => {
            let path = PathBuf::from(bin);
            // Cargo runs tests in the package directory (tests/), not
            // where it was started: a relative path would mislead.
            if !path.is_absolute() {
                return Err(format!(
                    "XVS_BIN={} must be an absolute path",
                    path.display()
                ));
            }
            if !path.is_file() {
                return Err(format!("XVS_BIN={} is not a file", path.display()));
            }
            path
        }
        None => {
            let exe = std::env::current_exe()
                .map_err(|e| format!("cannot find this test's executable: {e}"))?;
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .ok_or_else(|| format!("{} is not in target/<profile>/deps/", exe.display()))?;
            let path = profile_dir.join("xvs");
            if !path.is_file() {
                return Err(format!(
                    "no xvs binary at {}: `cargo test -p xvs-e2e` does not build it. \
                     Build it with `cargo build -p xvs` first (same profile and \
                     CARGO_TARGET_DIR as the tests), run scripts/test.sh, which \
                     builds it, or set XVS_BIN to an absolute path",
                    path.display()
                ));
            }
            path
        }
    };
    path.into_os_string()
        .into_string()
        .map_err(|p| format!("the xvs binary's path {p:?} is not UTF-8"))
}

/// A lab with a running director.
#[derive(Debug)]
pub struct Running {
    pub lab: Lab,
    pub xvs: LabProcess,
    pub sock: PathBuf,
    pub config: PathBuf,
    pub decap: Vec<LabProcess>,
}

/// Build a lab for `method` (or return None, loudly, when not root).
pub fn lab(test: &str, method: Method, queues: u32) -> Option<Lab> {
    if !xvs_lab::require_root(test) {
        return None;
    }
    let spec = LabSpec {
        method,
        queues,
        ..LabSpec::new(method)
    };
    Some(Lab::build(spec).expect("lab builds"))
}

/// The director part of a config for `lab` (interfaces with the lab's
/// names and addresses), with `workers` workers.
pub fn header(lab: &Lab, workers: usize) -> String {
    let (c, r) = lab.director_ifaces();
    let q = lab.spec().queues;
    let queues: Vec<String> = (0..q).map(|i| i.to_string()).collect();
    let cores: Vec<String> = (0..workers).map(|i| i.to_string()).collect();
    format!(
        concat!(
            "global:\n  workers: [{cores}]\n  idle: adaptive\n  conn_capacity: 65536\n",
            "  umem_frames: 4096\n  ring_size: 1024\n",
            "interfaces:\n",
            "  - name: {c}\n    addresses: [198.18.0.2/24, \"fd00:0:0:1::2/64\"]\n    queues: [{queues}]\n",
            "  - name: {r}\n    addresses: [198.18.1.1/24, \"fd00:0:0:2::1/64\"]\n    queues: [{queues}]\n",
        ),
        c = c,
        r = r,
        cores = cores.join(", "),
        queues = queues.join(", "),
    )
}

/// One service in YAML, with the lab's three real servers.
#[allow(clippy::too_many_arguments)]
pub fn service(
    name: &str,
    vip: &str,
    proto: &str,
    port: u16,
    method: &str,
    scheduler: &str,
    rport: u16,
    extra: &str,
    weights: &[u32],
) -> String {
    let servers: Vec<(u32, u16, &str)> = weights.iter().map(|&w| (w, rport, "")).collect();
    service_with(name, vip, proto, port, method, scheduler, extra, &servers)
}

/// One service in YAML: `keys` are extra service keys (indented four
/// spaces), each real server (the lab's, in order: 198.18.1.11.. or
/// fd00:0:0:2::11..) is (weight, port, extra keys indented eight spaces).
#[allow(clippy::too_many_arguments)]
pub fn service_with(
    name: &str,
    vip: &str,
    proto: &str,
    port: u16,
    method: &str,
    scheduler: &str,
    keys: &str,
    servers: &[(u32, u16, &str)],
) -> String {
    let v6 = vip.contains(':');
    let mut s = format!(
        "  - name: {name}\n    vip: \"{vip}\"\n    port: {port}\n    protocol: {proto}\n    scheduler: {scheduler}\n    method: {method}\n{keys}    real_servers:\n"
    );
    for (i, (weight, rport, extra)) in servers.iter().enumerate() {
        let addr = if v6 {
            format!("fd00:0:0:2::{:x}", 0x11 + i)
        } else {
            format!("198.18.1.{}", 11 + i)
        };
        s.push_str(&format!(
            "      - address: \"{addr}\"\n        port: {rport}\n        weight: {weight}\n{extra}"
        ));
    }
    s
}

/// A TCP service on port 80 and a UDP one on port 53 for each VIP, round
/// robin over the three real servers (`extra`: more service keys).
pub fn web_and_dns(method: &str, tcp_rport: u16, udp_rport: u16, extra: &str) -> String {
    let mut s = String::from("services:\n");
    for vip in [VIP4, VIP6] {
        s.push_str(&service(
            &format!("web-{vip}"),
            vip,
            "tcp",
            80,
            method,
            "rr",
            tcp_rport,
            extra,
            &[1, 1, 1],
        ));
        s.push_str(&service(
            &format!("dns-{vip}"),
            vip,
            "udp",
            53,
            method,
            "rr",
            udp_rport,
            extra,
            &[1, 1, 1],
        ));
    }
    s
}

/// The FullNAT local-address pool the suites share (`local_pool: lip`).
pub const LOCAL_POOL: &str = "local_pools:\n  - name: lip\n    addresses: [198.18.1.200, \"fd00:0:0:2::200\"]\n    ports: 20000-29999\n";

/// A lab for `method` running [`web_and_dns`] the way the per-method suites
/// use it: NAT and FullNAT forward to the real servers' 8080/5353 (so the
/// replies' source must be translated back), FullNAT from [`LOCAL_POOL`],
/// DR and TUN to 80/53, and TUN's real servers decapsulate. None when not
/// root.
pub fn start_web_and_dns(test: &str, method: Method) -> Option<Running> {
    let lab = lab(test, method, 1)?;
    let services = match method {
        Method::Nat => web_and_dns("nat", 8080, 5353, ""),
        Method::FullNat => {
            LOCAL_POOL.to_owned() + &web_and_dns("fullnat", 8080, 5353, "    local_pool: lip\n")
        }
        Method::Dr => web_and_dns("dr", 80, 53, ""),
        Method::Tun => web_and_dns("tun", 80, 53, ""),
        Method::KernelNat => panic!("{test}: the kernel baseline runs no xvs"),
    };
    let yaml = header(&lab, 1) + &services;
    let mut r = start(lab, &yaml);
    if method == Method::Tun {
        start_decap(&mut r);
    }
    Some(r)
}

/// Start `xvs run` with `yaml` in the director namespace and wait until it answers.
pub fn start(lab: Lab, yaml: &str) -> Running {
    let ns = lab.ns_director();
    let d = launch(&lab, &ns, "xvs", yaml);
    Running {
        lab,
        xvs: d.xvs,
        sock: d.sock,
        config: d.config,
        decap: Vec::new(),
    }
}

/// Spawn `xvs run -c CONFIG --control SOCK` in namespace `ns` (not waited for).
pub fn spawn_run(lab: &Lab, ns: &str, config: &Path, sock: &Path) -> LabProcess {
    lab.spawn(
        ns,
        &[
            xvs_bin(),
            "run",
            "-c",
            config.to_str().expect("UTF-8 path"),
            "--control",
            sock.to_str().expect("UTF-8 path"),
        ],
    )
    .expect("spawn xvs run")
}

/// Run `xvs run` with `config` and control socket `sock` in the director
/// namespace, expecting it to refuse and exit: (exit code, everything it
/// printed). Panics if it is still running after 30 s.
pub fn run_refused(lab: &Lab, config: &Path, sock: &Path) -> (Option<i32>, String) {
    let mut xvs = spawn_run(lab, &lab.ns_director(), config, sock);
    let status = xvs
        .wait_timeout(Duration::from_secs(30))
        .expect("wait for xvs run");
    let Some(status) = status else {
        panic!("xvs run did not refuse the config:\n{}", xvs.log());
    };
    (status.code(), xvs.log())
}

/// Run scripts/`name` with python3 in namespace `ns` and wait for it.
pub fn run_script(
    lab: &Lab,
    ns: &str,
    name: &str,
    args: &[&str],
) -> Result<std::process::Output, xvs_lab::LabError> {
    let script = xvs_lab::scripts_dir().join(name);
    let mut full = vec!["python3", script.to_str().expect("UTF-8 path")];
    full.extend_from_slice(args);
    lab.exec(ns, &full)
}

/// From the client, `syns` spoofed SYNs to VIP4:80 over `secs` seconds
/// from random addresses and ports in `sources` (scripts/lab-synflood.py,
/// fixed seed so every run floods alike).
pub fn syn_flood(
    lab: &Lab,
    syns: usize,
    secs: f64,
    sources: &str,
) -> Result<std::process::Output, xvs_lab::LabError> {
    run_script(
        lab,
        &lab.ns_client(),
        "lab-synflood.py",
        &[
            VIP4,
            "80",
            "--count",
            &syns.to_string(),
            "--duration",
            &secs.to_string(),
            "--sources",
            sources,
            "--seed",
            "17",
        ],
    )
}

/// One `xvs run`: its process, control socket and configuration file.
#[derive(Debug)]
pub struct Director {
    pub xvs: LabProcess,
    pub sock: PathBuf,
    pub config: PathBuf,
}

/// Check `yaml`, start `xvs run` with it in namespace `ns` (files named
/// after `tag` in the lab's directory) and wait until it answers.
pub fn launch(lab: &Lab, ns: &str, tag: &str, yaml: &str) -> Director {
    let dir = xvs_lab::lab_dir(lab.prefix());
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join(format!("{tag}.yaml"));
    std::fs::write(&config, yaml).unwrap();
    let check = Command::new(xvs_bin())
        .args(["check", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "config rejected:\n{}\n{yaml}",
        String::from_utf8_lossy(&check.stderr)
    );
    let sock = dir.join(format!("{tag}.sock"));
    let mut xvs = spawn_run(lab, ns, &config, &sock);
    let t0 = Instant::now();
    while ask(&sock, "list").is_none() {
        assert!(xvs.is_running(), "xvs run exited:\n{}", xvs.log());
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "xvs run did not come up:\n{}",
            xvs.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the first gratuitous ARPs and neighbour probes go out.
    std::thread::sleep(Duration::from_millis(300));
    Director { xvs, sock, config }
}

/// Poll `done` every 50 ms until it holds; after `secs` seconds fail with
/// `what` and the diagnostics `why` gives.
pub fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool, why: impl Fn() -> String) {
    let t0 = Instant::now();
    while !done() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{what}:\n{}",
            why()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn request_opt(r: &Running, what: &str) -> Option<String> {
    ask(&r.sock, what)
}

/// A request to the xvs behind control socket `sock`; None if it did
/// not answer.
pub fn ask(sock: &std::path::Path, what: &str) -> Option<String> {
    let out = Command::new(xvs_bin())
        .args(match what {
            "list" => vec!["list"],
            "stats" => vec!["list", "--stats", "--exact"],
            "metrics" => vec!["metrics"],
            "reload" => vec!["reload"],
            "status json" => vec!["status", "--json"],
            other => panic!("unknown request {other}"),
        })
        .arg("--control")
        .arg(sock)
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Some(stdout);
    }
    // A reload the daemon refused (a rejected file) was still answered:
    // the reason is on stderr, and callers read the log for it.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let answered = stderr.starts_with("xvs: ")
        && !stderr.contains("cannot reach the daemon")
        && !stderr.contains("permission denied on the control socket")
        && !stderr.contains("busy: ");
    (what == "reload" && answered).then(|| format!("{stdout}{stderr}"))
}

pub fn request(r: &Running, what: &str) -> String {
    request_opt(r, what).unwrap_or_else(|| panic!("xvs did not answer {what:?}:\n{}", r.xvs.log()))
}

/// Sum of a Prometheus metric over the series whose labels contain all of `labels`.
pub fn metric(r: &Running, name: &str, labels: &[&str]) -> u64 {
    metric_in(&request(r, "metrics"), name, labels)
}

/// [`metric`] over the Prometheus text `text`.
pub fn metric_in(text: &str, name: &str, labels: &[&str]) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter(|l| labels.iter().all(|lab| l.contains(lab)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// The Prometheus text of director `d`; empty if it did not answer.
pub fn metrics(d: &Director) -> String {
    ask(&d.sock, "metrics").unwrap_or_default()
}

/// A sync counter of `d` (`xvs_sync_total{counter="name"}`).
pub fn sync_counter(d: &Director, name: &str) -> u64 {
    metric_in(
        &metrics(d),
        "xvs_sync_total",
        &[&format!("counter=\"{name}\"")],
    )
}

/// Wait up to 20 s until director `d` installed at least `want` synced
/// connections; `what` names them in the failure.
pub fn wait_installed(d: &Director, want: u64, what: &str) {
    wait_until(
        20,
        what,
        || sync_counter(d, "installed") >= want,
        || metrics(d),
    );
}

/// Run `xvs decap` for both VIPs on every real server (TUN mode), and
/// scripts/lab-ipip-rx.py for the IPv4 VIP: the lab kernel has no ipip
/// module, and the XDP decap cannot take an outer packet the director
/// fragmented, which the stack reassembles and the script decapsulates.
pub fn start_decap(r: &mut Running) {
    for i in 1..=r.lab.spec().real_servers {
        let ns = r.lab.ns_rs(i);
        let rx = xvs_lab::scripts_dir().join("lab-ipip-rx.py");
        let rx = rx.to_string_lossy();
        let p = r.lab.spawn(&ns, &["python3", &rx, VIP4]).unwrap();
        r.decap.push(p);
        let p = r
            .lab
            .spawn(
                &ns,
                &[
                    xvs_bin(),
                    "decap",
                    "--iface",
                    "eth0",
                    "--vip",
                    VIP4,
                    "--vip",
                    VIP6,
                ],
            )
            .unwrap();
        r.decap.push(p);
    }
    std::thread::sleep(Duration::from_millis(500));
    for p in &mut r.decap {
        assert!(p.is_running(), "xvs decap exited:\n{}", p.log());
    }
}

pub fn url(vip: &str, port: u16) -> String {
    if vip.contains(':') {
        format!("http://[{vip}]:{port}/")
    } else {
        format!("http://{vip}:{port}/")
    }
}

pub fn udp(vip: &str, port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::new(vip.parse::<IpAddr>().unwrap(), port)
}

/// Assert a report: every request answered, spread exactly as `expected` (name → count).
pub fn assert_spread(
    what: &str,
    report: &xvs_lab::ClientReport,
    expected: &[(&str, usize)],
    r: &Running,
) {
    let want: std::collections::BTreeMap<String, usize> = expected
        .iter()
        .map(|(k, v)| ((*k).to_string(), *v))
        .collect();
    assert!(
        report.failed == 0 && report.by_server == want,
        "{what}: got {report:?}, want {want:?}\nstats:\n{}\nxvs log:\n{}",
        request(r, "stats"),
        r.xvs.log()
    );
}

/// Replace the interface name `from` by `to` wherever it stands alone.
pub fn rename(text: &str, from: &str, to: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    while let Some(pos) = text[done..].find(from) {
        let at = done + pos;
        let end = at + from.len();
        let alone = !text[..at].chars().next_back().is_some_and(word)
            && !text[end..].chars().next().is_some_and(word);
        out.push_str(&text[done..at]);
        out.push_str(if alone { to } else { from });
        done = end;
    }
    out.push_str(&text[done..]);
    out
}

/// A configuration written for `eth0`/`eth1` (or the demo lab's
/// `xvs-c`/`xvs-r`) with `lab`'s director interface names: client side,
/// then real-server side.
pub fn for_lab(lab: &Lab, yaml: &str) -> String {
    let (c, r) = lab.director_ifaces();
    let mut text = yaml.to_owned();
    for (from, to) in [("eth0", &c), ("xvs-c", &c), ("eth1", &r), ("xvs-r", &r)] {
        text = rename(&text, from, to);
    }
    text
}
