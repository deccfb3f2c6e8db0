#!/usr/bin/env bash
# The Zig package and the C++ wrapper (run by .ci/run; runnable alone):
# `zig build test` in zig/ builds the Rust static library with cargo,
# translates include/xasync.h, and runs the seed's scenarios in Zig and the
# README's Zig program; then the C++ wrapper's test (include/xasync.hpp)
# compiles with the system c++ (-Wall -Wextra -Werror -pedantic, C++17) and
# passes, also under valgrind with no leak and no invalid access.
#
# Installs what it lacks: Zig (the ziglang package from PyPI, pinned; run as
# `python3 -m ziglang`), pip, a C++ compiler and valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

. .ci/lib.sh

ZIG_VERSION=0.17.1
zig() { python3 -m ziglang "$@"; }
if [ "$(zig version 2>/dev/null)" != "$ZIG_VERSION" ]; then
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  step "pip install ziglang==$ZIG_VERSION"
  pip=(python3 -m pip install --quiet --disable-pip-version-check "ziglang==$ZIG_VERSION")
  # Debian's Python refuses installs outside a virtual environment
  # (PEP 668) unless told; older pips do not know the flag and need not.
  PIP_ROOT_USER_ACTION=ignore "${pip[@]}" 2>/dev/null ||
    PIP_ROOT_USER_ACTION=ignore "${pip[@]}" --break-system-packages
fi
command -v c++ >/dev/null || apt_install g++
command -v valgrind >/dev/null || apt_install valgrind

step "zig fmt --check zig/"
zig fmt --check zig

step "zig build test (the Zig package: scenarios and the README's program)"
# Bounded: the first run also builds the library and Zig's own caches.
(cd zig && timeout 1200 python3 -m ziglang build test --summary all)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target_dir=${CARGO_TARGET_DIR:-target}
# What the static library needs (rustc --print native-static-libs).
native=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

step "C++ wrapper test (capi/tests/cpp), linked statically"
cargo build -p xasync-ffi
c++ -std=c++17 -g -Wall -Wextra -Werror -pedantic -Iinclude capi/tests/cpp/test_wrapper.cpp \
  "$target_dir/debug/libxasync_ffi.a" "${native[@]}" -o "$work/test_wrapper"
XASYNC_WORKERS=2 timeout 120 "$work/test_wrapper"
# The benchmark is run by hand (docs/BENCHMARKS.md); it must keep compiling.
c++ -std=c++17 -O2 -Wall -Wextra -Werror -pedantic -Iinclude capi/tests/cpp/bench_spawn_await.cpp \
  "$target_dir/debug/libxasync_ffi.a" "${native[@]}" -o "$work/bench_spawn_await"

# The wrapper is header-only: check it with a second compiler, Zig's clang
# and libc++ (their first build takes about a minute, then is cached).
step "C++ wrapper compiles with clang and libc++ too (zig c++)"
for src in capi/tests/cpp/*.cpp; do
  python3 -m ziglang c++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -c "$src" \
    -o "$work/$(basename "$src" .cpp).o"
done

# Valgrind's options as in .ci/capi.sh, which says why.
step "C++ wrapper test under valgrind"
XASYNC_WORKERS=2 timeout 600 valgrind --quiet --leak-check=full --error-exitcode=1 \
  --max-stackframe=16384 --suppressions=capi/tests/valgrind.supp "$work/test_wrapper"

step "Zig and C++ checks passed"
