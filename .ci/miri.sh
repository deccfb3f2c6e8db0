#!/usr/bin/env bash
# Miri over the core's code without inline assembly (run by .ci/run;
# runnable alone): the task state machine, wakers and join handles, the
# local executor's futures, every sync primitive, the waiter lists, the
# spin lock and the timing wheel. Tests that switch stacks (inline
# assembly, which Miri cannot run) are `cfg_attr(miri, ignore)`; loop counts
# shrink under Miri (`sync_support::scaled`, proptest cases).
#
# Installs nightly's miri component when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

if ! cargo +nightly miri --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal --component miri,rust-src >/dev/null
fi

# -Zmiri-disable-isolation: tests read the clock and spawn threads with
# timeouts. Many seeds would multiply the time; the thread interleavings
# still vary with each test's own scheduling.
export MIRIFLAGS="-Zmiri-disable-isolation ${MIRIFLAGS:-}"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}/miri
tests=(--lib)
for name in task executor sync_channel sync_channel_model sync_mutex sync_notify sync_oneshot \
  sync_semaphore time_wheel_model; do
  tests+=(--test "$name")
done
cargo +nightly miri test -p xasync-core "${tests[@]}"
