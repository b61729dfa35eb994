//! `xvs import`'s library half: keepalived.conf parsing (blocks, quotes,
//! `#` and `!` comments, include globs relative to the including file,
//! line numbers through includes) and conversion (every fixture in
//! tests/keepalived/ converts to a file `load_str` accepts, with the key
//! fields right; what is not carried is reported with file:line).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use xvs_config::keepalived::{self, Director, DirectorInterface, Import, KeepalivedError, Node};
use xvs_config::{
    load_str, ForwardMethod, HealthCheckKind, IpNet, Protocol, SchedulerKind, Snapshot,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/keepalived")
}

fn net(text: &str) -> IpNet {
    let (addr, prefix) = text.split_once('/').unwrap();
    IpNet {
        addr: addr.parse().unwrap(),
        prefix: prefix.parse().unwrap(),
    }
}

/// The lab director (single director, or director `n` of a pair).
fn director(n: u8) -> Director {
    let iface = |name: &str, addrs: [String; 2]| DirectorInterface {
        name: name.into(),
        addresses: addrs.iter().map(|a| net(a)).collect(),
        gateway_v4: None,
        gateway_v6: None,
        mtu: None,
        origin: "from --interface".into(),
    };
    let server_side = if n == 0 { 1 } else { n + 1 };
    Director {
        workers: Some(vec![0]),
        idle: Some("adaptive".into()),
        interfaces: vec![
            iface(
                "xvs-c",
                [
                    format!("198.18.0.{}/24", n.max(1) + 1),
                    format!("fd00:0:0:1::{}/64", n.max(1) + 1),
                ],
            ),
            iface(
                "xvs-r",
                [
                    format!("198.18.1.{server_side}/24"),
                    format!("fd00:0:0:2::{server_side}/64"),
                ],
            ),
        ],
    }
}

/// Import a fixture, render it for the single lab director, load it.
fn load_fixture(name: &str) -> (Import, String, Snapshot) {
    load_fixture_for(name, director(0))
}

fn load_fixture_for(name: &str, director: Director) -> (Import, String, Snapshot) {
    let import = keepalived::import_file(&fixtures().join(name))
        .unwrap_or_else(|e| panic!("{name} converts: {e}"));
    let yaml = import.render(&director);
    let snap = load_str(&yaml, name).unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
    (import, yaml, snap)
}

fn import_text(text: &str) -> Import {
    keepalived::import_str(text, "k.conf").unwrap_or_else(|e| panic!("{e}"))
}

fn load_text(text: &str) -> (Import, Snapshot) {
    let import = import_text(text);
    let yaml = import.render(&director(0));
    let snap = load_str(&yaml, "k.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    (import, snap)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A scratch directory under the target dir, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xvs-kimport-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- parser ----

#[test]
fn blocks_comments_and_quotes() {
    let text = "! a comment line\n\
                global_defs {   # trailing comment\n\
                \x20 router_id \"LVS 1\" ! another\n\
                }\n\
                vrrp_instance VI_1 { virtual_ipaddress { 198.18.0.100/24 } }\n\
                vrrp_script chk { script \"/bin/echo '#not a comment' !x\" }\n";
    let (nodes, notes) = keepalived::parse_str(text, "k.conf").unwrap();
    assert!(notes.is_empty());
    assert_eq!(nodes.len(), 3);
    let global: &Node = &nodes[0];
    assert_eq!(global.keyword(), "global_defs");
    assert_eq!(global.at.line, 2);
    assert_eq!(global.children()[0].words, ["router_id", "LVS 1"]);
    assert_eq!(global.children()[0].at.line, 3);
    let vi = &nodes[1];
    assert_eq!(vi.args(), ["VI_1"]);
    assert_eq!(vi.children()[0].children()[0].words, ["198.18.0.100/24"]);
    let script = &nodes[2].children()[0];
    assert_eq!(script.words, ["script", "/bin/echo '#not a comment' !x"]);
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let e = keepalived::import_str(
        "global_defs {\n  router_id a\n\nvirtual_server 1.2.3.4 80 {\n}\n",
        "k.conf",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "k.conf:1: the block of `global_defs` is never closed (a `}` is missing)"
    );
    let e =
        keepalived::import_str("vrrp_script x {\n  script \"/bin/true\n}\n", "k.conf").unwrap_err();
    assert!(
        e.to_string().starts_with("k.conf:2: unterminated quote"),
        "{e}"
    );
    let e = keepalived::import_str(
        "virtual_server 1.2.3.400 80 {\n real_server 198.18.1.11 80 {\n }\n}\n",
        "k.conf",
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "k.conf:1: `1.2.3.400` is not an IP address");
    let e = keepalived::import_file(Path::new("/nonexistent/keepalived.conf")).unwrap_err();
    assert!(matches!(e, KeepalivedError::Io { .. }), "{e}");
}

#[test]
fn include_globs_are_relative_to_the_including_file_sorted_and_numbered() {
    let dir = scratch("include");
    std::fs::create_dir_all(dir.join("sub/d")).unwrap();
    std::fs::write(
        dir.join("main.conf"),
        "global_defs {\n  router_id main\n}\ninclude sub/*.conf\n",
    )
    .unwrap();
    // b before c (glob order), a.conf.disabled not matched; sub/b.conf
    // includes d/* relative to sub/, not to main.conf.
    std::fs::write(
        dir.join("sub/c.conf"),
        "\n\nvrrp_script c {\n  script /bin/c\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/b.conf"),
        "vrrp_script b {\n  script /bin/b\n}\ninclude d/*\n",
    )
    .unwrap();
    std::fs::write(dir.join("sub/a.conf.disabled"), "vrrp_script a {\n}\n").unwrap();
    std::fs::write(
        dir.join("sub/d/x"),
        "# x\nvrrp_script x {\n  script /bin/x\n  bogus 1\n}\n",
    )
    .unwrap();
    // Executable files are skipped, as keepalived skips them.
    let exe = dir.join("sub/d/y");
    std::fs::write(&exe, "vrrp_script y {\n  script /bin/y\n}\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (nodes, notes) = keepalived::parse_file(&dir.join("main.conf")).unwrap();
    let names: Vec<(&str, usize, String)> = nodes
        .iter()
        .map(|n| (n.arg(0).unwrap_or(""), n.at.line, n.at.file.to_string()))
        .collect();
    let sub = dir.join("sub").display().to_string();
    assert_eq!(
        names,
        [
            ("", 1, dir.join("main.conf").display().to_string()),
            ("b", 1, format!("{sub}/b.conf")),
            ("x", 2, format!("{sub}/d/x")),
            ("c", 3, format!("{sub}/c.conf")),
        ]
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]
            .reason
            .contains("not a regular non-executable file"),
        "{notes:?}"
    );
    assert_eq!(
        (notes[0].file.as_str(), notes[0].line),
        (format!("{sub}/b.conf").as_str(), 4)
    );

    // A note inside an included file names that file and line.
    let import = keepalived::import_file(&dir.join("main.conf")).unwrap();
    let bogus = import
        .notes
        .iter()
        .find(|n| n.what.starts_with("bogus"))
        .unwrap();
    assert_eq!(
        (bogus.file.as_str(), bogus.line),
        (format!("{sub}/d/x").as_str(), 4)
    );
    assert_eq!(import.files.len(), 4);

    // A syntax error in an included file names it.
    std::fs::write(dir.join("sub/c.conf"), "vrrp_script c {\n").unwrap();
    let e = keepalived::import_file(&dir.join("main.conf")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{sub}/c.conf:1: the block of `vrrp_script c` is never closed (a `}}` is missing)")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- the fixtures ----

#[test]
fn dr_with_http_digest() {
    let (import, _, snap) = load_fixture("dr-http-digest.conf");
    assert!(import.notes.is_empty(), "{:?}", import.notes);
    assert!(import.remarks[0].starts_with("router_id LVS_DR_1"));
    let svc = &snap.services[0];
    assert_eq!(
        (svc.vip, svc.port, svc.protocol),
        (ip("198.18.0.100"), 80, Protocol::Tcp)
    );
    assert_eq!(
        (svc.scheduler, svc.method),
        (SchedulerKind::Rr, ForwardMethod::Dr)
    );
    assert_eq!(svc.real_servers.len(), 3);
    let rs = &svc.real_servers[0];
    assert_eq!(rs.checkers.len(), 1);
    let check = &rs.checkers[0];
    assert_eq!(
        check.delay_loop,
        Duration::from_secs(2),
        "inherited from the virtual server"
    );
    assert_eq!(
        (check.retry, check.delay_before_retry),
        (1, Duration::from_secs(1))
    );
    let HealthCheckKind::Http(http) = &check.kind else {
        panic!("{check:?}")
    };
    assert_eq!(http.urls[0].path, "/health");
    assert_eq!(http.urls[0].status, [(200, 299)]);
    assert_eq!(
        http.urls[0].digest.map(|d| d[0..2].to_vec()),
        Some(vec![0x2a, 0x28])
    );
}

#[test]
fn nat_with_tcp_check_and_sorry_server() {
    let (import, _, snap) = load_fixture("nat-tcp-sorry.conf");
    assert!(import.notes.is_empty(), "{:?}", import.notes);
    assert_eq!(snap.global.timeouts.tcp, 900);
    let svc = &snap.services[0];
    assert_eq!(
        (svc.method, svc.scheduler),
        (ForwardMethod::Nat, SchedulerKind::Wlc)
    );
    let sorry = svc.health.sorry_server.as_ref().expect("sorry server");
    assert_eq!(
        (sorry.address, sorry.port, sorry.method),
        (ip("198.18.1.13"), 8080, ForwardMethod::Nat)
    );
    assert_eq!(svc.health.quorum, 1);
    assert_eq!(svc.real_servers[0].port, 8080);
    assert_eq!(svc.real_servers[0].weight, 2);
    assert!(!svc.real_servers[0].health.inhibit_on_failure);
    assert!(svc.real_servers[1].health.inhibit_on_failure);
    assert_eq!(svc.real_servers[1].checkers[0].port, Some(8080));
    assert!(matches!(
        svc.real_servers[1].checkers[0].kind,
        HealthCheckKind::Tcp
    ));
}

#[test]
fn a_vrrp_pair() {
    for (file, n, priority, master) in [
        ("vrrp-pair-master.conf", 1, 150, true),
        ("vrrp-pair-backup.conf", 2, 100, false),
    ] {
        let (import, _, snap) = load_fixture_for(file, director(n));
        assert!(import.notes.is_empty(), "{:?}", import.notes);
        assert_eq!(snap.vrrp.len(), 2);
        let out = &snap.vrrp[0];
        assert_eq!(
            (out.name.as_str(), out.interface.as_str(), out.vrid),
            ("VI_OUT", "xvs-c", 51)
        );
        assert_eq!(
            (out.priority, out.initial_master, out.version),
            (priority, master, 2)
        );
        assert_eq!(out.auth_pass.as_deref(), Some("xvs-lab"));
        assert_eq!(out.virtual_addresses, [net("198.18.0.100/24")]);
        assert_eq!(out.track_interfaces[0].name, "xvs-r");
        assert_eq!(out.track_scripts.len(), 1);
        assert_eq!(
            out.notify.any.as_ref().unwrap().argv,
            ["/etc/keepalived/notify.sh"]
        );
        assert_eq!(
            out.notify.any.as_ref().unwrap().user.as_deref(),
            Some("root")
        );
        let inside = &snap.vrrp[1];
        assert_eq!(
            inside.notify.master.as_ref().unwrap().argv,
            ["/etc/keepalived/notify.sh", "VI_IN-master"]
        );
        assert_eq!(snap.vrrp_scripts[0].name, "chk_uplink");
        assert_eq!(snap.vrrp_scripts[0].interval, Duration::from_secs(1));
        assert_eq!(snap.vrrp_sync_groups[0].members, [0, 1]);
        assert!(snap.vrrp_sync_groups[0].notify.any.is_some());
    }
}

#[test]
fn misc_check_with_misc_dynamic() {
    let (_, _, snap) = load_fixture("misc-dynamic.conf");
    let svc = &snap.services[0];
    assert_eq!(svc.scheduler, SchedulerKind::Wrr);
    for (i, rs) in svc.real_servers.iter().enumerate() {
        let HealthCheckKind::Misc(misc) = &rs.checkers[0].kind else {
            panic!("{rs:?}")
        };
        assert!(misc.dynamic);
        assert_eq!(misc.timeout, Duration::from_secs(2));
        assert_eq!(
            misc.script.argv,
            [
                "/etc/keepalived/weight.sh".to_string(),
                rs.address.to_string()
            ]
        );
        assert_eq!(misc.script.user.is_some(), i == 2);
    }
}

#[test]
fn virtual_server_groups_expand_into_named_services() {
    let (_, _, snap) = load_fixture("group.conf");
    let names: Vec<(&str, IpAddr, u16, Protocol)> = snap
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.vip, s.port, s.protocol))
        .collect();
    assert_eq!(
        names,
        [
            (
                "WEB TCP 198.18.0.100:80",
                ip("198.18.0.100"),
                80,
                Protocol::Tcp
            ),
            (
                "WEB TCP 198.18.0.101:80",
                ip("198.18.0.101"),
                80,
                Protocol::Tcp
            ),
            (
                "WEB TCP 198.18.0.102:80",
                ip("198.18.0.102"),
                80,
                Protocol::Tcp
            ),
            (
                "DNS UDP 198.18.0.100:53",
                ip("198.18.0.100"),
                53,
                Protocol::Udp
            ),
        ]
    );
    assert!(snap.services[..3].iter().all(|s| s.real_servers.len() == 3));
    let HealthCheckKind::Dns(dns) = &snap.services[3].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert_eq!(
        (dns.query_type.name(), dns.name.as_str()),
        ("A", "lab.test")
    );
    assert_eq!(
        snap.services[3].real_servers[0].checkers[0].port,
        Some(5300)
    );
    assert_eq!(
        snap.services[3].real_servers[0].checkers[0].retry, 3,
        "DNS_CHECK's default"
    );
}

#[test]
fn ipv6_dr() {
    let (_, yaml, snap) = load_fixture("ipv6.conf");
    let svc = &snap.services[0];
    assert_eq!(svc.vip, ip("fd00:0:0:1::100"));
    assert_eq!(svc.method, ForwardMethod::Dr);
    let p = svc.persistence.expect("persistent");
    assert_eq!((p.timeout, p.prefix), (Duration::from_secs(60), 128));
    assert_eq!(svc.real_servers[0].weight, 2);
    assert!(matches!(
        svc.real_servers[2].checkers[0].kind,
        HealthCheckKind::Icmp
    ));
    assert!(yaml.contains("http_protocol: \"1.1\""), "{yaml}");
}

#[test]
fn include_fixture_reports_every_option_not_carried() {
    let (import, yaml, snap) = load_fixture("include/keepalived.conf");
    assert_eq!(import.files.len(), 4, "{:?}", import.files);
    assert!(import.files[1].ends_with("conf.d/10-web.conf"));
    assert!(import.files[3].ends_with("conf.d/extra.inc"));
    let where_: Vec<(String, usize)> = import
        .notes
        .iter()
        .map(|n| {
            let file = Path::new(&n.file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, n.line)
        })
        .collect();
    let expected: Vec<(String, usize)> = [
        ("keepalived.conf", 7),
        ("keepalived.conf", 10),
        ("keepalived.conf", 11),
        ("keepalived.conf", 12),
        ("keepalived.conf", 13),
        ("keepalived.conf", 14),
        ("keepalived.conf", 18),
        ("keepalived.conf", 23),
        ("10-web.conf", 8),
        ("10-web.conf", 9),
        ("10-web.conf", 12),
        ("10-web.conf", 16),
        ("10-web.conf", 18),
        ("10-web.conf", 35),
        ("10-web.conf", 47),
    ]
    .iter()
    .map(|(f, l)| (f.to_string(), *l))
    .collect();
    assert_eq!(where_, expected, "{:#?}", import.notes);
    for note in &import.notes {
        assert!(!note.reason.is_empty());
        // Each is at the top of the output too.
        assert!(yaml.contains(&format!("#   {note}")), "{note}");
    }
    assert!(import.notes[7].reason.contains("missing.inc"));
    assert!(import.notes[14].what.starts_with("virtual_server fwmark 1"));
    // What was carried: web (HTTP, SMTP), DNS over UDP, SMTP from extra.inc.
    let ports: Vec<(u16, Protocol)> = snap.services.iter().map(|s| (s.port, s.protocol)).collect();
    assert_eq!(
        ports,
        [
            (80, Protocol::Tcp),
            (53, Protocol::Udp),
            (2525, Protocol::Tcp)
        ]
    );
    let web = &snap.services[0];
    let HealthCheckKind::Http(two) = &web.real_servers[1].checkers[0].kind else {
        panic!()
    };
    assert_eq!(two.urls.len(), 2);
    assert!(matches!(
        web.real_servers[2].checkers[0].kind,
        HealthCheckKind::Smtp { .. }
    ));
    let HealthCheckKind::Udp(udp) = &snap.services[1].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert_eq!(udp.payload.as_deref(), Some(&b"ping"[..]));
    assert!(udp.require_reply);
    assert_eq!(udp.min_reply_length, 3);
}

// ---- keepalived's semantics where they differ from xvs's defaults ----

#[test]
fn keepalived_defaults_are_written_out() {
    let (import, snap) =
        load_text("virtual_server 198.18.0.100 0 {\n  real_server 198.18.1.11 {\n  }\n}\n");
    let svc = &snap.services[0];
    // No lvs_method: NAT; no protocol: UDP; port 0: persistent (360 s).
    assert_eq!(svc.method, ForwardMethod::Nat);
    assert_eq!(svc.protocol, Protocol::Udp);
    assert_eq!(svc.scheduler, SchedulerKind::Wlc);
    assert_eq!(svc.persistence.unwrap().timeout, Duration::from_secs(360));
    assert!(import.notes.is_empty());
}

#[test]
fn dr_real_server_ports_and_flags() {
    let (import, snap) = load_text(
        "virtual_server 198.18.0.100 80 {\n  lvs_sched sh\n  flag-1\n  sh-port\n  mh-port\n  lvs_method DR\n  protocol TCP\n  weight 5\n\
         \x20 persistence_timeout\n  persistence_granularity 255.255.255.0\n\
         \x20 real_server 198.18.1.11 8080 {\n  }\n}\n",
    );
    let svc = &snap.services[0];
    assert!(svc.sched_flags.fallback && svc.sched_flags.port);
    assert_eq!(svc.real_servers[0].port, 80);
    assert_eq!(
        svc.real_servers[0].weight, 5,
        "the virtual server's default weight"
    );
    let p = svc.persistence.unwrap();
    assert_eq!((p.timeout, p.prefix), (Duration::from_secs(360), 24));
    let lines: Vec<usize> = import.notes.iter().map(|n| n.line).collect();
    assert_eq!(lines, [5, 11], "{:#?}", import.notes);
    assert!(import.notes[1]
        .reason
        .contains("DR forwards to the service port 80"));
}

#[test]
fn keepalived_fixups_of_vrrp_instances() {
    let (import, snap) = load_text(concat!(
        "global_defs {\n  vrrp_version 3\n  vrrp_garp_master_repeat 2\n  script_user nobody\n}\n",
        "vrrp_script chk {\n  script \"/bin/check --fast\"\n  weight -20\n}\n",
        "vrrp_sync_group G {\n  group {\n    A\n    B\n  }\n}\n",
        "vrrp_instance A {\n  state MASTER\n  nopreempt\n  interface xvs-c\n  virtual_router_id 1\n",
        "  authentication {\n    auth_type PASS\n    auth_pass secret\n  }\n",
        "  advert_int 0.5\n  virtual_ipaddress {\n    198.18.0.100/24 dev xvs-c\n  }\n",
        "  track_script {\n    chk\n  }\n}\n",
        "vrrp_instance B {\n  interface xvs-r\n  virtual_router_id 2\n  priority 50\n",
        "  preempt_delay 10\n  virtual_ipaddress {\n    198.18.1.1/24\n  }\n}\n",
    ));
    let a = &snap.vrrp[0];
    assert!(
        a.initial_master && a.preempt,
        "nopreempt is dropped with state MASTER"
    );
    assert_eq!(a.version, 3);
    assert_eq!(a.auth_pass, None, "no authentication in VRRPv3");
    assert_eq!(a.advert_interval, Duration::from_millis(500));
    assert_eq!(a.garp.master_repeat, 2);
    assert_eq!(
        a.track_scripts[0].weight, 0,
        "a sync group member's trackers weigh 0"
    );
    let b = &snap.vrrp[1];
    assert_eq!(b.preempt_delay, Duration::from_secs(10));
    assert_eq!(snap.vrrp_scripts[0].script.user.as_deref(), Some("nobody"));
    assert_eq!(snap.vrrp_scripts[0].script.argv, ["/bin/check", "--fast"]);
    let reasons: Vec<(usize, &str)> = import
        .notes
        .iter()
        .map(|n| (n.line, n.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert!(reasons[0].1.contains("nopreempt"), "{reasons:?}");
    assert!(reasons[1].1.contains("VRRPv3 has no authentication"));
    assert!(reasons[2].1.contains("address options"));
    assert!(reasons[3]
        .1
        .contains("in a sync group keepalived uses weight 0"));
}

#[test]
fn advert_intervals_are_rounded_as_keepalived_rounds_them() {
    let (import, snap) = load_text(concat!(
        "vrrp_instance A {\n  interface xvs-c\n  virtual_router_id 1\n  advert_int 0.4\n",
        "  garp_master_refresh_repeat 3\n  virtual_ipaddress {\n    198.18.0.100/24\n  }\n}\n",
        "vrrp_instance B {\n  version 3\n  interface xvs-c\n  virtual_router_id 2\n  advert_int 0.123\n",
        "  virtual_ipaddress {\n    198.18.0.101/24\n  }\n}\n",
    ));
    assert_eq!(
        snap.vrrp[0].advert_interval,
        Duration::from_secs(1),
        "VRRPv2: whole seconds"
    );
    assert_eq!(snap.vrrp[0].garp.master_refresh_repeat, 1);
    assert_eq!(
        snap.vrrp[1].advert_interval,
        Duration::from_millis(120),
        "VRRPv3: centiseconds"
    );
    let lines: Vec<usize> = import.notes.iter().map(|n| n.line).collect();
    assert_eq!(lines, [1, 4, 14], "{:#?}", import.notes);
}

#[test]
fn lvs_sync_daemon_becomes_sync_with_the_instances_peers() {
    let (_, snap) = load_text(concat!(
        "global_defs {\n  lvs_sync_daemon xvs-r VI_IN id 7\n}\n",
        "vrrp_instance VI_IN {\n  interface xvs-r\n  virtual_router_id 52\n",
        "  unicast_peer {\n    198.18.1.3\n  }\n  virtual_ipaddress {\n    198.18.1.254/24\n  }\n}\n",
    ));
    let sync = snap.sync.expect("sync");
    assert_eq!(sync.interface, "xvs-r");
    assert_eq!(sync.peers, [ip("198.18.1.3")]);
    assert_eq!(sync.sync_id, 7);

    let import = import_text("global_defs {\n  lvs_sync_daemon xvs-r\n}\n");
    assert!(
        import.notes[0].reason.contains("sync.peers"),
        "{:?}",
        import.notes
    );
}

#[test]
fn checker_options_map_to_health_keys() {
    let (import, snap) = load_text(concat!(
        "track_file weight_file {\n  file /run/w\n  weight 3 reverse\n}\n",
        "virtual_server 198.18.0.100 443 {\n  lvs_method NAT\n  protocol TCP\n  virtualhost www.lab.test\n",
        "  quorum 2\n  hysteresis 5\n  quorum_up \"/bin/page up\"\n  alpha\n",
        "  real_server 198.18.1.11 8443 {\n    weight 2\n",
        "    SSL_GET {\n      url {\n        path /a\n        status_code 200-299 301\n      }\n",
        "      url {\n        path /b\n        virtualhost b.lab.test\n      }\n      enable_sni\n      nb_get_retry 4\n    }\n",
        "    FILE_CHECK {\n      track_file weight_file\n    }\n",
        "    PING_CHECK {\n      connect_port 1\n      bindto 198.18.1.1\n    }\n",
        "    notify_down \"/bin/page down\" nobody :staff\n  }\n}\n",
    ));
    let svc = &snap.services[0];
    assert_eq!(svc.health.quorum, 2);
    assert_eq!(
        svc.health.hysteresis, 1,
        "keepalived lowers it to quorum - 1"
    );
    assert_eq!(
        svc.health.quorum_up.as_ref().unwrap().argv,
        ["/bin/page", "up"]
    );
    let rs = &svc.real_servers[0];
    let HealthCheckKind::Ssl(http, tls) = &rs.checkers[0].kind else {
        panic!("{rs:?}")
    };
    assert_eq!(http.urls[0].status, [(200, 299), (301, 301)]);
    assert_eq!(http.urls[0].virtualhost.as_deref(), Some("www.lab.test"));
    assert_eq!(http.urls[1].virtualhost.as_deref(), Some("b.lab.test"));
    assert_eq!(tls.sni.as_deref(), Some("www.lab.test"));
    assert_eq!(rs.checkers[0].retry, 4);
    assert!(rs.checkers[0].alpha, "alpha from the virtual server");
    let HealthCheckKind::File(file) = &rs.checkers[1].kind else {
        panic!()
    };
    assert_eq!(
        (file.path.to_str(), file.weight, file.reverse),
        (Some("/run/w"), 3, true)
    );
    assert_eq!(rs.checkers[2].bindto, Some(ip("198.18.1.1")));
    let down = rs.health.notify_down.as_ref().unwrap();
    assert_eq!(
        (down.user.as_deref(), down.group.as_deref()),
        (Some("nobody"), Some("staff"))
    );
    let what: Vec<&str> = import.notes.iter().map(|n| n.what.as_str()).collect();
    assert_eq!(what.len(), 2, "{:#?}", import.notes);
    assert!(
        what[0].starts_with("virtual_server"),
        "hysteresis: {what:?}"
    );
    assert_eq!(what[1], "connect_port 1");
}

#[test]
fn unsupported_blocks_and_keywords_are_reported_never_dropped() {
    let import = import_text(concat!(
        "bfd_instance b {\n}\n",
        "virtual_server 198.18.0.100 5060 {\n  protocol SCTP\n  real_server 198.18.1.11 5060 {\n  }\n}\n",
        "@lb2 virtual_server 198.18.0.100 81 {\n",
        "frobnicate 1\n",
    ));
    let lines: Vec<(usize, &str)> = import
        .notes
        .iter()
        .map(|n| (n.line, n.reason.as_str()))
        .collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[0].1.contains("BFD"));
    assert!(lines[1].1.contains("SCTP"));
    assert!(lines[2].1.contains("conditional line"));
    assert!(lines[3].1.contains("unknown keyword"));
}

// ---- no panics on input ----

mod properties {
    use proptest::prelude::*;
    use xvs_config::keepalived::{self, yaml::scalar};

    /// keepalived-looking lines: keywords, braces, quotes, comments,
    /// addresses, numbers.
    fn line() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "virtual_server",
            "real_server",
            "vrrp_instance",
            "virtual_ipaddress",
            "group",
            "virtual_server_group",
            "TCP_CHECK",
            "HTTP_GET",
            "url",
            "path",
            "digest",
            "MISC_CHECK",
            "misc_path",
            "lb_kind",
            "DR",
            "NAT",
            "lvs_sched",
            "wrr",
            "weight",
            "state",
            "MASTER",
            "interface",
            "priority",
            "track_script",
            "notify",
            "include",
            "198.18.0.100",
            "198.18.1.11",
            "fd00::1",
            "198.18.0.1-3",
            "80",
            "0",
            "-5",
            "{",
            "}",
            "\"",
            "'",
            "#",
            "!",
            "\\",
            "$X=1",
            "$X",
            "@lb1",
            "/health",
        ]);
        prop::collection::vec(word, 0..8).prop_map(|w| w.join(" "))
    }

    proptest! {
        #[test]
        fn any_text_converts_or_names_a_line(lines in prop::collection::vec(line(), 0..30)) {
            let text = lines.join("\n");
            match keepalived::import_str(&text, "p.conf") {
                Ok(import) => {
                    let yaml = import.render(&super::director(0));
                    // Whatever it writes is YAML (xvs check may still refuse it).
                    prop_assert!(serde_yaml::from_str::<serde_yaml::Value>(&yaml).is_ok(), "{}", yaml);
                    for note in &import.notes {
                        prop_assert!(note.line >= 1 && note.line <= lines.len().max(1));
                    }
                }
                Err(e) => prop_assert!(e.to_string().starts_with("p.conf:"), "{}", e),
            }
        }

        #[test]
        fn scalars_read_back_as_the_same_string(s in "\\PC{0,24}") {
            let doc = format!("k: {}\n", scalar(&s));
            let value: serde_yaml::Value = serde_yaml::from_str(&doc).unwrap();
            prop_assert_eq!(value["k"].as_str(), Some(s.as_str()), "{}", doc);
        }
    }
}
