//! The whole per-packet function never panics, whatever the bytes: random
//! frames, and valid frames of every method with random bytes changed or
//! cut off. Whatever it forwards must itself parse as a valid frame.

use std::net::IpAddr;

use proptest::prelude::*;
use xvs_dataplane::Verdict;
use xvs_testkit::*;

fn seeds() -> Vec<Vec<u8>> {
    let c4: IpAddr = CLIENT4.into();
    let c6: IpAddr = CLIENT6.into();
    let mut v = Vec::new();
    for vip in [
        VIP4_DR,
        VIP4_NAT,
        VIP4_TUN,
        VIP4_FNAT,
        VIP4_PERSIST,
        VIP4_EMPTY,
        VIP4_TINY,
    ] {
        v.push(Spec::tcp(c4, 1234, vip.into(), TCP_PORT, SYN).frame());
        v.push(Spec::udp(c4, 1234, vip.into(), UDP_PORT).frame());
    }
    for vip in [VIP6_DR, VIP6_NAT, VIP6_TUN, VIP6_FNAT] {
        v.push(Spec::tcp(c6, 1234, vip.into(), TCP_PORT, SYN).frame());
        v.push(Spec::udp(c6, 1234, vip.into(), UDP_PORT).frame());
    }
    // Replies and ICMP errors.
    v.push(
        Spec::tcp(RS4[0].into(), RS_TCP_PORT, c4, 1234, SYN | ACK)
            .macs(rs_mac(0), DIR_SERVER_MAC)
            .frame(),
    );
    v.push(
        Spec::udp(RS4[0].into(), RS_UDP_PORT, LIP4.into(), 1024)
            .macs(rs_mac(0), DIR_SERVER_MAC)
            .frame(),
    );
    let quoted = Spec::udp(VIP4_NAT.into(), UDP_PORT, c4, 1234).ip_packet();
    v.push(icmp_error_frame(
        GW_MAC,
        DIR_CLIENT_MAC,
        c4,
        VIP4_NAT.into(),
        &quoted,
    ));
    let quoted = Spec::udp(c4, 1234, RS4[0].into(), RS_UDP_PORT).ip_packet();
    v.push(icmp_error_frame(
        rs_mac(0),
        DIR_SERVER_MAC,
        RS4[0].into(),
        c4,
        &quoted,
    ));
    let quoted6 = Spec::udp(VIP6_NAT.into(), UDP_PORT, c6, 1234).ip_packet();
    v.push(icmp_error_frame(
        GW_MAC,
        DIR_CLIENT_MAC,
        c6,
        VIP6_NAT.into(),
        &quoted6,
    ));
    // Fragments: a first and a later one of each family, same datagram.
    let udp4 = Spec::udp(c4, 1234, VIP4_NAT.into(), UDP_PORT)
        .payload(&[7; 40])
        .frame();
    v.push(ipv4_fragment(&udp4, 0, true));
    v.push(ipv4_fragment(&udp4, 24, false));
    let udp6 = Spec::udp(c6, 1234, VIP6_NAT.into(), UDP_PORT)
        .payload(&[7; 40])
        .frame();
    v.push(ipv6_fragment(&udp6, 0, true));
    v.push(ipv6_fragment(&udp6, 24, false));
    v
}

/// `frame` (Ethernet + IPv4 without options) marked as the fragment at
/// `offset` (a multiple of 8), its header checksum recomputed.
fn ipv4_fragment(frame: &[u8], offset: u16, more: bool) -> Vec<u8> {
    let mut f = frame.to_vec();
    let word = (offset / 8) | if more { 0x2000 } else { 0 };
    f[20..22].copy_from_slice(&word.to_be_bytes());
    f[24..26].copy_from_slice(&[0, 0]);
    let sum = f[14..34]
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    f[24..26].copy_from_slice(&(!(folded as u16)).to_be_bytes());
    f
}

/// `frame` (Ethernet + IPv6, no extension headers) with a Fragment
/// header at `offset` inserted after its fixed header.
fn ipv6_fragment(frame: &[u8], offset: u16, more: bool) -> Vec<u8> {
    let mut f = frame[..54].to_vec();
    let nh = f[20];
    f[20] = 44;
    let plen = u16::from_be_bytes([f[18], f[19]]) + 8;
    f[18..20].copy_from_slice(&plen.to_be_bytes());
    f.extend_from_slice(&[nh, 0]);
    f.extend_from_slice(&((offset / 8) << 3 | u16::from(more)).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 9]);
    f.extend_from_slice(&frame[54..]);
    f
}

fn check(frames: &[Vec<u8>]) {
    let (plan, _reg) = lab_plan(2);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 2);
    for (i, f) in frames.iter().enumerate() {
        let ingress = i % 2;
        let (v, out) = run(&mut ws[i % 2], &plan, &n, i as u32, ingress, f);
        if let Verdict::Forward { .. } = v {
            assert!(
                xvs_wire::parse_frame(&out).is_ok(),
                "forwarded an unparsable frame: {out:02x?}"
            );
        }
        // Fragments a first fragment released go through again.
        let w = &mut ws[i % 2];
        while w.has_released_fragments() {
            let mut buf = vec![0u8; 4096];
            let Some((len, ingress)) = w.take_released_fragment(&mut buf[HEADROOM..]) else {
                break;
            };
            let mut pkt = xvs_dataplane::FrameBuf::new(&mut buf, HEADROOM, len).unwrap();
            if let Verdict::Forward { .. } =
                w.process_released(&plan, &n, i as u32, ingress, &mut pkt)
            {
                assert!(xvs_wire::parse_frame(pkt.frame()).is_ok());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..8)) {
        check(&frames);
    }

    #[test]
    fn mutated_valid_frames(
        picks in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6), any::<prop::sample::Index>()), 1..10)
    ) {
        let seeds = seeds();
        let frames: Vec<Vec<u8>> = picks
            .iter()
            .map(|(which, muts, cut)| {
                let mut f = seeds[which.index(seeds.len())].clone();
                for (at, byte) in muts {
                    let i = at.index(f.len());
                    f[i] = *byte;
                }
                // Sometimes truncate (the Index decides where; keep whole half the time).
                let c = cut.index(f.len() * 2);
                if c < f.len() {
                    f.truncate(c);
                }
                f
            })
            .collect();
        check(&frames);
    }
}

/// The fragment seeds are what they claim: a later fragment waits, the
/// first forwards and releases it, in both families.
#[test]
fn fragment_seeds_take_the_fragment_path() {
    let seeds = seeds();
    let (plan, _reg) = lab_plan(1);
    let n = lab_neighbors();
    let (_t, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    for pair in seeds[seeds.len() - 4..].chunks(2) {
        let (first, later) = (&pair[0], &pair[1]);
        assert_eq!(
            xvs_wire::parse_frame(first).unwrap().fragment,
            xvs_wire::Fragment::First
        );
        let (v, _) = run(w, &plan, &n, 1, CLIENT_IF, later);
        assert_eq!(v, Verdict::Held);
        let (v, _) = run(w, &plan, &n, 1, CLIENT_IF, first);
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        assert!(w.has_released_fragments());
        let mut buf = vec![0u8; 4096];
        let (len, ingress) = w.take_released_fragment(&mut buf[HEADROOM..]).unwrap();
        let mut pkt = xvs_dataplane::FrameBuf::new(&mut buf, HEADROOM, len).unwrap();
        let v = w.process_released(&plan, &n, 1, ingress, &mut pkt);
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    }
}
