//! Golden frames through the decap program: tunnelled packets for a VIP
//! come out as the inner packet behind the same Ethernet header (and VLAN
//! tags) with the inner ethertype; everything else comes out untouched.

use etherparse::{IpNumber, PacketBuilder};

use super::{load_or_skip, run, CLIENT_MAC, DIRECTOR_MAC, XDP_PASS};
use crate::rules::{v4_key, v6_key};
use crate::steer::{percpu_sum, sync_map};
use crate::{DECAP_OBJECT, DECAP_PROGRAM};

const DIP4: [u8; 4] = [198, 18, 0, 1];
const RIP4: [u8; 4] = [198, 18, 0, 2];
const CIP4: [u8; 4] = [198, 19, 0, 9];
const VIP4: [u8; 4] = [198, 18, 0, 100];
const OTHER4: [u8; 4] = [198, 18, 0, 101];
const DIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const RIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const CIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
const VIP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];

fn load(test: &str) -> Option<aya::Ebpf> {
    let mut ebpf = load_or_skip(test, DECAP_OBJECT, DECAP_PROGRAM)?;
    let v4 = [(v4_key(VIP4.into()), 1u8)].into();
    let v6 = [(v6_key(VIP6.into()), 1u8)].into();
    sync_map(&mut ebpf, "vip4", &mut Default::default(), &v4).unwrap();
    sync_map(&mut ebpf, "vip6", &mut Default::default(), &v6).unwrap();
    Some(ebpf)
}

fn inner4(dst: [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(CIP4, dst, 63)
        .udp(40000, 53)
        .write(&mut v, b"inner")
        .unwrap();
    v
}

fn inner6(dst: [u8; 16]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(CIP6, dst, 63)
        .udp(40000, 53)
        .write(&mut v, b"inner")
        .unwrap();
    v
}

fn outer4(proto: u8, inner: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(DIRECTOR_MAC, CLIENT_MAC)
        .ipv4(DIP4, RIP4, 64)
        .write(&mut v, IpNumber(proto), inner)
        .unwrap();
    v
}

fn outer6(next: u8, inner: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(DIRECTOR_MAC, CLIENT_MAC)
        .ipv6(DIP6, RIP6, 64)
        .write(&mut v, IpNumber(next), inner)
        .unwrap();
    v
}

/// The frame the stack should see: same MACs, inner ethertype, inner packet.
fn expected(ethertype: [u8; 2], inner: &[u8]) -> Vec<u8> {
    let mut v = DIRECTOR_MAC.to_vec();
    v.extend_from_slice(&CLIENT_MAC);
    // PacketBuilder::ethernet2(source, destination) writes destination first.
    v[..6].copy_from_slice(&CLIENT_MAC);
    v[6..12].copy_from_slice(&DIRECTOR_MAC);
    v.extend_from_slice(&ethertype);
    v.extend_from_slice(inner);
    v
}

const ETH_IPV4: [u8; 2] = [0x08, 0x00];
const ETH_IPV6: [u8; 2] = [0x86, 0xdd];

#[test]
fn strips_every_outer_and_inner_family_combination() {
    let Some(ebpf) = load("strips_every_outer_and_inner_family_combination") else {
        return;
    };
    let cases = [
        (
            outer4(4, &inner4(VIP4)),
            expected(ETH_IPV4, &inner4(VIP4)),
            "4in4",
        ),
        (
            outer6(41, &inner6(VIP6)),
            expected(ETH_IPV6, &inner6(VIP6)),
            "6in6",
        ),
        (
            outer4(41, &inner6(VIP6)),
            expected(ETH_IPV6, &inner6(VIP6)),
            "6in4",
        ),
        (
            outer6(4, &inner4(VIP4)),
            expected(ETH_IPV4, &inner4(VIP4)),
            "4in6",
        ),
    ];
    for (i, (frame, want, name)) in cases.iter().enumerate() {
        let (verdict, out) = run(&ebpf, DECAP_PROGRAM, frame);
        assert_eq!(verdict, XDP_PASS, "{name}");
        assert_eq!(&out, want, "{name}");
        assert_eq!(
            percpu_sum(&ebpf, 0).unwrap(),
            i as u64 + 1,
            "{name}: decapsulated count"
        );
    }
    assert_eq!(percpu_sum(&ebpf, 1).unwrap(), 0);
}

#[test]
fn keeps_vlan_tags_and_skips_outer_ipv4_options() {
    let Some(ebpf) = load("keeps_vlan_tags_and_skips_outer_ipv4_options") else {
        return;
    };
    // One 802.1Q tag in front of 4in4.
    let plain = outer4(4, &inner4(VIP4));
    let mut tagged = plain[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    tagged.extend_from_slice(&plain[12..]);
    let mut want = plain[..12].to_vec();
    want.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    want.extend_from_slice(&ETH_IPV4);
    want.extend_from_slice(&inner4(VIP4));
    assert_eq!(run(&ebpf, DECAP_PROGRAM, &tagged), (XDP_PASS, want));

    // QinQ in front of 6in6.
    let plain = outer6(41, &inner6(VIP6));
    let mut qinq = plain[..12].to_vec();
    qinq.extend_from_slice(&[0x88, 0xa8, 0x00, 0x05, 0x81, 0x00, 0x00, 0x07]);
    qinq.extend_from_slice(&plain[12..]);
    let mut want = qinq[..20].to_vec();
    want.extend_from_slice(&ETH_IPV6);
    want.extend_from_slice(&inner6(VIP6));
    assert_eq!(run(&ebpf, DECAP_PROGRAM, &qinq), (XDP_PASS, want));

    // Outer IPv4 with 4 bytes of options (IHL 6): a NOP option padded.
    let inner = inner4(VIP4);
    let mut frame = outer4(4, &inner);
    frame[14] = 0x46;
    let total = u16::from_be_bytes([frame[16], frame[17]]) + 4;
    frame[16..18].copy_from_slice(&total.to_be_bytes());
    frame.splice(34..34, [1, 1, 1, 0]);
    // (the outer checksum is not validated by XDP; the stack never sees it)
    assert_eq!(
        run(&ebpf, DECAP_PROGRAM, &frame),
        (XDP_PASS, expected(ETH_IPV4, &inner))
    );
}

#[test]
fn leaves_everything_else_untouched() {
    let Some(ebpf) = load("leaves_everything_else_untouched") else {
        return;
    };
    let mut fragmented = outer4(4, &inner4(VIP4));
    fragmented[20] = 0x20; // more fragments
    let mut plain_udp = Vec::new();
    PacketBuilder::ethernet2(DIRECTOR_MAC, CLIENT_MAC)
        .ipv4(CIP4, VIP4, 64)
        .udp(40000, 53)
        .write(&mut plain_udp, b"not tunnelled")
        .unwrap();
    let cases = [
        outer4(4, &inner4(OTHER4)),
        outer6(41, &inner6(CIP6)),
        outer4(41, &inner4(VIP4)), // says IPv6 inside but is IPv4
        outer4(47, &inner4(VIP4)), // GRE is not ours
        fragmented,
        plain_udp,
        outer4(4, &inner4(VIP4))[..14 + 20 + 10].to_vec(), // inner header cut short
    ];
    for (i, frame) in cases.iter().enumerate() {
        assert_eq!(
            run(&ebpf, DECAP_PROGRAM, frame),
            (XDP_PASS, frame.clone()),
            "case {i}"
        );
    }
    assert_eq!(percpu_sum(&ebpf, 0).unwrap(), 0, "nothing decapsulated");
    assert_eq!(percpu_sum(&ebpf, 1).unwrap(), cases.len() as u64);
}
