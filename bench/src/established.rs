//! Established-flow scenarios: one TCP connection per forwarding method,
//! driven through the real handshake (SYN, the real server's SYN+ACK where
//! the director sees replies, the client's ACK) until its entry is
//! ESTABLISHED, and the frame a bench then sends again and again: an ACK
//! carrying a few bytes, in the direction named by the [`Path`].

use std::net::IpAddr;

use xvs_conn::ConnState;
use xvs_testkit::{
    rs_mac, Spec, ACK, CLIENT4, CLIENT_IF, DIR_SERVER_MAC, LAB_YAML, RS4, RS_TCP_PORT, SERVER_IF,
    SYN, TCP_PORT, VIP4_DR, VIP4_FNAT, VIP4_NAT, VIP4_TUN,
};

use crate::neighbors::FastNeighbors;
use crate::rig::{expect_forward, Rig, SetupError};

/// Client port of the benched connection.
const CPORT: u16 = 40_001;
/// Table size of these scenarios (one live entry; the size does not matter).
const CAPACITY: usize = 4096;

/// A forwarding method and the direction of the benched packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// DR, client → VIP: MAC rewrite only (the headline).
    DrIn,
    /// NAT, client → VIP → RIP (destination rewrite).
    NatIn,
    /// NAT, RIP → client reply (source rewritten back to the VIP).
    NatOut,
    /// FullNAT, client → VIP, sent from the local address to the RIP.
    FullNatIn,
    /// FullNAT reply, RIP → local address, sent from the VIP to the client.
    FullNatOut,
    /// TUN, client → VIP, IPIP-encapsulated to the RIP.
    TunIn,
}

impl Path {
    pub const ALL: [Path; 6] = [
        Path::DrIn,
        Path::NatIn,
        Path::NatOut,
        Path::FullNatIn,
        Path::FullNatOut,
        Path::TunIn,
    ];

    /// The bench id.
    pub const fn name(self) -> &'static str {
        match self {
            Path::DrIn => "dr_in",
            Path::NatIn => "nat_in",
            Path::NatOut => "nat_out",
            Path::FullNatIn => "fullnat_in",
            Path::FullNatOut => "fullnat_out",
            Path::TunIn => "tun_in",
        }
    }

    fn vip(self) -> IpAddr {
        match self {
            Path::DrIn => VIP4_DR.into(),
            Path::NatIn | Path::NatOut => VIP4_NAT.into(),
            Path::FullNatIn | Path::FullNatOut => VIP4_FNAT.into(),
            Path::TunIn => VIP4_TUN.into(),
        }
    }

    /// Whether the director sees the real server's replies (NAT, FullNAT).
    fn sees_replies(self) -> bool {
        matches!(
            self,
            Path::NatIn | Path::NatOut | Path::FullNatIn | Path::FullNatOut
        )
    }

    fn is_reply(self) -> bool {
        matches!(self, Path::NatOut | Path::FullNatOut)
    }
}

/// A rig holding one ESTABLISHED connection and the frame to bench.
#[derive(Debug)]
pub struct Established {
    pub rig: Rig,
    pub frame: Vec<u8>,
    /// The interface the frame arrives on.
    pub ingress: usize,
    /// The interface it must leave by.
    pub egress: usize,
}

/// Set up `path`'s connection on the fixture configuration.
pub fn established(path: Path) -> Result<Established, SetupError> {
    let mut rig = Rig::new(LAB_YAML, CAPACITY, CAPACITY, FastNeighbors::lab())?;
    let client: IpAddr = CLIENT4.into();
    let rip: IpAddr = RS4[0].into();
    let vip = path.vip();

    let syn = Spec::tcp(client, CPORT, vip, TCP_PORT, SYN).frame();
    expect_forward(&mut rig, "client SYN", CLIENT_IF, &syn, SERVER_IF)?;
    // The real server answers the address:port the director sent from:
    // the client for NAT, the allocated local address:port for FullNAT.
    let mut reply_to = (client, CPORT);
    rig.table.for_each(|e| reply_to = (e.laddr, e.lport));
    let rport = if path.sees_replies() {
        RS_TCP_PORT
    } else {
        TCP_PORT
    };
    let from_rs = |flags| {
        Spec::tcp(rip, rport, reply_to.0, reply_to.1, flags)
            .macs(rs_mac(0), DIR_SERVER_MAC)
            .frame()
    };
    if path.sees_replies() {
        let synack = from_rs(SYN | ACK);
        expect_forward(&mut rig, "server SYN+ACK", SERVER_IF, &synack, CLIENT_IF)?;
    }
    let ack = Spec::tcp(client, CPORT, vip, TCP_PORT, ACK).frame();
    expect_forward(&mut rig, "client ACK", CLIENT_IF, &ack, SERVER_IF)?;
    let state = rig.state_of(CPORT);
    if state != Some(ConnState::Established) {
        return Err(SetupError::State {
            what: path.name(),
            expected: ConnState::Established,
            found: state,
        });
    }
    let (frame, ingress, egress) = if path.is_reply() {
        (from_rs(ACK), SERVER_IF, CLIENT_IF)
    } else {
        (ack, CLIENT_IF, SERVER_IF)
    };
    Ok(Established {
        rig,
        frame,
        ingress,
        egress,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xvs_dataplane::Verdict;
    use xvs_testkit::{ip_headers, CLIENT4, DIR_CLIENT_MAC, GW_MAC, LIP4};

    /// Run the benched frame a few times and return the last output frame.
    fn bench_output(path: Path) -> Vec<u8> {
        let mut s = established(path).unwrap_or_else(|e| panic!("{e}"));
        let mut out = 0..0;
        for _ in 0..3 {
            let (verdict, range) = s.rig.run(s.ingress, &s.frame);
            assert_eq!(verdict, Verdict::Forward { iface: s.egress }, "{path:?}");
            out = range;
        }
        assert_eq!(s.rig.table.len(), 1, "{path:?}: hits the one entry");
        assert_eq!(
            s.rig.state_of(CPORT),
            Some(ConnState::Established),
            "{path:?}"
        );
        s.rig.bytes(out).to_vec()
    }

    fn addrs(frame: &[u8]) -> (IpAddr, IpAddr) {
        let (v4, _, _) = ip_headers(frame).expect("an IP frame");
        let h = v4.expect("IPv4");
        (h.source.into(), h.destination.into())
    }

    #[test]
    fn every_path_forwards_its_frame_on_an_established_entry() {
        for path in Path::ALL {
            bench_output(path);
        }
    }

    /// The timed body: every burst forwards all its frames, and the one
    /// entry stays ESTABLISHED, as the buffers are refilled burst after
    /// burst.
    #[test]
    fn every_burst_forwards_every_frame() {
        for path in Path::ALL {
            let mut e = established(path).unwrap();
            let frames = vec![e.frame.clone(); crate::rig::BURST];
            for i in 0..5 {
                let n = e.rig.transmit_burst(e.ingress, &frames);
                assert_eq!(n, frames.len(), "{path:?} burst {i}");
            }
            assert_eq!(e.rig.table.len(), 1, "{path:?}");
            assert_eq!(e.rig.state_of(CPORT), Some(ConnState::Established));
        }
    }

    #[test]
    fn paths_apply_their_method_rewrite() {
        let client: IpAddr = CLIENT4.into();
        let rip: IpAddr = RS4[0].into();
        let out = bench_output(Path::DrIn);
        assert_eq!(&out[0..6], &rs_mac(0), "DR: to the real server's MAC");
        assert_eq!(addrs(&out), (client, VIP4_DR.into()), "DR: IP untouched");
        assert_eq!(addrs(&bench_output(Path::NatIn)), (client, rip));
        let out = bench_output(Path::NatOut);
        assert_eq!(&out[0..12], &[GW_MAC, DIR_CLIENT_MAC].concat()[..]);
        assert_eq!(addrs(&out), (VIP4_NAT.into(), client));
        assert_eq!(addrs(&bench_output(Path::FullNatIn)), (LIP4.into(), rip));
        assert_eq!(
            addrs(&bench_output(Path::FullNatOut)),
            (VIP4_FNAT.into(), client)
        );
        let out = bench_output(Path::TunIn);
        assert_eq!(out[14 + 9], 4, "TUN: outer protocol is IPIP");
        assert_eq!(
            out.len(),
            established(Path::TunIn).unwrap().frame.len() + 20
        );
    }
}
