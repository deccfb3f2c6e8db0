#!/usr/bin/env bash
# The C ABI's checks (run by .ci/run; runnable alone): the checked-in header
# include/xasync.h must be what cbindgen generates from capi/src; the static
# library builds; the C examples and tests compile with the system cc
# (-Wall -Wextra -Werror -pedantic, C11) and pass; the tests pass under
# valgrind with no leak and no invalid access.
#
#   bash .ci/capi.sh            check
#   bash .ci/capi.sh --bless    regenerate include/xasync.h, then check
#
# Installs what it lacks: cbindgen (pinned, from crates.io) and valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

. .ci/lib.sh

CBINDGEN_VERSION=0.29.4
if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
  step "cargo install cbindgen $CBINDGEN_VERSION"
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi
command -v valgrind >/dev/null || apt_install valgrind

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "include/xasync.h is up to date (cbindgen $CBINDGEN_VERSION)"
cbindgen --quiet --config capi/cbindgen.toml --output "$work/xasync.h" capi
if [ "${1:-}" = --bless ]; then
  cp "$work/xasync.h" include/xasync.h
fi
if ! diff -u include/xasync.h "$work/xasync.h"; then
  echo "include/xasync.h is stale: run 'bash .ci/capi.sh --bless' and commit it" >&2
  exit 1
fi

step "cargo build -p xasync-ffi (static and shared library)"
cargo build -p xasync-ffi
target_dir=${CARGO_TARGET_DIR:-target}
lib="$target_dir/debug/libxasync_ffi.a"
# What the static library needs (rustc --print native-static-libs).
native=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
cflags=(-std=c11 -g -Wall -Wextra -Werror -pedantic -Iinclude -Icapi/tests)

step "the header compiles as C++ too"
printf '#include "xasync.h"\nint main() { return XASYNC_OK; }\n' >"$work/cxx.cpp"
c++ -std=c++11 -Wall -Wextra -Werror -Iinclude "$work/cxx.cpp" -o "$work/cxx"

step "C examples (capi/examples), linked statically"
for src in capi/examples/*.c; do
  name=$(basename "$src" .c)
  cc "${cflags[@]}" "$src" "$lib" "${native[@]}" -o "$work/$name"
  echo "--- $name"
  timeout 120 "$work/$name"
done

step "a C example linked against the shared library"
cc "${cflags[@]}" capi/examples/sleep_await.c -L"$target_dir/debug" -lxasync_ffi \
  -Wl,-rpath,"$(cd "$target_dir/debug" && pwd)" -o "$work/sleep_await_shared"
timeout 120 "$work/sleep_await_shared"

step "C tests (capi/tests)"
tests=()
for src in capi/tests/test_*.c; do
  name=$(basename "$src" .c)
  cc "${cflags[@]}" "$src" "$lib" "${native[@]}" -o "$work/$name"
  tests+=("$name")
  XASYNC_WORKERS=2 timeout 120 "$work/$name"
done

# --max-stackframe: coroutine stacks are separate mappings, and a worker's
# stack and a coroutine's can lie closer than valgrind's default 2 MB
# threshold for "the program switched stacks" (24 KB apart was seen). Below
# the threshold, valgrind takes a switch for a frame push or pop and marks
# the memory in between (the worker's TLS, say) as unusable, then reports
# every access to it. 16 KiB is below the distances seen and above any frame
# of this code except the test that uses a 200 KiB array on a fresh stack.
# The suppressions are for two bounded allocations that are not leaks of
# this library; capi/tests/valgrind.supp says why for each.
step "C tests under valgrind"
for name in "${tests[@]}"; do
  echo "--- $name"
  XASYNC_WORKERS=2 timeout 600 valgrind --quiet --leak-check=full --error-exitcode=1 \
    --max-stackframe=16384 --suppressions=capi/tests/valgrind.supp "$work/$name"
done

step "C ABI checks passed"
