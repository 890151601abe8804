#!/usr/bin/env bash
# Load balancing in the namespace lab, side by side in one run: the same client, real servers
# and tools through each path —
#   direct      the client against rs1 (10.0.0.11), no director
#   dr nat tun  shoald in that mode on net_af_packet;  dr-xdp nat-xdp tun-xdp: on net_af_xdp
#               (the same veth) with busy_budget=0, as configs/ advise; dr-xdp-busypoll...:
#               with the driver's default, preferred busy polling
#   nft         the kernel's nftables DNAT in the director's namespace, the LVS-NAT shape:
#               jhash over the 5-tuple mapped to the three real servers with weights 1:1:2,
#               the real servers routing their replies back through the director
#   haproxy     HAProxy in tcp mode, 2 threads, in the director's namespace (weights 1:1:2)
# and for each: wrk requests/s, p50 and p99 with keep-alive and with one connection per request
# (`Connection: close`), UDP 64-byte datagrams per second (one iperf3 stream to rs1; none for
# HAProxy), and the whole machine's CPU seconds per 1000 requests (or datagrams), from
# /proc/stat over each measurement, and the part of it shoald's worker threads took. Prints Markdown tables for BENCHMARKS.md on stdout; the
# progress, shoald's counters and the load average go to stderr.
#
#   ./scripts/bench-lab.sh [--duration SECONDS] [--connections N] [--runs N]
#                          [--paths LIST] [--measures LIST] [--binary NAME=PATH]... [--no-build]
#
#   --paths     comma-separated, default direct,dr,nat,tun,dr-xdp,nat-xdp,tun-xdp,nft,haproxy.
#               A shoald path may name another binary: dr@old runs the one --binary old=PATH
#               gives (to set an old commit against the new in the same run).
#   --measures  comma-separated subset of keepalive,close,udp (default all three)
#   --runs      the paths are run in turn N times; each figure is the median of its N runs
set -euo pipefail
cd "$(dirname "$0")/.."

duration=8 connections=32 runs=1 build=true
paths=direct,dr,nat,tun,dr-xdp,nat-xdp,tun-xdp,nft,haproxy
measures=keepalive,close,udp
declare -A binary=([new]=build/release/controlplane/shoald)
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --paths) paths=$2; shift 2 ;;
    --measures) measures=$2; shift 2 ;;
    --binary)
      [[ $2 == *=* ]] || { echo "bench-lab.sh: --binary takes NAME=PATH" >&2; exit 2; }
      binary[${2%%=*}]=${2#*=}; shift 2 ;;
    --no-build) build=false; shift ;;
    -h | --help) usage ;;
    *) echo "bench-lab.sh: unknown option $1" >&2; usage ;;
  esac
done
IFS=, read -r -a path_list <<<"$paths"
IFS=, read -r -a measure_list <<<"$measures"
for p in "${path_list[@]}"; do
  case ${p%@*} in
    direct | nft | haproxy) [[ $p != *@* ]] || { echo "bench-lab.sh: $p: only shoald paths take @BINARY" >&2; exit 2; } ;;
    dr | nat | tun | dr-xdp | nat-xdp | tun-xdp | dr-xdp-busypoll | nat-xdp-busypoll | tun-xdp-busypoll) ;;
    *) echo "bench-lab.sh: unknown path $p" >&2; exit 2 ;;
  esac
  if [[ $p == *@* && -z ${binary[${p#*@}]:-} ]]; then
    echo "bench-lab.sh: $p: no --binary ${p#*@}=PATH" >&2; exit 2
  fi
done
for m in "${measure_list[@]}"; do
  case $m in keepalive | close | udp) ;; *) echo "bench-lab.sh: unknown measure $m" >&2; exit 2 ;; esac
done

./scripts/install-deps.sh >/dev/null
$build && ./scripts/build.sh release
for name in "${!binary[@]}"; do
  [[ -x ${binary[$name]} ]] || { echo "bench-lab.sh: ${binary[$name]}: no such binary" >&2; exit 2; }
done
export SHOAL_LAB=${SHOAL_LAB:-bench} SHOAL_BUILD_DIR=build/release
lab=$SHOAL_LAB
work=$(mktemp -d /tmp/shoal-bench-lab.XXXXXX)
shoald_pid=
cleanup() {
  if [[ -n $shoald_pid ]]; then kill "$shoald_pid" 2>/dev/null || true; wait "$shoald_pid" 2>/dev/null || true; fi
  # Everything else (servers, iperf3, HAProxy, nft rules, XDP programs) lives in the lab's
  # namespaces and goes with them.
  ./scripts/lab down
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
in_ns() { local node=$1; shift; ip netns exec "$lab-$node" "$@"; }
hz=$(getconf CLK_TCK)
# Jiffies the whole machine spent busy (user, nice, system, irq, softirq, steal).
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# Jiffies shoald's worker lcores (threads rte-worker-N) spent on a CPU; 0 with no shoald.
worker_jiffies() {
  local t total=0
  if [[ -n $shoald_pid ]]; then
    for t in /proc/"$shoald_pid"/task/*; do
      [[ $(cat "$t/comm" 2>/dev/null) == rte-worker-* ]] &&
        total=$((total + $(awk '{ print $14 + $15 }' "$t/stat")))
    done
  fi
  echo "$total"
}

# wrk → "requests/s p50 p99 cpu_s_per_1000 errors worker_cpu_s_per_1000" (latencies in ms).
measure_http() {  # measure_http URL [wrk options...]
  local url=$1; shift
  local before after out worker_before worker_after
  before=$(busy_jiffies) worker_before=$(worker_jiffies)
  out=$(in_ns client wrk -t1 -c"$connections" -d"${duration}s" --latency "$@" "$url")
  after=$(busy_jiffies) worker_after=$(worker_jiffies)
  awk -v cpu=$((after - before)) -v worker=$((worker_after - worker_before)) -v hz="$hz" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /requests in/ { requests = $1 }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx|Socket errors/ { gsub(/ /, "_"); errors = errors "," $0 }
    END { k = requests ? requests / 1000 : 1
          printf "%.0f %.2f %.2f %.3f %s %.3f\n", rps, p50, p99, cpu / hz / k, errors ? errors : "-", worker / hz / k }' <<<"$out"
}

# One iperf3 stream of 64-byte datagrams, unlimited rate, to TARGET:5201 (rs1 behind it) →
# "datagrams received/s - - cpu_s_per_1000 loss%,at_socket% worker_cpu_s_per_1000", where
# at_socket is the part of the lost datagrams that reached rs1 and overflowed its socket's
# receive buffer (the kernel's UDP RcvbufErrors there): lost at the server, not on the way.
rcvbuf_errors() { in_ns rs1 awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }
measure_udp() {  # measure_udp TARGET
  local before after out worker_before worker_after socket_before socket_after
  before=$(busy_jiffies) worker_before=$(worker_jiffies) socket_before=$(rcvbuf_errors)
  out=$(in_ns client iperf3 -c "$1" -u -l 64 -b 0 -t "$duration" -J) || true
  after=$(busy_jiffies) worker_after=$(worker_jiffies) socket_after=$(rcvbuf_errors)
  /usr/bin/python3 -c '
import json, sys
cpu, hz, worker, at_socket = (int(a) for a in sys.argv[1:5])
s = sys.stdin.read()
try:
    s = json.loads(s)
    s = s["end"]["sum"]
    got = s["packets"] - s["lost_packets"]
    share = 100.0 * at_socket / s["lost_packets"] if s["lost_packets"] else 0.0
    print("%.0f - - %.3f loss:%.1f%%,%.0f%% %.3f" % (got / s["seconds"], cpu / hz / (got / 1000),
                                                  s["lost_percent"], share, worker / hz / (got / 1000)))
except Exception:
    print("0 - - 0 failed 0")
    print("bench-lab.sh: iperf3 failed:", s.get("error", s) if isinstance(s, dict) else s, file=sys.stderr)' \
    $((after - before)) "$hz" $((worker_after - worker_before)) $((socket_after - socket_before)) <<<"$out"
}

# The bench's shoald config for MODE on DEVICE: web on 80 over three real servers (1:1:2),
# iperf3 on 5201 (TCP control and UDP data) to rs1 alone, so that both reach one server.
shoald_config() {  # shoald_config MODE DEVICE API_SOCKET
  local mode=$1 device=$2 net=10.0.0 addresses="[10.0.0.2/24]"
  if [[ $mode == nat ]]; then net=10.0.1 addresses="[10.0.0.2/24, 10.0.1.1/24]"; fi
  cat <<YAML
eal: ["--no-huge", "-m", "512", "--file-prefix", "$lab-d1"]
log_level: info
api: {socket: $3}  # not the default: another shoald may run on the machine
ports:
  - name: lan
    device: "$device"
    addresses: $addresses
    mtu: 1500
    tap: lan0
workers:
  count: 1
  flow_table_size: 1048576  # one connection per request leaves many closing flows
services:
  - name: web
    vip: 10.0.0.100
    port: 80
    protocol: tcp
    forwarding: $mode
    health_check: {type: http, path: /, interval: 1, timeout: 0.5, rise: 2, fall: 3}
    backends:
      - {name: rs1, address: $net.11, weight: 1$([[ $mode == nat ]] && echo ", port: 80")}
      - {name: rs2, address: $net.12, weight: 1$([[ $mode == nat ]] && echo ", port: 80")}
      - {name: rs3, address: $net.13, weight: 2$([[ $mode == nat ]] && echo ", port: 80")}
YAML
  for proto in tcp udp; do
    cat <<YAML
  - name: iperf-$proto
    vip: 10.0.0.100
    port: 5201
    protocol: $proto
    forwarding: $mode
    backends:
      - {name: rs1, address: $net.11$([[ $mode == nat ]] && echo ", port: 5201")}
YAML
  done
}

# The director's kernel holds the addresses shoald would (client side, the real servers'
# gateway, the VIP) and forwards.
director_kernel() {
  in_ns d1 ip addr add 10.0.0.2/24 dev "$lab-d1"
  in_ns d1 ip addr add 10.0.1.1/24 dev "$lab-d1"
  in_ns d1 ip addr add 10.0.0.100/32 dev "$lab-d1"
  in_ns d1 sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    "net.ipv4.conf.$lab-d1.rp_filter=0"
}

start_nft() {
  director_kernel
  in_ns d1 nft -f - <<'NFT'
table ip lvs_nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 10.0.0.100 tcp dport 80 dnat to jhash ip saddr . tcp sport . ip daddr . tcp dport mod 4 map { 0 : 10.0.1.11, 1 : 10.0.1.12, 2 : 10.0.1.13, 3 : 10.0.1.13 }
    ip daddr 10.0.0.100 meta l4proto { tcp, udp } th dport 5201 dnat to 10.0.1.11
  }
}
NFT
}

start_haproxy() {
  director_kernel
  cat >"$work/haproxy.cfg" <<HAPROXY
global
  nbthread 2
  maxconn 8000
  pidfile $work/haproxy.pid
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend web
  bind 10.0.0.100:80
  default_backend servers
backend servers
  balance roundrobin
  server rs1 10.0.1.11:80 weight 1
  server rs2 10.0.1.12:80 weight 1
  server rs3 10.0.1.13:80 weight 2
HAPROXY
  in_ns d1 haproxy -D -f "$work/haproxy.cfg"
}

start_shoald() {  # start_shoald PATH
  local path=$1 mode=${1%%[-@]*} bin=${binary[new]} device="net_af_packet0,iface=$lab-d1"
  [[ $path == *@* ]] && bin=${binary[${path#*@}]}
  case ${path%@*} in
    *-xdp) device="net_af_xdp0,iface=$lab-d1,busy_budget=0" ;;
    *-xdp-busypoll) device="net_af_xdp0,iface=$lab-d1" ;;
  esac
  shoald_config "$mode" "$device" "$work/$path.sock" >"$work/$path.yaml"
  # Not through in_ns: a function in the background is a subshell, and $! would be its pid.
  ip netns exec "$lab-d1" "$bin" --config "$work/$path.yaml" --state-dir "$work/state-$path" \
    >"$work/$path.log" 2>&1 &
  shoald_pid=$!
}

stop_path() {  # stop_path PATH
  if [[ -n $shoald_pid ]]; then
    kill -USR1 "$shoald_pid" 2>/dev/null || true; sleep 0.3
    grep -E 'counters (worker|total)' "$work/$1.log" | tail -2 | sed "s/^/  $1: /" >&2 || true
    kill "$shoald_pid" 2>/dev/null || true; wait "$shoald_pid" 2>/dev/null || true
    shoald_pid=
  fi
  ./scripts/lab down
}

declare -A result  # [path,measure,run] = "value p50 p99 cpu errors"
echo "bench-lab: load average at start $(load)" >&2
for ((run = 1; run <= runs; run++)); do
  for path in "${path_list[@]}"; do
    base=${path%%[-@]*}
    case $base in direct) lab_mode=dr ;; nft | haproxy) lab_mode=nat ;; *) lab_mode=$base ;; esac
    ./scripts/lab up --mode "$lab_mode" >/dev/null
    # A UDP server answers from the address routing picks unless bound: in DR and TUN rs1
    # holds the VIP on lo and must answer from it (and from its own address to "direct").
    if [[ $lab_mode == nat ]]; then
      in_ns rs1 iperf3 -s -D -p 5201
    else
      in_ns rs1 iperf3 -s -D -p 5201 -B 10.0.0.100
      in_ns rs1 iperf3 -s -D -p 5201 -B 10.0.0.11
    fi
    case $base in
      direct) vip=10.0.0.11 ;;
      nft) vip=10.0.0.100; start_nft ;;
      haproxy) vip=10.0.0.100; start_haproxy ;;
      *) vip=10.0.0.100; start_shoald "$path" ;;
    esac
    ready=false
    for _ in $(seq 200); do
      if in_ns client curl -s -m 1 -o /dev/null "http://$vip/"; then ready=true; break; fi
      [[ -z $shoald_pid ]] || kill -0 "$shoald_pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! $ready; then
      echo "bench-lab.sh: $path never answered on http://$vip/" >&2
      [[ -n $shoald_pid ]] && tail -20 "$work/$path.log" >&2
      exit 1
    fi
    sleep 1  # every real server's health check up, not just the first
    echo "bench-lab: run $run, $path (load $(load))" >&2
    for m in "${measure_list[@]}"; do
      case $m in
        keepalive) r=$(measure_http "http://$vip/") ;;
        close) r=$(measure_http "http://$vip/" -H "Connection: close") ;;
        udp) if [[ $base == haproxy ]]; then r="- - - - - -"; else r=$(measure_udp "$vip"); fi ;;
      esac
      result[$path,$m,$run]=$r
    done
    stop_path "$path"
  done
done
echo "bench-lab: load average at end $(load)" >&2

# Field F (1-based) of a measure's N runs → their median.
median() {  # median PATH MEASURE FIELD
  local values=() r v
  for ((r = 1; r <= runs; r++)); do
    v=$(awk -v f="$3" '{ print $f }' <<<"${result[$1,$2,$r]}")
    [[ $v == - ]] && { echo -; return; }
    values+=("$v")
  done
  printf '%s\n' "${values[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { [[ $1 == - || -z $2 || $2 == - || $2 == 0 ]] && echo – || echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
label() {
  local p=${1%@*} suffix=
  [[ $1 == *@* ]] && suffix=" (${1#*@})"
  case $p in
    direct) echo direct ;; nft) echo "nftables DNAT" ;; haproxy) echo "HAProxy tcp, 2 threads" ;;
    *-xdp) p=${p%-xdp}; echo "shoald ${p^^} af_xdp$suffix" ;;
    *-xdp-busypoll) p=${p%-xdp-busypoll}; echo "shoald ${p^^} af_xdp, busy polling$suffix" ;;
    *) echo "shoald ${p^^} af_packet$suffix" ;;
  esac
}
has() { [[ ",$paths," == *",$1,"* ]]; }
# The machine's CPU per 1000, and shoald's workers' part of it.
cpu_cell() {  # cpu_cell PATH MEASURE
  case ${1%%[-@]*} in
    direct | nft | haproxy) printf '%.3f\n' "$(median "$1" "$2" 4)" ;;
    *) printf '%.3f (%.3f)\n' "$(median "$1" "$2" 4)" "$(median "$1" "$2" 6)" ;;
  esac
}
for m in "${measure_list[@]}"; do
  case $m in
    keepalive) title="wrk -t1 -c$connections, keep-alive"; unit="requests/s"; per="request" ;;
    close) title="wrk -t1 -c$connections, one connection per request"; unit="requests/s"; per="request" ;;
    udp) title="iperf3 -u -l 64 -b 0, one stream"; unit="datagrams/s"; per="datagram" ;;
  esac
  echo
  echo "$title ($runs × ${duration} s$( ((runs > 1)) && echo ", medians"))"
  echo
  if [[ $m == udp ]]; then
    echo "| path | $unit | ×direct | ×nftables | CPU s per 1000 ${per}s (shoald's workers) | loss (run 1) | of which at rs1's socket |"
    echo "|---|---|---|---|---|---|---|"
  else
    echo "| path | $unit | ×direct | ×nftables | p50 ms | p99 ms | CPU s per 1000 ${per}s (shoald's workers) |"
    echo "|---|---|---|---|---|---|---|"
  fi
  direct=$(has direct && median direct "$m" 1 || echo -)
  nft=$(has nft && median nft "$m" 1 || echo -)
  for path in "${path_list[@]}"; do
    value=$(median "$path" "$m" 1)
    if [[ $value == - ]]; then
      echo "| $(label "$path") | – | | | | | |"
      continue
    fi
    value=$(printf '%.0f' "$value")
    extra=$(awk '{ print $5 }' <<<"${result[$path,$m,1]}")
    if [[ $m == udp ]]; then
      extra=${extra#loss:}
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$path")" "$value" "$(ratio "$value" "$direct")" \
        "$(ratio "$value" "$nft")" "$(cpu_cell "$path" "$m")" "${extra%,*}" "${extra#*,}"
    else
      printf '| %s | %s | %s | %s | %s | %s | %s |%s\n' "$(label "$path")" "$value" \
        "$(ratio "$value" "$direct")" "$(ratio "$value" "$nft")" "$(printf '%.2f' "$(median "$path" "$m" 2)")" \
        "$(printf '%.2f' "$(median "$path" "$m" 3)")" "$(cpu_cell "$path" "$m")" "$([[ $extra == - ]] || echo " errors: $extra")"
    fi
  done
done
