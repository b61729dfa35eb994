//! End to end, the control socket and the metrics endpoint with a real
//! `xvs run` in the lab: the socket is root's alone (mode bits, a non-root
//! client refused at connect and, with the socket opened up by hand, by
//! its credentials), a stuck client delays no one, the JSON protocol
//! answers as documented, every listing's `--json` is the data its text
//! is rendered from, `xvs conns` shows a traffic run's connections (with
//! FullNAT's local addresses) and filters them, `--rate` moves under
//! traffic, and Prometheus scrapes `global.metrics_listen`.
//!
//! Mutations that fail these tests: dropping `access::secure_socket` (the
//! socket keeps the umask's mode), skipping `access::check_peer`, serving
//! connections on the accept thread (the stuck client blocks `xvs list`),
//! not sampling the estimator (rates stay 0).

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use xvs_e2e::support::*;
use xvs_lab::{Lab, LabProcess, Method};
use xvs_runtime::api::data::{ConnsListing, Listing};
use xvs_runtime::api::render::{self, Columns};

/// `xvs ARGS --control SOCK`.
fn xvs(sock: &Path, args: &[&str]) -> Output {
    Command::new(xvs_bin())
        .args(args)
        .arg("--control")
        .arg(sock)
        .output()
        .expect("run xvs")
}

/// Stdout of a command that must succeed.
fn ok(sock: &Path, args: &[&str]) -> String {
    let out = xvs(sock, args);
    assert!(
        out.status.success(),
        "xvs {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn json(sock: &Path, args: &[&str]) -> Value {
    let text = ok(sock, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("xvs {args:?}: {e}:\n{text}"))
}

/// One raw request line over the socket, as a script would send it.
fn raw(sock: &Path, line: &str) -> Value {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(line.as_bytes()).expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("answer");
    assert_eq!(text.matches('\n').count(), 1, "one answer line: {text:?}");
    serde_json::from_str(&text).expect("a JSON answer")
}

/// Start `xvs run` with `yaml` and the control socket at `sock`; wait
/// until `xvs list` answers.
fn start_at(lab: &Lab, yaml: &str, sock: &Path) -> LabProcess {
    let config = xvs_lab::lab_dir(lab.prefix()).join("api.yaml");
    std::fs::write(&config, yaml).expect("config");
    let mut daemon = spawn_run(lab, &lab.ns_director(), &config, sock);
    let t0 = Instant::now();
    while !xvs(sock, &["list"]).status.success() {
        assert!(daemon.is_running(), "xvs run exited:\n{}", daemon.log());
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "xvs run did not come up:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("exists").mode() & 0o7777
}

/// `xvs list` as uid/gid 65534 (nobody), without root's groups.
fn as_nobody(sock: &Path) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            xvs_bin(),
            "list",
            "--control",
        ])
        .arg(sock)
        .output()
        .expect("setpriv (util-linux)")
}

#[test]
fn control_socket_is_private_and_serves_clients_concurrently() {
    let Some(lab) = lab("api_socket_private", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let dir = xvs_lab::lab_dir(lab.prefix());

    // A directory anyone can write is refused at start, with the fix.
    let open = dir.join("open");
    std::fs::create_dir_all(&open).expect("mkdir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let config = dir.join("open.yaml");
    std::fs::write(&config, &yaml).expect("config");
    let open_sock = open.join("xvs.sock");
    let (code, log) = run_refused(&lab, &config, &open_sock);
    assert_ne!(code, Some(0));
    assert!(
        log.contains("writable by everyone (mode 0777)") && log.contains("only root can write"),
        "{log}"
    );
    assert!(!open_sock.exists());

    // A fresh directory: created 0700, the socket 0600, both root's.
    let ctl = dir.join("ctl");
    let sock = ctl.join("xvs.sock");
    let d = start_at(&lab, &yaml, &sock);
    assert_eq!(mode(&ctl), 0o700, "directory mode");
    assert_eq!(mode(&sock), 0o600, "socket mode");
    assert_eq!(std::fs::metadata(&sock).expect("socket").uid(), 0);

    // Not root: refused by the file system...
    let out = as_nobody(&sock);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("permission denied on the control socket"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // ...and by the daemon when the socket is opened up by hand.
    std::fs::set_permissions(&ctl, std::fs::Permissions::from_mode(0o711)).expect("chmod");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = as_nobody(&sock);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("uid 65534 may not use the control socket"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    // A client that connects and says nothing delays no one.
    let stuck = UnixStream::connect(&sock).expect("connect");
    let t0 = Instant::now();
    let list = ok(&sock, &["list"]);
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "xvs list took {:?} behind a stuck client",
        t0.elapsed()
    );
    assert!(list.contains("TCP  198.18.0.100:80 rr"), "{list}");
    // It gets its answer when its time is up.
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut text = String::new();
    (&stuck).read_to_string(&mut text).expect("answer");
    assert!(text.contains("no request line within 5 s"), "{text}");
    assert!(t0.elapsed() >= Duration::from_secs(4), "{:?}", t0.elapsed());

    // 32 clients at once are served; one more is told the daemon is busy.
    let held: Vec<UnixStream> = (0..32)
        .map(|_| UnixStream::connect(&sock).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let out = xvs(&sock, &["list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("busy: 32 requests are in progress"), "{err}");
    drop(held);
    wait_until(
        5,
        "the closed clients' threads did not finish",
        || xvs(&sock, &["list"]).status.success(),
        || d.log(),
    );

    // The protocol as a script speaks it.
    let a = raw(
        &sock,
        "{\"version\":1,\"command\":\"list\",\"args\":{\"service\":\"tcp:198.18.0.100:80\"}}\n",
    );
    assert_eq!(a["version"], 1);
    assert_eq!(a["ok"], true);
    assert_eq!(a["data"]["services"][0]["scheduler"], "rr");
    assert_eq!(
        a["data"]["services"][0]["real_servers"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let a = raw(&sock, "{\"version\":2,\"command\":\"list\"}\n");
    assert_eq!(a["ok"], false);
    assert_eq!(
        a["error"],
        "protocol version 2 is not supported: this daemon speaks version 1"
    );
    let a = raw(&sock, "{\"version\":1,\"command\":\"flush\"}\n");
    assert!(
        a["error"]
            .as_str()
            .is_some_and(|e| e.contains("supported: list, conns, status")),
        "{a}"
    );
    let a = raw(&sock, "list\n");
    assert!(
        a["error"]
            .as_str()
            .is_some_and(|e| e.contains("docs/control-protocol.md")),
        "{a}"
    );
    let out = xvs(&sock, &["list", "--service", "tcp:198.18.0.100:81"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no service tcp:198.18.0.100:81 in the running configuration"));
    drop(d);
}

#[test]
fn listings_conns_rates_and_metrics_under_traffic() {
    let Some(lab) = lab("api_listings", Method::FullNat, 1) else {
        return;
    };
    let pool = "    local_pool: lip\n";
    let yaml = header(&lab, 1).replacen(
        "interfaces:\n",
        "  metrics_listen: 198.18.0.2:9100\ninterfaces:\n",
        1,
    ) + LOCAL_POOL
        + "services:\n"
        + &service(
            "web",
            VIP4,
            "tcp",
            80,
            "fullnat",
            "rr",
            8080,
            pool,
            &[1, 1, 1],
        )
        + &service(
            "hold",
            VIP4,
            "tcp",
            9000,
            "fullnat",
            "rr",
            9000,
            pool,
            &[1, 1, 1],
        )
        + &service(
            "dns",
            VIP4,
            "udp",
            53,
            "fullnat",
            "rr",
            5353,
            pool,
            &[1, 1, 1],
        );
    let r = start(lab, &yaml);
    let sock = r.sock.clone();

    // Long-lived connections to list.
    let hold = r
        .lab
        .hold_start(&format!("{VIP4}:9000"), 30, &[], 10.0)
        .expect("30 connections held");

    // conns: JSON and text are the same entries.
    let all = json(&sock, &["conns", "--json"]);
    let conns: ConnsListing = serde_json::from_value(all.clone()).expect("documented shape");
    let held: Vec<_> = conns
        .connections
        .iter()
        .filter(|c| c.vservice.port == 9000 && !c.template)
        .collect();
    assert_eq!(held.len(), 30, "{all:#}");
    for c in &held {
        assert_eq!(c.state, "ESTABLISHED");
        assert_eq!(c.method, "fullnat");
        let local = c.local.expect("FullNAT entries show their local address");
        assert_eq!(local.address.to_string(), "198.18.1.200");
        assert!((20000..=29999).contains(&local.port), "{local:?}");
        assert!(c.expires_in > 800, "{c:?}");
    }
    let text = ok(&sock, &["conns"]);
    assert!(text.starts_with(
        "IPVS connection entries\npro expire state       source             virtual            local              destination\n"
    ), "{text}");
    for c in &held {
        let ep = |e: &xvs_runtime::api::data::Endpoint| format!("{}:{}", e.address, e.port);
        let local = c.local.expect("local");
        let row = format!(
            "ESTABLISHED {:<18} {:<18} {:<18} {}",
            ep(&c.source),
            "198.18.0.100:9000",
            ep(&local),
            ep(&c.destination),
        );
        assert!(text.contains(&row), "{row:?} not in\n{text}");
    }

    // Filters: one service, one real server, both.
    let of_service = json(
        &sock,
        &["conns", "--json", "--service", "tcp:198.18.0.100:9000"],
    );
    let n_service = of_service["connections"]
        .as_array()
        .map(Vec::len)
        .expect("array");
    assert!(n_service >= 30, "{of_service:#}");
    let mut per_server = 0;
    for rs in ["198.18.1.11", "198.18.1.12", "198.18.1.13"] {
        let v = json(
            &sock,
            &[
                "conns",
                "--json",
                "--service",
                "tcp:198.18.0.100:9000",
                "--real-server",
                &format!("{rs}:9000"),
            ],
        );
        let list = v["connections"].as_array().expect("array");
        assert!(!list.is_empty(), "rr spreads over {rs}: {v:#}");
        for c in list {
            assert_eq!(c["destination"]["address"], rs);
            assert_eq!(c["virtual"]["port"], 9000);
        }
        per_server += list.len();
    }
    assert_eq!(per_server, n_service);
    let none = json(&sock, &["conns", "--json", "--real-server", "198.18.1.99"]);
    assert_eq!(none["connections"], Value::Array(vec![]));
    let text = ok(&sock, &["conns", "--real-server", "198.18.1.11"]);
    assert!(
        text.lines()
            .skip(2)
            .all(|l| l.ends_with("198.18.1.11:9000")),
        "{text}"
    );

    // list: the text is the JSON rendered, in every layout.
    for (args, columns) in [
        (vec!["list"], Columns::Connections),
        (vec!["list", "--stats"], Columns::Stats),
        (vec!["list", "--stats", "--exact"], Columns::Stats),
    ] {
        let exact = args.contains(&"--exact");
        let listing = || -> Listing {
            serde_json::from_value(json(&sock, &[args.clone(), vec!["--json"]].concat()))
                .expect("documented shape")
        };
        // Counters move while connections close: compare the text with
        // the JSON only when the JSON taken before and after it agree.
        let mut compared = false;
        for _ in 0..20 {
            let before = listing();
            let text = ok(&sock, &args);
            if before != listing() {
                continue;
            }
            assert_eq!(
                text,
                render::listing(&before, columns, exact, false),
                "{args:?}"
            );
            compared = true;
            break;
        }
        assert!(
            compared,
            "{args:?}: the listing never held still for one comparison"
        );
    }
    let data = json(&sock, &["list", "--json"]);
    let hold_svc = data["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["port"] == 9000)
        .expect("listed");
    let active: u64 = hold_svc["real_servers"]
        .as_array()
        .expect("real servers")
        .iter()
        .map(|rs| rs["active_conns"].as_u64().expect("number"))
        .sum();
    assert_eq!(active, 30, "{hold_svc:#}");
    let one = ok(&sock, &["list", "--service", "tcp:198.18.0.100:9000"]);
    assert!(
        one.starts_with("Prot LocalAddress:Port Scheduler Flags\n"),
        "{one}"
    );
    assert_eq!(one.lines().count(), 2 + 1 + 3, "{one}");
    let report = hold.finish().expect("hold report");
    assert_eq!(report.failed_total(), 0, "{}", report.summary());

    // --rate: the estimator sees a traffic run.
    let report = r.lab.http_requests(&url(VIP4, 80), 600, 20, None).unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    let web_cps = |v: &Value| {
        v["services"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["port"] == 80))
            .and_then(|web| web["rate"]["cps"].as_u64())
            .unwrap_or(0)
    };
    let t0 = Instant::now();
    let rates = loop {
        let rates = json(&sock, &["list", "--rate", "--json"]);
        if web_cps(&rates) > 0 {
            break rates;
        }
        // One estimator tick is 2 s; the run's increase lands in the next.
        assert!(
            t0.elapsed() < Duration::from_secs(6),
            "no rate after a traffic run: {rates:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let web = rates["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["port"] == 80))
        .expect("web");
    for key in ["in_pps", "out_pps", "in_bps", "out_bps"] {
        assert!(web["rate"][key].as_u64() > Some(0), "{key}: {web:#}");
    }
    let moving: usize = web["real_servers"]
        .as_array()
        .expect("real servers")
        .iter()
        .filter(|rs| rs["rate"]["cps"].as_u64() > Some(0))
        .count();
    assert_eq!(moving, 3, "rr spreads the rate: {web:#}");
    let text = ok(&sock, &["list", "--rate"]);
    assert!(
        text.contains("CPS    InPPS   OutPPS    InBPS   OutBPS"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("TCP  198.18.0.100:80 "))
        .expect("web's line");
    let cps: u64 = line
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("a CPS column");
    assert!(cps > 0, "{text}");

    // Prometheus scrapes the endpoint from the client's side.
    let client = r.lab.ns_client();
    let curl = |path: &str| {
        let out = r
            .lab
            .exec(
                &client,
                &[
                    "curl",
                    "-sS",
                    "-i",
                    "--max-time",
                    "5",
                    &format!("http://198.18.0.2:9100{path}"),
                ],
            )
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let scrape = curl("/metrics");
    let (head, body) = scrape.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        metric_in(body, "xvs_service_connections_total", &["198.18.0.100:80"]) >= 600,
        "{body}"
    );
    // The estimator's rates as gauges, and the table's occupancy.
    for family in [
        "xvs_service_connections_per_second",
        "xvs_real_server_in_packets_per_second",
    ] {
        assert!(
            metric_in(body, family, &["198.18.0.100:80"]) > 0,
            "{family}:\n{body}"
        );
    }
    assert_eq!(
        metric_in(body, "xvs_conn_capacity", &[]),
        65536 + 16384,
        "{body}"
    );
    assert!(curl("/").starts_with("HTTP/1.1 404 Not Found"));
    promtool_check(body);
    // `xvs metrics` serves the same families.
    let families = |t: &str| -> std::collections::BTreeSet<String> {
        t.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(families(body), families(&ok(&sock, &["metrics"])));
}

/// `promtool check metrics` over `text`, when promtool is installed
/// (Debian's `prometheus` package); says loudly that it skipped otherwise.
fn promtool_check(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIP promtool check metrics: {e} (install Debian's `prometheus` package) ***"
            );
            return;
        }
    };
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reload_answers_with_its_outcome() {
    let Some(lab) = lab("api_reload", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let r = start(lab, &yaml);
    let sock: PathBuf = r.sock.clone();
    let out = ok(&sock, &["reload"]);
    assert!(out.starts_with("reloaded "), "{out}");

    // A rejected file: the reason on stderr, exit 1, the config kept.
    let before = ok(&sock, &["list"]);
    std::fs::write(&r.config, yaml.replace("scheduler: rr", "scheduler: nope")).unwrap();
    let out = xvs(&sock, &["reload"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("xvs: ") && err.contains("xvs.yaml:") && err.contains("scheduler"),
        "{err}"
    );
    assert_eq!(ok(&sock, &["list"]), before);
    // One that needs a restart says so, and is refused too.
    std::fs::write(
        &r.config,
        yaml.replace("conn_capacity: 65536", "conn_capacity: 1024"),
    )
    .unwrap();
    let out = xvs(&sock, &["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conn_capacity") && err.contains("need a restart"),
        "{err}"
    );
    assert_eq!(ok(&sock, &["list"]), before);

    // SIGHUP still reloads (the control thread's flag).
    std::fs::write(&r.config, yaml.replace("scheduler: rr", "scheduler: wrr")).unwrap();
    r.xvs.signal("HUP").unwrap();
    wait_until(
        5,
        "SIGHUP did not reload",
        || ok(&sock, &["list"]).contains("TCP  198.18.0.100:80 wrr"),
        || r.xvs.log(),
    );
}

/// `xvs service …`, `xvs real-server …`, `diff` and `save` reach the
/// control thread and answer with its outcome; the director forwards as
/// changed.
#[test]
fn runtime_changes_through_the_cli() {
    let Some(lab) = lab("api_changes", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let r = start(lab, &yaml);
    let sock = r.sock.clone();
    let new = "tcp:198.18.0.101:80";

    ok(
        &sock,
        &[
            "service",
            "add",
            new,
            "--scheduler",
            "wrr",
            "--method",
            "nat",
        ],
    );
    for (rs, weight) in [("198.18.1.11:8080", "2"), ("198.18.1.12:8080", "1")] {
        ok(&sock, &["real-server", "add", new, rs, "--weight", weight]);
    }
    let one = ok(&sock, &["list", "--service", new]);
    assert!(one.contains("TCP  198.18.0.101:80 wrr\n"), "{one}");
    assert!(
        one.contains("  -> 198.18.1.11:8080             Masq    2 "),
        "{one}"
    );
    assert!(
        one.contains("  -> 198.18.1.12:8080             Masq    1 "),
        "{one}"
    );
    let report = r
        .lab
        .http_requests(&url("198.18.0.101", 80), 30, 5, None)
        .unwrap();
    assert_spread(
        "the added service",
        &report,
        &[("rs1", 20), ("rs2", 10)],
        &r,
    );

    ok(
        &sock,
        &[
            "real-server",
            "edit",
            new,
            "198.18.1.12:8080",
            "--weight",
            "3",
        ],
    );
    ok(&sock, &["real-server", "drain", new, "198.18.1.11:8080"]);
    let one = ok(&sock, &["list", "--service", new]);
    assert!(
        one.contains("  -> 198.18.1.11:8080             Masq    0 "),
        "{one}"
    );
    assert!(
        one.contains("  -> 198.18.1.12:8080             Masq    3 "),
        "{one}"
    );
    ok(
        &sock,
        &[
            "service",
            "edit",
            "tcp:198.18.0.100:80",
            "--yaml",
            "{scheduler: wlc}",
        ],
    );
    assert!(ok(&sock, &["list"]).contains("TCP  198.18.0.100:80 wlc\n"));

    // Refusals: the daemon's reason, exit 1, nothing changed.
    let before = ok(&sock, &["list"]);
    for args in [
        vec!["service", "add", "tcp:198.18.0.100:80"],
        vec![
            "service",
            "add",
            "tcp:198.18.0.102:80",
            "--scheduler",
            "nope",
        ],
        vec!["real-server", "drain", new, "198.18.1.99"],
    ] {
        let out = xvs(&sock, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("xvs: ") && err.len() > 10,
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(ok(&sock, &["list"]), before);

    // diff names what changed; save writes YAML that `xvs check` accepts.
    let diff = ok(&sock, &["diff"]);
    assert!(diff.contains("198.18.0.101"), "{diff}");
    let saved = xvs_lab::lab_dir(r.lab.prefix()).join("saved.yaml");
    ok(&sock, &["save", "-o", saved.to_str().expect("UTF-8")]);
    assert_eq!(mode(&saved), 0o600);
    let check = Command::new(xvs_bin())
        .args(["check", "-c"])
        .arg(&saved)
        .output()
        .expect("xvs check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let listed = String::from_utf8_lossy(&check.stdout);
    assert!(listed.contains("TCP  198.18.0.101:80 wrr\n"), "{listed}");
    assert!(listed.contains("TCP  198.18.0.100:80 wlc\n"), "{listed}");
    assert_eq!(
        ok(&sock, &["save"]),
        std::fs::read_to_string(&saved).expect("saved")
    );

    ok(&sock, &["real-server", "remove", new, "198.18.1.12:8080"]);
    ok(&sock, &["service", "remove", new]);
    assert!(!ok(&sock, &["list"]).contains("198.18.0.101"));
    // A reload goes back to the file and says it replaced the changes.
    let out = ok(&sock, &["reload"]);
    assert!(out.contains("replaced"), "{out}");
    assert!(ok(&sock, &["list"]).contains("TCP  198.18.0.100:80 rr\n"));
}
