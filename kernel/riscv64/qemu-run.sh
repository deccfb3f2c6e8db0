#!/usr/bin/env bash
# Cargo's runner for this crate (see .cargo/config.toml): boots the kernel
# ELF given as $1 on QEMU virt with OpenSBI and exits with the kernel's status.
#
#   0     the kernel wrote "pass" to the sifive_test device AND printed its
#         "xasync-kernel: ... passed" line (and, for a `net` image, every
#         HTTP check from the host passed)
#   1..   the kernel's failure code (a panic exits with 1), or a failed
#         HTTP check
#   124   hung: killed after $XASYNC_KERNEL_TIMEOUT seconds (default 60)
#
# The image says what it needs: `entry!(main, smp = N, devices = "...")`
# embeds the marker "xasync-qemu-smp=N;xasync-qemu-devices=...;" read here.
#
#   net   a virtio-net NIC on QEMU user networking, a free host port
#         forwarded to the kernel's port 80. Once the kernel prints
#         "http: listening", curl checks its HTTP server from the host
#         (http-check.sh), whose last request, /shutdown, ends the image.
#   blk   a virtio-blk disk on a fresh scratch image of 16 MiB.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../qemu-run-lib.sh"

elf="${1:?usage: qemu-run.sh KERNEL.elf}"
smp="$(qemu_marker "$elf" smp)"
smp="${smp:-1}"
devices="$(qemu_marker "$elf" devices)"

scratch="$(mktemp -d)"
log="$scratch/log"
qemu_pid=""
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

has() { [[ ",$devices," == *",$1,"* ]]; }

# A host port nothing listens on, below Linux's ephemeral range (32768 and
# up), where outgoing connections of other programs take their ports. It
# can still be taken before QEMU binds it: the net path retries.
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "qemu-run: no free port found" >&2
  return 1
}

args=()
if has blk; then
  truncate -s 16M "$scratch/disk.img"
  args+=(-drive "file=$scratch/disk.img,if=none,format=raw,id=d0" -device virtio-blk-device,drive=d0)
fi

qemu=(qemu-system-riscv64 -machine virt -nographic -bios default -m 128M -smp "$smp" "${args[@]}" -kernel "$elf")
if has net; then
  # In the background: the host talks to the kernel while it runs. If the
  # port was taken meanwhile, QEMU cannot forward it and stops at once:
  # try another one.
  for attempt in 1 2 3 4 5; do
    port="$(free_port)" || exit 1
    start_ns="$(date +%s%N)"
    timeout "$timeout_s" "${qemu[@]}" \
      -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:80" -device virtio-net-device,netdev=n0 \
      </dev/null >"$log" 2>&1 &
    qemu_pid=$!
    "$here/http-check.sh" "$port" "$log" "$qemu_pid" "$timeout_s"
    check=$?
    wait "$qemu_pid"
    status=$?
    qemu_pid=""
    elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
    grep -q 'Could not set up host forwarding' "$log" || break
    echo "qemu-run: port $port was taken (attempt $attempt); trying another" >&2
  done
  tr -d '\r' <"$log"
  if [ "$status" = 0 ] && [ "$check" != 0 ]; then
    status=1
  fi
else
  qemu_boot "$log" "${qemu[@]}"
fi
qemu_verdict "$(basename "$elf")" "$log" "-smp $smp${devices:+, devices $devices}"
