//! A full connection-table shard under a SYN flood (`global.table_pressure`):
//! half-open entries and templates that control nothing give way to new
//! connections, then closing ones, never established ones or the
//! templates that control them; real servers' counters stay
//! right through evictions, each eviction is counted by reason, and
//! SYN_RECV timeouts shorten while the shard is under pressure.

use std::net::{IpAddr, Ipv4Addr};

use xvs_conn::ConnState;
use xvs_dataplane::{DropReason, Plan, Verdict, Worker};
use xvs_testkit::*;

/// The fixture with a table of `cap` entries and `pressure` as the
/// `global.table_pressure` flow mapping.
fn plan(cap: usize, pressure: &str) -> Plan {
    let yaml = LAB_YAML.replace(
        "conn_capacity: 4096",
        &format!("conn_capacity: {cap}\n  table_pressure: {pressure}"),
    );
    plan_from_yaml(&yaml, 1).0
}

/// A spoofed SYN from source number `i` to the NAT service.
fn spoofed_syn(i: u32) -> Vec<u8> {
    spoofed_syn_to(VIP4_NAT, TCP_PORT, i)
}

/// A spoofed SYN from source number `i` to `vip:port`.
fn spoofed_syn_to(vip: Ipv4Addr, port: u16, i: u32) -> Vec<u8> {
    let src = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 19, 100, 0)) + i);
    Spec::tcp(src.into(), 1024 + (i % 60000) as u16, vip.into(), port, SYN).frame()
}

/// Open an established NAT connection from the client's port `cport`.
fn establish(w: &mut Worker, plan: &Plan, now: u32, cport: u16) {
    let n = lab_neighbors();
    let (c, vip, rs): (IpAddr, IpAddr, IpAddr) = (CLIENT4.into(), VIP4_NAT.into(), RS4[0].into());
    let syn = Spec::tcp(c, cport, vip, TCP_PORT, SYN).frame();
    assert_eq!(
        run(w, plan, &n, now, CLIENT_IF, &syn).0,
        Verdict::Forward { iface: SERVER_IF }
    );
    let synack = Spec::tcp(rs, RS_TCP_PORT, c, cport, SYN | ACK)
        .macs(rs_mac(0), DIR_SERVER_MAC)
        .frame();
    run(w, plan, &n, now, SERVER_IF, &synack);
    let ack = Spec::tcp(c, cport, vip, TCP_PORT, ACK).frame();
    assert_eq!(
        run(w, plan, &n, now, CLIENT_IF, &ack).0,
        Verdict::Forward { iface: SERVER_IF }
    );
}

fn evictions(w: &Worker) -> Vec<(&'static str, u64)> {
    w.counters().evictions().collect()
}

/// The NAT service's real server's (active, inactive) counts.
fn load(plan: &Plan) -> (u32, u32) {
    let svc = plan
        .find_service(6, VIP4_NAT.into(), TCP_PORT)
        .unwrap_or_else(|| panic!("fixture has the NAT service"));
    let l = &plan.services[svc].sched_dests[0].load;
    (l.activeconns(), l.inactconns())
}

#[test]
fn a_syn_flood_never_locks_out_new_connections_or_costs_established_ones() {
    let plan = plan(16, "{}");
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    for cport in 1..=4 {
        establish(w, &plan, 1, cport);
    }
    // 1,000 spoofed SYNs into 16 slots: every one is admitted, each past
    // the first 12 by evicting a half-open entry.
    for i in 0..1000 {
        assert_eq!(
            run(w, &plan, &n, 2, CLIENT_IF, &spoofed_syn(i)).0,
            Verdict::Forward { iface: SERVER_IF },
            "SYN {i}"
        );
    }
    assert_eq!(table.len(), 16);
    assert_eq!(
        evictions(w),
        vec![
            ("embryonic", 1000 - 12),
            ("closing", 0),
            ("expired", 0),
            ("template", 0)
        ]
    );
    assert_eq!(w.counters().drops(DropReason::ConnTableFull), 0);
    // The real server's counters match what the table holds.
    assert_eq!(load(&plan), (4, 12));
    // The established connections are all there and still forwarded.
    let c: IpAddr = CLIENT4.into();
    for cport in 1..=4 {
        let ack = Spec::tcp(c, cport, VIP4_NAT.into(), TCP_PORT, ACK | PSH).frame();
        assert_eq!(
            run(w, &plan, &n, 3, CLIENT_IF, &ack).0,
            Verdict::Forward { iface: SERVER_IF }
        );
    }
    let mut established = 0;
    table.for_each(|e| established += usize::from(e.state == ConnState::Established));
    assert_eq!(established, 4);
    // A real client still gets in, and completes its handshake.
    establish(w, &plan, 3, 4000);
    assert_eq!(load(&plan), (5, 11));
}

#[test]
fn closing_entries_give_way_when_no_half_open_one_is_left() {
    let plan = plan(8, "{}");
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let c: IpAddr = CLIENT4.into();
    for cport in 1..=8 {
        establish(w, &plan, 1, cport);
    }
    // Two of them close (client FIN: CLOSE_WAIT).
    for cport in [3, 6] {
        let fin = Spec::tcp(c, cport, VIP4_NAT.into(), TCP_PORT, FIN | ACK).frame();
        run(w, &plan, &n, 1, CLIENT_IF, &fin);
    }
    assert_eq!(load(&plan), (6, 2));
    for i in 0..3 {
        run(w, &plan, &n, 2, CLIENT_IF, &spoofed_syn(i));
    }
    // The first SYN took a closing entry's slot; from then on its own
    // half-open entry was there to give way first, ahead of the other
    // closing one.
    assert_eq!(
        evictions(w),
        vec![
            ("embryonic", 2),
            ("closing", 1),
            ("expired", 0),
            ("template", 0)
        ]
    );
    // Six established, one CLOSE_WAIT, one SYN_RECV.
    assert_eq!(load(&plan), (6, 2));
    let mut states = Vec::new();
    table.for_each(|e| states.push(e.state));
    states.sort_by_key(|s| *s as u8);
    assert_eq!(
        states,
        [
            [ConnState::Established; 6].as_slice(),
            &[ConnState::SynRecv, ConnState::CloseWait]
        ]
        .concat()
    );
    assert_eq!(table.len(), 8);
}

#[test]
fn a_table_of_established_connections_refuses_the_syn_and_counts_it() {
    let plan = plan(4, "{}");
    let n = lab_neighbors();
    let (_table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    for cport in 1..=4 {
        establish(w, &plan, 1, cport);
    }
    assert_eq!(
        run(w, &plan, &n, 2, CLIENT_IF, &spoofed_syn(0)).0,
        Verdict::Drop(DropReason::ConnTableFull)
    );
    assert_eq!(w.counters().drops(DropReason::ConnTableFull), 1);
    assert_eq!(
        evictions(w),
        vec![
            ("embryonic", 0),
            ("closing", 0),
            ("expired", 0),
            ("template", 0)
        ]
    );
    assert_eq!(load(&plan), (4, 0));
}

#[test]
fn with_eviction_off_the_flood_locks_new_clients_out() {
    let plan = plan(8, "{ evict: false }");
    let n = lab_neighbors();
    let (_table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    for i in 0..8 {
        run(w, &plan, &n, 1, CLIENT_IF, &spoofed_syn(i));
    }
    let syn = Spec::tcp(CLIENT4.into(), 4000, VIP4_NAT.into(), TCP_PORT, SYN).frame();
    assert_eq!(
        run(w, &plan, &n, 2, CLIENT_IF, &syn).0,
        Verdict::Drop(DropReason::ConnTableFull)
    );
    assert_eq!(
        evictions(w),
        vec![
            ("embryonic", 0),
            ("closing", 0),
            ("expired", 0),
            ("template", 0)
        ]
    );
}

#[test]
fn a_flood_on_a_persistent_service_evicts_spoofed_templates_but_not_a_real_clients() {
    let plan = plan(8, "{}");
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    // One client of the persistent service: a template and a connection,
    // ESTABLISHED by its ACK (IPVS: SYN_RECV + ACK from the client).
    let (c, vip): (IpAddr, IpAddr) = (CLIENT4.into(), VIP4_PERSIST.into());
    for flags in [SYN, ACK] {
        let f = Spec::tcp(c, 5000, vip, 443, flags).frame();
        assert!(matches!(
            run(w, &plan, &n, 1, CLIENT_IF, &f).0,
            Verdict::Forward { .. }
        ));
    }
    let entries = || {
        let mut v = Vec::new();
        table.for_each(|e| v.push(*e));
        v
    };
    let real_tpl = entries()
        .into_iter()
        .find(|e| e.is_template())
        .map(|e| e.id);
    assert!(real_tpl.is_some());
    // Each spoofed source costs a template and a half-open entry: without
    // templates giving way, the table would be all orphaned templates after
    // a few SYNs. Ten SYNs a second, so earlier seconds' templates are free
    // to go (one armed this second is about to be named by its connection).
    for i in 0..100 {
        assert!(
            matches!(
                run(
                    w,
                    &plan,
                    &n,
                    2 + i / 10,
                    CLIENT_IF,
                    &spoofed_syn_to(VIP4_PERSIST, 443, i)
                )
                .0,
                Verdict::Forward { .. }
            ),
            "spoofed SYN {i}"
        );
    }
    assert_eq!(w.counters().drops(DropReason::ConnTableFull), 0);
    let counts: Vec<(&str, u64)> = evictions(w);
    assert!(
        counts.iter().any(|&(why, n)| why == "template" && n >= 90),
        "{counts:?}"
    );
    // The real client's template and connection are both still there.
    let tpl = real_tpl.and_then(|id| table.get(id));
    assert_eq!(tpl.map(|e| e.n_controlled), Some(1));
    assert!(entries()
        .iter()
        .any(|e| !e.is_template() && e.caddr == c && e.state == ConnState::Established));
}

#[test]
fn syn_recv_times_out_sooner_under_pressure_and_the_pressure_lifts() {
    let plan = plan(20, "{ enter_percent: 50, leave_percent: 25, syn_recv: 4 }");
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    let timeout_of = |i: u32| {
        let src = IpAddr::V4(Ipv4Addr::from(
            u32::from(Ipv4Addr::new(198, 19, 100, 0)) + i,
        ));
        let mut t = None;
        table.for_each(|e| {
            if e.caddr == src {
                t = Some(e.timeout_secs);
            }
        });
        t
    };
    // Below half full: the configured 60 s.
    for i in 0..9 {
        run(w, &plan, &n, 1, CLIENT_IF, &spoofed_syn(i));
    }
    assert_eq!(timeout_of(8), Some(60));
    assert!(!w.counters().under_pressure());
    // The tenth entry fills half the shard: pressure from the next one.
    run(w, &plan, &n, 1, CLIENT_IF, &spoofed_syn(9));
    run(w, &plan, &n, 1, CLIENT_IF, &spoofed_syn(10));
    assert!(w.counters().under_pressure());
    assert_eq!(timeout_of(10), Some(4));
    // A retransmitted SYN refreshes an old entry with the short timeout.
    run(w, &plan, &n, 1, CLIENT_IF, &spoofed_syn(0));
    assert_eq!(timeout_of(0), Some(4));
    // The short-lived ones expire: 9 left of 11 is still above 25 %...
    assert!(w.housekeeping(&plan, 6, 10_000) >= 2);
    assert!(table.len() > 5 && w.counters().under_pressure());
    // ... until the rest goes too.
    w.housekeeping(&plan, 62, 10_000);
    assert!(table.is_empty());
    assert!(!w.counters().under_pressure());
    run(w, &plan, &n, 63, CLIENT_IF, &spoofed_syn(50));
    assert_eq!(timeout_of(50), Some(60));
}

#[test]
fn short_timeouts_off_keeps_the_configured_one() {
    let plan = plan(4, "{ short_timeouts: false }");
    let n = lab_neighbors();
    let (table, mut ws) = workers(&plan, 1);
    let w = &mut ws[0];
    for i in 0..10 {
        run(w, &plan, &n, 1, CLIENT_IF, &spoofed_syn(i));
    }
    let mut timeouts = Vec::new();
    table.for_each(|e| timeouts.push(e.timeout_secs));
    assert_eq!(timeouts, vec![60; 4]);
    assert!(!w.counters().under_pressure());
}
