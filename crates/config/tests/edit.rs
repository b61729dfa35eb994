//! Runtime changes to services with ipvsadm's semantics on the example
//! configs: each kind of change succeeds and fails as ipvsadm's -A/-E/-D
//! would, a refused change leaves the running configuration as it was,
//! and its error names the service or key without a meaningless line:col.
//! Real-server changes: tests/edit_servers.rs.

mod edit_support;

use edit_support::*;
use xvs_config::edit::{Change, RunningConfig};
use xvs_config::{load_str, ErrorStage, Protocol, SchedulerKind};

#[test]
fn from_text_gives_the_loaders_snapshot_and_errors() {
    let (running, snap) = RunningConfig::from_text(LAB, "config/lab.yaml").expect("valid");
    assert_eq!(snap, load_str(LAB, "config/lab.yaml").expect("valid"));
    assert_eq!(running.changes(), 0);
    assert_eq!(running.snapshot(), &snap);
    let e = RunningConfig::from_text("services:\n  - vip: 198.18.0.1\n    port: x\n", "f.yaml")
        .expect_err("bad port");
    assert!(
        e.to_string().starts_with("f.yaml:3:11: services[0].port: "),
        "{e}"
    );
}

#[test]
fn add_service_refuses_an_existing_one() {
    let mut running = start(LAB);
    let yaml =
        "{vip: 198.18.0.101, port: 443, method: nat, real_servers: [{address: 198.18.1.11}]}";
    let snap = applied(&mut running, add_service(yaml));
    assert_eq!(snap.services.len(), 2);
    let new = &snap.services[1];
    assert_eq!((new.protocol, new.port), (Protocol::Tcp, 443));
    assert_eq!(new.scheduler, SchedulerKind::Wlc, "ipvsadm's default");
    assert_eq!(new.real_servers[0].port, 443, "the service port");
    assert_eq!(running.changes(), 1);
    assert_eq!(
        refused(&mut running, add_service(yaml)),
        "runtime change: service tcp:198.18.0.101:443 already exists \
         (ipvsadm -A refuses it too): edit it, or remove it first"
    );
    // lab.yaml spells `protocol: tcp`; an entry without it is TCP too.
    let text = refused(&mut running, add_service("vip: 198.18.0.100\nport: 80\n"));
    assert!(
        text.contains("service tcp:198.18.0.100:80 already exists"),
        "{text}"
    );
    // Another protocol is another service.
    let snap = applied(
        &mut running,
        add_service("{vip: 198.18.0.100, port: 80, protocol: udp}"),
    );
    assert_eq!(snap.services[2].protocol, Protocol::Udp);
    assert_eq!(running.changes(), 2);
}

#[test]
fn add_service_is_checked_as_the_file_is() {
    let mut running = start(LAB);
    assert_eq!(
        refused(&mut running, add_service("{vip: 198.18.0.101, port: 80, sheduler: rr}")),
        "runtime change: services[1].sheduler: unknown field `sheduler`, expected one of \
         `name`, `vip`, `port`, `protocol`, `scheduler`, `flags`, `mh_table_size`, `method`, \
         `persistence`, `ops`, `synproxy`, `local_pool`, `real_servers`, `inhibit_on_failure`, `quorum`, \
         `hysteresis`, `quorum_up`, `quorum_down`, `sorry_server`, `sorry_server_inhibit`, \
         `slowstart`, `omega`, `ha_suspend`, `virtualhost`, `connect_timeout`, `delay_loop`, \
         `retry`, `delay_before_retry`, `warmup`, `alpha` (refused: add service tcp:198.18.0.101:80)"
    );
    let text = refused(&mut running, add_service("{port: 80}"));
    assert!(
        text.starts_with("runtime change: services[1]: missing field `vip`"),
        "{text}"
    );
    let text = refused(&mut running, add_service("{vip: 198.18.0.101, port: 0}"));
    assert!(
        text.starts_with("runtime change: services[1].port: port 0 (all ports) needs persistence"),
        "{text}"
    );
    let text = refused(
        &mut running,
        add_service("{vip: 198.18.0.101, port: 80, name: web}"),
    );
    assert!(
        text.contains("services[1].name: the name `web` is already used"),
        "{text}"
    );
    let text = refused(&mut running, add_service("vip: [198.18.0.101"));
    assert!(
        text.starts_with("runtime change: the change's YAML does not parse: did not find expected ',' or ']' at line 2 column 1"),
        "{text}"
    );
    let text = refused(&mut running, add_service("- vip: 198.18.0.101"));
    assert!(text.contains("the change's YAML is a list"), "{text}");
}

#[test]
fn edit_service_sets_keys_and_keeps_the_others() {
    let mut running = start(NAT);
    let snap = applied(
        &mut running,
        edit_service(WEB, "{scheduler: wlc, persistence: 300}"),
    );
    let web = &snap.services[0];
    assert_eq!(web.scheduler, SchedulerKind::Wlc);
    assert_eq!(web.persistence.map(|p| p.timeout.as_secs()), Some(300));
    assert_eq!(web.name, "web");
    assert_eq!(weights(&snap, 0), [3, 1]);
    // The same VIP, port and protocol may be given; `null` removes a key.
    let snap = applied(
        &mut running,
        edit_service(
            WEB,
            "vip: 198.18.0.100\nport: 80\nprotocol: tcp\nscheduler: null\n",
        ),
    );
    assert_eq!(snap.services[0].scheduler, SchedulerKind::Wlc);
    assert_eq!(
        running.to_yaml().matches("scheduler:").count(),
        2,
        "dns and tls6 only"
    );
    let snap = applied(
        &mut running,
        edit_service("udp:198.18.0.53:53", "{scheduler: sh, flags: [sh-port]}"),
    );
    assert!(snap.services[1].sched_flags.port);
    assert_eq!(running.changes(), 3);
}

#[test]
fn null_removes_a_key_so_its_default_applies() {
    let mut running = start(DR);
    let any_port = "tcp:198.18.0.101:0";
    let snap = applied(&mut running, edit_service(any_port, "{flags: null}"));
    assert!(!snap.services[1].sched_flags.fallback);
    // `persistence: null` is no persistence, which port 0 cannot have.
    let text = refused(&mut running, edit_service(any_port, "{persistence: null}"));
    assert!(
        text.starts_with("runtime change: services[1].port: port 0 (all ports) needs persistence"),
        "{text}"
    );
}

#[test]
fn edit_service_refuses_its_key_real_servers_and_bad_values() {
    let mut running = start(NAT);
    for (yaml, key) in [
        ("{vip: 198.18.0.101}", "vip"),
        ("{port: 8080}", "port"),
        ("{protocol: udp}", "protocol"),
        ("{port: null}", "port"),
    ] {
        assert_eq!(
            refused(&mut running, edit_service(WEB, yaml)),
            format!(
                "runtime change: services[0].{key}: the protocol, VIP and port identify service \
                 tcp:198.18.0.100:80 and cannot be edited: add the new service and remove this one"
            )
        );
    }
    let text = refused(&mut running, edit_service(WEB, "{real_servers: []}"));
    assert!(
        text.starts_with(
            "runtime change: services[0].real_servers: a service edit cannot set real_servers"
        ),
        "{text}"
    );
    assert_eq!(
        refused(&mut running, edit_service(WEB, "{scheduler: fastest}")),
        "runtime change: services[0].scheduler: unknown scheduler `fastest`, expected one of \
         rr, wrr, lc, wlc, sed, nq, dh, sh, lblc, lblcr, mh, fo, ovf, twos \
         (refused: edit service tcp:198.18.0.100:80)"
    );
    let text = refused(&mut running, edit_service(WEB, "{mh_table_size: 251}"));
    assert!(
        text.contains("services[0].mh_table_size: mh_table_size is only used by scheduler mh"),
        "{text}"
    );
    let text = refused(&mut running, edit_service(WEB, "{wieght: 2}"));
    assert!(
        text.starts_with("runtime change: services[0].wieght: unknown field `wieght`"),
        "{text}"
    );
    let text = refused(&mut running, edit_service(WEB, "{}"));
    assert!(text.contains("the change's YAML is nothing"), "{text}");
    assert_eq!(
        refused(
            &mut running,
            edit_service("tcp:198.18.0.100:81", "{scheduler: rr}")
        ),
        "runtime change: there is no service tcp:198.18.0.100:81 (services: \
         tcp:198.18.0.100:80, udp:198.18.0.53:53, tcp:[fd00:0:0:1::100]:443)"
    );
}

#[test]
fn remove_service() {
    let mut running = start(NAT);
    let dns = service("udp:198.18.0.53:53");
    let snap = applied(&mut running, Change::RemoveService { service: dns });
    let names: Vec<&str> = snap.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web", "tls6"]);
    let text = refused(&mut running, Change::RemoveService { service: dns });
    assert!(text.contains("there is no service udp:198.18.0.53:53 (services: tcp:198.18.0.100:80, tcp:[fd00:0:0:1::100]:443)"), "{text}");
    for svc in [WEB, "tcp:[fd00:0:0:1::100]:443"] {
        applied(
            &mut running,
            Change::RemoveService {
                service: service(svc),
            },
        );
    }
    let text = refused(
        &mut running,
        Change::RemoveService {
            service: service(WEB),
        },
    );
    assert!(text.ends_with("(services: none)"), "{text}");
    // A document with no services left is still one `xvs check` accepts.
    assert!(load_str(&running.to_yaml(), "saved.yaml")
        .expect("valid")
        .services
        .is_empty());
    applied(&mut running, add_service("{vip: 198.18.0.100, port: 80}"));
}

#[test]
fn saved_yaml_says_what_it_is() {
    let mut running = start(LAB);
    assert!(running.to_yaml().starts_with(
        "# xvs running configuration: config/x.yaml with 0 runtime changes applied.\n\
         # Written from memory: the comments of the file are not kept.\n"
    ));
    applied(&mut running, add_server(WEB, "{address: 198.18.1.14}"));
    let saved = running.to_yaml();
    assert!(
        saved.starts_with(
            "# xvs running configuration: config/x.yaml with 1 runtime change applied.\n"
        ),
        "{saved}"
    );
    // Saved, then started from: the same configuration, nothing applied.
    let (again, snap) = RunningConfig::from_text(&saved, "saved.yaml").expect("valid");
    assert_eq!(&snap, running.snapshot());
    assert_eq!(again.changes(), 0);
}

#[test]
fn errors_keep_the_stage_that_refused_them() {
    let mut running = start(LAB);
    let stage = |running: &mut RunningConfig, change: Change| {
        running.apply(&change).expect_err("refused").stage()
    };
    let cases = [
        (add_service("{vip: [x"), ErrorStage::Syntax),
        (add_service("[1]"), ErrorStage::Schema),
        (
            add_service("{vip: 198.18.0.101, port: 80, wat: 1}"),
            ErrorStage::Schema,
        ),
        (
            add_service("{vip: 198.18.0.100, port: 80}"),
            ErrorStage::Semantic,
        ),
        (
            add_server(WEB, "{address: 198.18.1.15, weight: 70000}"),
            ErrorStage::Semantic,
        ),
        (edit_service(WEB, "{port: 81}"), ErrorStage::Semantic),
    ];
    for (change, want) in cases {
        assert_eq!(stage(&mut running, change.clone()), Some(want), "{change}");
    }
}
