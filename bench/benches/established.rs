//! Established flows: ns per packet of an ACK on an ESTABLISHED connection,
//! per forwarding method and direction (DR client→RS is the headline),
//! processed in receive bursts as the worker loop does (`Rig::transmit_burst`),
//! and the cost of copying the frames into the burst buffers alone
//! (`frame_copy`), to be subtracted. Run: `cargo bench -p xvs-bench --bench established`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xvs_bench::rig::{time_bursts, BURST};
use xvs_bench::{established, Established, Path};

fn bench_established(c: &mut Criterion) {
    let mut group = c.benchmark_group("established");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for path in Path::ALL {
        let Established {
            mut rig,
            frame,
            ingress,
            ..
        } = established(path).unwrap_or_else(|e| panic!("setting up {path:?}: {e}"));
        let frames = vec![frame; BURST];
        let mut next = 0;
        group.bench_function(path.name(), |b| {
            b.iter_custom(|packets| {
                time_bursts(packets, &frames, &mut next, |burst| {
                    black_box(rig.transmit_burst(ingress, black_box(burst)));
                })
            })
        });
    }
    // The headline's frames, copied into the burst buffers, not processed.
    let Established { mut rig, frame, .. } =
        established(Path::DrIn).unwrap_or_else(|e| panic!("setting up the copy baseline: {e}"));
    let frames = vec![frame; BURST];
    let mut next = 0;
    group.bench_function(xvs_bench::report::COPY_BASELINE, |b| {
        b.iter_custom(|packets| {
            time_bursts(packets, &frames, &mut next, |burst| {
                black_box(rig.copy_burst(black_box(burst)));
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench_established);
criterion_main!(benches);
