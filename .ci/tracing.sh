#!/usr/bin/env bash
# The xasync crate with its `tracing` feature (run by .ci/run after the
# workspace tests; runnable alone): lints with the feature on, then the
# tests that need it (a real tracing-subscriber registry checks that the
# spans a coroutine enters stay its own across suspensions) and the tests
# of the code the feature changes (context switches, cancellation).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

cargo clippy -p xasync --all-targets --features tracing -- -D warnings
cargo test -p xasync --features tracing --test tracing_spans --test tracing_odd_subscriber \
  --test coroutine_local \
  --test runtime --test cancel --test nested
