//! Deadlines of the probes in flight: a min-heap with lazy deletion.
//!
//! Layer: driver bookkeeping (no I/O). A probe's deadline lives in its own
//! entry; the heap only says when to look. Moving or dropping a deadline
//! leaves the old heap entry behind, and [`Timers::pop_due`] hands it out
//! anyway: the engine compares it with the entry's current deadline and
//! ignores it when they differ.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::slots::SlotRef;

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u32, u32)>>,
}

impl Timers {
    pub fn schedule(&mut self, at: Instant, r: SlotRef) {
        self.heap.push(Reverse((at, r.index, r.generation)));
    }

    /// The earliest deadline, stale or not (a stale one only makes `poll`
    /// return early once).
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// One deadline at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, SlotRef)> {
        let Reverse((at, _, _)) = self.heap.peek()?;
        if *at > now {
            return None;
        }
        let Reverse((at, index, generation)) = self.heap.pop()?;
        Some((at, SlotRef { index, generation }))
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadlines_come_out_in_time_order_and_only_when_due() {
        let t0 = Instant::now();
        let r = |index| SlotRef {
            index,
            generation: 1,
        };
        let mut timers = Timers::default();
        timers.schedule(t0 + Duration::from_secs(3), r(3));
        timers.schedule(t0 + Duration::from_secs(1), r(1));
        timers.schedule(t0 + Duration::from_secs(2), r(2));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(1)));
        assert!(timers.pop_due(t0).is_none());
        let now = t0 + Duration::from_secs(2);
        assert_eq!(timers.pop_due(now).map(|(_, r)| r.index), Some(1));
        assert_eq!(timers.pop_due(now).map(|(_, r)| r.index), Some(2));
        assert!(timers.pop_due(now).is_none());
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(3)));
    }
}
