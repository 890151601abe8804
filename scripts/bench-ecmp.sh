#!/usr/bin/env bash
# The ECMP kill drill (tests/bench/ecmp_drill.py): three directors behind the lab's bird2
# router (BGP + BFD 100 ms x 3, Linux ECMP with an L4 hash), DR or TUN; new connections at a
# steady rate the whole time and wrk's keep-alive connections across each kill; one director
# SIGKILLed per round, in turn, then restarted. For each kill: time until the router drops its
# route, broken keep-alive connections, failed and late new connections. Prints each round and
# a Markdown table for BENCHMARKS.md. About 8 s per kill plus half a minute of lab and build.
#
#   ./scripts/bench-ecmp.sh [--mode dr|tun] [--kills N] [--rate R] [--timeout S] [--json FILE]
# SHOAL_LAB (default eb) prefixes the namespaces. Needs root, nginx, wrk, bird2, a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
while (($#)); do
  case $1 in
    --mode | --kills | --rate | --timeout | --json) args+=("$1" "$2"); shift 2 ;;
    *) echo "bench-ecmp.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

export SHOAL_LAB=${SHOAL_LAB:-eb} SHOAL_BUILD_DIR=${SHOAL_BUILD_DIR:-build/release}
nice -n 10 ./scripts/build.sh release
# The driver tears the lab down itself; this is for when it is killed.
trap './scripts/lab down' EXIT
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD)"
/usr/bin/python3 tests/bench/ecmp_drill.py --prefix "$SHOAL_LAB" "${args[@]}"
