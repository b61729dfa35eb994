//! The established-flow fast path changes nothing but speed: two identical
//! directors, one with the fast path and one without, get the same random
//! traffic — new flows, handshakes, data, FIN/RST, replies from the real
//! servers (to other workers too), every method, IPv4 and IPv6, low TTLs,
//! oversized packets, reloads of time — and must give the same verdict and
//! output bytes for every packet, and end with the same connection table,
//! counters and real-server loads. The fast director also starts every
//! frame's lookup early (`Worker::prefetch_burst`), as the worker loop does
//! for each receive burst.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use proptest::prelude::*;
use xvs_conn::{ConnEntry, ConnTable};
use xvs_dataplane::{DestRegistry, DropReason, Plan, Worker};
use xvs_testkit::*;

const WORKERS: usize = 2;

struct Director {
    plan: Plan,
    _reg: DestRegistry,
    table: Arc<ConnTable>,
    workers: Vec<Worker>,
}

impl Director {
    fn new(fast: bool) -> Director {
        let (mut plan, reg) = lab_plan(WORKERS);
        // Lookups started early on every frame, whatever the table's size:
        // a hint that must change nothing either.
        plan.prefetch_min_live = 0;
        let (table, mut workers) = workers(&plan, WORKERS);
        for w in &mut workers {
            w.set_fast_path(fast);
        }
        Director {
            plan,
            _reg: reg,
            table,
            workers,
        }
    }

    fn entries(&self) -> Vec<String> {
        let mut v = Vec::new();
        self.table
            .for_each(|e: &ConnEntry| v.push(format!("{e:?}")));
        v.sort();
        v
    }

    /// Everything countable: per-worker counters, per-service and
    /// per-real-server statistics and loads.
    fn counters(&self) -> Vec<String> {
        let mut v = Vec::new();
        for w in &self.workers {
            let c = w.counters();
            v.push(format!(
                "rx {} {} fwd {} ctl {} pass {} nn {}",
                c.rx_packets.load(Ordering::Relaxed),
                c.rx_bytes.load(Ordering::Relaxed),
                c.forwarded.load(Ordering::Relaxed),
                c.to_control.load(Ordering::Relaxed),
                c.passed.load(Ordering::Relaxed),
                c.need_neighbor.load(Ordering::Relaxed),
            ));
            for &r in DropReason::ALL {
                v.push(format!("drop {r:?} {}", c.drops(r)));
            }
            for (r, n) in c.malformed_by_reason() {
                v.push(format!("malformed {r} {n}"));
            }
        }
        for s in &self.plan.services {
            v.push(format!("svc {:?}", s.shared.stats.totals()));
            for d in &s.sched_dests {
                v.push(format!(
                    "load {} {} {}",
                    d.load.activeconns(),
                    d.load.inactconns(),
                    d.load.persistconns()
                ));
            }
        }
        for id in 0..64 {
            if let Some(d) = self.plan.dest(id) {
                v.push(format!("dest {id} {:?}", d.shared.stats.totals()));
            }
        }
        v
    }
}

/// One step of the traffic.
#[derive(Clone, Debug)]
enum Step {
    /// Client → VIP.
    In {
        worker: usize,
        vip: usize,
        client: usize,
        cport: u16,
        udp: bool,
        flags: u8,
        ttl: u8,
        big: bool,
    },
    /// A real server's reply on an existing entry (picked by position).
    Reply {
        worker: usize,
        pick: usize,
        flags: u8,
        ttl: u8,
    },
    /// Time passes and every worker does its housekeeping.
    Tick { secs: u32 },
}

const VIPS: [IpAddr; 10] = [
    IpAddr::V4(VIP4_DR),
    IpAddr::V4(VIP4_NAT),
    IpAddr::V4(VIP4_TUN),
    IpAddr::V4(VIP4_FNAT),
    IpAddr::V4(VIP4_PERSIST),
    IpAddr::V4(VIP4_EMPTY),
    IpAddr::V4(VIP4_OPS),
    IpAddr::V6(VIP6_NAT),
    IpAddr::V6(VIP6_FNAT),
    IpAddr::V4(VIP4_TINY),
];

fn flags() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => Just(ACK),
        2 => Just(PSH | ACK),
        2 => Just(SYN),
        1 => Just(SYN | ACK),
        1 => Just(FIN | ACK),
        1 => Just(RST),
        1 => Just(RST | ACK),
        1 => Just(0),
    ]
}

fn ttl() -> impl Strategy<Value = u8> {
    prop_oneof![8 => Just(64u8), 1 => Just(1), 1 => Just(2)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0..WORKERS, 0..VIPS.len(), 0usize..3, 40000u16..40004, any::<bool>(), flags(), ttl(), prop::bool::weighted(0.05))
            .prop_map(|(worker, vip, client, cport, udp, flags, ttl, big)| Step::In {
                worker, vip, client, cport, udp, flags, ttl, big,
            }),
        4 => (0..WORKERS, any::<usize>(), flags(), ttl())
            .prop_map(|(worker, pick, flags, ttl)| Step::Reply { worker, pick, flags, ttl }),
        1 => prop_oneof![Just(1u32), Just(30), Just(400)].prop_map(|secs| Step::Tick { secs }),
    ]
}

fn client_addr(v6: bool, i: usize) -> IpAddr {
    if v6 {
        let mut o = CLIENT6.octets();
        o[15] += i as u8;
        IpAddr::from(o)
    } else {
        let mut o = CLIENT4.octets();
        o[3] += i as u8;
        IpAddr::from(o)
    }
}

/// The frame of a step, from the reference director's table for replies.
fn frame_of(step: &Step, reference: &Director) -> Option<(usize, usize, Vec<u8>)> {
    match *step {
        Step::In {
            worker,
            vip,
            client,
            cport,
            udp,
            flags,
            ttl,
            big,
        } => {
            let vip = VIPS[vip];
            let src = client_addr(vip.is_ipv6(), client);
            let spec = if udp {
                Spec::udp(src, cport, vip, UDP_PORT)
            } else {
                Spec::tcp(src, cport, vip, TCP_PORT, flags)
            };
            let payload = if big {
                vec![7u8; 1480]
            } else {
                b"data".to_vec()
            };
            Some((worker, CLIENT_IF, spec.ttl(ttl).payload(&payload).frame()))
        }
        Step::Reply {
            worker,
            pick,
            flags,
            ttl,
        } => {
            let mut replies = Vec::new();
            reference.table.for_each(|e| {
                if !e.is_template() {
                    replies.push((e.protocol, e.daddr, e.dport, e.laddr, e.lport));
                }
            });
            replies.sort_by_key(|r| format!("{r:?}"));
            let &(proto, daddr, dport, laddr, lport) = replies.get(pick % replies.len().max(1))?;
            let spec = if proto == 17 {
                Spec::udp(daddr, dport, laddr, lport)
            } else {
                Spec::tcp(daddr, dport, laddr, lport, flags)
            };
            let frame = spec.macs(rs_mac(0), DIR_SERVER_MAC).ttl(ttl).frame();
            Some((worker, SERVER_IF, frame))
        }
        Step::Tick { .. } => None,
    }
}

/// Run `steps` through both directors and compare; returns how many
/// frames each one's fast path handled (fast, general).
fn check(steps: &[Step]) -> Result<(u64, u64), TestCaseError> {
    let mut fast = Director::new(true);
    let mut general = Director::new(false);
    // The fast director reads the runtime's table with the plan's hop
    // slots; the general one a plain map of the same entries.
    let n = lab_neighbors();
    let slots = lab_neighbor_table(&fast.plan);
    let mut now = 1u32;
    let mut prev: Option<Vec<u8>> = None;
    for (i, step) in steps.iter().enumerate() {
        if let Step::Tick { secs } = step {
            now += secs;
            for d in [&mut fast, &mut general] {
                for w in &mut d.workers {
                    w.housekeeping(&d.plan, now, 100_000);
                }
            }
            continue;
        }
        let Some((worker, ingress, frame)) = frame_of(step, &general) else {
            continue;
        };
        // The lookup starts from its hint: on even steps the frame's own;
        // on odd ones the hint of the step before's frame (a burst the
        // caller did not process in order), which must change nothing.
        match (&prev, i % 2) {
            (Some(p), 1) => fast.workers[worker].prefetch_burst(&fast.plan, [&p[..], &frame[..]]),
            _ => fast.workers[worker].prefetch_burst(&fast.plan, [&frame[..]]),
        }
        prev = Some(frame.clone());
        let a = run(
            &mut fast.workers[worker],
            &fast.plan,
            &slots,
            now,
            ingress,
            &frame,
        );
        let b = run(
            &mut general.workers[worker],
            &general.plan,
            &n,
            now,
            ingress,
            &frame,
        );
        prop_assert_eq!(&a, &b, "step {}: {:?}", i, step);
        prop_assert_eq!(fast.entries(), general.entries(), "step {}: {:?}", i, step);
    }
    prop_assert_eq!(fast.counters(), general.counters());
    let taken = |d: &Director| -> u64 {
        d.workers
            .iter()
            .map(|w| w.counters().fast_path.load(Ordering::Relaxed))
            .sum()
    };
    Ok((taken(&fast), taken(&general)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn fast_path_matches_the_general_pipeline(steps in proptest::collection::vec(step(), 1..120)) {
        check(&steps)?;
    }
}

/// A plain handshake and data exchange per method, through the fast path:
/// the comparison above means nothing for a path that is never taken.
#[test]
fn established_flows_of_every_method_agree() {
    let mut steps = Vec::new();
    for vip in 0..4 {
        for (flags, reply) in [(SYN, false), (SYN | ACK, true), (ACK, false)] {
            steps.push(if reply {
                Step::Reply {
                    worker: 1,
                    pick: 0,
                    flags,
                    ttl: 64,
                }
            } else {
                Step::In {
                    worker: 0,
                    vip,
                    client: 0,
                    cport: 40000,
                    udp: false,
                    flags,
                    ttl: 64,
                    big: false,
                }
            });
        }
        for _ in 0..3 {
            steps.push(Step::In {
                worker: 0,
                vip,
                client: 0,
                cport: 40000,
                udp: false,
                flags: ACK | PSH,
                ttl: 64,
                big: false,
            });
            steps.push(Step::Reply {
                worker: 1,
                pick: 0,
                flags: ACK,
                ttl: 64,
            });
        }
        steps.push(Step::Tick { secs: 1000 });
    }
    let (fast, general) = check(&steps).unwrap();
    // Per method, the client's SYN, ACK and 3 data segments; for NAT and
    // FullNAT also the SYN+ACK and 3 ACKs coming back. DR and TUN replies
    // go round the director, so the "reply" frames are not theirs and take
    // the general path (to the kernel).
    assert_eq!(fast, 4 * 5 + 2 * 4, "frames the fast path handled");
    assert_eq!(general, 0, "fast path off");
}

/// Stage one of the burst prefetch starts the lookup the fast path makes:
/// for the client's packet (input key) and for the real server's reply
/// (output key), NAT and FullNAT, the hint names the entry's slot; a frame
/// the fast path does not look up gets no hint.
#[test]
fn a_burst_prefetch_targets_the_entry_each_direction_finds() {
    let (plan, _reg) = lab_plan(1);
    let (table, mut ws) = workers(&plan, 1);
    let n = lab_neighbors();
    for (i, vip) in [VIP4_NAT, VIP4_FNAT].into_iter().enumerate() {
        let cport = 41000 + i as u16;
        let syn = Spec::tcp(CLIENT4.into(), cport, vip.into(), TCP_PORT, SYN).frame();
        let (v, _) = run(&mut ws[0], &plan, &n, 1, CLIENT_IF, &syn);
        assert!(matches!(v, xvs_dataplane::Verdict::Forward { .. }), "{v:?}");
        let mut entry = None;
        table.for_each(|e: &ConnEntry| {
            if e.cport == cport && e.vaddr == IpAddr::from(vip) {
                entry = Some(*e);
            }
        });
        let e = entry.expect("the SYN opened an entry");
        let ack = Spec::tcp(CLIENT4.into(), cport, vip.into(), TCP_PORT, ACK).frame();
        let reply = Spec::tcp(e.daddr, e.dport, e.laddr, e.lport, SYN | ACK).frame();
        let target = |frame: &[u8]| table.prefetch4_target(ws[0].prefetch_index(&plan, frame));
        // Both keys of the one entry name its slot (the conn tests hold
        // that slot to the one lookup4 returns).
        let client = target(&ack);
        assert!(client.is_some(), "{vip}: client packet");
        assert_eq!(target(&reply), client, "{vip}: reply");
        // A flow nobody opened names no slot.
        let other = Spec::tcp(CLIENT4.into(), cport + 100, vip.into(), TCP_PORT, ACK).frame();
        assert_eq!(target(&other), None, "{vip}: unknown flow");
    }
    let v6 = Spec::tcp(CLIENT6.into(), 41000, VIP6_NAT.into(), TCP_PORT, ACK).frame();
    assert_eq!(ws[0].prefetch_index(&plan, &v6), xvs_conn::Prefetch4::NONE);
}

/// A burst longer than the prefetch keeps hints for (64 frames): every
/// frame's lookup is started, the first 64 start from their hints, the
/// rest look up without, and all come out as from a worker that started
/// nothing early.
#[test]
fn a_burst_longer_than_its_hints_forwards_every_frame_as_without_prefetch() {
    const FLOWS: u16 = 150;
    let (mut plan, _reg) = lab_plan(1);
    plan.prefetch_min_live = 0;
    let (_t, mut early) = workers(&plan, 1);
    let (_u, mut plain) = workers(&plan, 1);
    let n = lab_neighbors();
    let frame = |cport: u16, flags| {
        Spec::tcp(CLIENT4.into(), cport, VIP4_NAT.into(), TCP_PORT, flags).frame()
    };
    for cport in 41000..41000 + FLOWS {
        for w in [&mut early[0], &mut plain[0]] {
            let (v, _) = run(w, &plan, &n, 1, CLIENT_IF, &frame(cport, SYN));
            assert!(matches!(v, xvs_dataplane::Verdict::Forward { .. }), "{v:?}");
        }
    }
    let acks: Vec<Vec<u8>> = (41000..41000 + FLOWS).map(|p| frame(p, ACK)).collect();
    early[0].prefetch_burst(&plan, acks.iter().map(|f| &f[..]));
    for ack in &acks {
        let a = run(&mut early[0], &plan, &n, 2, CLIENT_IF, ack);
        let b = run(&mut plain[0], &plan, &n, 2, CLIENT_IF, ack);
        assert!(
            matches!(a.0, xvs_dataplane::Verdict::Forward { .. }),
            "{:?}",
            a.0
        );
        assert_eq!(a, b);
    }
}
