#!/usr/bin/env bash
# The Rust test suites under valgrind's memcheck (runnable alone; see
# docs/RELIABILITY.md, "Sanitizers" for what it found and costs): invalid
# reads and writes, uses of uninitialised memory, and definite leaks fail
# the run. Coroutine stacks are registered with valgrind by the code itself
# (xasync_core::stack::StackRegistration), so switches between them are
# known as switches and need no --max-stackframe.
#
#   bash .ci/sanitize.sh
#
# XASYNC_STRESS_ITERATIONS (default here 100) sizes the stress test.
# Installs valgrind when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

. .ci/lib.sh

command -v valgrind >/dev/null || apt_install valgrind

# What runs. Left out, and why:
# - core: compile_fail (runs rustc), loom_* (loom's models, not real
#   threads), switch_cfi (single-steps under gdb), time_wheel_model,
#   time_wheel_million and sync_channel_model (safe code only, over 2 minutes
#   under valgrind; Miri runs the models), fiber_leak (counts the process's
#   allocations, which the test harness's main thread perturbs when valgrind
#   schedules it into the counted window; memcheck's own leak check covers
#   the same ground).
# - xasync: overflow (its children overflow on purpose, and an overflow is
#   an invalid access by definition; untraced, only the parent would run
#   under memcheck), nested (it looks for a stack mapped below its own,
#   which valgrind's address-space manager did not give in 10,000 tries).
core_tests=(coroutine fiber task executor sync_channel sync_mutex sync_notify sync_oneshot
  sync_semaphore)
xasync_tests=(runtime cancel cancel_mid_unwind shutdown shutdown_leak sync time stacks
  stacks_fallback fs net_tcp net_udp_unix net_callback net_cancel net_emfile net_many net_uring
  fs_uring stress coroutine_local api_edges)

# Valgrind arguments by binary. stacks_fallback re-runs itself in children
# with XASYNC_GUARD_REGIONS=0; they pass or fail like the parent, so trace them.
declare -A valgrind_args=(
  [stacks_fallback]="--trace-children=yes"
)

export XASYNC_STRESS_ITERATIONS=${XASYNC_STRESS_ITERATIONS:-100}

# Prints "crate name path" for each test binary that `cargo test --no-run
# "$@"` builds, the crate named by its directory.
binaries() {
  cargo test --no-run --message-format=json "$@" | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["kind"] == ["test"]:
        crate = message["manifest_path"].split("/")[-2]
        print(crate, message["target"]["name"], message["executable"])
'
}

# --fair-sched=yes: valgrind runs one thread at a time, under a lock that,
# by default, a thread giving way (sched_yield, as the spin lock's backoff
# does, core/src/spin.rs) often takes back at once, starving the thread it
# waits for: shutdowns then missed their tests' 10 s bounds and a stress
# iteration its 30 s one. Handing the lock round-robin made the runs
# steady and faster (the shutdown tests 13 s -> 4 s).
flags=(--quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
  --show-leak-kinds=definite --num-callers=40 --fair-sched=yes
  --suppressions=.ci/valgrind.supp)
summary=()
failed=()

# Runs each binary of the "crate name path" lines on stdin under
# memcheck; goes on past a failure, which is reported at the end.
run_all() {
  local suffix=$1 crate name path start status
  while read -r crate name path; do
    start=$SECONDS
    echo "--- $crate$suffix $name"
    status=0
    # shellcheck disable=SC2086 # the per-binary valgrind arguments are a word list
    timeout 900 valgrind "${flags[@]}" ${valgrind_args[$name]:-} "$path" \
      --test-threads=1 || status=$?
    summary+=("$crate$suffix $name: $((SECONDS - start)) s, exit $status")
    if ((status != 0)); then failed+=("$crate$suffix $name"); fi
  done
}

tests=()
for name in "${core_tests[@]}" "${xasync_tests[@]}"; do tests+=(--test "$name"); done

# The debug binaries are those of the README's `cargo test --workspace`
# (same features: the C ABI turns on the core's fp-env), so that in
# .ci/run, which runs that first, nothing is built again.
step "build the test binaries (debug, and the core's switches optimized)"
debug=$(binaries --workspace "${tests[@]}")
release=$(binaries -p xasync-core --features std --release --test coroutine --test fiber)
# The hooked calls that lend their buffer to the ring (feature `hook`).
# hook_exact is left out (memcheck reports a leak in the child it forks,
# on the code before the ring too); hook_overlap (redis-server and real
# sync clients) has not been tried under memcheck.
hooked=$(binaries -p xasync --features hook --test hook_ring)

step "under memcheck (XASYNC_STRESS_ITERATIONS=$XASYNC_STRESS_ITERATIONS)"
run_all "" <<<"$debug"
step "the core's switches, optimized, under memcheck"
run_all " (release)" <<<"$release"
step "the hooks' ring calls under memcheck"
run_all " (hook)" <<<"$hooked"

printf '\n%s\n' "time under memcheck, by test binary:"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  printf '\nfailed under memcheck: %s\n' "${failed[*]}" >&2
  exit 1
fi
step "memcheck found nothing"
