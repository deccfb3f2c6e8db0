# Sourced by each kernel's qemu-run.sh (cargo's runner there): what the
# three have in common.
#
#   timeout_s                 $XASYNC_KERNEL_TIMEOUT, default 60 (seconds)
#   qemu_marker ELF KEY       the value of the image's "xasync-qemu-KEY=..."
#                             marker (`entry!(main, smp = N, ...)`), if any
#   qemu_boot LOG QEMU...     runs QEMU under the timeout, its output to the
#                             console and LOG; sets `status` (124: hung) and
#                             `elapsed_ms`
#   qemu_verdict NAME LOG DETAIL
#                             0 only if `status` is 0 AND the kernel printed
#                             its "xasync-kernel: ... passed" line; prints the
#                             verdict and boot-to-exit time; exits with it

timeout_s="${XASYNC_KERNEL_TIMEOUT:-60}"

qemu_marker() {
  grep -aoE "xasync-qemu-$2=[a-z0-9,]*" "$1" | head -n 1 | cut -d= -f2
}

qemu_boot() {
  local log="$1" start_ns
  shift
  start_ns="$(date +%s%N)"
  timeout "$timeout_s" "$@" </dev/null | tee "$log"
  status="${PIPESTATUS[0]}"
  elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
}

qemu_verdict() {
  local name="$1" log="$2" detail="$3" verdict
  if [ "$status" = 0 ] && ! grep -q 'xasync-kernel: .* passed' "$log"; then
    echo "qemu-run: $name exited 0 without printing its pass line" >&2
    status=1
  fi
  case "$status" in
    0) verdict=ok ;;
    124) verdict="HUNG (killed after ${timeout_s} s)" ;;
    *) verdict="FAILED (exit $status)" ;;
  esac
  echo "qemu-run: $name: $verdict, boot to exit ${elapsed_ms} ms of wall time ($detail)" >&2
  exit "$status"
}
