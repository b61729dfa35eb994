//! Test-only frame builders on top of etherparse, shared by the unit tests.

use etherparse::PacketBuilder;

pub const CMAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const DMAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const CIP4: [u8; 4] = [198, 51, 100, 9];
pub const VIP4: [u8; 4] = [192, 0, 2, 80];
pub const CIP6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
pub const VIP6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
];

pub fn tcp4(flags_syn: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let b = PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv4(CIP4, VIP4, 64)
        .tcp(40000, 80, 1000, 65535);
    let b = if flags_syn { b.syn() } else { b.ack(1) };
    b.write(&mut out, payload).unwrap();
    out
}

pub fn udp4(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv4(CIP4, VIP4, 64)
        .udp(5353, 53)
        .write(&mut out, payload)
        .unwrap();
    out
}

pub fn tcp6(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv6(CIP6, VIP6, 64)
        .tcp(40000, 443, 1000, 65535)
        .syn()
        .write(&mut out, payload)
        .unwrap();
    out
}

pub fn udp6(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(CMAC, DMAC)
        .ipv6(CIP6, VIP6, 64)
        .udp(5353, 53)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// Wraps an IP packet in an untagged Ethernet header.
pub fn eth(ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&DMAC);
    out.extend_from_slice(&CMAC);
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(ip);
    out
}
