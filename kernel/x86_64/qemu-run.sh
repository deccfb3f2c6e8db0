#!/usr/bin/env bash
# Cargo's runner for this crate (see .cargo/config.toml): boots the kernel
# ELF given as $1 through QEMU's multiboot loader and exits with its status.
#
# The kernel ends QEMU through the isa-debug-exit device, which makes QEMU
# exit with (value << 1) | 1: the kernel writes 0x10 for success (status
# 33, reported here as 0) and its failure code otherwise.
#
#   0     the kernel wrote "success" AND printed its
#         "xasync-kernel: ... passed" line
#   1..   a failure (a panic writes 1: status 3)
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
timeout "$timeout_s" qemu-system-x86_64 \
  -machine pc -smp "$smp" -m 128M -nographic -no-reboot -net none \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$elf" </dev/null | tee "$log"
status="${PIPESTATUS[0]}"
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))

case "$status" in
  33) status=0 ;;   # the kernel's success value, 0x10
  0) status=1 ;;    # QEMU stopped without the kernel saying (a triple fault with -no-reboot)
esac
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
