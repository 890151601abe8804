#!/usr/bin/env bash
# VRRP failover under load (tests/bench/failover.py): two directors in the DR lab, interval
# 100 ms, equal priorities and no preemption; a steady rate of HTTP requests, one connection
# each, through the VIP; the master SIGKILLed N times, the killed director restarted as backup
# between kills. For each kill: time to the backup's master transition and to the first
# gratuitous ARP, failed and late requests. Prints each round and a Markdown table for
# BENCHMARKS.md. About 5 s per kill plus a minute of lab and build.
#
#   ./scripts/bench-failover.sh [--kills N] [--rate REQUESTS_PER_S] [--timeout S] [--json FILE]
# SHOAL_LAB (default vb) prefixes the namespaces. Needs root, nginx and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
while (($#)); do
  case $1 in
    --kills | --rate | --timeout | --json) args+=("$1" "$2"); shift 2 ;;
    *) echo "bench-failover.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

export SHOAL_LAB=${SHOAL_LAB:-vb} SHOAL_BUILD_DIR=${SHOAL_BUILD_DIR:-build/release}
./scripts/build.sh release
# The driver tears the lab down itself; this is for when it is killed.
trap './scripts/lab down' EXIT
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD)"
/usr/bin/python3 tests/bench/failover.py --prefix "$SHOAL_LAB" "${args[@]}"
