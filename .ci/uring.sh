#!/usr/bin/env bash
# Both I/O backends pass the same suites (run by .ci/run after the
# workspace tests; runnable alone). The workspace run uses the default
# backend, io_uring where the kernel allows it; this runs the suites of the
# code that depends on the backend (sockets, callbacks, files, timers,
# parking, cancellation, shutdown) again on epoll, through XASYNC_IO. The
# tests that need io_uring itself ask for it by the builder (and say they
# are skipped where it is unavailable). A few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

suites=(net_tcp net_udp_unix net_callback net_cancel net_emfile net_many net_uring fs fs_uring time
  runtime cancel shutdown)
tests=()
for name in "${suites[@]}"; do tests+=(--test "$name"); done
XASYNC_IO=epoll cargo test -p xasync "${tests[@]}"
