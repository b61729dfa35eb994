//! The translation of a proxied connection once both halves exist.
//!
//! The client was given the cookie as the server's initial sequence
//! number and the proxy's clock as the server's timestamps; the real
//! server chose its own. So every segment is rewritten on its way
//! through (the idea of DPVS's synproxy and of Linux's SYNPROXY target):
//!
//! - server → client: sequence number − Δseq, TSval − Δts, and the window
//!   rescaled from the server's scale to the one the proxy announced;
//! - client → server: acknowledgment number + Δseq, every SACK block
//!   edge plus Δseq (SACK acknowledges server data), TSecr + Δts, and the
//!   window rescaled from the client's scale to the one the server applies.
//!
//! Each change patches the TCP checksum by RFC 1624; addresses and ports
//! are the NAT rewrite's business, not this one's.

use xvs_wire::checksum;
use xvs_wire::sync::SynproxyDelta;
use xvs_wire::tcp::{field, flags};

use crate::options::{locate, MAX_WINDOW_SCALE};

/// Offset of the option block in a TCP header.
const OPTIONS: usize = 20;

/// How one proxied connection is translated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shift {
    /// Server ISN − cookie.
    pub seq: u32,
    /// Server's first TSval − the proxy's (0 without timestamps).
    pub ts: u32,
    /// Window scale the server applies to its windows (0: none).
    pub server_scale: u8,
    /// Window scale the proxy announced to the client (0: none).
    pub client_sees_scale: u8,
    /// Window scale the client applies to its windows (0: none).
    pub client_scale: u8,
    /// Window scale the server applies to the client's windows: the
    /// client's if the server agreed to scaling, else 0.
    pub server_sees_scale: u8,
}

/// Connection sync carries a translation as it is (the xvs sync option
/// 0x46): the same six numbers, so a backup translates exactly as the
/// master did.
impl From<Shift> for SynproxyDelta {
    fn from(s: Shift) -> SynproxyDelta {
        SynproxyDelta {
            seq: s.seq,
            ts: s.ts,
            server_scale: s.server_scale,
            client_sees_scale: s.client_sees_scale,
            client_scale: s.client_scale,
            server_sees_scale: s.server_sees_scale,
        }
    }
}

impl From<SynproxyDelta> for Shift {
    fn from(d: SynproxyDelta) -> Shift {
        Shift {
            seq: d.seq,
            ts: d.ts,
            server_scale: d.server_scale,
            client_sees_scale: d.client_sees_scale,
            client_scale: d.client_scale,
            server_sees_scale: d.server_sees_scale,
        }
    }
}

impl Shift {
    /// The translation for a server that answered the proxy's SYN with
    /// `server_isn` and, if it uses timestamps, `server_tsval`, given the
    /// cookie and the proxy's timestamp value of its SYN-ACK to the client.
    /// `server_scale` is the server's window scale if both SYNs carried
    /// one; `client_scale` the client's, and `announced` the proxy's own
    /// to the client, if the client's SYN-ACK carried one.
    pub fn new(
        cookie: u32,
        server_isn: u32,
        ts: Option<(u32, u32)>,
        client_scale: Option<u8>,
        announced: Option<u8>,
        server_scale: Option<u8>,
    ) -> Shift {
        // RFC 7323 §2.2: scaling is on for a direction only when both
        // SYNs carried the option.
        let server_on = server_scale.is_some() && client_scale.is_some();
        Shift {
            seq: server_isn.wrapping_sub(cookie),
            ts: ts.map_or(0, |(server, proxy)| server.wrapping_sub(proxy)),
            server_scale: if server_on {
                server_scale.unwrap_or(0)
            } else {
                0
            },
            client_sees_scale: announced.unwrap_or(0),
            client_scale: client_scale.filter(|_| announced.is_some()).unwrap_or(0),
            server_sees_scale: if server_on {
                client_scale.unwrap_or(0)
            } else {
                0
            },
        }
    }

    /// Rewrite a segment from the real server to the client, in place.
    /// `tcp` is the whole segment (header and payload) of a validated
    /// TCP packet.
    pub fn to_client(&self, tcp: &mut [u8]) {
        let Some(hlen) = header_len(tcp) else {
            return;
        };
        let seq = read32(tcp, field::SEQ.start);
        write32(tcp, field::SEQ.start, seq.wrapping_sub(self.seq));
        rescale_window(tcp, self.server_scale, self.client_sees_scale);
        let found = locate(&tcp[OPTIONS..hlen]);
        if let Some(at) = found.timestamp {
            let at = OPTIONS + at;
            write32(tcp, at, read32(tcp, at).wrapping_sub(self.ts));
        }
    }

    /// Rewrite a segment from the client to the real server, in place.
    pub fn to_server(&self, tcp: &mut [u8]) {
        let Some(hlen) = header_len(tcp) else {
            return;
        };
        if tcp[field::FLAGS] & flags::ACK != 0 {
            let ack = read32(tcp, field::ACK.start);
            write32(tcp, field::ACK.start, ack.wrapping_add(self.seq));
        }
        rescale_window(tcp, self.client_scale, self.server_sees_scale);
        let found = locate(&tcp[OPTIONS..hlen]);
        if let Some(at) = found.timestamp {
            let at = OPTIONS + at + 4;
            write32(tcp, at, read32(tcp, at).wrapping_add(self.ts));
        }
        if let Some((at, blocks)) = found.sack {
            for edge in 0..blocks * 2 {
                let at = OPTIONS + at + 4 * edge;
                write32(tcp, at, read32(tcp, at).wrapping_add(self.seq));
            }
        }
    }
}

/// The header length of a segment whose data offset is sane, else `None`
/// (the caller validated it; this only keeps indexing in bounds).
fn header_len(tcp: &[u8]) -> Option<usize> {
    let hlen = usize::from(*tcp.get(field::DATA_OFFSET)? >> 4) * 4;
    (hlen >= OPTIONS && hlen <= tcp.len()).then_some(hlen)
}

/// A window field scaled by `from` as a window scaled by `to`: the same
/// number of bytes, rounded down, at most 65535 (RFC 7323 §2.3).
pub fn rescale(window: u16, from: u8, to: u8) -> u16 {
    let bytes = u64::from(window) << from.min(MAX_WINDOW_SCALE);
    u16::try_from(bytes >> to.min(MAX_WINDOW_SCALE)).unwrap_or(u16::MAX)
}

fn rescale_window(tcp: &mut [u8], from: u8, to: u8) {
    if from == to {
        return;
    }
    let at = field::WINDOW.start;
    let old = u16::from_be_bytes([tcp[at], tcp[at + 1]]);
    let new = rescale(old, from, to);
    tcp[at..at + 2].copy_from_slice(&new.to_be_bytes());
    patch_checksum(tcp, |c| checksum::update_u16(c, old, new));
}

fn read32(tcp: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([tcp[at], tcp[at + 1], tcp[at + 2], tcp[at + 3]])
}

/// Store a 32-bit field and patch the checksum for it. Fields at odd
/// 16-bit alignment (a timestamp after one NOP) are patched byte-exactly
/// through `update_bytes` on the covering words.
fn write32(tcp: &mut [u8], at: usize, new: u32) {
    let old = read32(tcp, at);
    if old == new {
        return;
    }
    if at.is_multiple_of(2) {
        tcp[at..at + 4].copy_from_slice(&new.to_be_bytes());
        patch_checksum(tcp, |c| checksum::update_u32(c, old, new));
    } else {
        // Odd offset: patch the three covering words (the option block is
        // word-aligned, so the byte after the field is still in the header).
        let start = at - 1;
        let Some(covering) = tcp.get(start..start + 6) else {
            return;
        };
        let mut before = [0u8; 6];
        before.copy_from_slice(covering);
        let mut after = before;
        after[1..5].copy_from_slice(&new.to_be_bytes());
        tcp[start..start + 6].copy_from_slice(&after);
        let c = checksum::update_bytes(read16(tcp, field::CHECKSUM.start), &before, &after);
        tcp[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

fn read16(tcp: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([tcp[at], tcp[at + 1]])
}

fn patch_checksum(tcp: &mut [u8], f: impl FnOnce(u16) -> u16) {
    let c = f(read16(tcp, field::CHECKSUM.start));
    tcp[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr};

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 1, 11));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 19, 0, 7));

    /// A segment with options `opts` (a multiple of 4 bytes) and a payload,
    /// its checksum filled over the pseudo-header.
    fn segment(seq: u32, ack: u32, window: u16, opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0u8; 20];
        s[0..2].copy_from_slice(&8080u16.to_be_bytes());
        s[2..4].copy_from_slice(&40000u16.to_be_bytes());
        s[4..8].copy_from_slice(&seq.to_be_bytes());
        s[8..12].copy_from_slice(&ack.to_be_bytes());
        s[12] = (((20 + opts.len()) / 4) as u8) << 4;
        s[13] = flags::ACK;
        s[14..16].copy_from_slice(&window.to_be_bytes());
        s.extend_from_slice(opts);
        s.extend_from_slice(payload);
        fill(&mut s);
        s
    }

    fn fill(s: &mut [u8]) {
        s[16..18].copy_from_slice(&[0, 0]);
        let sum = checksum::sum_bytes(checksum::pseudo_header(&SRC, &DST, 6, s.len()), s);
        let c = checksum::finish(sum);
        s[16..18].copy_from_slice(&c.to_be_bytes());
    }

    fn valid(s: &[u8]) -> bool {
        checksum::verifies(checksum::sum_bytes(
            checksum::pseudo_header(&SRC, &DST, 6, s.len()),
            s,
        ))
    }

    const TS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0, 100, 0, 0, 0, 200];

    #[test]
    fn server_segments_move_into_the_clients_sequence_space() {
        let shift = Shift::new(1000, 5000, Some((700, 500)), Some(7), Some(7), Some(9));
        assert_eq!((shift.seq, shift.ts), (4000, 200));
        // The server's TSval 750 (its first was 700).
        let ts = [1, 1, 8, 10, 0, 0, 0x02, 0xee, 0, 0, 0, 200];
        let mut s = segment(5001, 77, 100, &ts, b"hello");
        shift.to_client(&mut s);
        assert_eq!(read32(&s, 4), 1001, "seq − Δseq");
        assert_eq!(read32(&s, 8), 77, "ack untouched");
        assert_eq!(
            read32(&s, 24),
            550,
            "TSval − Δts: the proxy's clock as the client knows it"
        );
        assert_eq!(read32(&s, 28), 200, "TSecr untouched");
        assert_eq!(read16(&s, 14), 400, "100 << 9 bytes announced as << 7");
        assert!(valid(&s));
    }

    #[test]
    fn client_segments_move_into_the_servers_sequence_space() {
        let shift = Shift::new(1000, 5000, Some((700, 500)), Some(7), Some(7), Some(9));
        // TS then SACK with one block.
        let mut opts = TS.to_vec();
        opts.extend_from_slice(&[1, 1, 5, 10, 0, 0, 0x03, 0xe9, 0, 0, 0x07, 0xd1]);
        let mut s = segment(77, 1001, 100, &opts, b"");
        shift.to_server(&mut s);
        assert_eq!(read32(&s, 8), 5001, "ack + Δseq");
        assert_eq!(read32(&s, 4), 77, "seq untouched");
        assert_eq!(read32(&s, 28), 400, "TSecr + Δts");
        assert_eq!(
            (read32(&s, 36), read32(&s, 40)),
            (1001 + 4000, 2001 + 4000),
            "SACK edges"
        );
        assert_eq!(
            read16(&s, 14),
            100,
            "both sides scale the client's window by 7"
        );
        assert!(valid(&s));
    }

    #[test]
    fn a_server_without_scaling_reads_client_windows_unscaled() {
        let shift = Shift::new(0, 0, None, Some(7), Some(7), None);
        let mut s = segment(1, 1, 100, &[], b"");
        shift.to_server(&mut s);
        assert_eq!(read16(&s, 14), 12800);
        let mut s = segment(1, 1, 65535, &[], b"");
        shift.to_client(&mut s);
        assert_eq!(read16(&s, 14), 511, "65535 unscaled bytes in units of 128");
        assert!(valid(&s));
    }

    #[test]
    fn a_timestamp_at_an_odd_offset_is_patched_exactly() {
        // NOP, TS, NOP: TSval starts at option byte 3 (odd).
        let opts = [1, 8, 10, 0, 0, 0, 100, 0, 0, 0, 200, 1];
        let shift = Shift::new(0, 10, Some((50, 20)), None, None, None);
        let mut s = segment(10, 5, 1000, &opts, b"x");
        shift.to_client(&mut s);
        assert_eq!(read32(&s, 23), 70);
        assert!(valid(&s));
    }

    #[test]
    fn rescaling_rounds_down_and_saturates() {
        assert_eq!(rescale(1, 0, 7), 0);
        assert_eq!(rescale(65535, 14, 0), 65535);
        assert_eq!(rescale(300, 7, 7), 300);
        assert_eq!(rescale(300, 200, 200), 300, "scales above 14 count as 14");
    }

    proptest! {
        #[test]
        fn translations_keep_the_checksum_valid(
            cookie in any::<u32>(), isn in any::<u32>(), ts in proptest::option::of((any::<u32>(), any::<u32>())),
            cs in proptest::option::of(0u8..15), ann in proptest::option::of(0u8..15), ss in proptest::option::of(0u8..15),
            seq in any::<u32>(), ack in any::<u32>(), win in any::<u16>(),
            pad in 0usize..3, payload in proptest::collection::vec(any::<u8>(), 0..9),
        ) {
            let shift = Shift::new(cookie, isn, ts, cs, ann, ss);
            // NOPs before the timestamp move it to every alignment.
            let mut opts = vec![1u8; pad];
            opts.extend_from_slice(&[8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
            opts.extend_from_slice(&[5, 10, 9, 9, 9, 9, 8, 8, 8, 8]);
            while opts.len() % 4 != 0 {
                opts.push(1);
            }
            let mut s = segment(seq, ack, win, &opts, &payload);
            shift.to_client(&mut s);
            prop_assert!(valid(&s));
            shift.to_server(&mut s);
            prop_assert!(valid(&s));
        }
    }
}
