#!/usr/bin/env bash
# Checks the HTTP server of a kernel image from the host, for qemu-run.sh:
#
#   http-check.sh PORT LOG QEMU_PID TIMEOUT_S
#
# Waits (up to TIMEOUT_S) for the kernel to print "http: listening" in LOG,
# then, against http://127.0.0.1:PORT (forwarded to the kernel's port 80):
#
#   1. keep-alive: two requests on one connection (curl's second transfer
#      makes no new connection);
#   2. 8 clients at once, two requests each on their connection;
#   3. "Connection: close" is honoured;
#   4. /shutdown answers "bye" (and ends the image).
#
# Exits 0 if all passed. On a failure it still sends /shutdown, so the
# image ends instead of hanging (qemu-run.sh kills it otherwise).
set -uo pipefail

port="${1:?port}" log="${2:?log}" qemu_pid="${3:?qemu pid}" timeout_s="${4:?timeout}"
url="http://127.0.0.1:$port"
body="hello from xasync on riscv64"
curl_() { curl -sS --max-time 20 "$@"; }
fail() {
  echo "http-check: FAILED: $*" >&2
  # Only while QEMU runs: otherwise the port may be someone else's.
  if kill -0 "$qemu_pid" 2>/dev/null; then
    curl_ "$url/shutdown" >/dev/null 2>&1
  fi
  exit 1
}

deadline=$((SECONDS + timeout_s))
until grep -q 'http: listening' "$log" 2>/dev/null; do
  kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU ended before the server listened"
  ((SECONDS < deadline)) || fail "the server did not listen within ${timeout_s} s"
  sleep 0.1
done

# 1. Keep-alive: %{num_connects} is 1 for the first transfer, 0 for the
# second one reusing the connection.
got="$(curl_ -w '%{num_connects}\n' "$url/" "$url/again")" || fail "keep-alive: curl failed"
want="$(printf '%s\n1\n%s\n0' "$body" "$body")"
[ "$got" = "$want" ] || fail "keep-alive: got [$got], want [$want]"
echo "http-check: keep-alive: 2 responses on 1 connection" >&2

# 2. Concurrent connections. (QEMU user networking listens on the host
# port with a backlog of 1: some of these connects wait 1 s for the host's
# SYN retry. That is the host side; the kernel's server has 16 sockets
# listening.)
clients=8
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
pids=()
for i in $(seq "$clients"); do
  curl_ -w '%{num_connects}\n' "$url/c$i/1" "$url/c$i/2" >"$out/$i" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || fail "concurrent: a curl failed"
done
for i in $(seq "$clients"); do
  [ "$(cat "$out/$i")" = "$want" ] || fail "concurrent: client $i got [$(cat "$out/$i")]"
done
echo "http-check: $clients concurrent clients, 2 keep-alive requests each" >&2

# 3. Connection: close.
got="$(curl_ -D - -H 'Connection: close' "$url/close" | tr -d '\r')" || fail "close: curl failed"
grep -qx 'Connection: close' <<<"$got" || fail "close: no 'Connection: close' in [$got]"
grep -qx "$body" <<<"$got" || fail "close: no body in [$got]"
echo "http-check: Connection: close honoured" >&2

# 4. Shutdown.
got="$(curl_ "$url/shutdown")" || fail "shutdown: curl failed"
[ "$got" = "bye" ] || fail "shutdown: got [$got]"
echo "http-check: all checks passed" >&2
