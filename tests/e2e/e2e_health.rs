//! End to end, keepalived's checker half: a real `xvs run` in the lab
//! checks real backends (HTTP, HTTPS, UDP, ICMP, DNS, SMTP servers, and
//! programs and files on the director) from the director's kernel stack,
//! and what it finds reaches the forwarding plan: a dead real server stops
//! getting new connections within one check cycle and comes back (slowly,
//! with slowstart) when it recovers; inhibit_on_failure, the sorry server
//! and quorum scripts behave as keepalived's. A real client sends through
//! the VIP throughout and the only failures allowed are requests sent to
//! a dead server before its detection deadline.

use std::time::{Duration, Instant};

use xvs_e2e::health_support::*;
use xvs_e2e::support::*;
use xvs_lab::Method;

/// Checker timing used throughout: a check a second, 1 s timeouts, one
/// retry 1 s later. A dead server is out within delay_loop + retry ×
/// (connect_timeout + delay_before_retry) + 1 s = 4 s.
const TIMING: &str = "    delay_loop: 1\n    connect_timeout: 1\n    retry: 1\n    delay_before_retry: 1\n    warmup: 0.2\n";
const DEADLINE: f64 = 1.0 + 1.0 * (1.0 + 1.0) + 1.0;

/// A TCP service of the lab's real servers with per-server YAML.
fn health_service(
    name: &str,
    vip: &str,
    port: u16,
    method: &str,
    scheduler: &str,
    keys: &str,
    servers: &[(u32, u16, &str)],
) -> String {
    service_with(name, vip, "tcp", port, method, scheduler, keys, servers)
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_dead_real_server_leaves_within_its_deadline_and_returns_with_slowstart() {
    let Some((_serial, lab)) = health_lab(
        "a_dead_real_server_leaves_within_its_deadline_and_returns_with_slowstart",
        Method::Nat,
    ) else {
        return;
    };
    let http = "        health: { type: http, path: /health }\n";
    let yaml = header(&lab, 1)
        + "services:\n"
        + &health_service(
            "web",
            VIP4,
            80,
            "nat",
            "wrr",
            &format!("{TIMING}    slowstart: 6\n"),
            &[(10, 8080, http), (10, 8080, http), (10, 8080, http)],
        );
    let mut r = start(lab, &yaml);
    for rs in ["198.18.1.11:8080", "198.18.1.12:8080", "198.18.1.13:8080"] {
        wait_checked(&r, VIP4, 80, rs, 10);
    }
    // Worker cores never run probe work: the worker is pinned to core 0,
    // the health thread may run anywhere else.
    if std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
        let cpus = health_thread_cpus(&r).expect("the xvs-health thread");
        assert!(
            !cpus.is_empty() && !cpus.contains(&0),
            "the health thread may run on {cpus:?}"
        );
    }

    // Keep-alive connections opened now: those on a server that stays
    // healthy must carry on through every transition below.
    let keepalive = KeepAlive::start(&r, 3, Duration::from_secs(26));
    let client = ClientLoop::start(
        &r.lab,
        &url(VIP4, 80),
        Duration::from_secs(26),
        2,
        Duration::from_millis(20),
    );
    std::thread::sleep(Duration::from_secs(3));

    let killed = unix_now();
    r.lab.stop_backend(1).unwrap();
    let seen_down = wait_server(&r, VIP4, 80, "198.18.1.11:8080", false, 10);
    let st = server(&status(&r), VIP4, 80, "198.18.1.11:8080").unwrap();
    assert!(
        st.results.iter().any(|x| x.contains("refused")),
        "the reason names what happened: {st:?}"
    );
    assert!(
        r.xvs.log().contains("198.18.1.11:8080") && r.xvs.log().contains("down"),
        "the transition is logged:\n{}",
        r.xvs.log()
    );
    assert!(
        !request(&r, "list").contains("198.18.1.11:8080"),
        "removed from the service (no inhibit_on_failure):\n{}",
        request(&r, "list")
    );
    let _ = seen_down;
    // Metrics: the real server's state and effective weight, and a real
    // histogram of check latencies.
    assert_eq!(
        metric(&r, "xvs_real_server_up", &["198.18.1.11:8080"]),
        0,
        "{}",
        request(&r, "metrics")
    );
    assert_eq!(
        metric(
            &r,
            "xvs_real_server_effective_weight",
            &["198.18.1.12:8080"]
        ),
        10
    );
    assert!(
        metric(
            &r,
            "xvs_health_check_duration_seconds_count",
            &["type=\"http\""]
        ) > 3
            && request(&r, "metrics")
                .contains("xvs_health_check_duration_seconds_bucket{type=\"http\",le=\"0.005\"}"),
        "{}",
        request(&r, "metrics")
    );

    std::thread::sleep(Duration::from_secs(5));
    r.lab.start_backend(1).unwrap();
    wait_server(&r, VIP4, 80, "198.18.1.11:8080", true, 10);
    let back = unix_now();
    let samples = client.finish();
    let held = keepalive.finish();

    // Only requests sent before the detection deadline may fail (and
    // those in flight at the kill, started up to half a second before).
    let failed: Vec<&Sample> = samples.iter().filter(|s| s.error.is_some()).collect();
    let late: Vec<&&Sample> = failed
        .iter()
        .filter(|s| s.t < killed - 0.5 || s.t > killed + DEADLINE)
        .collect();
    report(&format!(
        "health e2e: {} requests, {} failed (all sent to the dead server within {DEADLINE} s of its death), {} after",
        samples.len(),
        failed.len(),
        late.len()
    ));
    assert!(
        late.is_empty(),
        "requests failed outside [death, death + {DEADLINE} s] (times from the death; rs1 back at {:.2}): {:?}\ndrops:\n{}",
        back - killed,
        late.iter()
            .map(|s| (s.t - killed, s.error.clone()))
            .collect::<Vec<_>>(),
        request(&r, "metrics")
            .lines()
            .filter(|l| l.contains("dropped") || l.contains("neighbor") || l.contains("tx_ring"))
            .filter(|l| !l.starts_with('#') && !l.ends_with(" 0"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        samples.len() > 200,
        "the client kept sending: {}",
        samples.len()
    );
    let after_deadline = share(&samples, "rs1", killed + DEADLINE, back - 1.0);
    assert_eq!(
        after_deadline.0, 0,
        "no request reached rs1 between its deadline and its return"
    );

    // Slowstart: rs1 comes back at weight 1 and ramps to 10 over 6 s, so
    // its share of new connections grows from under a fifth towards a third.
    let early = share(&samples, "rs1", back, back + 2.0);
    let late_share = share(&samples, "rs1", back + 4.0, back + 6.0);
    let frac = |(h, n): (usize, usize)| h as f64 / n.max(1) as f64;
    report(&format!(
        "slowstart: rs1 had {}/{} of new connections in its first 2 s back, {}/{} in seconds 4-6",
        early.0, early.1, late_share.0, late_share.1
    ));
    assert!(
        early.1 > 20 && late_share.1 > 20,
        "enough samples: {early:?} {late_share:?}"
    );
    assert!(
        frac(early) < 0.2 && frac(late_share) > frac(early) + 0.08,
        "rs1's share grows over the slowstart: {early:?} then {late_share:?}"
    );

    for (server, errors) in held {
        if server != "rs1" {
            assert_eq!(
                errors, 0,
                "a keep-alive connection to healthy {server} lost requests across the transitions"
            );
        }
    }
}

/// Keep-alive HTTP connections through the VIP, each sending a request
/// every 200 ms on the same connection; reports per connection the server
/// that answered and how many requests failed.
struct KeepAlive {
    child: std::process::Child,
}

impl KeepAlive {
    fn start(r: &Running, connections: usize, duration: Duration) -> KeepAlive {
        let code = format!(
            r#"
import http.client, json, threading, time
out = {{}}
def run(i):
    c = http.client.HTTPConnection("{VIP4}", 80, timeout=2)
    name, errors = None, 0
    deadline = time.monotonic() + {secs}
    while time.monotonic() < deadline:
        try:
            c.request("GET", "/?keepalive=1")
            r = c.getresponse()
            body = r.read()
            n = r.getheader("X-Server")
            if name is None:
                name = n
            elif n != name:
                errors += 1
        except Exception:
            errors += 1
            c.close()
            c = http.client.HTTPConnection("{VIP4}", 80, timeout=2)
        time.sleep(0.2)
    out[i] = [name, errors]
ts = [threading.Thread(target=run, args=(i,)) for i in range({connections})]
[t.start() for t in ts]
[t.join() for t in ts]
print(json.dumps(list(out.values())))
"#,
            secs = duration.as_secs_f64()
        );
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &r.lab.ns_client(), "python3", "-c", &code])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start keep-alive client");
        KeepAlive { child }
    }

    fn finish(self) -> Vec<(String, u64)> {
        let out = self.child.wait_with_output().expect("keep-alive client");
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        (
                            c[0].as_str().unwrap_or("none").to_string(),
                            c[1].as_u64().unwrap_or(u64::MAX),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[test]
fn http_get_fails_on_status_digest_and_status_range() {
    let Some((_serial, lab)) = health_lab(
        "http_get_fails_on_status_digest_and_status_range",
        Method::Nat,
    ) else {
        return;
    };
    let check = |i: usize, status: &str| {
        format!(
            "        health:\n          type: http\n          path: /health\n          digest: {}\n          status: [{status}]\n",
            md5_hex(&format!("rs{i} ok\n"))
        )
    };
    let (c1, c2, c3) = (check(1, "200"), check(2, "200-299"), check(3, "200-204"));
    let yaml = header(&lab, 1)
        + "services:\n"
        + &health_service(
            "web",
            VIP4,
            80,
            "nat",
            "rr",
            TIMING,
            &[(1, 8080, &c1), (1, 8080, &c2), (1, 8080, &c3)],
        );
    let r = start(lab, &yaml);
    let rs = ["198.18.1.11:8080", "198.18.1.12:8080", "198.18.1.13:8080"];
    for s in rs {
        wait_checked(&r, VIP4, 80, s, 10);
    }
    r.lab.set_health_status(1, 500).unwrap();
    r.lab.set_health_body(2, "rs2 changed\n").unwrap();
    r.lab.set_health_status(3, 206).unwrap();
    for s in rs {
        wait_server(&r, VIP4, 80, s, false, 10);
    }
    let st = status(&r);
    let reason = |s: &str| server(&st, VIP4, 80, s).unwrap().results.join(";");
    assert!(reason(rs[0]).contains("HTTP 500"), "{}", reason(rs[0]));
    assert!(
        reason(rs[1]).contains("digest mismatch"),
        "{}",
        reason(rs[1])
    );
    assert!(reason(rs[2]).contains("206"), "{}", reason(rs[2]));
    // Nothing left to forward to: new connections fail.
    let report_all_down = r.lab.http_requests(&url(VIP4, 80), 5, 1, None).unwrap();
    assert_eq!(report_all_down.ok, 0, "{report_all_down:?}");

    // A reload of the same file keeps what the checks found: the servers
    // stay down and out of the service (keepalived does not re-add failed
    // real servers on reload), with no new transition.
    let before: Vec<u64> = rs
        .iter()
        .map(|s| server(&status(&r), VIP4, 80, s).unwrap().transitions)
        .collect();
    request(&r, "reload");
    wait_until(
        10,
        "the reload is published",
        || r.xvs.log().contains("reload of"),
        || r.xvs.log(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let st = status(&r);
    for (s, n) in rs.iter().zip(&before) {
        let now = server(&st, VIP4, 80, s).unwrap();
        assert!(
            !now.up && now.transitions == *n,
            "{s} after reload: {now:?}"
        );
    }
    let list = request(&r, "list");
    assert!(
        rs.iter().all(|s| !list.contains(s)),
        "still out of the service after the reload:\n{list}"
    );

    r.lab.set_health_status(1, 200).unwrap();
    r.lab.set_health_body(2, "rs2 ok\n").unwrap();
    r.lab.set_health_status(3, 204).unwrap();
    for s in rs {
        wait_server(&r, VIP4, 80, s, true, 10);
    }
    let http = r.lab.http_requests(&url(VIP4, 80), 30, 3, None).unwrap();
    assert_spread(
        "all back",
        &http,
        &[("rs1", 10), ("rs2", 10), ("rs3", 10)],
        &r,
    );
}

#[test]
fn ssl_get_with_sni_and_verification() {
    let Some((_serial, mut lab)) = health_lab("ssl_get_with_sni_and_verification", Method::Nat)
    else {
        return;
    };
    // A CA and, for each real server, a certificate for rsN.lab.test.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let dir = xvs_lab::lab_dir(lab.prefix());
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    for i in 1..=3 {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![format!("rs{i}.lab.test")]).unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        lab.write_tls(i, &cert.pem(), &key.serialize_pem()).unwrap();
        lab.start_backend(i).unwrap();
    }
    let ca = ca_file.display();
    // rs1: verified with the right name; rs2: verified against a name its
    // certificate does not carry; rs3: not verified (keepalived's default).
    let c1 = format!("        health: {{ type: ssl, port: 443, path: /health, sni_name: rs1.lab.test, verify: true, ca: \"{ca}\" }}\n");
    let c2 = format!("        health: {{ type: ssl, port: 443, path: /health, sni_name: other.lab.test, verify: true, ca: \"{ca}\" }}\n");
    let c3 = "        health: { type: ssl, port: 443, path: /health }\n".to_string();
    let yaml = header(&lab, 1)
        + "services:\n"
        + &health_service(
            "web",
            VIP4,
            80,
            "nat",
            "rr",
            TIMING,
            &[(1, 8080, &c1), (1, 8080, &c2), (1, 8080, &c3)],
        );
    let r = start(lab, &yaml);
    wait_server(&r, VIP4, 80, "198.18.1.11:8080", true, 10);
    wait_server(&r, VIP4, 80, "198.18.1.13:8080", true, 10);
    wait_server(&r, VIP4, 80, "198.18.1.12:8080", false, 10);
    let st = server(&status(&r), VIP4, 80, "198.18.1.12:8080").unwrap();
    assert!(
        st.results.iter().any(|x| x.contains("TLS")),
        "a certificate error is a TLS failure: {st:?}"
    );
    let got = r.lab.http_requests(&url(VIP4, 80), 20, 2, None).unwrap();
    assert_spread(
        "traffic avoids the server that failed verification",
        &got,
        &[("rs1", 10), ("rs3", 10)],
        &r,
    );
    // The HTTPS answer itself is judged: a 500 over TLS fails too.
    r.lab.set_health_status(3, 500).unwrap();
    wait_server(&r, VIP4, 80, "198.18.1.13:8080", false, 10);
}

#[test]
fn udp_ping_dns_smtp_misc_and_file_checks() {
    let Some((_serial, lab)) = health_lab("udp_ping_dns_smtp_misc_and_file_checks", Method::Nat)
    else {
        return;
    };
    let dir = xvs_lab::lab_dir(lab.prefix());
    let exit_file = dir.join("misc-exit");
    let weight_file = dir.join("file-weight");
    std::fs::write(&exit_file, "12\n").unwrap();
    std::fs::write(&weight_file, "3\n").unwrap();
    // rs1: UDP echo (reply must start with "rs1:") and ICMP echo.
    let c1 = "        health:\n          - { type: udp, port: 5353, payload: \"68656c6c6f\", require_reply: \"7273313a\" }\n          - { type: icmp }\n";
    // rs2: DNS and SMTP.
    let c2 = "        health:\n          - { type: dns, port: 5300, name: lab.test, query_type: A }\n          - { type: smtp, port: 2525 }\n";
    // rs3: a program whose exit status sets the weight (misc_dynamic), and
    // a file whose value adds to it.
    let c3 = format!(
        "        health:\n          - {{ type: misc, command: \"/bin/sh -c 'exit $(cat {})'\", dynamic: true, timeout: 2 }}\n          - {{ type: file, file: \"{}\", weight: 2 }}\n",
        exit_file.display(),
        weight_file.display()
    );
    let yaml = header(&lab, 1)
        + "services:\n"
        + &health_service(
            "web",
            VIP4,
            80,
            "nat",
            "wrr",
            TIMING,
            &[(1, 8080, c1), (1, 8080, c2), (1, 8080, &c3)],
        );
    let mut r = start(lab, &yaml);
    let rs = ["198.18.1.11:8080", "198.18.1.12:8080", "198.18.1.13:8080"];
    for s in rs {
        wait_checked(&r, VIP4, 80, s, 10);
    }
    // misc_dynamic: exit 12 → weight 10; FILE_CHECK adds 3 × 2.
    wait_until(
        10,
        "rs3's weight is 10 + 6",
        || server(&status(&r), VIP4, 80, rs[2]).is_some_and(|s| s.effective_weight == 16),
        || serde_json::to_string_pretty(&status(&r)).unwrap_or_default(),
    );
    assert!(
        request(&r, "list").contains("198.18.1.13:8080             Masq    16"),
        "the plan forwards with the effective weight:\n{}",
        request(&r, "list")
    );

    // Each checker fails for its own reason.
    r.lab.drop_icmp_echo(1).unwrap();
    wait_server(&r, VIP4, 80, rs[0], false, 12);
    r.lab.clear_filters(1).unwrap();
    wait_server(&r, VIP4, 80, rs[0], true, 12);
    // rs1's UDP service stops: its port answers ICMP port unreachable.
    r.lab.stop_backend(1).unwrap();
    wait_server(&r, VIP4, 80, rs[0], false, 12);
    let st = server(&status(&r), VIP4, 80, rs[0]).unwrap();
    assert!(
        st.results[0].contains("unreachable") && st.results[1] == "ok",
        "the UDP checker fails, ICMP still passes: {st:?}"
    );
    r.lab.start_backend(1).unwrap();
    wait_server(&r, VIP4, 80, rs[0], true, 12);

    r.lab.set_dns_rcode(2, 2).unwrap();
    wait_server(&r, VIP4, 80, rs[1], false, 15);
    assert!(
        server(&status(&r), VIP4, 80, rs[1])
            .unwrap()
            .results
            .iter()
            .any(|x| x.contains("SERVFAIL")),
        "{}",
        serde_json::to_string_pretty(&status(&r)).unwrap_or_default()
    );
    r.lab.set_dns_rcode(2, 0).unwrap();
    wait_server(&r, VIP4, 80, rs[1], true, 15);
    r.lab.set_smtp_banner(2, "554 go away").unwrap();
    wait_server(&r, VIP4, 80, rs[1], false, 12);
    r.lab.set_smtp_banner(2, "220 rs2 ready").unwrap();
    wait_server(&r, VIP4, 80, rs[1], true, 12);

    std::fs::write(&exit_file, "1\n").unwrap();
    wait_server(&r, VIP4, 80, rs[2], false, 12);
    std::fs::write(&exit_file, "0\n").unwrap();
    wait_server(&r, VIP4, 80, rs[2], true, 12);
    std::fs::write(&weight_file, "-1000000000000\n").unwrap();
    wait_server(&r, VIP4, 80, rs[2], false, 12);
}

#[test]
fn a_blackholed_server_does_not_delay_another_servers_detection() {
    let Some((_serial, lab)) = health_lab(
        "a_blackholed_server_does_not_delay_another_servers_detection",
        Method::Nat,
    ) else {
        return;
    };
    // Fifty more real servers on rs1's extra addresses, all black-holed
    // with rs1 below: their probes wait out a 3 s timeout each.
    let extra = lab.add_backend_addresses(1, 50).unwrap();
    let slow = "    delay_loop: 1\n    connect_timeout: 3\n    retry: 1\n    delay_before_retry: 1\n    warmup: 0.2\n";
    let mut yaml = header(&lab, 1)
        + "services:\n"
        + &health_service(
            "web",
            VIP4,
            80,
            "nat",
            "rr",
            slow,
            &[
                (1, 8080, "        health: { type: tcp }\n"),
                (1, 8080, "        health: { type: tcp }\n"),
                (1, 8080, "        health: { type: tcp }\n"),
            ],
        );
    for a in &extra {
        yaml.push_str(&format!(
            "      - {{ address: {a}, port: 8080, health: {{ type: tcp }} }}\n"
        ));
    }
    let mut r = start(lab, &yaml);
    for s in ["198.18.1.11:8080", "198.18.1.12:8080"] {
        wait_checked(&r, VIP4, 80, s, 15);
    }
    let t0 = Instant::now();
    r.lab.blackhole(1).unwrap();
    r.lab.stop_backend(2).unwrap();
    let rs2_down = wait_server(&r, VIP4, 80, "198.18.1.12:8080", false, 20) - t0;
    let rs1_down = wait_server(&r, VIP4, 80, "198.18.1.11:8080", false, 30) - t0;
    report(&format!(
        "black hole: the refused server was out after {:.1} s, the 51 black-holed ones after {:.1} s",
        rs2_down.as_secs_f64(),
        rs1_down.as_secs_f64()
    ));
    // rs2's bound with this timing: 1 + 1 × (3 + 1) + 1 = 6 s, however
    // many probes sit in the black hole.
    assert!(
        rs2_down < Duration::from_secs(6),
        "the refused server was detected after {rs2_down:?}"
    );
    assert!(rs2_down < rs1_down, "{rs2_down:?} vs {rs1_down:?}");
    let list = request(&r, "list");
    assert!(
        !list.contains("198.18.1.11:8080")
            && !list.contains("198.18.1.12:8080")
            && list.contains("198.18.1.13:8080"),
        "both left the service, rs3 stays:\n{list}"
    );
}

#[test]
fn inhibit_on_failure_sorry_server_and_quorum_with_hysteresis() {
    let Some((_serial, lab)) = health_lab(
        "inhibit_on_failure_sorry_server_and_quorum_with_hysteresis",
        Method::Nat,
    ) else {
        return;
    };
    let dir = xvs_lab::lab_dir(lab.prefix());
    let log = dir.join("quorum.log");
    let tcp = "        health: { type: tcp }\n";
    // Service A: inhibit_on_failure. Service B: rs1 and rs2 (weight 2
    // each) with quorum 3 ± 1, rs3 as the sorry server.
    let b_keys = format!(
        "{TIMING}    quorum: 3\n    hysteresis: 1\n    sorry_server: {{ address: 198.18.1.13, port: 8080 }}\n    quorum_up: \"/bin/sh -c 'echo up >> {log}'\"\n    quorum_down: \"/bin/sh -c 'echo down >> {log}'\"\n",
        log = log.display()
    );
    let yaml = header(&lab, 1)
        + "services:\n"
        + &health_service(
            "a",
            VIP4,
            80,
            "nat",
            "rr",
            &format!("{TIMING}    inhibit_on_failure: true\n"),
            &[(1, 8080, tcp), (1, 8080, tcp), (1, 8080, tcp)],
        )
        + &health_service(
            "b",
            VIP4,
            8080,
            "nat",
            "rr",
            &b_keys,
            &[(2, 8080, tcp), (2, 8080, tcp)],
        );
    let mut r = start(lab, &yaml);
    for s in ["198.18.1.11:8080", "198.18.1.12:8080"] {
        wait_checked(&r, VIP4, 8080, s, 10);
    }
    let b = |r: &Running| r.lab.http_requests(&url(VIP4, 8080), 12, 2, None).unwrap();
    let got = b(&r);
    assert_spread("B with quorum", &got, &[("rs1", 6), ("rs2", 6)], &r);

    // rs1 dies: A keeps it at weight 0; B's live weight 2 is inside the
    // hysteresis band (lost only below 3 - 1): quorum holds.
    r.lab.stop_backend(1).unwrap();
    wait_server(&r, VIP4, 80, "198.18.1.11:8080", false, 10);
    wait_server(&r, VIP4, 8080, "198.18.1.11:8080", false, 10);
    let list = request(&r, "list");
    assert!(
        list.contains("198.18.1.11:8080             Masq    0"),
        "inhibited at weight 0, still listed:\n{list}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(quorum_up(&status(&r), VIP4, 8080), Some(true));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap_or_default(),
        "up\n",
        "only start-up's quorum_up so far (keepalived runs it for a service that starts with its quorum)"
    );

    // rs2 dies too: quorum lost, the sorry server takes the traffic.
    r.lab.stop_backend(2).unwrap();
    wait_until(
        10,
        "B loses its quorum",
        || quorum_up(&status(&r), VIP4, 8080) == Some(false),
        || serde_json::to_string_pretty(&status(&r)).unwrap_or_default(),
    );
    let got = b(&r);
    assert_spread("B on the sorry server", &got, &[("rs3", 12)], &r);

    // rs1 returns: live weight 2 < 3 + 1, still no quorum (hysteresis).
    r.lab.start_backend(1).unwrap();
    wait_server(&r, VIP4, 8080, "198.18.1.11:8080", true, 10);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(quorum_up(&status(&r), VIP4, 8080), Some(false));
    let got = b(&r);
    assert_spread("still the sorry server", &got, &[("rs3", 12)], &r);
    // A has rs1 back at its weight.
    assert!(request(&r, "list").contains("198.18.1.11:8080             Masq    1"));

    // rs2 returns: 4 ≥ 3 + 1, quorum back, the sorry server leaves.
    r.lab.start_backend(2).unwrap();
    wait_until(
        10,
        "B regains its quorum",
        || quorum_up(&status(&r), VIP4, 8080) == Some(true),
        || serde_json::to_string_pretty(&status(&r)).unwrap_or_default(),
    );
    let got = b(&r);
    assert_spread("B back on its servers", &got, &[("rs1", 6), ("rs2", 6)], &r);
    wait_until(
        5,
        "the scripts ran once each, in order",
        || std::fs::read_to_string(&log).is_ok_and(|t| t == "up\ndown\nup\n"),
        || std::fs::read_to_string(&log).unwrap_or_default(),
    );
}

/// Health checks from the director's kernel in every forwarding method,
/// IPv4 and IPv6: probes leave from the director's own addresses and
/// their replies reach the kernel, never an AF_XDP socket.
fn every_method(method: Method, name: &str) {
    let Some((_serial, lab)) = health_lab(name, method) else {
        return;
    };
    let m = method.name();
    let (http_port, rport) = match method {
        Method::Nat | Method::FullNat => (80, 8080),
        _ => (80, 80),
    };
    let check =
        "        health:\n          - { type: http, path: /health }\n          - { type: icmp }\n";
    let pool = if method == Method::FullNat {
        "    local_pool: lip\n"
    } else {
        ""
    };
    let mut yaml = header(&lab, 1);
    if method == Method::FullNat {
        yaml += LOCAL_POOL;
    }
    yaml += "services:\n";
    for vip in [VIP4, VIP6] {
        yaml += &health_service(
            &format!("web-{vip}"),
            vip,
            http_port,
            m,
            "rr",
            &format!("{TIMING}{pool}"),
            &[(1, rport, check), (1, rport, check), (1, rport, check)],
        );
    }
    let mut r = start(lab, &yaml);
    if method == Method::Tun {
        start_decap(&mut r);
    }
    let servers = |vip: &str| -> Vec<String> {
        (1..=3)
            .map(|i| {
                if vip.contains(':') {
                    format!("[fd00:0:0:2::{:x}]:{rport}", 0x10 + i)
                } else {
                    format!("198.18.1.{}:{rport}", 10 + i)
                }
            })
            .collect()
    };
    for vip in [VIP4, VIP6] {
        for s in servers(vip) {
            wait_checked(&r, vip, http_port, &s, 10);
        }
        let got = r
            .lab
            .http_requests(&url(vip, http_port), 30, 3, None)
            .unwrap();
        assert_spread(
            &format!("{m} {vip}"),
            &got,
            &[("rs1", 10), ("rs2", 10), ("rs3", 10)],
            &r,
        );
    }
    r.lab.stop_backend(2).unwrap();
    for vip in [VIP4, VIP6] {
        wait_server(&r, vip, http_port, &servers(vip)[1], false, 10);
        let got = r
            .lab
            .http_requests(&url(vip, http_port), 20, 2, None)
            .unwrap();
        assert_spread(
            &format!("{m} {vip} without rs2"),
            &got,
            &[("rs1", 10), ("rs3", 10)],
            &r,
        );
    }
}

#[test]
fn health_checks_in_nat() {
    every_method(Method::Nat, "health_checks_in_nat");
}

#[test]
fn health_checks_in_dr() {
    every_method(Method::Dr, "health_checks_in_dr");
}

#[test]
fn health_checks_in_tun() {
    every_method(Method::Tun, "health_checks_in_tun");
}

#[test]
fn health_checks_in_fullnat() {
    every_method(Method::FullNat, "health_checks_in_fullnat");
}
