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

elf="${1:?usage: qemu-run.sh KERNEL.elf}"
here="$(cd "$(dirname "$0")" && pwd)"
timeout_s="${XASYNC_KERNEL_TIMEOUT:-60}"
smp="$(grep -aoE 'xasync-qemu-smp=[0-9]+' "$elf" | head -n 1 | cut -d= -f2)"
smp="${smp:-1}"
devices="$(grep -aoE 'xasync-qemu-devices=[a-z,]*' "$elf" | head -n 1 | cut -d= -f2)"
name="$(basename "$elf")"

scratch="$(mktemp -d)"
log="$scratch/log"
qemu_pid=""
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

has() { [[ ",$devices," == *",$1,"* ]]; }

# A host port nothing listens on (QEMU fails to start if it is taken meanwhile).
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "qemu-run: no free port found" >&2
  return 1
}

args=()
port=""
if has net; then
  port="$(free_port)" || exit 1
  args+=(-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:80" -device virtio-net-device,netdev=n0)
fi
if has blk; then
  truncate -s 16M "$scratch/disk.img"
  args+=(-drive "file=$scratch/disk.img,if=none,format=raw,id=d0" -device virtio-blk-device,drive=d0)
fi

start_ns="$(date +%s%N)"
if has net; then
  # In the background: the host talks to the kernel while it runs.
  timeout "$timeout_s" qemu-system-riscv64 \
    -machine virt -nographic -bios default -m 128M -smp "$smp" "${args[@]}" \
    -kernel "$elf" </dev/null >"$log" 2>&1 &
  qemu_pid=$!
  "$here/http-check.sh" "$port" "$log" "$qemu_pid" "$timeout_s"
  check=$?
  wait "$qemu_pid"
  status=$?
  qemu_pid=""
  tr -d '\r' <"$log"
  if [ "$status" = 0 ] && [ "$check" != 0 ]; then
    status=1
  fi
else
  timeout "$timeout_s" qemu-system-riscv64 \
    -machine virt -nographic -bios default -m 128M -smp "$smp" "${args[@]}" \
    -kernel "$elf" </dev/null | tee "$log"
  status="${PIPESTATUS[0]}"
fi
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
echo "qemu-run: $name: $verdict, boot to exit ${elapsed_ms} ms of wall time (-smp $smp${devices:+, devices $devices})" >&2
exit "$status"
