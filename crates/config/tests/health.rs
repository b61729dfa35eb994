//! Health checks in the config: keepalived's defaults and inheritance
//! (checker ← real server ← service), every checker's own keys, the
//! service-level keys (quorum, sorry server, scripts, slowstart,
//! ha_suspend), and one test per rejection rule with the exact
//! `file:line:col: key:`.

mod common;

use std::time::Duration;

use common::{accepts, rejects};
use xvs_config::{DnsQueryType, ForwardMethod, HealthCheckKind, HttpProtocol};

const HEALTH: &str = "\
services:
  - vip: 198.18.0.100
    port: 80
    method: nat
    real_servers:
      - address: 198.18.1.11
        health:
          type: http
          path: /health
          status: [200-299, 301]
";

/// A service with one real server whose `health:` is `checker` (indented
/// under `health:` by the caller's own spaces) and extra service keys.
fn with(service_keys: &str, rs_keys: &str, health: &str) -> String {
    format!(
        "services:\n  - vip: 198.18.0.100\n    port: 80\n    method: nat\n{service_keys}    real_servers:\n      - address: 198.18.1.11\n        weight: 2\n{rs_keys}        health:\n{health}      - address: 198.18.1.12\n"
    )
}

#[test]
fn health_defaults_follow_keepalived() {
    let snap = accepts(HEALTH);
    let rs = &snap.services[0].real_servers[0];
    assert_eq!(rs.checkers.len(), 1);
    let h = &rs.checkers[0];
    assert_eq!(h.connect_timeout.as_secs(), 5);
    assert_eq!(h.delay_loop.as_secs(), 60);
    assert_eq!(h.warmup, h.delay_loop, "warmup defaults to delay_loop");
    assert_eq!(h.retry, 1);
    assert!(!h.alpha);
    assert_eq!(
        h.delay_before_retry.as_secs(),
        3,
        "HTTP waits 3 s between retries"
    );
    let HealthCheckKind::Http(http) = &h.kind else {
        panic!("expected http, got {:?}", h.kind);
    };
    assert_eq!(http.protocol, HttpProtocol::Http10);
    assert_eq!(http.urls.len(), 1);
    assert_eq!(http.urls[0].path, "/health");
    assert_eq!(http.urls[0].status, [(200, 299), (301, 301)]);
    assert_eq!(http.urls[0].digest, None);
    assert!(!rs.health.inhibit_on_failure);
    let svc = &snap.services[0].health;
    assert_eq!((svc.quorum, svc.hysteresis), (1, 0));
    assert!(svc.sorry_server.is_none());

    let snap = accepts(&HEALTH.replace("type: http", "type: tcp").replace(
        "          path: /health\n          status: [200-299, 301]\n",
        "",
    ));
    let h = &snap.services[0].real_servers[0].checkers[0];
    assert_eq!((h.retry, h.delay_before_retry.as_secs()), (1, 1));
    assert_eq!(
        snap.services[0].real_servers[1..].len(),
        0,
        "one real server"
    );
}

#[test]
fn per_kind_defaults() {
    let dns = accepts(&with("", "", "          type: dns\n"));
    let h = &dns.services[0].real_servers[0].checkers[0];
    assert_eq!(h.retry, 3, "DNS_CHECK retries 3 times");
    assert_eq!(h.delay_before_retry, h.delay_loop, "DNS waits a delay_loop");
    let HealthCheckKind::Dns(d) = &h.kind else {
        panic!("{:?}", h.kind)
    };
    assert_eq!((d.query_type, d.name.as_str()), (DnsQueryType::Soa, "."));

    let misc = accepts(&with(
        "",
        "",
        "          type: misc\n          misc_path: \"/bin/check 'a b' c\"\n          misc_dynamic: true\n          user: nobody:nogroup\n",
    ));
    let h = &misc.services[0].real_servers[0].checkers[0];
    assert_eq!(h.retry, 0, "MISC_CHECK does not retry");
    let HealthCheckKind::Misc(m) = &h.kind else {
        panic!("{:?}", h.kind)
    };
    assert_eq!(m.script.argv, ["/bin/check", "a b", "c"]);
    assert_eq!(m.script.user.as_deref(), Some("nobody"));
    assert_eq!(m.script.group.as_deref(), Some("nogroup"));
    assert!(m.dynamic);
    assert_eq!(
        m.timeout, h.delay_loop,
        "misc_timeout defaults to delay_loop"
    );

    let smtp = accepts(&with("", "", "          type: smtp\n"));
    let HealthCheckKind::Smtp { helo_name } = &smtp.services[0].real_servers[0].checkers[0].kind
    else {
        panic!()
    };
    assert_eq!(helo_name, "smtpchecker.keepalived.org");

    let file = accepts(&with(
        "",
        "",
        "          type: file\n          file: /run/weight\n          weight: -2\n          reverse: true\n",
    ));
    let h = &file.services[0].real_servers[0].checkers[0];
    assert_eq!(
        h.delay_loop,
        Duration::from_secs(1),
        "files are read every second"
    );
    assert!(!h.alpha && h.retry == 0);
    let HealthCheckKind::File(f) = &h.kind else {
        panic!()
    };
    assert_eq!((f.weight, f.reverse), (-2, true));
}

#[test]
fn timing_is_inherited_checker_then_real_server_then_service() {
    let snap = accepts(&with(
        "    delay_loop: 6\n    connect_timeout: 2\n    retry: 4\n    alpha: true\n",
        "        delay_loop: 3\n        warmup: 0\n",
        "          - type: tcp\n            retry: 2\n          - type: http\n",
    ));
    let rs = &snap.services[0].real_servers[0];
    let (tcp, http) = (&rs.checkers[0], &rs.checkers[1]);
    assert_eq!(
        tcp.delay_loop,
        Duration::from_secs(3),
        "from the real server"
    );
    assert_eq!(
        tcp.connect_timeout,
        Duration::from_secs(2),
        "from the service"
    );
    assert_eq!((tcp.retry, http.retry), (2, 4));
    assert_eq!(tcp.warmup, Duration::ZERO);
    assert!(tcp.alpha && http.alpha);
    assert_eq!(http.delay_before_retry, Duration::from_secs(3));
}

#[test]
fn several_checkers_and_urls() {
    let snap = accepts(&with(
        "    virtualhost: svc.example\n",
        "",
        "          - type: ssl\n            enable_sni: true\n            http_protocol: 1.1\n            urls:\n              - { path: /a, status: [200, 204] }\n              - { path: /b, digest: 9b3a0c85a887a256d6939da88aabd8cd, virtualhost: b.example }\n          - { type: udp, payload: \"0a 1\", require_reply: \"0aX\", max_reply_length: 64 }\n          - { type: icmp, connect_timeout: 1 }\n",
    ));
    let rs = &snap.services[0].real_servers[0];
    assert_eq!(rs.checkers.len(), 3);
    let HealthCheckKind::Ssl(http, tls) = &rs.checkers[0].kind else {
        panic!()
    };
    assert_eq!(http.protocol, HttpProtocol::Http11);
    assert_eq!(http.urls[0].virtualhost.as_deref(), Some("svc.example"));
    assert_eq!(http.urls[1].virtualhost.as_deref(), Some("b.example"));
    assert_eq!(http.urls[1].digest.map(|d| d[0]), Some(0x9b));
    assert_eq!(http.urls[0].status, [(200, 200), (204, 204)]);
    assert_eq!(tls.sni.as_deref(), Some("svc.example"));
    assert!(!tls.verify, "off by default, as keepalived");
    let HealthCheckKind::Udp(udp) = &rs.checkers[1].kind else {
        panic!()
    };
    assert_eq!(udp.payload.as_deref(), Some(&[0x0a, 0x01][..]));
    assert!(udp.require_reply);
    assert_eq!(udp.reply_pattern, Some(vec![(0x0a, 0xff), (0, 0)]));
    assert_eq!((udp.min_reply_length, udp.max_reply_length), (0, 64));
    assert_eq!(rs.checkers[2].kind, HealthCheckKind::Icmp);
}

#[test]
fn service_level_keys() {
    let snap = accepts(&with(
        "    quorum: 2\n    hysteresis: 1\n    quorum_up: /bin/up\n    quorum_down: { command: \"/bin/down now\", user: nobody }\n    sorry_server: { address: 198.18.1.99, port: 8080, weight: 5 }\n    sorry_server_inhibit: true\n    inhibit_on_failure: true\n    slowstart: 30\n    omega: true\n",
        "        notify_up: /bin/rs-up\n        slowstart: 5\n",
        "          type: tcp\n",
    ));
    let svc = &snap.services[0];
    let h = &svc.health;
    assert_eq!((h.quorum, h.hysteresis), (2, 1));
    assert_eq!(h.quorum_up.as_ref().unwrap().argv, ["/bin/up"]);
    let down = h.quorum_down.as_ref().unwrap();
    assert_eq!((down.argv.len(), down.user.as_deref()), (2, Some("nobody")));
    let sorry = h.sorry_server.as_ref().unwrap();
    assert_eq!(sorry.address.to_string(), "198.18.1.99");
    assert_eq!((sorry.port, sorry.weight), (8080, 5));
    assert_eq!(sorry.method, ForwardMethod::Nat, "the service's method");
    assert!(h.sorry_server_inhibit && h.omega);
    let rs = &svc.real_servers;
    assert!(rs[0].health.inhibit_on_failure && rs[1].health.inhibit_on_failure);
    assert_eq!(rs[0].health.slowstart, Some(Duration::from_secs(5)));
    assert_eq!(
        rs[1].health.slowstart,
        Some(Duration::from_secs(30)),
        "the service's"
    );
    assert_eq!(
        rs[0].health.notify_up.as_ref().unwrap().argv,
        ["/bin/rs-up"]
    );
    assert!(rs[1].checkers.is_empty());
}

#[test]
fn health_key_of_another_kind() {
    rejects(
        &HEALTH.replace("type: http", "type: tcp"),
        "9:11",
        "services[0].real_servers[0].health.path",
        "`path` applies only to http and ssl checks, not tcp",
    );
    rejects(
        &with(
            "",
            "",
            "          - type: tcp\n          - { type: icmp, payload: ab }\n",
        ),
        "10:27",
        "services[0].real_servers[0].health[1].payload",
        "`payload` applies only to udp checks, not icmp",
    );
    rejects(
        &with("", "", "          - { type: http, file: /x }\n"),
        "9:27",
        "services[0].real_servers[0].health[0].file",
        "applies only to file checks",
    );
}

#[test]
fn health_bad_status_range() {
    rejects(
        &HEALTH.replace("200-299", "299-200"),
        "10:20",
        "services[0].real_servers[0].health.status[0]",
        "not an HTTP status range",
    );
}

#[test]
fn health_script_without_command() {
    rejects(
        &HEALTH.replace("type: http", "type: script").replace(
            "          path: /health\n          status: [200-299, 301]\n",
            "",
        ),
        "7:9",
        "services[0].real_servers[0].health.command",
        "needs a command",
    );
    rejects(
        &with(
            "",
            "",
            "          type: misc\n          command: \"/bin/x 'unclosed\"\n",
        ),
        "10:11",
        "services[0].real_servers[0].health.command",
        "cannot split",
    );
}

#[test]
fn health_negative_delay() {
    rejects(
        &format!("{HEALTH}          delay_loop: -1\n"),
        "11:11",
        "services[0].real_servers[0].health.delay_loop",
        "must be more than zero seconds",
    );
}

#[test]
fn health_port_on_icmp() {
    rejects(
        &HEALTH.replace("type: http", "type: icmp").replace(
            "          path: /health\n          status: [200-299, 301]\n",
            "          port: 80\n",
        ),
        "9:11",
        "services[0].real_servers[0].health.port",
        "`port` applies only to tcp, http, ssl, udp, dns and smtp checks, not icmp",
    );
}

#[test]
fn bad_checker_values() {
    rejects(
        &with("", "", "          { type: http, digest: 1234 }\n"),
        "9:25",
        "services[0].real_servers[0].health.digest",
        "MD5 sum",
    );
    rejects(
        &with("", "", "          { type: dns, query_type: PTR }\n"),
        "9:24",
        "services[0].real_servers[0].health.query_type",
        "unknown DNS query type `PTR`",
    );
    rejects(
        &with("", "", "          { type: udp, require_reply: true, min_reply_length: 9, max_reply_length: 8 }\n"),
        "9:45",
        "services[0].real_servers[0].health.min_reply_length",
        "above max_reply_length",
    );
    rejects(
        &with("", "", "          { type: udp, require_reply: \"0g\" }\n"),
        "9:24",
        "services[0].real_servers[0].health.require_reply",
        "not a hex pattern",
    );
    rejects(
        &with("", "", "          { type: ssl, enable_sni: true }\n"),
        "9:24",
        "services[0].real_servers[0].health.enable_sni",
        "needs a name",
    );
    rejects(
        &with("", "", "          { type: ssl, verify: true }\n"),
        "9:24",
        "services[0].real_servers[0].health.verify",
        "verify needs `ca`",
    );
    rejects(
        &with("", "", "          { type: file }\n"),
        "8:9",
        "services[0].real_servers[0].health.file",
        "needs the `file`",
    );
    rejects(
        &with(
            "",
            "",
            "          { type: http, path: /a, urls: [{path: /b}] }\n",
        ),
        "9:35",
        "services[0].real_servers[0].health.urls",
        "not both",
    );
    rejects(
        &with(
            "",
            "",
            "          { type: misc, command: /bin/x, user: \"a b\" }\n",
        ),
        "9:42",
        "services[0].real_servers[0].health.user",
        "not a user name",
    );
    rejects(
        &with("", "", "          { type: tcp, retry: -1 }\n"),
        "9:31",
        "services[0].real_servers[0].health.retry",
        "expected u32",
    );
    rejects(
        &with("", "", "          { type: nonsense }\n"),
        "9:19",
        "services[0].real_servers[0].health.type",
        "unknown variant `nonsense`",
    );
}

#[test]
fn a_port_0_service_needs_a_connect_port() {
    let yaml = "\
services:
  - vip: 198.18.0.100
    port: 0
    persistence: 60
    method: nat
    real_servers:
      - address: 198.18.1.11
        health: { type: tcp }
";
    rejects(
        yaml,
        "8:19",
        "services[0].real_servers[0].health.type",
        "give the checker a `connect_port`",
    );
    accepts(&yaml.replace("{ type: tcp }", "{ type: tcp, connect_port: 22 }"));
    accepts(&yaml.replace("{ type: tcp }", "{ type: icmp }"));
}

#[test]
fn quorum_rules() {
    rejects(
        &with("    quorum: 4\n", "", "          type: tcp\n"),
        "5:5",
        "services[0].quorum",
        "exceeds the total weight 3",
    );
    rejects(
        &with(
            "    quorum: 2\n    hysteresis: 2\n",
            "",
            "          type: tcp\n",
        ),
        "6:5",
        "services[0].hysteresis",
        "must be below the quorum 2",
    );
    rejects(
        &with("    quorum: 0\n", "", "          type: tcp\n"),
        "5:5",
        "services[0].quorum",
        "quorum must be 1..=",
    );
    // Dynamic weights may raise the total: not held to it.
    accepts(&with(
        "    quorum: 40\n",
        "",
        "          { type: misc, command: /bin/w, dynamic: true }\n",
    ));
}

#[test]
fn ha_suspend_is_off_by_default() {
    let snap = accepts(HEALTH);
    assert!(!snap.services[0].health.ha_suspend);
    let snap = accepts(&with(
        "    ha_suspend: false\n",
        "",
        "          type: tcp\n",
    ));
    assert!(!snap.services[0].health.ha_suspend);
}

#[test]
fn ha_suspend_is_accepted_on_any_service() {
    // Without VRRP: the VIP is never standby, so the service is never
    // suspended, but the key is valid (as in keepalived).
    let snap = accepts(&with("    ha_suspend: true\n", "", "          type: tcp\n"));
    assert!(snap.services[0].health.ha_suspend);
    // With a VRRP instance that holds the VIP.
    let vrrp = "interfaces:\n  - name: eth0\n    addresses: [198.18.0.2/24]\nvrrp:\n  - name: VI_1\n    interface: eth0\n    vrid: 51\n    virtual_addresses: [198.18.0.100/24]\n";
    let snap = accepts(&format!(
        "{vrrp}{}",
        with("    ha_suspend: true\n", "", "          type: tcp\n")
    ));
    assert!(snap.services[0].health.ha_suspend);
    // On a service without checkers too (nothing to suspend).
    let snap = accepts(
        "services:\n  - vip: 198.18.0.100\n    port: 80\n    ha_suspend: true\n    real_servers:\n      - address: 198.18.1.11\n",
    );
    assert!(snap.services[0].health.ha_suspend);
}

#[test]
fn ha_suspend_must_be_a_boolean() {
    rejects(
        &with("    ha_suspend: sometimes\n", "", "          type: tcp\n"),
        "5:17",
        "services[0].ha_suspend",
        "invalid type",
    );
}

#[test]
fn sorry_server_rules() {
    rejects(
        &with(
            "    sorry_server: { address: 198.18.1.12 }\n",
            "",
            "          type: tcp\n",
        ),
        "5:5",
        "services[0].sorry_server",
        "is also real_servers[1]",
    );
    rejects(
        &with(
            "    sorry_server: { address: \"fd00::1\" }\n",
            "",
            "          type: tcp\n",
        ),
        "5:21",
        "services[0].sorry_server.address",
        "is IPv6 but the VIP",
    );
    rejects(
        &with(
            "    sorry_server: { address: 198.18.1.99, method: dr, port: 81 }\n",
            "",
            "          type: tcp\n",
        ),
        "5:55",
        "services[0].sorry_server.port",
        "must use the service port",
    );
    rejects(
        &with(
            "    sorry_server_inhibit: true\n",
            "",
            "          type: tcp\n",
        ),
        "5:5",
        "services[0].sorry_server_inhibit",
        "needs a sorry_server",
    );
    rejects(
        &with(
            "    sorry_server: { address: 198.18.1.99, method: fullnat }\n",
            "",
            "          type: tcp\n",
        ),
        "2:5",
        "services[0].local_pool",
        "fullnat needs a local_pool",
    );
}

#[test]
fn scripts_and_slowstart_are_checked() {
    rejects(
        &with("", "        notify_up: \"\"\n", "          type: tcp\n"),
        "8:9",
        "services[0].real_servers[0].notify_up",
        "the command is empty",
    );
    rejects(
        &with("", "        slowstart: 0\n", "          type: tcp\n"),
        "8:9",
        "services[0].real_servers[0].slowstart",
        "more than zero",
    );
    rejects(
        &with("    slowstart: -3\n", "", "          type: tcp\n"),
        "5:5",
        "services[0].slowstart",
        "more than zero",
    );
}

#[test]
fn global_health_limits() {
    let snap = accepts("global:\n  health: { max_in_flight: 64 }\n");
    assert_eq!(snap.global.health.max_in_flight, 64);
    assert_eq!(accepts("{}\n").global.health.max_in_flight, 512);
    rejects(
        "global:\n  health: { max_in_flight: 0 }\n",
        "2:13",
        "global.health.max_in_flight",
        "must be 1..=65536",
    );
}

#[test]
fn bindto_must_not_be_an_address_xvs_takes() {
    let yaml = "\
local_pools:
  - name: lip
    addresses: [198.18.1.200]
services:
  - vip: 198.18.0.100
    port: 80
    method: fullnat
    local_pool: lip
    real_servers:
      - address: 198.18.1.11
        health:
          - { type: tcp, bindto: 198.18.1.1 }
          - { type: tcp, bindto: 198.18.1.200 }
";
    rejects(
        yaml,
        "13:26",
        "services[0].real_servers[0].health[1].bindto",
        "is a FullNAT local address",
    );
    rejects(
        &yaml.replace("198.18.1.200 }", "198.18.0.100 }"),
        "13:26",
        "services[0].real_servers[0].health[1].bindto",
        "is a VIP",
    );
    accepts(&yaml.replace("bindto: 198.18.1.200", "bindto: 198.18.1.1"));
}
