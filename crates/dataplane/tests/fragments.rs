//! Golden tests for fragmented datagrams: a datagram is cut into three
//! fragments (built here, every checksum from scratch), sent last
//! fragment first, and each fragment the worker forwards must equal, byte
//! for byte, the matching fragment of the datagram the real server (or,
//! for replies, the client) should receive, cut the same way. So NAT's
//! rewrite of every fragment's addresses and IPv4 header checksum, and of
//! the first fragment's ports and L4 checksum, are all checked against
//! values computed afresh. Also: what the map does with orphans and floods.

use std::net::IpAddr;

use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv4Header, Ipv6Header};
use xvs_dataplane::{DropReason, FrameBuf, Plan, StaticNeighbors, Verdict, Worker};
use xvs_testkit::*;

const CPORT: u16 = 40001;
const IDENT: u32 = 0x0000_4d2e;
/// A datagram's payload: not a multiple of 8, so the last fragment is odd.
const PAYLOAD: usize = 3003;

fn pick(v6: bool, a: impl Into<IpAddr>, b: impl Into<IpAddr>) -> IpAddr {
    if v6 {
        b.into()
    } else {
        a.into()
    }
}

fn payload() -> Vec<u8> {
    (0..PAYLOAD).map(|i| (i * 7 % 251) as u8).collect()
}

fn datagram(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, tcp: bool) -> Spec {
    let s = if tcp {
        Spec::tcp(src, sport, dst, dport, SYN)
    } else {
        Spec::udp(src, sport, dst, dport)
    };
    s.payload(&payload())
}

/// Cut an IP packet (IPv4 without options, or IPv6 with no extension
/// headers) into fragments of `data` bytes of its payload each (the last
/// takes the rest), as a sending host does: IPv4 flags/offset and a fresh
/// header checksum; IPv6 a Fragment header (RFC 8200 §4.5).
fn cut(ip: &[u8], ident: u32, data: usize) -> Vec<Vec<u8>> {
    let v6 = ip[0] >> 4 == 6;
    let hlen = if v6 { 40 } else { 20 };
    let body = &ip[hlen..];
    let mut out = Vec::new();
    let mut off = 0;
    while off < body.len() {
        let end = (off + data).min(body.len());
        let more = end < body.len();
        let chunk = &body[off..end];
        let mut p = Vec::new();
        if v6 {
            let mut h = Ipv6Header::from_slice(ip).unwrap().0;
            let nh = h.next_header;
            h.next_header = IpNumber::IPV6_FRAGMENTATION_HEADER;
            h.payload_length = (8 + chunk.len()) as u16;
            h.write(&mut p).unwrap();
            let word = ((off / 8) as u16) << 3 | u16::from(more);
            p.extend_from_slice(&[nh.0, 0]);
            p.extend_from_slice(&word.to_be_bytes());
            p.extend_from_slice(&ident.to_be_bytes());
        } else {
            let mut h = Ipv4Header::from_slice(ip).unwrap().0;
            h.total_len = (20 + chunk.len()) as u16;
            h.identification = ident as u16;
            h.dont_fragment = false;
            h.more_fragments = more;
            h.fragment_offset = etherparse::IpFragOffset::try_new((off / 8) as u16).unwrap();
            h.header_checksum = h.calc_header_checksum();
            h.write(&mut p).unwrap();
        }
        p.extend_from_slice(chunk);
        out.push(p);
        off = end;
    }
    out
}

fn eth(src: [u8; 6], dst: [u8; 6], v6: bool, ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    Ethernet2Header {
        source: src,
        destination: dst,
        ether_type: if v6 { EtherType::IPV6 } else { EtherType::IPV4 },
    }
    .write(&mut f)
    .unwrap();
    f.extend_from_slice(ip);
    f
}

/// The IP packet of a spec with IPv4 DF cleared (a datagram a host
/// fragments has DF off).
fn ip_of(s: &Spec) -> Vec<u8> {
    let mut ip = s.ip_packet();
    if ip[0] >> 4 == 4 {
        let mut h = Ipv4Header::from_slice(&ip).unwrap().0;
        h.dont_fragment = false;
        h.header_checksum = h.calc_header_checksum();
        let mut hb = Vec::new();
        h.write(&mut hb).unwrap();
        ip[..20].copy_from_slice(&hb);
    }
    ip
}

/// Fragments of 1232 bytes (a multiple of 8, fits 1500 with headers).
const CHUNK: usize = 1232;

/// The datagram of `s` (DF off), cut into fragments of [`CHUNK`] bytes
/// with identification `ident`, each in a frame from `src` to `dst`.
fn framed(s: &Spec, ident: u32, src: [u8; 6], dst: [u8; 6]) -> Vec<Vec<u8>> {
    let v6 = s.src.is_ipv6();
    cut(&ip_of(s), ident, CHUNK)
        .iter()
        .map(|p| eth(src, dst, v6, p))
        .collect()
}

/// An IPv4 packet in a frame from the client-side gateway.
fn from_client4(ip: &[u8]) -> Vec<u8> {
    eth(GW_MAC, DIR_CLIENT_MAC, false, ip)
}

/// Run a frame through the worker, with the same buffer shape as the driver.
fn feed(
    w: &mut Worker,
    plan: &Plan,
    n: &StaticNeighbors,
    now: u32,
    ingress: usize,
    f: &[u8],
) -> (Verdict, Vec<u8>) {
    run(w, plan, n, now, ingress, f)
}

/// Process every released fragment as the driver does.
fn release(w: &mut Worker, plan: &Plan, n: &StaticNeighbors, now: u32) -> Vec<(Verdict, Vec<u8>)> {
    let mut out = Vec::new();
    while w.has_released_fragments() {
        let mut buf = vec![0u8; 4096];
        let (len, ingress) = w
            .take_released_fragment(&mut buf[HEADROOM..])
            .expect("a released fragment fits a frame");
        let mut pkt = FrameBuf::new(&mut buf, HEADROOM, len).unwrap();
        let v = w.process_released(plan, n, now, ingress, &mut pkt);
        out.push((v, pkt.frame().to_vec()));
    }
    out
}

#[test]
fn every_fragment_of_a_datagram_to_a_vip_is_forwarded_in_every_method_golden() {
    for method in ["dr", "nat", "tun", "fullnat"] {
        for v6 in [false, true] {
            for tcp in [false, true] {
                let what = format!("{method} v6={v6} tcp={tcp}");
                let (plan, n, mut worker) = lab_worker();
                let w = &mut worker;
                let client = pick(v6, CLIENT4, CLIENT6);
                let rs = pick(v6, RS4[0], RS6[0]);
                let lip = pick(v6, LIP4, LIP6);
                let port = if tcp { TCP_PORT } else { UDP_PORT };
                let input = datagram(client, CPORT, method_vip(method, v6), port, tcp);
                let frags = framed(&input, IDENT, GW_MAC, DIR_CLIENT_MAC);
                assert_eq!(frags.len(), 3, "{what}");
                let rport = match (method, tcp) {
                    ("dr" | "tun", _) => port,
                    (_, true) => RS_TCP_PORT,
                    (_, false) => RS_UDP_PORT,
                };
                let to_rs = match method {
                    "nat" => datagram(client, CPORT, rs, rport, tcp),
                    "fullnat" => datagram(lip, 1024, rs, rport, tcp),
                    _ => input.clone(),
                }
                .ttl(63);
                let want = framed(&to_rs, IDENT, DIR_SERVER_MAC, rs_mac(0));
                let expect = |i: usize, got: &[u8]| {
                    if method == "tun" {
                        // DF copied from the inner fragment, which has it off.
                        tunnel_frame(&want[i][14..], v6, got, false)
                    } else {
                        want[i].clone()
                    }
                };

                // Last fragment first, then the middle one: both wait.
                let (v, _) = feed(w, &plan, &n, 100, CLIENT_IF, &frags[2]);
                assert_eq!(v, Verdict::Held, "{what}: last fragment");
                let (v, _) = feed(w, &plan, &n, 100, CLIENT_IF, &frags[1]);
                assert_eq!(v, Verdict::Held, "{what}: middle fragment");
                assert!(!w.has_released_fragments());
                // The first is scheduled and forwarded, and releases them.
                let (v, out) = feed(w, &plan, &n, 100, CLIENT_IF, &frags[0]);
                assert_eq!(v, Verdict::Forward { iface: SERVER_IF }, "{what}: first");
                assert_eq!(
                    out,
                    expect(0, &out),
                    "{what}: first fragment to the real server"
                );
                let released = release(w, &plan, &n, 100);
                assert_eq!(released.len(), 2, "{what}");
                for ((v, out), i) in released.iter().zip([2, 1]) {
                    assert_eq!(*v, Verdict::Forward { iface: SERVER_IF }, "{what}: {i}");
                    assert_eq!(*out, expect(i, out), "{what}: fragment {i}");
                }
                // The whole datagram went through: its entry is gone, and a
                // stray copy of a fragment waits for a first that will not
                // come, then times out.
                let (v, _) = feed(w, &plan, &n, 101, CLIENT_IF, &frags[1]);
                assert_eq!(v, Verdict::Held, "{what}: duplicate after completion");
                w.housekeeping(&plan, 106, 64);
                let c = w.counters();
                assert_eq!(c.forwarded.load(std::sync::atomic::Ordering::Relaxed), 3);
                assert_eq!(c.rx_packets.load(std::sync::atomic::Ordering::Relaxed), 4);
                assert_eq!(c.drops(DropReason::FragTimeout), 1, "{what}");
            }
        }
    }
}

#[test]
fn fragmented_replies_are_translated_back_in_nat_and_fullnat_golden() {
    for method in ["nat", "fullnat"] {
        for v6 in [false, true] {
            let what = format!("{method} v6={v6}");
            let (plan, n, mut worker) = lab_worker();
            let w = &mut worker;
            let client = pick(v6, CLIENT4, CLIENT6);
            let rs = pick(v6, RS4[0], RS6[0]);
            let lip = pick(v6, LIP4, LIP6);
            let vip = method_vip(method, v6);
            // A one-packet request opens the flow.
            let req = Spec::udp(client, CPORT, vip, UDP_PORT).macs(GW_MAC, DIR_CLIENT_MAC);
            let (v, _) = feed(w, &plan, &n, 100, CLIENT_IF, &req.frame());
            assert_eq!(v, Verdict::Forward { iface: SERVER_IF }, "{what}");
            let (dst, dport) = if method == "fullnat" {
                (lip, 1024)
            } else {
                (client, CPORT)
            };
            let reply = Spec::udp(rs, RS_UDP_PORT, dst, dport).payload(&payload());
            let frags = framed(&reply, IDENT, rs_mac(0), DIR_SERVER_MAC);
            let to_client = Spec::udp(vip, UDP_PORT, client, CPORT)
                .payload(&payload())
                .ttl(63);
            let want = framed(&to_client, IDENT, DIR_CLIENT_MAC, GW_MAC);
            // The real server's kernel sends them in order; one is late.
            let (v, out) = feed(w, &plan, &n, 101, SERVER_IF, &frags[0]);
            assert_eq!(v, Verdict::Forward { iface: CLIENT_IF }, "{what}: first");
            assert_eq!(out, want[0], "{what}: first reply fragment");
            let (v, out) = feed(w, &plan, &n, 101, SERVER_IF, &frags[2]);
            assert_eq!(v, Verdict::Forward { iface: CLIENT_IF }, "{what}: last");
            assert_eq!(out, want[2], "{what}: last reply fragment");
            let (v, out) = feed(w, &plan, &n, 101, SERVER_IF, &frags[1]);
            assert_eq!(v, Verdict::Forward { iface: CLIENT_IF }, "{what}: middle");
            assert_eq!(out, want[1], "{what}: middle reply fragment");

            // Another reply datagram whose first fragment comes last.
            let frags2 = framed(&reply, IDENT + 1, rs_mac(0), DIR_SERVER_MAC);
            let want2 = framed(&to_client, IDENT + 1, DIR_CLIENT_MAC, GW_MAC);
            assert_eq!(
                feed(w, &plan, &n, 102, SERVER_IF, &frags2[1]).0,
                Verdict::Held
            );
            assert_eq!(
                feed(w, &plan, &n, 102, SERVER_IF, &frags2[2]).0,
                Verdict::Held
            );
            let (v, out) = feed(w, &plan, &n, 102, SERVER_IF, &frags2[0]);
            assert_eq!(v, Verdict::Forward { iface: CLIENT_IF }, "{what}");
            assert_eq!(out, want2[0], "{what}");
            let released = release(w, &plan, &n, 102);
            let outs: Vec<_> = released.iter().map(|(_, f)| f.clone()).collect();
            assert_eq!(
                outs,
                vec![want2[1].clone(), want2[2].clone()],
                "{what}: released"
            );
        }
    }
}

#[test]
fn fragments_of_a_datagram_whose_first_is_dropped_are_dropped_as_orphans() {
    let (plan, n, mut worker) = lab_worker();
    let w = &mut worker;
    // UDP port 9 has no service on the VIP.
    let input = datagram(CLIENT4.into(), CPORT, VIP4_NAT.into(), 9, false);
    let frags = framed(&input, IDENT, GW_MAC, DIR_CLIENT_MAC);
    assert_eq!(
        feed(w, &plan, &n, 100, CLIENT_IF, &frags[2]).0,
        Verdict::Held
    );
    assert_eq!(
        feed(w, &plan, &n, 100, CLIENT_IF, &frags[0]).0,
        Verdict::Drop(DropReason::NoService)
    );
    // The held fragment comes back and goes the first one's way.
    let released = release(w, &plan, &n, 100);
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].0, Verdict::Drop(DropReason::FragOrphan));
    assert_eq!(w.counters().drops(DropReason::FragOrphan), 1);
    assert_eq!(
        feed(w, &plan, &n, 100, CLIENT_IF, &frags[1]).0,
        Verdict::Drop(DropReason::FragOrphan)
    );
    assert_eq!(w.counters().drops(DropReason::FragOrphan), 2);
}

#[test]
fn a_flood_of_later_fragments_is_bounded_counted_and_times_out() {
    let (plan, n, mut worker) = lab_worker();
    let w = &mut worker;
    let input = datagram(CLIENT4.into(), CPORT, VIP4_NAT.into(), UDP_PORT, false);
    let ip = ip_of(&input);
    let (mut held, mut refused) = (0u64, 0u64);
    for id in 0..5000u32 {
        let later = &cut(&ip, id.wrapping_mul(2_654_435_761), CHUNK)[1];
        match feed(w, &plan, &n, 100, CLIENT_IF, &from_client4(later)).0 {
            Verdict::Held => held += 1,
            Verdict::Drop(DropReason::FragHoldFull | DropReason::FragMapFull) => refused += 1,
            v => panic!("unexpected {v:?}"),
        }
    }
    let c = std::sync::Arc::clone(w.counters());
    assert_eq!(held, 64, "the hold pool is the bound");
    assert_eq!(
        c.drops(DropReason::FragHoldFull) + c.drops(DropReason::FragMapFull),
        refused
    );
    assert_eq!(held + refused, 5000);
    // Nothing times out before its time; then everything held does.
    w.housekeeping(&plan, 104, 64);
    assert_eq!(c.drops(DropReason::FragTimeout), 0);
    w.housekeeping(&plan, 105, 64);
    assert_eq!(c.drops(DropReason::FragTimeout), 64);
    // The worker still forwards a whole fragmented datagram afterwards.
    let frags = cut(&ip, 77, CHUNK);
    for (i, p) in frags.iter().enumerate().rev() {
        let (v, _) = feed(w, &plan, &n, 106, CLIENT_IF, &from_client4(p));
        let want = if i == 0 {
            Verdict::Forward { iface: SERVER_IF }
        } else {
            Verdict::Held
        };
        assert_eq!(v, want, "fragment {i}");
    }
    assert!(release(w, &plan, &n, 106)
        .iter()
        .all(|(v, _)| *v == Verdict::Forward { iface: SERVER_IF }));
}

#[test]
fn unfinished_datagrams_filling_the_map_do_not_lock_a_new_one_out() {
    let (plan, n, mut worker) = lab_worker();
    let w = &mut worker;
    let input = datagram(CLIENT4.into(), CPORT, VIP4_NAT.into(), UDP_PORT, false);
    let ip = ip_of(&input);
    // Three times the map's 1,024 entries: first fragments whose datagrams
    // never finish, each forwarded and recorded.
    for id in 0..3072u32 {
        let first = &cut(&ip, id, CHUNK)[0];
        let (v, _) = feed(w, &plan, &n, 100, CLIENT_IF, &from_client4(first));
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    }
    // A new datagram, last fragment first, still finds room.
    let frags = cut(&ip, 60_000, CHUNK);
    for p in frags.iter().skip(1).rev() {
        let (v, _) = feed(w, &plan, &n, 101, CLIENT_IF, &from_client4(p));
        assert_eq!(v, Verdict::Held);
    }
    let (v, _) = feed(w, &plan, &n, 101, CLIENT_IF, &from_client4(&frags[0]));
    assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    let released = release(w, &plan, &n, 101);
    assert_eq!(released.len(), 2);
    assert!(released
        .iter()
        .all(|(v, _)| *v == Verdict::Forward { iface: SERVER_IF }));
    assert_eq!(w.counters().drops(DropReason::FragMapFull), 0);
}

/// The frames the worker queued besides the one it returned, as the
/// driver takes them.
fn extra_frames(w: &mut Worker) -> Vec<(Verdict, Vec<u8>)> {
    let mut out = Vec::new();
    while w.has_extra_tx() {
        let mut buf = vec![0u8; 4096];
        let (len, v) = w.take_extra_tx(&mut buf).expect("an extra frame fits");
        out.push((v, buf[..len].to_vec()));
    }
    out
}

/// Full-size fragments (1480 data bytes: 1500-byte packets on a 1500-byte
/// link) to a TUN service: each one's IPIP packet is 1520 bytes, so the
/// director fragments the outer packet as the kernel's tunnel transmit
/// does (inner DF clear, outer DF clear): a 1500-byte first outer fragment
/// in the frame, a 40-byte second one queued for the driver. Every frame
/// is compared with the outer packet cut afresh here.
#[test]
fn full_size_ipv4_fragments_through_tun_leave_as_outer_fragments_golden() {
    let (plan, n, mut worker) = lab_worker();
    let w = &mut worker;
    let input = datagram(CLIENT4.into(), CPORT, VIP4_TUN.into(), UDP_PORT, false);
    let inner = cut(&ip_of(&input), IDENT, 1480);
    assert_eq!(
        inner.iter().map(Vec::len).collect::<Vec<_>>(),
        [1500, 1500, 71]
    );
    let to_rs = cut(&ip_of(&input.clone().ttl(63)), IDENT, 1480);
    for (i, frag) in inner.iter().enumerate() {
        let (v, out) = feed(w, &plan, &n, 100, CLIENT_IF, &from_client4(frag));
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF }, "fragment {i}");
        let whole = tunnel_frame(&to_rs[i], false, &out, false);
        let extra = extra_frames(w);
        if to_rs[i].len() + 20 <= 1500 {
            assert_eq!(out, whole, "fragment {i} fits as it is");
            assert!(extra.is_empty());
            continue;
        }
        let outer_ident = u32::from(u16::from_be_bytes([out[18], out[19]]));
        let want: Vec<Vec<u8>> = cut(&whole[14..], outer_ident, 1480)
            .iter()
            .map(|p| eth(DIR_SERVER_MAC, rs_mac(0), false, p))
            .collect();
        assert_eq!(want.iter().map(Vec::len).collect::<Vec<_>>(), [1514, 54]);
        assert_eq!(out, want[0], "fragment {i}: first outer fragment");
        assert_eq!(
            extra,
            vec![(Verdict::Forward { iface: SERVER_IF }, want[1].clone())],
            "fragment {i}: second outer fragment"
        );
    }
    assert_eq!(w.counters().drops(DropReason::TooBig), 0);
}

/// With DF set on a full-size IPv4 packet (and pmtu_disc, the default)
/// the director answers frag-needed with the tunnel's MTU and sends
/// nothing on, as ip_vs_tunnel_xmit() does; no outer fragment is queued.
#[test]
fn a_full_size_packet_with_df_to_tun_gets_frag_needed_not_fragments() {
    let (plan, n, mut worker) = lab_worker();
    let w = &mut worker;
    let input = Spec::udp(CLIENT4.into(), CPORT, VIP4_TUN.into(), UDP_PORT).payload(&[7; 1472]);
    let ip = input.ip_packet();
    assert_eq!(ip.len(), 1500);
    assert!(Ipv4Header::from_slice(&ip).unwrap().0.dont_fragment);
    let (v, out) = feed(w, &plan, &n, 100, CLIENT_IF, &from_client4(&ip));
    assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
    // ICMP type 3 code 4, next-hop MTU 1480.
    assert_eq!((out[34], out[35]), (3, 4));
    assert_eq!(u16::from_be_bytes([out[40], out[41]]), 1480);
    assert!(!w.has_extra_tx());
    assert_eq!(w.counters().drops(DropReason::TooBig), 1);
}
