#!/usr/bin/env bash
# Soak test (not in CI): the HTTP example under wrk and the echo example
# under a churn of connections (closed, reset, half-closed), side by side,
# for 10 minutes. Every 10 s it prints both servers' resident memory
# (VmRSS) and open descriptors and the load generators' progress and
# errors; at the end, wrk's totals and a verdict: no errors, and no growth
# of memory or descriptors from the first minute to the last.
#
#   scripts/soak.sh                # 10 minutes
#   scripts/soak.sh --minutes 2    # or SOAK_MINUTES=2 scripts/soak.sh
#
# Release builds, loopback only. With 2 CPUs or more, the servers (one
# worker each) run on CPU 0, wrk and the churn client on CPU 1 (taskset).
# wrk (-t1 -c100) runs in back-to-back 10 s segments, so that its progress
# and errors show every 10 s (each segment opens its connections anew).
# Needs wrk (apt-get install -y wrk). Exits with 1 if the verdict is FAIL;
# stops everything it started, however it ends. Logs stay in a temporary
# directory, printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${SOAK_MINUTES:-10}
while (($#)); do
  case $1 in
    --minutes) minutes=${2:-}; shift 2 || shift ;;
    -h | --help) sed -n '2,/^set -e/{/^set -e/d; s/^# \{0,1\}//; p}' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $minutes =~ ^[1-9][0-9]*$ ]] || { echo "--minutes takes a whole number ≥ 1" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

SEGMENT=10          # seconds per wrk run and per sample
CHURN_LOOPS=8       # connections the churn client keeps going at once
seconds=$((minutes * 60))
segments=$((seconds / SEGMENT))

cargo build --release --example http_hello --example echo_server --example echo_churn
target=$(cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
bin=$target/release/examples

if (($(nproc) >= 2)); then
  servers_cpu=(taskset -c 0) load_cpu=(taskset -c 1)
else
  servers_cpu=() load_cpu=()
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/xasync-soak.XXXXXX")
pids=()
stop_all() {
  local pid alive
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in {1..50}; do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "logs: $work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Waits up to 10 s for `file` to hold `marker` followed by an address;
# prints the address.
address() {
  local file=$1 marker=$2 addr
  for _ in {1..100}; do
    addr=$(sed -n "s|.*$marker\([0-9.:]*\).*|\1|p" "$file" 2>/dev/null | head -n1)
    [[ -n $addr ]] && { echo "$addr"; return; }
    sleep 0.1
  done
  echo "no address in $file:" >&2
  cat "$file" >&2
  exit 1
}

# The HTTP server's log is small; the echo server prints a line per
# connection, of which only the first (its address) is kept.
XASYNC_WORKERS=1 "${servers_cpu[@]}" "$bin/http_hello" 127.0.0.1:0 >"$work/http.log" 2>&1 &
http_pid=$!
pids+=("$http_pid")
XASYNC_WORKERS=1 "${servers_cpu[@]}" "$bin/echo_server" 127.0.0.1:0 \
  > >(head -n1 >"$work/echo.log"; cat >/dev/null) 2>"$work/echo.err" &
echo_pid=$!
pids+=("$echo_pid")
http_addr=$(address "$work/http.log" "listening on http://")
echo_addr=$(address "$work/echo.log" "echoing on ")

XASYNC_WORKERS=1 "${load_cpu[@]}" "$bin/echo_churn" "$echo_addr" "$seconds" "$CHURN_LOOPS" \
  >"$work/churn.log" 2>"$work/churn.err" &
churn_pid=$!
pids+=("$churn_pid")

echo "soak: $minutes min; http_hello (pid $http_pid) on $http_addr under wrk -t1 -c100;"
echo "      echo_server (pid $echo_pid) on $echo_addr under echo_churn ($CHURN_LOOPS at once)"
echo "cpu%: a server's CPU time, runq%: its time runnable but waiting for a CPU"
echo "(taken by the other server or by other work), over the last ${SEGMENT} s"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
alive() { kill -0 "$1" 2>/dev/null; }
# Milliseconds the threads of process $1 have run, and waited to run.
sched_ms() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ r += $1; w += $2 } END { printf "%d %d\n", r / 1e6, w / 1e6 }'; }
# The sum of the numbers that the sed script $1 picks out of all wrk outputs;
# the errors (socket errors and non-2xx responses) in the wrk output $1.
wrk_sum() { cat "$work"/wrk.* | sed -n "$1" | awk '{ n += $1 } END { print n + 0 }'; }
wrk_errors() { sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p; s/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p' "$1" | awk '{ for (i = 1; i <= NF; i++) n += $i } END { print n + 0 }'; }

row='%5s | %9s %6s %8s | %4s %5s %8s %4s | %4s %5s %8s %4s | %9s %6s\n'
printf '%5s | %-25s | %-24s | %-24s | %s\n' "" "wrk (this segment)" http_hello echo_server \
  "echo_churn (total)"
printf "$row" time requests errors "max lat" cpu% runq% "RSS KiB" fds cpu% runq% "RSS KiB" fds conns failed

# Sets `usage` to process $1's "cpu% runq%" over the interval since the
# last call for it.
declare -A last_ms
usage() {
  local pid=$1 now run waited t0 r0 w0
  read -r run waited <<<"$(sched_ms "$pid")"
  now=$(($(date +%s%N) / 1000000))
  read -r t0 r0 w0 <<<"${last_ms[$pid]:-$now $run $waited}"
  usage="$((100 * (run - r0) / (now - t0 + 1))) $((100 * (waited - w0) / (now - t0 + 1)))"
  last_ms[$pid]="$now $run $waited"
}
usage "$http_pid"
usage "$echo_pid"

samples=()   # "time http_rss http_fds echo_rss echo_fds" per segment
down=""
for ((i = 1; i <= segments; i++)); do
  timeout $((SEGMENT + 20)) "${load_cpu[@]}" wrk -t1 -c100 -d${SEGMENT}s "http://$http_addr/" \
    >"$work/wrk.$i" 2>&1 &
  wrk_pid=$!
  pids+=("$wrk_pid")
  sleep $((SEGMENT / 2))
  alive "$http_pid" || down+=" http_hello"
  alive "$echo_pid" || down+=" echo_server"
  [[ -z $down ]] || { wait "$wrk_pid" || true; break; }
  sample="$((i * SEGMENT)) $(rss "$http_pid") $(fds "$http_pid") $(rss "$echo_pid") $(fds "$echo_pid")"
  usage "$http_pid"
  read -r hcpu hrunq <<<"$usage"
  usage "$echo_pid"
  read -r ecpu erunq <<<"$usage"
  wait "$wrk_pid" || echo "wrk exited with $? (segment $i)" >>"$work/wrk.$i"
  samples+=("$sample")
  read -r t hrss hfds erss efds <<<"$sample"
  requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.$i")
  latency=$(awk '$1 == "Latency" { print $4 }' "$work/wrk.$i")
  churn=$(tail -n1 "$work/churn.log" 2>/dev/null)
  printf "$row" "${t}s" "${requests:-?}" "$(wrk_errors "$work/wrk.$i")" "${latency:-?}" \
    "$hcpu" "$hrunq" "$hrss" "$hfds" "$ecpu" "$erunq" "$erss" "$efds" \
    "$(sed -n 's/.*, \([0-9]*\) connections.*/\1/p' <<<"$churn")" \
    "$(sed -n 's/.*), \([0-9]*\) failed/\1/p' <<<"$churn")"
done

# The churn client stops by itself at the end of the run (or is stopped,
# if the run ended early).
[[ -z $down ]] || kill "$churn_pid" 2>/dev/null || true
for _ in {1..300}; do alive "$churn_pid" || break; sleep 0.1; done
kill -9 "$churn_pid" 2>/dev/null || true
churn_status=0
wait "$churn_pid" 2>/dev/null || churn_status=$?

echo
echo "wrk, ${#samples[@]} segments of ${SEGMENT}s:"
requests=$(wrk_sum 's/^ *\([0-9]*\) requests in.*/\1/p')
echo "  requests:      $requests ($(awk -v r="$requests" -v s=$((${#samples[@]} * SEGMENT)) \
  'BEGIN { printf "%.0f", s ? r / s : 0 }')/s)"
for kind in connect read write timeout; do
  printf '  %-14s %s\n' "$kind errors:" \
    "$(wrk_sum "s/.*Socket errors:.*$kind \([0-9]*\).*/\1/p")"
done
echo "  non-2xx/3xx:   $(wrk_sum 's/.*Non-2xx or 3xx responses: \([0-9]*\).*/\1/p')"
echo "  wrk failures:  $(cat "$work"/wrk.* | grep -c '^wrk exited' || true)"
echo "$(tail -n1 "$work/churn.log") (exit status $churn_status)"
if [[ -s $work/churn.err ]]; then
  echo "  first failures:"
  head -n5 "$work/churn.err" | sed 's/^/    /'
fi

# The drift: the first minute's samples against the last minute's (for a
# run of one minute, its first half against its second). The line
# "grew: ..." names what grew, if anything did.
drift=$(printf '%s\n' "${samples[@]}" | awk -v per_min=$((60 / SEGMENT)) -v segment=$SEGMENT \
  -v slack=$((CHURN_LOOPS + 2)) '
  NF == 5 { n++; for (c = 2; c <= 5; c++) v[n, c] = $c }
  END {
    k = (n >= 2 * per_min) ? per_min : int(n / 2)
    if (k < 1) { print "grew: too few samples to tell"; exit }
    split("http_hello RSS KiB,http_hello fds,echo_server RSS KiB,echo_server fds", name, ",")
    for (c = 2; c <= 5; c++) {
      first = last = firstmax = lastmax = 0
      for (i = 1; i <= k; i++) { first += v[i, c]; if (v[i, c] > firstmax) firstmax = v[i, c] }
      for (i = n - k + 1; i <= n; i++) { last += v[i, c]; if (v[i, c] > lastmax) lastmax = v[i, c] }
      first /= k; last /= k
      printf "  %-20s first %3d s: mean %7.0f, max %6d; last %3d s: mean %7.0f, max %6d; drift %+.1f (%+.1f%%)\n",
        name[c - 1], k * segment, first, firstmax, k * segment, last, lastmax, last - first, 100 * (last - first) / first
      # Memory: up by more than 10 % and 1 MiB. Descriptors: the highest
      # count up by more than the churn keeps open at once (and 2).
      if (c % 2 == 0 && last > first * 1.1 && last - first > 1024) grew = grew ", " name[c - 1] " grew"
      if (c % 2 == 1 && lastmax > firstmax + slack) grew = grew ", " name[c - 1] " grew"
    }
    print "grew:" substr(grew, 2)
  }')
echo "drift (samples taken in the middle of each segment):"
grep -v '^grew:' <<<"$drift" || true

problems=()
[[ -z $down ]] || problems+=("server exited:$down")
errors=0
for f in "$work"/wrk.*; do errors=$((errors + $(wrk_errors "$f"))); done
((errors == 0)) || problems+=("$errors wrk errors")
grep -q '^wrk exited' "$work"/wrk.* && problems+=("a wrk run failed")
((churn_status == 0)) || problems+=("echo_churn failed (exit status $churn_status)")
grew=$(sed -n 's/^grew: *//p' <<<"$drift")
[[ -z $grew ]] || problems+=("$grew")
if ((${#problems[@]})); then
  echo "verdict: FAIL ($(printf '%s; ' "${problems[@]}" | sed 's/; $//'))"
  exit 1
fi
echo "verdict: PASS (no errors; no growth of memory or descriptors)"
