#!/usr/bin/env bash
# The hooks' checks (feature `hook`; run by .ci/run, runnable alone): clippy
# with the feature, the Rust hook tests (they start a real redis-server,
# installed here when missing), and the C test, with the static and the
# shared library built with the feature.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

. .ci/lib.sh

command -v redis-server >/dev/null || apt_install redis-server

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "cargo clippy --features hook (xasync, xasync-ffi, xasync-bench; all targets, -D warnings)"
cargo clippy -p xasync -p xasync-ffi -p xasync-bench \
  --features xasync/hook,xasync-ffi/hook,xasync-bench/hook --all-targets -- -D warnings

step "the Rust hook tests (the tests start and stop their redis-server)"
hook_tests=()
for file in xasync/tests/hook_*.rs; do
  hook_tests+=(--test "$(basename "$file" .rs)")
done
cargo test -p xasync --features hook "${hook_tests[@]}"

step "the C hook test (capi/tests/hook): static and shared library, and fortified"
cargo build -p xasync-ffi --features hook
target_dir=${CARGO_TARGET_DIR:-target}
cflags=(-std=c11 -g -Wall -Wextra -Werror -pedantic -Iinclude -Icapi/tests)
for src in capi/tests/hook/test_*.c; do
  name=$(basename "$src" .c)
  cc "${cflags[@]}" "$src" "$target_dir/debug/libxasync_ffi.a" \
    -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$work/$name"
  timeout 120 "$work/$name"
  cc "${cflags[@]}" "$src" -L"$target_dir/debug" -lxasync_ffi \
    -Wl,-rpath,"$(cd "$target_dir/debug" && pwd)" -o "$work/${name}_shared"
  timeout 120 "$work/${name}_shared"
  # -O2 -D_FORTIFY_SOURCE=2 makes the calls go to __read_chk, __poll_chk.
  cc "${cflags[@]}" -O2 -D_FORTIFY_SOURCE=2 "$src" "$target_dir/debug/libxasync_ffi.a" \
    -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$work/${name}_fortified"
  timeout 120 "$work/${name}_fortified"
done
# Leave the libraries as the other steps expect them: without the feature.
cargo build -p xasync-ffi

step "hook checks passed"
