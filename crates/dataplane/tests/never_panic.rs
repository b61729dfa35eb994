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
    v
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
