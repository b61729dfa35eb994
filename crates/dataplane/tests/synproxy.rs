//! Golden packet tests of the SYN proxy: every segment the proxy writes
//! (cookie SYN-ACK, SYN to the real server, ACK completing its handshake,
//! RST to the client) and both directions of the translation, for NAT and
//! FullNAT over IPv4 and IPv6. Expected frames are built by etherparse,
//! with every checksum computed from scratch.

use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use etherparse::{PacketBuilder, SlicedPacket, TcpHeader, TransportSlice};
use proptest::prelude::*;
use xvs_conn::ConnTable;
use xvs_dataplane::{DropReason, Plan, StaticNeighbors, SynProxy, Verdict, Worker};
use xvs_testkit::*;

const CPORT: u16 = 40100;
const NOW: u32 = 1_000;
const CLIENT_ISN: u32 = 0x1000_0000;
const SERVER_ISN: u32 = 0x7000_0000;

/// The fixture with the SYN proxy on for its TCP NAT and FullNAT services.
fn setup() -> (Plan, Arc<ConnTable>, Worker, StaticNeighbors) {
    setup_keyed([0x5a; 16])
}

/// [`setup`] with cookie key `key`: a director of its own (table, records).
fn setup_keyed(key: [u8; 16]) -> (Plan, Arc<ConnTable>, Worker, StaticNeighbors) {
    let (plan, table, w, n, _) = setup_sp(Some(key));
    (plan, table, w, n)
}

/// [`setup_keyed`], also returning the SYN proxy; `None`: the worker runs
/// without one.
fn setup_sp(
    key: Option<[u8; 16]>,
) -> (
    Plan,
    Arc<ConnTable>,
    Worker,
    StaticNeighbors,
    Option<Arc<SynProxy>>,
) {
    let mut yaml = LAB_YAML.to_string();
    for name in ["nat4-tcp", "fullnat4-tcp", "nat6-tcp", "fullnat6-tcp"] {
        let line = format!("  - name: {name}\n");
        assert!(yaml.contains(&line), "fixture has {name}");
        yaml = yaml.replace(&line, &format!("{line}    synproxy: true\n"));
    }
    let (plan, _) = plan_from_yaml(&yaml, 1);
    let (table, mut ws) = workers(&plan, 1);
    let mut w = ws.remove(0);
    let sp = key.map(|k| Arc::new(SynProxy::new(k, &table)));
    w.set_synproxy(sp.clone());
    (plan, table, w, lab_neighbors(), sp)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Nat,
    FullNat,
}

struct Case {
    method: Method,
    v6: bool,
}

impl Case {
    fn vip(&self) -> IpAddr {
        match (self.method, self.v6) {
            (Method::Nat, false) => VIP4_NAT.into(),
            (Method::FullNat, false) => VIP4_FNAT.into(),
            (Method::Nat, true) => VIP6_NAT.into(),
            (Method::FullNat, true) => VIP6_FNAT.into(),
        }
    }
    fn client(&self) -> IpAddr {
        if self.v6 {
            CLIENT6.into()
        } else {
            CLIENT4.into()
        }
    }
    fn rs(&self) -> IpAddr {
        if self.v6 {
            RS6[0].into()
        } else {
            RS4[0].into()
        }
    }
    fn rs_port(&self) -> u16 {
        RS_TCP_PORT
    }
    /// MSS the proxy announces: a 1500-byte link minus IP and TCP headers.
    fn mss(&self) -> u16 {
        if self.v6 {
            1440
        } else {
            1460
        }
    }
}

/// One TCP segment in an Ethernet frame.
#[derive(Clone, Debug)]
struct Seg {
    macs: ([u8; 6], [u8; 6]),
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    ttl: u8,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: Vec<u8>,
    payload: Vec<u8>,
}

impl Seg {
    fn frame(&self) -> Vec<u8> {
        let mut h = TcpHeader::new(self.sport, self.dport, self.seq, self.window);
        h.syn = self.flags & SYN != 0;
        h.fin = self.flags & FIN != 0;
        h.rst = self.flags & RST != 0;
        h.psh = self.flags & PSH != 0;
        h.ack = self.flags & ACK != 0;
        h.acknowledgment_number = self.ack;
        h.set_options_raw(&self.options).expect("options fit");
        let eth = PacketBuilder::ethernet2(self.macs.0, self.macs.1);
        let mut out = Vec::new();
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => eth
                .ipv4(s.octets(), d.octets(), self.ttl)
                .tcp_header(h)
                .write(&mut out, &self.payload),
            (IpAddr::V6(s), IpAddr::V6(d)) => eth
                .ipv6(s.octets(), d.octets(), self.ttl)
                .tcp_header(h)
                .write(&mut out, &self.payload),
            _ => panic!("mixed families"),
        }
        .expect("etherparse writes the frame");
        out
    }

    /// This segment carrying `payload`.
    fn with_payload(mut self, payload: &[u8]) -> Seg {
        self.payload = payload.to_vec();
        self
    }

    /// The TSval of a segment whose timestamps option follows an MSS and
    /// a SACK-permitted option (the layout of the proxy's SYN-ACK).
    fn tsval(&self) -> u32 {
        u32::from_be_bytes(self.options[8..12].try_into().unwrap())
    }

    /// The segment a frame carries (to read what the proxy chose).
    fn read(frame: &[u8]) -> Seg {
        let p = SlicedPacket::from_ethernet(frame).expect("parses");
        let (src, dst, ttl) = match p.net.expect("IP") {
            etherparse::NetSlice::Ipv4(v4) => (
                IpAddr::from(v4.header().source_addr()),
                IpAddr::from(v4.header().destination_addr()),
                v4.header().ttl(),
            ),
            etherparse::NetSlice::Ipv6(v6) => (
                IpAddr::from(v6.header().source_addr()),
                IpAddr::from(v6.header().destination_addr()),
                v6.header().hop_limit(),
            ),
            _ => panic!("not IP"),
        };
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!("not TCP")
        };
        let h = t.to_header();
        let mut flags = 0;
        for (on, bit) in [
            (h.syn, SYN),
            (h.ack, ACK),
            (h.fin, FIN),
            (h.rst, RST),
            (h.psh, PSH),
        ] {
            if on {
                flags |= bit;
            }
        }
        Seg {
            macs: (
                frame[6..12].try_into().unwrap(),
                frame[0..6].try_into().unwrap(),
            ),
            src,
            sport: h.source_port,
            dst,
            dport: h.destination_port,
            ttl,
            seq: h.sequence_number,
            ack: h.acknowledgment_number,
            flags,
            window: h.window_size,
            options: h.options.to_vec(),
            payload: t.payload().to_vec(),
        }
    }
}

fn ts(val: u32, ecr: u32, lead: &[u8]) -> Vec<u8> {
    let mut o = lead.to_vec();
    o.extend([8, 10]);
    o.extend(val.to_be_bytes());
    o.extend(ecr.to_be_bytes());
    o
}

/// SYN options laid out as Linux writes them: MSS, SACK-permitted,
/// timestamps, NOP, window scale.
fn syn_options(mss: u16, tsval: u32, tsecr: u32, wscale: u8) -> Vec<u8> {
    let mut o = vec![2, 4];
    o.extend(mss.to_be_bytes());
    o.extend(ts(tsval, tsecr, &[4, 2]));
    o.extend([1, 3, 3, wscale]);
    o
}

/// A Linux client's SYN options: MSS 1460, SACK-permitted, timestamps,
/// NOP, window scale 7.
fn linux_syn_options(tsval: u32) -> Vec<u8> {
    syn_options(1460, tsval, 0, 7)
}

/// A client segment arriving from the gateway.
fn from_client(c: &Case, seq: u32, ack: u32, flags: u8, window: u16, options: Vec<u8>) -> Seg {
    Seg {
        macs: (GW_MAC, DIR_CLIENT_MAC),
        src: c.client(),
        sport: CPORT,
        dst: c.vip(),
        dport: TCP_PORT,
        ttl: 64,
        seq,
        ack,
        flags,
        window,
        options,
        payload: Vec::new(),
    }
}

/// A segment the director sends the client from the VIP (no payload).
fn to_client(c: &Case, seq: u32, ack: u32, flags: u8, window: u16, options: Vec<u8>) -> Seg {
    Seg {
        macs: (DIR_CLIENT_MAC, GW_MAC),
        src: c.vip(),
        sport: TCP_PORT,
        dst: c.client(),
        dport: CPORT,
        ttl: 63,
        seq,
        ack,
        flags,
        window,
        options,
        payload: Vec::new(),
    }
}

/// The proxy's handshake with one client, up to the SYN to the real
/// server: returns (cookie, proxy TSval, the SYN as it left).
fn open(
    c: &Case,
    plan: &Plan,
    w: &mut Worker,
    n: &StaticNeighbors,
    table: &ConnTable,
) -> (u32, u32, Seg) {
    // SYN → cookie SYN-ACK, no entry.
    let syn = from_client(c, CLIENT_ISN, 0, SYN, 64240, linux_syn_options(12345));
    let (v, out) = run(w, plan, n, NOW, CLIENT_IF, &syn.frame());
    assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
    let got = Seg::read(&out);
    let cookie = got.seq;
    let tsval = got.tsval();
    // The client's window scale (7) and SACK-permitted (0x10) ride in the
    // low six bits of the timestamp.
    assert_eq!(tsval & 0x3f, 7 | 0x10);
    let opts = syn_options(c.mss(), tsval, 12345, 7);
    // Window zero: the client sends nothing until the real server is
    // connected and the proxy opens it.
    let expected = to_client(c, cookie, CLIENT_ISN + 1, SYN | ACK, 0, opts);
    assert_eq!(out, expected.frame(), "cookie SYN-ACK");
    assert_eq!(table.len(), 0, "a SYN costs no entry");
    assert_eq!(w.counters().synproxy_syn_acks.load(Relaxed), 1);

    // A wrong cookie, and the right one too late, open nothing.
    let bad = from_client(
        c,
        CLIENT_ISN + 1,
        cookie.wrapping_add(2),
        ACK,
        502,
        ts(12400, tsval, &[1, 1]),
    );
    let (v, _) = run(w, plan, n, NOW, CLIENT_IF, &bad.frame());
    assert_eq!(v, Verdict::Drop(DropReason::SynproxyBadCookie));
    let good = from_client(
        c,
        CLIENT_ISN + 1,
        cookie.wrapping_add(1),
        ACK,
        502,
        ts(12400, tsval, &[1, 1]),
    );
    let (v, _) = run(w, plan, n, NOW + 200, CLIENT_IF, &good.frame());
    assert_eq!(
        v,
        Verdict::Drop(DropReason::SynproxyBadCookie),
        "stale cookie"
    );
    assert_eq!(table.len(), 0);

    // The right cookie in time: the SYN to the real server.
    let (v, out) = run(w, plan, n, NOW + 5, CLIENT_IF, &good.frame());
    assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    assert_eq!(table.len(), 1);
    let sent = Seg::read(&out);
    let (src, sport) = match c.method {
        Method::Nat => (c.client(), CPORT),
        Method::FullNat => (sent.src, sent.sport),
    };
    if c.method == Method::FullNat {
        assert_eq!(
            src,
            if c.v6 {
                IpAddr::from(LIP6)
            } else {
                IpAddr::from(LIP4)
            }
        );
    }
    // MSS from the cookie, the client's window scale and SACK from the
    // timestamp echo, the client's current TSval (the layout of the
    // client's own SYN); window unscaled.
    let opts = linux_syn_options(12400);
    let expected = Seg {
        macs: (DIR_SERVER_MAC, rs_mac(0)),
        src,
        sport,
        dst: c.rs(),
        dport: c.rs_port(),
        ttl: 63,
        seq: CLIENT_ISN,
        ack: 0,
        flags: SYN,
        window: 502 << 7,
        options: opts,
        payload: Vec::new(),
    };
    assert_eq!(out, expected.frame(), "SYN to the real server");
    (cookie, tsval, expected)
}

/// A real server's segment to the director.
fn from_server(
    c: &Case,
    to: &Seg,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: Vec<u8>,
) -> Seg {
    Seg {
        macs: (rs_mac(0), DIR_SERVER_MAC),
        src: c.rs(),
        sport: c.rs_port(),
        dst: to.src,
        dport: to.sport,
        ttl: 64,
        seq,
        ack,
        flags,
        window,
        options,
        payload: Vec::new(),
    }
}

/// The real server's SYN-ACK to the SYN the proxy sent it.
fn server_syn_ack(c: &Case, syn: &Seg, window: u16, options: Vec<u8>) -> Seg {
    from_server(
        c,
        syn,
        SERVER_ISN,
        CLIENT_ISN + 1,
        SYN | ACK,
        window,
        options,
    )
}

/// The real server's first data ("hello", window 100 at its scale 9)
/// once its handshake with the proxy is done.
fn server_hello(c: &Case, syn: &Seg) -> Seg {
    from_server(
        c,
        syn,
        SERVER_ISN + 1,
        CLIENT_ISN + 1,
        ACK | PSH,
        100,
        ts(800, 12410, &[1, 1]),
    )
    .with_payload(b"hello")
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for method in [Method::Nat, Method::FullNat] {
        for v6 in [false, true] {
            v.push(Case { method, v6 });
        }
    }
    v
}

#[test]
fn handshake_and_translation_both_ways() {
    for c in cases() {
        let (plan, table, mut w, n) = setup();
        let (cookie, tsval, syn) = open(&c, &plan, &mut w, &n, &table);

        // The client's request arrives before the real server answered:
        // its data is dropped (counted) and the SYN goes again.
        let early = from_client(
            &c,
            CLIENT_ISN + 1,
            cookie + 1,
            ACK | PSH,
            502,
            ts(12410, tsval, &[1, 1]),
        )
        .with_payload(b"GET / HTTP/1.0\r\n\r\n");
        let (v, out) = run(&mut w, &plan, &n, NOW + 5, CLIENT_IF, &early.frame());
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        let mut again = syn.clone();
        again.options = linux_syn_options(12410);
        assert_eq!(out, again.frame(), "SYN sent again for early data");
        assert_eq!(w.counters().synproxy_early_data.load(Relaxed), 1);

        // The real server's SYN-ACK (window scale 9) becomes the ACK of
        // its handshake; the client sees nothing.
        let syn_ack = server_syn_ack(&c, &syn, 65160, syn_options(1460, 777, 12410, 9));
        // One that does not acknowledge the SYN the proxy sent is dropped.
        let stray = Seg {
            ack: CLIENT_ISN + 5,
            ..syn_ack.clone()
        };
        let (v, _) = run(&mut w, &plan, &n, NOW + 5, SERVER_IF, &stray.frame());
        assert_eq!(v, Verdict::Drop(DropReason::SynproxyHandshake));
        let (v, out) = run(&mut w, &plan, &n, NOW + 5, SERVER_IF, &syn_ack.frame());
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        let ack = Seg {
            seq: CLIENT_ISN + 1,
            ack: SERVER_ISN + 1,
            flags: ACK,
            window: 65535 >> 7,
            options: ts(12410, 777, &[1, 1]),
            ..syn.clone()
        };
        assert_eq!(out, ack.frame(), "ACK completing the server's handshake");
        // And the client's window opens: the server's window (65160, a
        // SYN-ACK's is unscaled) in the client's scale 7, the server's
        // TSval on the proxy's clock, the client's latest TSval echoed.
        let update = to_client(
            &c,
            cookie + 1,
            CLIENT_ISN + 1,
            ACK,
            65160 >> 7,
            ts(tsval, 12410, &[1, 1]),
        );
        let (v, out) = take_extra(&mut w).expect("a window update for the client");
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
        assert_eq!(out, update.frame(), "window update to the client");
        assert!(take_extra(&mut w).is_none(), "taken once");

        // Server → client: seq − Δseq, TSval − Δts, window from scale 9 to 7.
        let data = server_hello(&c, &syn);
        let (v, out) = run(&mut w, &plan, &n, NOW + 6, SERVER_IF, &data.frame());
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
        let reply = to_client(
            &c,
            cookie + 1,
            CLIENT_ISN + 1,
            ACK | PSH,
            400,
            ts(tsval + 23, 12410, &[1, 1]),
        )
        .with_payload(b"hello");
        assert_eq!(out, reply.frame(), "server data to the client");

        // Client → server: ack + Δseq, TSecr + Δts, SACK edges + Δseq.
        let mut opts = ts(12500, tsval + 23, &[1, 1]);
        opts.extend([1, 1, 5, 10]);
        opts.extend((cookie + 3).to_be_bytes());
        opts.extend((cookie + 6).to_be_bytes());
        let req = from_client(&c, CLIENT_ISN + 1, cookie + 6, ACK | PSH, 1000, opts)
            .with_payload(b"GET / HTTP/1.0\r\n\r\n");
        let (v, out) = run(&mut w, &plan, &n, NOW + 6, CLIENT_IF, &req.frame());
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        let mut opts = ts(12500, 800, &[1, 1]);
        opts.extend([1, 1, 5, 10]);
        opts.extend((SERVER_ISN + 3).to_be_bytes());
        opts.extend((SERVER_ISN + 6).to_be_bytes());
        let to_server = Seg {
            seq: CLIENT_ISN + 1,
            ack: SERVER_ISN + 6,
            flags: ACK | PSH,
            window: 1000,
            options: opts,
            payload: req.payload.clone(),
            ..syn.clone()
        };
        assert_eq!(out, to_server.frame(), "client data to the server");
        assert_eq!(table.len(), 1);
    }
}

/// The mechanism that keeps a proxied connection's first request from
/// waiting for a retransmission: the client, at a zero window, sends its
/// request only after the window update, which leaves together with the
/// ACK completing the real server's handshake, so the request is passed on
/// at once; nothing is dropped as early data.
#[test]
fn the_first_request_follows_the_window_update_without_loss() {
    for c in cases() {
        let (plan, table, mut w, n) = setup();
        let (cookie, tsval, syn) = open(&c, &plan, &mut w, &n, &table);
        assert!(take_extra(&mut w).is_none(), "no second frame before");
        let syn_ack = server_syn_ack(&c, &syn, 64000, syn_options(1460, 5000, 12400, 7));
        let (v, out) = run(&mut w, &plan, &n, NOW + 5, SERVER_IF, &syn_ack.frame());
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        assert_eq!(
            Seg::read(&out).flags,
            ACK,
            "the server's handshake completes"
        );
        let (v, out) = take_extra(&mut w).expect("window update");
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
        let update = Seg::read(&out);
        assert_eq!(
            (update.seq, update.ack, update.flags, update.window),
            (cookie + 1, CLIENT_ISN + 1, ACK, 64000 >> 7)
        );
        // The request, sent on the window update: straight to the server.
        let req = from_client(
            &c,
            CLIENT_ISN + 1,
            cookie + 1,
            ACK | PSH,
            502,
            ts(12420, tsval, &[1, 1]),
        )
        .with_payload(b"GET / HTTP/1.0\r\n\r\n");
        let (v, out) = run(&mut w, &plan, &n, NOW + 5, CLIENT_IF, &req.frame());
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        let sent = Seg::read(&out);
        assert_eq!((sent.seq, sent.ack), (CLIENT_ISN + 1, SERVER_ISN + 1));
        assert_eq!(sent.payload, req.payload, "the first request, whole");
        assert!(take_extra(&mut w).is_none());
        // A retransmitted SYN-ACK (our ACK lost) is acknowledged again; the
        // client's window is open already.
        let (v, _) = run(&mut w, &plan, &n, NOW + 6, SERVER_IF, &syn_ack.frame());
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        assert!(take_extra(&mut w).is_none(), "one window update");
        let c = w.counters();
        assert_eq!(c.synproxy_early_data.load(Relaxed), 0);
        assert_eq!(c.synproxy_window_updates.load(Relaxed), 1);
    }
}

/// Directors behind one ECMP route: the client's SYN may reach one and
/// its ACK another. With the same `global.synproxy_key` the second
/// accepts the first's cookie and opens the connection; with different
/// keys (each director's random one) it drops the ACK as a bad cookie.
#[test]
fn directors_sharing_a_key_accept_each_others_cookies() {
    for c in cases() {
        let key = [0x3c; 16];
        let (plan, _, mut a, n) = setup_keyed(key);
        let syn = from_client(&c, CLIENT_ISN, 0, SYN, 64240, linux_syn_options(1));
        let (v, out) = run(&mut a, &plan, &n, NOW, CLIENT_IF, &syn.frame());
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
        let got = Seg::read(&out);
        let (cookie, tsval) = (got.seq, got.tsval());
        let ack = from_client(
            &c,
            CLIENT_ISN + 1,
            cookie.wrapping_add(1),
            ACK,
            502,
            ts(2, tsval, &[1, 1]),
        );
        let (_, table_b, mut b, _) = setup_keyed(key);
        let (v, out) = run(&mut b, &plan, &n, NOW + 1, CLIENT_IF, &ack.frame());
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF }, "same key");
        let sent = Seg::read(&out);
        assert_eq!((sent.flags, sent.seq), (SYN, CLIENT_ISN));
        assert_eq!(table_b.len(), 1);
        let (_, table_c, mut other, _) = setup_keyed([0x3d; 16]);
        let (v, _) = run(&mut other, &plan, &n, NOW + 1, CLIENT_IF, &ack.frame());
        assert_eq!(
            v,
            Verdict::Drop(DropReason::SynproxyBadCookie),
            "another key"
        );
        assert_eq!(table_c.len(), 0);
    }
}

/// Failover of a proxied connection: the master's entry and its
/// translation, carried in the xvs sync option 0x46 through a sync
/// datagram, installed on a backup (another table, another cookie key),
/// which then translates both directions exactly as the master does. A
/// backup without a SYN proxy refuses the install, counted.
#[test]
fn a_synced_proxied_connection_is_translated_on_the_backup() {
    use xvs_conn::{ConnFlags, NewConn};
    use xvs_dataplane::{Install, InstallFailure, SyncLink};
    use xvs_wire::sync::{self, SyncEntry, SyncOption};
    for c in cases() {
        let (plan, table, mut w, n, sp) = setup_sp(Some([0x5a; 16]));
        let sp = sp.expect("proxy");
        let (cookie, tsval, syn) = open(&c, &plan, &mut w, &n, &table);
        let mut id = None;
        table.for_each(|e| id = Some(e.id));
        let id = id.expect("one entry");
        assert_eq!(
            sp.synced_delta(id),
            None,
            "nothing to sync before the server answers"
        );
        let syn_ack = server_syn_ack(&c, &syn, 65160, syn_options(1460, 777, 12400, 9));
        run(&mut w, &plan, &n, NOW + 5, SERVER_IF, &syn_ack.frame());
        let e = table.get(id).expect("entry");
        let delta = sp.synced_delta(id).expect("established: a translation");

        // Through the wire, as the sync sender writes it.
        let entry = SyncEntry {
            ipv6: c.v6,
            protocol: 6,
            flags: 0,
            state: 1,
            cport: e.cport,
            vport: e.vport,
            dport: e.dport,
            fwmark: 0,
            timeout: 900,
            caddr: e.caddr,
            vaddr: e.vaddr,
            daddr: e.daddr,
            options: vec![SyncOption::xvs_synproxy(&delta)],
        };
        let mut datagram = Vec::new();
        sync::build(&mut datagram, 7, &[entry]);
        let (_, parsed) = sync::parse(&datagram).expect("parses");
        let received = parsed[0].as_ref().expect("entry").options[0].as_xvs_synproxy();
        assert_eq!(received, Some(delta));
        let install = Install {
            conn: NewConn {
                protocol: 6,
                caddr: e.caddr,
                cport: e.cport,
                vaddr: e.vaddr,
                vport: e.vport,
                laddr: e.laddr,
                lport: e.lport,
                daddr: e.daddr,
                dport: e.dport,
                flags: (e.flags & ConnFlags::BACKUP_MASK) | ConnFlags::SYNC,
                dest_id: e.dest_id,
                controller: None,
                state: e.state,
                timeout_secs: e.timeout_secs,
            },
            plan_version: plan.version,
            synproxy: received,
        };

        // A backup without a SYN proxy cannot carry it.
        let (bplan, btable, mut plain, _, _) = setup_sp(None);
        let link = Arc::new(SyncLink::new(1, 16));
        plain.set_sync(Some(Arc::clone(&link)));
        assert!(link.worker(0).installs.push(install).is_ok());
        plain.housekeeping(&bplan, NOW + 6, 64);
        assert_eq!(link.worker(0).install_failed(InstallFailure::NoSynproxy), 1);
        assert_eq!(btable.len(), 0);

        let (bplan, btable, mut backup, bn, _) = setup_sp(Some([0x99; 16]));
        let link = Arc::new(SyncLink::new(1, 16));
        backup.set_sync(Some(Arc::clone(&link)));
        assert!(link.worker(0).installs.push(install).is_ok());
        backup.housekeeping(&bplan, NOW + 6, 64);
        assert_eq!(link.worker(0).installed.load(Relaxed), 1);
        assert_eq!(btable.len(), 1);

        // After the failover, both directions come out of the backup as
        // they would have out of the master.
        let data = server_hello(&c, &syn);
        let (v, out) = run(&mut backup, &bplan, &bn, NOW + 7, SERVER_IF, &data.frame());
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
        assert_eq!(
            out,
            run(&mut w, &plan, &n, NOW + 7, SERVER_IF, &data.frame()).1
        );
        assert_eq!(
            (Seg::read(&out).seq, Seg::read(&out).window),
            (cookie + 1, 400),
            "shifted into the client's space, rescaled"
        );
        let req = from_client(
            &c,
            CLIENT_ISN + 1,
            cookie + 6,
            ACK | PSH,
            1000,
            ts(12500, tsval + 23, &[1, 1]),
        )
        .with_payload(b"more");
        let (v, out) = run(&mut backup, &bplan, &bn, NOW + 7, CLIENT_IF, &req.frame());
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        assert_eq!(
            out,
            run(&mut w, &plan, &n, NOW + 7, CLIENT_IF, &req.frame()).1
        );
        assert_eq!(
            Seg::read(&out).ack,
            SERVER_ISN + 6,
            "shifted into the server's space"
        );
    }
}

/// The IP packet inside a frame (what an ICMP error quotes).
fn ip_packet(frame: &[u8]) -> Vec<u8> {
    frame[14..].to_vec()
}

/// The quoted IP packet of an ICMP error frame, and whether the frame's
/// ICMP checksum holds.
fn quoted(frame: &[u8]) -> (Vec<u8>, bool) {
    let info = xvs_wire::parse_frame(frame).expect("parses");
    let err = xvs_wire::parse_icmp_error(frame, &info)
        .expect("valid")
        .expect("an ICMP error");
    let ok = xvs_wire::frame::verify_icmp_checksum(frame, &info).is_ok();
    (frame[err.inner_l3_offset..err.inner_end].to_vec(), ok)
}

/// ICMP errors about a proxied flow quote segments in the sender's
/// sequence space; each is moved into the receiver's (the real server's
/// Linux drops an error whose quoted sequence number it never sent), with
/// the quoted and outer checksums still right.
#[test]
fn icmp_errors_about_a_proxied_flow_quote_the_receivers_sequence_numbers() {
    for c in cases() {
        let (plan, table, mut w, n) = setup();
        let (cookie, tsval, syn) = open(&c, &plan, &mut w, &n, &table);
        let syn_ack = server_syn_ack(&c, &syn, 65160, Vec::new());
        run(&mut w, &plan, &n, NOW + 5, SERVER_IF, &syn_ack.frame());

        // From the client's side, about a reply the director sent.
        let reply = to_client(
            &c,
            cookie + 6,
            CLIENT_ISN + 1,
            ACK | PSH,
            400,
            ts(9, 8, &[1, 1]),
        )
        .with_payload(&[b'x'; 100]);
        let err = icmp_error_frame(
            GW_MAC,
            DIR_CLIENT_MAC,
            c.client(),
            c.vip(),
            &ip_packet(&reply.frame()),
        );
        let (v, out) = run(&mut w, &plan, &n, NOW + 6, CLIENT_IF, &err);
        assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
        let (got, checksum_ok) = quoted(&out);
        assert!(checksum_ok, "ICMP checksum");
        let as_sent = Seg {
            src: c.rs(),
            sport: c.rs_port(),
            dst: syn.src,
            dport: syn.sport,
            seq: SERVER_ISN + 6,
            ..reply.clone()
        };
        assert_eq!(got, ip_packet(&as_sent.frame()), "the server's own segment");

        // From the real server's side, about a client segment forwarded.
        let mut fwd = Seg {
            seq: CLIENT_ISN + 1,
            ack: SERVER_ISN + 6,
            flags: ACK | PSH,
            window: 1000,
            options: ts(12500, tsval, &[1, 1]),
            payload: vec![b'y'; 100],
            ..syn.clone()
        };
        fwd.ttl = 63;
        let err = icmp_error_frame(
            rs_mac(0),
            DIR_SERVER_MAC,
            c.rs(),
            syn.src,
            &ip_packet(&fwd.frame()),
        );
        let (v, out) = run(&mut w, &plan, &n, NOW + 6, SERVER_IF, &err);
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
        let (got, checksum_ok) = quoted(&out);
        assert!(checksum_ok, "ICMP checksum");
        let as_sent = Seg {
            src: c.client(),
            sport: CPORT,
            dst: c.vip(),
            dport: TCP_PORT,
            ack: cookie + 6,
            ..fwd
        };
        assert_eq!(got, ip_packet(&as_sent.frame()), "the client's own segment");
    }
}

#[test]
fn a_refusing_server_resets_the_client() {
    for c in cases() {
        let (plan, table, mut w, n) = setup();
        let (cookie, _, syn) = open(&c, &plan, &mut w, &n, &table);
        let rst = from_server(&c, &syn, 0, CLIENT_ISN + 1, RST | ACK, 0, Vec::new());
        let (v, out) = run(&mut w, &plan, &n, NOW + 5, SERVER_IF, &rst.frame());
        assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
        let expected = to_client(&c, cookie + 1, CLIENT_ISN + 1, RST | ACK, 0, Vec::new());
        assert_eq!(out, expected.frame(), "RST to the client");
        w.housekeeping(&plan, NOW + 6, 1 << 16);
        assert_eq!(
            table.len(),
            0,
            "the entry is gone with the refused connection"
        );
    }
}

#[test]
fn a_client_without_timestamps_gets_neither_scaling_nor_sack() {
    let c = Case {
        method: Method::Nat,
        v6: false,
    };
    let (plan, table, mut w, n) = setup();
    let syn = from_client(
        &c,
        CLIENT_ISN,
        0,
        SYN,
        64240,
        vec![2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1],
    );
    let (v, out) = run(&mut w, &plan, &n, NOW, CLIENT_IF, &syn.frame());
    assert_eq!(v, Verdict::Forward { iface: CLIENT_IF });
    let got = Seg::read(&out);
    assert_eq!(got.options, vec![2, 4, 0x05, 0xb4], "MSS only");
    let ack = from_client(&c, CLIENT_ISN + 1, got.seq + 1, ACK, 64240, Vec::new());
    let (v, out) = run(&mut w, &plan, &n, NOW, CLIENT_IF, &ack.frame());
    assert_eq!(v, Verdict::Forward { iface: SERVER_IF });
    let sent = Seg::read(&out);
    assert_eq!((sent.flags, sent.seq), (SYN, CLIENT_ISN));
    assert_eq!(
        sent.options,
        vec![2, 4, 0x05, 0xb4],
        "no window scale, SACK or timestamps"
    );
    assert_eq!(table.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever segments arrive from either side of a proxied connection,
    /// in whatever handshake phase, the worker never panics and whatever
    /// it sends parses as a valid frame.
    #[test]
    fn random_segments_never_panic(
        v6 in any::<bool>(),
        fullnat in any::<bool>(),
        steps in prop::collection::vec(
            (any::<bool>(), any::<u8>(), any::<u32>(), any::<u32>(), any::<u16>(),
             prop::collection::vec(any::<u8>(), 0..10), prop::collection::vec(any::<u8>(), 0..40)),
            1..12,
        ),
    ) {
        let c = Case { method: if fullnat { Method::FullNat } else { Method::Nat }, v6 };
        let (plan, table, mut w, n) = setup();
        let (cookie, _, syn) = open(&c, &plan, &mut w, &n, &table);
        for (from_server_side, flags, seq, ack, window, words, payload) in steps {
            // Option blocks of whole words, random bytes (some malformed).
            let mut options: Vec<u8> = words.iter().flat_map(|b| [*b, 10, 1, 1]).collect();
            options.truncate(40);
            // Half the segments fit the connection (so the handshake moves
            // on: the server's SYN-ACK acknowledges the client's ISN), half
            // are random.
            let (seq, ack) = match (seq % 2 == 0, from_server_side) {
                (true, false) => (CLIENT_ISN + 1, cookie.wrapping_add(ack % 3)),
                (true, true) => (seq, CLIENT_ISN + 1),
                (false, _) => (seq, ack),
            };
            let mut s = if from_server_side {
                from_server(&c, &syn, seq, ack, flags & 0x3f, window, options)
            } else {
                from_client(&c, seq, ack, flags & 0x3f, window, options)
            };
            s.payload = payload;
            let ingress = if from_server_side { SERVER_IF } else { CLIENT_IF };
            let (v, out) = run(&mut w, &plan, &n, NOW + 5, ingress, &s.frame());
            if let Verdict::Forward { .. } = v {
                prop_assert!(xvs_wire::parse_frame(&out).is_ok(), "forwarded an invalid frame");
            }
        }
    }
}
