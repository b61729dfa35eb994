//! ARP for IPv4 over Ethernet (RFC 826): a view over the ARP packet (the
//! Ethernet payload), and builders for the three frames a director sends:
//! replies for the VIPs it owns, requests to resolve real servers and
//! gateways, and gratuitous ARP after a VRRP takeover (RFC 5227 §3
//! announcement, sent the way keepalived's vrrp_arp.c sends it).

use std::net::Ipv4Addr;

use crate::ethernet::{self, MacAddr};
use crate::WireError;

/// Ethernet/IPv4 ARP packet length.
pub const PACKET_LEN: usize = 28;
/// Hardware type 1 (Ethernet), RFC 826 / IANA.
pub const HTYPE_ETHERNET: u16 = 1;

pub mod field {
    //! Byte ranges of an Ethernet/IPv4 ARP packet.
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// ARP opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Request,
    Reply,
    /// Any other opcode (RARP and friends), kept so a view never fails on it.
    Other(u16),
}

impl Operation {
    pub const fn from_u16(op: u16) -> Operation {
        match op {
            1 => Operation::Request,
            2 => Operation::Reply,
            n => Operation::Other(n),
        }
    }

    pub const fn to_u16(self) -> u16 {
        match self {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Other(n) => n,
        }
    }
}

/// A validated view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < field::OPER.start {
            return Err(WireError::ArpTruncated);
        }
        if u16::from_be_bytes([b[0], b[1]]) != HTYPE_ETHERNET
            || u16::from_be_bytes([b[2], b[3]]) != ethernet::ethertype::IPV4
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(WireError::ArpUnsupported);
        }
        if b.len() < PACKET_LEN {
            return Err(WireError::ArpTruncated);
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn operation(&self) -> Operation {
        Operation::from_u16(u16::from_be_bytes([self.b()[6], self.b()[7]]))
    }

    pub fn sender_mac(&self) -> MacAddr {
        mac(&self.b()[field::SHA])
    }

    pub fn sender_ip(&self) -> Ipv4Addr {
        crate::ipv4::addr_at(self.b(), field::SPA.start)
    }

    pub fn target_mac(&self) -> MacAddr {
        mac(&self.b()[field::THA])
    }

    pub fn target_ip(&self) -> Ipv4Addr {
        crate::ipv4::addr_at(self.b(), field::TPA.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_operation(&mut self, op: Operation) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&op.to_u16().to_be_bytes());
    }

    pub fn set_sender_mac(&mut self, m: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&m);
    }

    pub fn set_sender_ip(&mut self, ip: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&ip.octets());
    }

    pub fn set_target_mac(&mut self, m: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&m);
    }

    pub fn set_target_ip(&mut self, ip: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&ip.octets());
    }
}

fn mac(b: &[u8]) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(b);
    m
}

/// The meaning of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub operation: Operation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            operation: p.operation(),
            sender_mac: p.sender_mac(),
            sender_ip: p.sender_ip(),
            target_mac: p.target_mac(),
            target_ip: p.target_ip(),
        }
    }

    /// Writes the 28-byte ARP packet.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let b = out.get_mut(..PACKET_LEN).ok_or(WireError::BufferTooSmall)?;
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&ethernet::ethertype::IPV4.to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        b[field::OPER].copy_from_slice(&self.operation.to_u16().to_be_bytes());
        b[field::SHA].copy_from_slice(&self.sender_mac);
        b[field::SPA].copy_from_slice(&self.sender_ip.octets());
        b[field::THA].copy_from_slice(&self.target_mac);
        b[field::TPA].copy_from_slice(&self.target_ip.octets());
        Ok(PACKET_LEN)
    }

    /// Writes a whole frame: Ethernet header (source = our sender MAC),
    /// the ARP packet, zero padding to 60 bytes. Returns the frame length.
    pub fn emit_frame(
        &self,
        out: &mut [u8],
        eth_dst: MacAddr,
        vlan: Option<u16>,
    ) -> Result<usize, WireError> {
        let l2 = ethernet::write_header(
            out,
            eth_dst,
            self.sender_mac,
            vlan,
            ethernet::ethertype::ARP,
        )?;
        let n = self.emit(out.get_mut(l2..).ok_or(WireError::BufferTooSmall)?)?;
        ethernet::pad_to_minimum(out, l2 + n)
    }
}

/// An ARP reply frame from `our_mac`/`our_ip` (a VIP or local address) to
/// the host that asked, unicast to its MAC (RFC 826 "swap" step).
pub fn build_reply(
    out: &mut [u8],
    vlan: Option<u16>,
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    to_mac: MacAddr,
    to_ip: Ipv4Addr,
) -> Result<usize, WireError> {
    Repr {
        operation: Operation::Reply,
        sender_mac: our_mac,
        sender_ip: our_ip,
        target_mac: to_mac,
        target_ip: to_ip,
    }
    .emit_frame(out, to_mac, vlan)
}

/// A broadcast ARP request for `target_ip`; the target MAC is zero, as
/// Linux and RFC 5227 §2.1.1 send it.
pub fn build_request(
    out: &mut [u8],
    vlan: Option<u16>,
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    target_ip: Ipv4Addr,
) -> Result<usize, WireError> {
    Repr {
        operation: Operation::Request,
        sender_mac: our_mac,
        sender_ip: our_ip,
        target_mac: [0; 6],
        target_ip,
    }
    .emit_frame(out, ethernet::BROADCAST, vlan)
}

/// A gratuitous ARP announcing `ip` at `our_mac`: broadcast frame, ARP
/// request, sender IP = target IP, target MAC broadcast, as keepalived
/// sends after becoming VRRP master (vrrp_arp.c).
pub fn build_gratuitous(
    out: &mut [u8],
    vlan: Option<u16>,
    our_mac: MacAddr,
    ip: Ipv4Addr,
) -> Result<usize, WireError> {
    Repr {
        operation: Operation::Request,
        sender_mac: our_mac,
        sender_ip: ip,
        target_mac: ethernet::BROADCAST,
        target_ip: ip,
    }
    .emit_frame(out, ethernet::BROADCAST, vlan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, PacketBuilder};

    const OURS: MacAddr = [0x02, 0xaa, 0, 0, 0, 1];
    const THEIRS: MacAddr = [0x02, 0xbb, 0, 0, 0, 2];
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);
    const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    /// The frame etherparse writes, padded to 60 as ours are.
    fn etherparse_frame(
        eth_dst: MacAddr,
        op: ArpOperation,
        sha: MacAddr,
        spa: Ipv4Addr,
        tha: MacAddr,
        tpa: Ipv4Addr,
    ) -> Vec<u8> {
        let arp = ArpPacket::new(
            ArpHardwareId::ETHERNET,
            EtherType::IPV4,
            op,
            &sha,
            &spa.octets(),
            &tha,
            &tpa.octets(),
        )
        .unwrap();
        let mut out = Vec::new();
        PacketBuilder::ethernet2(sha, eth_dst)
            .arp(arp)
            .write(&mut out)
            .unwrap();
        out.resize(60, 0);
        out
    }

    #[test]
    fn reply_bytes() {
        let mut buf = [0xeeu8; 64];
        let n = build_reply(&mut buf, None, OURS, VIP, THEIRS, CLIENT).unwrap();
        assert_eq!(n, 60);
        let want = etherparse_frame(THEIRS, ArpOperation::REPLY, OURS, VIP, THEIRS, CLIENT);
        assert_eq!(buf[..n], want[..]);
        let p = Packet::new_checked(&buf[14..n]).unwrap();
        assert_eq!(
            Repr::parse(&p),
            Repr {
                operation: Operation::Reply,
                sender_mac: OURS,
                sender_ip: VIP,
                target_mac: THEIRS,
                target_ip: CLIENT
            }
        );
    }

    #[test]
    fn request_and_gratuitous_bytes() {
        let mut buf = [0u8; 60];
        let n = build_request(&mut buf, None, OURS, VIP, CLIENT).unwrap();
        let want = etherparse_frame(
            ethernet::BROADCAST,
            ArpOperation::REQUEST,
            OURS,
            VIP,
            [0; 6],
            CLIENT,
        );
        assert_eq!(buf[..n], want[..]);

        let n = build_gratuitous(&mut buf, None, OURS, VIP).unwrap();
        let want = etherparse_frame(
            ethernet::BROADCAST,
            ArpOperation::REQUEST,
            OURS,
            VIP,
            ethernet::BROADCAST,
            VIP,
        );
        assert_eq!(buf[..n], want[..]);
        // A literal, for the record: the GARP keepalived would send.
        assert_eq!(
            buf[..42],
            [
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xaa, 0, 0, 0, 1, 0x08, 0x06, // eth
                0, 1, 0x08, 0, 6, 4, 0, 1, // htype ptype hlen plen oper
                0x02, 0xaa, 0, 0, 0, 1, 192, 0, 2, 80, // sender
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 192, 0, 2, 80, // target
            ]
        );
    }

    #[test]
    fn vlan_tagged_frame() {
        let mut buf = [0u8; 64];
        let n = build_gratuitous(&mut buf, Some(12), OURS, VIP).unwrap();
        assert_eq!(n, 60);
        let eth = ethernet::Packet::new_checked(&buf[..n]).unwrap();
        assert_eq!(eth.vlan(), Some(12));
        assert_eq!(eth.ethertype(), ethernet::ethertype::ARP);
        let p = Packet::new_checked(eth.payload()).unwrap();
        assert_eq!((p.sender_ip(), p.target_ip()), (VIP, VIP));
        assert_eq!(
            build_reply(&mut buf[..40], None, OURS, VIP, THEIRS, CLIENT),
            Err(WireError::BufferTooSmall)
        );
        assert_eq!(
            build_reply(&mut buf[..45], None, OURS, VIP, THEIRS, CLIENT),
            Err(WireError::BufferTooSmall)
        );
    }

    #[test]
    fn view_validation_and_setters() {
        let mut f = etherparse_frame(THEIRS, ArpOperation::REQUEST, THEIRS, CLIENT, [0; 6], VIP);
        let arp = &mut f[14..42];
        assert_eq!(
            Packet::new_checked(&arp[..7]).unwrap_err(),
            WireError::ArpTruncated
        );
        assert_eq!(
            Packet::new_checked(&arp[..27]).unwrap_err(),
            WireError::ArpTruncated
        );
        let mut bad = arp.to_vec();
        bad[5] = 16;
        assert_eq!(
            Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::ArpUnsupported
        );
        // Turn the request into the reply in place, as a responder may.
        let mut p = Packet::new_checked(&mut arp[..]).unwrap();
        assert_eq!(p.operation(), Operation::Request);
        p.set_operation(Operation::Reply);
        p.set_target_mac(THEIRS);
        p.set_target_ip(CLIENT);
        p.set_sender_mac(OURS);
        p.set_sender_ip(VIP);
        let want = etherparse_frame(THEIRS, ArpOperation::REPLY, OURS, VIP, THEIRS, CLIENT);
        assert_eq!(arp[..], want[14..42]);
        assert_eq!(Operation::from_u16(3), Operation::Other(3));
        assert_eq!(Operation::Other(3).to_u16(), 3);
    }
}
