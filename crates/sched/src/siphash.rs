//! `hsiphash()` of a 4-byte value as a 64-bit Linux kernel computes it
//! (lib/siphash.c), for mh.
//!
//! On 64-bit kernels "HalfSipHash" is really SipHash-1-3 (one compression
//! round, three finalisation rounds) over 64-bit words, truncated to 32
//! bits; 32-bit kernels run the real HalfSipHash-1-3 and so build different
//! mh tables. xvs follows the 64-bit form (REFERENCE §1, mh). The input is
//! the 4 bytes of a host-order `u32` read as a little-endian word, which on
//! the little-endian hosts xvs runs on is the value itself.

/// SipHash initialisation constants ("somepseudorandomlygeneratedbytes").
const INIT: [u64; 4] = [
    0x736f_6d65_7073_6575,
    0x646f_7261_6e64_6f6d,
    0x6c79_6765_6e65_7261,
    0x7465_6462_7974_6573,
];

fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-c-d of the 4-byte message `value.to_le_bytes()` under the key
/// words `(k0, k1)`, full 64-bit result. A 4-byte message is a single
/// final block: `b = (4 << 56) | value`.
fn siphash_4bytes(value: u32, k0: u64, k1: u64, c_rounds: usize, d_rounds: usize) -> u64 {
    let mut v = [INIT[0] ^ k0, INIT[1] ^ k1, INIT[2] ^ k0, INIT[3] ^ k1];
    let b = (4u64 << 56) | u64::from(value);
    v[3] ^= b;
    for _ in 0..c_rounds {
        sipround(&mut v);
    }
    v[0] ^= b;
    v[2] ^= 0xff;
    for _ in 0..d_rounds {
        sipround(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The kernel's `hsiphash(&value, 4, key)` on a 64-bit build.
pub(crate) fn hsiphash_u32(value: u32, key: [u64; 2]) -> u32 {
    // hsiphash returns u32: the low half of the 64-bit SipHash value.
    siphash_4bytes(value, key[0], key[1], 1, 3) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le_key(bytes: [u8; 16]) -> (u64, u64) {
        let (a, b) = bytes.split_at(8);
        let word = |s: &[u8]| s.iter().rev().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
        (word(a), word(b))
    }

    #[test]
    fn siphash_2_4_reference_vector() {
        // veorq/SipHash vectors.h, 64-bit output, key 00..0f, message
        // 00 01 02 03: proves the round function, key schedule and padding.
        let (k0, k1) = le_key(core::array::from_fn(|i| i as u8));
        assert_eq!(
            siphash_4bytes(0x0302_0100, k0, k1, 2, 4),
            0xcf27_94e0_2771_87b7
        );
    }

    #[test]
    fn siphash_1_3_reference_vector() {
        // The SipHash reference implementation built for 1-3 rounds, zero
        // key, message 00 01 02 03.
        assert_eq!(
            siphash_4bytes(0x0302_0100, 0, 0, 1, 3),
            0x7cc4_3f98_813e_4dbd
        );
        assert_eq!(hsiphash_u32(0x0302_0100, [0, 0]), 0x813e_4dbd);
    }

    #[test]
    fn key_and_value_both_matter() {
        let k = [2_654_435_761, 2_654_435_761];
        assert_ne!(hsiphash_u32(1, k), hsiphash_u32(2, k));
        assert_ne!(
            hsiphash_u32(1, k),
            hsiphash_u32(1, [2_654_446_892, 2_654_446_892])
        );
    }
}
