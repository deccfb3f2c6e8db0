#!/usr/bin/env bash
# xasync's `tokio` and `hyper` features, off in the workspace build: lints
# with them on (and hyper's without tokio), their tests and doc tests, the
# hyper example's test, and the tokio_compat benchmark's build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "clippy with the tokio and hyper features (-D warnings)"
cargo clippy -p xasync --all-targets --features tokio,hyper -- -D warnings
cargo clippy -p xasync --all-targets --features hyper -- -D warnings
cargo clippy -p xasync-examples --all-targets --features hyper -- -D warnings
cargo clippy -p xasync-bench --all-targets --features tokio -- -D warnings

step "tokio-based crates under xawait and spawn; hyper on xasync"
cargo test -p xasync --features tokio,hyper --test tokio_compat --test hyper_server
cargo test -p xasync --features tokio,hyper --doc -- compat Builder
cargo test -p xasync-examples --features hyper --example hyper_hello
