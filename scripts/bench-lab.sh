#!/usr/bin/env bash
# HTTP through shoald in the namespace lab, against the same real servers reached directly:
# requests/s and p50/p99 latency with keep-alive and with one connection per request, for
# each forwarding mode, all in one run. Prints a Markdown table for BENCHMARKS.md.
#
#   ./scripts/bench-lab.sh [--duration SECONDS] [--connections N]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10 connections=32
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "bench-lab.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh >/dev/null
./scripts/build.sh release
export SHOAL_LAB=bench SHOAL_BUILD_DIR=build/release
work=$(mktemp -d /tmp/shoal-bench-lab.XXXXXX)
shoald_pid=
cleanup() {
  [[ -n $shoald_pid ]] && kill "$shoald_pid" 2>/dev/null && wait "$shoald_pid" 2>/dev/null
  ./scripts/lab down
}
trap cleanup EXIT

# wrk's summary → "requests/s p50 p99" (latencies in ms).
measure() {  # measure URL [wrk options...]
  local url=$1; shift
  ip netns exec bench-client wrk -t1 -c"$connections" -d"${duration}s" --latency "$@" "$url" |
    awk '
      function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
      /Requests\/sec/ { rps = $2 }
      $1 == "50%" { p50 = ms($2) }
      $1 == "99%" { p99 = ms($2) }
      /Non-2xx|Socket errors/ { errors = errors " " $0 }
      END { printf "%.0f %.2f %.2f%s\n", rps, p50, p99, errors }'
}

declare -A result
for mode in dr nat tun; do
  case $mode in dr) src=configs/demo.yaml ;; nat) src=configs/demo-nat.yaml ;; tun) src=configs/demo-tun.yaml ;; esac
  ./scripts/lab up --mode "$mode" >/dev/null
  sed -e 's/iface=shoal-d1/iface=bench-d1/' -e 's/shoal-d1"/bench-d1"/' "$src" >"$work/$mode.yaml"
  ip netns exec bench-d1 build/release/controlplane/shoald --config "$work/$mode.yaml" \
    --state-dir "$work/state" >"$work/$mode.log" 2>&1 &
  shoald_pid=$!
  for _ in $(seq 100); do
    ip netns exec bench-client curl -s -m 1 -o /dev/null http://10.0.0.100/ && break
    sleep 0.1
  done
  if [[ $mode == dr ]]; then
    result[direct-keepalive]=$(measure http://10.0.0.11/)
    result[direct-close]=$(measure http://10.0.0.11/ -H "Connection: close")
  fi
  result[$mode-keepalive]=$(measure http://10.0.0.100/)
  result[$mode-close]=$(measure http://10.0.0.100/ -H "Connection: close")
  kill -USR1 "$shoald_pid"; sleep 0.3
  grep 'counters total' "$work/$mode.log" | sed "s/^/  $mode: /" >&2
  kill "$shoald_pid"; wait "$shoald_pid" 2>/dev/null || true
  shoald_pid=
  ./scripts/lab down
done

echo "| path | connections | requests/s | p50 ms | p99 ms | vs direct |"
echo "|---|---|---|---|---|---|"
for variant in keepalive close; do
  read -r direct_rps _ <<<"${result[direct-$variant]}"
  for path in direct dr nat tun; do
    read -r rps p50 p99 errors <<<"${result[$path-$variant]}"
    label=$([[ $variant == keepalive ]] && echo "keep-alive" || echo "one per request")
    printf '| %s | %s | %s | %s | %s | %.2f |%s\n' "$path" "$label" "$rps" "$p50" "$p99" \
      "$(echo "$rps / $direct_rps" | bc -l)" "${errors:+ errors:$errors}"
  done
done
