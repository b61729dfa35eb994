//! End to end, operating the director: several workers on several queues
//! (replies landing on another worker's queue), the director's own
//! traffic staying reachable, malformed frames dropped and counted while
//! service goes on, a rejected reload keeping the running config, clean
//! shutdown detaching everything, and a restart after a crash.

use std::time::Duration;

use xvs_e2e::support::*;
use xvs_lab::Method;

/// `global` is appended to the config's `global:` section.
fn two_workers(
    test: &str,
    method: Method,
    (method_name, extra): (&str, &str),
    pools: &str,
    global: &str,
) {
    let Some(lab) = lab(test, method, 2) else {
        return;
    };
    let yaml = header(&lab, 2).replacen("interfaces:\n", &format!("{global}interfaces:\n"), 1)
        + pools
        + "services:\n"
        + &service(
            "web",
            VIP4,
            "tcp",
            80,
            method_name,
            "rr",
            8080,
            extra,
            &[1, 1, 1],
        )
        + &service(
            "dns",
            VIP4,
            "udp",
            53,
            method_name,
            "rr",
            5353,
            extra,
            &[1, 1, 1],
        )
        + &service(
            "web6",
            VIP6,
            "tcp",
            80,
            method_name,
            "rr",
            8080,
            extra,
            &[1, 1, 1],
        );
    let r = start(lab, &yaml);
    for vip in [VIP4, VIP6] {
        let report = r.lab.http_requests(&url(vip, 80), 120, 20, None).unwrap();
        assert!(
            report.failed == 0 && report.ok == 120,
            "{method_name} HTTP {vip}: {report:?}\n{}",
            r.xvs.log()
        );
        assert_eq!(report.by_server.len(), 3, "{report:?}");
    }
    let dns = r.lab.udp_requests(udp(VIP4, 53), 60, None).unwrap();
    assert!(dns.failed == 0, "{method_name} UDP: {dns:?}");
    // Both workers took traffic from their own queues.
    for w in ["worker=\"0\"", "worker=\"1\""] {
        assert!(
            metric(&r, "xvs_rx_packets_total", &[w]) > 0,
            "{w} got nothing:\n{}",
            request(&r, "metrics")
        );
    }
    // Every worker exports the kernel's AF_XDP drop counters too.
    let text = request(&r, "metrics");
    for name in [
        "xvs_xsk_rx_dropped_total",
        "xvs_xsk_fill_ring_empty_total",
        "xvs_xsk_rx_ring_full_total",
        "xvs_bad_descriptors_total",
    ] {
        for w in ["worker=\"0\"", "worker=\"1\""] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("{name}{{")) && l.contains(w)),
                "{name} {w} missing:\n{text}"
            );
        }
    }
}

#[test]
fn nat_with_two_workers_on_two_queues() {
    two_workers("nat_with_two_workers", Method::Nat, ("nat", ""), "", "");
}

#[test]
fn fullnat_with_two_workers_on_two_queues() {
    // With every burst's lookups started early, whatever the table's size
    // (replies are looked up in the other worker's shard, too).
    two_workers(
        "fullnat_with_two_workers",
        Method::FullNat,
        ("fullnat", "    local_pool: lip\n"),
        LOCAL_POOL,
        "  prefetch_min_live: 0\n",
    );
}

/// Raw frames a client-side host could send to the director, addressed to
/// the VIP so that steering hands them to xvs, each broken differently.
const MALFORMED: &str = r#"
import socket, struct, sys
dst, src = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
cip, vip = socket.inet_aton("198.18.0.10"), socket.inet_aton("198.18.0.100")
def ipv4(total, ihl=5, proto=6, payload=b""):
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, 0, 64, proto, 0, cip, vip)
    return h + payload
tcp_ok = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 64240, 0, 0)
tcp_bad_offset = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x20, 0x02, 64240, 0, 0)
eth = dst + src + b"\x08\x00"
frames = [
    eth + ipv4(400, payload=tcp_ok),                 # total length beyond the frame
    eth + ipv4(40, payload=tcp_bad_offset),          # TCP data offset 2
    eth + ipv4(24, payload=tcp_ok[:4]),              # TCP header cut short
    eth + ipv4(40, ihl=3, payload=tcp_ok),           # IHL below 5: steering leaves it to the kernel
]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for _ in range(5):
    for f in frames:
        s.send(f + bytes(max(0, 60 - len(f))))
print("sent", 5 * len(frames))
"#;

fn hex(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn malformed_frames_are_dropped_and_counted_while_service_continues() {
    let Some(lab) = lab("malformed_frames_are_dropped", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let mut r = start(lab, &yaml);
    assert_eq!(
        r.lab
            .http_requests(&url(VIP4, 80), 6, 3, None)
            .unwrap()
            .failed,
        0
    );
    let (c_if, _) = r.lab.director_ifaces();
    let dir_mac = r.lab.mac(&r.lab.ns_director(), &c_if).unwrap();
    let cl_mac = r.lab.mac(&r.lab.ns_client(), "eth0").unwrap();
    let out = r
        .lab
        .exec(
            &r.lab.ns_client(),
            &["python3", "-c", MALFORMED, &hex(dir_mac), &hex(cl_mac)],
        )
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("sent 20"));
    // Fifteen reach xvs; the steering program cannot read a header with
    // IHL < 5 and passes those five to the kernel, which drops them.
    wait_until(
        5,
        "malformed frames not counted",
        || metric(&r, "xvs_dropped_packets_total", &["reason=\"malformed\""]) >= 15,
        || request(&r, "metrics"),
    );
    for reason in [
        "ipv4_total_length_beyond_frame",
        "tcp_bad_data_offset",
        "tcp_truncated",
    ] {
        let label = format!("reason=\"{reason}\"");
        assert!(
            metric(&r, "xvs_malformed_packets_total", &[&label]) >= 5,
            "{reason} not counted"
        );
    }
    let report = r.lab.http_requests(&url(VIP4, 80), 30, 10, None).unwrap();
    assert_spread(
        "after malformed frames",
        &report,
        &[("rs1", 10), ("rs2", 10), ("rs3", 10)],
        &r,
    );
    assert!(r.xvs.is_running());
}

/// Listens on the client's eth0 for the director's announcements of the
/// VIPs: gratuitous ARP (broadcast, sender and target address the VIP) and
/// unsolicited neighbour advertisements (to ff02::1, target the VIP).
/// Prints one line per frame seen until it has `want` of each or time runs
/// out.
const ANNOUNCEMENTS: &str = r#"
import socket, struct, sys, time
vip4 = socket.inet_aton(sys.argv[1])
vip6 = socket.inet_pton(socket.AF_INET6, sys.argv[2])
want, deadline = int(sys.argv[3]), time.time() + float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind(("eth0", 0))
s.settimeout(0.2)
print("listening", flush=True)
garp = na = 0
while time.time() < deadline and (garp < want or na < want):
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    dst, src, et = f[0:6], f[6:12], struct.unpack("!H", f[12:14])[0]
    if et == 0x0806 and len(f) >= 42 and f[28:32] == vip4 and f[38:42] == vip4:
        garp += 1
        print("garp", dst.hex(), src.hex(), f[22:28].hex(), flush=True)
    elif et == 0x86DD and len(f) >= 78 and f[20] == 58 and f[54] == 136 and f[62:78] == vip6:
        na += 1
        print("na", dst.hex(), src.hex(), f[38:54].hex(), "%02x" % f[58], flush=True)
print("done", garp, na, flush=True)
"#;

#[test]
fn vips_are_announced_when_serving_starts() {
    let Some(lab) = lab("vips_are_announced", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1])
        + &service("web6", VIP6, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let (c_if, _) = lab.director_ifaces();
    let dir_mac = hex(lab.mac(&lab.ns_director(), &c_if).unwrap());
    let mut capture = lab
        .spawn(
            &lab.ns_client(),
            &["python3", "-c", ANNOUNCEMENTS, VIP4, VIP6, "2", "15"],
        )
        .unwrap();
    wait_until(
        5,
        "the capture did not start",
        || capture.log().contains("listening"),
        || capture.log(),
    );
    let r = start(lab, &yaml);
    capture.wait_timeout(Duration::from_secs(20)).unwrap();
    let seen = capture.log();
    let done: Vec<usize> = seen
        .lines()
        .find_map(|l| l.strip_prefix("done "))
        .map(|l| l.split(' ').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    assert!(
        done.len() == 2 && done.iter().all(|&n| n >= 2),
        "announcements missing:\n{seen}\n{}",
        r.xvs.log()
    );
    // Gratuitous ARP: broadcast from the director's client-side interface,
    // carrying its MAC as the sender's hardware address.
    let garp = format!("garp ffffffffffff {dir_mac} {dir_mac}");
    // Unsolicited NA: to all nodes (33:33:00:00:00:01, ff02::1), with the
    // Override flag and not Solicited (RFC 4861 §7.2.6).
    let na = format!("na 333300000001 {dir_mac} ff020000000000000000000000000001 20");
    for (what, line) in [("gratuitous ARP", &garp), ("unsolicited NA", &na)] {
        assert!(
            seen.lines().filter(|l| l == line).count() >= 2,
            "{what}: want two of {line:?} in\n{seen}"
        );
    }
}

/// Sends one gratuitous ARP request (sender = target = the address, from
/// the given MAC, to broadcast) out of eth0.
const GARP: &str = r#"
import socket, struct, sys
mac, ip = bytes.fromhex(sys.argv[1]), socket.inet_aton(sys.argv[2])
arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + bytes(6) + ip
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
f = b"\xff" * 6 + mac + b"\x08\x06" + arp
s.send(f + bytes(60 - len(f)))
print("sent")
"#;

#[test]
fn a_real_server_that_changes_mac_is_followed_when_it_announces_it() {
    let Some(lab) = lab("real_server_changes_mac", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let r = start(lab, &yaml);
    let even = [("rs1", 10), ("rs2", 10), ("rs3", 10)];
    let before = r.lab.http_requests(&url(VIP4, 80), 30, 10, None).unwrap();
    assert_spread("before the MAC change", &before, &even, &r);

    // rs1's NIC is replaced (a new MAC on the same address) and it says so
    // with a gratuitous ARP, as a host or a VRRP pair does. xvs hears it on
    // its control socket and must forward to the new MAC at once, not only
    // after its entry ages out (30 s).
    let rs1 = r.lab.ns_rs(1);
    let new_mac = "02:00:00:00:aa:01";
    r.lab
        .exec(
            &rs1,
            &["ip", "link", "set", "dev", "eth0", "address", new_mac],
        )
        .unwrap();
    let rs1_addr = r.lab.rs_addr4(1).to_string();
    let out = r
        .lab
        .exec(
            &rs1,
            &["python3", "-c", GARP, &new_mac.replace(':', ""), &rs1_addr],
        )
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("sent"));
    std::thread::sleep(Duration::from_millis(500));
    let after = r.lab.http_requests(&url(VIP4, 80), 30, 10, None).unwrap();
    assert_spread("right after the MAC change", &after, &even, &r);
}

#[test]
fn directors_own_traffic_still_reaches_it() {
    let Some(lab) = lab("directors_own_traffic", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let r = start(lab, &yaml);
    let dir = r.lab.ns_director();
    let _server = r
        .lab
        .spawn(
            &dir,
            &[
                "python3",
                "-m",
                "http.server",
                "9000",
                "--bind",
                "198.18.0.2",
            ],
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let client = r.lab.ns_client();
    let ping = r
        .lab
        .exec(&client, &["ping", "-c", "2", "-W", "2", "198.18.0.2"]);
    assert!(
        ping.is_ok(),
        "ping to the director's own address failed while xvs runs: {ping:?}"
    );
    let get = r.lab.exec(
        &client,
        &["python3", "-c", "import urllib.request;print(urllib.request.urlopen('http://198.18.0.2:9000/', timeout=5).status)"],
    );
    let get = get.expect("TCP to the director's own address");
    assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "200");
    // And pinging the VIP is answered by xvs itself.
    assert!(
        r.lab
            .exec(&client, &["ping", "-c", "1", "-W", "2", VIP4])
            .is_ok(),
        "ping to the VIP"
    );
    // The director's own connections to a NAT real server's service port
    // (what an HTTP health check does, over a kernel socket): the replies
    // come from the real server's address and port like NAT replies do, but
    // are addressed to the director, so they are the kernel's.
    for (rs, addr) in [
        ("rs1", r.lab.rs_addr4(1).to_string()),
        ("rs2", format!("[{}]", r.lab.rs_addr6(2))),
    ] {
        let url = format!("http://{addr}:80/");
        let get = r
            .lab
            .exec(
                &dir,
                &["python3", "-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())", &url],
            )
            .unwrap_or_else(|e| panic!("the director's own GET {url} failed: {e}"));
        assert!(
            String::from_utf8_lossy(&get.stdout).contains(rs),
            "GET {url} from the director: {get:?}"
        );
    }
}

#[test]
fn rejected_reload_keeps_the_running_config() {
    let Some(lab) = lab("rejected_reload_keeps_config", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let r = start(lab, &yaml);
    let before = request(&r, "list");
    std::fs::write(&r.config, yaml.replace("scheduler: rr", "scheduler: nope")).unwrap();
    request(&r, "reload");
    wait_until(
        5,
        "no reload verdict in the log",
        || r.xvs.log().contains("reload failed"),
        || r.xvs.log(),
    );
    let log = r.xvs.log();
    assert!(
        log.contains("xvs.yaml:") && log.contains("scheduler"),
        "the error names file:line:col and the key:\n{log}"
    );
    assert_eq!(request(&r, "list"), before);
    let report = r.lab.http_requests(&url(VIP4, 80), 9, 3, None).unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
}

#[test]
fn shutdown_detaches_and_a_crash_does_not_stop_a_restart() {
    let Some(lab) = lab("shutdown_and_restart", Method::Nat, 1) else {
        return;
    };
    let yaml = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let mut r = start(lab, &yaml);
    let (c_if, s_if) = r.lab.director_ifaces();
    let dir = r.lab.ns_director();
    let xdp_on = |lab: &xvs_lab::Lab, iface: &str| {
        let out = lab.exec(&dir, &["ip", "link", "show", iface]).unwrap();
        String::from_utf8_lossy(&out.stdout).contains("xdp")
    };
    assert!(xdp_on(&r.lab, &c_if) && xdp_on(&r.lab, &s_if));

    // A crash (SIGKILL): nothing it attached may stop the next start.
    r.xvs.signal("KILL").unwrap();
    r.xvs.wait_timeout(Duration::from_secs(5)).unwrap();
    let Running { lab, xvs, .. } = r;
    drop(xvs);
    // The socket file is left behind, as after any crash.
    let mut r2 = start(lab, &yaml);
    let report = r2.lab.http_requests(&url(VIP4, 80), 9, 3, None).unwrap();
    assert_eq!(
        report.failed,
        0,
        "after a restart: {report:?}\n{}",
        r2.xvs.log()
    );

    // A clean stop (SIGTERM) detaches the steering program everywhere.
    r2.xvs.signal("TERM").unwrap();
    let status = r2
        .xvs
        .wait_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("xvs exits on SIGTERM");
    assert!(status.success(), "exit status {status:?}\n{}", r2.xvs.log());
    assert!(
        !xdp_on(&r2.lab, &c_if) && !xdp_on(&r2.lab, &s_if),
        "XDP programs left attached"
    );
    assert!(!r2.sock.exists(), "control socket left behind");
}

#[test]
fn reload_adds_a_vip_and_steering_follows() {
    let Some(lab) = lab("reload_adds_a_vip", Method::Nat, 1) else {
        return;
    };
    let one = header(&lab, 1)
        + "services:\n"
        + &service("web", VIP4, "tcp", 80, "nat", "rr", 80, "", &[1, 1, 1]);
    let r = start(lab, &one);
    let new_vip = "198.18.0.101";
    let before = r.lab.http_requests(&url(new_vip, 80), 3, 3, None).unwrap();
    assert_eq!(
        before.ok, 0,
        "a VIP that is not configured must not answer: {before:?}"
    );
    let two = one.clone()
        + &service(
            "web2",
            new_vip,
            "tcp",
            80,
            "nat",
            "wrr",
            8080,
            "",
            &[1, 0, 2],
        );
    std::fs::write(&r.config, two).unwrap();
    request(&r, "reload");
    wait_until(
        5,
        "reload not applied",
        || request(&r, "list").contains(new_vip),
        || r.xvs.log(),
    );
    let report = r.lab.http_requests(&url(new_vip, 80), 30, 5, None).unwrap();
    assert_spread(
        "new VIP after reload",
        &report,
        &[("rs1", 10), ("rs3", 20)],
        &r,
    );
    // The first service carried on.
    let old = r.lab.http_requests(&url(VIP4, 80), 9, 3, None).unwrap();
    assert_eq!(old.failed, 0, "{old:?}");
}
