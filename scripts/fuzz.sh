#!/usr/bin/env bash
# Coverage-guided fuzzing of every target in fuzz/, on the stable toolchain.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, every target)
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 0 process        (stop after N executions)
#
# libFuzzer needs the code instrumented for coverage feedback; without it
# (a plain `cargo build` of fuzz/) the fuzzer mutates blindly. cargo-fuzz
# gets the instrumentation from nightly-only flags; the sancov pass and its
# LLVM options below are stable rustc flags, so this needs no nightly and
# no cargo-fuzz. (No AddressSanitizer: that one is nightly-only, and the
# targets are safe Rust, where a memory error is a panic already.)
#
# Each target starts from its committed seeds (fuzz/seeds/<target>/) and a
# working corpus that persists between runs (fuzz/corpus/<target>/, not
# committed). A crash is written to fuzz/artifacts/<target>/ and fails the
# script. The last line per target is the summary fuzz/README.md records.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^xvs-fuzz$')
fi
runs=${FUZZ_RUNS:--1}

triple=$(rustc -vV | sed -n 's/^host: //p')
# --target keeps these flags off build scripts and proc macros (host code).
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --manifest-path fuzz/Cargo.toml --release --target "$triple" \
    --target-dir fuzz/target/coverage --bins

bin_dir=fuzz/target/coverage/$triple/release
summary=()
status=0
for t in "${targets[@]}"; do
    seeds=fuzz/seeds/$t
    corpus=fuzz/corpus/$t
    artifacts=fuzz/artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    [ -d "$seeds" ] || { echo "fuzz: no seeds for $t ($seeds)" >&2; exit 1; }
    log=fuzz/artifacts/$t.log
    echo "== fuzz $t: ${secs}s, runs ${runs}"
    # New finds go to the first directory (the working corpus).
    if "$bin_dir/$t" "$corpus" "$seeds" -max_total_time="$secs" -runs="$runs" \
        -print_final_stats=1 -artifact_prefix="$artifacts/" -close_fd_mask=1 \
        >"$log" 2>&1; then
        verdict=ok
    else
        verdict="CRASH (see $log and $artifacts/)"
        status=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    feat=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(find "$corpus" -type f | wc -l)
    line="$t: ${execs:-?} executions, ${rate:-?}/s, cov ${cov:-?}, features ${feat:-?}, corpus $corp: $verdict"
    echo "$line"
    summary+=("$line")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
