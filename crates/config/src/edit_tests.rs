//! Unit tests of edit.rs: the service and real-server references as the
//! CLI reads and prints them, and the pieces a change is made of.

use super::doc::brief;
use super::*;

#[track_caller]
fn service(text: &str) -> ServiceRef {
    ServiceRef::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

#[track_caller]
fn server(text: &str) -> ServerRef {
    ServerRef::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn service_refs_parse_and_print_back() {
    let s = service("tcp:198.18.0.100:80");
    assert_eq!(s.protocol, Protocol::Tcp);
    assert_eq!(s.vip, "198.18.0.100".parse::<IpAddr>().expect("v4"));
    assert_eq!(s.port, 80);
    assert_eq!(s.to_string(), "tcp:198.18.0.100:80");
    // The protocol defaults to TCP, as ipvsadm -t.
    assert_eq!(service("198.18.0.100:80"), s);
    assert_eq!(service(" TCP:198.18.0.100:80 "), s);
    let u = service("udp:[fd00::100]:53");
    assert_eq!(u.protocol, Protocol::Udp);
    assert_eq!(u.to_string(), "udp:[fd00::100]:53");
    assert_eq!(service("[fd00::100]:0").to_string(), "tcp:[fd00::100]:0");
    for text in &[
        "tcp:198.18.0.100:80",
        "udp:[fd00::100]:53",
        "udp:198.18.0.53:53",
    ] {
        assert_eq!(service(text).to_string(), *text);
    }
}

#[test]
fn bad_service_refs_say_what_is_expected() {
    for bad in [
        "",
        "198.18.0.100",
        "tcp:198.18.0.100",
        "sctp:198.18.0.100:80",
        "fd00::100:53",
        "tcp:198.18.0.100:65536",
        "web",
    ] {
        let e = ServiceRef::parse(bad).expect_err(bad);
        assert!(e.contains("expected [tcp:|udp:]VIP:PORT"), "{bad}: {e}");
        assert!(e.contains(&format!("`{}`", bad.trim())), "{e}");
    }
}

#[test]
fn server_refs_parse_and_print_back() {
    let s = server("198.18.1.11:80");
    assert_eq!(s.port, Some(80));
    assert_eq!(s.to_string(), "198.18.1.11:80");
    let bare = server("198.18.1.11");
    assert_eq!(bare.port, None);
    assert_eq!(bare.to_string(), "198.18.1.11");
    let v6 = server("[fd00::11]:80");
    assert_eq!(v6.to_string(), "[fd00::11]:80");
    assert_eq!(server("fd00::11").port, None);
    assert_eq!(server("[fd00::11]"), server("fd00::11"));
    assert_eq!(server("fd00::11").to_string(), "fd00::11");
    let e = ServerRef::parse("rs1").expect_err("a name");
    assert!(e.contains("expected ADDRESS or ADDRESS:PORT"), "{e}");
    assert!(ServerRef::parse("198.18.1.11:99999").is_err());
}

#[test]
fn a_server_ref_without_port_matches_any_port() {
    let snap = load_str(
        "services:\n  - {vip: 198.18.0.100, port: 80, method: nat, real_servers: \
         [{address: 198.18.1.11, port: 8080}, {address: 198.18.1.11, port: 8081}, \
         {address: 198.18.1.12}]}\n",
        "t.yaml",
    )
    .expect("valid");
    let svc = &snap.services[0];
    let id = ServiceRef::of(svc);
    assert_eq!(
        find_server(svc, &id, &server("198.18.1.12")).expect("one"),
        2
    );
    assert_eq!(
        find_server(svc, &id, &server("198.18.1.11:8081")).expect("one"),
        1
    );
    let e = find_server(svc, &id, &server("198.18.1.11")).expect_err("two");
    assert_eq!(
        e.to_string(),
        "runtime change: service tcp:198.18.0.100:80 has 2 real servers at 198.18.1.11 \
         (198.18.1.11:8080, 198.18.1.11:8081): give the port"
    );
    let e = find_server(svc, &id, &server("198.18.1.12:8080")).expect_err("none");
    assert_eq!(
        e.to_string(),
        "runtime change: service tcp:198.18.0.100:80 has no real server 198.18.1.12:8080 \
         (it has 198.18.1.11:8080, 198.18.1.11:8081, 198.18.1.12:80)"
    );
    assert_eq!(e.location(), None);
    assert_eq!(e.stage(), Some(ErrorStage::Semantic));
}

#[test]
fn fragments_must_be_non_empty_mappings() {
    assert_eq!(fragment("{weight: 2}").expect("flow").len(), 1);
    assert_eq!(
        fragment("weight: 2\nmethod: nat\n").expect("block").len(),
        2
    );
    for (text, found) in [
        ("", "nothing"),
        ("{}", "nothing"),
        ("[1, 2]", "a list"),
        ("2", "a single value"),
    ] {
        let e = fragment(text).expect_err(text);
        assert!(e.message().contains(found), "{text}: {e}");
        assert_eq!(e.stage(), Some(ErrorStage::Schema));
    }
    let e = fragment("{weight: 2").expect_err("unclosed");
    assert_eq!(e.stage(), Some(ErrorStage::Syntax));
    assert!(
        e.message().starts_with("the change's YAML does not parse"),
        "{e}"
    );
    let e = fragment("{weight: 2, weight: 3}").expect_err("duplicate key");
    assert_eq!(e.stage(), Some(ErrorStage::Syntax));
}

#[test]
fn merge_sets_replaces_and_removes_keys() {
    let mut entry = fragment("{address: 198.18.1.11, weight: 3, method: nat}").expect("map");
    let keys = fragment("{weight: 5, method: null, upper_threshold: 10, address: 198.18.1.11}")
        .expect("map");
    merge(&mut entry, keys, &["address", "port"]);
    let text = serde_yaml::to_string(&entry).expect("renders");
    assert_eq!(
        text,
        "address: 198.18.1.11\nweight: 5\nupper_threshold: 10\n"
    );
}

#[test]
fn brief_lists_stop_at_eight() {
    assert_eq!(brief::<u8>(&[]), "none");
    assert_eq!(brief(&[1, 2]), "1, 2");
    let many: Vec<u32> = (1..=10).collect();
    assert_eq!(brief(&many), "1, 2, 3, 4, 5, 6, 7, 8, and 2 more");
}

#[test]
fn changes_describe_themselves() {
    let svc = service("tcp:198.18.0.100:80");
    let rs = server("198.18.1.11:80");
    let cases = [
        (Change::AddService { yaml: "{}".into() }, "add a service"),
        (
            Change::RemoveService { service: svc },
            "remove service tcp:198.18.0.100:80",
        ),
        (
            Change::DrainRealServer {
                service: svc,
                server: rs,
            },
            "drain real server 198.18.1.11:80 of tcp:198.18.0.100:80",
        ),
        (
            Change::RemoveRealServer {
                service: svc,
                server: rs,
            },
            "remove real server 198.18.1.11:80 from tcp:198.18.0.100:80",
        ),
    ];
    for (change, text) in cases {
        assert_eq!(change.to_string(), text);
    }
}
