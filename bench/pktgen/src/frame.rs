//! The generator's frames: one Ethernet/IPv4 UDP datagram or TCP SYN built
//! with etherparse at start (so every header and checksum is right by
//! construction), then re-aimed at another flow by patching only the
//! source address and port and updating the two checksums incrementally
//! (RFC 1624 §3, eqn. 3), so the send loop never rebuilds a packet.
//!
//! Sizes follow pktgen and TRex: `--size 64` is a 64-byte Ethernet frame
//! *including* the 4-byte FCS the NIC would append, so 60 bytes are
//! written. UDP carries the remainder as payload; a TCP SYN carries none
//! and the frame is padded with zeros after the IP datagram (RFC 894:
//! Ethernet pads short frames; the IP total length says where the
//! datagram ends).

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;

/// The Ethernet frame check sequence, counted in `--size` but written by
/// the NIC (and not at all by a veth).
pub const FCS_LEN: usize = 4;
/// Smallest Ethernet frame, FCS included (IEEE 802.3).
pub const MIN_FRAME: usize = 64;
/// Largest frame we build: a standard 1500-byte MTU plus the Ethernet
/// header and FCS.
pub const MAX_FRAME: usize = 1518;

const ETH_LEN: usize = 14;
const IP_OFF: usize = ETH_LEN;
const IP_CSUM: usize = IP_OFF + 10;
const IP_SRC: usize = IP_OFF + 12;
const L4_OFF: usize = IP_OFF + 20;
const UDP_CSUM: usize = L4_OFF + 6;
const TCP_CSUM: usize = L4_OFF + 16;
const UDP_HDR: usize = 8;
const TCP_HDR: usize = 20;
/// TTL of generated packets (the director decrements nothing, the kernel
/// baseline decrements once).
const TTL: u8 = 64;
/// Sequence number and window of generated SYNs (any value will do; fixed
/// so the frames are reproducible).
const SYN_SEQ: u32 = 0x1000_0000;
const SYN_WINDOW: u16 = 64240;

/// Transport of the generated packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Udp,
    /// A bare SYN: every flow looks like a connection attempt.
    TcpSyn,
}

/// The per-flow fields: what the generator varies between flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: Ipv4Addr,
    pub sport: u16,
}

/// Everything fixed across flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub dst: Ipv4Addr,
    pub dport: u16,
    pub l4: L4,
    /// Ethernet frame size including the FCS (pktgen's convention).
    pub size: usize,
}

/// Why a frame cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame size {size} is outside {min}..={MAX_FRAME} (bytes on the wire, FCS included)")]
    Size { size: usize, min: usize },
    #[error("building the frame failed: {0}")]
    Build(String),
    #[error("frame of {0} bytes is too short to hold the generator's headers")]
    Short(usize),
}

impl FrameSpec {
    /// Bytes actually written into the UMEM (the FCS left out).
    pub fn wire_len(&self) -> usize {
        self.size - FCS_LEN
    }

    fn headers_len(&self) -> usize {
        ETH_LEN
            + 20
            + match self.l4 {
                L4::Udp => UDP_HDR,
                L4::TcpSyn => TCP_HDR,
            }
    }

    /// Builds the frame of `flow`: `wire_len()` bytes, checksums complete.
    pub fn build(&self, flow: Flow) -> Result<Vec<u8>, FrameError> {
        let min = MIN_FRAME.max(self.headers_len() + FCS_LEN);
        if self.size < min || self.size > MAX_FRAME {
            return Err(FrameError::Size {
                size: self.size,
                min,
            });
        }
        let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac).ipv4(
            flow.src.octets(),
            self.dst.octets(),
            TTL,
        );
        let mut out = Vec::with_capacity(self.wire_len());
        let room = self.wire_len() - self.headers_len();
        let built = match self.l4 {
            L4::Udp => {
                // A recognisable payload: the bytes count up from zero.
                let payload: Vec<u8> = (0..room).map(|i| i as u8).collect();
                eth.udp(flow.sport, self.dport).write(&mut out, &payload)
            }
            L4::TcpSyn => eth
                .tcp(flow.sport, self.dport, SYN_SEQ, SYN_WINDOW)
                .syn()
                .write(&mut out, &[]),
        };
        built.map_err(|e| FrameError::Build(e.to_string()))?;
        // RFC 894 padding for a SYN shorter than the minimum frame.
        out.resize(self.wire_len(), 0);
        Ok(out)
    }
}

/// One's-complement sum of `data` as big-endian 16-bit words (RFC 1071).
fn ones_sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for the words `old` replaced
/// by `new` (same length, an even number of bytes).
fn csum_replace(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut acc = u32::from(!hc);
    let mut o = old.chunks_exact(2);
    for w in &mut o {
        acc += u32::from(!u16::from_be_bytes([w[0], w[1]]));
    }
    acc = ones_sum(acc, new);
    !fold(acc)
}

fn read_u16(frame: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([frame[at], frame[at + 1]])
}

fn write_u16(frame: &mut [u8], at: usize, v: u16) {
    frame[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Re-aims a frame built by [`FrameSpec::build`] from flow `from` to flow
/// `to`: rewrites the source address and port and updates the IPv4 header
/// checksum (address) and the L4 checksum (pseudo-header address, port).
pub fn retarget(frame: &mut [u8], l4: L4, from: Flow, to: Flow) -> Result<(), FrameError> {
    let csum_at = match l4 {
        L4::Udp => UDP_CSUM,
        L4::TcpSyn => TCP_CSUM,
    };
    if frame.len() < csum_at + 2 {
        return Err(FrameError::Short(frame.len()));
    }
    let (old_ip, new_ip) = (from.src.octets(), to.src.octets());
    let (old_port, new_port) = (from.sport.to_be_bytes(), to.sport.to_be_bytes());

    let ip_csum = csum_replace(read_u16(frame, IP_CSUM), &old_ip, &new_ip);
    write_u16(frame, IP_CSUM, ip_csum);
    frame[IP_SRC..IP_SRC + 4].copy_from_slice(&new_ip);

    let mut l4_csum = read_u16(frame, csum_at);
    l4_csum = csum_replace(l4_csum, &old_ip, &new_ip);
    l4_csum = csum_replace(l4_csum, &old_port, &new_port);
    if l4 == L4::Udp && l4_csum == 0 {
        // RFC 768: a computed UDP checksum of zero is sent as all ones
        // (zero means "no checksum").
        l4_csum = 0xffff;
    }
    write_u16(frame, csum_at, l4_csum);
    frame[L4_OFF..L4_OFF + 2].copy_from_slice(&new_port);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use proptest::prelude::*;

    fn spec(l4: L4, size: usize) -> FrameSpec {
        FrameSpec {
            src_mac: [0x02, 0, 0, 0, 0, 0x0a],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            dst: Ipv4Addr::new(198, 18, 0, 100),
            dport: 9,
            l4,
            size,
        }
    }

    fn flow(src: [u8; 4], sport: u16) -> Flow {
        Flow {
            src: Ipv4Addr::from(src),
            sport,
        }
    }

    /// The checksums of a built frame verify: the IPv4 header sums to
    /// all ones, and so does the L4 segment with its pseudo-header.
    fn checksums_verify(frame: &[u8]) -> bool {
        let ip_ok = fold(ones_sum(0, &frame[IP_OFF..L4_OFF])) == 0xffff;
        let total = usize::from(read_u16(frame, IP_OFF + 2));
        let l4_len = total - 20;
        let mut acc = ones_sum(0, &frame[IP_SRC..IP_SRC + 8]);
        acc += u32::from(frame[IP_OFF + 9]) + l4_len as u32;
        acc = ones_sum(acc, &frame[L4_OFF..L4_OFF + l4_len]);
        ip_ok && fold(acc) == 0xffff
    }

    #[test]
    fn a_64_byte_udp_frame_is_60_bytes_with_an_18_byte_payload() {
        let f = spec(L4::Udp, 64)
            .build(flow([198, 18, 0, 10], 1024))
            .unwrap();
        // Golden header bytes: MACs, IPv4 (DF set by etherparse), UDP.
        assert_eq!(f.len(), 60);
        assert_eq!(
            &f[..14],
            &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x00]
        );
        assert_eq!(&f[14..16], &[0x45, 0x00]);
        assert_eq!(read_u16(&f, 16), 46, "IPv4 total length");
        assert_eq!(f[14 + 8], 64, "TTL");
        assert_eq!(f[14 + 9], 17, "protocol UDP");
        assert_eq!(&f[26..34], &[198, 18, 0, 10, 198, 18, 0, 100]);
        assert_eq!(&f[34..38], &[0x04, 0x00, 0x00, 0x09], "ports 1024 → 9");
        assert_eq!(read_u16(&f, 38), 26, "UDP length");
        assert_eq!(&f[42..], &(0..18u8).collect::<Vec<_>>()[..]);
        assert!(checksums_verify(&f));
        let parsed = SlicedPacket::from_ethernet(&f).unwrap();
        assert!(matches!(parsed.net, Some(NetSlice::Ipv4(_))));
        assert!(matches!(parsed.transport, Some(TransportSlice::Udp(_))));
    }

    #[test]
    fn a_syn_is_padded_after_the_datagram() {
        let f = spec(L4::TcpSyn, 64)
            .build(flow([198, 18, 0, 10], 2000))
            .unwrap();
        assert_eq!(f.len(), 60);
        assert_eq!(read_u16(&f, 16), 40, "IPv4 + TCP, no payload");
        assert_eq!(f[14 + 9], 6);
        assert_eq!(f[L4_OFF + 13], 0x02, "only SYN set");
        assert_eq!(&f[54..], &[0; 6], "Ethernet padding");
        assert!(checksums_verify(&f));
    }

    #[test]
    fn sizes_outside_ethernet_are_refused() {
        assert_eq!(
            spec(L4::Udp, 63).build(flow([1, 1, 1, 1], 1)),
            Err(FrameError::Size { size: 63, min: 64 })
        );
        assert!(spec(L4::Udp, 1519).build(flow([1, 1, 1, 1], 1)).is_err());
        assert_eq!(
            spec(L4::Udp, 1518)
                .build(flow([1, 1, 1, 1], 1))
                .unwrap()
                .len(),
            1514
        );
    }

    #[test]
    fn retarget_refuses_a_short_frame() {
        let mut short = [0u8; 30];
        let f = flow([1, 1, 1, 1], 1);
        assert_eq!(
            retarget(&mut short, L4::Udp, f, f),
            Err(FrameError::Short(30))
        );
    }

    #[test]
    fn a_udp_checksum_that_comes_out_zero_is_sent_as_all_ones() {
        // Search a flow whose full checksum is 0xffff (sent as is, never
        // zero): its retargeted version must equal the built one.
        let s = spec(L4::Udp, 64);
        let base = flow([198, 18, 0, 10], 1024);
        let mut frame = s.build(base).unwrap();
        let hit = (0..=u16::MAX).find_map(|p| {
            let b = s.build(flow([198, 18, 0, 10], p)).ok()?;
            (read_u16(&b, UDP_CSUM) == 0xffff).then_some((p, b))
        });
        let (port, built) = hit.expect("some port gives an all-ones checksum");
        retarget(&mut frame, L4::Udp, base, flow([198, 18, 0, 10], port)).unwrap();
        assert_eq!(frame, built);
    }

    proptest! {
        /// Patching a frame from one flow to another gives exactly the
        /// frame etherparse builds for the new flow.
        #[test]
        fn retarget_equals_a_fresh_build(
            a in any::<[u8; 4]>(), ap in any::<u16>(),
            b in any::<[u8; 4]>(), bp in any::<u16>(),
            tcp in any::<bool>(), size in 64usize..200,
        ) {
            let l4 = if tcp { L4::TcpSyn } else { L4::Udp };
            let s = spec(l4, size);
            let mut f = s.build(flow(a, ap)).unwrap();
            retarget(&mut f, l4, flow(a, ap), flow(b, bp)).unwrap();
            prop_assert_eq!(&f, &s.build(flow(b, bp)).unwrap());
            prop_assert!(checksums_verify(&f));
        }
    }
}
