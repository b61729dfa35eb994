//! Root-only: bind real AF_XDP sockets on a veth pair (copy mode, as veth
//! has no zero-copy) and transmit frames through them; the peer end, in a
//! network namespace this test creates, counts what arrived.

use std::process::Command;

use xvs_xsk::{BindMode, Desc, FramePool, Umem, XskSocket};

struct Veth {
    a: String,
    ns: String,
}

impl Veth {
    fn new() -> Option<Veth> {
        let id = std::process::id();
        let v = Veth {
            a: format!("xsk{id}a"),
            ns: format!("xsk{id}"),
        };
        let ok = sh(&["ip", "netns", "add", &v.ns])
            && sh(&[
                "ip", "link", "add", &v.a, "type", "veth", "peer", "name", "b", "netns", &v.ns,
            ])
            && sh(&["ip", "link", "set", &v.a, "up"])
            && sh(&["ip", "-n", &v.ns, "link", "set", "dev", "b", "up"]);
        ok.then_some(v)
    }

    fn peer_rx_packets(&self) -> u64 {
        let out = Command::new("ip")
            .args(["-n", &self.ns, "-s", "-j", "link", "show", "b"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // "rx":{"bytes":N,"packets":M,...}
        let rx = text.split("\"rx\":{").nth(1).unwrap_or("");
        rx.split("\"packets\":")
            .nth(1)
            .and_then(|s| s.split([',', '}']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        sh(&["ip", "link", "del", &self.a]);
        sh(&["ip", "netns", "del", &self.ns]);
    }
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let uid = unsafe { libc::geteuid() };
    uid == 0
}

#[test]
fn transmits_through_a_copy_mode_socket_and_reclaims_frames() {
    if !root() {
        eprintln!("SKIP transmits_through_a_copy_mode_socket_and_reclaims_frames: needs root (AF_XDP, netns)");
        return;
    }
    // As root, failing to build the veth pair is a failure, not a skip.
    let veth = Veth::new().expect("root can create a netns and a veth pair");
    let mut umem = Umem::new(64, 4096).unwrap();
    let mut sock =
        XskSocket::bind(&umem, None, &veth.a, 0, 64, BindMode::Auto).expect("bind AF_XDP on veth");
    assert!(
        !sock.is_zero_copy(),
        "veth has no zero-copy: Auto must fall back to copy"
    );
    let mut pool = FramePool::new(&umem);
    let before = veth.peer_rx_packets();
    let mut descs = Vec::new();
    for i in 0..10u8 {
        let addr = pool.alloc().unwrap();
        let (frame, _) = umem.frame_mut(addr).unwrap();
        // Broadcast frame with an unused ethertype: harmless, counted by the peer.
        frame[..6].copy_from_slice(&[0xff; 6]);
        frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, i]);
        frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
        frame[14..64].fill(i);
        descs.push(Desc {
            addr,
            len: 64,
            options: 0,
        });
    }
    assert_eq!(sock.tx.produce(&descs), 10);
    let mut done = Vec::new();
    for _ in 0..1000 {
        sock.kick_tx();
        let mut out = [0u64; 16];
        let n = sock.comp.consume(&mut out);
        done.extend_from_slice(&out[..n]);
        if done.len() == 10 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(
        done.len(),
        10,
        "every transmitted frame comes back on the completion ring"
    );
    let mut sent: Vec<u64> = descs.iter().map(|d| d.addr).collect();
    sent.sort_unstable();
    done.sort_unstable();
    assert_eq!(done, sent);
    assert!(
        veth.peer_rx_packets() >= before + 10,
        "the peer received the frames"
    );

    // A second socket on the same UMEM (another queue would need a
    // multi-queue device; the same device's queue 0 is taken) fails cleanly.
    let err = XskSocket::bind(&umem, Some(&sock), &veth.a, 0, 64, BindMode::Copy).unwrap_err();
    assert!(err.to_string().contains("bind"), "{err}");
    drop(sock);
}
