#!/usr/bin/env bash
# Checks the context switch's call frame information (run by .ci/run;
# runnable alone): builds core/tests/switch_cfi.rs, single-steps every
# instruction of its switches under gdb (.ci/cfi.py) and fails if the
# debugger's unwinder, stopped at any instruction of the switch code, cannot
# walk back to the test's function. x86_64 runs natively, aarch64 and
# riscv64 under qemu-user's gdb stub; each in the dev and release profiles,
# x86_64 also with the fp-env feature.
#
#   bash .ci/cfi.sh                            from anywhere in the repository
#   XASYNC_CFI_ARCHS="x86_64 riscv64" bash .ci/cfi.sh
#
# Installs what it lacks, without prompting: gdb, gdb-multiarch, qemu-user
# and the cross compilers (Debian packages, with sudo when not root), and
# the rustup targets.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
archs=(${XASYNC_CFI_ARCHS:-x86_64 aarch64 riscv64})
timeout_s=600

. .ci/lib.sh

need_apt=()
command -v gdb >/dev/null || need_apt+=(gdb)
command -v gdb-multiarch >/dev/null || need_apt+=(gdb-multiarch)
command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v riscv64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)
apt_install "${need_apt[@]}"
rustup target add aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu >/dev/null 2>&1

declare -A target=(
  [x86_64]=x86_64-unknown-linux-gnu
  [aarch64]=aarch64-unknown-linux-gnu
  [riscv64]=riscv64gc-unknown-linux-gnu
)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Builds the test for a target with extra cargo arguments; prints its path.
build() {
  local target=$1
  shift
  cargo test -p xasync-core --features std --target "$target" --test switch_cfi \
    --no-run "$@" 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p'
}

# Runs .ci/cfi.py on a test binary, natively or under qemu-user.
check() {
  local arch=$1 bin=$2
  local args=(--exact every_switch_path --test-threads=1)
  if [ "$arch" = x86_64 ]; then
    timeout "$timeout_s" gdb -nx -batch -x .ci/cfi.py --args "$bin" "${args[@]}" >"$log" 2>&1
    return
  fi
  local sysroot=/usr/$arch-linux-gnu port qemu_pid
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    qemu-"$arch" -L "$sysroot" -g "$port" "$bin" "${args[@]}" >/dev/null 2>&1 &
    qemu_pid=$!
    sleep 0.5
    kill -0 "$qemu_pid" 2>/dev/null && break
  done
  local status=0
  timeout "$timeout_s" gdb-multiarch -nx -batch -ex "set sysroot $sysroot" \
    -ex "file $bin" -ex "target remote :$port" -x .ci/cfi.py >"$log" 2>&1 || status=$?
  kill "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  return "$status"
}

failed=0
for arch in "${archs[@]}"; do
  variants=("" "--release")
  [ "$arch" = x86_64 ] && variants+=("--features fp-env" "--release --features fp-env")
  for variant in "${variants[@]}"; do
    step "switch CFI on $arch ${variant:-(dev)}"
    # shellcheck disable=SC2086 # the variant is a list of arguments
    bin=$(build "${target[$arch]}" $variant)
    status=0
    check "$arch" "$bin" || status=$?
    grep '^cfi:' "$log" || true
    if [ "$status" != 0 ] || ! grep -q 'broken walks: 0 in the switch code' "$log"; then
      echo "FAILED (status $status); the end of gdb's output:"
      tail -n 20 "$log"
      failed=1
    fi
  done
done
exit "$failed"
