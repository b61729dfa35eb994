//! The VRRP-pair lab, tested for real (root only; each test skips loudly
//! otherwise): both directors are reachable on both segments through the
//! switch's bridges, the gateways are on no interface until a VRRP master
//! takes them, and teardown removes the second director too, also when the
//! CLI built the pair.

use std::net::IpAddr;

use xvs_lab::{
    list_namespaces, Lab, LabSpec, Method, CLIENT_GW4, DIR2_CLIENT4, DIR2_SERVER4, SERVER_GW4,
    SERVER_GW6,
};

fn pair(real_servers: usize) -> LabSpec {
    LabSpec {
        directors: 2,
        real_servers,
        backends: false,
        ..LabSpec::new(Method::Nat)
    }
}

fn lab_namespaces_left(prefix: &str) -> Vec<String> {
    list_namespaces()
        .expect("ip netns list")
        .into_iter()
        .filter(|ns| {
            ns.strip_prefix(prefix).is_some_and(|rest| {
                ["cl", "dir", "dir2", "sw"].contains(&rest) || rest.starts_with("rs")
            })
        })
        .collect()
}

fn ping(lab: &Lab, ns: &str, addr: IpAddr) -> Result<(), String> {
    lab.exec(ns, &["ping", "-c", "1", "-W", "2", &addr.to_string()])
        .map(drop)
        .map_err(|e| format!("{ns} -> {addr}: {e}"))
}

#[test]
fn a_pair_reaches_both_directors_from_the_client_and_the_real_servers() {
    if !xvs_lab::require_root("a_pair_reaches_both_directors_from_the_client_and_the_real_servers")
    {
        return;
    }
    let lab = Lab::build(pair(2)).expect("build");
    let prefix = lab.prefix().to_owned();
    assert_eq!(lab.ns_director_n(1), lab.ns_director());
    assert_eq!(lab.ns_director_n(2), format!("{prefix}dir2"));
    assert_eq!(lab.ns_directors().len(), 2);
    assert_eq!(lab.namespaces().len(), 6, "{:?}", lab.namespaces());
    assert_eq!(lab_namespaces_left(&prefix).len(), 6);
    assert_eq!(lab.director_ifaces_n(2), lab.director_ifaces());

    let d1 = lab.director_addrs(1).expect("director 1");
    let d2 = lab.director_addrs(2).expect("director 2");
    assert_eq!((d2.client4, d2.server4), (DIR2_CLIENT4, DIR2_SERVER4));
    assert!(lab.director_addrs(3).is_none());

    // Both directors on the client segment (br1), v4 and v6, from the client.
    let client = lab.ns_client();
    for addr in [d1.client4, d2.client4].map(IpAddr::V4) {
        ping(&lab, &client, addr).unwrap();
    }
    for addr in [d1.client6, d2.client6].map(IpAddr::V6) {
        ping(&lab, &client, addr).unwrap();
    }
    // Both on the real-server segment (br0), from every real server.
    for i in 1..=2 {
        let rs = lab.ns_rs(i);
        for addr in [
            IpAddr::V4(d1.server4),
            IpAddr::V4(d2.server4),
            IpAddr::V6(d1.server6),
            IpAddr::V6(d2.server6),
        ] {
            ping(&lab, &rs, addr).unwrap();
        }
    }
    // The directors reach each other on both segments.
    ping(&lab, &lab.ns_director_n(1), IpAddr::V4(d2.client4)).unwrap();
    ping(&lab, &lab.ns_director_n(2), IpAddr::V6(d1.server6)).unwrap();

    // The gateways are virtual: on no director until a VRRP master takes
    // them, so nothing answers for them yet.
    for i in 1..=2 {
        let ns = lab.ns_director_n(i);
        let (cif, rif) = lab.director_ifaces_n(i);
        assert!(lab.has_address(&ns, &cif, IpAddr::V4(d1.client4)) == (i == 1));
        assert!(!lab.has_address(&ns, &rif, IpAddr::V4(SERVER_GW4)), "{ns}");
        assert!(!lab.has_address(&ns, &rif, IpAddr::V6(SERVER_GW6)), "{ns}");
        assert!(!lab.has_address(&ns, &cif, IpAddr::V4(CLIENT_GW4)), "{ns}");
    }
    assert!(ping(&lab, &lab.ns_rs(1), IpAddr::V4(SERVER_GW4)).is_err());
    assert!(!lab.has_address(&client, "no-such-link", IpAddr::V4(d1.client4)));

    drop(lab);
    assert_eq!(lab_namespaces_left(&prefix), Vec::<String>::new());
}

/// Tears the CLI's lab down even when an assertion fails first.
struct CliLab(String);

impl Drop for CliLab {
    fn drop(&mut self) {
        let _ = Lab::teardown_prefix(&self.0);
    }
}

#[test]
fn cli_up_with_two_directors_builds_a_pair_and_down_removes_it() {
    if !xvs_lab::require_root("cli_up_with_two_directors_builds_a_pair_and_down_removes_it") {
        return;
    }
    let guard = CliLab(format!("p{:x}", std::process::id()));
    let prefix = guard.0.as_str();
    let up = std::process::Command::new(env!("CARGO_BIN_EXE_xvs-lab"))
        .args([
            "up",
            "--method",
            "nat",
            "--prefix",
            prefix,
            "--real-servers",
            "1",
            "--directors",
            "2",
            "--no-backends",
        ])
        .output()
        .expect("run xvs-lab");
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(lab_namespaces_left(prefix).len(), 5);
    // The saved spec says it is a pair.
    let lab = Lab::attach(prefix).expect("attach");
    assert_eq!(lab.spec().directors, 2);
    ping(&lab, &lab.ns_client(), IpAddr::V4(DIR2_CLIENT4)).unwrap();
    drop(lab);
    assert_eq!(Lab::teardown_prefix(prefix).expect("down"), 5);
    assert_eq!(lab_namespaces_left(prefix), Vec::<String>::new());
}
