//! Health checks use the director's kernel stack, and xvs leaves that path
//! alone: for every forwarding method, while a real client sends HTTP and
//! UDP through the VIPs (IPv4 and IPv6) of a live `xvs run`, the director
//! namespace's own sockets, bound to the director's own addresses
//! (198.18.1.1, fd00:0:0:2::1), complete TCP connections and HTTP GETs to
//! every real server's ports 80 and 8080, get UDP echo replies from 53 and
//! 5353, and get ping replies, on both families.
//!
//! The hard case is NAT: the replies to those probes come from a NAT real
//! server's service port (8080, 5353), exactly what steer.c otherwise hands
//! xvs to un-NAT. They are addressed to the director itself, so they must
//! be the kernel's (steer.c "Never ours"). The proof that xvs did not see
//! them is in its counters: its connection count is exactly the client's
//! requests, and it never received a packet it had to pass on. For FullNAT
//! the real servers' replies to the local address 198.18.1.200 are still
//! xvs's (the client's requests succeed, and the real servers saw them come
//! from the local address) while the probes from 198.18.1.1 work.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use xvs_e2e::support::*;
use xvs_lab::{Method, CLIENT6, DEFAULT_LOCAL4, DEFAULT_LOCAL6, DIR_SERVER4, DIR_SERVER6};

/// Probe rounds the director runs while the client is busy.
const ROUNDS: usize = 3;
/// Requests per client batch (a multiple of 3: round robin over the three
/// real servers gives each exactly a third).
const BATCH: usize = 30;
/// Extra client IPv6 addresses the test adds, as the lab has for IPv4.
const CLIENT6_EXTRA: u16 = 10;

/// The director's health-check traffic in one Python process: argv is
/// SRC4 SRC6 then NAME=ADDR pairs (`rs1=198.18.1.11`). For each target,
/// from the source address of its family: HTTP GET on 80 and 8080, UDP on
/// 53 and 5353, one ping. Prints one line per check, `ok ...` or
/// `FAIL ...`.
const DIRECTOR_PROBES: &str = r#"
import http.client, socket, subprocess, sys
src4, src6 = sys.argv[1], sys.argv[2]
T = 2
def tcp_http(name, host, src, port):
    c = http.client.HTTPConnection(host, port, timeout=T, source_address=(src, 0))
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read()
    seen = r.getheader("X-Client", "").rsplit(":", 1)[0]
    if r.status != 200 or body != (name + "\n").encode() or seen != src:
        return "status %d body %r X-Client %r" % (r.status, body, seen)
def udp_echo(name, host, src, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(T)
    s.bind((src, 0))
    s.sendto(b"probe", (host, port))
    data, peer = s.recvfrom(512)
    if data != (name + ":probe").encode() or peer[:2] != (host, port):
        return "reply %r from %r" % (data, peer)
def ping(name, host, src, port):
    family = "-6" if ":" in host else "-4"
    p = subprocess.run(["ping", family, "-c1", "-W%d" % T, "-I", src, host], capture_output=True)
    if p.returncode != 0:
        return "ping exit %d: %r" % (p.returncode, p.stdout[-120:])
for target in sys.argv[3:]:
    name, host = target.split("=")
    src = src6 if ":" in host else src4
    for check, port in ((tcp_http, 80), (tcp_http, 8080), (udp_echo, 53), (udp_echo, 5353), (ping, 0)):
        what = "%s %s %s:%d from %s" % (check.__name__, name, host, port, src)
        try:
            err = check(name, host, src, port)
        except OSError as e:
            err = "%s: %s" % (type(e).__name__, e)
        print(("FAIL %s: %s" % (what, err)) if err else ("ok " + what), flush=True)
"#;

/// The checks one round makes: 3 real servers × 2 families × 5.
const CHECKS_PER_ROUND: usize = 3 * 2 * 5;

/// One round of [`DIRECTOR_PROBES`] in the director namespace; its lines.
fn director_round(r: &Running) -> Vec<String> {
    let (src4, src6) = (DIR_SERVER4.to_string(), DIR_SERVER6.to_string());
    let targets: Vec<String> = (1..=3)
        .flat_map(|i| {
            let name = r.lab.rs_name(i);
            [
                format!("{name}={}", r.lab.rs_addr4(i)),
                format!("{name}={}", r.lab.rs_addr6(i)),
            ]
        })
        .collect();
    let mut args = vec!["python3", "-c", DIRECTOR_PROBES, &src4, &src6];
    args.extend(targets.iter().map(String::as_str));
    let out = r
        .lab
        .exec(&r.lab.ns_director(), &args)
        .expect("the probe script runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// xvs counters that say whether it saw the director's own traffic.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    connections: u64,
    real_server_connections: u64,
    not_ours: u64,
}

fn seen(r: &Running) -> Seen {
    Seen {
        connections: metric(r, "xvs_service_connections_total", &[]),
        real_server_connections: metric(r, "xvs_real_server_connections_total", &[]),
        not_ours: metric(r, "xvs_not_ours_packets_total", &[]),
    }
}

/// The client's UDP source addresses, one pair per round: the lab's IPv4
/// ones, and as many IPv6 ones added here. A UDP batch takes consecutive
/// source ports from a random base, so two batches from one address could
/// share a flow (one xvs connection for two requests); from distinct
/// addresses they cannot, and every request is exactly one connection.
///
/// HTTP goes without a source address on purpose: with one, the client
/// binds port 0 before connecting, the kernel picks a random free port,
/// and a port whose earlier connection has closed can come back within a
/// batch. A DR or TUN director keeps such a SYN on the old connection
/// entry (it never sees the real server's FIN), so it would count one
/// connection less. connect() without bind() picks ports in sequence.
fn client_sources(r: &Running) -> Vec<(IpAddr, IpAddr)> {
    let ns = r.lab.ns_client();
    let mut v6 = vec![CLIENT6];
    for k in 1..=CLIENT6_EXTRA {
        let segments = CLIENT6.segments();
        let addr = Ipv6Addr::new(
            segments[0],
            segments[1],
            segments[2],
            segments[3],
            0,
            0,
            0,
            segments[7] + k,
        );
        let cidr = format!("{addr}/64");
        r.lab
            .exec(
                &ns,
                &["ip", "-6", "addr", "add", &cidr, "dev", "eth0", "nodad"],
            )
            .expect("client IPv6 address");
        v6.push(addr);
    }
    let v4 = std::iter::once(r.lab.client_addr4()).chain(r.lab.client_extra4());
    v4.zip(v6)
        .map(|(a, b)| (IpAddr::V4(a), IpAddr::V6(b)))
        .collect()
}

/// What the client did: requests made (each one connection), and whether
/// it was still going when told to stop.
struct ClientRun {
    requests: u64,
    stopped: bool,
}

/// Client batches through both VIPs, TCP and UDP (UDP from one source
/// pair per round), until `stop` or the sources run out. Every request must succeed,
/// spread evenly.
fn client_until(
    r: &Running,
    sources: &[(IpAddr, IpAddr)],
    started: &AtomicBool,
    stop: &AtomicBool,
) -> ClientRun {
    let even = [("rs1", BATCH / 3), ("rs2", BATCH / 3), ("rs3", BATCH / 3)];
    let mut requests = 0;
    for &(src4, src6) in sources {
        for (vip, src) in [(VIP4, src4), (VIP6, src6)] {
            let what = format!("{vip} from {src}");
            let http = r.lab.http_requests(&url(vip, 80), BATCH, 4, None).unwrap();
            assert_spread(&format!("client HTTP to {what}"), &http, &even, r);
            let dns = r.lab.udp_requests(udp(vip, 53), BATCH, Some(src)).unwrap();
            assert_spread(&format!("client UDP to {what}"), &dns, &even, r);
            requests += 2 * BATCH as u64;
            started.store(true, Ordering::Release);
        }
        if stop.load(Ordering::Acquire) {
            return ClientRun {
                requests,
                stopped: true,
            };
        }
    }
    ClientRun {
        requests,
        stopped: false,
    }
}

/// Sets the flag when dropped, so a failing probe round (a panic) stops
/// the client thread instead of leaving the scope waiting for it forever.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The test body: probes from the director during client traffic, then
/// the counters.
fn probes_stay_with_the_kernel(r: &Running, label: &str) {
    let sources = client_sources(r);
    let before = seen(r);
    let started = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let (failures, client) = std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        let client = s.spawn(|| client_until(r, &sources, &started, &stop));
        // The client's flows are in xvs's table before the first probe.
        wait_until(
            30,
            "the client's first batch",
            || started.load(Ordering::Acquire) || client.is_finished(),
            || r.xvs.log(),
        );
        let mut failures = Vec::new();
        for round in 0..ROUNDS {
            let lines = director_round(r);
            let bad: Vec<_> = lines.iter().filter(|l| !l.starts_with("ok ")).collect();
            if lines.len() != CHECKS_PER_ROUND || !bad.is_empty() {
                failures.push(format!(
                    "round {round}: {} checks, failed: {bad:#?}",
                    lines.len()
                ));
                // Each failed check waited out its timeout: one round of
                // them is evidence enough.
                break;
            }
        }
        stop.store(true, Ordering::Release);
        let client = client.join().expect("client traffic through the VIPs");
        (failures, client)
    });
    assert!(
        failures.is_empty(),
        "{label}: the director's own probes failed while the client was served:\n{}\nstats:\n{}\nxvs log:\n{}",
        failures.join("\n"),
        request(r, "stats"),
        r.xvs.log()
    );
    assert!(
        client.stopped,
        "{label}: the client ran out of source addresses before the probes ended"
    );
    let after = seen(r);
    let want = Seen {
        connections: before.connections + client.requests,
        real_server_connections: before.real_server_connections + client.requests,
        not_ours: before.not_ours,
    };
    assert_eq!(
        after,
        want,
        "{label}: the client made {} requests and the director {} probe checks; xvs must count the client's alone\nstats:\n{}",
        client.requests,
        ROUNDS * CHECKS_PER_ROUND,
        request(r, "stats")
    );
}

#[test]
fn nat_director_probes_bypass_xvs_ipv4_ipv6() {
    // Service ports 8080 and 5353: the probes' replies come from exactly
    // the <RIP, port> pairs steer.c hands xvs for un-NAT.
    let Some(r) = start_web_and_dns("nat_director_probes_bypass_xvs_ipv4_ipv6", Method::Nat) else {
        return;
    };
    probes_stay_with_the_kernel(&r, "NAT");
}

#[test]
fn dr_director_probes_bypass_xvs_ipv4_ipv6() {
    let Some(r) = start_web_and_dns("dr_director_probes_bypass_xvs_ipv4_ipv6", Method::Dr) else {
        return;
    };
    probes_stay_with_the_kernel(&r, "DR");
}

#[test]
fn tun_director_probes_bypass_xvs_ipv4_ipv6() {
    let Some(r) = start_web_and_dns("tun_director_probes_bypass_xvs_ipv4_ipv6", Method::Tun) else {
        return;
    };
    probes_stay_with_the_kernel(&r, "TUN");
}

#[test]
fn fullnat_director_probes_bypass_xvs_ipv4_ipv6() {
    let Some(r) = start_web_and_dns(
        "fullnat_director_probes_bypass_xvs_ipv4_ipv6",
        Method::FullNat,
    ) else {
        return;
    };
    probes_stay_with_the_kernel(&r, "FullNAT");
    // The same real-server segment carries both: the client's requests
    // reach the real servers from the local address (xvs's), the probes
    // above from the director's own address (the kernel's).
    for (vip, local) in [
        (VIP4, DEFAULT_LOCAL4.to_string()),
        (VIP6, DEFAULT_LOCAL6.to_string()),
    ] {
        let seen_from = client_seen_from(&r, vip);
        assert_eq!(seen_from, local, "FullNAT via {vip}");
    }
}

/// The source address a real server saw for one client GET through `vip`
/// (its X-Client header without the port).
fn client_seen_from(r: &Running, vip: &str) -> String {
    let script = r#"
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=2)
c.request("GET", "/")
r = c.getresponse()
r.read()
print(r.getheader("X-Client", "").rsplit(":", 1)[0])
"#;
    let out = r
        .lab
        .exec(&r.lab.ns_client(), &["python3", "-c", script, vip])
        .expect("a GET through the VIP");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
