#!/usr/bin/env bash
# Cargo's runner for this crate (see .cargo/config.toml): boots the kernel
# ELF given as $1 on QEMU virt (GICv2, cortex-a72) and exits with its status.
#
#   0     the kernel exited 0 through semihosting AND printed its
#         "xasync-kernel: ... passed" line
#   1..   the kernel's failure code (a panic exits with 1)
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
qemu_boot "$log" qemu-system-aarch64 \
  -machine virt,gic-version=2 -cpu cortex-a72 -smp "$smp" -m 128M -nographic -semihosting \
  -kernel "$elf"
qemu_verdict "$(basename "$elf")" "$log" "-smp $smp"
