//! The building blocks of the per-packet path, timed one by one on the
//! same fixtures as the pipeline benches, so a figure over budget can be
//! traced to its parts: frame parsing, the VIP and service lookups, the
//! connection-table lookup / copy / TCP transition, routing, the
//! neighbour lookup (the runtime's ahash map and the testkit's SipHash
//! map), the TTL decrement, a scheduler pick and a real server's counter
//! bind/unbind. No budget applies; the sum of the established-path parts
//! against `established/dr_in` shows what the glue between them costs.
//! Run: `cargo bench -p xvs-bench --bench components`.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xvs_bench::{established, new_flows, Established, Path};
use xvs_config::SchedulerKind;
use xvs_conn::Direction;
use xvs_dataplane::{route, Neighbors};
use xvs_sched::SchedKey;
use xvs_testkit::{lab_neighbors, ACK, CLIENT4, RS4, SERVER_IF, TCP_PORT, VIP4_DR};
use xvs_wire::{parse_frame, rewrite};

fn bench_components(c: &mut Criterion) {
    let mut g = c.benchmark_group("components");
    g.throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));

    let Established { rig, frame, .. } =
        established(Path::DrIn).unwrap_or_else(|e| panic!("setting up: {e}"));
    let client: IpAddr = CLIENT4.into();
    let vip: IpAddr = VIP4_DR.into();
    let rip: IpAddr = RS4[0].into();
    let cport = match parse_frame(&frame) {
        Ok(info) => info.src_port,
        Err(e) => panic!("benched frame does not parse: {e}"),
    };
    let now = rig.now;
    let table = &rig.table;
    let Some(id) = table.lookup_in(0, 6, client, cport, vip, TCP_PORT, now) else {
        panic!("the established entry is not in the table");
    };

    g.bench_function("parse_frame", |b| b.iter(|| parse_frame(black_box(&frame))));
    g.bench_function("plan_is_vip", |b| {
        b.iter(|| rig.plan.is_vip(black_box(vip)))
    });
    g.bench_function("plan_find_service", |b| {
        b.iter(|| rig.plan.find_service(6, black_box(vip), TCP_PORT))
    });
    g.bench_function("conn_lookup_in_hit", |b| {
        b.iter(|| table.lookup_in(0, 6, black_box(client), cport, vip, TCP_PORT, now))
    });
    g.bench_function("conn_lookup_in_miss", |b| {
        b.iter(|| table.lookup_in(0, 6, black_box(client), cport + 1, vip, TCP_PORT, now))
    });
    g.bench_function("conn_get", |b| b.iter(|| table.get(black_box(id))));
    g.bench_function("conn_tcp_transition_ack", |b| {
        b.iter(|| {
            table.tcp_transition(
                black_box(id),
                Direction::Input,
                ACK,
                &rig.plan.timeouts,
                now,
            )
        })
    });
    g.bench_function("route_to_real_server", |b| {
        b.iter(|| route(&rig.plan.interfaces, black_box(rip)))
    });
    g.bench_function("neighbor_lookup_ahash", |b| {
        b.iter(|| rig.neighbors.lookup(SERVER_IF, black_box(rip)))
    });
    let sip = lab_neighbors();
    g.bench_function("neighbor_lookup_siphash", |b| {
        b.iter(|| sip.lookup(SERVER_IF, black_box(rip)))
    });
    let mut buf = frame.clone();
    let info = match parse_frame(&frame) {
        Ok(info) => info,
        Err(e) => panic!("{e}"),
    };
    g.bench_function("decrement_ttl", |b| {
        b.iter(|| {
            // Keep the TTL from running out: put it back first (1 byte).
            buf[14 + 8] = 64;
            let mut i = info;
            rewrite::decrement_hop_limit(black_box(&mut buf), &mut i)
        })
    });

    // Scheduler picks and counter binding on the 8-real-server service.
    for kind in [SchedulerKind::Rr, SchedulerKind::Wlc, SchedulerKind::Mh] {
        let s = new_flows(kind).unwrap_or_else(|e| panic!("setting up {}: {e}", kind.name()));
        let svc = &s.rig.plan.services[0];
        let mut state = svc.scheduler.new_state(1);
        let key = SchedKey {
            protocol: 6,
            src: client,
            src_port: cport,
            dst: svc.vip,
        };
        g.bench_function(format!("sched_pick_{}", kind.name()), |b| {
            b.iter(|| {
                svc.scheduler
                    .pick(&mut state, &svc.sched_dests, black_box(&key), now)
            })
        });
        if kind == SchedulerKind::Rr {
            let load = &svc.sched_dests[0].load;
            let th = xvs_sched::Thresholds::default();
            g.bench_function("dest_bind_unbind", |b| {
                b.iter(|| {
                    load.bind_conn(0, black_box(th));
                    load.unbind_conn(0, false, th);
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_components);
criterion_main!(benches);
