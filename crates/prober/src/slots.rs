//! A generational arena for the probes in flight, and how a slot becomes
//! a mio [`Token`].
//!
//! Layer: driver bookkeeping (no I/O). A slot is reused once its probe is
//! gone; the generation in every [`SlotRef`] (and so in every token and
//! timer) makes a late event or deadline of the old probe miss the new
//! one instead of hitting it.

use mio::Token;

/// One slot at one generation: the name of one probe (or child) in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SlotRef {
    pub index: u32,
    pub generation: u32,
}

// Tokens pack (generation, index) into 63 bits; the values with the top bit
// set are the engine's own (the waker, the shared ICMP sockets).
const _: () = assert!(usize::BITS == 64, "tokens pack two u32 into a usize");
const GENERATION_MASK: u32 = 0x7fff_ffff;
const RESERVED_BIT: usize = 1 << 63;

/// The token the waker is registered with.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// The token of the `n`th shared ICMP socket.
pub(crate) fn icmp_token(n: usize) -> Token {
    Token(usize::MAX - 1 - n)
}

/// What a token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Waker,
    Icmp(usize),
    Slot(SlotRef),
}

impl SlotRef {
    pub fn token(self) -> Token {
        Token(((self.generation as usize) << 32) | self.index as usize)
    }
}

pub(crate) fn classify(token: Token) -> TokenKind {
    if token == WAKER {
        TokenKind::Waker
    } else if token.0 & RESERVED_BIT != 0 {
        TokenKind::Icmp(usize::MAX - 1 - token.0)
    } else {
        TokenKind::Slot(SlotRef {
            // Truncations are the packing above read back.
            index: (token.0 & 0xffff_ffff) as u32,
            generation: (token.0 >> 32) as u32,
        })
    }
}

#[derive(Debug)]
struct Cell<T> {
    generation: u32,
    value: Option<T>,
}

/// Values addressed by [`SlotRef`]; a stale reference finds nothing.
#[derive(Debug)]
pub(crate) struct Slots<T> {
    cells: Vec<Cell<T>>,
    free: Vec<u32>,
}

impl<T> Slots<T> {
    pub fn new() -> Slots<T> {
        Slots {
            cells: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The reference the next [`Slots::insert`] will return, so that a
    /// value can be built (and registered under its token) before it is
    /// stored.
    pub fn next_ref(&self) -> SlotRef {
        match self.free.last() {
            Some(&index) => SlotRef {
                index,
                generation: next_generation(self.cells[index as usize].generation),
            },
            None => SlotRef {
                index: u32::try_from(self.cells.len()).expect("fewer than 2^32 probes in flight"),
                generation: 1,
            },
        }
    }

    pub fn insert(&mut self, value: T) -> SlotRef {
        if let Some(index) = self.free.pop() {
            let cell = &mut self.cells[index as usize];
            cell.generation = next_generation(cell.generation);
            cell.value = Some(value);
            return SlotRef {
                index,
                generation: cell.generation,
            };
        }
        let index = u32::try_from(self.cells.len()).expect("fewer than 2^32 probes in flight");
        self.cells.push(Cell {
            generation: 1,
            value: Some(value),
        });
        SlotRef {
            index,
            generation: 1,
        }
    }

    pub fn get_mut(&mut self, r: SlotRef) -> Option<&mut T> {
        let cell = self.cells.get_mut(r.index as usize)?;
        if cell.generation != r.generation {
            return None;
        }
        cell.value.as_mut()
    }

    pub fn remove(&mut self, r: SlotRef) -> Option<T> {
        let cell = self.cells.get_mut(r.index as usize)?;
        if cell.generation != r.generation {
            return None;
        }
        let value = cell.value.take()?;
        self.free.push(r.index);
        Some(value)
    }

    /// Every live value.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.cells.iter().filter_map(|cell| cell.value.as_ref())
    }

    /// Every live slot, for the rare whole-table walks (cancel, shutdown).
    pub fn refs(&self) -> Vec<SlotRef> {
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, cell)| cell.value.is_some())
            .map(|(index, cell)| SlotRef {
                // Indices were handed out as u32 by `insert`.
                index: index as u32,
                generation: cell.generation,
            })
            .collect()
    }
}

fn next_generation(generation: u32) -> u32 {
    // Stay within the token's 31 bits and never reach 0, so that no token
    // of a live slot can be 0.
    match (generation + 1) & GENERATION_MASK {
        0 => 1,
        g => g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_reference_misses_the_reused_slot() {
        let mut slots = Slots::new();
        assert_eq!(
            slots.next_ref(),
            SlotRef {
                index: 0,
                generation: 1
            }
        );
        let a = slots.insert("a");
        assert_eq!(slots.remove(a), Some("a"));
        let predicted = slots.next_ref();
        let b = slots.insert("b");
        assert_eq!(predicted, b);
        assert_eq!(a.index, b.index);
        assert_ne!(a.generation, b.generation);
        assert!(slots.get_mut(a).is_none());
        assert!(slots.remove(a).is_none());
        assert_eq!(slots.get_mut(b), Some(&mut "b"));
    }

    #[test]
    fn tokens_round_trip_and_never_collide_with_the_engine_s_own() {
        let r = SlotRef {
            index: 0xffff_ffff,
            generation: GENERATION_MASK,
        };
        assert_eq!(classify(r.token()), TokenKind::Slot(r));
        assert_eq!(classify(WAKER), TokenKind::Waker);
        assert_eq!(classify(icmp_token(0)), TokenKind::Icmp(0));
        assert_eq!(classify(icmp_token(7)), TokenKind::Icmp(7));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert,
        /// Remove the n-th reference ever handed out (live or stale).
        Remove(usize),
        Get(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Op::Insert),
            any::<usize>().prop_map(Op::Remove),
            any::<usize>().prop_map(Op::Get),
        ]
    }

    proptest::proptest! {
        /// Against a map of the live references: a reference finds its
        /// own value while it lives, and nothing once removed, however
        /// slots are reused; `next_ref` predicts `insert`.
        #[test]
        fn slots_behave_like_a_map_of_live_references(ops in proptest::collection::vec(op(), 1..200)) {
            let mut slots = Slots::new();
            let mut model = std::collections::HashMap::new();
            let mut handed_out: Vec<SlotRef> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert => {
                        let predicted = slots.next_ref();
                        let r = slots.insert(n);
                        proptest::prop_assert_eq!(predicted, r);
                        proptest::prop_assert!(model.insert(r, n).is_none());
                        handed_out.push(r);
                    }
                    Op::Remove(i) if !handed_out.is_empty() => {
                        let r = handed_out[i % handed_out.len()];
                        proptest::prop_assert_eq!(slots.remove(r), model.remove(&r));
                    }
                    Op::Get(i) if !handed_out.is_empty() => {
                        let r = handed_out[i % handed_out.len()];
                        proptest::prop_assert_eq!(slots.get_mut(r).copied(), model.get(&r).copied());
                    }
                    Op::Remove(_) | Op::Get(_) => {}
                }
                let mut live = slots.refs();
                live.sort_by_key(|r| (r.index, r.generation));
                let mut expected: Vec<SlotRef> = model.keys().copied().collect();
                expected.sort_by_key(|r| (r.index, r.generation));
                proptest::prop_assert_eq!(live, expected);
            }
        }
    }

    #[test]
    fn generations_wrap_within_31_bits_and_skip_zero() {
        assert_eq!(next_generation(GENERATION_MASK), 1);
        assert_eq!(next_generation(1), 2);
    }
}
