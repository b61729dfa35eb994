//! VRRP end to end: two xvs directors on shared segments elect a master,
//! the backup neither answers for nor forwards the VIP, and the client's
//! requests keep flowing when the master is killed (SIGKILL: the backup
//! takes over after Master_Down_Interval) or stopped (SIGTERM: priority 0,
//! the backup takes over after its skew time). Adverts the director must
//! reject change nothing and are counted by reason.
//!
//! Figures (failover gap, failed requests) are printed, not asserted
//! against a time: this machine is shared and noisy. What is asserted is
//! the behaviour, with generous liveness bounds.

use std::time::Duration;

use xvs_e2e::health_support::{report, unix_now, ClientLoop, Sample};
use xvs_e2e::support::{self, metric_in, url, VIP4};
use xvs_e2e::vrrp_support::*;

const BOTH: [&str; 2] = ["VI_OUT", "VI_IN"];

/// What the client saw from `killed` on: when the first request started
/// after it was answered (seconds after `killed`: the forwarding gap as a
/// new connection sees it), the slowest request started in the second
/// after it (one whose SYN went to a director that no longer forwards
/// waits for TCP's one-second retransmit), and how many of the requests
/// started after it failed, of how many.
struct Seen {
    first_answer: Option<f64>,
    slowest: f64,
    failed: usize,
    total: usize,
}

fn after(samples: &[Sample], killed: f64) -> Seen {
    let later: Vec<&Sample> = samples.iter().filter(|s| s.t >= killed).collect();
    Seen {
        first_answer: later
            .iter()
            .filter(|s| s.error.is_none())
            .map(|s| s.t + s.d - killed)
            .reduce(f64::min),
        slowest: later
            .iter()
            .filter(|s| s.t < killed + 1.0)
            .map(|s| s.d)
            .fold(0.0, f64::max),
        failed: later.iter().filter(|s| s.error.is_some()).count(),
        total: later.len(),
    }
}

impl Seen {
    fn line(&self) -> String {
        format!(
            "first new connection answered {:.0} ms after it; slowest request started in the second after it took {:.0} ms; {} of {} requests started after it failed",
            self.first_answer.unwrap_or(f64::NAN) * 1000.0,
            self.slowest * 1000.0,
            self.failed,
            self.total
        )
    }
}

/// A new connection every 20 ms for `lead` + `tail`; after `lead` (and
/// `before`), send `signal` to `victim` and wait until `survivor` is
/// master. Prints what happened under `what`; returns every request and
/// when the signal went.
fn disrupt(
    lab: &xvs_lab::Lab,
    victim: &support::Director,
    signal: &str,
    survivor: &support::Director,
    (lead, tail): (Duration, Duration),
    before: impl FnOnce(),
    what: &str,
) -> (Vec<Sample>, f64, Seen) {
    let client = ClientLoop::every(lab, &url(VIP4, 80), lead + tail, Duration::from_millis(20));
    std::thread::sleep(lead);
    before();
    let signalled = unix_now();
    victim.xvs.signal(signal).unwrap();
    let took = wait_state(survivor, &BOTH, "master", 10);
    let samples = client.finish();
    let seen = after(&samples, signalled);
    report(&format!(
        "{what}: backup master {:.0} ms after the signal (seen by polling); {}",
        took.as_secs_f64() * 1000.0,
        seen.line()
    ));
    (samples, signalled, seen)
}

/// Why each of VI_OUT and VI_IN of `d` last changed state.
fn last_reasons(d: &support::Director) -> Vec<String> {
    BOTH.iter()
        .map(|n| {
            instance(d, n).unwrap()["last_transition"]["reason"]["kind"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[test]
fn xvs_pair_elects_by_priority_and_fails_over_on_kill_and_on_stop() {
    let Some((_serial, lab)) =
        pair_lab("xvs_pair_elects_by_priority_and_fails_over_on_kill_and_on_stop")
    else {
        return;
    };
    let high = Node::new(1, 150);
    let low = Node::new(2, 100);
    let mut d1 = start_node(&lab, &high);
    let d2 = start_node(&lab, &low);
    // Both start as backup; the higher priority's down timer runs out first.
    wait_state(&d1, &BOTH, "master", 10);
    wait_state(&d2, &BOTH, "backup", 10);
    // The backup's view of the master.
    let out = instance(&d2, "VI_OUT").unwrap();
    assert_eq!(out["master"].as_str(), Some("198.18.0.2"), "{out}");
    assert_eq!(out["master_priority"].as_u64(), Some(150), "{out}");

    // Requests every 20 ms through the VIP; all answered by the master.
    let (samples, killed, seen) = disrupt(
        &lab,
        &d1,
        "KILL",
        &d2,
        (Duration::from_secs(2), Duration::from_secs(6)),
        || {},
        "vrrp failover (SIGKILL, advert 0.1 s, down interval 0.361 s)",
    );
    let before_kill: Vec<&Sample> = samples.iter().filter(|s| s.t < killed - 0.5).collect();
    assert!(
        !before_kill.is_empty() && before_kill.iter().all(|s| s.error.is_none()),
        "before the kill every request is answered: {:?}",
        before_kill
            .iter()
            .filter(|s| s.error.is_some())
            .collect::<Vec<_>>()
    );
    assert!(
        seen.first_answer.is_some_and(|t| t < 5.0),
        "the new master forwards: {:?}",
        &samples[samples.len().saturating_sub(20)..]
    );
    // Requests started well after the takeover all succeed.
    let late: Vec<&Sample> = samples.iter().filter(|s| s.t > killed + 2.0).collect();
    assert!(
        !late.is_empty() && late.iter().all(|s| s.error.is_none()),
        "after the takeover every request is answered: {:?}",
        late.iter()
            .filter(|s| s.error.is_some())
            .collect::<Vec<_>>()
    );

    // The old master comes back with its higher priority and preempts.
    let _ = d1.xvs.wait_timeout(Duration::from_secs(2));
    let mut d1 = start_node(&lab, &high);
    wait_state(&d1, &BOTH, "master", 10);
    wait_state(&d2, &BOTH, "backup", 10);
    // One instance yielded to the higher priority, the sync group took
    // the other along.
    let kinds = last_reasons(&d2);
    assert!(
        kinds.contains(&"higher_priority".to_string())
            && kinds
                .iter()
                .all(|k| k == "higher_priority" || k == "sync_group"),
        "{kinds:?}"
    );

    // A clean stop hands over through priority 0.
    disrupt(
        &lab,
        &d1,
        "TERM",
        &d2,
        (Duration::from_secs(1), Duration::from_secs(4)),
        || {},
        "vrrp handover (SIGTERM, priority 0, advert 0.1 s)",
    );
    let kinds = last_reasons(&d2);
    assert!(
        kinds.contains(&"master_resigned".to_string()),
        "the backup took over on the priority-0 advert: {kinds:?}"
    );
    assert!(counter(&d2, "VI_OUT", "priority_zero_received") >= 1);
    let _ = d1.xvs.wait_timeout(Duration::from_secs(5));
    assert!(
        d1.xvs.log().contains("shutting down"),
        "the stopping master logs its resignation:\n{}",
        d1.xvs.log()
    );
}

#[test]
fn backup_neither_answers_arp_nor_forwards_for_the_vip() {
    let Some((_serial, lab)) = pair_lab("backup_neither_answers_arp_nor_forwards_for_the_vip")
    else {
        return;
    };
    // accept: false (RFC 5798 Accept_Mode off): the master forwards the
    // VIP's services and answers ARP, but not pings to the VIP itself.
    let mut high = Node::new(1, 150);
    high.instance_keys = "    accept: false\n".into();
    let (_d1, d2) = start_pair(&lab, &high, &Node::new(2, 100));
    // (exec fails on a non-zero exit: ping's "no reply")
    let ping = lab.exec(&lab.ns_client(), &["ping", "-c", "1", "-W", "1", VIP4]);
    assert!(ping.is_err(), "no echo reply with accept: false: {ping:?}");
    // The client resolves the VIP to the master's MAC only.
    let (c, _) = lab.director_ifaces();
    let mac1 = lab.mac(&lab.ns_director_n(1), &c).unwrap();
    let mac2 = lab.mac(&lab.ns_director_n(2), &c).unwrap();
    let hex = |m: [u8; 6]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    // The client's kernel asks for the VIP (broadcast: both directors
    // hear it) and keeps the one answer it gets.
    let ns = lab.ns_client();
    lab.exec(&ns, &["ip", "neigh", "flush", "dev", "eth0"]).ok();
    let report = lab
        .run_client(&lab.client_options(xvs_lab::Target::Http(url(VIP4, 80)), 3))
        .unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    let neigh = lab
        .exec(&ns, &["ip", "neigh", "show", VIP4, "dev", "eth0"])
        .map(|o| String::from_utf8_lossy(&o.stdout).to_lowercase())
        .unwrap_or_default();
    assert!(
        neigh.contains(&hex(mac1)),
        "the master answers ARP: {neigh}"
    );
    // A frame to the VIP sent to the backup's MAC is dropped and counted.
    let before = metric_in(
        &support::ask(&d2.sock, "metrics").unwrap(),
        "xvs_dropped_packets_total",
        &["reason=\"vrrp_standby\""],
    );
    let mac2s = hex(mac2);
    lab.exec(
        &ns,
        &[
            "ip", "neigh", "replace", VIP4, "lladdr", &mac2s, "dev", "eth0",
        ],
    )
    .unwrap();
    // One request, expected to fail: its SYN reaches the backup only.
    let mut one = lab.client_options(xvs_lab::Target::Http(url(VIP4, 80)), 1);
    one.timeout = Duration::from_millis(500);
    let _ = lab.run_client(&one);
    lab.exec(&ns, &["ip", "neigh", "del", VIP4, "dev", "eth0"])
        .ok();
    let after = metric_in(
        &support::ask(&d2.sock, "metrics").unwrap(),
        "xvs_dropped_packets_total",
        &["reason=\"vrrp_standby\""],
    );
    assert!(
        after > before,
        "the backup counted the frames to the VIP it dropped"
    );
    // The master forwards.
    assert_serves(&lab, VIP4, "the master forwards");
}

#[test]
fn rejected_adverts_change_nothing_and_are_counted_by_reason() {
    let Some((_serial, lab)) =
        pair_lab("rejected_adverts_change_nothing_and_are_counted_by_reason")
    else {
        return;
    };
    // One director alone, master of VI_OUT (v3) and of a v2 instance with
    // a password.
    let mut n = Node::new(1, 150);
    n.sync_group = false;
    n.extra = concat!(
        "  - name: VI_V2\n    interface: IFACE\n    vrid: 60\n    priority: 150\n",
        "    version: 2\n    advert_interval: 1\n    auth_pass: secret\n",
        "    virtual_addresses: [198.18.0.101/24]\n",
    )
    .replace("IFACE", &lab.director_ifaces().0);
    let d = start_node(&lab, &n);
    wait_state(&d, &["VI_OUT", "VI_IN", "VI_V2"], "master", 15);
    fn higher<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["--src", "198.18.0.10", "--priority", "254"];
        a.extend_from_slice(extra);
        a
    }
    // Each would take mastership away if it were accepted.
    send_adverts(
        &lab,
        &higher(&[
            "--ttl",
            "64",
            "--vrid",
            "51",
            "--interval",
            "0.1",
            "--count",
            "5",
            "198.18.0.100",
        ]),
    );
    send_adverts(
        &lab,
        &higher(&[
            "--vrid",
            "51",
            "--interval",
            "0.1",
            "--checksum",
            "message",
            "--count",
            "5",
            "198.18.0.100",
        ]),
    );
    send_adverts(
        &lab,
        &higher(&[
            "--version",
            "2",
            "--vrid",
            "60",
            "--auth",
            "wrong",
            "--count",
            "5",
            "198.18.0.101",
        ]),
    );
    send_adverts(
        &lab,
        &higher(&[
            "--version",
            "2",
            "--vrid",
            "60",
            "--auth",
            "secret",
            "--interval",
            "3",
            "--count",
            "5",
            "198.18.0.101",
        ]),
    );
    std::thread::sleep(Duration::from_millis(500));
    for name in ["VI_OUT", "VI_V2"] {
        assert_eq!(state(&d, name).as_deref(), Some("master"), "{name}");
        assert_eq!(counter(&d, name, "released_master"), 0, "{name}");
    }
    assert_eq!(rejected(&d, "VI_OUT", "ttl"), 5);
    assert_eq!(rejected(&d, "VI_OUT", "checksum"), 5);
    assert_eq!(rejected(&d, "VI_V2", "auth"), 5);
    assert_eq!(rejected(&d, "VI_V2", "interval"), 5);
    let metrics = support::ask(&d.sock, "metrics").unwrap();
    assert_eq!(
        metric_in(
            &metrics,
            "xvs_vrrp_adverts_rejected_total",
            &["instance=\"VI_OUT\"", "reason=\"ttl\""]
        ),
        5
    );
    // The same advert with TTL 255 and the right checksum is accepted:
    // the higher priority takes over (the rejections above were real).
    send_adverts(
        &lab,
        &higher(&[
            "--vrid",
            "51",
            "--interval",
            "0.1",
            "--count",
            "3",
            "198.18.0.100",
        ]),
    );
    wait_state(&d, &["VI_OUT"], "backup", 5);
}

#[test]
fn a_tracked_interface_going_down_gives_up_master_and_coming_up_takes_it_back() {
    let test = "a_tracked_interface_going_down_gives_up_master_and_coming_up_takes_it_back";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    // An uplink xvs does not forward on, tracked by director 1 (a veth
    // pair inside its namespace: this kernel has no dummy interfaces).
    let ns1 = lab.ns_director_n(1);
    lab.exec(
        &ns1,
        &[
            "ip", "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink0p",
        ],
    )
    .unwrap();
    for dev in ["uplink0", "uplink0p"] {
        lab.exec(&ns1, &["ip", "link", "set", dev, "up"]).unwrap();
    }
    let mut high = Node::new(1, 150);
    high.instance_keys = "    track_interfaces: [uplink0]\n".into();
    let d1 = start_node(&lab, &high);
    let d2 = start_node(&lab, &Node::new(2, 100));
    wait_state(&d1, &BOTH, "master", 10);
    wait_state(&d2, &BOTH, "backup", 10);

    lab.exec(&ns1, &["ip", "link", "set", "uplink0", "down"])
        .unwrap();
    let took = wait_state(&d2, &BOTH, "master", 10);
    wait_state(&d1, &BOTH, "fault", 5);
    report(&format!(
        "tracked interface down: the backup was master {} ms later (seen by polling; link state is read every 100 ms)",
        took.as_millis()
    ));
    let faults = instance(&d1, "VI_OUT").unwrap()["faults"].clone();
    assert!(faults.to_string().contains("uplink0"), "{faults}");
    // A master going to FAULT resigns with priority 0.
    assert!(counter(&d1, "VI_OUT", "priority_zero_sent") >= 1);
    assert_serves(&lab, VIP4, "the new master forwards");

    lab.exec(&ns1, &["ip", "link", "set", "uplink0", "up"])
        .unwrap();
    wait_state(&d1, &BOTH, "master", 10);
    wait_state(&d2, &BOTH, "backup", 10);
}

#[test]
fn centisecond_adverts_fail_over_in_tens_of_milliseconds_without_false_transitions() {
    let test = "centisecond_adverts_fail_over_in_tens_of_milliseconds_without_false_transitions";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    let mut high = Node::new(1, 150);
    let mut low = Node::new(2, 100);
    high.interval = 0.01;
    low.interval = 0.01;
    let (mut d1, d2) = start_pair(&lab, &high, &low);
    // Steady for a while under client load: nobody changes state.
    let count = |d1: &support::Director, d2: &support::Director| {
        (
            counter(d1, "VI_OUT", "became_master"),
            counter(d2, "VI_OUT", "became_master"),
        )
    };
    let before = count(&d1, &d2);
    let (_, _, seen) = disrupt(
        &lab,
        &d1,
        "KILL",
        &d2,
        (Duration::from_secs(4), Duration::from_secs(2)),
        || {
            let steady = count(&d1, &d2);
            report(&format!(
                "advert 0.01 s: transitions during 4 s of client load: director 1 {}, director 2 {}",
                steady.0 - before.0,
                steady.1 - before.1
            ));
        },
        "vrrp failover (SIGKILL, advert 0.01 s, down interval 0.036 s)",
    );
    assert!(seen.first_answer.is_some_and(|t| t < 5.0));

    // Back, preempting; then a clean stop hands over through priority 0
    // after the backup's skew time ((256 - 100) / 256 × 10 ms ≈ 6 ms).
    let _ = d1.xvs.wait_timeout(Duration::from_secs(2));
    let d1 = start_node(&lab, &high);
    wait_state(&d1, &BOTH, "master", 10);
    wait_state(&d2, &BOTH, "backup", 10);
    disrupt(
        &lab,
        &d1,
        "TERM",
        &d2,
        (Duration::from_secs(1), Duration::from_secs(2)),
        || {},
        "vrrp handover (SIGTERM, advert 0.01 s)",
    );
    assert!(counter(&d2, "VI_OUT", "priority_zero_received") >= 1);
}

#[test]
fn ipv6_instances_answer_nd_and_fail_over_with_the_ipv4_ones() {
    let test = "ipv6_instances_answer_nd_and_fail_over_with_the_ipv4_ones";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    let mut high = Node::new(1, 150);
    let mut low = Node::new(2, 100);
    high.ipv6 = true;
    low.ipv6 = true;
    let all = ["VI_OUT", "VI_IN", "VI_OUT6", "VI_IN6"];
    let d1 = start_node(&lab, &high);
    let d2 = start_node(&lab, &low);
    wait_state(&d1, &all, "master", 10);
    wait_state(&d2, &all, "backup", 10);
    // IPv6 adverts come from the link-local address.
    let row = instance(&d2, "VI_OUT6").unwrap();
    assert!(
        row["master"]
            .as_str()
            .is_some_and(|m| m.starts_with("fe80:")),
        "{row}"
    );
    let v6 = support::VIP6;
    assert_serves(&lab, v6, "the master forwards");
    d1.xvs.signal("KILL").unwrap();
    wait_state(&d2, &all, "master", 10);
    assert_serves(&lab, v6, "the new master forwards IPv6");
}

#[test]
fn a_virtual_mac_is_answered_and_moves_with_the_master() {
    let test = "a_virtual_mac_is_answered_and_moves_with_the_master";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    let mut high = Node::new(1, 150);
    let mut low = Node::new(2, 100);
    high.instance_keys = "    use_vmac: true\n".into();
    low.instance_keys = "    use_vmac: true\n".into();
    let (d1, d2) = start_pair(&lab, &high, &low);
    let ns = lab.ns_client();
    let neigh = |lab: &xvs_lab::Lab| {
        lab.exec(&ns, &["ip", "neigh", "show", VIP4, "dev", "eth0"])
            .map(|o| String::from_utf8_lossy(&o.stdout).to_lowercase())
            .unwrap_or_default()
    };
    let opts = lab.client_options(xvs_lab::Target::Http(url(VIP4, 80)), 6);
    let ok = lab.run_client(&opts).unwrap();
    assert_eq!(ok.failed, 0, "{ok:?}");
    // accept (the default): the master answers pings to the VIP.
    let ping = lab.exec(&ns, &["ping", "-c", "1", "-W", "2", VIP4]);
    assert!(ping.is_ok(), "echo reply from the master: {ping:?}");
    // 00:00:5e:00:01:VRID, VRID 51 = 0x33 (RFC 5798 §7.3).
    let vmac = "00:00:5e:00:01:33";
    assert!(neigh(&lab).contains(vmac), "{}", neigh(&lab));
    d1.xvs.signal("KILL").unwrap();
    wait_state(&d2, &BOTH, "master", 10);
    let ok = lab.run_client(&opts).unwrap();
    assert_eq!(
        ok.failed, 0,
        "the new master answers on the same MAC: {ok:?}"
    );
    assert!(neigh(&lab).contains(vmac), "{}", neigh(&lab));
}

#[test]
fn split_brain_is_logged_counted_and_resolved_when_the_directors_hear_each_other_again() {
    let test =
        "split_brain_is_logged_counted_and_resolved_when_the_directors_hear_each_other_again";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    let (d1, d2) = start_pair(&lab, &Node::new(1, 150), &Node::new(2, 100));
    // A one-way cut: the switch drops VRRP coming from director 1, so
    // director 2 stops hearing the master and takes over, while director
    // 1 still hears director 2 advertising: two masters.
    let sw = lab.ns_switch();
    let nft = |script: &str| {
        let out = lab
            .exec_stdin(&sw, &["nft", "-f", "-"], Some(script))
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    nft(concat!(
        "table bridge cut {\n",
        "  chain forward {\n",
        "    type filter hook forward priority 0;\n",
        "    iifname { \"dirc\", \"dir\" } ip protocol 112 drop\n",
        "  }\n",
        "}\n",
    ));
    wait_state(&d2, &BOTH, "master", 10);
    // Director 1 sees it, counts and logs it, and announces its
    // addresses again, so the client comes back to it.
    let t0 = std::time::Instant::now();
    while counter(&d1, "VI_OUT", "split_brain") == 0 {
        assert!(t0.elapsed() < Duration::from_secs(5), "split brain counted");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(state(&d1, "VI_OUT").as_deref(), Some("master"));
    assert!(
        d1.xvs.log().contains("split brain"),
        "logged:\n{}",
        d1.xvs.log()
    );
    let metrics = support::ask(&d1.sock, "metrics").unwrap();
    assert!(
        metric_in(
            &metrics,
            "xvs_vrrp_split_brain_total",
            &["instance=\"VI_OUT\""]
        ) >= 1
    );
    assert_serves(&lab, VIP4, "the client follows the re-announcing master");
    // Healed: director 2 hears the higher priority and yields at once.
    let healed = std::time::Instant::now();
    nft("delete table bridge cut\n");
    wait_state(&d2, &BOTH, "backup", 10);
    report(&format!(
        "split brain resolved {} ms after the cut was healed (advert 0.1 s; seen by polling)",
        healed.elapsed().as_millis()
    ));
    assert_eq!(state(&d1, "VI_OUT").as_deref(), Some("master"));
    assert_serves(&lab, VIP4, "after the split brain");
}

#[test]
fn a_failing_track_script_faults_the_master_and_notify_scripts_report_every_change() {
    let test = "a_failing_track_script_faults_the_master_and_notify_scripts_report_every_change";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    let dir = xvs_lab::lab_dir(lab.prefix());
    let ok_file = dir.join("uplink-ok");
    let log = dir.join("notify.log");
    std::fs::write(&ok_file, "").unwrap();
    let mut high = Node::new(1, 150);
    high.instance_keys = format!(
        "    track_scripts: [chk]\n    notify: \"/bin/sh -c 'echo \\\"$*\\\" >> {}' notify\"\n",
        log.display()
    );
    high.extra = format!(
        "vrrp_scripts:\n  - {{name: chk, script: \"/usr/bin/test -e {}\", interval: 0.2, timeout: 1}}\n",
        ok_file.display()
    );
    let d1 = start_node(&lab, &high);
    let d2 = start_node(&lab, &Node::new(2, 100));
    wait_state(&d1, &BOTH, "master", 10);
    wait_state(&d2, &BOTH, "backup", 10);

    // The script starts failing: FAULT, the backup takes over.
    std::fs::remove_file(&ok_file).unwrap();
    wait_state(&d2, &BOTH, "master", 10);
    wait_state(&d1, &BOTH, "fault", 5);
    // It passes again: the higher priority preempts.
    std::fs::write(&ok_file, "").unwrap();
    wait_state(&d1, &BOTH, "master", 10);
    wait_state(&d2, &BOTH, "backup", 10);

    // notify ran for every transition of both instances, with
    // keepalived's arguments, in order per instance.
    let t0 = std::time::Instant::now();
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines
            .iter()
            .filter(|l| l.starts_with("INSTANCE VI_OUT"))
            .count()
            >= 4
            || t0.elapsed() > Duration::from_secs(5)
        {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("INSTANCE VI_OUT "))
        .collect();
    let states: Vec<&str> = out
        .iter()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        states,
        ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"],
        "notify lines: {lines:?}"
    );
    assert!(
        out.iter().all(|l| l.ends_with(" 150")),
        "priority appended: {lines:?}"
    );
}

#[test]
fn unicast_peers_elect_fail_over_and_reject_adverts_from_strangers() {
    let test = "unicast_peers_elect_fail_over_and_reject_adverts_from_strangers";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    let mut high = Node::new(1, 150);
    let mut low = Node::new(2, 100);
    high.unicast = true;
    low.unicast = true;
    let (d1, d2) = start_pair(&lab, &high, &low);
    assert!(counter(&d2, "VI_OUT", "adverts_received") > 0);
    // A higher priority from an address that is not a peer changes nothing.
    send_adverts(
        &lab,
        &[
            "--src",
            "198.18.0.10",
            "--dst",
            "198.18.0.3",
            "--vrid",
            "51",
            "--priority",
            "254",
            "--interval",
            "0.1",
            "--count",
            "4",
            "198.18.0.100",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rejected(&d2, "VI_OUT", "not_peer"), 4);
    assert_eq!(state(&d2, "VI_OUT").as_deref(), Some("backup"));
    d1.xvs.signal("KILL").unwrap();
    wait_state(&d2, &BOTH, "master", 10);
    assert_serves(&lab, VIP4, "the master forwards");
}

#[test]
fn ha_suspend_pauses_the_backups_checks_until_it_is_master() {
    let test = "ha_suspend_pauses_the_backups_checks_until_it_is_master";
    let Some((_serial, lab)) = pair_lab(test) else {
        return;
    };
    // Both check every real server every 0.5 s; the services suspend
    // their checks where the VIP is on standby.
    let health = "    ha_suspend: true\n    delay_loop: 0.5\n    connect_timeout: 1\n";
    let mut high = Node::new(1, 150);
    let mut low = Node::new(2, 100);
    for n in [&mut high, &mut low] {
        n.service_keys = health.into();
        n.checked = true;
    }
    let (d1, d2) = start_pair(&lab, &high, &low);
    let started = |d: &support::Director| {
        metric_in(
            &support::ask(&d.sock, "metrics").unwrap(),
            "xvs_health_probes_started_total",
            &[],
        )
    };
    let suspended =
        |d: &support::Director| status(d).and_then(|s| s["services"][0]["suspended"].as_bool());
    assert_eq!(suspended(&d1), Some(false));
    assert_eq!(suspended(&d2), Some(true));
    // Over 2 s the master probes (3 servers, every 0.5 s), the backup
    // does not.
    let (m0, b0) = (started(&d1), started(&d2));
    std::thread::sleep(Duration::from_secs(2));
    let (m1, b1) = (started(&d1), started(&d2));
    assert!(m1 - m0 >= 6, "the master checks: {m0} -> {m1}");
    assert_eq!(b1, b0, "the backup's checks are suspended");
    // The backup becomes master: its checks resume.
    d1.xvs.signal("KILL").unwrap();
    wait_state(&d2, &BOTH, "master", 10);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(suspended(&d2), Some(false));
    assert!(started(&d2) - b1 >= 6, "checks resumed on the new master");
}
