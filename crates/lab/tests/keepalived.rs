//! A real keepalived (VRRP only) in each director of a pair lab, tested
//! for real (root and keepalived only; each test skips loudly otherwise):
//! the higher priority becomes master and holds the virtual addresses, the
//! other stays backup, the notify FIFO reports both states, and when the
//! master's keepalived is killed the backup takes the addresses over. Once
//! with VRRPv2 and a password, once with VRRPv3 at 0.1 s (IPv4 and IPv6).
//!
//! Every bound is a liveness bound, generous for a shared machine.

use std::net::IpAddr;
use std::thread;
use std::time::{Duration, Instant};

use xvs_lab::{
    keepalived_conf, Lab, LabProcess, LabSpec, Method, VrrpInstance, VrrpVersion, DEFAULT_VIP4,
    SERVER_GW4, SERVER_GW6,
};

/// From two keepalived starts to one settled master.
const ELECTION: Duration = Duration::from_secs(15);
/// From the master's death to the backup holding every address (v2: three
/// 1 s adverts and the skew time, ~3.6 s).
const FAILOVER: Duration = Duration::from_secs(10);

fn required(test: &str) -> bool {
    xvs_lab::require_root(test) && xvs_lab::require_keepalived(test)
}

fn pair_lab() -> Lab {
    Lab::build(LabSpec {
        directors: 2,
        real_servers: 1,
        backends: false,
        ..LabSpec::new(Method::Nat)
    })
    .expect("build")
}

/// Poll `done` until it holds or `timeout` passes.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// One virtual address and where keepalived puts it.
struct Vip {
    instance: &'static str,
    /// true: the real-server side ({p}r), false: the client side ({p}c).
    server_side: bool,
    addr: IpAddr,
}

/// Both directors' instances from `instances(director, priority)`, started
/// with priority 150 on director 1 and 100 on director 2.
fn start_pair(lab: &Lab, instances: impl Fn(usize, u8) -> Vec<VrrpInstance>) -> [LabProcess; 2] {
    [(1, 150), (2, 100)].map(|(director, priority)| {
        let conf = keepalived_conf(
            &format!("dir{director}"),
            Some(&lab.keepalived_notify(director)),
            &instances(director, priority),
        )
        .expect("a valid configuration");
        lab.start_keepalived(director, &conf)
            .unwrap_or_else(|e| panic!("keepalived on director {director}: {e}"))
    })
}

fn holds(lab: &Lab, director: usize, vip: &Vip) -> bool {
    let (cif, rif) = lab.director_ifaces_n(director);
    let iface = if vip.server_side { rif } else { cif };
    lab.has_address(&lab.ns_director_n(director), &iface, vip.addr)
}

fn state(lab: &Lab, director: usize, vip: &Vip) -> String {
    lab.keepalived_state(director, vip.instance)
        .unwrap_or_else(|| "<none>".into())
}

/// What both directors hold and say, for failure messages.
fn describe(lab: &Lab, vips: &[Vip], keepalived: &[LabProcess]) -> String {
    let mut out = String::new();
    for director in 1..=2 {
        for vip in vips {
            out += &format!(
                "director {director} {}: {} holds {}: {}\n",
                vip.instance,
                state(lab, director, vip),
                vip.addr,
                holds(lab, director, vip)
            );
        }
    }
    for k in keepalived {
        out += &format!("--- {}\n{}\n", k.log_path().display(), k.log());
    }
    out
}

/// Director `master` is MASTER and holds every address; the other is
/// BACKUP and holds none.
fn settled(lab: &Lab, vips: &[Vip], master: usize) -> bool {
    let backup = 3 - master;
    vips.iter().all(|vip| {
        holds(lab, master, vip)
            && !holds(lab, backup, vip)
            && state(lab, master, vip) == "MASTER"
            && state(lab, backup, vip) == "BACKUP"
    })
}

/// Elect, check the addresses answer, kill -9 the master's keepalived,
/// and wait for director 2 to take over.
fn elect_then_fail_over(lab: &Lab, vips: &[Vip], mut keepalived: [LabProcess; 2]) {
    assert!(
        wait_until(ELECTION, || settled(lab, vips, 1)),
        "director 1 (priority 150) did not become the only master:\n{}",
        describe(lab, vips, &keepalived)
    );
    // The master answers for its addresses on the shared segments: the
    // client reaches the VIP, the real server its gateway.
    for vip in vips {
        let ns = if vip.server_side {
            lab.ns_rs(1)
        } else {
            lab.ns_client()
        };
        let addr = vip.addr.to_string();
        lab.exec(&ns, &["ping", "-c", "1", "-W", "2", &addr])
            .unwrap_or_else(|e| panic!("{ns} -> {addr} held by director 1: {e}"));
    }

    lab.crash_keepalived(1)
        .expect("kill -9 director 1's keepalived");
    assert!(
        lab.keepalived_pids(1).is_empty(),
        "director 1's keepalived survived"
    );
    let exited = keepalived[0].wait_timeout(FAILOVER).expect("wait");
    assert!(exited.is_some_and(|s| !s.success()), "{exited:?}");
    assert!(
        wait_until(FAILOVER, || vips
            .iter()
            .all(|vip| holds(lab, 2, vip) && state(lab, 2, vip) == "MASTER")),
        "director 2 did not take over:\n{}",
        describe(lab, vips, &keepalived)
    );
    assert!(keepalived[1].is_running(), "director 2's keepalived died");
}

#[test]
fn keepalived_v2_pair_with_a_password_elects_the_higher_priority_and_fails_over_on_kill() {
    let test =
        "keepalived_v2_pair_with_a_password_elects_the_higher_priority_and_fails_over_on_kill";
    if !required(test) {
        return;
    }
    let lab = pair_lab();
    let vips = [
        Vip {
            instance: "VI_CLIENT",
            server_side: false,
            addr: IpAddr::V4(DEFAULT_VIP4),
        },
        Vip {
            instance: "VI_GATEWAY",
            server_side: true,
            addr: IpAddr::V4(SERVER_GW4),
        },
    ];
    let keepalived = start_pair(&lab, |director, priority| {
        let (cif, rif) = lab.director_ifaces_n(director);
        vec![
            VrrpInstance {
                auth_pass: Some("xvs-lab".into()),
                virtual_addresses: vec![(vips[0].addr, 32)],
                ..VrrpInstance::new(vips[0].instance, &cif, 51, priority)
            },
            VrrpInstance {
                auth_pass: Some("xvs-lab".into()),
                virtual_addresses: vec![(vips[1].addr, 24)],
                ..VrrpInstance::new(vips[1].instance, &rif, 52, priority)
            },
        ]
    });
    elect_then_fail_over(&lab, &vips, keepalived);
}

#[test]
fn keepalived_v3_pair_at_100ms_elects_the_higher_priority_and_fails_over_on_kill() {
    let test = "keepalived_v3_pair_at_100ms_elects_the_higher_priority_and_fails_over_on_kill";
    if !required(test) {
        return;
    }
    let lab = pair_lab();
    let vips = [
        Vip {
            instance: "VI_CLIENT",
            server_side: false,
            addr: IpAddr::V4(DEFAULT_VIP4),
        },
        Vip {
            instance: "VI_GATEWAY6",
            server_side: true,
            addr: IpAddr::V6(SERVER_GW6),
        },
    ];
    let keepalived = start_pair(&lab, |director, priority| {
        let (cif, rif) = lab.director_ifaces_n(director);
        let v3 = |name, iface: &str, vrid, addr, len| VrrpInstance {
            version: VrrpVersion::V3,
            advert_int: Duration::from_millis(100),
            virtual_addresses: vec![(addr, len)],
            ..VrrpInstance::new(name, iface, vrid, priority)
        };
        vec![
            v3(vips[0].instance, &cif, 61, vips[0].addr, 32),
            v3(vips[1].instance, &rif, 62, vips[1].addr, 64),
        ]
    });
    elect_then_fail_over(&lab, &vips, keepalived);
}

#[test]
fn start_keepalived_checks_the_configuration_and_refuses_a_second_one() {
    let test = "start_keepalived_checks_the_configuration_and_refuses_a_second_one";
    if !required(test) {
        return;
    }
    let lab = pair_lab();
    let (cif, _) = lab.director_ifaces_n(2);
    let instance = VrrpInstance {
        virtual_addresses: vec![(IpAddr::V4(DEFAULT_VIP4), 32)],
        unicast_src: lab.director_addrs(2).map(|a| IpAddr::V4(a.client4)),
        unicast_peers: lab
            .director_addrs(1)
            .map(|a| IpAddr::V4(a.client4))
            .into_iter()
            .collect(),
        preempt_delay: Some(Duration::from_millis(1500)),
        ..VrrpInstance::new("VI_1", &cif, 71, 100)
    };
    let conf = keepalived_conf(
        "dir2",
        Some(&lab.keepalived_notify(2)),
        std::slice::from_ref(&instance),
    )
    .expect("valid");
    // keepalived itself accepts what keepalived_conf writes, without a warning.
    lab.check_keepalived_config(2, &conf)
        .expect("keepalived --config-test");
    // It refuses what it would only warn about: an interface that is not
    // in this namespace.
    let elsewhere = keepalived_conf(
        "dir2",
        None,
        &[VrrpInstance {
            interface: "eth0".into(),
            ..instance
        }],
    )
    .expect("valid text");
    assert!(lab.start_keepalived(2, &elsewhere).is_err());
    assert!(lab.start_keepalived(3, &conf).is_err(), "no director 3");

    let mut first = lab.start_keepalived(2, &conf).expect("start");
    assert_eq!(lab.keepalived_pids(2).len(), 2, "parent and VRRP process");
    let second = lab.start_keepalived(2, &conf);
    assert!(second.is_err(), "two keepalived on one director");
    // Alone with unicast to a silent peer it becomes master.
    assert!(
        wait_until(ELECTION, || lab.keepalived_state(2, "VI_1").as_deref()
            == Some("MASTER")),
        "{}",
        first.log()
    );
    // A clean stop resigns and removes the address.
    let stopped = first.stop().expect("stop");
    assert!(lab.keepalived_pids(2).is_empty(), "{stopped:?}");
    assert!(
        wait_until(FAILOVER, || !lab.has_address(
            &lab.ns_director_n(2),
            &cif,
            IpAddr::V4(DEFAULT_VIP4)
        )),
        "{}",
        first.log()
    );
    // And it starts again on the same director, states cleared.
    let _again = lab.start_keepalived(2, &conf).expect("restart");
    assert_ne!(lab.keepalived_state(2, "VI_1").as_deref(), Some("MASTER"));
}
