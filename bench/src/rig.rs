//! [`Rig`]: one worker, its plan, neighbours and connection table, and the
//! packet buffers the timed iterations reuse.
//!
//! A buffer has the shape of an AF_XDP UMEM chunk as the driver hands it
//! to the pipeline: the frame at a fixed headroom (room in front for the
//! IPIP header TUN adds, room behind for an ICMP error). Because the
//! pipeline rewrites the frame in place, every iteration first copies the
//! pristine input frame back in. The benches go through
//! [`Rig::transmit_burst`], which takes frames the way the worker loop
//! does, a receive burst at a time; [`Rig::copy_burst`] runs exactly its
//! copy without the pipeline, so that cost can be subtracted.
//! [`Rig::process`] and [`Rig::run`] take one frame, for set-up and
//! tests.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xvs_config::Timeouts;
use xvs_conn::{ConnState, ConnTable, TableConfig, TableError};
use xvs_dataplane::{
    DestRegistry, DropReason, FrameBuf, NeighborTable, Plan, Verdict, Worker, WorkerCounters,
};
use xvs_testkit::{plan_from_yaml, BUFFER, HEADROOM};

use crate::neighbors::FastNeighbors;

/// Hash seed of bench tables (any fixed value: runs are repeatable).
const BENCH_HASH_SEED: u64 = 0x6265_6e63_685f_7876;
/// Seed of the worker's scheduler state (as the testkit's first worker).
const WORKER_SEED: u64 = 0x5eed;
/// Clock value at which every bench starts (seconds; any non-zero value).
const START_SECS: u32 = 1_000;

/// Why a bench scenario could not be set up (a fixture or pipeline bug:
/// the bench would otherwise measure the wrong path).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("connection table: {0}")]
    Table(#[from] TableError),
    #[error("{step}: expected the frame to be forwarded, got {verdict:?}")]
    Verdict {
        step: &'static str,
        verdict: Verdict,
    },
    #[error("{what}: expected state {expected:?}, found {found:?}")]
    State {
        what: &'static str,
        expected: ConnState,
        found: Option<ConnState>,
    },
    #[error("{what}: expected {expected} connection entries, found {found}")]
    TableLen {
        what: &'static str,
        expected: usize,
        found: usize,
    },
}

/// Everything one worker needs to process frames, and its packet buffer.
#[derive(Debug)]
pub struct Rig {
    pub plan: Plan,
    /// Keeps the real servers' shared counters alive (the plan refers to them).
    pub registry: DestRegistry,
    /// The neighbour table as the control thread publishes it for `plan`.
    pub neighbors: NeighborTable,
    pub table: Arc<ConnTable>,
    pub worker: Worker,
    /// The clock handed to the pipeline (seconds).
    pub now: u32,
    buf: Box<[u8]>,
    /// [`BURST`] buffers, [`STRIDE`] bytes apart, for [`Rig::transmit_burst`].
    burst: Box<[u8]>,
}

/// Time `packets` frames taken from `frames` in bursts of up to [`BURST`]
/// consecutive ones, cycling, from `*next` on (left where the last burst
/// ended); `burst` handles one burst.
pub fn time_bursts<F>(
    packets: u64,
    frames: &[F],
    next: &mut usize,
    mut burst: impl FnMut(&[F]),
) -> Duration {
    let start = Instant::now();
    let mut left = packets;
    while left > 0 && !frames.is_empty() {
        let from = if *next < frames.len() { *next } else { 0 };
        let k = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(BURST)
            .min(frames.len() - from);
        burst(&frames[from..from + k]);
        *next = from + k;
        left -= k as u64;
    }
    start.elapsed()
}

/// The TX descriptor the driver takes from a verdict: (interface, frame
/// offset, length) for a forward, nothing otherwise.
#[inline]
fn tx_desc(verdict: Verdict, start: usize, len: usize) -> Option<(usize, usize, usize)> {
    match verdict {
        Verdict::Forward { iface } => Some((iface, start, len)),
        _ => None,
    }
}

/// Frames per burst in [`Rig::transmit_burst`]: half the worker loop's
/// receive batch (64), whose bursts are full under load; smaller bursts
/// overlap fewer misses, so this errs on the slow side.
pub const BURST: usize = 32;

/// Distance between the burst buffers: a [`BUFFER`] and one cache line.
/// At a stride of a power of two the 32 frames' header lines would all
/// fall into the same two L1 sets and evict one another within a burst, a
/// cost of this harness: the director's frames arrive from another core's
/// or the NIC's writes, never from its own L1.
const STRIDE: usize = BUFFER + 64;

impl Rig {
    /// A rig for the YAML configuration `yaml` (a fixture: panics if it is
    /// invalid) with one worker and a table of `capacity_v4` IPv4 and
    /// `capacity_v6` IPv6 connections.
    pub fn new(
        yaml: &str,
        capacity_v4: usize,
        capacity_v6: usize,
        neighbors: FastNeighbors,
    ) -> Result<Rig, SetupError> {
        let (plan, registry) = plan_from_yaml(yaml, 1);
        let table = Arc::new(ConnTable::with_config(TableConfig {
            capacity_v4,
            capacity_v6,
            workers: 1,
            hash_seed: BENCH_HASH_SEED,
        })?);
        let mut worker = Worker::new(
            0,
            Arc::clone(&table),
            Arc::new(WorkerCounters::default()),
            WORKER_SEED,
        );
        worker.adopt(&plan);
        Ok(Rig {
            neighbors: neighbors.table(&plan),
            plan,
            registry,
            table,
            worker,
            now: START_SECS,
            buf: vec![0u8; BUFFER].into_boxed_slice(),
            burst: vec![0u8; STRIDE * BURST].into_boxed_slice(),
        })
    }

    /// Copy `frame` into the buffer at the headroom and run it through the
    /// pipeline as received on interface `ingress`. This is the timed body
    /// of every bench.
    #[inline]
    pub fn process(&mut self, ingress: usize, frame: &[u8]) -> Verdict {
        self.run(ingress, frame).0
    }

    /// Process `frames` (at most [`BURST`]) as the worker loop processes
    /// a receive burst: each is already in its own buffer when the burst
    /// starts (copied in here, as the kernel or NIC wrote it before the
    /// worker looked), their connection lookups are started for the whole
    /// burst ([`Worker::prefetch_burst`]), then each is processed and its
    /// TX descriptor taken. Returns how many were forwarded.
    #[inline]
    pub fn transmit_burst<F: AsRef<[u8]>>(&mut self, ingress: usize, frames: &[F]) -> usize {
        let lens = self.fill_burst(frames);
        let n = frames.len().min(BURST);
        let bufs = self.burst.chunks(STRIDE).zip(&lens[..n]);
        self.worker.prefetch_burst(
            &self.plan,
            bufs.map(|(c, &len)| &c[HEADROOM..HEADROOM + len]),
        );
        let (mut forwarded, mut descs) = (0, 0usize);
        for (chunk, &len) in self.burst.chunks_mut(STRIDE).zip(&lens[..n]) {
            let Some(mut pkt) = FrameBuf::new(chunk, HEADROOM, len) else {
                continue;
            };
            let verdict =
                self.worker
                    .process(&self.plan, &self.neighbors, self.now, ingress, &mut pkt);
            if let Some((iface, start, len)) = tx_desc(verdict, pkt.start(), pkt.len()) {
                // What the driver's TX descriptor is made of, kept live.
                descs = descs.wrapping_add(iface ^ start ^ len);
                forwarded += 1;
            }
        }
        std::hint::black_box(descs);
        forwarded
    }

    /// [`Rig::transmit_burst`]'s copy into the buffers alone, without the
    /// pipeline: the cost to subtract.
    #[inline]
    pub fn copy_burst<F: AsRef<[u8]>>(&mut self, frames: &[F]) -> usize {
        let lens = self.fill_burst(frames);
        let n = frames.len().min(BURST);
        let mut total = 0;
        for (chunk, &len) in self.burst.chunks_mut(STRIDE).zip(&lens[..n]) {
            total += FrameBuf::new(chunk, HEADROOM, len).map_or(0, |pkt| pkt.len());
        }
        total
    }

    /// Copy up to [`BURST`] frames into the burst buffers; their lengths.
    /// A frame that does not fit after the headroom is not copied and gets
    /// length 0, which the pipeline drops as truncated: refused whole, as
    /// [`Rig::run`] refuses it, never cut short into a different frame.
    #[inline]
    fn fill_burst<F: AsRef<[u8]>>(&mut self, frames: &[F]) -> [usize; BURST] {
        let mut lens = [0usize; BURST];
        for ((chunk, frame), len) in self.burst.chunks_mut(STRIDE).zip(frames).zip(&mut lens) {
            let frame = frame.as_ref();
            if let Some(dst) = chunk[..BUFFER].get_mut(HEADROOM..HEADROOM + frame.len()) {
                dst.copy_from_slice(frame);
                *len = frame.len();
            }
        }
        lens
    }

    /// [`Rig::process`], also returning where the output frame lies in the
    /// buffer (read it with [`Rig::bytes`]). Inlined into `process`, the
    /// unused range costs nothing there.
    #[inline]
    pub fn run(&mut self, ingress: usize, frame: &[u8]) -> (Verdict, Range<usize>) {
        let len = frame.len();
        let Some(dst) = self.buf.get_mut(HEADROOM..HEADROOM + len) else {
            return (Verdict::Drop(DropReason::NoHeadroom), 0..0);
        };
        dst.copy_from_slice(frame);
        let Some(mut pkt) = FrameBuf::new(&mut self.buf, HEADROOM, len) else {
            return (Verdict::Drop(DropReason::NoHeadroom), 0..0);
        };
        let verdict = self
            .worker
            .process(&self.plan, &self.neighbors, self.now, ingress, &mut pkt);
        (verdict, pkt.start()..pkt.start() + pkt.len())
    }

    /// The bytes of the buffer at `range` (an output frame from [`Rig::run`]).
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        self.buf.get(range).unwrap_or(&[])
    }

    /// Advance the clock past every timeout and sweep the whole shard, so
    /// that every entry expires and its real server's counters are unbound
    /// (as the runtime's housekeeping does, in one go). Returns the number
    /// of entries freed.
    pub fn expire_all(&mut self) -> usize {
        self.now = self
            .now
            .saturating_add(longest_timeout(&self.plan.timeouts).saturating_add(1));
        let slots = self.table.capacity();
        self.worker.housekeeping(&self.plan, self.now, slots)
    }

    /// The state of the only entry whose client port is `cport`, if any
    /// (scenario checks; walks the whole table).
    pub fn state_of(&self, cport: u16) -> Option<ConnState> {
        let mut found = None;
        self.table.for_each(|e| {
            if e.cport == cport && !e.is_template() {
                found = Some(e.state);
            }
        });
        found
    }
}

/// The longest idle timeout an entry can have in `t` (seconds).
fn longest_timeout(t: &Timeouts) -> u32 {
    [
        t.tcp,
        t.tcp_fin,
        t.udp,
        t.syn_sent,
        t.syn_recv,
        t.time_wait,
        t.close,
        t.close_wait,
        t.last_ack,
        t.listen,
        t.synack,
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
}

/// Run `frame` through `rig` and insist that it is forwarded on `iface`.
pub(crate) fn expect_forward(
    rig: &mut Rig,
    step: &'static str,
    ingress: usize,
    frame: &[u8],
    iface: usize,
) -> Result<(), SetupError> {
    match rig.process(ingress, frame) {
        Verdict::Forward { iface: out } if out == iface => Ok(()),
        verdict => Err(SetupError::Verdict { step, verdict }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xvs_testkit::{Spec, CLIENT4, CLIENT_IF, LAB_YAML, SERVER_IF, SYN, TCP_PORT, VIP4_DR};

    fn lab_rig() -> Rig {
        Rig::new(LAB_YAML, 1024, 1024, FastNeighbors::lab()).expect("fixture table")
    }

    #[test]
    fn process_restores_the_input_each_time_and_leaves_the_output_readable() {
        let mut rig = lab_rig();
        let syn = Spec::tcp(CLIENT4.into(), 4000, VIP4_DR.into(), TCP_PORT, SYN).frame();
        for _ in 0..2 {
            // The second run sees the pristine frame again (TTL 64, not 63).
            let (verdict, out) = rig.run(CLIENT_IF, &syn);
            assert_eq!(verdict, Verdict::Forward { iface: SERVER_IF });
            let ttl = rig.bytes(out)[14 + 8];
            assert_eq!(ttl, 63, "one TTL decrement per run");
        }
        assert_eq!(rig.table.len(), 1, "the second SYN hit the first entry");
    }

    #[test]
    fn time_bursts_takes_exactly_the_packets_asked_in_bursts_cycling() {
        let frames: Vec<u32> = (0..70).collect();
        let mut next = 0;
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        time_bursts(100, &frames, &mut next, |b| {
            sizes.push(b.len());
            seen.extend_from_slice(b);
        });
        // 32 + 32 + 6 (the end of the frames) + 30: then it resumes at 30.
        assert_eq!(sizes, vec![32, 32, 6, 30]);
        let want: Vec<u32> = (0..70).chain(0..30).collect();
        assert_eq!(seen, want);
        assert_eq!(next, 30);
        time_bursts(5, &frames, &mut next, |b| {
            assert_eq!(b, &[30, 31, 32, 33, 34])
        });
        assert_eq!(next, 35);
        // Nothing to take from: returns at once.
        time_bursts(10, &[] as &[u32], &mut next, |_| panic!("no frames"));
    }

    #[test]
    fn copy_burst_copies_the_frames_without_touching_the_table() {
        let mut rig = lab_rig();
        let syns: Vec<Vec<u8>> = (0..3)
            .map(|i| Spec::tcp(CLIENT4.into(), 4001 + i, VIP4_DR.into(), TCP_PORT, SYN).frame())
            .collect();
        let total: usize = syns.iter().map(Vec::len).sum();
        assert_eq!(rig.copy_burst(&syns), total);
        for (i, syn) in syns.iter().enumerate() {
            let at = i * STRIDE + HEADROOM;
            assert_eq!(&rig.burst[at..at + syn.len()], &syn[..], "frame {i}");
        }
        assert!(rig.table.is_empty());
        // The same frames processed: all forwarded, three entries.
        assert_eq!(rig.transmit_burst(CLIENT_IF, &syns), 3);
        assert_eq!(rig.table.len(), 3);
        // A frame larger than the single buffer is refused, not a panic.
        assert_eq!(
            rig.process(CLIENT_IF, &vec![0u8; BUFFER]),
            Verdict::Drop(DropReason::NoHeadroom)
        );
    }

    #[test]
    fn a_burst_refuses_a_frame_too_big_for_its_buffer_instead_of_cutting_it() {
        let mut rig = lab_rig();
        // A SYN with trailing bytes after its IP packet (Ethernet padding
        // gone long), one byte too many for the buffer. Cut to fit it would
        // still be a valid SYN and open a flow; refused, it opens none.
        let room = BUFFER - HEADROOM;
        let mut big = Spec::tcp(CLIENT4.into(), 4100, VIP4_DR.into(), TCP_PORT, SYN).frame();
        big.resize(room + 1, 0);
        let ok = Spec::tcp(CLIENT4.into(), 4101, VIP4_DR.into(), TCP_PORT, SYN).frame();
        assert_eq!(rig.transmit_burst(CLIENT_IF, &[big, ok]), 1);
        assert_eq!(rig.table.len(), 1, "only the frame that fits opens a flow");
    }

    #[test]
    fn expire_all_frees_every_entry_and_moves_the_clock_past_the_longest_timeout() {
        let mut rig = lab_rig();
        for port in 5000..5010 {
            let syn = Spec::tcp(CLIENT4.into(), port, VIP4_DR.into(), TCP_PORT, SYN).frame();
            expect_forward(&mut rig, "syn", CLIENT_IF, &syn, SERVER_IF).expect("forwarded");
        }
        assert_eq!(rig.table.len(), 10);
        let before = rig.now;
        assert_eq!(rig.expire_all(), 10);
        assert!(rig.table.is_empty());
        assert_eq!(
            rig.now - before,
            901,
            "ESTABLISHED's 900 s is the longest default"
        );
    }
}
