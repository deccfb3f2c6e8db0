#!/usr/bin/env bash
# Cargo's runner for this crate (see .cargo/config.toml): boots the kernel
# ELF given as $1 on QEMU virt (cortex-a72) and exits with its status.
#
#   0     the kernel exited 0 through semihosting AND printed its
#         "xasync-kernel: ... passed" line
#   1..   the kernel's failure code (a panic exits with 1)
#   124   hung: killed after $XASYNC_KERNEL_TIMEOUT seconds (default 60)
set -uo pipefail

elf="${1:?usage: qemu-run.sh KERNEL.elf}"
timeout_s="${XASYNC_KERNEL_TIMEOUT:-60}"
name="$(basename "$elf")"
# `entry!(main, smp = N)` embeds the marker "xasync-qemu-smp=N".
smp="$(grep -aoE 'xasync-qemu-smp=[0-9]+' "$elf" | head -n 1 | cut -d= -f2)"
smp="${smp:-1}"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start_ns="$(date +%s%N)"
timeout "$timeout_s" qemu-system-aarch64 \
  -machine virt,gic-version=2 -cpu cortex-a72 -smp "$smp" -m 128M -nographic -semihosting \
  -kernel "$elf" </dev/null | tee "$log"
status="${PIPESTATUS[0]}"
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))

if [ "$status" = 0 ] && ! grep -q 'xasync-kernel: .* passed' "$log"; then
  echo "qemu-run: $name exited 0 without printing its pass line" >&2
  status=1
fi
case "$status" in
  0) verdict=ok ;;
  124) verdict="HUNG (killed after ${timeout_s} s)" ;;
  *) verdict="FAILED (exit $status)" ;;
esac
echo "qemu-run: $name: $verdict, boot to exit ${elapsed_ms} ms of wall time (-smp $smp)" >&2
exit "$status"
