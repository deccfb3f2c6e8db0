#!/usr/bin/env bash
# Builds every bare-metal kernel image of kernel/riscv64 (each tests/*.rs,
# plus the demo kernel) in the dev and release profiles, boots each under
# qemu-system-riscv64 (QEMU virt, OpenSBI) with a timeout, and fails on any
# failure or hang. Also checks the crate's formatting, clippy lints and
# rustdoc (it is a workspace of its own, outside the root workspace's checks).
#
#   bash .ci/kernel.sh                   # from anywhere in the repository
#   XASYNC_KERNEL_TIMEOUT=30 bash .ci/kernel.sh
#
# Installs what it needs when missing: the rustup target
# riscv64gc-unknown-none-elf and Debian's qemu-system-misc (with sudo when
# not root). The image's own status decides (see kernel/riscv64/qemu-run.sh):
# 0 pass, 1.. failure code, 124 hung.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export XASYNC_KERNEL_TIMEOUT="${XASYNC_KERNEL_TIMEOUT:-60}"

step() { printf '\n==> %s\n' "$*"; }

if ! command -v qemu-system-riscv64 >/dev/null; then
  step "apt-get install qemu-system-misc"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends qemu-system-misc >/dev/null
fi
if ! rustup target list --installed | grep -qx riscv64gc-unknown-none-elf; then
  step "rustup target add riscv64gc-unknown-none-elf"
  rustup target add riscv64gc-unknown-none-elf
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

cd kernel/riscv64

step "cargo fmt --check (kernel/riscv64)"
cargo fmt --check

step "cargo clippy -D warnings (kernel/riscv64)"
cargo clippy --lib --bins --tests --examples -- -D warnings

step "cargo doc -D warnings (kernel/riscv64)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
passed=0
failed=0
summary=()
for profile in dev release; do
  step "build the kernel images ($profile)"
  # One JSON line per artifact: "name" is the test's (or the bin's) name,
  # "executable" its ELF.
  images="$(cargo build --profile "$profile" --tests --bins --message-format=json |
    grep '"executable":"/' |
    sed -E 's/.*"target":\{[^}]*"name":"([^"]*)".*"executable":"([^"]*)".*/\1 \2/')"
  [ -n "$images" ] || { echo "no kernel image was built" >&2; exit 1; }
  while read -r name elf; do
    step "boot $name ($profile)"
    log="$logs/$profile-$name.log"
    start_ns="$(date +%s%N)"
    status=0
    ./qemu-run.sh "$elf" >"$log" 2>&1 || status=$?
    ms=$((($(date +%s%N) - start_ns) / 1000000))
    if [ "$status" = 0 ]; then
      # The kernel's own lines (the OpenSBI banner before them is noise).
      tr -d '\r' <"$log" | sed -n '/^xasync-kernel:/,$p'
      verdict=PASS detail=""
      passed=$((passed + 1))
    else
      tr -d '\r' <"$log"
      if [ "$status" = 124 ]; then
        verdict=HANG detail=" (killed after ${XASYNC_KERNEL_TIMEOUT} s)"
      else
        verdict=FAIL detail=" (exit $status)"
      fi
      failed=$((failed + 1))
    fi
    summary+=("$(printf '%-4s  %-7s  %-22s %6d ms%s' "$verdict" "$profile" "$name" "$ms" "$detail")")
  done <<<"$images"
done

step "summary (boot to exit, wall time)"
printf '%s\n' "${summary[@]}"
echo "kernel: $passed passed, $failed failed"
[ "$failed" = 0 ]
