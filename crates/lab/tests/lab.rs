//! The lab itself, tested for real (root only; each test skips loudly
//! otherwise): the kernel NAT baseline balances HTTP and UDP over the real
//! servers, the NAT topology routes the client to every real server through
//! the director's kernel, DR real servers hold the VIP without answering ARP
//! or ND for it, and teardown leaves nothing behind; the backends' health
//! answers follow their state files, a certificate turns on HTTPS, a
//! black-holed server lets probes time out, a ping-deaf one still serves,
//! and extra addresses answer from the director's namespace.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use xvs_lab::{list_namespaces, Lab, LabError, LabSpec, Method, DEFAULT_VIP4, DEFAULT_VIP6};

fn even_spread(n: usize, each: usize) -> BTreeMap<String, usize> {
    (1..=n).map(|i| (format!("rs{i}"), each)).collect()
}

fn lab_namespaces_left(prefix: &str) -> Vec<String> {
    let ours = [
        format!("{prefix}cl"),
        format!("{prefix}dir"),
        format!("{prefix}sw"),
    ];
    list_namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|ns| {
            ours.contains(ns) || ns.strip_prefix(prefix).is_some_and(|r| r.starts_with("rs"))
        })
        .collect()
}

#[test]
fn kernel_nat_spreads_http_and_udp_over_three_real_servers() {
    if !xvs_lab::require_root("kernel_nat_spreads_http_and_udp_over_three_real_servers") {
        return;
    }
    let lab = Lab::build(LabSpec::new(Method::KernelNat)).expect("build");

    // numgen inc is a round robin over new conntrack flows, and every
    // request is a new connection (or a new source port): exactly 10 each.
    for url in ["http://198.18.0.100/", "http://[fd00:0:0:1::100]:8080/"] {
        let report = lab.http_requests(url, 30, 4, None).expect(url);
        assert_eq!((report.ok, report.failed), (30, 0), "{url}: {report:?}");
        assert_eq!(report.by_server, even_spread(3, 10), "{url}");
    }
    for addr in [
        SocketAddr::new(IpAddr::V4(DEFAULT_VIP4), 53),
        SocketAddr::new(IpAddr::V6(DEFAULT_VIP6), 5353),
    ] {
        let report = lab.udp_requests(addr, 30, None).expect("udp");
        assert_eq!((report.ok, report.failed), (30, 0), "{addr}: {report:?}");
        assert_eq!(report.by_server, even_spread(3, 10), "{addr}");
    }
}

#[test]
fn nat_lab_routes_the_client_to_every_real_server_through_the_director() {
    if !xvs_lab::require_root("nat_lab_routes_the_client_to_every_real_server_through_the_director")
    {
        return;
    }
    let lab = Lab::build(LabSpec::new(Method::Nat)).expect("build");
    let extra_src = IpAddr::V4(lab.client_extra4()[3]);
    for i in 1..=3 {
        let name = lab.rs_name(i);
        let url4 = format!("http://{}/?size=20000", lab.rs_addr4(i));
        let url6 = format!("http://[{}]:8080/", lab.rs_addr6(i));
        for (url, src) in [(&url4, None), (&url4, Some(extra_src)), (&url6, None)] {
            let report = lab.http_requests(url, 3, 1, src).expect(url);
            assert_eq!(report.ok, 3, "{url} from {src:?}: {report:?}");
            assert_eq!(report.by_server.get(&name), Some(&3), "{url}");
        }
        for addr in [
            SocketAddr::new(IpAddr::V4(lab.rs_addr4(i)), 5353),
            SocketAddr::new(IpAddr::V6(lab.rs_addr6(i)), 53),
        ] {
            let report = lab.udp_requests(addr, 3, None).expect("udp");
            assert_eq!(report.by_server.get(&name), Some(&3), "{addr}: {report:?}");
        }
    }
    // Nothing listens on the VIP in a NAT lab without a load balancer:
    // the client reports failures instead of erroring out.
    let mut opts = lab.client_options(
        xvs_lab::Target::Udp(SocketAddr::new(IpAddr::V4(DEFAULT_VIP4), 53)),
        2,
    );
    opts.timeout = std::time::Duration::from_millis(200);
    let report = lab.run_client(&opts).expect("client runs");
    assert_eq!((report.ok, report.failed), (0, 2), "{report:?}");
}

#[test]
fn dr_real_servers_hold_the_vip_but_do_not_answer_arp_or_nd_for_it() {
    if !xvs_lab::require_root("dr_real_servers_hold_the_vip_but_do_not_answer_arp_or_nd_for_it") {
        return;
    }
    let lab = Lab::build(LabSpec {
        method: Method::Dr,
        real_servers: 2,
        backends: false,
        ..LabSpec::default()
    })
    .expect("build");
    let dir = lab.ns_director();
    let (_, server_if) = lab.director_ifaces();
    // The VIP is local on every real server.
    for i in 1..=2 {
        lab.exec(
            &lab.ns_rs(i),
            &["ping", "-c", "1", "-W", "1", "198.18.0.100"],
        )
        .expect("the real server holds the VIP");
    }
    // Point the director's kernel at the real-server segment for the VIPs:
    // the real servers must stay silent (arp_ignore=1; ND answers only for
    // addresses of the receiving interface), so the pings fail, while the
    // same ping to a real server's own address works.
    lab.exec(
        &dir,
        &["ip", "route", "add", "198.18.0.100/32", "dev", &server_if],
    )
    .expect("route");
    lab.exec(
        &dir,
        &[
            "ip",
            "-6",
            "route",
            "add",
            "fd00:0:0:1::100/128",
            "dev",
            &server_if,
        ],
    )
    .expect("route6");
    lab.exec(&dir, &["ping", "-c", "1", "-W", "2", "198.18.1.11"])
        .expect("rs1 answers");
    lab.exec(&dir, &["ping", "-c", "1", "-W", "2", "fd00:0:0:2::12"])
        .expect("rs2 answers");
    for vip in ["198.18.0.100", "fd00:0:0:1::100"] {
        let err = lab.exec(&dir, &["ping", "-c", "1", "-W", "1", vip]);
        assert!(
            matches!(err, Err(LabError::Command { .. })),
            "{vip} answered: {err:?}"
        );
    }
}

#[test]
fn drop_deletes_every_namespace_and_process_also_on_panic() {
    if !xvs_lab::require_root("drop_deletes_every_namespace_and_process_also_on_panic") {
        return;
    }
    let lab = Lab::build(LabSpec {
        real_servers: 2,
        ..LabSpec::default()
    })
    .expect("build");
    let prefix = lab.prefix().to_owned();
    assert_eq!(
        lab_namespaces_left(&prefix).len(),
        5,
        "client, director, switch, 2 real servers"
    );
    let mut sleeper = lab
        .spawn(&lab.ns_client(), &["sleep", "600"])
        .expect("spawn");
    assert!(lab.spawn("not-a-lab-namespace", &["true"]).is_err());
    drop(lab);
    assert_eq!(lab_namespaces_left(&prefix), Vec::<String>::new());
    // The teardown killed the process in the namespace even though its
    // handle is still alive.
    let status = sleeper.wait_timeout(xvs_lab::TERM_GRACE).expect("wait");
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");

    let prefix = std::panic::catch_unwind(|| {
        let lab = Lab::build(LabSpec {
            real_servers: 1,
            backends: false,
            ..LabSpec::default()
        })
        .expect("build");
        let prefix = lab.prefix().to_owned();
        assert_eq!(lab_namespaces_left(&prefix).len(), 4);
        std::panic::panic_any(prefix);
    })
    .expect_err("the closure panics")
    .downcast::<String>()
    .expect("the prefix");
    assert_eq!(lab_namespaces_left(&prefix), Vec::<String>::new());
}

#[test]
fn building_on_a_prefix_in_use_fails_and_leaves_that_lab_alone() {
    if !xvs_lab::require_root("building_on_a_prefix_in_use_fails_and_leaves_that_lab_alone") {
        return;
    }
    let spec = LabSpec {
        real_servers: 1,
        backends: false,
        ..LabSpec::default()
    };
    let lab = Lab::build(spec.clone()).expect("build");
    let err = Lab::build_with_prefix(spec, lab.prefix()).expect_err("prefix in use");
    assert!(matches!(err, LabError::PrefixInUse { .. }), "{err}");
    assert_eq!(lab_namespaces_left(lab.prefix()).len(), 4);
}

/// Tears the CLI's lab down even when an assertion fails first.
struct CliLab(String);

impl Drop for CliLab {
    fn drop(&mut self) {
        let _ = Lab::teardown_prefix(&self.0);
    }
}

fn xvs_lab(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_xvs-lab"))
        .args(args)
        .output()
        .expect("run xvs-lab")
}

#[test]
fn cli_up_leaves_the_lab_running_and_down_is_idempotent() {
    if !xvs_lab::require_root("cli_up_leaves_the_lab_running_and_down_is_idempotent") {
        return;
    }
    let guard = CliLab(format!("c{:x}", std::process::id()));
    let prefix = guard.0.as_str();
    let up = xvs_lab(&[
        "up",
        "--method",
        "nat",
        "--prefix",
        prefix,
        "--real-servers",
        "1",
    ]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(lab_namespaces_left(prefix).len(), 4);

    // The lab outlives the CLI process, backend included.
    let client = xvs_lab(&[
        "client",
        "--prefix",
        prefix,
        "http://198.18.1.11/",
        "--count",
        "2",
    ]);
    let text = String::from_utf8_lossy(&client.stdout);
    assert!(
        client.status.success() && text.contains("ok 2 failed 0"),
        "{text}"
    );

    for _ in 0..2 {
        let down = xvs_lab(&["down", "--prefix", prefix]);
        assert!(
            down.status.success(),
            "{}",
            String::from_utf8_lossy(&down.stderr)
        );
        assert_eq!(lab_namespaces_left(prefix), Vec::<String>::new());
    }
    let client = xvs_lab(&["client", "--prefix", prefix, "http://198.18.1.11/"]);
    assert!(!client.status.success(), "no lab, no client");
}

/// A one-shot client for the backend's services, run with `python3 -c` in
/// a lab namespace: `KIND HOST PORT [ARG]` prints one line.
///   connect  `ok`, `refused`, `timeout` or `errno N`
///   http     `STATUS BODY` (ARG: the path; ARG2: a CA file makes it HTTPS)
///   udp      the echo reply
///   dns      the reply's header checks and RCODE
///   smtp     the banner, the answers to HELO, EHLO and QUIT, `<closed>`
/// Every kind prints `timeout` or `refused` instead when that happened.
const PROBE: &str = r#"
import http.client, os, socket, ssl, struct, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
arg = sys.argv[4:]
T = float(os.environ.get("T", "2"))
def run():
    if kind == "connect":
        socket.create_connection((host, port), timeout=T).close()
        return "ok"
    if kind == "http":
        if len(arg) > 1:
            ctx = ssl.create_default_context(cafile=arg[1])
            c = http.client.HTTPSConnection(host, port, timeout=T, context=ctx)
        else:
            c = http.client.HTTPConnection(host, port, timeout=T)
        c.request("GET", arg[0])
        r = c.getresponse()
        return "%d %r" % (r.status, r.read())
    if kind == "udp":
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(T)
        s.sendto(b"ping", (host, port))
        return repr(s.recv(512))
    if kind == "dns":
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(T)
        question = b"\x03xvs\x04test\x00" + struct.pack("!HH", 6, 1)
        s.sendto(struct.pack("!6H", 0xBEEF, 0x0100, 1, 0, 0, 0) + question, (host, port))
        d = s.recv(512)
        ident, flags, qd = struct.unpack("!3H", d[:6])
        return "id=%s qr=%d rd=%d rcode=%d question=%s" % (
            "ok" if ident == 0xBEEF else hex(ident), flags >> 15, (flags >> 8) & 1,
            flags & 15, "ok" if qd == 1 and d[12:] == question else repr(d[12:]))
    if kind == "smtp":
        f = socket.create_connection((host, port), timeout=T).makefile("rwb")
        lines = [f.readline()]
        for cmd in (b"HELO director", b"EHLO director", b"QUIT"):
            f.write(cmd + b"\r\n")
            f.flush()
            lines.append(f.readline())
        lines.append(f.readline() or b"<closed>")
        return " / ".join(l.decode().rstrip("\r\n") for l in lines)
try:
    print(run())
except TimeoutError:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("errno %s" % e.errno)
"#;

/// Run [`PROBE`] in `ns` with timeout `secs`; its one line.
fn probe(lab: &Lab, ns: &str, secs: f64, args: &[&str]) -> String {
    let timeout = format!("T={secs}");
    let mut full = vec!["env", timeout.as_str(), "python3", "-c", PROBE];
    full.extend_from_slice(args);
    let out = lab.exec(ns, &full).expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn health_lab(real_servers: usize) -> Lab {
    Lab::build(LabSpec {
        real_servers,
        ..LabSpec::new(Method::Nat)
    })
    .expect("build")
}

#[test]
fn health_answers_follow_the_state_files_on_every_request() {
    if !xvs_lab::require_root("health_answers_follow_the_state_files_on_every_request") {
        return;
    }
    let lab = health_lab(2);
    let dir = lab.ns_director();
    let (rs1, rs1_6) = (lab.rs_addr4(1).to_string(), lab.rs_addr6(1).to_string());
    let rs2 = lab.rs_addr4(2).to_string();
    let health = |host: &str, port: &str| probe(&lab, &dir, 2.0, &["http", host, port, "/health"]);

    // Defaults: no state files.
    assert_eq!(health(&rs1, "80"), r"200 b'rs1 ok\n'");
    assert_eq!(health(&rs1_6, "8080"), r"200 b'rs1 ok\n'");
    assert_eq!(
        probe(&lab, &dir, 2.0, &["dns", &rs1, "5300"]),
        "id=ok qr=1 rd=1 rcode=0 question=ok"
    );
    assert_eq!(
        probe(&lab, &dir, 2.0, &["smtp", &rs1_6, "2525"]),
        "220 rs1 ESMTP / 250 rs1 / 500 unrecognised command / 221 bye / <closed>"
    );
    // The other services are untouched by /health.
    assert_eq!(
        probe(&lab, &dir, 2.0, &["http", &rs1, "80", "/"]),
        r"200 b'rs1\n'"
    );

    // Each write is seen by the very next request, on one server only.
    lab.set_health_status(1, 503).expect("status");
    lab.set_health_body(1, "draining\n").expect("body");
    lab.set_dns_rcode(1, 2).expect("rcode");
    lab.set_smtp_banner(1, "554 no service here")
        .expect("banner");
    assert_eq!(health(&rs1, "80"), r"503 b'draining\n'");
    assert_eq!(health(&rs1_6, "8080"), r"503 b'draining\n'");
    assert_eq!(
        probe(&lab, &dir, 2.0, &["dns", &rs1_6, "5300"]),
        "id=ok qr=1 rd=1 rcode=2 question=ok"
    );
    assert!(
        probe(&lab, &dir, 2.0, &["smtp", &rs1, "2525"]).starts_with("554 no service here / "),
        "banner"
    );
    assert_eq!(health(&rs2, "80"), r"200 b'rs2 ok\n'");
    lab.set_health_status(1, 200).expect("status");
    assert_eq!(health(&rs1, "80"), r"200 b'draining\n'");
    lab.reset_health(1).expect("reset");
    assert_eq!(health(&rs1, "80"), r"200 b'rs1 ok\n'");
    assert_eq!(
        probe(&lab, &dir, 2.0, &["dns", &rs1, "5300"]),
        "id=ok qr=1 rd=1 rcode=0 question=ok"
    );

    // Values a backend cannot serve are refused before any file changes.
    for bad in [
        lab.set_health_status(1, 42),
        lab.set_health_status(1, 600),
        lab.set_dns_rcode(1, 16),
        lab.set_smtp_banner(1, "220 a\r\n250 b"),
        lab.set_health_status(3, 200),
        lab.set_health_status(0, 200),
    ] {
        assert!(matches!(bad, Err(LabError::Spec(_))), "{bad:?}");
    }
    assert_eq!(health(&rs1, "80"), r"200 b'rs1 ok\n'");
    assert!(lab.state_dir(1).starts_with(xvs_lab::lab_dir(lab.prefix())));
}

#[test]
fn a_certificate_turns_on_https_at_the_next_backend_start() {
    if !xvs_lab::require_root("a_certificate_turns_on_https_at_the_next_backend_start") {
        return;
    }
    let mut lab = health_lab(1);
    let dir = lab.ns_director();
    let (rs1, rs1_6) = (lab.rs_addr4(1).to_string(), lab.rs_addr6(1).to_string());
    assert_eq!(probe(&lab, &dir, 2.0, &["connect", &rs1, "443"]), "refused");

    let cert =
        rcgen::generate_simple_self_signed(vec![rs1.clone(), rs1_6.clone()]).expect("certificate");
    lab.write_tls(1, &cert.cert.pem(), &cert.key_pair.serialize_pem())
        .expect("write");
    // Not before the restart: the backend reads the files once.
    assert_eq!(probe(&lab, &dir, 2.0, &["connect", &rs1, "443"]), "refused");
    lab.start_backend(1).expect("restart with TLS");

    // The client verifies the chain and the IP in the certificate.
    let ca = lab.state_dir(1).join(xvs_lab::CERT_FILE);
    let ca = ca.to_str().expect("utf-8 path");
    for host in [&rs1, &rs1_6] {
        assert_eq!(
            probe(&lab, &dir, 2.0, &["http", host, "443", "/health", ca]),
            r"200 b'rs1 ok\n'",
            "{host}"
        );
    }
    lab.set_health_status(1, 500).expect("status");
    assert_eq!(
        probe(&lab, &dir, 2.0, &["http", &rs1, "443", "/health", ca]),
        r"500 b'rs1 ok\n'"
    );
    assert_eq!(
        probe(&lab, &dir, 2.0, &["http", &rs1, "80", "/"]),
        r"200 b'rs1\n'",
        "plain HTTP still served"
    );

    lab.remove_tls(1).expect("remove");
    lab.start_backend(1).expect("restart without TLS");
    assert_eq!(probe(&lab, &dir, 2.0, &["connect", &rs1, "443"]), "refused");
}

#[test]
fn a_blackholed_real_server_lets_probes_time_out_instead_of_refusing_them() {
    if !xvs_lab::require_root(
        "a_blackholed_real_server_lets_probes_time_out_instead_of_refusing_them",
    ) {
        return;
    }
    let lab = health_lab(2);
    let dir = lab.ns_director();
    let (rs1, rs1_6) = (lab.rs_addr4(1).to_string(), lab.rs_addr6(1).to_string());
    let rs2 = lab.rs_addr4(2).to_string();
    // Before: a closed port is refused at once, an open one connects.
    for host in [&rs1, &rs1_6] {
        assert_eq!(probe(&lab, &dir, 1.0, &["connect", host, "81"]), "refused");
        assert_eq!(probe(&lab, &dir, 1.0, &["connect", host, "80"]), "ok");
    }

    lab.blackhole(1).expect("blackhole");
    lab.blackhole(1).expect("blackhole is idempotent");
    // Every check waits out its timeout: run them all at once.
    let checks: Vec<(&str, &String, &str)> = [&rs1, &rs1_6]
        .into_iter()
        .flat_map(|host| {
            [
                ("connect", host, "80"),
                ("connect", host, "81"),
                ("udp", host, "53"),
                ("dns", host, "5300"),
            ]
        })
        .collect();
    std::thread::scope(|s| {
        for &(kind, host, port) in &checks {
            let (lab, dir) = (&lab, &dir);
            s.spawn(move || {
                assert_eq!(
                    probe(lab, dir, 0.5, &[kind, host, port]),
                    "timeout",
                    "{kind} {host}:{port}"
                );
            });
        }
        for host in [&rs1, &rs1_6] {
            let (lab, dir) = (&lab, &dir);
            s.spawn(move || {
                let ping = lab.exec(dir, &["ping", "-c", "1", "-W", "1", host]);
                assert!(ping.is_err(), "{host} answered a ping");
            });
        }
    });
    // Only rs1 is cut off.
    assert_eq!(probe(&lab, &dir, 1.0, &["connect", &rs2, "80"]), "ok");

    lab.clear_filters(1).expect("clear");
    lab.clear_filters(1).expect("clearing is idempotent");
    for host in [&rs1, &rs1_6] {
        assert_eq!(probe(&lab, &dir, 1.0, &["connect", host, "80"]), "ok");
        assert_eq!(probe(&lab, &dir, 1.0, &["udp", host, "53"]), "b'rs1:ping'");
    }
}

#[test]
fn drop_icmp_echo_stops_ping_but_not_tcp_or_udp() {
    if !xvs_lab::require_root("drop_icmp_echo_stops_ping_but_not_tcp_or_udp") {
        return;
    }
    let lab = health_lab(1);
    let dir = lab.ns_director();
    let hosts = [lab.rs_addr4(1).to_string(), lab.rs_addr6(1).to_string()];
    let ping = |host: &str| {
        lab.exec(&dir, &["ping", "-c", "1", "-W", "1", host])
            .is_ok()
    };
    for host in &hosts {
        assert!(ping(host), "{host} answers before");
    }
    lab.drop_icmp_echo(1).expect("drop echo");
    for host in &hosts {
        assert!(!ping(host), "{host} answered a ping");
        assert_eq!(probe(&lab, &dir, 2.0, &["connect", host, "8080"]), "ok");
        assert_eq!(
            probe(&lab, &dir, 2.0, &["udp", host, "5353"]),
            "b'rs1:ping'"
        );
    }
    // Faults combine and clear together.
    lab.blackhole(1).expect("blackhole");
    assert_eq!(
        probe(&lab, &dir, 0.5, &["connect", &hosts[0], "80"]),
        "timeout"
    );
    lab.clear_filters(1).expect("clear");
    for host in &hosts {
        assert!(ping(host), "{host} answers after");
    }
}

#[test]
fn extra_addresses_answer_from_the_director_namespace() {
    if !xvs_lab::require_root("extra_addresses_answer_from_the_director_namespace") {
        return;
    }
    let lab = health_lab(2);
    let dir = lab.ns_director();
    let many = lab.add_backend_addresses(2, 1000).expect("1000 addresses");
    let few = lab.add_backend_addresses(1, 3).expect("3 addresses");
    assert_eq!((many.len(), few.len()), (1000, 3));
    let mut all: Vec<_> = many.iter().chain(&few).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 1003, "no address handed out twice");
    assert!(all.iter().all(|a| xvs_lab::in_extra_pool((**a).into())));

    // One Python process connects to each: a GET on every one of the 1003
    // addresses, the server's name per address.
    let script = r#"
import http.client, sys
for host in sys.argv[1:]:
    c = http.client.HTTPConnection(host, 80, timeout=2)
    c.request("GET", "/")
    r = c.getresponse()
    print(host, r.status, r.getheader("X-Server"))
"#;
    let hosts: Vec<String> = many.iter().chain(&few).map(ToString::to_string).collect();
    let mut args = vec!["python3", "-c", script];
    args.extend(hosts.iter().map(String::as_str));
    let out = lab.exec(&dir, &args).expect("every GET answered");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1003, "{text}");
    for (line, host) in lines.iter().zip(&hosts) {
        let name = if few.iter().any(|a| a.to_string() == *host) {
            "rs1"
        } else {
            "rs2"
        };
        assert_eq!(*line, format!("{host} 200 {name}"));
    }
    // The other services answer there too (they bind [::] as well).
    let last = few[2].to_string();
    assert_eq!(
        probe(&lab, &dir, 2.0, &["dns", &last, "5300"]),
        "id=ok qr=1 rd=1 rcode=0 question=ok"
    );
    assert_eq!(probe(&lab, &dir, 2.0, &["udp", &last, "53"]), "b'rs1:ping'");
}
