#!/usr/bin/env bash
# Builds and boots every bare-metal kernel under QEMU, with a timeout, and
# fails on any failed check or hang:
#
#   kernel/riscv64  QEMU virt + OpenSBI: every tests/*.rs image and the demo
#                   kernel (seed scenarios, timer interrupts, preemption,
#                   -smp 2 with one executor per hart, measurements, an
#                   HTTP server on virtio-net checked with curl from the
#                   host, ...)
#   kernel/aarch64  QEMU virt (GICv2), cortex-a72: smoke, timer_interrupts,
#                   smp (-smp 2), preemption
#   kernel/x86_64   QEMU pc through multiboot v1: smoke, timer_interrupts,
#                   smp (-smp 2), preemption
#
# each in the dev and release profiles, after formatting, clippy and
# rustdoc checks of every kernel crate (and of kernel/smoke, the checks and
# scenarios the kernels share, and kernel/common, the machinery they
# share). Each is a workspace of its own, outside the root workspace's
# checks.
#
#   bash .ci/kernel.sh                        # from anywhere in the repository
#   XASYNC_KERNEL_TIMEOUT=30 bash .ci/kernel.sh
#   XASYNC_KERNELS="aarch64 x86_64" bash .ci/kernel.sh
#
# Installs what it needs when missing, without prompting: the rustup
# targets, and Debian's qemu-system-misc, qemu-system-arm and
# qemu-system-x86, and curl (with sudo when not root). The image's own status
# decides (see each kernel's qemu-run.sh): 0 pass, 1.. failure, 124 hung.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export CARGO_TERM_COLOR=never
export XASYNC_KERNEL_TIMEOUT="${XASYNC_KERNEL_TIMEOUT:-60}"
kernels=(${XASYNC_KERNELS:-riscv64 aarch64 x86_64})

. .ci/lib.sh

declare -A target=(
  [riscv64]=riscv64gc-unknown-none-elf
  [aarch64]=aarch64-unknown-none
  [x86_64]=x86_64-unknown-none
)
declare -A qemu=(
  [riscv64]=qemu-system-riscv64
  [aarch64]=qemu-system-aarch64
  [x86_64]=qemu-system-x86_64
)
declare -A package=(
  [riscv64]=qemu-system-misc
  [aarch64]=qemu-system-arm
  [x86_64]=qemu-system-x86
)

missing=()
command -v curl >/dev/null || missing+=(curl)
targets=()
for k in "${kernels[@]}"; do
  [ -n "${target[$k]:-}" ] || { echo "unknown kernel: $k" >&2; exit 2; }
  command -v "${qemu[$k]}" >/dev/null || missing+=("${package[$k]}")
  targets+=("${target[$k]}")
done
apt_install "${missing[@]}"
installed="$(rustup target list --installed)"
for t in "${targets[@]}"; do
  if ! grep -qx "$t" <<<"$installed"; then
    step "rustup target add $t"
    rustup target add "$t"
  fi
done
rustup component add rustfmt clippy >/dev/null 2>&1 || true

for shared in smoke common; do
  step "kernel/$shared: fmt, clippy, rustdoc"
  (
    cd "kernel/$shared"
    cargo fmt --check
    cargo clippy -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
  )
done
for k in "${kernels[@]}"; do
  step "kernel/$k: fmt, clippy, rustdoc"
  (
    cd "kernel/$k"
    cargo fmt --check
    cargo clippy --lib --bins --tests --examples -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib
  )
done

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
passed=0
failed=0
summary=()
for k in "${kernels[@]}"; do
  cd "$root/kernel/$k"
  for profile in dev release; do
    step "kernel/$k: build the images ($profile)"
    # One JSON line per artifact: "name" is the test's (or the bin's) name,
    # "executable" its ELF.
    images="$(cargo build --profile "$profile" --tests --bins --message-format=json |
      grep '"executable":"/' |
      sed -E 's/.*"target":\{[^}]*"name":"([^"]*)".*"executable":"([^"]*)".*/\1 \2/')"
    [ -n "$images" ] || { echo "no kernel image was built" >&2; exit 1; }
    while read -r name elf; do
      step "boot $k/$name ($profile)"
      log="$logs/$k-$profile-$name.log"
      start_ns="$(date +%s%N)"
      status=0
      ./qemu-run.sh "$elf" >"$log" 2>&1 || status=$?
      ms=$((($(date +%s%N) - start_ns) / 1000000))
      if [ "$status" = 0 ]; then
        # The kernel's own lines (the firmware banner before them is noise).
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
      summary+=("$(printf '%-4s  %-7s  %-7s  %-22s %6d ms%s' \
        "$verdict" "$k" "$profile" "$name" "$ms" "$detail")")
    done <<<"$images"
  done
done

step "summary (boot to exit, wall time)"
printf '%s\n' "${summary[@]}"
echo "kernel: $passed passed, $failed failed"
[ "$failed" = 0 ]
