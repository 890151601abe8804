#!/usr/bin/env bash
# The demo: on a fresh machine, installs what it needs, builds, brings up the namespace lab,
# starts shoald on it and sends requests from the client to the VIP, showing which real
# server answered each and the distribution. Then keeps running until Ctrl-C.
#
#   ./scripts/demo.sh [--mode dr|nat|tun] [--requests N] [--once] [--ecmp]
#
# --once: tears everything down after the requests and exits 0 only if every request
# succeeded and every real server answered.
# --ecmp (dr or tun): three directors behind the lab's bird2 router (scripts/lab up --ecmp),
# each announcing the VIPs (IPv4 and IPv6) by BGP; also shows how the new connections spread
# over them.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=dr requests=30 once=false ecmp=false
while (($#)); do
  case $1 in
    --mode) mode=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --once) once=true; shift ;;
    --ecmp) ecmp=true; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $mode in
  dr) config=configs/demo.yaml ;;
  nat) config=configs/demo-nat.yaml ;;
  tun) config=configs/demo-tun.yaml ;;
  *) echo "demo.sh: --mode must be dr, nat or tun" >&2; exit 2 ;;
esac
if $ecmp && [[ $mode == nat ]]; then
  echo "demo.sh: --ecmp works with dr and tun (NAT cannot be spread over directors)" >&2
  exit 2
fi

./scripts/install-deps.sh
echo "== building"
./scripts/build.sh release
export SHOAL_BUILD_DIR=build/release
shoald=build/release/controlplane/shoald
log=$(mktemp /tmp/shoald-demo.XXXXXX.log)
state=$(mktemp -d /tmp/shoald-demo-state.XXXXXX)  # admin states: this run's own

cleanup() {
  if [[ -n ${shoald_pid:-} ]] && kill -0 "$shoald_pid" 2>/dev/null; then
    kill -TERM "$shoald_pid"
    wait "$shoald_pid" 2>/dev/null || true
    echo "== shoald's counters at exit"
    grep -E 'counters' "$log" | sed 's/^[^ ]* [^ ]* //'
  fi
  for pid in "${ecmp_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  ./scripts/lab down
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ecmp_pids=()
if $ecmp; then
  echo "== lab: client 10.0.2.1 behind a bird2 router, directors 10.0.0.2-4 (ECMP), real servers rs1-rs3, mode $mode"
  ./scripts/lab down
  ./scripts/lab up --mode "$mode" --ecmp
  for d in 1 2 3; do
    # The demo config for director dN: its own veth, EAL prefix, address, API socket, and
    # the bird2 the lab started for it.
    sed -e "s/iface=shoal-d1/iface=shoal-d$d/" -e "s/\"shoal-d1\"/\"shoal-d$d\"/" \
      -e "s|10.0.0.2/24|10.0.0.$((1 + d))/24|" -e "s|fd00::2/64|fd00::$((1 + d))/64|" \
      "$config" >"$state/d$d.yaml"
    cat >>"$state/d$d.yaml" <<YAML
api: {socket: $state/d$d.sock}
bgp: {socket: /run/shoal-lab/d$d/bird.ctl, file: /run/shoal-lab/d$d/bird-vips.conf}
YAML
    "$shoald" --check "$state/d$d.yaml"
    echo "== starting shoald on d$d with $state/d$d.yaml (log: $log.d$d)"
    ip netns exec "shoal-d$d" "$shoald" --config "$state/d$d.yaml" --state-dir "$state/d$d" \
      >"$log.d$d" 2>&1 &
    ecmp_pids+=($!)
  done
  echo "== waiting for the router to route the VIP through the three directors (BGP, BFD)"
  for _ in $(seq 150); do
    (($(ip netns exec shoal-router ip route show 10.0.0.100 | grep -c via) == 3)) && break
    sleep 0.2
  done
  ip netns exec shoal-router ip route show 10.0.0.100 | sed 's/^/  /'
else
  echo "== lab: client 10.0.0.1, director 10.0.0.2 (DPDK on a veth), real servers rs1-rs3, mode $mode"
  ./scripts/lab down
  ./scripts/lab up --mode "$mode"
  "$shoald" --check "$config"
  echo "== starting shoald with $config (log: $log)"
  ip netns exec shoal-d1 "$shoald" --config "$config" --state-dir "$state" >"$log" 2>&1 &
  shoald_pid=$!
  for _ in $(seq 50); do grep -q 'shoald running' "$log" && break; sleep 0.1; done
  grep -q 'shoald running' "$log" || { cat "$log"; echo "demo.sh: shoald did not start" >&2; exit 1; }
fi
# Wait until the VIP answers (ARP resolved both ways).
for _ in $(seq 50); do
  ip netns exec shoal-client curl -s -m 1 -o /dev/null http://10.0.0.100/ && break
  sleep 0.2
done

echo "== $requests requests from the client to http://10.0.0.100/, each on a new connection"
failed=0
declare -A seen=()
for ((i = 1; i <= requests; i++)); do
  if answer=$(ip netns exec shoal-client curl -s -m 2 http://10.0.0.100/); then
    printf '%s ' "$answer"
    seen[$answer]=$((${seen[$answer]:-0} + 1))
  else
    printf 'FAILED '
    failed=$((failed + 1))
  fi
done
echo
echo "== distribution (configured weights in $config)"
for server in rs1 rs2 rs3; do printf '  %s: %d\n' "$server" "${seen[$server]:-0}"; done
echo "  failed: $failed"
echo "== UDP echo through the VIP (port 7)"
ip netns exec shoal-client /usr/bin/python3 - <<'PY' || failed=$((failed + 1))
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"hello", ("10.0.0.100", 7))
print("  " + s.recv(100).decode())
PY

declare -A seen6=()
# The health checks bring web6's real servers in within a few seconds of the start.
for _ in $(seq 50); do
  ip netns exec shoal-client curl -s -m 1 -o /dev/null 'http://[fd00::100]/' && break
  sleep 0.2
done
echo "== the same over IPv6: $requests requests to http://[fd00::100]/ (service web6)"
for ((i = 1; i <= requests; i++)); do
  if answer=$(ip netns exec shoal-client curl -s -m 2 'http://[fd00::100]/'); then
    printf '%s ' "$answer"
    seen6[$answer]=$((${seen6[$answer]:-0} + 1))
  else
    printf 'FAILED '
    failed=$((failed + 1))
  fi
done
echo
for server in rs1 rs2 rs3; do printf '  %s: %d\n' "$server" "${seen6[$server]:-0}"; done

if $ecmp; then
  echo "== new flows per director (the router's ECMP hash), and what d1 announces"
  for d in 1 2 3; do
    printf '  d%s: %s\n' "$d" "$(build/release/controlplane/shoalctl -s "$state/d$d.sock" counters |
      sed -n 's/.*flows created \([0-9]*\).*/\1 flows created/p')"
  done
  build/release/controlplane/shoalctl -s "$state/d1.sock" bgp || failed=$((failed + 1))
  echo "== shoalctl list on d1: the services, their real servers and what the health checks say"
  build/release/controlplane/shoalctl -s "$state/d1.sock" list || failed=$((failed + 1))
else
  echo "== shoalctl list: the services, their real servers and what the health checks say"
  build/release/controlplane/shoalctl list || failed=$((failed + 1))
fi

if $once; then
  [[ $failed -eq 0 && ${#seen[@]} -eq 3 && ${#seen6[@]} -eq 3 ]] ||
    { echo "demo.sh: FAILED"; exit 1; }
  echo "demo.sh: every request succeeded and every real server answered, over IPv4 and IPv6"
  exit 0
fi
echo "== running; try: ip netns exec shoal-client curl http://10.0.0.100/ (or 'http://[fd00::100]/')"
if $ecmp; then
  echo "   build/release/controlplane/shoalctl -s $state/d1.sock withdraw   (then: announce)"
  echo "   ip netns exec shoal-router ip route show 10.0.0.100   (or: ip -6 route show fd00::100)"
  echo "   (Ctrl-C to stop)"
  wait "${ecmp_pids[0]}"
else
  echo "   build/release/controlplane/shoalctl drain web rs3   (then: enable web rs3)  (Ctrl-C to stop)"
  wait "$shoald_pid"
fi
