#!/usr/bin/env bash
# The Rust test suites under valgrind's memcheck (runnable alone; see
# docs/RELIABILITY-sanitizers.md for what it found and costs): invalid
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

step() { printf '\n==> %s\n' "$*"; }

if ! command -v valgrind >/dev/null; then
  step "apt-get install valgrind"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi

# What runs. Left out, and why:
# - core: compile_fail (runs rustc), loom_* (loom's models, not real
#   threads), switch_cfi (single-steps under gdb), time_wheel_model,
#   time_wheel_million and sync_channel_model (safe code only, 2 minutes
#   under valgrind; Miri runs the models), fiber_leak (counts the process's
#   allocations, which the test harness's main thread perturbs when valgrind
#   schedules it into the counted window; memcheck's own leak check covers
#   the same ground).
# - xasync: overflow (its children overflow on purpose, and an overflow is
#   an invalid access by definition; untraced, only the parent would run
#   under memcheck), nested (it looks for a stack mapped below its own,
#   which valgrind's address-space manager never gives).
core_tests=(coroutine fiber task executor sync_channel sync_mutex sync_notify sync_oneshot
  sync_semaphore)
xasync_tests=(runtime cancel shutdown shutdown_leak sync time stacks stacks_fallback fs net_tcp
  net_udp_unix net_callback net_cancel net_emfile net_many stress)

# Test arguments by binary. cancel: a_destructor_waits_while_the_runtime_shuts_down
# hangs under valgrind, and natively when the shutdown comes before every
# coroutine has started (see docs/RELIABILITY-sanitizers.md, "Found").
declare -A test_args=(
  [cancel]="--skip a_destructor_waits_while_the_runtime_shuts_down"
)
# Valgrind arguments by binary. stacks_fallback re-runs itself in children
# with XASYNC_GUARD_REGIONS=0; they pass or fail like the parent, so trace them.
declare -A valgrind_args=(
  [stacks_fallback]="--trace-children=yes"
)

export XASYNC_STRESS_ITERATIONS=${XASYNC_STRESS_ITERATIONS:-100}

# Prints "name path" for each test binary that `cargo test --no-run "$@"`
# builds.
binaries() {
  cargo test --no-run --message-format=json "$@" | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["kind"] == ["test"]:
        print(message["target"]["name"], message["executable"])
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

# Runs each binary of the "name path" lines on stdin under memcheck; goes
# on past a failure, which is reported at the end.
run_all() {
  local label=$1 name path start status
  while read -r name path; do
    start=$SECONDS
    echo "--- $label $name"
    status=0
    # shellcheck disable=SC2086 # the per-binary arguments are word lists
    timeout 900 valgrind "${flags[@]}" ${valgrind_args[$name]:-} "$path" \
      --test-threads=1 ${test_args[$name]:-} || status=$?
    summary+=("$label $name: $((SECONDS - start)) s, exit $status")
    if ((status != 0)); then failed+=("$label $name"); fi
  done
}

select_tests() {
  local args=()
  for name in "$@"; do args+=(--test "$name"); done
  printf '%s\n' "${args[@]}"
}

step "build the test binaries (debug; core's switches also optimized)"
mapfile -t core_args < <(select_tests "${core_tests[@]}")
mapfile -t xasync_args < <(select_tests "${xasync_tests[@]}")
core_debug=$(binaries -p xasync-core --features std "${core_args[@]}")
core_release=$(binaries -p xasync-core --features std --release --test coroutine --test fiber)
xasync_debug=$(binaries -p xasync "${xasync_args[@]}")

step "xasync-core under memcheck"
run_all core <<<"$core_debug"
step "xasync-core's switches, optimized, under memcheck"
run_all "core (release)" <<<"$core_release"
step "xasync under memcheck (XASYNC_STRESS_ITERATIONS=$XASYNC_STRESS_ITERATIONS)"
run_all xasync <<<"$xasync_debug"

printf '\n%s\n' "time under memcheck, by test binary:"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  printf '\nfailed under memcheck: %s\n' "${failed[*]}" >&2
  exit 1
fi
step "memcheck found nothing"
