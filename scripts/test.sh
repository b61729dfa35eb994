#!/usr/bin/env bash
# The project's test command (README): unit, property, golden-packet and
# integration tests of every crate, and the end-to-end suites (tests/).
# Tests that need root or AF_XDP skip loudly with the reason when those are
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# The end-to-end suites run target/debug/xvs, another package's binary,
# which `cargo test` builds only for the xvs package's own integration
# tests (crates/xvs/tests/check.rs): build it here rather than rely on that.
cargo build -p xvs
cargo test --workspace --all-targets "$@"
