//! All-to-all connection sync end to end: three active xvs directors (no
//! VRRP, `sync.mode: all_to_all`), NAT with rr (so a director without the
//! entry could not even guess the real server, and `sloppy_tcp` off, so
//! it would drop a mid-stream packet). Long-lived TCP connections open
//! through director A; then the client's and the real servers' paths move
//! to director B, as ECMP moves flows when a director leaves (here by
//! routes, no BGP), and A is killed. Every connection must carry on
//! through B with the entry A sent, and director C must hold them too.
//!
//! The lab is the pair lab (client and directors on one segment, directors
//! and real servers on another) with a third director namespace this test
//! plugs into both segments.

use std::time::Duration;

use xvs_e2e::support::{launch, metrics, sync_counter, wait_installed, Director};
use xvs_e2e::vrrp_support::serial;
use xvs_lab::{Hold, HoldReport, Lab, LabSpec, Method};

const VIP: &str = "198.18.0.100";
/// Connections held through the move.
const HELD: usize = 60;

/// Director `i`'s (1..=3) client-side and real-server-side addresses.
fn addrs(i: usize) -> (String, String) {
    (format!("198.18.0.{}", 1 + i), format!("198.18.1.{}", 1 + i))
}

fn sh(args: &[&str]) {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("command runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A director namespace like the pair's two: {p}c on the client bridge,
/// {p}r on the real servers' bridge of the lab's switch.
/// It is named as the lab names a third director, so the lab's teardown
/// removes it (and kills what runs in it) whatever happens to the test.
fn add_third_director(lab: &Lab) {
    let ns = format!("{}dir3", lab.prefix());
    sh(&["ip", "netns", "add", &ns]);
    let sw = lab.ns_switch();
    let (c, r) = lab.director_ifaces();
    let (ca, ra) = addrs(3);
    for (local, port, bridge, addr) in [(&c, "dir3c", "br1", &ca), (&r, "dir3", "br0", &ra)] {
        sh(&[
            "ip", "-n", &ns, "link", "add", local, "type", "veth", "peer", "name", port, "netns",
            &sw,
        ]);
        sh(&["ip", "-n", &sw, "link", "set", port, "master", bridge, "up"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            local,
        ]);
        sh(&["ip", "-n", &ns, "link", "set", local, "up"]);
        // As the pair's directors: what this kernel sends (sync) must
        // reach the others' XDP programs with finished checksums.
        sh(&[
            "ip", "netns", "exec", &ns, "ethtool", "-K", local, "tx", "off",
        ]);
    }
    sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
    for key in ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0"] {
        sh(&["ip", "netns", "exec", &ns, "sysctl", "-qw", key]);
    }
    for iface in [&c, &r] {
        sh(&[
            "ip",
            "netns",
            "exec",
            &ns,
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{iface}.rp_filter=0"),
        ]);
    }
}

/// Director `i` of three: NAT rr to the three real servers, sync with
/// the other two in all_to_all mode.
fn yaml(lab: &Lab, i: usize) -> String {
    let (c, r) = lab.director_ifaces();
    let (ca, ra) = addrs(i);
    let peers: Vec<String> = (1..=3).filter(|&j| j != i).map(|j| addrs(j).1).collect();
    let mut y = format!(
        "global:\n  workers: [0]\n  idle: adaptive\n  conn_capacity: 65536\n  umem_frames: 4096\n  ring_size: 1024\n\
         interfaces:\n  - name: {c}\n    addresses: [{ca}/24]\n    queues: [0]\n  - name: {r}\n    addresses: [{ra}/24]\n    queues: [0]\n\
         services:\n  - name: nat\n    vip: {VIP}\n    port: 9000\n    protocol: tcp\n    scheduler: rr\n    method: nat\n    real_servers:\n"
    );
    for rs in 11..=13 {
        y.push_str(&format!("      - {{address: 198.18.1.{rs}, port: 9000}}\n"));
    }
    y.push_str(&format!(
        "sync:\n  interface: {r}\n  peers: [{}]\n  sync_id: 7\n  mode: all_to_all\n",
        peers.join(", ")
    ));
    y
}

/// Send the client's traffic to the VIP, and the real servers' replies,
/// through director `i`: the client routes the VIP via its client-side
/// address, the real servers their default route via its server-side one.
fn route_through(lab: &Lab, i: usize) {
    let (ca, ra) = addrs(i);
    let cl = lab.ns_client();
    sh(&[
        "ip",
        "-n",
        &cl,
        "route",
        "replace",
        &format!("{VIP}/32"),
        "via",
        &ca,
    ]);
    for k in 1..=lab.spec().real_servers {
        sh(&[
            "ip",
            "-n",
            &lab.ns_rs(k),
            "route",
            "replace",
            "default",
            "via",
            &ra,
        ]);
    }
}

/// Three all_to_all directors (A, B, C), each configured by `yaml`, with
/// `HELD` connections opened through A and installed on B and C.
struct Opened {
    lab: Lab,
    a: Director,
    b: Director,
    c: Director,
    hold: Hold,
}

fn open_through_a(yaml: fn(&Lab, usize) -> String) -> Opened {
    let spec = LabSpec {
        directors: 2,
        vips4: vec![VIP.parse().unwrap()],
        ..LabSpec::new(Method::Nat)
    };
    let lab = Lab::build(spec).expect("pair lab builds");
    add_third_director(&lab);
    let ns = |i: usize| {
        if i == 3 {
            format!("{}dir3", lab.prefix())
        } else {
            lab.ns_director_n(i)
        }
    };
    let a = launch(&lab, &ns(1), "xvs1", &yaml(&lab, 1));
    let b = launch(&lab, &ns(2), "xvs2", &yaml(&lab, 2));
    let c = launch(&lab, &ns(3), "xvs3", &yaml(&lab, 3));
    route_through(&lab, 1);

    let src: Vec<String> = xvs_lab::CLIENT4_EXTRA
        .map(|h| format!("198.18.0.{h}"))
        .collect();
    let src: Vec<&str> = src.iter().map(String::as_str).collect();
    let hold = lab
        .hold_start(&format!("{VIP}:9000"), HELD, &src, 10.0)
        .expect("connections open through director A");
    for (d, name) in [(&b, "B"), (&c, "C")] {
        wait_installed(
            d,
            HELD as u64,
            &format!("director {name} installed A's connections"),
        );
    }
    Opened { lab, a, b, c, hold }
}

/// Every held connection continued through B (`how`), spread by rr over
/// several real servers.
fn assert_all_continued(r: &HoldReport, b: &Director, how: &str) {
    assert!(
        r.opened == HELD && r.continued == HELD,
        "every connection continues through B{how}: {}\n{}",
        r.summary(),
        metrics(b)
    );
    assert!(
        r.by_server.len() > 1,
        "rr spread them over several real servers: {:?}",
        r.by_server
    );
}

#[test]
fn connections_continue_through_another_director_after_a_path_move() {
    if !xvs_lab::require_root("connections_continue_through_another_director_after_a_path_move") {
        return;
    }
    let _serial = serial();
    let Opened {
        lab,
        mut a,
        b,
        c,
        hold,
    } = open_through_a(yaml);

    // ECMP moves the flows to B; A leaves for good.
    route_through(&lab, 2);
    a.xvs.signal("KILL").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let r = hold.finish().expect("hold report");
    eprintln!("moved to B: {}", r.summary());
    let _ = a.xvs.wait_timeout(Duration::from_secs(2));
    assert_all_continued(&r, &b, "");
    // C carried no traffic: through every sweep of the test it sent none
    // of the entries it received on (master_backup would send them all).
    assert_eq!(sync_counter(&c, "sent_entries"), 0, "{}", metrics(&c));
}

/// Director `i`'s FullNAT local address: one pool per director, so no two
/// directors ever hand out the same local port.
fn lip(i: usize) -> String {
    format!("198.18.1.{}", 200 + i)
}

/// Director `i` of three: FullNAT rr to the three real servers from its
/// own local address, sync with the other two in all_to_all mode.
fn yaml_fullnat(lab: &Lab, i: usize) -> String {
    let (c, r) = lab.director_ifaces();
    let (ca, ra) = addrs(i);
    let peers: Vec<String> = (1..=3).filter(|&j| j != i).map(|j| addrs(j).1).collect();
    let mut y = format!(
        "global:\n  workers: [0]\n  idle: adaptive\n  conn_capacity: 65536\n  umem_frames: 4096\n  ring_size: 1024\n\
         interfaces:\n  - name: {c}\n    addresses: [{ca}/24]\n    queues: [0]\n  - name: {r}\n    addresses: [{ra}/24]\n    queues: [0]\n\
         local_pools:\n  - name: lip\n    addresses: [{}]\n    ports: 1024-65535\n\
         services:\n  - name: full\n    vip: {VIP}\n    port: 9000\n    protocol: tcp\n    scheduler: rr\n    method: fullnat\n    local_pool: lip\n    real_servers:\n",
        lip(i)
    );
    for rs in 11..=13 {
        y.push_str(&format!("      - {{address: 198.18.1.{rs}, port: 9000}}\n"));
    }
    y.push_str(&format!(
        "sync:\n  interface: {r}\n  peers: [{}]\n  sync_id: 7\n  mode: all_to_all\n",
        peers.join(", ")
    ));
    y
}

/// FullNAT across active directors: the client's path moves from A to B
/// while A lives. B has A's entries and forwards with A's local address
/// and port, so the real servers' replies still go to A, which still has
/// its entries and translates them back to the client. (Were A killed,
/// its local address would die with it: see the README.)
#[test]
fn fullnat_connections_continue_through_another_director_while_the_first_lives() {
    if !xvs_lab::require_root(
        "fullnat_connections_continue_through_another_director_while_the_first_lives",
    ) {
        return;
    }
    let _serial = serial();
    let Opened { lab, a, b, c, hold } = open_through_a(yaml_fullnat);

    // ECMP moves the client's flows to B; A stays up, and the real
    // servers reach A's local address on their own segment as before.
    route_through(&lab, 2);
    std::thread::sleep(Duration::from_secs(3));
    let r = hold.finish().expect("hold report");
    eprintln!("moved to B, A alive: {}", r.summary());
    assert_all_continued(&r, &b, " with A's local address");
    for (d, name) in [(&b, "B"), (&c, "C")] {
        assert_eq!(
            sync_counter(d, "dropped_local_address_not_in_pool"),
            0,
            "director {name} refused none of A's local addresses\n{}",
            metrics(d)
        );
    }
    drop(a);
}
