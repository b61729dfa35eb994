//! Connection-sync scenarios: what the worker pays for reporting entries
//! to the control thread (`Worker::set_sync`), at a steady stream of
//! short TCP connections. Each flow is the client's SYN, ACK, three data
//! segments and FIN+ACK to a DR service with
//! [`crate::NEW_FLOW_REAL_SERVERS`] real servers under rr
//! ([`crate::scheduler_yaml`]); DR's INPUT-ONLY table takes it NONE →
//! SYN_RECV → ESTABLISHED → FIN_WAIT, so with sync on the worker queues two
//! events per flow (ESTABLISHED, FIN_WAIT) and none for the data segments.
//!
//! The flows are interleaved as concurrent clients' packets are: tick `k`
//! carries stage `s` of flow `k − s` for each of the six stages, so every
//! burst mixes new flows, handshakes, data and closes in the proportions
//! of the whole stream. As in the new-flow bench, the frames are replayed
//! in rounds of [`FLOWS_PER_ROUND`] flows, the table emptied between
//! rounds ([`Rig::expire_all`], untimed).
//!
//! [`SyncMode`] picks what the worker does with events: nothing (off); or
//! queue them for a consumer that drains the queue in the same thread
//! after every burst, as the control thread would on its own core (on: the
//! figure includes the consumer's pops, so it is an upper bound on the
//! worker's share); or queue them into a queue large enough for a round,
//! drained between rounds, untimed (on_queued: the worker's pushes alone).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use xvs_config::SchedulerKind;
use xvs_dataplane::SyncLink;
use xvs_testkit::{Spec, ACK, CLIENT_IF, FIN, L4, PSH, SERVER_IF, SYN, TCP_PORT};

use crate::flows::{client_addr, client_port};
use crate::neighbors::FastNeighbors;
use crate::new_flow::{scheduler_yaml, FLOWS_PER_ROUND, NEW_FLOW_VIP};
use crate::rig::{Rig, SetupError};

/// Packets per flow: SYN, ACK, three data segments, FIN+ACK.
pub const PACKETS_PER_FLOW: usize = 6;
/// Events a flow queues with sync on: ESTABLISHED and FIN_WAIT.
pub const EVENTS_PER_FLOW: usize = 2;
/// IPv4 capacity of the table (16× a round, as the new-flow bench).
const CAPACITY_V4: usize = 16 * FLOWS_PER_ROUND;
/// Event queue of [`SyncMode::On`]: a burst queues at most one event per
/// frame, and the consumer empties it after each.
const DRAINED_QUEUE: usize = 1024;

/// What the worker does with sync events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// No sync link: the hooks are one branch each.
    Off,
    /// Queued, and drained after every burst in the same thread.
    On,
    /// Queued into a queue that holds a whole round, drained untimed.
    Queued,
}

impl SyncMode {
    pub const ALL: [SyncMode; 3] = [SyncMode::Off, SyncMode::On, SyncMode::Queued];

    /// The bench id.
    pub const fn name(self) -> &'static str {
        match self {
            SyncMode::Off => "off",
            SyncMode::On => "on",
            SyncMode::Queued => "on_queued",
        }
    }
}

/// A rig with or without a sync link, and one round's frames.
#[derive(Debug)]
pub struct SyncFlows {
    pub rig: Rig,
    pub mode: SyncMode,
    /// The worker's sync link (`None` when off).
    pub link: Option<Arc<SyncLink>>,
    /// [`FLOWS_PER_ROUND`] × [`PACKETS_PER_FLOW`] frames, interleaved.
    pub frames: Vec<Vec<u8>>,
}

/// The frame of stage `stage` (0..6) of flow `i`.
fn flow_frame(i: usize, stage: usize) -> Vec<u8> {
    let flags = match stage {
        0 => SYN,
        1 => ACK,
        s if s + 1 < PACKETS_PER_FLOW => ACK | PSH,
        _ => FIN | ACK,
    };
    // Each segment its own sequence number, as a real stream's.
    let l4 = L4::Tcp {
        sport: client_port(i),
        dport: TCP_PORT,
        flags,
        seq: 1000 + 9 * stage as u32,
    };
    Spec::new(client_addr(i).into(), NEW_FLOW_VIP.into(), l4).frame()
}

/// A round's frames: tick `k` carries stage `s` of flow `k − s`.
fn interleaved(flows: usize) -> Vec<Vec<u8>> {
    let mut frames = Vec::with_capacity(flows * PACKETS_PER_FLOW);
    for tick in 0..flows + PACKETS_PER_FLOW - 1 {
        for stage in 0..PACKETS_PER_FLOW {
            if let Some(flow) = tick.checked_sub(stage).filter(|&f| f < flows) {
                frames.push(flow_frame(flow, stage));
            }
        }
    }
    frames
}

/// Set up the scenario for `mode`.
pub fn sync_flows(mode: SyncMode) -> Result<SyncFlows, SetupError> {
    let mut neighbors = FastNeighbors::new();
    neighbors.insert(CLIENT_IF, xvs_testkit::GW4.into(), xvs_testkit::GW_MAC);
    let mut rig = Rig::new(
        &scheduler_yaml(SchedulerKind::Rr),
        CAPACITY_V4,
        1024,
        neighbors,
    )?;
    let link = match mode {
        SyncMode::Off => None,
        SyncMode::On => Some(Arc::new(SyncLink::new(1, DRAINED_QUEUE))),
        SyncMode::Queued => Some(Arc::new(SyncLink::new(
            1,
            FLOWS_PER_ROUND * EVENTS_PER_FLOW,
        ))),
    };
    rig.worker.set_sync(link.clone());
    Ok(SyncFlows {
        rig,
        mode,
        link,
        frames: interleaved(FLOWS_PER_ROUND),
    })
}

impl SyncFlows {
    /// Take every queued event, as the control thread would (it would
    /// then read each entry); how many there were.
    #[inline]
    pub fn drain_events(&self) -> usize {
        let Some(link) = &self.link else {
            return 0;
        };
        let q = &link.worker(0).events;
        let mut n = 0;
        while let Some(id) = q.pop() {
            std::hint::black_box(id);
            n += 1;
        }
        n
    }

    /// One burst as the timed loop takes it: processed, and in
    /// [`SyncMode::On`] the events drained after it. Returns the frames
    /// forwarded.
    #[inline]
    pub fn burst<F: AsRef<[u8]>>(&mut self, frames: &[F]) -> usize {
        let forwarded = self.rig.transmit_burst(CLIENT_IF, frames);
        if self.mode == SyncMode::On {
            self.drain_events();
        }
        forwarded
    }

    /// Between rounds, untimed: empty the table and the event queue.
    pub fn reset(&mut self) {
        self.rig.expire_all();
        self.drain_events();
    }

    /// Events lost to a full queue so far.
    pub fn events_dropped(&self) -> u64 {
        self.link
            .as_ref()
            .map_or(0, |l| l.worker(0).events_dropped.load(Ordering::Relaxed))
    }
}

/// Run one round one frame at a time (the timed loop takes the same
/// frames in bursts), checking that every frame is forwarded, every flow
/// leaves an entry in FIN_WAIT and, with sync on, queued exactly its two
/// events; then empty the table. For tests and the benches' self-check.
pub fn run_round(s: &mut SyncFlows) -> Result<(), SetupError> {
    let mut events = 0;
    for frame in &s.frames {
        crate::rig::expect_forward(&mut s.rig, "sync-flow frame", CLIENT_IF, frame, SERVER_IF)?;
        if s.mode == SyncMode::On {
            events += s.drain_events();
        }
    }
    events += s.drain_events();
    let flows = s.frames.len() / PACKETS_PER_FLOW;
    let found = s.rig.table.len();
    if found != flows {
        return Err(SetupError::TableLen {
            what: "after a round of sync flows",
            expected: flows,
            found,
        });
    }
    let want = if s.mode == SyncMode::Off {
        0
    } else {
        flows * EVENTS_PER_FLOW
    };
    if events != want || s.events_dropped() != 0 {
        return Err(SetupError::TableLen {
            what: "sync events queued in a round",
            expected: want,
            found: events,
        });
    }
    let mut closing = 0;
    s.rig
        .table
        .for_each(|e| closing += usize::from(e.state == xvs_conn::ConnState::FinWait));
    if closing != flows {
        return Err(SetupError::TableLen {
            what: "entries in FIN_WAIT after a round",
            expected: flows,
            found: closing,
        });
    }
    s.reset();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_interleave_every_stage_of_every_flow_in_order() {
        let frames = interleaved(10);
        assert_eq!(frames.len(), 10 * PACKETS_PER_FLOW);
        // Flow 3's frames appear in stage order.
        let flow3: Vec<usize> = (0..PACKETS_PER_FLOW)
            .map(|s| {
                let f = flow_frame(3, s);
                frames.iter().position(|x| *x == f).expect("present")
            })
            .collect();
        assert!(flow3.windows(2).all(|w| w[0] < w[1]), "{flow3:?}");
        // Once every stage is under way, a tick has one frame of each
        // stage: tick 8 (after ticks of 1, 2, 3, 4, 5, 6, 6, 6 = 33
        // frames) carries stage s of flow 8 − s.
        let tick = &frames[33..39];
        for (s, f) in tick.iter().enumerate() {
            assert_eq!(*f, flow_frame(8 - s, s), "stage {s}");
        }
    }

    #[test]
    fn every_mode_forwards_every_frame_and_queues_two_events_a_flow() {
        for mode in SyncMode::ALL {
            let mut s = sync_flows(mode).expect("setup");
            for _round in 0..2 {
                run_round(&mut s).unwrap_or_else(|e| panic!("{}: {e}", mode.name()));
                assert!(s.rig.table.is_empty());
            }
        }
    }

    #[test]
    fn the_timed_burst_drains_only_in_mode_on() {
        for mode in SyncMode::ALL {
            let mut s = sync_flows(mode).expect("setup");
            let frames: Vec<Vec<u8>> = s.frames[..64].to_vec();
            for chunk in frames.chunks(32) {
                assert_eq!(s.burst(chunk), chunk.len());
            }
            let left = s.link.as_ref().map_or(0, |l| l.worker(0).events.len());
            match mode {
                SyncMode::Off | SyncMode::On => assert_eq!(left, 0, "{}", mode.name()),
                SyncMode::Queued => assert!(left > 0),
            }
        }
    }
}
