//! UDP_CHECK, sans-IO: how a reply datagram is judged, as keepalived's
//! check_udp.c (check_udp_reply) and keepalived.conf(5) describe it.
//! Sending the payload, and failing on an ICMP unreachable or on silence
//! when a reply is required, are the engine's.
//!
//! Layer: health (pure).

use crate::spec::{Outcome, UdpExpect};

/// Judges the reply to a UDP_CHECK.
///
/// Without `require_reply` any reply passes: keepalived only looks at the
/// data when a reply is required. With it, the length must lie within
/// [min_len, max_len] (keepalived.conf(5); keepalived's code checks it only
/// when a pattern is set, its manual always) and the first min(reply,
/// pattern) bytes must match the pattern, where mask bits 0 (`X` nibbles)
/// are not compared.
pub fn check_reply(expect: &UdpExpect, reply: &[u8]) -> Outcome {
    if !expect.require_reply {
        return Outcome::pass();
    }
    // A reply longer than u32::MAX bytes cannot be a UDP datagram; saturate.
    let len = u32::try_from(reply.len()).unwrap_or(u32::MAX);
    if len < expect.min_len || len > expect.max_len {
        return Outcome::fail(format!(
            "reply of {len} bytes, want {}-{}",
            expect.min_len, expect.max_len
        ));
    }
    let pattern = expect.pattern.as_deref().unwrap_or_default();
    // zip stops at the shorter: min(reply, pattern) bytes are compared.
    let mismatch = reply
        .iter()
        .zip(pattern)
        .position(|(&got, &(value, mask))| (got ^ value) & mask != 0);
    match mismatch {
        Some(at) => Outcome::fail(format!("reply does not match the pattern at byte {at}")),
        None => Outcome::pass(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn expect(pattern: Option<Vec<(u8, u8)>>, min_len: u32, max_len: u32) -> UdpExpect {
        UdpExpect {
            require_reply: true,
            pattern,
            min_len,
            max_len,
        }
    }

    /// The pattern `0aXb 11` as the config decodes it: X ignores a nibble.
    fn pattern() -> Vec<(u8, u8)> {
        vec![(0x0a, 0xff), (0x0b, 0x0f), (0x11, 0xff)]
    }

    #[test]
    fn without_require_reply_any_reply_passes() {
        let e = UdpExpect {
            require_reply: false,
            pattern: Some(pattern()),
            min_len: 10,
            max_len: 10,
        };
        assert_eq!(check_reply(&e, b"x"), Outcome::pass());
    }

    #[test]
    fn length_must_be_within_bounds() {
        let e = expect(None, 4, 255);
        assert_eq!(
            check_reply(&e, b"abc"),
            Outcome::fail("reply of 3 bytes, want 4-255")
        );
        assert_eq!(check_reply(&e, b"abcd"), Outcome::pass());
        assert_eq!(check_reply(&e, &[0; 255]), Outcome::pass());
        assert_eq!(
            check_reply(&e, &[0; 256]),
            Outcome::fail("reply of 256 bytes, want 4-255")
        );
    }

    #[test]
    fn empty_reply_passes_with_the_default_minimum() {
        assert_eq!(check_reply(&expect(None, 0, 255), b""), Outcome::pass());
    }

    #[test]
    fn pattern_matches_with_ignored_nibbles() {
        let e = expect(Some(pattern()), 0, 255);
        assert_eq!(check_reply(&e, &[0x0a, 0x5b, 0x11, 0x99]), Outcome::pass());
        assert_eq!(check_reply(&e, &[0x0a, 0xfb, 0x11]), Outcome::pass());
    }

    #[test]
    fn mismatch_names_the_first_byte() {
        let e = expect(Some(pattern()), 0, 255);
        assert_eq!(
            check_reply(&e, &[0x0a, 0x5c, 0x11]),
            Outcome::fail("reply does not match the pattern at byte 1")
        );
        assert_eq!(
            check_reply(&e, &[0x0a, 0x0b, 0x12]),
            Outcome::fail("reply does not match the pattern at byte 2")
        );
    }

    #[test]
    fn only_the_shorter_of_reply_and_pattern_is_compared() {
        // As check_udp_reply: a reply shorter than the pattern matches on
        // its own bytes; the minimum length is what rejects it.
        let e = expect(Some(pattern()), 0, 255);
        assert_eq!(check_reply(&e, &[0x0a]), Outcome::pass());
        let e = expect(Some(pattern()), 3, 255);
        assert_eq!(
            check_reply(&e, &[0x0a]),
            Outcome::fail("reply of 1 bytes, want 3-255")
        );
    }

    proptest! {
        /// Fuzz and model: the verdict is the length test and then a byte
        /// comparison, never a panic.
        #[test]
        fn verdict_follows_the_model(
            reply in proptest::collection::vec(any::<u8>(), 0..64),
            pattern in proptest::option::of(
                proptest::collection::vec((any::<u8>(), any::<u8>()), 0..16)),
            min_len in 0u32..40,
            max_len in 0u32..80,
            require_reply in any::<bool>(),
        ) {
            let e = UdpExpect { require_reply, pattern: pattern.clone(), min_len, max_len };
            let len = reply.len() as u32;
            let matches = pattern.unwrap_or_default().iter().enumerate().all(|(i, &(v, m))| {
                reply.get(i).is_none_or(|&b| b & m == v & m)
            });
            let want = !require_reply || (min_len <= len && len <= max_len && matches);
            prop_assert_eq!(check_reply(&e, &reply).is_pass(), want);
        }
    }
}
