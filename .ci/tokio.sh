#!/usr/bin/env bash
# xasync's `tokio` and `hyper` features, off in the workspace build: lints
# with them on, their tests and doc tests, the hyper example's test, the
# tokio_compat benchmark's build. Over the whole workspace, so that the
# dependencies get the workspace build's features and its artifacts are
# reused (with `-p xasync` alone, tokio and hyper would be built again).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

. .ci/lib.sh

features=xasync/tokio,xasync/hyper,xasync-examples/hyper,xasync-bench/tokio

step "clippy with the tokio and hyper features (-D warnings)"
cargo clippy --workspace --all-targets --features "$features" -- -D warnings
# hyper's adapters need nothing of tokio.
cargo clippy -p xasync --lib --features hyper -- -D warnings

step "tokio-based crates under xawait and spawn; hyper on xasync"
cargo test --workspace --features "$features" \
  --test tokio_compat --test hyper_server --example hyper_hello
cargo test --workspace --features "$features" --doc -- compat Builder
