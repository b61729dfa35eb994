//! Connection-sync scenarios: what the worker pays for reporting entries
//! to the control thread (`Worker::set_sync`), and the sync traffic that
//! results, at a steady stream of short TCP connections. Each flow is the
//! client's SYN, ACK, three data segments and FIN+ACK to a DR service with
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
//! The consumer does what the control thread's sync driver does with the
//! queue (crates/runtime/src/sync.rs, `SyncDriver::run`): for each id it
//! reads the entry from the table and, if it is still there and not
//! expired, offers it to an [`xvs_sync::Sender`] ([`SENDER_CONFIG`]), then
//! takes every datagram the sender has ready and counts it
//! ([`SyncTraffic`]). At the end of a round (untimed) the sender's partial
//! datagram is flushed and counted too. The sender's clock is the real
//! one, read once per pass as the control loop reads it; a round is far
//! shorter than the 20 ms a partial datagram may wait, so datagrams leave
//! full or at the round's flush.
//!
//! [`SyncMode`] picks when the consumer runs: never (off: no sync link);
//! after every burst, in the same thread, timed (on: the figure includes
//! the consumer's pops, table reads, packing and datagrams, the control
//! thread's work on its own core, so it is an upper bound on the worker's
//! share); or once after the round, untimed, from a queue large enough for
//! the round (on_queued: the worker's pushes alone). How often the
//! consumer runs decides what is sent: it reads an entry's state when it
//! pops the id, so a flow whose ESTABLISHED and FIN_WAIT events are taken
//! in the same pass is synced once, in FIN_WAIT.

use std::ops::Sub;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xvs_config::SchedulerKind;
use xvs_dataplane::SyncLink;
use xvs_sync::{Sender, SenderConfig};
use xvs_testkit::{Spec, ACK, CLIENT_IF, FIN, L4, PSH, SERVER_IF, SYN, TCP_PORT};

use crate::flows::{client_addr, client_port};
use crate::neighbors::FastNeighbors;
use crate::new_flow::{scheduler_yaml, FLOWS_PER_ROUND, NEW_FLOW_VIP};
use crate::rig::{Rig, SetupError};

/// Packets per flow: SYN, ACK, three data segments, FIN+ACK.
pub const PACKETS_PER_FLOW: usize = 6;
/// Events a flow queues with sync on: ESTABLISHED and FIN_WAIT.
pub const EVENTS_PER_FLOW: usize = 2;
/// Bytes in front of a sync datagram on the wire: IPv4 (20, no options)
/// and UDP (8) headers.
pub const IPV4_UDP_HEADERS: u64 = 28;
/// The consumer's sender: the `sync:` defaults (`SenderConfig::default`:
/// SyncID 0, 20 ms as the kernel's sender thread, refresh every 30 s) on
/// a 1500-byte link.
pub const SENDER_CONFIG: SenderConfig = SenderConfig {
    sync_id: 0,
    mtu: 1500,
    max_delay: Duration::from_millis(20),
    refresh_secs: 30,
};
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
    /// Queued, and consumed after every burst in the same thread.
    On,
    /// Queued into a queue that holds a whole round, consumed untimed.
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

/// The sync datagrams the consumer has taken from the sender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncTraffic {
    /// Datagrams (every one carries entries: the bench sends no control).
    pub datagrams: u64,
    /// Their UDP payload bytes.
    pub bytes: u64,
    /// Entries in them: connections synced (the sender's count).
    pub entries: u64,
}

impl SyncTraffic {
    /// Bytes on the wire with an IPv4 and a UDP header per datagram.
    pub fn wire_bytes(&self) -> u64 {
        self.bytes + IPV4_UDP_HEADERS * self.datagrams
    }
}

impl Sub for SyncTraffic {
    type Output = SyncTraffic;

    /// The traffic between two readings (the earlier one subtracted).
    fn sub(self, earlier: SyncTraffic) -> SyncTraffic {
        SyncTraffic {
            datagrams: self.datagrams - earlier.datagrams,
            bytes: self.bytes - earlier.bytes,
            entries: self.entries - earlier.entries,
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
    /// The control thread's sender (`None` when off).
    pub sender: Option<Sender>,
    /// [`FLOWS_PER_ROUND`] × [`PACKETS_PER_FLOW`] frames, interleaved.
    pub frames: Vec<Vec<u8>>,
    /// When set, every datagram sent is also kept here (tests).
    pub captured: Option<Vec<Vec<u8>>>,
    /// Datagrams and bytes taken from the sender so far.
    sent: SyncTraffic,
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

/// The (flow, stage) of each frame of a round, in order: tick `k` carries
/// stage `s` of flow `k − s`.
fn schedule(flows: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..flows + PACKETS_PER_FLOW - 1).flat_map(move |tick| {
        (0..PACKETS_PER_FLOW).filter_map(move |stage| {
            let flow = tick.checked_sub(stage).filter(|&f| f < flows)?;
            Some((flow, stage))
        })
    })
}

/// A round's frames, in [`schedule`] order.
fn interleaved(flows: usize) -> Vec<Vec<u8>> {
    schedule(flows).map(|(f, s)| flow_frame(f, s)).collect()
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
        sender: link.as_ref().map(|_| Sender::new(SENDER_CONFIG)),
        link,
        frames: interleaved(FLOWS_PER_ROUND),
        captured: None,
        sent: SyncTraffic::default(),
    })
}

impl SyncFlows {
    /// One pass of the control thread's sync driver at `now`: take every
    /// queued event, offer each id's entry to the sender if it is still
    /// in the table and live (`SyncDriver::run`; every VIP is served here,
    /// no VRRP), then take every datagram ready. Returns the events taken.
    #[inline]
    pub fn consume(&mut self, now: Instant) -> usize {
        let (Some(link), Some(sender)) = (&self.link, &mut self.sender) else {
            return 0;
        };
        let q = &link.worker(0).events;
        let mut n = 0;
        while let Some(id) = q.pop() {
            n += 1;
            if let Some(e) = self.rig.table.get(id) {
                if !e.is_expired(self.rig.now) {
                    sender.offer(&e, now);
                }
            }
        }
        self.transmit(now);
        n
    }

    /// Take every datagram the sender has ready at `now`; count them (and
    /// keep them when [`SyncFlows::captured`] is set).
    #[inline]
    fn transmit(&mut self, now: Instant) {
        let Some(sender) = &mut self.sender else {
            return;
        };
        while let Some(d) = sender.poll_transmit(now) {
            self.sent.datagrams += 1;
            self.sent.bytes += d.len() as u64;
            if let Some(kept) = &mut self.captured {
                kept.push(d);
            }
        }
    }

    /// One burst as the timed loop takes it: processed, and in
    /// [`SyncMode::On`] the events consumed after it (the control loop
    /// reads the clock once per pass; a pass here is a burst). Returns the
    /// frames forwarded.
    #[inline]
    pub fn burst<F: AsRef<[u8]>>(&mut self, frames: &[F]) -> usize {
        let forwarded = self.rig.transmit_burst(CLIENT_IF, frames);
        if self.mode == SyncMode::On {
            self.consume(Instant::now());
        }
        forwarded
    }

    /// At the end of a round, untimed: consume what is queued, flush the
    /// sender's partial datagram and count it; then empty the table, and
    /// the sender's memory of what it sent with it.
    pub fn reset(&mut self) {
        let now = Instant::now();
        self.consume(now);
        if let Some(sender) = &mut self.sender {
            sender.flush();
        }
        self.transmit(now);
        self.rig.expire_all();
        if let Some(sender) = &mut self.sender {
            // A sweep of the now empty table: the sender forgets every id
            // it sent (as the driver's sweeps forget entries that left the
            // table), so its memory does not grow round after round.
            sender.begin_sweep();
            sender.end_sweep();
        }
    }

    /// The sync traffic sent so far.
    pub fn traffic(&self) -> SyncTraffic {
        SyncTraffic {
            entries: self.sender.as_ref().map_or(0, |s| s.stats().entries_sent),
            ..self.sent
        }
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
/// events, and that the sender was offered what the consumer's timing
/// implies: both states of every flow when consumed after every frame
/// (on), the last one only when consumed after the round (on_queued).
/// Then empty the table. For tests and the benches' self-check.
pub fn run_round(s: &mut SyncFlows) -> Result<(), SetupError> {
    let before = s.traffic();
    let mut events = 0;
    // Moved out so that the consumer may borrow the scenario.
    let frames = std::mem::take(&mut s.frames);
    let forwarded: Result<(), SetupError> = frames.iter().try_for_each(|frame| {
        crate::rig::expect_forward(&mut s.rig, "sync-flow frame", CLIENT_IF, frame, SERVER_IF)?;
        if s.mode == SyncMode::On {
            events += s.consume(Instant::now());
        }
        Ok(())
    });
    let flows = frames.len() / PACKETS_PER_FLOW;
    s.frames = frames;
    forwarded?;
    let found = s.rig.table.len();
    if found != flows {
        return Err(SetupError::TableLen {
            what: "after a round of sync flows",
            expected: flows,
            found,
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
    events += s.consume(Instant::now());
    let (want_events, want_synced) = match s.mode {
        SyncMode::Off => (0, 0),
        SyncMode::On => (flows * EVENTS_PER_FLOW, flows * EVENTS_PER_FLOW),
        SyncMode::Queued => (flows * EVENTS_PER_FLOW, flows),
    };
    if events != want_events || s.events_dropped() != 0 {
        return Err(SetupError::TableLen {
            what: "sync events queued in a round",
            expected: want_events,
            found: events,
        });
    }
    s.reset();
    let synced = usize::try_from((s.traffic() - before).entries).unwrap_or(usize::MAX);
    if synced != want_synced {
        return Err(SetupError::TableLen {
            what: "connections synced in a round",
            expected: want_synced,
            found: synced,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rig::BURST;

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
    fn schedule_and_frames_agree() {
        let frames = interleaved(7);
        let order: Vec<(usize, usize)> = schedule(7).collect();
        assert_eq!(order.len(), frames.len());
        for (f, &(flow, stage)) in frames.iter().zip(&order) {
            assert_eq!(*f, flow_frame(flow, stage));
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

    /// The bench's traffic is real sync traffic: a short round in bursts,
    /// as the timed loop runs it, yields datagrams a receiver accepts
    /// whole, carrying exactly the entries the consumer's timing implies,
    /// in the order the events were queued.
    #[test]
    fn the_on_consumer_sends_datagrams_a_receiver_decodes_into_the_flows_entries() {
        use std::collections::HashMap;
        use std::net::{IpAddr, Ipv4Addr};
        use xvs_conn::{ConnFlags, ConnState};
        use xvs_sync::{Received, Receiver, ReceiverConfig, Synced};

        const FLOWS: usize = 100;
        let mut s = sync_flows(SyncMode::On).expect("setup");
        s.frames = interleaved(FLOWS);
        s.captured = Some(Vec::new());
        let frames = s.frames.clone();
        for chunk in frames.chunks(BURST) {
            assert_eq!(s.burst(chunk), chunk.len());
        }
        // Each flow's entry at the end, as the receiver will read it
        // (flags as a backup keeps them).
        let mut last: HashMap<u16, Synced> = HashMap::new();
        s.rig.table.for_each(|e| {
            let mut synced = Synced::from_entry(e);
            synced.flags = synced.flags & ConnFlags::BACKUP_MASK | ConnFlags::SYNC;
            last.insert(e.cport, synced);
        });
        assert_eq!(last.len(), FLOWS);
        let tcp_timeout = s.rig.plan.timeouts.tcp;
        s.reset();

        // What the consumer offers, in the order the events were queued:
        // a flow's ACK (ESTABLISHED) and FIN (FIN_WAIT) events, each read
        // after its burst. When both fall in
        // one burst the first read already sees FIN_WAIT and the second
        // finds nothing new to send.
        let order: Vec<(usize, usize)> = schedule(FLOWS).collect();
        let burst_of = |flow: usize, stage: usize| {
            order
                .iter()
                .position(|&x| x == (flow, stage))
                .expect("scheduled")
                / BURST
        };
        let mut expected = Vec::new();
        for &(flow, stage) in &order {
            let fin = last[&client_port(flow)];
            let same_burst = burst_of(flow, 1) == burst_of(flow, PACKETS_PER_FLOW - 1);
            match stage {
                1 if same_burst => expected.push(fin),
                1 => {
                    // An established connection is active (FIN_WAIT made
                    // it inactive), with ESTABLISHED's timeout.
                    let mut established = Synced {
                        state: ConnState::Established,
                        timeout_secs: tcp_timeout,
                        ..fin
                    };
                    established.flags.remove(ConnFlags::INACTIVE);
                    expected.push(established);
                }
                s if s == PACKETS_PER_FLOW - 1 && !same_burst => expected.push(fin),
                _ => {}
            }
        }
        let twice = expected.len() - FLOWS;
        assert!(
            twice > FLOWS / 2 && twice < FLOWS,
            "most flows synced twice: {twice} of {FLOWS}"
        );

        let director = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let mut receiver = Receiver::new(ReceiverConfig {
            sync_id: SENDER_CONFIG.sync_id,
            peers: vec![director],
        });
        let datagrams = s.captured.take().expect("captured");
        let mut received = Vec::new();
        for d in &datagrams {
            assert_eq!(d[1], SENDER_CONFIG.sync_id, "SyncID byte");
            match receiver.handle(director, d) {
                Received::Entries(list) => received.extend(list),
                other => panic!("not an entries datagram: {other:?}"),
            }
        }
        assert_eq!(receiver.counters().dropped_total(), 0);
        assert_eq!(received.len(), expected.len());
        for (i, (got, want)) in received.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "entry {i}");
        }
        // Spot-check one flow against its frames' addresses.
        let first = received
            .iter()
            .find(|r| r.cport == client_port(0))
            .expect("flow 0 synced");
        assert_eq!(first.caddr, IpAddr::from(client_addr(0)));
        assert_eq!(first.vaddr, IpAddr::from(NEW_FLOW_VIP));
        assert_eq!((first.protocol, first.vport), (xvs_sync::TCP, TCP_PORT));
        assert_eq!(first.flags.method_bits(), ConnFlags::FWD_DROUTE.bits());
        assert_eq!(first.worker, Some(0));
        // The counts the bench reports are the datagrams' own.
        let t = s.traffic();
        assert_eq!(t.datagrams, datagrams.len() as u64);
        assert_eq!(
            t.bytes,
            datagrams.iter().map(|d| d.len() as u64).sum::<u64>()
        );
        assert_eq!(t.entries, received.len() as u64);
        assert!(t.datagrams >= 2, "more than one datagram's worth: {t:?}");
        assert_eq!(t.wire_bytes(), t.bytes + 28 * t.datagrams);
    }

    #[test]
    fn the_sender_forgets_each_round_so_every_round_syncs_the_same() {
        let mut s = sync_flows(SyncMode::Queued).expect("setup");
        for _round in 0..3 {
            let before = s.traffic();
            run_round(&mut s).expect("round");
            assert_eq!(
                (s.traffic() - before).entries,
                FLOWS_PER_ROUND as u64,
                "one FIN_WAIT entry per flow, read after the round"
            );
        }
    }
}
