#!/usr/bin/env bash
# The health checker with 10,000 real servers: shoal_bench_health (tests/bench/bench_health.cc)
# runs one hc::HealthChecker in a namespace of its own, checking 10,000 addresses that another
# namespace's kernel holds (/32s on its lo, 10.64.0.1-10.64.39.16) and serves with
# one nginx worker listening on 0.0.0.0:80, across a veth pair. Scenarios, one after the other:
#   idle          no targets: the checker's loop alone
#   tcp           10,000 TCP connect checks, interval 2 s
#   tcp-refused   the same on a port nobody listens on (every check fails with a reset)
#   http          10,000 HTTP GET / checks, interval 2 s
#   http-1s       the same every second
# Prints each run's report, then a Markdown table for BENCHMARKS.md. About 90 s.
#
#   ./scripts/bench-health.sh [--duration SECONDS] [--count N]
# SHOAL_LAB (default hcb) prefixes the namespaces. Needs root, nginx and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=20 count=10000
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    *) echo "bench-health.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
((count >= 1 && count <= 60000)) || { echo "bench-health.sh: --count must be 1..60000" >&2; exit 2; }

lab=${SHOAL_LAB:-hcb}
chk=$lab-chk srv=$lab-srv
bench=build/release/tests/bench/shoal_bench_health
work=$(mktemp -d "/tmp/shoal-bench-health.XXXXXX")

cleanup() {
  if [[ -f $work/nginx.pid ]]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
  for n in "$chk" "$srv"; do
    if ip netns list | grep -q "^$n\b"; then
      for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$n" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

./scripts/build.sh release
ip netns del "$chk" 2>/dev/null || true  # left over by a run that was killed
ip netns del "$srv" 2>/dev/null || true

ip netns add "$chk"
ip netns add "$srv"
ip link add "$lab-c" netns "$chk" type veth peer name "$lab-s" netns "$srv"
ip -n "$chk" link set lo up
ip -n "$srv" link set lo up
ip -n "$chk" addr add 10.255.0.1/30 dev "$lab-c"
ip -n "$srv" addr add 10.255.0.2/30 dev "$lab-s"
ip -n "$chk" link set "$lab-c" up
ip -n "$srv" link set "$lab-s" up
ip -n "$chk" route add 10.64.0.0/16 via 10.255.0.2
# One /32 per target on lo (this kernel has no dummy interfaces), in one batch: 10,000
# `ip addr add` would take a minute of forks.
/usr/bin/python3 - "$count" >"$work/addrs" <<'PY'
import ipaddress, sys
base = ipaddress.IPv4Address("10.64.0.1")
for i in range(int(sys.argv[1])):
    print(f"addr add {base + i}/32 dev lo")
PY
ip -n "$srv" -batch "$work/addrs"
# The checker opens and closes thousands of connections a second: room for them.
ip netns exec "$chk" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
ip netns exec "$srv" sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192

mkdir -p "$work/tmp"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 32768; }
http {
  access_log off;
  client_body_temp_path $work/tmp;
  server {
    listen 80 backlog=8192;
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
NGINX
ip netns exec "$srv" nginx -c "$work/nginx.conf"
for _ in $(seq 50); do [[ -s $work/nginx.pid ]] && break; sleep 0.1; done
nginx_worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)

# CPU seconds (user+sys) a process has used.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

echo "== $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $count addresses in $srv, checker in $chk; $duration s per load scenario"
results=()
run() {  # run LABEL ARGS...
  local label=$1; shift
  local before after out
  before=$(cpu_of "$nginx_worker")
  out=$(timeout $((duration + 60)) ip netns exec "$chk" "$bench" --label "$label" "$@")
  after=$(cpu_of "$nginx_worker")
  echo "$out" | grep -v '^RESULT'
  echo "  nginx worker CPU over the whole run: $(echo "$after - $before" | bc -l | xargs printf '%.1f') s"
  results+=("$(echo "$out" | grep '^RESULT') nginx_cpu_s=$(echo "$after - $before" | bc -l)")
}

run idle --idle --duration 5
run tcp --type tcp --count "$count" --interval 2 --timeout 1 --duration "$duration"
run tcp-refused --type tcp --port 81 --count "$count" --interval 2 --timeout 1 --duration "$((duration * 3 / 5))"
run http --type http --count "$count" --interval 2 --timeout 1 --duration "$duration"
run http-1s --type http --count "$count" --interval 1 --timeout 0.5 --duration "$((duration * 3 / 4))"

echo
echo "| run | targets | interval s | checks/s scheduled | started/s | completed/s | failed/s | up at end | checker CPU % (user + sys) | µs/check | RSS before → steady (peak) MiB | latency p50 / p99 / max ms | lateness p50 / p99 / max ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${results[@]}"; do
  declare -A v=()
  for kv in $r; do [[ $kv == *=* ]] && v[${kv%%=*}]=${kv#*=}; done
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s → %s (%s) | %s / %s / %s | %s / %s / %s |\n' \
    "${v[label]}" "${v[targets]}" "${v[interval]}" "${v[scheduled]}" "${v[started]}" \
    "${v[completed]}" "${v[failed]}" "${v[up]}" "${v[cpu_pct]} (${v[user_pct]} + ${v[sys_pct]})" \
    "${v[us_per_check]}" \
    "${v[rss_before_mib]}" "${v[rss_steady_mib]}" "${v[rss_peak_mib]}" \
    "${v[lat_p50_ms]}" "${v[lat_p99_ms]}" "${v[lat_max_ms]}" \
    "${v[late_p50_ms]}" "${v[late_p99_ms]}" "${v[late_max_ms]}"
  unset v
done
