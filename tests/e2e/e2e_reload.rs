//! Hitless reload: under a steady stream of new HTTP connections and with
//! long-lived connections open through NAT, FullNAT and DR, ten reloads
//! change weights, remove a real server and add it back, add and remove a
//! service, change schedulers and quiesce a server. No request fails,
//! every long-lived connection carries on — also those on the removed
//! real server, whose NAT replies must still be translated while it
//! drains — and the counters carry over.

use std::time::Duration;

use xvs_e2e::health_support::ClientLoop;
use xvs_e2e::support::{header, lab, request, service, start, url, wait_until, Running, VIP4};
use xvs_lab::Method;

/// The configuration: HTTP on :80 (NAT, `web_sched`, weights `w`), the
/// hold service through NAT (:9001), FullNAT (:9002) and DR (:9000) over
/// the real servers `rs` (1-based), and optionally a second HTTP service
/// on :8080.
fn yaml(r: &xvs_lab::Lab, web_sched: &str, w: &[u32], rs: &[usize], extra: bool) -> String {
    let mut y = header(r, 1)
        + "local_pools:\n  - name: lip\n    addresses: [198.18.1.200]\n    ports: 1024-65535\n"
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", web_sched, 80, "", w);
    for (name, port, method) in [
        ("hold-nat", 9001, "nat"),
        ("hold-fullnat", 9002, "fullnat"),
        ("hold-dr", 9000, "dr"),
    ] {
        y.push_str(&format!(
            "  - name: {name}\n    vip: \"{VIP4}\"\n    port: {port}\n    protocol: tcp\n    scheduler: sh\n    method: {method}\n"
        ));
        if method == "fullnat" {
            y.push_str("    local_pool: lip\n");
        }
        y.push_str("    real_servers:\n");
        for i in rs {
            y.push_str(&format!(
                "      - {{address: 198.18.1.{}, port: 9000}}\n",
                10 + i
            ));
        }
    }
    if extra {
        y.push_str(&service(
            "web2",
            VIP4,
            "tcp",
            8080,
            "nat",
            "rr",
            8080,
            "",
            &[1, 1, 1],
        ));
    }
    y
}

/// Write `yaml`, ask for a reload and wait until version `version` runs.
fn reload(r: &Running, yaml: &str, version: u64) {
    std::fs::write(&r.config, yaml).unwrap();
    request(r, "reload");
    let want = format!("published version {version}");
    wait_until(
        10,
        &format!("reload to version {version}"),
        || r.xvs.log().contains(&want),
        || r.xvs.log(),
    );
}

/// The total connections of the web service (`list --stats --exact`).
fn web_conns(r: &Running) -> u64 {
    let stats = request(r, "stats");
    stats
        .lines()
        .find(|l| l.starts_with("TCP") && l.contains(&format!("{VIP4}:80 ")))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no web row in\n{stats}"))
}

#[test]
fn reloads_under_load_lose_nothing() {
    let Some(lab) = lab("reloads_under_load_lose_nothing", Method::Dr, 1) else {
        return;
    };
    let all = [1, 2, 3];
    let y0 = yaml(&lab, "rr", &[1, 1, 1], &all, false);
    let r = start(lab, &y0);
    let sources: Vec<String> = xvs_lab::CLIENT4_EXTRA
        .map(|h| format!("198.18.0.{h}"))
        .collect();
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    let n = 60;
    let holds: Vec<(&str, xvs_lab::Hold)> = [("nat", 9001), ("fullnat", 9002), ("dr", 9000)]
        .iter()
        .map(|&(m, port)| {
            let h = r
                .lab
                .hold_start(&format!("{VIP4}:{port}"), n, &sources, 10.0)
                .unwrap_or_else(|e| panic!("{m}: {e}"));
            (m, h)
        })
        .collect();
    let client = ClientLoop::every(
        &r.lab,
        &url(VIP4, 80),
        Duration::from_secs(24),
        Duration::from_millis(20),
    );
    std::thread::sleep(Duration::from_secs(1));
    let before = web_conns(&r);

    // Weights; a real server leaves every service (its connections
    // drain); a service is added; schedulers change; the service leaves.
    let steps = [
        yaml(&r.lab, "rr", &[3, 1, 1], &all, false),
        yaml(&r.lab, "rr", &[3, 1], &[1, 2], false),
        yaml(&r.lab, "rr", &[3, 1], &[1, 2], true),
        yaml(&r.lab, "wlc", &[3, 1], &[1, 2], true),
        yaml(&r.lab, "wlc", &[3, 1], &[1, 2], false),
        yaml(&r.lab, "wlc", &[1, 1, 1], &all, false),
        yaml(&r.lab, "lc", &[1, 1, 1], &all, true),
        yaml(&r.lab, "lc", &[1, 0, 1], &all, true),
        yaml(&r.lab, "rr", &[1, 2, 1], &all, false),
        yaml(&r.lab, "rr", &[1, 1, 1], &all, false),
    ];
    for (i, y) in steps.iter().enumerate() {
        reload(&r, y, 2 + i as u64);
        std::thread::sleep(Duration::from_millis(1800));
    }
    let after = web_conns(&r);
    let samples = client.finish();
    let failed: Vec<_> = samples.iter().filter(|s| s.error.is_some()).collect();
    eprintln!(
        "{} requests across {} reloads, {} failed; web connections {before} -> {after}",
        samples.len(),
        steps.len(),
        failed.len()
    );
    assert!(samples.len() > 600, "the client ran: {}", samples.len());
    assert!(failed.is_empty(), "no request fails: {failed:?}");
    assert!(
        after > before,
        "the counters carried over: {before} -> {after}"
    );

    let mut bad = Vec::new();
    for (m, h) in holds {
        let rep = h.finish().unwrap();
        eprintln!("{m}: {}", rep.summary());
        assert!(
            rep.by_server.contains_key(&r.lab.rs_name(3)),
            "{m}: some connections were on the real server that left: {:?}",
            rep.by_server
        );
        if rep.opened != n || rep.continued != n {
            bad.push(format!("{m}: {}", rep.summary()));
        }
    }
    assert!(
        bad.is_empty(),
        "every long-lived connection carries on, on the removed real server too:\n{}\n{}",
        bad.join("\n"),
        r.xvs.log()
    );
}
