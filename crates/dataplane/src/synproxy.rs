//! The SYN proxy of NAT and FullNAT services with `synproxy: true` (the
//! idea of DPVS's synproxy and Linux's SYNPROXY target), on top of the
//! pure logic in xvs-synproxy.
//!
//! 1. A SYN with no entry is answered by the director with a SYN-ACK whose
//!    sequence number is a SYN cookie; nothing is stored, so a spoofed SYN
//!    flood costs no table entry.
//! 2. The client's ACK proves the cookie. Only then is the connection
//!    scheduled and inserted (SYN_RECV), and the ACK is turned into the SYN
//!    to the real server, NAT/FullNAT-rewritten as usual.
//! 3. The real server's SYN-ACK is turned into the ACK that completes its
//!    handshake (it never reaches the client, which is already
//!    established), the sequence/timestamp/window translation
//!    ([`xvs_synproxy::Shift`]) is recorded, and the entry is ESTABLISHED.
//!    The same frame also yields a window update to the client (a second
//!    frame, [`crate::extra_tx`]). A RST instead becomes a RST to the
//!    client.
//! 4. Every later segment is translated in its direction on top of the
//!    address rewrite.
//!
//! The cookie SYN-ACK offers the client a zero window, as Linux's SYNPROXY
//! target does: the client completes its handshake but sends no data until
//! the window update, which leaves the director once the real server is
//! connected. So a client's first request is neither lost nor delayed by a
//! retransmission timeout. Holding the early segment instead (DPVS) would
//! need a buffer per connection that a worker other than the one receiving
//! the server's SYN-ACK could release, and the zero window costs nothing.
//! Should a client send data anyway (a zero-window probe, a stack that
//! ignores the window), the segment is turned into a retransmission of the
//! SYN: its data is dropped, counted, and the client retransmits it once
//! the connection is up; re-sending the SYN also recovers a lost one. If
//! the window update is lost, the client's zero-window probes reach the
//! real server once the entry is established and its ACK opens the window.
//!
//! Layer: dataplane. The per-connection records live in [`SynProxy`], an
//! array of atomics beside the connection table indexed like its slots,
//! readable and writable from every worker (a reply may arrive on any).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use xvs_config::ForwardMethod;
use xvs_conn::{ConnEntry, ConnFlags, ConnId, ConnTable, Direction};
use xvs_synproxy::options::{self, MAX_OPTIONS_LEN};
use xvs_synproxy::{Flow, Shift, SynCookies, SynOptions};
use xvs_wire::sync::SynproxyDelta;
use xvs_wire::{checksum, ip_proto, parse_frame, tcp, Fragment, FrameInfo, FrameKind};

use crate::counters::WorkerCounters;
use crate::extra_tx::EXTRA_HEADROOM;
use crate::frame_buf::FrameBuf;
use crate::inbound::entry_method;
use crate::plan::PlanDest;
use crate::route::{self, Neighbors};
use crate::verdict::{DropReason, Verdict};
use crate::worker::{Ctx, Worker};
use crate::xmit::Encap;

/// The window scale the proxy announces to clients that offer scaling
/// (Linux's default for a 6 MB receive buffer). The real server's own is
/// learnt from its SYN-ACK; windows are rescaled between the two.
pub const PROXY_WINDOW_SCALE: u8 = 7;
/// TTL / hop limit of the segments the proxy originates.
const HOP_LIMIT: u8 = 64;
/// Timestamp clock of the proxy's SYN-ACKs: whole seconds × 1000, so the
/// client sees a clock that advances like a millisecond one.
const TS_PER_SEC: u32 = 1000;

/// The cookie key and one record per connection-table slot.
#[derive(Debug)]
pub struct SynProxy {
    cookies: SynCookies,
    workers: usize,
    /// Slots per shard of each family (IPv4, IPv6), as the table splits
    /// its capacity; the IPv6 records follow the IPv4 ones.
    per_shard: [usize; 2],
    records: Box<[Record]>,
}

/// One proxied connection; `tag` is the entry's id while the record is
/// valid. Written by the worker that opens the entry, and once more by the
/// worker that receives the real server's SYN-ACK.
#[derive(Debug, Default)]
struct Record {
    tag: AtomicU64,
    /// Client ISN (high) and cookie (low).
    isn_cookie: AtomicU64,
    /// The proxy's TSval to the client (high) and [`Misc`] bits (low).
    ts_misc: AtomicU64,
    /// The client's TSval of its ACK (high) and the four window scales.
    client_ts_scales: AtomicU64,
    /// Δseq (high) and Δts (low), once established.
    shift: AtomicU64,
}

const ESTABLISHED: u32 = 1 << 22;
const HAS_TS: u32 = 1 << 20;
const SACK: u32 = 1 << 21;
const NO_WS: u32 = 0xf;

/// What the proxy remembers of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    client_isn: u32,
    cookie: u32,
    proxy_ts: u32,
    client_ts: u32,
    has_ts: bool,
    sack: bool,
    client_ws: Option<u8>,
    mss: u16,
    established: bool,
    shift: Shift,
}

impl SynProxy {
    /// Records for every slot of `table`, cookies under `key`.
    pub fn new(key: [u8; 16], table: &ConnTable) -> SynProxy {
        let workers = table.workers();
        let per_shard = [
            table.capacity_v4().div_ceil(workers),
            table.capacity_v6().div_ceil(workers),
        ];
        let records = (0..workers * (per_shard[0] + per_shard[1]))
            .map(|_| Record::default())
            .collect();
        SynProxy {
            cookies: SynCookies::new(key),
            workers,
            per_shard,
            records,
        }
    }

    /// The record of entry `id` (see [`ConnId`]'s packing: generation,
    /// IPv6 flag, shard, slot).
    fn record(&self, id: ConnId) -> Option<&Record> {
        let raw = id.raw();
        let slot = (raw & 0xFF_FFFF) as usize;
        let shard = ((raw >> 24) & 0x7F) as usize;
        let v6 = ((raw >> 31) & 1) as usize;
        if slot >= self.per_shard[v6] || shard >= self.workers {
            return None;
        }
        let base = v6 * self.workers * self.per_shard[0];
        self.records.get(base + shard * self.per_shard[v6] + slot)
    }

    fn store(&self, id: ConnId, s: &State) -> bool {
        let Some(r) = self.record(id) else {
            return false;
        };
        r.tag.store(0, Ordering::Release);
        r.isn_cookie.store(
            u64::from(s.client_isn) << 32 | u64::from(s.cookie),
            Ordering::Relaxed,
        );
        r.client_ts_scales.store(
            u64::from(s.client_ts) << 32 | u64::from(pack_scales(&s.shift)),
            Ordering::Relaxed,
        );
        r.shift.store(
            u64::from(s.shift.seq) << 32 | u64::from(s.shift.ts),
            Ordering::Relaxed,
        );
        r.ts_misc.store(
            u64::from(s.proxy_ts) << 32 | u64::from(pack_misc(s)),
            Ordering::Release,
        );
        r.tag.store(id.raw(), Ordering::Release);
        true
    }

    fn load(&self, id: ConnId) -> Option<State> {
        let r = self.record(id)?;
        if r.tag.load(Ordering::Acquire) != id.raw() {
            return None;
        }
        let ts_misc = r.ts_misc.load(Ordering::Acquire);
        let isn_cookie = r.isn_cookie.load(Ordering::Relaxed);
        let cts = r.client_ts_scales.load(Ordering::Relaxed);
        let shift = r.shift.load(Ordering::Relaxed);
        if r.tag.load(Ordering::Acquire) != id.raw() {
            return None;
        }
        let misc = ts_misc as u32;
        let ws = (misc >> 16) & 0xf;
        let scales = cts as u32;
        Some(State {
            client_isn: (isn_cookie >> 32) as u32,
            cookie: isn_cookie as u32,
            proxy_ts: (ts_misc >> 32) as u32,
            client_ts: (cts >> 32) as u32,
            has_ts: misc & HAS_TS != 0,
            sack: misc & SACK != 0,
            client_ws: (ws != NO_WS).then_some(ws as u8),
            mss: misc as u16,
            established: misc & ESTABLISHED != 0,
            shift: Shift {
                seq: (shift >> 32) as u32,
                ts: shift as u32,
                server_scale: (scales & 0xf) as u8,
                client_sees_scale: ((scales >> 4) & 0xf) as u8,
                client_scale: ((scales >> 8) & 0xf) as u8,
                server_sees_scale: ((scales >> 12) & 0xf) as u8,
            },
        })
    }
}

impl SynProxy {
    /// The translation of proxied entry `id` for connection sync: `None`
    /// until the real server has answered (the entry is not in a synced
    /// state before either).
    pub fn synced_delta(&self, id: ConnId) -> Option<SynproxyDelta> {
        let s = self.load(id).filter(|s| s.established)?;
        Some(s.shift.into())
    }

    /// Δseq (server ISN − cookie) of proxied entry `id` once established.
    pub(crate) fn seq_delta(&self, id: ConnId) -> Option<u32> {
        self.load(id).filter(|s| s.established).map(|s| s.shift.seq)
    }

    /// Record a synced proxied connection installed as entry `id`: only
    /// the translation, which is all an established connection needs (the
    /// handshake fields stay zero; a SYN-ACK the real server might still
    /// retransmit then fails the handshake check and is dropped, counted).
    pub(crate) fn install_synced(&self, id: ConnId, d: &SynproxyDelta) -> bool {
        let state = State {
            client_isn: 0,
            cookie: 0,
            proxy_ts: 0,
            client_ts: 0,
            has_ts: false,
            sack: false,
            client_ws: None,
            mss: 0,
            established: true,
            shift: Shift::from(*d),
        };
        self.store(id, &state)
    }
}

fn pack_scales(s: &Shift) -> u32 {
    u32::from(s.server_scale & 0xf)
        | u32::from(s.client_sees_scale & 0xf) << 4
        | u32::from(s.client_scale & 0xf) << 8
        | u32::from(s.server_sees_scale & 0xf) << 12
}

fn pack_misc(s: &State) -> u32 {
    let mut m = u32::from(s.mss) | s.client_ws.map_or(NO_WS, u32::from) << 16;
    if s.has_ts {
        m |= HAS_TS;
    }
    if s.sack {
        m |= SACK;
    }
    if s.established {
        m |= ESTABLISHED;
    }
    m
}

/// A TCP segment the proxy writes over the frame's.
struct Segment<'a> {
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &'a [u8],
}

impl<'a> Segment<'a> {
    /// A segment from the VIP to the client of `e` once its cookie was
    /// accepted: the proxy's ISN was the cookie, so seq cookie + 1,
    /// acknowledging the client's SYN.
    fn to_client(e: &ConnEntry, state: &State, flags: u8, window: u16, options: &'a [u8]) -> Self {
        Segment {
            src: e.vaddr,
            sport: e.vport,
            dst: e.caddr,
            dport: e.cport,
            seq: state.cookie.wrapping_add(1),
            ack: state.client_isn.wrapping_add(1),
            flags,
            window,
            options,
        }
    }
}

/// Replace the frame's IP addresses and TCP segment with `seg` (no
/// payload), keeping its Ethernet header, IPv4 options and IPv6 extension
/// headers, and parse the result. `None` when the frame cannot hold it or
/// the families differ.
fn rewrite_segment(
    pkt: &mut FrameBuf<'_>,
    info: &FrameInfo,
    seg: &Segment<'_>,
) -> Option<FrameInfo> {
    let (l3, l4) = (info.l3_offset, info.l4_offset);
    let hlen = 20 + seg.options.len();
    let ip_len = l4 - l3 + hlen;
    if pkt.start() + l4 + hlen > pkt.capacity() {
        return None;
    }
    pkt.set_bounds(pkt.start(), l4 + hlen);
    let f = pkt.frame_mut();
    match (info.kind, seg.src, seg.dst) {
        (FrameKind::Ipv4, IpAddr::V4(s), IpAddr::V4(d)) => {
            let ihl = usize::from(f[l3] & 0xf) * 4;
            f[l3 + 2..l3 + 4].copy_from_slice(&(ip_len as u16).to_be_bytes());
            f[l3 + 8] = HOP_LIMIT;
            f[l3 + 10..l3 + 12].fill(0);
            f[l3 + 12..l3 + 16].copy_from_slice(&s.octets());
            f[l3 + 16..l3 + 20].copy_from_slice(&d.octets());
            let c = checksum::checksum(&f[l3..l3 + ihl]);
            f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        (FrameKind::Ipv6, IpAddr::V6(s), IpAddr::V6(d)) => {
            f[l3 + 4..l3 + 6].copy_from_slice(&((ip_len - 40) as u16).to_be_bytes());
            f[l3 + 7] = HOP_LIMIT;
            f[l3 + 8..l3 + 24].copy_from_slice(&s.octets());
            f[l3 + 24..l3 + 40].copy_from_slice(&d.octets());
        }
        _ => return None,
    }
    let t = &mut f[l4..l4 + hlen];
    t[tcp::field::SRC_PORT].copy_from_slice(&seg.sport.to_be_bytes());
    t[tcp::field::DST_PORT].copy_from_slice(&seg.dport.to_be_bytes());
    t[tcp::field::SEQ].copy_from_slice(&seg.seq.to_be_bytes());
    t[tcp::field::ACK].copy_from_slice(&seg.ack.to_be_bytes());
    t[tcp::field::DATA_OFFSET] = ((hlen / 4) as u8) << 4;
    t[tcp::field::FLAGS] = seg.flags;
    t[tcp::field::WINDOW].copy_from_slice(&seg.window.to_be_bytes());
    t[tcp::field::CHECKSUM].fill(0);
    t[tcp::field::URGENT].fill(0);
    t[20..].copy_from_slice(seg.options);
    let sum = checksum::sum_bytes(
        checksum::pseudo_header(&seg.src, &seg.dst, ip_proto::TCP, hlen),
        t,
    );
    t[tcp::field::CHECKSUM].copy_from_slice(&checksum::finish(sum).to_be_bytes());
    parse_frame(pkt.frame()).ok()
}

/// The TCP header fields the proxy reads from a validated segment.
struct Header {
    seq: u32,
    ack: u32,
    window: u16,
    hlen: usize,
    payload: usize,
}

fn header(frame: &[u8], info: &FrameInfo) -> Option<Header> {
    let t = frame.get(info.l4_offset..info.l3_offset + info.ip_len)?;
    let hlen = usize::from(*t.get(tcp::field::DATA_OFFSET)? >> 4) * 4;
    if hlen < 20 || hlen > t.len() {
        return None;
    }
    let u32_at = |r: std::ops::Range<usize>| u32::from_be_bytes(t[r].try_into().unwrap_or([0; 4]));
    Some(Header {
        seq: u32_at(tcp::field::SEQ),
        ack: u32_at(tcp::field::ACK),
        window: u16::from_be_bytes([t[14], t[15]]),
        hlen,
        payload: t.len() - hlen,
    })
}

fn tcp_options<'f>(frame: &'f [u8], info: &FrameInfo, h: &Header) -> &'f [u8] {
    &frame[info.l4_offset + 20..info.l4_offset + h.hlen]
}

impl Worker {
    /// Use the SYN proxy `sp` (shared by all workers) for services with
    /// `synproxy: true`; `None` (the default): such services are served
    /// without it.
    pub fn set_synproxy(&mut self, sp: Option<Arc<SynProxy>>) {
        self.synproxy = sp;
    }

    /// A TCP segment to a VIP with no entry: `None` unless its service is
    /// proxied; then answer a SYN with a cookie, or open the connection on
    /// an ACK that proves one.
    pub(crate) fn synproxy_open<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &FrameInfo,
    ) -> Option<Verdict> {
        let sp = Arc::clone(self.synproxy.as_ref()?);
        let si = ctx
            .plan
            .find_service(ip_proto::TCP, info.dst, info.dst_port)?;
        if !ctx.plan.services[si].synproxy {
            return None;
        }
        // The proxy rewrites whole segments; a handshake segment in
        // fragments is not one a real client sends.
        if info.fragment != Fragment::None {
            return Some(Verdict::Drop(DropReason::Fragment));
        }
        let f = info.tcp_flags;
        let (syn, ack, rst, fin) = (
            f & tcp::flags::SYN != 0,
            f & tcp::flags::ACK != 0,
            f & tcp::flags::RST != 0,
            f & tcp::flags::FIN != 0,
        );
        Some(if syn && !ack && !rst {
            self.synproxy_syn_ack(ctx, pkt, info, &sp)
        } else if ack && !syn && !rst && !fin {
            self.synproxy_accept(ctx, pkt, info, &sp, si)
        } else {
            Verdict::Drop(DropReason::TcpNotSyn)
        })
    }

    /// Answer a SYN with a cookie SYN-ACK, built in place.
    fn synproxy_syn_ack<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &FrameInfo,
        sp: &SynProxy,
    ) -> Verdict {
        let Some(h) = header(pkt.frame(), info) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let client = SynOptions::parse(tcp_options(pkt.frame(), info, &h));
        let flow = flow_of(info);
        let cookie = sp.cookies.issue(&flow, h.seq, client.mss, ctx.now);
        let Some(egress) = route::route(&ctx.plan.interfaces, info.src) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let ip_overhead = if info.src.is_ipv4() { 40 } else { 60 };
        let mss = egress.mtu.saturating_sub(ip_overhead).max(536);
        let tsval = client.encode_in_timestamp(ctx.now.wrapping_mul(TS_PER_SEC));
        let mut opts = [0u8; MAX_OPTIONS_LEN];
        let n = options::syn_ack(&mut opts, &client, mss, PROXY_WINDOW_SCALE, tsval);
        let seg = Segment {
            src: info.dst,
            sport: info.dst_port,
            dst: info.src,
            dport: info.src_port,
            seq: cookie,
            ack: h.seq.wrapping_add(1),
            flags: tcp::flags::SYN | tcp::flags::ACK,
            // Zero: no data until the real server is connected (see the
            // module docs; RFC 9293 §3.8.6.1 keeps the client probing).
            window: 0,
            options: &opts[..n],
        };
        let Some(mut out) = rewrite_segment(pkt, info, &seg) else {
            return Verdict::Drop(DropReason::NoHeadroom);
        };
        WorkerCounters::count(&self.counters.synproxy_syn_acks);
        self.send_to_client(ctx, pkt, &mut out)
    }

    /// The client's ACK of a cookie: check it, open the connection and
    /// send the SYN to the real server.
    fn synproxy_accept<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &FrameInfo,
        sp: &SynProxy,
        si: usize,
    ) -> Verdict {
        let Some(h) = header(pkt.frame(), info) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let client_isn = h.seq.wrapping_sub(1);
        let cookie = h.ack.wrapping_sub(1);
        let Some(mss) = sp
            .cookies
            .check(&flow_of(info), client_isn, cookie, ctx.now)
        else {
            return Verdict::Drop(DropReason::SynproxyBadCookie);
        };
        let ts = SynOptions::parse(tcp_options(pkt.frame(), info, &h)).timestamp;
        let (client_ws, sack) = ts.map_or((None, false), |(_, ecr)| {
            SynOptions::decode_from_timestamp(ecr)
        });
        if h.payload > 0 {
            WorkerCounters::count(&self.counters.synproxy_early_data);
        }
        let state = State {
            client_isn,
            cookie,
            proxy_ts: ts.map_or(0, |(_, ecr)| ecr),
            client_ts: ts.map_or(0, |(val, _)| val),
            has_ts: ts.is_some(),
            sack,
            client_ws,
            mss,
            established: false,
            shift: Shift::default(),
        };
        let window = xvs_synproxy::shift::rescale(h.window, client_ws.unwrap_or(0), 0);
        let Some(mut syn) = rewrite_syn(pkt, info, &state, window) else {
            return Verdict::Drop(DropReason::NoHeadroom);
        };
        let id = match self.new_conn(ctx, si, &syn) {
            Ok(id) => id,
            Err(reason) => return Verdict::Drop(reason),
        };
        let Some(entry) = self.conns.get(id) else {
            return Verdict::Drop(DropReason::ConnTableFull);
        };
        if !sp.store(id, &state) {
            self.conns.expire_now(id);
            return Verdict::Drop(DropReason::SynproxyNoRecord);
        }
        let Some(dest) = ctx.plan.dest(entry.dest_id) else {
            return Verdict::Drop(DropReason::DestUnavailable);
        };
        dest.shared.stats.count_in(self.id, syn.ip_len);
        dest.service_shared.stats.count_in(self.id, syn.ip_len);
        self.forward_to_real_server(ctx, pkt, &mut syn, &entry, dest)
    }

    /// A client segment of a proxied entry. `None`: established, the
    /// segment was translated and goes the normal way.
    pub(crate) fn synproxy_in<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &FrameInfo,
        e: &ConnEntry,
        dest: &PlanDest,
    ) -> Option<Verdict> {
        let Some(state) = self.synproxy.as_ref().and_then(|sp| sp.load(e.id)) else {
            return Some(Verdict::Drop(DropReason::SynproxyNoRecord));
        };
        if state.established {
            let end = info.l3_offset + info.ip_len;
            if let Some(seg) = pkt.frame_mut().get_mut(info.l4_offset..end) {
                state.shift.to_server(seg);
            }
            return None;
        }
        // The real server has not answered yet.
        if info.fragment != Fragment::None {
            return Some(Verdict::Drop(DropReason::Fragment));
        }
        let f = info.tcp_flags;
        if f & (tcp::flags::RST | tcp::flags::FIN | tcp::flags::SYN) != 0 {
            if f & tcp::flags::RST != 0 {
                self.conns.expire_now(e.id);
            }
            return Some(Verdict::Drop(DropReason::SynproxyHandshake));
        }
        let Some(h) = header(pkt.frame(), info) else {
            return Some(Verdict::Drop(DropReason::Malformed));
        };
        if h.payload > 0 {
            WorkerCounters::count(&self.counters.synproxy_early_data);
        }
        let mut state = state;
        if let Some((val, _)) = SynOptions::parse(tcp_options(pkt.frame(), info, &h)).timestamp {
            // The ACK completing the server's handshake echoes the client's
            // latest timestamp, as its next segments will carry.
            state.client_ts = val;
            if let Some(sp) = &self.synproxy {
                sp.store(e.id, &state);
            }
        }
        let window = xvs_synproxy::shift::rescale(h.window, state.client_ws.unwrap_or(0), 0);
        let Some(mut syn) = rewrite_syn(pkt, info, &state, window) else {
            return Some(Verdict::Drop(DropReason::NoHeadroom));
        };
        Some(self.forward_to_real_server(ctx, pkt, &mut syn, e, dest))
    }

    /// A real server's segment of a proxied entry. `None`: established,
    /// translated, goes the normal way.
    pub(crate) fn synproxy_out<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &FrameInfo,
        e: &ConnEntry,
    ) -> Option<Verdict> {
        let Some(sp) = self.synproxy.clone() else {
            return Some(Verdict::Drop(DropReason::SynproxyNoRecord));
        };
        let Some(mut state) = sp.load(e.id) else {
            return Some(Verdict::Drop(DropReason::SynproxyNoRecord));
        };
        let f = info.tcp_flags;
        let syn_ack = tcp::flags::SYN | tcp::flags::ACK;
        // A SYN-ACK once established is the server retransmitting it (our
        // ACK was lost): it is answered with the ACK again, never passed on.
        if state.established && f & syn_ack != syn_ack {
            let end = info.l3_offset + info.ip_len;
            if let Some(seg) = pkt.frame_mut().get_mut(info.l4_offset..end) {
                state.shift.to_client(seg);
            }
            return None;
        }
        if info.fragment != Fragment::None {
            return Some(Verdict::Drop(DropReason::Fragment));
        }
        let Some(h) = header(pkt.frame(), info) else {
            return Some(Verdict::Drop(DropReason::Malformed));
        };
        if f & tcp::flags::RST != 0 {
            // The real server refused: tell the client, which believes it
            // is connected (RFC 9293 §3.5.2: in-window seq, the cookie + 1).
            self.conns.expire_now(e.id);
            let seg = Segment::to_client(e, &state, tcp::flags::RST | tcp::flags::ACK, 0, &[]);
            let Some(mut out) = rewrite_segment(pkt, info, &seg) else {
                return Some(Verdict::Drop(DropReason::NoHeadroom));
            };
            return Some(self.send_to_client(ctx, pkt, &mut out));
        }
        if f & syn_ack != syn_ack || h.ack != state.client_isn.wrapping_add(1) {
            return Some(Verdict::Drop(DropReason::SynproxyHandshake));
        }
        let server = SynOptions::parse(tcp_options(pkt.frame(), info, &h));
        let first = !state.established;
        if first {
            let ts = match (state.has_ts, server.timestamp) {
                (true, Some((val, _))) => Some((val, state.proxy_ts)),
                _ => None,
            };
            let announced = state.client_ws.map(|_| PROXY_WINDOW_SCALE);
            state.shift = Shift::new(
                state.cookie,
                h.seq,
                ts,
                state.client_ws,
                announced,
                server.window_scale,
            );
            state.established = true;
            if !sp.store(e.id, &state) {
                return Some(Verdict::Drop(DropReason::SynproxyNoRecord));
            }
            let server_ts = server.timestamp.map(|(val, _)| val);
            self.window_update(ctx, pkt, info, e, &state, h.window, server_ts);
        }
        let mut opts = [0u8; MAX_OPTIONS_LEN];
        let server_ts = server.timestamp.filter(|_| state.has_ts);
        let n = options::ack(&mut opts, server_ts.map(|(val, _)| (state.client_ts, val)));
        let seg = Segment {
            src: e.caddr,
            sport: e.cport,
            dst: e.vaddr,
            dport: e.vport,
            seq: state.client_isn.wrapping_add(1),
            ack: h.seq.wrapping_add(1),
            flags: tcp::flags::ACK,
            window: xvs_synproxy::shift::rescale(u16::MAX, 0, state.shift.server_sees_scale),
            options: &opts[..n],
        };
        let Some(mut ack) = rewrite_segment(pkt, info, &seg) else {
            return Some(Verdict::Drop(DropReason::NoHeadroom));
        };
        let Some(dest) = ctx.plan.dest(e.dest_id) else {
            return Some(Verdict::Drop(DropReason::DestUnavailable));
        };
        // The client's ACK, as far as the state machine is concerned:
        // SYN_RECV → ESTABLISHED.
        if first {
            self.track(
                ctx,
                e.id,
                e.protocol,
                e.flags,
                dest,
                Direction::Input,
                tcp::flags::ACK,
            );
        }
        Some(self.forward_to_real_server(ctx, pkt, &mut ack, e, dest))
    }

    /// Build the window update that lets the client send (its window was
    /// zero since the cookie SYN-ACK) from a copy of the real server's
    /// SYN-ACK in `pkt`, into the worker's extra frame. It is what the
    /// server's first ACK would look like translated: seq cookie + 1, the
    /// server's window (a SYN-ACK's is unscaled, RFC 7323 §2.2) in the
    /// scale the client was told, the server's TSval shifted to the
    /// proxy's clock, echoing the client's latest TSval.
    #[allow(clippy::too_many_arguments)] // the frame, its flow and what the window update carries
    fn window_update<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &FrameBuf<'_>,
        info: &FrameInfo,
        e: &ConnEntry,
        state: &State,
        server_window: u16,
        server_ts: Option<u32>,
    ) {
        // A full queue loses the update; the client's zero-window probes
        // recover the connection.
        let Some(mut buf) = self.extra_tx.lend() else {
            return;
        };
        let mut ready = None;
        let (at, len) = (EXTRA_HEADROOM, pkt.len());
        if let Some(copy) = buf.get_mut(at..at + len) {
            copy.copy_from_slice(pkt.frame());
            let mut opts = [0u8; MAX_OPTIONS_LEN];
            let ts = server_ts
                .filter(|_| state.has_ts)
                .map(|val| (val.wrapping_sub(state.shift.ts), state.client_ts));
            let n = options::ack(&mut opts, ts);
            let window =
                xvs_synproxy::shift::rescale(server_window, 0, state.shift.client_sees_scale);
            let seg = Segment::to_client(e, state, tcp::flags::ACK, window, &opts[..n]);
            if let Some(mut fb) = FrameBuf::new(&mut buf, at, len) {
                let verdict = match rewrite_segment(&mut fb, info, &seg) {
                    Some(mut out) => self.send_to_client(ctx, &mut fb, &mut out),
                    None => Verdict::Drop(DropReason::NoHeadroom),
                };
                match verdict {
                    Verdict::Forward { .. } | Verdict::NeedNeighbor { .. } => {
                        WorkerCounters::count(&self.counters.synproxy_window_updates);
                        ready = Some((fb.start(), fb.len(), verdict));
                    }
                    Verdict::Drop(reason) => self.counters.count_drop(reason),
                    _ => {}
                }
            }
        }
        self.extra_tx.commit(buf, ready);
    }

    /// Route a segment the proxy wrote to the client.
    fn send_to_client<N: Neighbors + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, N>,
        pkt: &mut FrameBuf<'_>,
        info: &mut FrameInfo,
    ) -> Verdict {
        match self.prepare(ctx, pkt, info, info.dst, None, Encap::None) {
            Ok(prep) => self.emit(ctx, pkt, info, prep, None),
            Err(v) => v,
        }
    }
}

/// Whether entries of `method` can be proxied (the director sees replies).
pub(crate) fn proxies(method: ForwardMethod) -> bool {
    matches!(method, ForwardMethod::Nat | ForwardMethod::FullNat)
}

/// Entries opened by the proxy carry this flag (the fast path leaves them
/// to the general one, which translates them).
pub(crate) fn is_proxied(e: &ConnEntry) -> bool {
    e.flags.contains(ConnFlags::SYNPROXY) && proxies(entry_method(e.flags))
}

fn flow_of(info: &FrameInfo) -> Flow {
    Flow {
        client: info.src,
        client_port: info.src_port,
        vip: info.dst,
        vport: info.dst_port,
    }
}

/// Turn a client segment (client → VIP) into the SYN the proxy sends the
/// real server for it, before the address rewrite.
fn rewrite_syn(
    pkt: &mut FrameBuf<'_>,
    info: &FrameInfo,
    s: &State,
    window: u16,
) -> Option<FrameInfo> {
    let mut opts = [0u8; MAX_OPTIONS_LEN];
    let n = options::syn(
        &mut opts,
        s.mss,
        s.client_ws,
        s.sack,
        s.has_ts.then_some(s.client_ts),
    );
    let seg = Segment {
        src: info.src,
        sport: info.src_port,
        dst: info.dst,
        dport: info.dst_port,
        seq: s.client_isn,
        ack: 0,
        flags: tcp::flags::SYN,
        window,
        options: &opts[..n],
    };
    rewrite_segment(pkt, info, &seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_names_only_its_entry() {
        let table = ConnTable::new(64, 2);
        let sp = SynProxy::new([7; 16], &table);
        let id = ConnId::from_raw(6 << 32 | 1 << 31 | 1 << 24 | 5);
        let s = State {
            client_isn: 0xdead_beef,
            cookie: 0x1234_5678,
            proxy_ts: 99_000,
            client_ts: 4242,
            has_ts: true,
            sack: true,
            client_ws: Some(9),
            mss: 1460,
            established: true,
            shift: Shift {
                seq: 17,
                ts: 0xffff_0000,
                server_scale: 7,
                client_sees_scale: 7,
                client_scale: 9,
                server_sees_scale: 9,
            },
        };
        assert!(sp.store(id, &s));
        assert_eq!(sp.load(id), Some(s));
        // Same slot, another generation: a reused slot is not this entry.
        assert_eq!(
            sp.load(ConnId::from_raw(10 << 32 | 1 << 31 | 1 << 24 | 5)),
            None
        );
        // A slot past the table's shard size has no record.
        assert!(!sp.store(ConnId::from_raw(6 << 32 | 40), &s));
        let none = State {
            client_ws: None,
            has_ts: false,
            sack: false,
            ..s
        };
        assert!(sp.store(id, &none));
        assert_eq!(sp.load(id), Some(none));
    }
}
