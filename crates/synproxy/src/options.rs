//! TCP options as the SYN proxy needs them: read from the client's SYN,
//! carried through the cookie round trip, and written into the segments
//! the proxy makes (its SYN-ACK to the client, its SYN and ACK to the real
//! server).
//!
//! A cookie has room for the MSS only. Like Linux (syncookies.c,
//! `cookie_init_timestamp`), the proxy keeps the client's window scale and
//! SACK-permitted in the low six bits of the timestamp value of its
//! SYN-ACK, which the client echoes in every ACK (RFC 7323 §4.3). A client
//! without timestamps therefore gets neither window scaling nor SACK; the
//! connection still works.

/// Option kinds (RFC 9293 §3.2, RFC 7323, RFC 2018).
pub mod kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// RFC 7323 §2.3: shift counts above 14 are used as 14.
pub const MAX_WINDOW_SCALE: u8 = 14;
/// Bits of the timestamp value that carry the client's options.
const TS_OPTION_BITS: u32 = 0x3f;
/// Window scale field value meaning "the client sent none".
const TS_NO_WSCALE: u32 = 0xf;
const TS_SACK: u32 = 0x10;
/// The largest option block a segment carries (a 60-byte header).
pub const MAX_OPTIONS_LEN: usize = 40;

/// What a SYN announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// TSval and TSecr.
    pub timestamp: Option<(u32, u32)>,
}

/// One option: its kind and where its body lies in the option block.
struct Opt {
    kind: u8,
    body: std::ops::Range<usize>,
}

/// The options of a block, stopping at END or at the first malformed one
/// (a length below 2 or past the block): what follows cannot be trusted,
/// and the options before it are kept, as Linux's tcp_parse_options does.
fn each(block: &[u8]) -> impl Iterator<Item = Opt> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || loop {
        let kind = *block.get(at)?;
        match kind {
            kind::END => return None,
            kind::NOP => at += 1,
            _ => {
                let len = usize::from(*block.get(at + 1)?);
                if len < 2 || at + len > block.len() {
                    return None;
                }
                let opt = Opt {
                    kind,
                    body: at + 2..at + len,
                };
                at += len;
                return Some(opt);
            }
        }
    })
}

impl SynOptions {
    /// Read the options a SYN carries; unknown options are skipped and
    /// options of the wrong length ignored.
    pub fn parse(block: &[u8]) -> SynOptions {
        let mut o = SynOptions::default();
        for opt in each(block) {
            let b = &block[opt.body];
            match (opt.kind, b.len()) {
                (kind::MSS, 2) => o.mss = Some(u16::from_be_bytes([b[0], b[1]])),
                (kind::WINDOW_SCALE, 1) => o.window_scale = Some(b[0].min(MAX_WINDOW_SCALE)),
                (kind::SACK_PERMITTED, 0) => o.sack_permitted = true,
                (kind::TIMESTAMP, 8) => {
                    o.timestamp = Some((
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                        u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                    ))
                }
                _ => {}
            }
        }
        o
    }

    /// The timestamp value of the proxy's SYN-ACK: `clock` with its low
    /// six bits replaced by the client's window scale and SACK-permitted.
    pub fn encode_in_timestamp(&self, clock: u32) -> u32 {
        let ws = self.window_scale.map_or(TS_NO_WSCALE, u32::from);
        let sack = if self.sack_permitted { TS_SACK } else { 0 };
        (clock & !TS_OPTION_BITS) | ws | sack
    }

    /// The client's window scale and SACK-permitted, from the timestamp
    /// echo of its ACK (what [`Self::encode_in_timestamp`] wrote).
    pub fn decode_from_timestamp(echo: u32) -> (Option<u8>, bool) {
        let ws = echo & TS_NO_WSCALE;
        let ws = (ws != TS_NO_WSCALE).then(|| (ws as u8).min(MAX_WINDOW_SCALE));
        (ws, echo & TS_SACK != 0)
    }
}

/// Byte offsets of the options a translated segment needs patched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Located {
    /// Start of the timestamp option's TSval (TSecr follows at +4).
    pub timestamp: Option<usize>,
    /// Start of the SACK option's first block and the number of blocks.
    pub sack: Option<(usize, usize)>,
}

/// Find the timestamp and SACK options of any segment's option block.
pub fn locate(block: &[u8]) -> Located {
    let mut l = Located::default();
    for opt in each(block) {
        let len = opt.body.len();
        match opt.kind {
            kind::TIMESTAMP if len == 8 => l.timestamp = Some(opt.body.start),
            kind::SACK if len >= 8 && len.is_multiple_of(8) => {
                l.sack = Some((opt.body.start, len / 8))
            }
            _ => {}
        }
    }
    l
}

/// Writes option blocks, padded with NOPs to a multiple of four bytes.
struct Writer<'a> {
    out: &'a mut [u8; MAX_OPTIONS_LEN],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.out[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn mss(&mut self, mss: u16) {
        let m = mss.to_be_bytes();
        self.put(&[kind::MSS, 4, m[0], m[1]]);
    }

    /// SACK-permitted and a timestamp in 12 bytes, or a timestamp alone
    /// after two NOPs (the layout Linux sends, word-aligned).
    fn sack_and_timestamp(&mut self, sack: bool, ts: Option<(u32, u32)>) {
        match (sack, ts) {
            (true, Some((val, ecr))) => {
                self.put(&[kind::SACK_PERMITTED, 2, kind::TIMESTAMP, 10]);
                self.put(&val.to_be_bytes());
                self.put(&ecr.to_be_bytes());
            }
            (false, Some((val, ecr))) => {
                self.put(&[kind::NOP, kind::NOP, kind::TIMESTAMP, 10]);
                self.put(&val.to_be_bytes());
                self.put(&ecr.to_be_bytes());
            }
            (true, None) => self.put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]),
            (false, None) => {}
        }
    }

    fn window_scale(&mut self, ws: Option<u8>) {
        if let Some(ws) = ws {
            self.put(&[kind::NOP, kind::WINDOW_SCALE, 3, ws.min(MAX_WINDOW_SCALE)]);
        }
    }
}

/// The options of the proxy's SYN-ACK to a client whose SYN carried
/// `client`: the proxy's MSS; then, only if the client sent timestamps
/// (where they are kept for the ACK), SACK-permitted if the client offered
/// it, the timestamp `tsval` (from [`SynOptions::encode_in_timestamp`])
/// echoing the client's, and the proxy's window scale if the client sent
/// one. Returns the block's length (a multiple of 4).
pub fn syn_ack(
    out: &mut [u8; MAX_OPTIONS_LEN],
    client: &SynOptions,
    mss: u16,
    window_scale: u8,
    tsval: u32,
) -> usize {
    let mut w = Writer { out, len: 0 };
    w.mss(mss);
    if let Some((client_val, _)) = client.timestamp {
        w.sack_and_timestamp(client.sack_permitted, Some((tsval, client_val)));
        w.window_scale(client.window_scale.map(|_| window_scale));
    }
    w.len
}

/// The options of the proxy's SYN to the real server, announcing what
/// the client announced to the proxy (as far as the cookie kept it), with
/// the client's current timestamp value when it uses timestamps.
pub fn syn(
    out: &mut [u8; MAX_OPTIONS_LEN],
    mss: u16,
    window_scale: Option<u8>,
    sack_permitted: bool,
    tsval: Option<u32>,
) -> usize {
    let mut w = Writer { out, len: 0 };
    w.mss(mss);
    w.sack_and_timestamp(sack_permitted, tsval.map(|v| (v, 0)));
    w.window_scale(window_scale);
    w.len
}

/// The options of the ACK that completes the handshake with the real
/// server: a timestamp echoing the server's, when both use them.
pub fn ack(out: &mut [u8; MAX_OPTIONS_LEN], timestamp: Option<(u32, u32)>) -> usize {
    let mut w = Writer { out, len: 0 };
    w.sack_and_timestamp(false, timestamp);
    w.len
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Linux SYN's options: MSS 1460, SACK-permitted, timestamps, NOP,
    /// window scale 7.
    const LINUX_SYN: [u8; 20] = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x30, 0x39, 0, 0, 0, 0, 1, 3, 3, 7,
    ];

    #[test]
    fn reads_a_linux_syn() {
        assert_eq!(
            SynOptions::parse(&LINUX_SYN),
            SynOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamp: Some((12345, 0)),
            }
        );
    }

    #[test]
    fn malformed_options_end_the_block_and_keep_what_came_before() {
        // MSS, then an option whose length runs past the block.
        let block = [2, 4, 0x05, 0xb4, 3, 9, 7];
        let o = SynOptions::parse(&block);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.window_scale, None);
        // A zero length would loop forever if it were trusted.
        assert_eq!(
            SynOptions::parse(&[8, 0, 2, 4, 5, 0]),
            SynOptions::default()
        );
        // Wrong lengths for known kinds are ignored, not misread.
        assert_eq!(SynOptions::parse(&[2, 3, 5, 3, 4, 1, 2]).mss, None);
        // Window scale above 14 is used as 14 (RFC 7323 §2.3).
        assert_eq!(SynOptions::parse(&[3, 3, 200]).window_scale, Some(14));
    }

    #[test]
    fn window_scale_and_sack_survive_the_timestamp_round_trip() {
        for ws in [None, Some(0), Some(7), Some(14)] {
            for sack in [false, true] {
                let o = SynOptions {
                    window_scale: ws,
                    sack_permitted: sack,
                    ..Default::default()
                };
                let ts = o.encode_in_timestamp(0xdead_beef);
                assert_eq!(
                    ts & !0x3f,
                    0xdead_beef & !0x3f,
                    "the clock keeps its high bits"
                );
                assert_eq!(SynOptions::decode_from_timestamp(ts), (ws, sack));
            }
        }
    }

    #[test]
    fn the_syn_ack_carries_what_the_cookie_can_keep() {
        let client = SynOptions::parse(&LINUX_SYN);
        let mut out = [0u8; MAX_OPTIONS_LEN];
        let n = syn_ack(&mut out, &client, 1460, 7, 0x1000_0017);
        assert_eq!(
            &out[..n],
            &[2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x10, 0, 0, 0x17, 0, 0, 0x30, 0x39, 1, 3, 3, 7]
        );
        assert_eq!(
            SynOptions::parse(&out[..n]).timestamp,
            Some((0x1000_0017, 12345))
        );
        // Without timestamps there is nowhere to keep scale and SACK: the
        // SYN-ACK offers neither, so the client uses neither.
        let bare = SynOptions {
            timestamp: None,
            ..client
        };
        let n = syn_ack(&mut out, &bare, 1460, 7, 0);
        assert_eq!(&out[..n], &[2, 4, 0x05, 0xb4]);
    }

    #[test]
    fn syn_and_ack_blocks() {
        let mut out = [0u8; MAX_OPTIONS_LEN];
        let n = syn(&mut out, 1440, Some(7), true, Some(99));
        let o = SynOptions::parse(&out[..n]);
        assert_eq!(
            o,
            SynOptions {
                mss: Some(1440),
                window_scale: Some(7),
                sack_permitted: true,
                timestamp: Some((99, 0)),
            }
        );
        assert_eq!(n % 4, 0);
        let n = syn(&mut out, 536, None, false, None);
        assert_eq!(&out[..n], &[2, 4, 0x02, 0x18]);
        let n = ack(&mut out, Some((5, 6)));
        assert_eq!(&out[..n], &[1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6]);
        assert_eq!(locate(&out[..n]).timestamp, Some(4));
    }

    #[test]
    fn locates_timestamp_and_sack_blocks() {
        // NOP NOP TS(10) NOP NOP SACK(2 blocks)
        let mut block = vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 18];
        block.extend_from_slice(&[0; 16]);
        assert_eq!(
            locate(&block),
            Located {
                timestamp: Some(4),
                sack: Some((16, 2)),
            }
        );
        // A SACK option whose length is not 2 + 8n is not patched.
        assert_eq!(locate(&[5, 7, 0, 0, 0, 0, 0]).sack, None);
    }

    proptest! {
        #[test]
        fn any_block_parses_without_panic(block in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = SynOptions::parse(&block);
            let l = locate(&block);
            if let Some(at) = l.timestamp {
                prop_assert!(at + 8 <= block.len());
            }
            if let Some((at, n)) = l.sack {
                prop_assert!(at + 8 * n <= block.len());
            }
        }
    }
}
