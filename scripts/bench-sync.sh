#!/usr/bin/env bash
# Connection sync throughput and pull time (tests/bench/sync.py): two directors in the NAT lab
# (VRRP, d1 priority 150 master, d2 100 backup), both with connection_sync and tables of
# 262144 flows. Each round starts both afresh, sends N new TCP flows (one ACK each, raw
# AF_PACKET frames from the client, flat out or paced) to the VIP, and reads every 50 ms how
# far d1 has reported them and d2 installed them; the client also times each flow's sync
# datagram on the wire. Then d2 is restarted and its pull of d1's flows timed. Prints each
# round and Markdown tables (median and range) for BENCHMARKS.md. About 2–3 minutes with the
# defaults plus the build.
#
#   ./scripts/bench-sync.sh [--counts N,N] [--rates R,R] [--repeats K] [--workers W,W]
#                           [--pull-tables SIZE,SIZE] [--json FILE]
# --rates in frames/s, 0 for flat out. SHOAL_LAB (default bs) prefixes the namespaces. Needs
# root, nginx and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
while (($#)); do
  case $1 in
    --counts | --rates | --repeats | --workers | --pull-tables | --json)
      args+=("$1" "$2"); shift 2 ;;
    *) echo "bench-sync.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

export SHOAL_LAB=${SHOAL_LAB:-bs} SHOAL_BUILD_DIR=${SHOAL_BUILD_DIR:-build/release}
./scripts/build.sh release
# The driver stops its directors and tears the lab down itself; this is for when it is killed
# (lab down also kills whatever still runs in the lab's namespaces).
trap './scripts/lab down' EXIT
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD)"
/usr/bin/python3 tests/bench/sync.py --prefix "$SHOAL_LAB" "${args[@]}"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
