//! End to end, fragments: UDP datagrams of 4,000 bytes, cut by the client
//! into four fragments and sent last fragment first through a raw socket
//! (scripts/lab-frags.py), go through a real `xvs run` to the VIP, IPv4
//! and IPv6, in NAT, FullNAT, DR and TUN. The real server's UDP echo
//! answers "NAME:" + payload only if its kernel reassembled the whole
//! datagram, and that answer, larger than the lab links' 1500-byte MTU,
//! is itself fragmented by the real server's kernel: through NAT and
//! FullNAT the director must translate every fragment of it (for NAT the
//! steering program claims the later ones by their source; FullNAT's come
//! to a local address), and the client compares it byte for byte. A
//! flood of later fragments whose first never comes is bounded and
//! counted, and the director forwards whole datagrams afterwards. Through
//! TUN, full-size IPv4 fragments leave as two outer fragments each.

use serde_json::Value;
use xvs_e2e::support::*;
use xvs_lab::Method;

/// Run scripts/lab-frags.py in the client namespace; its JSON report.
fn frags(r: &Running, args: &[&str]) -> Value {
    let out =
        run_script(&r.lab, &r.lab.ns_client(), "lab-frags.py", args).expect("run lab-frags.py");
    assert!(
        out.status.success(),
        "lab-frags.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lab-frags.py printed no report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn drops(r: &Running, reason: &str) -> u64 {
    metric(
        r,
        "xvs_dropped_packets_total",
        &[&format!("reason=\"{reason}\"")],
    )
}

/// Every datagram, sent in `order`, came back whole from a real server.
fn assert_whole(r: &Running, label: &str, vip: &str, order: &str) {
    let count = 6;
    let report = frags(
        r,
        &[
            "send",
            vip,
            "53",
            "--size",
            "4000",
            "--chunk",
            "1200",
            "--count",
            &count.to_string(),
            "--order",
            order,
        ],
    );
    assert!(
        report["ok"] == count && report["failures"].as_array().is_some_and(Vec::is_empty),
        "{label} to {vip}, {order} order: {report}\nstats:\n{}\nmetrics:\n{}\nxvs log:\n{}",
        request(r, "stats"),
        request(r, "metrics"),
        r.xvs.log()
    );
    let servers = report["servers"].as_object().expect("servers");
    assert!(
        servers.keys().all(|k| k.starts_with("rs")),
        "{label}: answered by {servers:?}"
    );
}

/// Both families, fragments out of order, and to the VIPs in `in_order`
/// also as the client's kernel cuts them (in order, 1,500 bytes each).
fn exercise(r: &Running, label: &str, in_order: &[&str]) {
    for vip in [VIP4, VIP6] {
        assert_whole(r, label, vip, "reverse");
        if in_order.contains(&vip) {
            assert_whole(r, label, vip, "kernel");
        }
    }
    // Nothing was lost to the fragment map's bounds or timeouts.
    for reason in [
        "frag_map_full",
        "frag_hold_full",
        "frag_timeout",
        "frag_orphan",
        "fragment",
    ] {
        assert_eq!(drops(r, reason), 0, "{label}: {reason} drops");
    }
}

#[test]
fn nat_forwards_fragments_and_translates_fragmented_replies() {
    let Some(r) = start_web_and_dns(
        "nat_forwards_fragments_and_translates_fragmented_replies",
        Method::Nat,
    ) else {
        return;
    };
    let out_before = metric(&r, "xvs_service_out_packets_total", &[]);
    exercise(&r, "NAT", &[VIP4, VIP6]);
    // 24 datagrams of 4,000 bytes, each answered in 3 fragments: every
    // one of them went through the director, translated.
    let out = metric(&r, "xvs_service_out_packets_total", &[]) - out_before;
    assert!(out >= 24 * 3, "NAT reply fragments through xvs: {out}");
}

#[test]
fn fullnat_forwards_fragments_and_translates_fragmented_replies() {
    let Some(r) = start_web_and_dns(
        "fullnat_forwards_fragments_and_translates_fragmented_replies",
        Method::FullNat,
    ) else {
        return;
    };
    let out_before = metric(&r, "xvs_service_out_packets_total", &[]);
    exercise(&r, "FullNAT", &[VIP4, VIP6]);
    // The replies' fragments come to the local address, each translated.
    let out = metric(&r, "xvs_service_out_packets_total", &[]) - out_before;
    assert!(out >= 24 * 3, "FullNAT reply fragments through xvs: {out}");
}

#[test]
fn dr_forwards_fragments_out_of_order() {
    let Some(r) = start_web_and_dns("dr_forwards_fragments_out_of_order", Method::Dr) else {
        return;
    };
    exercise(&r, "DR", &[VIP4, VIP6]);
}

#[test]
fn tun_forwards_fragments_out_of_order() {
    let Some(r) = start_web_and_dns("tun_forwards_fragments_out_of_order", Method::Tun) else {
        return;
    };
    // Full-size IPv4 fragments (1,500 bytes, DF clear) plus the tunnel
    // header exceed the link MTU: the director fragments the outer packet
    // as the kernel's tunnel transmit does, and the real server's kernel
    // reassembles the outer packet, then the datagram. IPv6 tunnels answer
    // Packet Too Big instead (ip_vs_tunnel_xmit_v6()), so IPv6 runs with
    // fragments that leave room for the tunnel header only.
    exercise(&r, "TUN", &[VIP4]);
    assert_eq!(drops(&r, "too_big"), 0, "TUN: too_big drops");
}

#[test]
fn a_fragment_flood_is_bounded_and_counted() {
    let Some(r) = start_web_and_dns("a_fragment_flood_is_bounded_and_counted", Method::Nat) else {
        return;
    };
    let sent = 5000;
    let rx_before = metric(&r, "xvs_rx_packets_total", &[]);
    let control_before = metric(&r, "xvs_to_control_packets_total", &[]);
    for vip in [VIP4, VIP6] {
        let report = frags(&r, &["flood", vip, "53", "--count", &sent.to_string()]);
        assert_eq!(report["sent"], sent, "{report}");
    }
    // One worker holds at most 64 fragments; the rest are refused, and
    // what was held times out (5 s) and is counted.
    wait_until(
        30,
        "the held flood fragments time out",
        || drops(&r, "frag_timeout") >= 64,
        || request(&r, "metrics"),
    );
    let timed_out = drops(&r, "frag_timeout");
    let refused = drops(&r, "frag_hold_full") + drops(&r, "frag_map_full");
    let received = metric(&r, "xvs_rx_packets_total", &[]) - rx_before;
    let control = metric(&r, "xvs_to_control_packets_total", &[]) - control_before;
    let rx_dropped = metric(&r, "xvs_xsk_rx_dropped_total", &[]);
    println!(
        "flood of {} later fragments: the worker received {received}, refused \
         {refused} (hold pool or map full), held {timed_out} until they timed out; \
         the kernel dropped {rx_dropped} before xvs (AF_XDP ring full)",
        2 * sent
    );
    assert_eq!(timed_out, 64, "exactly the hold pool timed out");
    assert!(refused > 0 && received <= 2 * sent + control);
    // Every flood fragment the worker received is in exactly one counter
    // (ARP and neighbour discovery went to the control thread meanwhile).
    assert_eq!(
        refused + timed_out,
        received - control,
        "flood fragments counted once:\n{}",
        request(&r, "metrics")
    );
    // The director still forwards whole datagrams, out of order too.
    for vip in [VIP4, VIP6] {
        assert_whole(&r, "after the flood", vip, "reverse");
    }
    assert!(xvs_alive(&r), "xvs keeps running:\n{}", r.xvs.log());
}

fn xvs_alive(r: &Running) -> bool {
    ask(&r.sock, "list").is_some()
}
