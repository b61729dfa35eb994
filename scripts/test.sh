#!/usr/bin/env bash
# The project's test command (README): unit, property, golden-packet and
# integration tests of every crate. Tests that need root or AF_XDP skip
# loudly with the reason when those are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
