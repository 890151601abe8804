#!/usr/bin/env bash
# The demo: on a fresh machine, installs what it needs, builds, brings up the namespace lab,
# starts shoald on it and sends requests from the client to the VIP, showing which real
# server answered each and the distribution. Then keeps running until Ctrl-C.
#
#   ./scripts/demo.sh [--mode dr|nat|tun] [--requests N] [--once]
#
# --once: tears everything down after the requests and exits 0 only if every request
# succeeded and every real server answered.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=dr requests=30 once=false
while (($#)); do
  case $1 in
    --mode) mode=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --once) once=true; shift ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $mode in
  dr) config=configs/demo.yaml ;;
  nat) config=configs/demo-nat.yaml ;;
  tun) config=configs/demo-tun.yaml ;;
  *) echo "demo.sh: --mode must be dr, nat or tun" >&2; exit 2 ;;
esac

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
  ./scripts/lab down
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== lab: client 10.0.0.1, director 10.0.0.2 (DPDK on a veth), real servers rs1-rs3, mode $mode"
./scripts/lab down
./scripts/lab up --mode "$mode"
"$shoald" --check "$config"
echo "== starting shoald with $config (log: $log)"
ip netns exec shoal-d1 "$shoald" --config "$config" --state-dir "$state" >"$log" 2>&1 &
shoald_pid=$!
for _ in $(seq 50); do grep -q 'shoald running' "$log" && break; sleep 0.1; done
grep -q 'shoald running' "$log" || { cat "$log"; echo "demo.sh: shoald did not start" >&2; exit 1; }
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

echo "== shoalctl list: the services, their real servers and what the health checks say"
build/release/controlplane/shoalctl list || failed=$((failed + 1))

if $once; then
  [[ $failed -eq 0 && ${#seen[@]} -eq 3 ]] || { echo "demo.sh: FAILED"; exit 1; }
  echo "demo.sh: every request succeeded and every real server answered"
  exit 0
fi
echo "== running; try: ip netns exec shoal-client curl http://10.0.0.100/"
echo "   build/release/controlplane/shoalctl drain web rs3   (then: enable web rs3)  (Ctrl-C to stop)"
wait "$shoald_pid"
