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
#
# `entry!(main, smp = N)` embeds the marker "xasync-qemu-smp=N" read here.
set -uo pipefail
source "$(cd "$(dirname "$0")" && pwd)/../qemu-run-lib.sh"

elf="${1:?usage: qemu-run.sh KERNEL.elf}"
smp="$(qemu_marker "$elf" smp)"
smp="${smp:-1}"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
qemu_boot "$log" qemu-system-x86_64 \
  -machine pc -smp "$smp" -m 128M -nographic -no-reboot -net none \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$elf"
case "$status" in
  33) status=0 ;;   # the kernel's success value, 0x10
  0) status=1 ;;    # QEMU stopped without the kernel saying (a triple fault with -no-reboot)
esac
qemu_verdict "$(basename "$elf")" "$log" "-smp $smp"
