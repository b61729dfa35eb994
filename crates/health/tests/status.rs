//! `Monitor::status`: what `xvs status` prints as text and JSON.

mod common;

use common::*;
use xvs_probe::Outcome;

const RS1: &str = "198.18.1.11";
const RS2: &str = "198.18.1.12";

#[test]
fn status_carries_services_servers_and_checkers() {
    let mut inhibited = rs(RS2, 3, vec![on_port(tcp(1), 8080)]);
    inhibited.health.inhibit_on_failure = true;
    let mut svc = service(vec![rs(RS1, 2, vec![tcp(1)]), inhibited]);
    svc.name = "web".into();
    svc.health.quorum = 2;
    svc.health.hysteresis = 0;
    svc.health.sorry_server = Some(sorry("198.18.2.1", 1));
    let snap = snapshot(vec![svc]);
    let mut rig = Rig::new(&snap);
    rig.run_until(secs(1), |t, _| {
        if t.starts_with(RS2) {
            Outcome::fail("connect timeout after 3 s")
        } else {
            pass()
        }
    });
    rig.now = rig.at(secs(4));
    let status = rig.monitor.status(rig.now);
    let svc = &status.services[0];
    assert_eq!(svc.name, "web");
    assert_eq!(svc.protocol, "TCP");
    assert_eq!((svc.vip, svc.port), (ip(VIP), 80));
    assert_eq!(svc.quorum.configured, 2);
    assert_eq!(svc.quorum.live_weight, 2);
    assert!(svc.quorum.up);
    assert!(!svc.sorry_server_active);
    assert_eq!(svc.sorry_server.as_deref(), Some("198.18.2.1:80"));

    let rs1 = &svc.real_servers[0];
    assert!(rs1.up && !rs1.inhibited);
    assert_eq!((rs1.weight, rs1.effective_weight), (2, 2));
    assert_eq!(rs1.transitions, 0);
    assert_eq!(rs1.since_transition_secs, 4);
    let c = &rs1.checkers[0];
    assert_eq!(c.kind, "TCP_CHECK");
    assert_eq!(c.target, "198.18.1.11:80");
    assert_eq!(c.last_result.as_deref(), Some("ok"));
    assert_eq!(c.since_last_result_secs, Some(3));
    assert_eq!(c.last_latency_ms, Some(1.0));

    let rs2 = &svc.real_servers[1];
    assert!(!rs2.up && rs2.inhibited);
    assert_eq!((rs2.weight, rs2.effective_weight), (3, 0));
    assert_eq!((rs2.transitions, rs2.since_transition_secs), (1, 3));
    let c = &rs2.checkers[0];
    assert_eq!(c.target, "198.18.1.12:8080");
    assert!(!c.up);
    assert_eq!(c.last_result.as_deref(), Some("connect timeout after 3 s"));
    assert_eq!(c.consecutive_failures, 1);

    let text = status.render_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with(
        "TCP 198.18.0.100:80 \"web\"  quorum up (live weight 2, quorum 2, hysteresis 0)"
    ));
    assert!(lines[0].ends_with("sorry server 198.18.2.1:80 standby"));
    assert!(lines[1].contains("198.18.1.11:80") && lines[1].contains(" up "));
    assert!(lines[3].contains("down (inhibited)"));
    assert!(lines[4].trim_start().starts_with(
        "TCP_CHECK 198.18.1.12:8080 down, last connect timeout after 3 s (3s ago, 1.0 ms), 1 consecutive failure"
    ));

    let json = serde_json::to_value(&status).unwrap();
    let rs2 = &json["services"][0]["real_servers"][1];
    assert_eq!(rs2["address"], "198.18.1.12");
    assert_eq!(rs2["up"], false);
    assert_eq!(rs2["inhibited"], true);
    assert_eq!(rs2["checkers"][0]["type"], "TCP_CHECK");
    assert_eq!(
        rs2["checkers"][0]["last_result"],
        "connect timeout after 3 s"
    );
    assert_eq!(json["services"][0]["quorum"]["up"], true);
}

#[test]
fn a_checker_that_has_not_run_says_so() {
    let snap = snapshot(vec![service(vec![rs(RS1, 1, vec![tcp(1)])])]);
    let rig = Rig::new(&snap);
    let status = rig.monitor.status(rig.now);
    let c = &status.services[0].real_servers[0].checkers[0];
    assert_eq!(c.last_result, None);
    assert_eq!(c.last_latency_ms, None);
    assert!(status
        .render_text()
        .contains("TCP_CHECK 198.18.1.11:80 up, not run yet"));
}
