//! Keyed hash of a connection key, for the index.
//!
//! Clients choose their address and port, so a fixed public hash would let
//! an attacker aim many flows at one index group and make every lookup walk
//! long probe chains. The table therefore hashes with a per-table secret
//! seed ([`crate::TableConfig::hash_seed`]; the runtime passes a random one).
//! The mixing step is a folded 64×64→128-bit multiply (fold the product's
//! halves with XOR), which spreads every input bit over the whole word in one
//! multiply and costs a few cycles per 64-bit word. It is not a MAC; it only
//! has to make collisions unpredictable without the seed.

/// Odd 64-bit constants (digits of π and e), one per input word position,
/// so that equal words at different positions do not cancel.
const K: [u64; 4] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0xB7E1_5162_8AED_2A6B,
];

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    // Truncations are the point: low and high halves of the product.
    (p as u64) ^ ((p >> 64) as u64)
}

/// A seeded hasher over a short sequence of 64-bit words.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHasher {
    seed: u64,
    /// Tests only: hash every key to this value, forcing every key into one
    /// index group with one tag (overflow chains, full-key comparisons).
    #[cfg(test)]
    constant: Option<u64>,
}

impl KeyHasher {
    pub(crate) fn new(seed: u64) -> KeyHasher {
        // Pre-mix the seed so nearby seeds give unrelated hash functions.
        KeyHasher {
            seed: fold_mul(seed ^ K[0], K[1]) ^ seed,
            #[cfg(test)]
            constant: None,
        }
    }

    /// Tests only: a hasher under which all keys collide.
    #[cfg(test)]
    pub(crate) fn degenerate() -> KeyHasher {
        KeyHasher {
            seed: 0,
            constant: Some(0x0123_4567_89AB_CDEF),
        }
    }

    /// Hash `words` (all of a key's bits; the caller packs them).
    #[inline]
    pub(crate) fn hash(&self, words: &[u64]) -> u64 {
        #[cfg(test)]
        if let Some(c) = self.constant {
            return c;
        }
        let mut h = self.seed;
        for (i, &w) in words.iter().enumerate() {
            h = fold_mul(h ^ w, K[i % 4] ^ self.seed.rotate_left(17));
        }
        // Final avalanche so the tag (low bits) and the group choice (high
        // bits of the range reduction) both depend on every word.
        fold_mul(h ^ (words.len() as u64), K[3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_words_same_hash_and_seed_matters() {
        let a = KeyHasher::new(1);
        let b = KeyHasher::new(2);
        let key = [0x0A00_0001_C633_0001, 0x0006_1F90_0050];
        assert_eq!(a.hash(&key), a.hash(&key));
        assert_ne!(a.hash(&key), b.hash(&key));
    }

    #[test]
    fn single_bit_changes_move_many_bits() {
        let h = KeyHasher::new(0x5eed);
        let base = [0x0A00_0001_C633_0001u64, 0x0006_1F90_0050];
        let h0 = h.hash(&base);
        for bit in 0..128 {
            let mut k = base;
            k[bit / 64] ^= 1 << (bit % 64);
            let d = (h.hash(&k) ^ h0).count_ones();
            assert!(
                (12..=52).contains(&d),
                "bit {bit} changed only {d} output bits"
            );
        }
    }

    #[test]
    fn word_order_matters() {
        let h = KeyHasher::new(7);
        assert_ne!(h.hash(&[1, 2]), h.hash(&[2, 1]));
        assert_ne!(h.hash(&[0]), h.hash(&[0, 0]));
    }
}
