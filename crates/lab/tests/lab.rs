//! The lab itself, tested for real (root only; each test skips loudly
//! otherwise): the kernel NAT baseline balances HTTP and UDP over the real
//! servers, the NAT topology routes the client to every real server through
//! the director's kernel, DR real servers hold the VIP without answering ARP
//! or ND for it, and teardown leaves nothing behind.

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
