//! Established flows: ns per packet of an ACK on an ESTABLISHED connection,
//! per forwarding method and direction (DR client→RS is the headline), and
//! the cost of the per-iteration frame copy alone (`frame_copy`), to be
//! subtracted. Run: `cargo bench -p xvs-bench --bench established`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
        rig.prime_ring(&frame);
        group.bench_function(path.name(), |b| {
            b.iter(|| rig.transmit_ring(ingress, black_box(&frame)))
        });
    }
    // The headline's frame, copied but not processed.
    let Established { mut rig, frame, .. } =
        established(Path::DrIn).unwrap_or_else(|e| panic!("setting up the copy baseline: {e}"));
    group.bench_function(xvs_bench::report::COPY_BASELINE, |b| {
        b.iter(|| rig.copy_only(black_box(&frame)))
    });
    group.finish();
}

criterion_group!(benches, bench_established);
criterion_main!(benches);
