//! xvs ↔ a real keepalived (Debian's 2.2.7, VRRP only) on one bridge:
//! director 1 runs `xvs run`, director 2 keepalived, both configured for
//! one virtual router (VI_OUT, VRID 51, the VIP 198.18.0.100). They elect
//! the master by priority whichever side is higher, fail over both ways,
//! honour nopreempt and preempt_delay, agree on VRRPv2 with a password and
//! on VRRPv3 with keepalived's checksum convention (the IPv4 pseudo-header;
//! 2.2.7 knows no other, so an xvs set to RFC 9568's message-only checksum
//! rejects its adverts, and counts them), and never both claim master for
//! longer than about one advert interval.
//!
//! Bounds are liveness bounds, generous for a shared machine; the figures
//! are printed.

use std::time::{Duration, Instant};

use xvs_e2e::health_support::report;
use xvs_e2e::support::{self, Director};
use xvs_e2e::vrrp_support::*;
use xvs_lab::{keepalived_conf, InitialState, Lab, LabProcess, VrrpInstance, VrrpVersion};

/// keepalived's instance, as director 2 runs it.
fn keepalived_instance(lab: &Lab, priority: u8, version: u8, interval: Duration) -> VrrpInstance {
    let (c, _) = lab.director_ifaces();
    let mut i = VrrpInstance::new("VI_OUT", &c, 51, priority);
    i.version = if version == 2 {
        VrrpVersion::V2
    } else {
        VrrpVersion::V3
    };
    i.advert_int = interval;
    i.virtual_addresses = vec![(VIP4_ADDR.parse().unwrap(), 24)];
    i
}

const VIP4_ADDR: &str = support::VIP4;

fn start_keepalived(lab: &Lab, inst: &VrrpInstance) -> LabProcess {
    let notify = lab.keepalived_notify(2);
    let conf = keepalived_conf("xvs-peer", Some(&notify), std::slice::from_ref(inst))
        .expect("keepalived.conf");
    lab.start_keepalived(2, &conf).expect("keepalived starts")
}

/// xvs on director 1 with only VI_OUT (no sync group: keepalived has no
/// VI_IN here).
fn xvs_node(priority: u8, version: u8, interval: f64, keys: &str) -> Node {
    let mut n = Node::new(1, priority);
    n.version = version;
    n.interval = interval;
    n.sync_group = false;
    n.instance_keys = keys.to_string();
    n
}

fn ka_state(lab: &Lab) -> Option<String> {
    lab.keepalived_state(2, "VI_OUT")
}

/// Wait until xvs's VI_OUT is `xvs_want` and keepalived's `ka_want`
/// (MASTER/BACKUP); how long it took.
fn wait_pair(lab: &Lab, d: &Director, xvs_want: &str, ka_want: &str, secs: u64) -> Duration {
    let t0 = Instant::now();
    loop {
        let (x, k) = (state(d, "VI_OUT"), ka_state(lab));
        if x.as_deref() == Some(xvs_want) && k.as_deref() == Some(ka_want) {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "want xvs {xvs_want} / keepalived {ka_want}, have {x:?} / {k:?}\nxvs:\n{}",
            d.xvs.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Poll both sides for `span`; the longest stretch both said master.
fn both_master_for(lab: &Lab, d: &Director, span: Duration) -> Duration {
    let t0 = Instant::now();
    let mut since: Option<Instant> = None;
    let mut longest = Duration::ZERO;
    while t0.elapsed() < span {
        let both = state(d, "VI_OUT").as_deref() == Some("master")
            && ka_state(lab).as_deref() == Some("MASTER");
        match (both, since) {
            (true, None) => since = Some(Instant::now()),
            (false, Some(s)) => {
                longest = longest.max(s.elapsed());
                since = None;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(s) = since {
        longest = longest.max(s.elapsed());
    }
    longest
}

fn lab_for(test: &str) -> Option<(std::sync::MutexGuard<'static, ()>, Lab)> {
    if !xvs_lab::require_keepalived(test) {
        return None;
    }
    pair_lab(test)
}

#[test]
fn v2_with_a_password_elects_by_priority_both_ways_and_fails_over_both_ways() {
    let test = "v2_with_a_password_elects_by_priority_both_ways_and_fails_over_both_ways";
    let Some((_serial, lab)) = lab_for(test) else {
        return;
    };
    let auth = "    auth_pass: s3cret\n";
    let mut ka = keepalived_instance(&lab, 100, 2, Duration::from_secs(1));
    ka.auth_pass = Some("s3cret".into());

    // xvs higher: xvs master, keepalived backup.
    let mut k = start_keepalived(&lab, &ka);
    let mut d = start_node(&lab, &xvs_node(150, 2, 1.0, auth));
    wait_pair(&lab, &d, "master", "BACKUP", 15);
    // (A backup keepalived sends nothing: what xvs makes of keepalived's
    // adverts is checked below, with keepalived master.)
    assert!(counter(&d, "VI_OUT", "adverts_sent") > 0);
    // keepalived took xvs's adverts (it stayed backup) and holds no VIP.
    let (c, _) = lab.director_ifaces();
    assert!(!lab.has_address(&lab.ns_director_n(2), &c, VIP4_ADDR.parse().unwrap()));

    // xvs dies: keepalived takes over (3 × 1 s + skew).
    d.xvs.signal("KILL").unwrap();
    let t0 = Instant::now();
    let took = loop {
        if ka_state(&lab).as_deref() == Some("MASTER") {
            break t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "keepalived did not take over"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    report(&format!(
        "keepalived took over from a killed xvs (v2, 1 s) in {} ms",
        took.as_millis()
    ));
    let _ = d.xvs.wait_timeout(Duration::from_secs(2));

    // xvs comes back higher and preempts keepalived.
    let d = start_node(&lab, &xvs_node(150, 2, 1.0, auth));
    wait_pair(&lab, &d, "master", "BACKUP", 15);
    // It heard keepalived master (and ignored its lower priority) before
    // preempting: received, none rejected.
    assert!(counter(&d, "VI_OUT", "adverts_received") > 0);
    assert!(
        rejected(&d, "VI_OUT", "auth") == 0 && rejected(&d, "VI_OUT", "checksum") == 0,
        "keepalived's v2 adverts with the password are accepted"
    );
    drop(d);
    let _ = k.stop();

    // keepalived higher: keepalived master, xvs backup; then keepalived
    // crashes and xvs takes over.
    let ka_high = VrrpInstance {
        priority: 150,
        ..ka.clone()
    };
    let _k = start_keepalived(&lab, &ka_high);
    let d = start_node(&lab, &xvs_node(100, 2, 1.0, auth));
    wait_pair(&lab, &d, "backup", "MASTER", 15);
    // `xvs status` is refreshed every 200 ms: wait for keepalived's first
    // advert to show.
    let t0 = Instant::now();
    while instance(&d, "VI_OUT").unwrap()["master"].as_str() != Some("198.18.0.3") {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "xvs heard keepalived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let row = instance(&d, "VI_OUT").unwrap();
    assert_eq!(
        rejected(&d, "VI_OUT", "auth"),
        0,
        "keepalived's password matches"
    );
    assert!(counter(&d, "VI_OUT", "adverts_received") > 0);
    assert_eq!(row["master"].as_str(), Some("198.18.0.3"), "{row}");
    assert_eq!(row["master_priority"].as_u64(), Some(150), "{row}");
    lab.crash_keepalived(2).unwrap();
    let took = wait_state(&d, &["VI_OUT"], "master", 10);
    report(&format!(
        "xvs took over from a crashed keepalived (v2, 1 s) in {} ms (seen by polling)",
        took.as_millis()
    ));
    assert_eq!(
        instance(&d, "VI_OUT").unwrap()["last_transition"]["reason"]["kind"].as_str(),
        Some("master_down")
    );
}

#[test]
fn v3_with_keepalived_checksums_elects_fails_over_and_splits_no_brain() {
    let test = "v3_with_keepalived_checksums_elects_fails_over_and_splits_no_brain";
    let Some((_serial, lab)) = lab_for(test) else {
        return;
    };
    let ms100 = Duration::from_millis(100);
    // keepalived higher first.
    let _k = start_keepalived(&lab, &keepalived_instance(&lab, 150, 3, ms100));
    let mut d = start_node(&lab, &xvs_node(100, 3, 0.1, ""));
    wait_pair(&lab, &d, "backup", "MASTER", 15);
    assert_eq!(
        rejected(&d, "VI_OUT", "checksum"),
        0,
        "pseudo-header checksums agree"
    );
    assert!(counter(&d, "VI_OUT", "adverts_received") > 0);
    // keepalived crashes: xvs takes over.
    lab.crash_keepalived(2).unwrap();
    wait_state(&d, &["VI_OUT"], "master", 10);
    d.xvs.signal("TERM").unwrap();
    let _ = d.xvs.wait_timeout(Duration::from_secs(5));

    // xvs higher; keepalived starts while xvs is master and stays backup.
    let d = start_node(&lab, &xvs_node(150, 3, 0.1, ""));
    wait_state(&d, &["VI_OUT"], "master", 10);
    let _k = start_keepalived(&lab, &keepalived_instance(&lab, 100, 3, ms100));
    wait_pair(&lab, &d, "master", "BACKUP", 15);
    let dual = both_master_for(&lab, &d, Duration::from_secs(2));
    assert!(
        dual <= Duration::from_millis(300),
        "both master for {dual:?}"
    );
    drop(d);
    // keepalived (backup) takes over when xvs stops: priority 0.
    let t0 = Instant::now();
    loop {
        if ka_state(&lab).as_deref() == Some("MASTER") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "keepalived did not take over"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn nopreempt_and_preempt_delay_are_honoured_against_keepalived() {
    let test = "nopreempt_and_preempt_delay_are_honoured_against_keepalived";
    let Some((_serial, lab)) = lab_for(test) else {
        return;
    };
    let ms100 = Duration::from_millis(100);
    // keepalived (100) is master alone.
    let _k = start_keepalived(&lab, &keepalived_instance(&lab, 100, 3, ms100));
    let t0 = Instant::now();
    while ka_state(&lab).as_deref() != Some("MASTER") {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "keepalived alone becomes master"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A higher xvs with nopreempt joins and stays backup.
    let d = start_node(&lab, &xvs_node(150, 3, 0.1, "    preempt: false\n"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state(&d, "VI_OUT").as_deref(), Some("backup"));
    assert_eq!(ka_state(&lab).as_deref(), Some("MASTER"));
    drop(d);
    std::thread::sleep(Duration::from_millis(300));

    // With preempt_delay 2 s it waits about that long, then takes over.
    let joined = Instant::now();
    let d = start_node(&lab, &xvs_node(150, 3, 0.1, "    preempt_delay: 2\n"));
    let took = wait_state(&d, &["VI_OUT"], "master", 15);
    let after = joined.elapsed();
    report(&format!(
        "xvs with preempt_delay 2 s preempted keepalived {} ms after its start",
        after.as_millis()
    ));
    assert!(
        after >= Duration::from_millis(1900),
        "preempted after {after:?} ({took:?} of polling)"
    );
    assert_eq!(
        instance(&d, "VI_OUT").unwrap()["last_transition"]["reason"]["kind"].as_str(),
        Some("preempt")
    );
    wait_pair(&lab, &d, "master", "BACKUP", 5);
    drop(d);
    let _ = lab.crash_keepalived(2);

    // keepalived with nopreempt, higher, joins an xvs master and stays backup.
    let d = start_node(&lab, &xvs_node(100, 3, 0.1, ""));
    wait_state(&d, &["VI_OUT"], "master", 10);
    let mut ka = keepalived_instance(&lab, 150, 3, ms100);
    ka.nopreempt = true;
    ka.state = InitialState::Backup;
    let _k = start_keepalived(&lab, &ka);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ka_state(&lab).as_deref(), Some("BACKUP"));
    assert_eq!(state(&d, "VI_OUT").as_deref(), Some("master"));
}

#[test]
fn message_only_checksums_reject_keepalived_227_adverts_and_count_them() {
    let test = "message_only_checksums_reject_keepalived_227_adverts_and_count_them";
    let Some((_serial, lab)) = lab_for(test) else {
        return;
    };
    // RFC 9568's convention on xvs, keepalived 2.2.7's on the peer: the
    // adverts do not verify, so each side thinks it is alone. That the
    // rejection is counted by reason is what an operator needs to see.
    let _k = start_keepalived(
        &lab,
        &keepalived_instance(&lab, 150, 3, Duration::from_millis(100)),
    );
    let d = start_node(
        &lab,
        &xvs_node(100, 3, 0.1, "    v3_checksum: message_only\n"),
    );
    wait_state(&d, &["VI_OUT"], "master", 10);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        rejected(&d, "VI_OUT", "checksum") >= 3,
        "{:?}",
        instance(&d, "VI_OUT")
    );
    // The same setting on both sides of an xvs pair interoperates.
    drop(d);
    let _ = lab.crash_keepalived(2);
    let mut a = Node::new(1, 150);
    let mut b = Node::new(2, 100);
    for n in [&mut a, &mut b] {
        n.instance_keys = "    v3_checksum: message_only\n".into();
    }
    let d1 = start_node(&lab, &a);
    let d2 = start_node(&lab, &b);
    wait_state(&d1, &["VI_OUT", "VI_IN"], "master", 10);
    wait_state(&d2, &["VI_OUT", "VI_IN"], "backup", 10);
    assert_eq!(rejected(&d2, "VI_OUT", "checksum"), 0);
}

/// Capture `count` VRRP frames on the client's interface (an AF_PACKET
/// socket in the client namespace); hex lines, one frame each.
fn capture_adverts(lab: &Lab, count: usize) -> Vec<Vec<u8>> {
    let code = format!(
        concat!(
            "import socket, sys\n",
            "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))\n",
            "s.bind(('eth0', 0))\n",
            "s.settimeout(10)\n",
            "n = 0\n",
            "while n < {count}:\n",
            "    f = s.recv(2048)\n",
            "    if len(f) > 23 and f[23] == 112:\n",
            "        print(f.hex()); n += 1\n",
        ),
        count = count
    );
    let out = lab
        .exec(&lab.ns_client(), &["python3", "-c", &code])
        .expect("capture");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(l.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .collect()
}

#[test]
fn keepalived_adverts_captured_on_the_wire_parse_and_validate() {
    use xvs_wire::vrrp::{parse, parse_frame, AUTH_PASS, MULTICAST_V4};
    let test = "keepalived_adverts_captured_on_the_wire_parse_and_validate";
    let Some((_serial, lab)) = lab_for(test) else {
        return;
    };
    // VRRPv2 with a password, then VRRPv3 at 0.1 s: keepalived alone,
    // master, advertising.
    let mut v2 = keepalived_instance(&lab, 120, 2, Duration::from_secs(1));
    v2.auth_pass = Some("s3cret".into());
    let v3 = keepalived_instance(&lab, 120, 3, Duration::from_millis(100));
    for (inst, version) in [(v2, 2u8), (v3, 3u8)] {
        let mut k = start_keepalived(&lab, &inst);
        let t0 = Instant::now();
        while ka_state(&lab).as_deref() != Some("MASTER") {
            assert!(t0.elapsed() < Duration::from_secs(15), "keepalived master");
            std::thread::sleep(Duration::from_millis(50));
        }
        let frames = capture_adverts(&lab, 3);
        assert_eq!(frames.len(), 3, "three adverts captured");
        for f in &frames {
            let rx = parse_frame(f).expect("keepalived's frame parses");
            assert_eq!(rx.ttl, 255);
            assert_eq!(rx.dst, std::net::IpAddr::V4(MULTICAST_V4));
            assert_eq!(rx.src.to_string(), "198.18.0.3");
            let (advert, sums) =
                parse(&f[rx.payload.clone()], rx.src, rx.dst).expect("message parses");
            assert_eq!(
                (advert.version, advert.vrid, advert.priority),
                (version, 51, 120)
            );
            assert_eq!(
                advert.addresses,
                vec![VIP4_ADDR.parse::<std::net::IpAddr>().unwrap()]
            );
            if version == 2 {
                assert_eq!(advert.interval(), Duration::from_secs(1));
                assert_eq!(advert.auth_type, AUTH_PASS);
                assert_eq!(&advert.auth_data[..6], b"s3cret");
                assert!(sums.message_only, "v2 sums the message");
            } else {
                assert_eq!(advert.interval(), Duration::from_millis(100));
                assert!(
                    sums.pseudo_header && !sums.message_only,
                    "keepalived 2.2.7's v3 checksum includes the pseudo-header"
                );
            }
        }
        let _ = k.stop();
    }
}
