//! Connection sync, worker side (REFERENCE §9): which packets make the
//! master's worker report an entry (events), and how a backup's worker
//! installs what the master sent so that, once it owns the VIPs, the
//! pipeline forwards those flows mid-stream without scheduling them.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use xvs_config::ForwardMethod;
use xvs_conn::{ConnFlags, ConnState, ConnTable, NewConn};
use xvs_dataplane::{
    DestRegistry, DropReason, Install, InstallFailure, Plan, SyncLink, Verdict, Worker,
    WorkerCounters,
};
use xvs_testkit::*;

/// Two real servers per service (rr starts at the first, RS4[0]; "server
/// B" below is RS4[1]), one service per method, and a persistent one.
const SYNC_YAML: &str = r#"
global:
  workers: [0]
  conn_capacity: 4096
interfaces:
  - name: client
    mac: "02:00:00:00:00:01"
    addresses: [198.18.0.2/24]
    gateway_v4: 198.18.0.1
  - name: servers
    mac: "02:00:00:00:00:02"
    addresses: [198.18.1.1/24]
local_pools:
  - name: lip
    addresses: [198.18.1.200]
    ports: 1024-65535
services:
  - name: dr
    vip: "198.18.0.10"
    port: 80
    protocol: tcp
    scheduler: rr
    method: dr
    real_servers:
      - { address: "198.18.1.11", port: 80, mac: "02:00:00:00:aa:11" }
      - { address: "198.18.1.12", port: 80, mac: "02:00:00:00:aa:12" }
  - name: nat
    vip: "198.18.0.11"
    port: 80
    protocol: tcp
    scheduler: rr
    method: nat
    real_servers:
      - { address: "198.18.1.11", port: 8080 }
      - { address: "198.18.1.12", port: 8080 }
  - name: nat-udp
    vip: "198.18.0.11"
    port: 53
    protocol: udp
    scheduler: rr
    method: nat
    real_servers:
      - { address: "198.18.1.11", port: 5353 }
  - name: fullnat
    vip: "198.18.0.13"
    port: 80
    protocol: tcp
    scheduler: rr
    method: fullnat
    local_pool: lip
    real_servers:
      - { address: "198.18.1.11", port: 8080 }
      - { address: "198.18.1.12", port: 8080 }
  - name: persist
    vip: "198.18.0.14"
    port: 443
    protocol: tcp
    scheduler: rr
    method: nat
    persistence: 300
    real_servers:
      - { address: "198.18.1.11", port: 8443 }
      - { address: "198.18.1.12", port: 8443 }
"#;

const SERVER_B: usize = 1;
/// The master's FullNAT local port in the installs (not one this
/// director's own allocator would hand out first).
const MASTER_LPORT: u16 = 50_123;

/// A director with `n` workers sharing a sync link of `capacity`.
struct Director {
    plan: Plan,
    registry: DestRegistry,
    table: Arc<ConnTable>,
    workers: Vec<Worker>,
    link: Arc<SyncLink>,
}

fn director(n: usize, capacity: usize) -> Director {
    let (plan, registry) = plan_from_yaml(SYNC_YAML, n);
    let (table, mut ws) = workers(&plan, n);
    let link = Arc::new(SyncLink::new(n, capacity));
    for w in &mut ws {
        w.set_sync(Some(Arc::clone(&link)));
    }
    Director {
        plan,
        registry,
        table,
        workers: ws,
        link,
    }
}

impl Director {
    /// Run `frame` through worker `w` at `now`.
    fn run(&mut self, w: usize, now: u32, ingress: usize, frame: &[u8]) -> (Verdict, Vec<u8>) {
        run(
            &mut self.workers[w],
            &self.plan,
            &lab_neighbors(),
            now,
            ingress,
            frame,
        )
    }

    /// The events worker `w` queued since the last call, as (state,
    /// template?) of the entries they name.
    fn events(&self, w: usize) -> Vec<(ConnState, bool)> {
        std::iter::from_fn(|| self.link.worker(w).events.pop())
            .map(|id| {
                let e = self.table.get(id).expect("an event names a live entry");
                (e.state, e.is_template())
            })
            .collect()
    }

    fn load(&self, vip: Ipv4Addr, rs: usize) -> (u32, u32, u32) {
        let si = self
            .plan
            .find_service(6, vip.into(), port_of(vip))
            .expect("svc");
        let l = &self.plan.services[si].sched_dests[rs].load;
        (l.activeconns(), l.inactconns(), l.persistconns())
    }

    fn new_conns(&self, vip: Ipv4Addr) -> u64 {
        let si = self
            .plan
            .find_service(6, vip.into(), port_of(vip))
            .expect("svc");
        self.plan.services[si].shared.stats.totals().conns
    }

    /// Queue `conn` for worker `w` and let its housekeeping install it.
    fn install(&mut self, w: usize, now: u32, conn: NewConn) {
        let install = Install {
            conn,
            plan_version: self.plan.version,
            synproxy: None,
        };
        assert!(self.link.worker(w).installs.push(install).is_ok());
        self.workers[w].housekeeping(&self.plan, now, 64);
    }
}

fn port_of(vip: Ipv4Addr) -> u16 {
    if vip == VIP4_PERSIST {
        443
    } else {
        TCP_PORT
    }
}

/// What the master would send for a client → `vip` flow it scheduled to
/// real server `rs`, ESTABLISHED.
fn synced(plan: &Plan, vip: Ipv4Addr, rs: usize, cport: u16) -> NewConn {
    let si = plan
        .find_service(6, vip.into(), port_of(vip))
        .expect("service");
    let dest = plan.dest(plan.services[si].dest_ids[rs]).expect("dest");
    let (laddr, lport) = if dest.method == ForwardMethod::FullNat {
        (IpAddr::from(LIP4), MASTER_LPORT)
    } else {
        (CLIENT4.into(), cport)
    };
    let mut flags = ConnFlags::for_method(dest.method) | ConnFlags::SYNC;
    flags.remove(ConnFlags::INACTIVE);
    NewConn {
        protocol: 6,
        caddr: CLIENT4.into(),
        cport,
        vaddr: vip.into(),
        vport: port_of(vip),
        laddr,
        lport,
        daddr: dest.address,
        dport: dest.port,
        flags,
        dest_id: dest.id,
        controller: None,
        state: ConnState::Established,
        timeout_secs: 900,
    }
}

fn from_client(vip: Ipv4Addr, cport: u16, flags: u8) -> Vec<u8> {
    Spec::tcp(CLIENT4.into(), cport, vip.into(), port_of(vip), flags).frame()
}

fn from_server(rs: usize, rport: u16, to: IpAddr, port: u16, flags: u8) -> Vec<u8> {
    Spec::tcp(RS4[rs].into(), rport, to, port, flags)
        .macs(rs_mac(rs), DIR_SERVER_MAC)
        .frame()
}

fn ipv4_dst(frame: &[u8]) -> (Ipv4Addr, u16) {
    let a: [u8; 4] = frame[30..34].try_into().expect("IPv4");
    (a.into(), u16::from_be_bytes([frame[36], frame[37]]))
}

fn ipv4_src(frame: &[u8]) -> (Ipv4Addr, u16) {
    let a: [u8; 4] = frame[26..30].try_into().expect("IPv4");
    (a.into(), u16::from_be_bytes([frame[34], frame[35]]))
}

const FWD_SERVER: Verdict = Verdict::Forward { iface: SERVER_IF };
const FWD_CLIENT: Verdict = Verdict::Forward { iface: CLIENT_IF };

// ---- Events (the master's side) ----

/// A handshake and a close of one flow to `vip`, with `fast` path on or
/// off; the events after each step.
fn handshake_events(vip: Ipv4Addr, fast: bool) -> Vec<Vec<(ConnState, bool)>> {
    let mut d = director(1, 64);
    d.workers[0].set_fast_path(fast);
    let sees_replies = vip != VIP4_DR;
    let cport = 7000;
    let mut steps = Vec::new();
    assert_eq!(
        d.run(0, 1, CLIENT_IF, &from_client(vip, cport, SYN)).0,
        FWD_SERVER
    );
    steps.push(d.events(0));
    if sees_replies {
        let e = d
            .table
            .lookup_in_entry(0, 6, CLIENT4.into(), cport, vip.into(), TCP_PORT, 1);
        let e = e.expect("entry");
        let synack = from_server(0, RS_TCP_PORT, e.laddr, e.lport, SYN | ACK);
        assert_eq!(d.run(0, 1, SERVER_IF, &synack).0, FWD_CLIENT);
        steps.push(d.events(0));
    }
    assert_eq!(
        d.run(0, 1, CLIENT_IF, &from_client(vip, cport, ACK)).0,
        FWD_SERVER
    );
    steps.push(d.events(0));
    // Established-flow packets: the same second (nothing written at all)
    // and later seconds (the timer re-armed, the state unchanged).
    for now in [1, 1, 2, 3, 3] {
        let ack = from_client(vip, cport, ACK | PSH);
        assert_eq!(d.run(0, now, CLIENT_IF, &ack).0, FWD_SERVER);
    }
    steps.push(d.events(0));
    assert_eq!(
        d.run(0, 4, CLIENT_IF, &from_client(vip, cport, FIN | ACK))
            .0,
        FWD_SERVER
    );
    steps.push(d.events(0));
    assert_eq!(d.link.worker(0).events_dropped.load(Ordering::Relaxed), 0);
    let by_fast_path = d.workers[0].counters().fast_path.load(Ordering::Relaxed);
    assert_eq!(
        by_fast_path > 0,
        fast,
        "the fast path took part: {by_fast_path}"
    );
    steps
}

#[test]
fn nat_and_fullnat_report_the_change_into_established_and_out_of_it_only() {
    use ConnState::*;
    for vip in [VIP4_NAT, VIP4_FNAT] {
        for fast in [true, false] {
            assert_eq!(
                handshake_events(vip, fast),
                vec![
                    vec![],                     // SYN: SYN_RECV is not synced
                    vec![],                     // SYN+ACK: SYN_RECV still
                    vec![(Established, false)], // ACK
                    vec![],                     // established traffic: nothing
                    vec![(CloseWait, false)],   // client FIN: INPUT ES → CW
                ],
                "{vip} fast path {fast}"
            );
        }
    }
}

#[test]
fn dr_reports_established_and_fin_wait() {
    use ConnState::*;
    for fast in [true, false] {
        assert_eq!(
            handshake_events(VIP4_DR, fast),
            vec![
                vec![],
                vec![(Established, false)],
                vec![],
                // INPUT-ONLY: ES --fin--> FIN_WAIT.
                vec![(FinWait, false)],
            ],
            "fast path {fast}"
        );
    }
}

#[test]
fn a_new_persistence_template_is_reported_and_a_reused_one_is_not() {
    let mut d = director(1, 64);
    assert_eq!(
        d.run(0, 1, CLIENT_IF, &from_client(VIP4_PERSIST, 100, SYN))
            .0,
        FWD_SERVER
    );
    assert_eq!(d.events(0), vec![(ConnState::None, true)]);
    // A second connection of the client goes through the same template.
    assert_eq!(
        d.run(0, 1, CLIENT_IF, &from_client(VIP4_PERSIST, 101, SYN))
            .0,
        FWD_SERVER
    );
    assert_eq!(d.events(0), vec![]);
}

#[test]
fn udp_flows_are_never_reported() {
    let mut d = director(1, 64);
    for now in 1..4 {
        let dgram = Spec::udp(CLIENT4.into(), 5000, VIP4_NAT.into(), UDP_PORT).frame();
        assert_eq!(d.run(0, now, CLIENT_IF, &dgram).0, FWD_SERVER);
        let reply = Spec::udp(RS4[0].into(), RS_UDP_PORT, CLIENT4.into(), 5000)
            .macs(rs_mac(0), DIR_SERVER_MAC)
            .frame();
        assert_eq!(d.run(0, now, SERVER_IF, &reply).0, FWD_CLIENT);
    }
    assert_eq!(d.events(0), vec![]);
}

#[test]
fn sloppy_tcp_opening_straight_into_established_is_reported() {
    let yaml = SYNC_YAML.replace(
        "  conn_capacity: 4096\n",
        "  conn_capacity: 4096\n  tunables:\n    sloppy_tcp: true\n",
    );
    let (plan, _reg) = plan_from_yaml(&yaml, 1);
    assert!(plan.tunables.sloppy_tcp);
    let (table, mut ws) = workers(&plan, 1);
    let link = Arc::new(SyncLink::new(1, 8));
    ws[0].set_sync(Some(Arc::clone(&link)));
    let (v, _) = run(
        &mut ws[0],
        &plan,
        &lab_neighbors(),
        1,
        CLIENT_IF,
        &from_client(VIP4_NAT, 9, ACK),
    );
    assert_eq!(v, FWD_SERVER);
    let id = link.worker(0).events.pop().expect("an event");
    assert_eq!(table.get(id).map(|e| e.state), Some(ConnState::Established));
    assert!(link.worker(0).events.is_empty());
}

#[test]
fn a_full_event_queue_is_counted_and_forwarding_carries_on() {
    let mut d = director(1, 2);
    for cport in 1..=5u16 {
        assert_eq!(
            d.run(0, 1, CLIENT_IF, &from_client(VIP4_DR, cport, SYN)).0,
            FWD_SERVER
        );
        assert_eq!(
            d.run(0, 1, CLIENT_IF, &from_client(VIP4_DR, cport, ACK)).0,
            FWD_SERVER
        );
    }
    let ws = d.link.worker(0);
    assert_eq!(ws.events.len(), 2);
    assert_eq!(ws.events_dropped.load(Ordering::Relaxed), 3);
    // Drained, the queue takes events again.
    assert_eq!(d.events(0).len(), 2);
    assert_eq!(
        d.run(0, 2, CLIENT_IF, &from_client(VIP4_DR, 1, FIN | ACK))
            .0,
        FWD_SERVER
    );
    assert_eq!(d.events(0), vec![(ConnState::FinWait, false)]);
}

#[test]
fn without_a_link_or_with_a_link_for_fewer_workers_nothing_is_queued() {
    let (plan, _reg) = plan_from_yaml(SYNC_YAML, 2);
    let (_t, mut ws) = workers(&plan, 2);
    let small = Arc::new(SyncLink::new(1, 8));
    ws[1].set_sync(Some(Arc::clone(&small)));
    assert!(
        ws[1].sync().is_none(),
        "worker 1 has no queue in a 1-worker link"
    );
    ws[0].set_sync(None);
    let n = lab_neighbors();
    for w in &mut ws {
        run(w, &plan, &n, 1, CLIENT_IF, &from_client(VIP4_DR, 3, SYN));
        run(w, &plan, &n, 1, CLIENT_IF, &from_client(VIP4_DR, 3, ACK));
    }
    assert!(small.worker(0).events.is_empty());
}

// ---- Installs (the backup's side) ----

#[test]
fn an_installed_nat_flow_is_forwarded_mid_stream_to_its_server_without_scheduling() {
    // Two workers: the install lands in worker 1's shard, the client's
    // packets arrive on worker 0.
    let mut d = director(2, 64);
    let ack = from_client(VIP4_NAT, 4000, ACK);
    // Without the entry a mid-stream ACK opens nothing (sloppy_tcp off).
    assert_eq!(
        d.run(0, 10, CLIENT_IF, &ack).0,
        Verdict::Drop(DropReason::TcpNotSyn)
    );
    d.install(1, 10, synced(&d.plan, VIP4_NAT, SERVER_B, 4000));
    let ws = d.link.worker(1);
    assert_eq!(ws.installed.load(Ordering::Relaxed), 1);
    assert_eq!(d.table.shard_len(1), 1, "in the installing worker's shard");
    let e = d
        .table
        .lookup_in_entry(0, 6, CLIENT4.into(), 4000, VIP4_NAT.into(), TCP_PORT, 10)
        .expect("installed");
    assert!(e.flags.contains(ConnFlags::SYNC | ConnFlags::HASHED));
    assert_eq!(
        (e.state, e.timeout_secs, e.expires_at),
        (ConnState::Established, 900, 910)
    );
    // Bound to B as active; not a new connection in the statistics.
    assert_eq!(d.load(VIP4_NAT, SERVER_B), (1, 0, 0));
    assert_eq!(d.new_conns(VIP4_NAT), 0);

    let (v, out) = d.run(0, 11, CLIENT_IF, &ack);
    assert_eq!(v, FWD_SERVER);
    assert_eq!(ipv4_dst(&out), (RS4[SERVER_B], RS_TCP_PORT));
    assert_eq!(ipv4_src(&out), (CLIENT4, 4000));
    // B's reply, on worker 0 too, goes back from the VIP.
    let reply = from_server(SERVER_B, RS_TCP_PORT, CLIENT4.into(), 4000, ACK);
    let (v, out) = d.run(0, 11, SERVER_IF, &reply);
    assert_eq!(v, FWD_CLIENT);
    assert_eq!(ipv4_src(&out), (VIP4_NAT, TCP_PORT));
    assert_eq!(ipv4_dst(&out), (CLIENT4, 4000));
    // The scheduler was not run: rr still starts at the first server.
    let (v, out) = d.run(0, 11, CLIENT_IF, &from_client(VIP4_NAT, 4001, SYN));
    assert_eq!(v, FWD_SERVER);
    assert_eq!(ipv4_dst(&out).0, RS4[0]);
    assert_eq!(d.new_conns(VIP4_NAT), 1);
    assert_eq!(d.load(VIP4_NAT, SERVER_B), (1, 0, 0));
}

#[test]
fn an_installed_fullnat_flow_keeps_the_masters_local_address_and_port() {
    let mut d = director(1, 64);
    d.install(0, 10, synced(&d.plan, VIP4_FNAT, SERVER_B, 4100));
    let (v, out) = d.run(0, 11, CLIENT_IF, &from_client(VIP4_FNAT, 4100, ACK | PSH));
    assert_eq!(v, FWD_SERVER);
    assert_eq!(ipv4_dst(&out), (RS4[SERVER_B], RS_TCP_PORT));
    assert_eq!(ipv4_src(&out), (LIP4, MASTER_LPORT));
    let reply = from_server(SERVER_B, RS_TCP_PORT, LIP4.into(), MASTER_LPORT, ACK);
    let (v, out) = d.run(0, 11, SERVER_IF, &reply);
    assert_eq!(v, FWD_CLIENT);
    assert_eq!(ipv4_src(&out), (VIP4_FNAT, TCP_PORT));
    assert_eq!(ipv4_dst(&out), (CLIENT4, 4100));
    assert_eq!(d.new_conns(VIP4_FNAT), 0);
}

#[test]
fn an_installed_dr_flow_and_template_steer_the_client() {
    let mut d = director(1, 64);
    d.install(0, 10, synced(&d.plan, VIP4_DR, SERVER_B, 4200));
    let (v, out) = d.run(0, 11, CLIENT_IF, &from_client(VIP4_DR, 4200, ACK));
    assert_eq!(v, FWD_SERVER);
    assert_eq!(out[0..6], rs_mac(SERVER_B), "DR: to B's MAC");
    // A persistence template for the client, to B: its next connection
    // goes to B although rr would pick the first server.
    let mut tpl = synced(&d.plan, VIP4_PERSIST, SERVER_B, 0);
    tpl.flags = ConnFlags::TEMPLATE | ConnFlags::FWD_MASQ | ConnFlags::SYNC;
    tpl.state = ConnState::None;
    tpl.timeout_secs = 300;
    d.install(0, 10, tpl);
    assert_eq!(d.load(VIP4_PERSIST, SERVER_B), (0, 0, 1), "persistconns");
    let (v, out) = d.run(0, 11, CLIENT_IF, &from_client(VIP4_PERSIST, 4201, SYN));
    assert_eq!(v, FWD_SERVER);
    assert_eq!(ipv4_dst(&out), (RS4[SERVER_B], 8443));
    assert_eq!(d.link.worker(0).installed.load(Ordering::Relaxed), 2);
}

#[test]
fn a_second_install_of_a_flow_updates_state_timeout_and_counters() {
    let mut d = director(1, 64);
    let c = synced(&d.plan, VIP4_NAT, SERVER_B, 4300);
    d.install(0, 10, c);
    assert_eq!(d.load(VIP4_NAT, SERVER_B), (1, 0, 0));
    // The master saw the client's FIN: CLOSE_WAIT, inactive, 60 s.
    let mut fin = c;
    fin.state = ConnState::CloseWait;
    fin.flags.insert(ConnFlags::INACTIVE);
    fin.timeout_secs = 60;
    d.install(0, 20, fin);
    let ws = d.link.worker(0);
    assert_eq!(ws.updated.load(Ordering::Relaxed), 1);
    assert_eq!(ws.installed.load(Ordering::Relaxed), 1);
    assert_eq!(d.table.len(), 1);
    let mut seen = Vec::new();
    d.table
        .for_each(|e| seen.push((e.state, e.timeout_secs, e.expires_at)));
    assert_eq!(seen, vec![(ConnState::CloseWait, 60, 80)]);
    assert_eq!(d.load(VIP4_NAT, SERVER_B), (0, 1, 0));
    // And back to ESTABLISHED (a sync resend after a reordering).
    d.install(0, 30, c);
    assert_eq!(d.load(VIP4_NAT, SERVER_B), (1, 0, 0));
    // Expiry unbinds it: the counters return to zero.
    d.workers[0].housekeeping(&d.plan, 30 + 901, 10_000);
    assert!(d.table.is_empty());
    assert_eq!(d.load(VIP4_NAT, SERVER_B), (0, 0, 0));
}

#[test]
fn an_install_to_another_server_replaces_the_entry() {
    let mut d = director(1, 64);
    // The backup forwarded this flow itself (to the first server) ...
    assert_eq!(
        d.run(0, 1, CLIENT_IF, &from_client(VIP4_NAT, 4400, SYN)).0,
        FWD_SERVER
    );
    assert_eq!(d.load(VIP4_NAT, 0), (0, 1, 0));
    // ... and the master says it is on B.
    d.install(0, 2, synced(&d.plan, VIP4_NAT, SERVER_B, 4400));
    let ws = d.link.worker(0);
    assert_eq!(ws.installed.load(Ordering::Relaxed), 1);
    assert_eq!(ws.replaced.load(Ordering::Relaxed), 1);
    let (v, out) = d.run(0, 3, CLIENT_IF, &from_client(VIP4_NAT, 4400, ACK));
    assert_eq!(v, FWD_SERVER);
    assert_eq!(ipv4_dst(&out).0, RS4[SERVER_B]);
    // The old entry is freed by the next sweep, which unbinds its server.
    d.workers[0].housekeeping(&d.plan, 3, 10_000);
    assert_eq!(d.table.len(), 1);
    assert_eq!(d.load(VIP4_NAT, 0), (0, 0, 0));
    assert_eq!(d.load(VIP4_NAT, SERVER_B), (1, 0, 0));
}

#[test]
fn installs_that_cannot_be_applied_are_counted_by_reason() {
    let mut d = director(1, 64);
    let good = synced(&d.plan, VIP4_NAT, SERVER_B, 4500);
    // A real server this plan does not have.
    d.install(
        0,
        1,
        NewConn {
            dest_id: 999,
            ..good
        },
    );
    // The same id with another address: resolved against another plan.
    d.install(
        0,
        1,
        NewConn {
            daddr: RS4[2].into(),
            ..good
        },
    );
    // The same id with another method (the master forwards by DR).
    let mut dr = good;
    dr.flags = (dr.flags & !ConnFlags::FWD_MASK) | ConnFlags::FWD_DROUTE | ConnFlags::NOOUTPUT;
    d.install(0, 1, dr);
    // Mixed families.
    let v6 = NewConn {
        caddr: CLIENT6.into(),
        laddr: CLIENT6.into(),
        ..good
    };
    d.install(0, 1, v6);
    // A FullNAT flow whose local port the backup already uses to B.
    let mut mine = synced(&d.plan, VIP4_FNAT, SERVER_B, 4501);
    d.install(0, 1, mine);
    mine.cport = 4502;
    d.install(0, 1, mine);
    // A plan newer than the worker's, whose real server this one lacks.
    let install = Install {
        conn: NewConn {
            dest_id: 999,
            ..good
        },
        plan_version: d.plan.version + 1,
        synproxy: None,
    };
    assert!(d.link.worker(0).installs.push(install).is_ok());
    d.workers[0].housekeeping(&d.plan, 1, 64);

    let ws = d.link.worker(0);
    let failures: Vec<_> = ws.install_failures().collect();
    assert_eq!(
        failures,
        vec![
            ("no_dest", 1),
            ("stale_plan", 3),
            ("conflict", 1),
            ("table_full", 0),
            ("family", 1),
            ("no_synproxy", 0),
        ]
    );
    assert_eq!(
        ws.installed.load(Ordering::Relaxed),
        1,
        "only the first FullNAT one"
    );
    assert_eq!(d.table.len(), 1);
    assert_eq!(
        d.load(VIP4_NAT, SERVER_B),
        (0, 0, 0),
        "failed installs bind nothing"
    );
}

#[test]
fn a_real_server_removed_by_a_reload_refuses_installs_and_a_full_shard_is_counted() {
    let mut d = director(1, 64);
    let good = synced(&d.plan, VIP4_NAT, SERVER_B, 4600);
    let mut snap = (*d.plan.snapshot).clone();
    snap.version += 1;
    let svc = snap
        .services
        .iter_mut()
        .find(|s| s.vip == IpAddr::from(VIP4_NAT) && s.port == TCP_PORT)
        .expect("nat service");
    svc.real_servers.truncate(1);
    let plan2 = Plan::compile(Arc::new(snap), &mut d.registry, Some(&d.plan)).expect("reload");
    assert!(plan2.dest(good.dest_id).is_some_and(|dest| !dest.available));
    d.plan = plan2;
    d.install(0, 1, good);
    assert_eq!(d.link.worker(0).install_failed(InstallFailure::NoDest), 1);

    // A table with room for one IPv4 entry.
    let b = Backup::new(1);
    let (plan, w, link) = (&b.plan, &mut { b.worker }, &b.link);
    for cport in [1, 2] {
        let conn = synced(plan, VIP4_DR, SERVER_B, cport);
        assert!(link
            .worker(0)
            .installs
            .push(Install {
                conn,
                plan_version: plan.version,
                synproxy: None,
            })
            .is_ok());
    }
    assert_eq!(w.drain_installs(plan, 1, 1), 1, "the budget is kept");
    assert_eq!(w.drain_installs(plan, 1, 10), 1);
    assert_eq!(w.drain_installs(plan, 1, 10), 0, "empty");
    assert_eq!(link.worker(0).installed.load(Ordering::Relaxed), 1);
    assert_eq!(link.worker(0).install_failed(InstallFailure::TableFull), 1);
}

/// A backup worker alone with a table of `cap` IPv4 entries.
struct Backup {
    plan: Plan,
    table: Arc<ConnTable>,
    worker: Worker,
    link: Arc<SyncLink>,
}

impl Backup {
    fn new(cap: usize) -> Backup {
        let (plan, _reg) = plan_from_yaml(SYNC_YAML, 1);
        let table = Arc::new(ConnTable::new(cap, 1));
        let mut worker = Worker::new(
            0,
            Arc::clone(&table),
            Arc::new(WorkerCounters::default()),
            1,
        );
        let link = Arc::new(SyncLink::new(1, 8));
        worker.set_sync(Some(Arc::clone(&link)));
        Backup {
            plan,
            table,
            worker,
            link,
        }
    }

    /// Install `conn` at `now`; true if it was installed.
    fn install(&mut self, conn: NewConn, now: u32) -> bool {
        let ws = self.link.worker(0);
        let before = ws.installed.load(Ordering::Relaxed);
        let install = Install {
            conn,
            plan_version: self.plan.version,
            synproxy: None,
        };
        assert!(ws.installs.push(install).is_ok());
        assert_eq!(self.worker.drain_installs(&self.plan, now, 10), 1);
        ws.installed.load(Ordering::Relaxed) > before
    }

    fn evictions(&self) -> Vec<(&'static str, u64)> {
        self.worker
            .counters()
            .evictions()
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// The master evicts by its table's rules and v1 sync cannot tell the
/// backup; the backup's full shard makes room for the master's installs by
/// the same rules: an unused template and a closing entry give way, an
/// established one never.
#[test]
fn a_full_backup_shard_makes_room_for_installs_by_the_masters_rules() {
    let mut b = Backup::new(4);
    let est = synced(&b.plan, VIP4_NAT, SERVER_B, 1);
    assert!(b.install(est, 10));
    let mut tpl = synced(&b.plan, VIP4_PERSIST, SERVER_B, 0);
    tpl.flags = ConnFlags::TEMPLATE | ConnFlags::FWD_MASQ | ConnFlags::SYNC;
    tpl.state = ConnState::None;
    tpl.timeout_secs = 300;
    assert!(b.install(tpl, 10));
    let mut closing = synced(&b.plan, VIP4_NAT, SERVER_B, 2);
    closing.state = ConnState::TimeWait;
    closing.flags.insert(ConnFlags::INACTIVE);
    closing.timeout_secs = 120;
    assert!(b.install(closing, 10));
    // A synced UDP flow is live on the master: not a one-burst flow here.
    let mut udp = synced(&b.plan, VIP4_NAT, 0, 3);
    udp.protocol = 17;
    udp.vport = 53;
    udp.dport = 5353;
    udp.state = ConnState::Udp;
    udp.flags.insert(ConnFlags::INACTIVE);
    udp.timeout_secs = 300;
    let si = b
        .plan
        .find_service(17, VIP4_NAT.into(), 53)
        .expect("udp svc");
    udp.dest_id = b.plan.services[si].dest_ids[0];
    udp.daddr = RS4[0].into();
    assert!(b.install(udp, 10));
    assert_eq!(b.table.len(), 4);
    // Full: the unused template goes first, then the closing entry.
    assert!(b.install(synced(&b.plan, VIP4_NAT, SERVER_B, 4), 11));
    assert_eq!(b.evictions(), vec![("template", 1)]);
    assert!(b.install(synced(&b.plan, VIP4_NAT, SERVER_B, 5), 11));
    assert_eq!(b.evictions(), vec![("closing", 1), ("template", 1)]);
    // Established connections and the UDP flow: nothing gives way.
    assert!(!b.install(synced(&b.plan, VIP4_NAT, SERVER_B, 6), 11));
    assert_eq!(
        b.link.worker(0).install_failed(InstallFailure::TableFull),
        1
    );
    let mut kept = Vec::new();
    b.table.for_each(|e| kept.push((e.protocol, e.cport)));
    kept.sort();
    assert_eq!(kept, vec![(6, 1), (6, 4), (6, 5), (17, 3)]);
}

#[test]
fn without_sync_drain_installs_does_nothing() {
    let (plan, _reg) = plan_from_yaml(SYNC_YAML, 1);
    let (table, mut ws) = workers(&plan, 1);
    assert_eq!(ws[0].drain_installs(&plan, 1, 10), 0);
    assert!(table.is_empty());
}
