//! The SYN proxy's cost per new connection, step by step, against the
//! plain new-connection path of the same NAT service (the fixture's
//! `nat4-tcp`, one real server), in ns per packet:
//!
//! - `plain/syn`: a SYN opening an entry and forwarded to the real server;
//! - `plain/syn_ack`, `plain/ack`: the real server's SYN-ACK and the
//!   client's ACK of an open entry (the rest of a plain handshake);
//! - `proxy/syn`: a SYN answered with a cookie SYN-ACK (no entry);
//! - `proxy/ack`: the client's ACK, cookie checked, entry opened, turned
//!   into the SYN to the real server;
//! - `proxy/syn_ack`: the real server's SYN-ACK turned into the ACK that
//!   completes its handshake.
//!
//! Flows are replayed in rounds of `FLOWS` distinct client ports; between
//! rounds, untimed, the table is emptied and the state each step needs
//! (open entries, cookies) is rebuilt. Run:
//! `cargo bench -p xvs-bench --bench synproxy`.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use xvs_conn::ConnTable;
use xvs_dataplane::{FrameBuf, Plan, StaticNeighbors, SynProxy, Verdict, Worker};
use xvs_testkit::*;

const FLOWS: usize = 2048;
const NOW: u32 = 1_000;

struct Side {
    plan: Plan,
    table: Arc<ConnTable>,
    worker: Worker,
    neighbors: StaticNeighbors,
    buf: Vec<u8>,
}

impl Side {
    fn new(synproxy: bool) -> Side {
        let yaml = if synproxy {
            LAB_YAML.replace(
                "  - name: nat4-tcp\n",
                "  - name: nat4-tcp\n    synproxy: true\n",
            )
        } else {
            LAB_YAML.to_string()
        };
        let (plan, _) = plan_from_yaml(&yaml, 1);
        let (table, mut ws) = workers(&plan, 1);
        let mut worker = ws.remove(0);
        if synproxy {
            worker.set_synproxy(Some(Arc::new(SynProxy::new([9; 16], &table))));
        }
        Side {
            plan,
            table,
            worker,
            neighbors: lab_neighbors(),
            buf: vec![0; BUFFER],
        }
    }

    /// Process one frame in the side's buffer; the output frame.
    fn process(&mut self, ingress: usize, frame: &[u8]) -> (Verdict, &[u8]) {
        self.buf[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
        let mut pkt = FrameBuf::new(&mut self.buf, HEADROOM, frame.len()).expect("fits");
        let v = self
            .worker
            .process(&self.plan, &self.neighbors, NOW, ingress, &mut pkt);
        let (start, len) = (pkt.start(), pkt.len());
        (v, &self.buf[start..start + len])
    }

    /// Untimed: free every entry.
    fn empty(&mut self) {
        self.worker.housekeeping(&self.plan, NOW + 100_000, 1 << 16);
        assert_eq!(self.table.len(), 0);
    }
}

/// A TCP segment (no payload) as etherparse builds it.
#[allow(clippy::too_many_arguments)]
fn segment(
    macs: ([u8; 6], [u8; 6]),
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    options: &[u8],
) -> Vec<u8> {
    let mut h = etherparse::TcpHeader::new(sport, dport, seq, 64240);
    h.syn = flags & SYN != 0;
    h.ack = flags & ACK != 0;
    h.acknowledgment_number = ack;
    h.set_options_raw(options).expect("options fit");
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        panic!("IPv4 only")
    };
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(s.octets(), d.octets(), 64)
        .tcp_header(h)
        .write(&mut out, &[])
        .expect("writes");
    out
}

/// A Linux SYN's options: MSS, SACK-permitted, timestamps, window scale.
const SYN_OPTS: [u8; 20] = [
    2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 48, 57, 0, 0, 0, 0, 1, 3, 3, 7,
];

fn port(i: usize) -> u16 {
    10_000 + i as u16
}

fn client_syn(i: usize) -> Vec<u8> {
    segment(
        (GW_MAC, DIR_CLIENT_MAC),
        CLIENT4.into(),
        port(i),
        VIP4_NAT.into(),
        TCP_PORT,
        1000,
        0,
        SYN,
        &SYN_OPTS,
    )
}

fn client_ack(i: usize, ack: u32, ts: Option<u32>) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10, 0, 0, 48, 60];
    o.extend(ts.unwrap_or(0).to_be_bytes());
    segment(
        (GW_MAC, DIR_CLIENT_MAC),
        CLIENT4.into(),
        port(i),
        VIP4_NAT.into(),
        TCP_PORT,
        1001,
        ack,
        ACK,
        &o,
    )
}

fn server_syn_ack(i: usize) -> Vec<u8> {
    segment(
        (rs_mac(0), DIR_SERVER_MAC),
        RS4[0].into(),
        RS_TCP_PORT,
        CLIENT4.into(),
        port(i),
        7000,
        1001,
        SYN | ACK,
        &SYN_OPTS,
    )
}

/// Time `f` over every frame of `frames`, `iters` frames in all, calling
/// `prepare` (untimed) before each round.
fn rounds(
    side: &mut Side,
    iters: u64,
    ingress: usize,
    mut prepare: impl FnMut(&mut Side) -> Vec<Vec<u8>>,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let frames = prepare(side);
        let n = (left as usize).min(frames.len());
        let t = Instant::now();
        for f in &frames[..n] {
            black_box(side.process(ingress, black_box(f)).0);
        }
        total += t.elapsed();
        left -= n as u64;
    }
    total
}

/// Benchmark `name`: [`rounds`] of frames `side` takes from `ingress`.
fn bench_rounds(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    side: &mut Side,
    ingress: usize,
    mut prepare: impl FnMut(&mut Side) -> Vec<Vec<u8>>,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| rounds(side, iters, ingress, &mut prepare))
    });
}

/// The proxy's cookie SYN-ACK and its TSval for flow `i` (the side's
/// table untouched).
fn cookie(side: &mut Side, i: usize) -> (u32, u32) {
    let (v, out) = side.process(CLIENT_IF, &client_syn(i));
    assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
    let seq = u32::from_be_bytes(out[38..42].try_into().unwrap());
    // MSS(4) SACK-permitted(2) timestamp kind/len(2): TSval at +8.
    let tsval = u32::from_be_bytes(out[62..66].try_into().unwrap());
    (seq, tsval)
}

fn bench_synproxy(c: &mut Criterion) {
    let mut group = c.benchmark_group("synproxy");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    let syns: Vec<Vec<u8>> = (0..FLOWS).map(client_syn).collect();
    let syn_acks: Vec<Vec<u8>> = (0..FLOWS).map(server_syn_ack).collect();

    // The plain path.
    let mut plain = Side::new(false);
    let (v, _) = plain.process(CLIENT_IF, &syns[0]);
    assert_eq!(
        v,
        Verdict::Forward { iface: SERVER_IF },
        "plain SYN forwarded"
    );
    bench_rounds(&mut group, "plain/syn", &mut plain, CLIENT_IF, |s| {
        s.empty();
        syns.clone()
    });
    let open_plain = |s: &mut Side| {
        s.empty();
        for f in &syns {
            s.process(CLIENT_IF, f);
        }
    };
    bench_rounds(&mut group, "plain/syn_ack", &mut plain, SERVER_IF, |s| {
        open_plain(s);
        syn_acks.clone()
    });
    let plain_acks: Vec<Vec<u8>> = (0..FLOWS).map(|i| client_ack(i, 7001, None)).collect();
    bench_rounds(&mut group, "plain/ack", &mut plain, CLIENT_IF, |s| {
        open_plain(s);
        for f in &syn_acks {
            s.process(SERVER_IF, f);
        }
        plain_acks.clone()
    });

    // The proxy.
    let mut proxy = Side::new(true);
    bench_rounds(&mut group, "proxy/syn", &mut proxy, CLIENT_IF, |_| {
        syns.clone()
    });
    assert_eq!(proxy.table.len(), 0, "cookie SYN-ACKs open no entry");
    let acks: Vec<Vec<u8>> = (0..FLOWS)
        .map(|i| {
            let (seq, tsval) = cookie(&mut proxy, i);
            client_ack(i, seq.wrapping_add(1), Some(tsval))
        })
        .collect();
    let (v, _) = proxy.process(CLIENT_IF, &acks[0]);
    assert_eq!(
        v,
        Verdict::Forward { iface: SERVER_IF },
        "ACK becomes the SYN"
    );
    bench_rounds(&mut group, "proxy/ack", &mut proxy, CLIENT_IF, |s| {
        s.empty();
        acks.clone()
    });
    bench_rounds(&mut group, "proxy/syn_ack", &mut proxy, SERVER_IF, |s| {
        s.empty();
        for f in &acks {
            s.process(CLIENT_IF, f);
        }
        syn_acks.clone()
    });
    // Self-check: a server SYN-ACK of an opened flow becomes the ACK to it.
    proxy.empty();
    proxy.process(CLIENT_IF, &acks[1]);
    let (v, out) = proxy.process(SERVER_IF, &syn_acks[1]);
    assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    assert_eq!(out[47], ACK, "the SYN-ACK became an ACK");
    group.finish();
}

criterion_group!(benches, bench_synproxy);
criterion_main!(benches);
