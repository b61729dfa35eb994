//! Fixtures shared by the data plane's golden tests, the benches and the
//! fuzz target: one director configuration with a service for every
//! forwarding method × address family × protocol, a static neighbour
//! table, and frame builders (on etherparse, which computes every checksum
//! from scratch — so comparing our incrementally patched output with a
//! frame built here checks the checksums too).

use std::net::IpAddr;
use std::sync::Arc;

use etherparse::{IpNumber, Ipv4Header, Ipv6Header, PacketBuilder, TcpHeader, UdpHeader};
use xvs_config::MacAddr;
use xvs_conn::ConnTable;
use xvs_dataplane::{
    DestRegistry, FrameBuf, NeighborTable, Neighbors, Plan, StaticNeighbors, Verdict, Worker,
    WorkerCounters,
};

pub mod addr;
pub use addr::*;

/// The director's configuration in the fixtures (see `addr` for the names).
pub const LAB_YAML: &str = include_str!("lab.yaml");

/// Compile the fixture configuration into a plan for `workers` workers.
pub fn lab_plan(workers: usize) -> (Plan, DestRegistry) {
    plan_from_yaml(LAB_YAML, workers)
}

/// Compile any YAML configuration (panics on an invalid one: fixtures only).
pub fn plan_from_yaml(yaml: &str, workers: usize) -> (Plan, DestRegistry) {
    let mut snap = xvs_config::load_str(yaml, "fixture.yaml").unwrap_or_else(|e| panic!("{e}"));
    snap.global.workers = (0..workers).collect();
    let mut registry = DestRegistry::new(workers);
    let plan = Plan::compile(Arc::new(snap), &mut registry, None).expect("fixture compiles");
    (plan, registry)
}

/// The fixture's resolved neighbours: gateways, the on-link client and
/// every real server, as ⟨interface, IP⟩ → MAC.
pub fn lab_neighbor_entries() -> Vec<((usize, IpAddr), MacAddr)> {
    let mut n = vec![
        ((CLIENT_IF, GW4.into()), GW_MAC),
        ((CLIENT_IF, GW6.into()), GW_MAC),
        ((CLIENT_IF, CLIENT4_DIRECT.into()), CLIENT_MAC),
    ];
    for (i, rs) in RS4.iter().enumerate() {
        n.push(((SERVER_IF, (*rs).into()), rs_mac(i)));
    }
    for (i, rs) in RS6.iter().enumerate() {
        n.push(((SERVER_IF, (*rs).into()), rs_mac(i)));
    }
    n
}

/// The neighbour table of the fixture ([`lab_neighbor_entries`]).
pub fn lab_neighbors() -> StaticNeighbors {
    let mut n = StaticNeighbors::new();
    for ((iface, ip), mac) in lab_neighbor_entries() {
        n.insert(iface, ip, mac);
    }
    n
}

/// The fixture's neighbours as the runtime publishes them: hashed, with
/// the next-hop slots of `plan`.
pub fn lab_neighbor_table(plan: &Plan) -> NeighborTable {
    NeighborTable::new(lab_neighbor_entries(), Some(plan))
}

/// A connection table and `workers` workers sharing it.
pub fn workers(plan: &Plan, workers: usize) -> (Arc<ConnTable>, Vec<Worker>) {
    let table = Arc::new(ConnTable::new(plan.snapshot.global.conn_capacity, workers));
    let ws = (0..workers)
        .map(|i| {
            Worker::new(
                i,
                Arc::clone(&table),
                Arc::new(WorkerCounters::default()),
                0x5eed + i as u64,
            )
        })
        .collect();
    (table, ws)
}

/// The fixture's plan, its neighbours and one worker (index 0) with a
/// table of its own: the setup of most single-worker pipeline tests.
pub fn lab_worker() -> (Plan, StaticNeighbors, Worker) {
    let (plan, _registry) = lab_plan(1);
    let (_table, mut ws) = workers(&plan, 1);
    let w = ws.pop().expect("workers(_, 1) makes one worker");
    (plan, lab_neighbors(), w)
}

/// Transport of a test frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

/// Everything about a test frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub l4: L4,
    pub payload: Vec<u8>,
}

impl Spec {
    /// A frame from `src` to `dst` arriving from the client-side gateway.
    pub fn new(src: IpAddr, dst: IpAddr, l4: L4) -> Spec {
        Spec {
            src_mac: GW_MAC,
            dst_mac: DIR_CLIENT_MAC,
            src,
            dst,
            ttl: 64,
            l4,
            payload: b"hello xvs".to_vec(),
        }
    }

    pub fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, flags: u8) -> Spec {
        Spec::new(
            src,
            dst,
            L4::Tcp {
                sport,
                dport,
                flags,
                seq: 1000,
            },
        )
    }

    pub fn udp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Spec {
        Spec::new(src, dst, L4::Udp { sport, dport })
    }

    pub fn macs(mut self, src: [u8; 6], dst: [u8; 6]) -> Spec {
        self.src_mac = src;
        self.dst_mac = dst;
        self
    }

    pub fn ttl(mut self, ttl: u8) -> Spec {
        self.ttl = ttl;
        self
    }

    pub fn payload(mut self, payload: &[u8]) -> Spec {
        self.payload = payload.to_vec();
        self
    }

    /// The IP packet (no Ethernet header), with every checksum computed.
    pub fn ip_packet(&self) -> Vec<u8> {
        let frame = self.frame();
        frame[14..].to_vec()
    }

    /// The Ethernet frame, with every checksum computed.
    pub fn frame(&self) -> Vec<u8> {
        let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
        let mut out = Vec::new();
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let ip = eth.ipv4(s.octets(), d.octets(), self.ttl);
                match self.l4 {
                    L4::Tcp {
                        sport,
                        dport,
                        flags,
                        seq,
                    } => with_flags(ip.tcp(sport, dport, seq, 64240), flags)
                        .write(&mut out, &self.payload),
                    L4::Udp { sport, dport } => ip.udp(sport, dport).write(&mut out, &self.payload),
                }
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let ip = eth.ipv6(s.octets(), d.octets(), self.ttl);
                match self.l4 {
                    L4::Tcp {
                        sport,
                        dport,
                        flags,
                        seq,
                    } => with_flags(ip.tcp(sport, dport, seq, 64240), flags)
                        .write(&mut out, &self.payload),
                    L4::Udp { sport, dport } => ip.udp(sport, dport).write(&mut out, &self.payload),
                }
            }
            _ => panic!("mixed address families in a test frame"),
        }
        .expect("etherparse writes the frame");
        out
    }
}

fn with_flags(
    mut b: etherparse::PacketBuilderStep<TcpHeader>,
    flags: u8,
) -> etherparse::PacketBuilderStep<TcpHeader> {
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & ACK != 0 {
        b = b.ack(1);
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    b
}

/// An Ethernet frame carrying an ICMP/ICMPv6 error about `quoted` (an IP
/// packet), with the checksum computed from scratch.
pub fn icmp_error_frame(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: IpAddr,
    dst: IpAddr,
    quoted: &[u8],
) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2(src_mac, dst_mac);
    let mut out = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth
            .ipv4(s.octets(), d.octets(), 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut out, quoted),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth
            .ipv6(s.octets(), d.octets(), 64)
            .icmpv6(etherparse::Icmpv6Type::DestinationUnreachable(
                etherparse::icmpv6::DestUnreachableCode::Port,
            ))
            .write(&mut out, quoted),
        _ => panic!("mixed address families"),
    }
    .expect("etherparse writes the frame");
    out
}

/// The frame a TUN real server (the fixtures' first) must receive for the
/// IP packet `inner`: an IPIP (IPv4) or IPv6-in-IPv6 header from the
/// director's server-side address, hop limit 63, to `rs_mac(0)`. The
/// outer IPv4 identification is the worker's own counter, so it is read
/// from the frame the worker produced (`got`); `df` is the outer DF bit
/// the test expects (the worker copies the inner packet's, as Linux does
/// with pmtu_disc).
pub fn tunnel_frame(inner: &[u8], v6: bool, got: &[u8], df: bool) -> Vec<u8> {
    let mut out = Vec::new();
    etherparse::Ethernet2Header {
        source: DIR_SERVER_MAC,
        destination: rs_mac(0),
        ether_type: if v6 {
            etherparse::EtherType::IPV6
        } else {
            etherparse::EtherType::IPV4
        },
    }
    .write(&mut out)
    .expect("etherparse writes the Ethernet header");
    if v6 {
        Ipv6Header {
            traffic_class: 0,
            flow_label: Default::default(),
            payload_length: inner.len() as u16,
            next_header: IpNumber::IPV6,
            hop_limit: 63,
            source: DIR6_SERVERS.octets(),
            destination: RS6[0].octets(),
        }
        .write(&mut out)
        .expect("etherparse writes the IPv6 header");
    } else {
        let mut h = Ipv4Header::new(
            inner.len() as u16,
            63,
            IpNumber::IPV4,
            DIR4_SERVERS.octets(),
            RS4[0].octets(),
        )
        .expect("an inner packet fits an IPv4 packet");
        h.identification = u16::from_be_bytes([got[18], got[19]]);
        h.dont_fragment = df;
        h.header_checksum = h.calc_header_checksum();
        h.write(&mut out)
            .expect("etherparse writes the IPv4 header");
    }
    out.extend_from_slice(inner);
    out
}

/// Headroom in front of every test frame (room for an IPIP header).
pub const HEADROOM: usize = 256;
/// Size of a test buffer (an AF_XDP frame is 4096 bytes; we use less).
pub const BUFFER: usize = 2048;

/// Run one frame through a worker; returns the verdict and the frame as
/// it is after processing.
pub fn run(
    worker: &mut Worker,
    plan: &Plan,
    neighbors: &(impl Neighbors + ?Sized),
    now: u32,
    ingress: usize,
    frame: &[u8],
) -> (Verdict, Vec<u8>) {
    let mut buf = vec![0u8; BUFFER.max(HEADROOM + frame.len() + 64)];
    buf[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
    let mut pkt = FrameBuf::new(&mut buf, HEADROOM, frame.len()).expect("fits");
    let v = worker.process(plan, neighbors, now, ingress, &mut pkt);
    (v, pkt.frame().to_vec())
}

/// The second frame the last frame [`run`] processed produced, if any
/// (see `Worker::take_extra_tx`): its verdict and bytes.
pub fn take_extra(worker: &mut Worker) -> Option<(Verdict, Vec<u8>)> {
    let mut buf = vec![0u8; BUFFER];
    let (len, v) = worker.take_extra_tx(&mut buf)?;
    buf.truncate(len);
    Some((v, buf))
}

/// Parse the IPv4/IPv6 header of an Ethernet frame (tests read fields of output frames).
pub fn ip_headers(frame: &[u8]) -> Option<(Option<Ipv4Header>, Option<Ipv6Header>, IpNumber)> {
    let sliced = etherparse::SlicedPacket::from_ethernet(frame).ok()?;
    match sliced.net? {
        etherparse::NetSlice::Ipv4(v4) => {
            Some((Some(v4.header().to_header()), None, v4.header().protocol()))
        }
        etherparse::NetSlice::Ipv6(v6) => Some((
            None,
            Some(v6.header().to_header()),
            v6.header().next_header(),
        )),
        _ => None,
    }
}

/// The UDP header of a frame, if it has one.
pub fn udp_header(frame: &[u8]) -> Option<UdpHeader> {
    let sliced = etherparse::SlicedPacket::from_ethernet(frame).ok()?;
    match sliced.transport? {
        etherparse::TransportSlice::Udp(u) => Some(u.to_header()),
        _ => None,
    }
}
