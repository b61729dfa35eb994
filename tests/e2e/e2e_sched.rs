//! End to end, scheduling through a real `xvs run` (NAT lab): weights,
//! source hashing, persistence and quiescing a real server, observed from
//! real clients.

use std::net::IpAddr;
use std::time::Duration;

use xvs_e2e::support::*;
use xvs_lab::Method;

#[test]
fn wrr_spreads_by_weight() {
    let Some(lab) = lab("wrr_spreads_by_weight", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "wrr", 80, "", &[3, 2, 1]);
    let r = start(lab, &yaml);
    let report = r.lab.http_requests(&url(VIP4, 80), 60, 6, None).unwrap();
    assert_spread(
        "wrr 3:2:1",
        &report,
        &[("rs1", 30), ("rs2", 20), ("rs3", 10)],
        &r,
    );
}

#[test]
fn sh_keeps_each_client_on_one_server() {
    let Some(lab) = lab("sh_keeps_each_client_on_one_server", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "sh", 80, "", &[1, 1, 1]);
    let r = start(lab, &yaml);
    let mut servers = std::collections::BTreeSet::new();
    for src in r.lab.client_extra4() {
        let report = r
            .lab
            .http_requests(&url(VIP4, 80), 8, 4, Some(IpAddr::V4(src)))
            .unwrap();
        assert_eq!(report.failed, 0, "{src}: {report:?}");
        assert_eq!(
            report.by_server.len(),
            1,
            "client {src} was spread: {report:?}"
        );
        servers.extend(report.by_server.keys().cloned());
    }
    assert!(
        servers.len() >= 2,
        "ten clients all hashed to one server: {servers:?}"
    );
}

#[test]
fn persistence_keeps_a_client_on_one_server_across_connections() {
    let Some(lab) = lab("persistence_keeps_a_client", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service(
            "web",
            VIP4,
            "tcp",
            80,
            "nat",
            "rr",
            80,
            "    persistence: 300\n",
            &[1, 1, 1],
        );
    let r = start(lab, &yaml);
    let mut servers = std::collections::BTreeSet::new();
    for src in r.lab.client_extra4().into_iter().take(4) {
        let report = r
            .lab
            .http_requests(&url(VIP4, 80), 9, 3, Some(IpAddr::V4(src)))
            .unwrap();
        assert_eq!(report.failed, 0, "{src}: {report:?}");
        assert_eq!(
            report.by_server.len(),
            1,
            "persistent client {src} was spread: {report:?}"
        );
        servers.extend(report.by_server.keys().cloned());
    }
    // rr places the four clients' templates on different servers.
    assert_eq!(servers.len(), 3, "{servers:?}");
}

/// A Python client that opens one keep-alive connection, makes a request,
/// waits for a file to appear, then makes a second request on the same
/// connection; it prints the server of each.
const KEEPALIVE: &str = r#"
import http.client, os, sys, time
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=5)
c.request("GET", "/?keepalive=1"); print(c.getresponse().read().decode().strip(), flush=True)
while not os.path.exists(sys.argv[2]): time.sleep(0.05)
c.request("GET", "/?keepalive=1"); print(c.getresponse().read().decode().strip(), flush=True)
"#;

#[test]
fn weight_zero_takes_no_new_connections_while_established_ones_finish() {
    let Some(lab) = lab("weight_zero_quiesces", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let r = start(lab, &yaml);
    let go = xvs_lab::lab_dir(r.lab.prefix()).join("go");
    let script = xvs_lab::lab_dir(r.lab.prefix()).join("keepalive.py");
    std::fs::write(&script, KEEPALIVE).unwrap();
    let client = r.lab.ns_client();
    let mut keep = r
        .lab
        .spawn(
            &client,
            &[
                "python3",
                script.to_str().unwrap(),
                VIP4,
                go.to_str().unwrap(),
            ],
        )
        .unwrap();
    // rr sends the first connection to rs1.
    wait_until(
        10,
        "keep-alive client got no answer",
        || keep.log().contains("rs"),
        || keep.log(),
    );
    assert_eq!(keep.log().lines().next(), Some("rs1"), "{}", keep.log());

    // Quiesce rs1 with a reload.
    let quiesced = header(&r.lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[0, 1, 1]);
    std::fs::write(&r.config, quiesced).unwrap();
    assert!(request(&r, "reload").contains("reload"));
    wait_until(
        5,
        "reload not applied",
        || request(&r, "list").contains("198.18.1.11:80               Masq    0"),
        || format!("{}\n{}", request(&r, "list"), r.xvs.log()),
    );
    // New connections avoid rs1 ...
    let report = r.lab.http_requests(&url(VIP4, 80), 30, 5, None).unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(
        report.by_server.get("rs1"),
        None,
        "a quiesced server got new connections: {report:?}"
    );
    // ... while the established one still reaches it.
    std::fs::write(&go, "").unwrap();
    assert!(
        keep.wait_timeout(Duration::from_secs(10))
            .unwrap()
            .is_some(),
        "keep-alive client stuck: {}",
        keep.log()
    );
    let lines: Vec<String> = keep.log().lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        vec!["rs1", "rs1"],
        "the established connection must finish on rs1"
    );
}
