//! The steering program on a real veth, end to end (root; skips loudly
//! otherwise). Namespace `a` plays the client, `b` the director with the
//! program attached to its veth end.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::Command;
use std::time::Duration;

use common::{wait_for, Pair, A4, B4, B6};
use xvs_xdp::netlink::{self, XdpSlot};
use xvs_xdp::{
    AttachMode, SteerOutcome, SteerRules, Steering, XdpError, STEER_OBJECT, STEER_PROGRAM,
};

const VIP4: &str = "198.18.0.100";
const VIP6: &str = "fd00::100";
const WAIT: Duration = Duration::from_secs(10);

fn vip_rules() -> SteerRules {
    SteerRules {
        vips: vec![VIP4.parse().unwrap(), VIP6.parse().unwrap()],
        ..Default::default()
    }
}

fn attach(pair: &Pair, mode: AttachMode) -> Steering {
    pair.run_in(&pair.b, || Steering::attach(&pair.if_b, mode))
        .unwrap_or_else(|e| panic!("attach steering to {}: {e}", pair.if_b))
}

/// Sends `n` UDP datagrams from namespace `a` to `dst`.
fn send_udp(pair: &Pair, dst: SocketAddr, n: usize) {
    pair.run_in(&pair.a, || {
        let bind: SocketAddr = if dst.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
            .parse()
            .unwrap();
        let sock = UdpSocket::bind(bind).unwrap();
        for i in 0..n {
            sock.send_to(format!("datagram {i}").as_bytes(), dst)
                .unwrap();
        }
    });
}

#[test]
fn directors_own_traffic_passes_and_vip_traffic_is_claimed() {
    let test = "directors_own_traffic_passes_and_vip_traffic_is_claimed";
    let Some(pair) = Pair::new(test) else { return };
    let mut steering = attach(&pair, AttachMode::Native);
    steering.update(&vip_rules()).unwrap();
    assert!(
        pair.has_xdp(&pair.b, &pair.if_b),
        "ip link shows the program"
    );

    // ping to the director's own address, both families.
    for dst in [B4, B6] {
        let out = pair.exec(&pair.a, &["ping", "-c", "2", "-W", "5", dst]);
        assert!(
            out.status.success(),
            "ping {dst} through the steering program: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // A TCP connection to a socket of the director's own.
    let listener = pair.run_in(&pair.b, || TcpListener::bind((B4, 0)).unwrap());
    let port = listener.local_addr().unwrap().port();
    let mut client = pair.run_in(&pair.a, || TcpStream::connect((B4, port)).unwrap());
    client.set_read_timeout(Some(WAIT)).unwrap();
    let (mut server, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip().to_string(), A4);
    client.write_all(b"ping over tcp").unwrap();
    let mut buf = [0u8; 13];
    server.set_read_timeout(Some(WAIT)).unwrap();
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping over tcp");
    server.write_all(b"pong").unwrap();
    let mut reply = [0u8; 4];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"pong");

    let passed_so_far = steering.counters().unwrap().passed();
    assert!(
        passed_so_far >= 4,
        "pings and TCP were passed: {passed_so_far}"
    );
    let before = steering.counters().unwrap();
    assert_eq!(before.redirected(), 0, "nothing so far was for a VIP");

    // Traffic to the VIP: routed to the director by the client, claimed by
    // the program; with no AF_XDP socket on queue 0 it falls back to the
    // kernel (which, not owning the VIP, drops it).
    pair.ip(&pair.a, &["route", "add", &format!("{VIP4}/32"), "via", B4]);
    pair.ip(
        &pair.a,
        &["-6", "route", "add", &format!("{VIP6}/128"), "via", B6],
    );
    send_udp(&pair, SocketAddr::new(VIP4.parse().unwrap(), 9), 5);
    send_udp(&pair, SocketAddr::new(VIP6.parse().unwrap(), 9), 3);
    let after = wait_for(WAIT, || {
        let c = steering.counters().unwrap();
        (c.no_socket() >= before.no_socket() + 8).then_some(c)
    })
    .expect("the program counted the VIP datagrams");
    assert_eq!(
        after.get(SteerOutcome::NoSocket, "to_vip") - before.get(SteerOutcome::NoSocket, "to_vip"),
        8,
        "exactly the VIP datagrams, claimed but with no socket registered yet"
    );
    assert_eq!(after.redirected(), 0, "no socket to redirect to");

    // The rules follow an update: without the VIP it is just passed.
    steering.update(&SteerRules::default()).unwrap();
    send_udp(&pair, SocketAddr::new(VIP4.parse().unwrap(), 9), 2);
    let passed_before = after.passed();
    wait_for(WAIT, || {
        (steering.counters().unwrap().passed() >= passed_before + 2).then_some(())
    })
    .expect("VIP datagrams counted as passed after the VIP was removed");
    assert_eq!(steering.counters().unwrap().no_socket(), after.no_socket());

    drop(steering);
    assert!(
        !pair.has_xdp(&pair.b, &pair.if_b),
        "drop detaches the program"
    );
}

#[test]
fn claimed_traffic_reaches_a_registered_af_xdp_socket() {
    for mode in [AttachMode::Native, AttachMode::Generic] {
        claimed_traffic_reaches_the_socket(mode);
    }
}

fn claimed_traffic_reaches_the_socket(mode: AttachMode) {
    let test = "claimed_traffic_reaches_a_registered_af_xdp_socket";
    let Some(pair) = Pair::new(test) else { return };
    let mut steering = attach(&pair, mode);
    steering.update(&vip_rules()).unwrap();

    // Bound inside `b`, where the interface is; usable from here after.
    let (mut umem, mut sock) = pair.run_in(&pair.b, || {
        let umem = xvs_xsk::Umem::new(64, 4096).unwrap();
        let sock =
            xvs_xsk::XskSocket::bind(&umem, None, &pair.if_b, 0, 64, xvs_xsk::BindMode::Copy)
                .expect("bind an AF_XDP socket to the director's veth");
        (umem, sock)
    });
    let mut pool = xvs_xsk::FramePool::new(&umem);
    let mut fill = Vec::new();
    pool.take(32, &mut fill);
    assert_eq!(sock.fill.produce(&fill), 32);
    steering.set_socket(0, sock.fd()).unwrap();

    pair.ip(&pair.a, &["route", "add", &format!("{VIP4}/32"), "via", B4]);
    send_udp(&pair, SocketAddr::new(VIP4.parse().unwrap(), 7), 1);

    let desc = wait_for(WAIT, || {
        sock.kick_rx();
        let _ = xvs_xsk::poll_readable(&[sock.fd()], 20);
        let mut out = [xvs_xsk::Desc {
            addr: 0,
            len: 0,
            options: 0,
        }];
        (sock.rx.consume(&mut out) == 1).then_some(out[0])
    })
    .unwrap_or_else(|| panic!("{mode:?}: the VIP datagram arrives on the AF_XDP socket"));
    let (frame, off) = umem.frame_mut(desc.addr).unwrap();
    let frame = &frame[off..off + desc.len as usize];
    let parsed = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = parsed.net else {
        panic!("expected IPv4, got {frame:02x?}")
    };
    assert_eq!(ip.header().destination_addr().to_string(), VIP4);
    let Some(etherparse::TransportSlice::Udp(udp)) = parsed.transport else {
        panic!("expected UDP, got {frame:02x?}")
    };
    assert_eq!(udp.payload(), b"datagram 0");
    let c = steering.counters().unwrap();
    assert!(
        c.get(SteerOutcome::Steered, "to_vip") >= 1 && c.no_socket() == 0,
        "{c:?}"
    );
}

#[test]
fn attach_replaces_a_stale_legacy_program_but_not_a_live_one() {
    let test = "attach_replaces_a_stale_legacy_program_but_not_a_live_one";
    let Some(pair) = Pair::new(test) else { return };

    // A stale xvs program attached the legacy (netlink) way, whose loader
    // is gone: that is what a crash leaves when BPF links are unavailable.
    let stale_id = pair.run_in(&pair.b, || {
        let mut ebpf = aya::Ebpf::load(STEER_OBJECT).unwrap();
        let xdp: &mut aya::programs::Xdp =
            ebpf.program_mut(STEER_PROGRAM).unwrap().try_into().unwrap();
        xdp.load().unwrap();
        let id = xdp.info().unwrap().id();
        let ifindex = nix::net::if_::if_nametoindex(pair.if_b.as_str()).unwrap();
        netlink::set_xdp_fd(
            ifindex,
            Some(xdp.fd().unwrap().as_fd()),
            None,
            XdpSlot::Generic,
        )
        .unwrap();
        id
        // `ebpf` drops here: the program stays attached by netlink.
    });
    let attached = |pair: &Pair| {
        pair.run_in(&pair.b, || {
            let ifindex = nix::net::if_::if_nametoindex(pair.if_b.as_str()).unwrap();
            netlink::attached_programs(ifindex).unwrap()
        })
    };
    assert_eq!(attached(&pair).len(), 1);
    assert_eq!(attached(&pair)[0].prog_id, stale_id);

    // Attaching (in the other mode, even) replaces it.
    let first = attach(&pair, AttachMode::Native);
    let now = attached(&pair);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0].prog_id, stale_id, "the stale program is gone");
    assert_eq!(now[0].slot, XdpSlot::Driver);

    // A second xvs on the same interface must not steal it from the first.
    let second = pair.run_in(&pair.b, || Steering::attach(&pair.if_b, AttachMode::Native));
    match second {
        Err(XdpError::Busy { ref name, .. }) => assert_eq!(name, STEER_PROGRAM),
        other => panic!("expected Busy, got {other:?}"),
    }
    assert_eq!(attached(&pair), now, "the live program is untouched");

    drop(first);
    assert!(attached(&pair).is_empty(), "drop detaches");
    assert!(!pair.has_xdp(&pair.b, &pair.if_b));
}

const CRASH_ENV: &str = "XVS_XDP_TEST_CRASH_IFACE";

/// Child half of `a_crashed_process_leaves_nothing_behind`: run by that
/// test inside namespace `b` with the interface in the environment, it
/// attaches, reports the program id and aborts without any cleanup.
#[test]
#[ignore = "helper: only meaningful when spawned by a_crashed_process_leaves_nothing_behind"]
fn crash_child() {
    let Ok(ifname) = std::env::var(CRASH_ENV) else {
        eprintln!("crash_child: {CRASH_ENV} unset; this is a helper of another test");
        return;
    };
    let steering = Steering::attach(&ifname, AttachMode::Native).expect("child attach");
    let ifindex = steering.ifindex();
    let progs = netlink::attached_programs(ifindex).unwrap();
    println!("ATTACHED {}", progs[0].prog_id);
    std::io::stdout().flush().unwrap();
    std::process::abort();
}

#[test]
fn a_crashed_process_leaves_nothing_behind() {
    let test = "a_crashed_process_leaves_nothing_behind";
    let Some(pair) = Pair::new(test) else { return };
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", &pair.b])
        .arg(&exe)
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_ENV, &pair.if_b)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the child aborts");
    assert!(
        stdout.contains("ATTACHED "),
        "the child attached before crashing: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The BPF link died with the process, and the program with it.
    wait_for(WAIT, || (!pair.has_xdp(&pair.b, &pair.if_b)).then_some(()))
        .expect("no XDP program left after the crash");
    // So a restart simply attaches.
    let steering = attach(&pair, AttachMode::Native);
    assert!(pair.has_xdp(&pair.b, &pair.if_b));
    drop(steering);
}

#[test]
fn attach_to_a_missing_interface_names_it() {
    let test = "attach_to_a_missing_interface_names_it";
    let Some(pair) = Pair::new(test) else { return };
    let err = pair
        .run_in(&pair.b, || {
            Steering::attach("xvs-no-such", AttachMode::Generic)
        })
        .unwrap_err();
    assert!(
        matches!(err, XdpError::UnknownInterface(ref n) if n == "xvs-no-such"),
        "{err}"
    );
}
