#!/usr/bin/env bash
# Builds shoal (release, build/release) and runs the packet core's micro-benchmark on one CPU:
#   ./scripts/bench.sh            full run (a few minutes): DR with 1k and 1M established
#                                 flows, new flows (SYN), each against its baseline; IPv4,
#                                 then the same rows over IPv6
#   ./scripts/bench.sh --quick    smoke run of about a second (the demo uses it)
#   ./scripts/bench.sh [OPTIONS]  any option of shoal_bench_pipeline (--help lists them)
# SHOAL_BENCH_CPU picks the CPU it is pinned to (default: the last online CPU).
# Needs what the tests need (./scripts/install-deps.sh: packages, hugepages). Figures and how
# to read them: BENCHMARKS.md. Exits non-zero if any packet was not transmitted.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in meson ninja taskset; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool missing: run ./scripts/install-deps.sh" >&2; exit 1; }
done

./scripts/build.sh release

# The full run holds 1M mbufs and a 1.5M-flow table in hugepages (96 MiB for the IPv6 one, at
# 64 bytes a flow): about 800 MiB. Reserve more 2 MiB pages if fewer are free (root only);
# otherwise the benchmark falls back to 4 KiB pages and says so.
want_free=416
if [[ " $* " == *" --quick "* ]]; then want_free=96; fi
free_pages=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if ((free_pages < want_free)) && [[ -w /proc/sys/vm/nr_hugepages ]]; then
  total=$(cat /proc/sys/vm/nr_hugepages)
  echo $((total + want_free - free_pages)) >/proc/sys/vm/nr_hugepages || true
fi

cpu=${SHOAL_BENCH_CPU:-$(awk -F- '{print $NF}' /sys/devices/system/cpu/online | tr -d '\n' | awk -F, '{print $NF}')}
echo "== shoal_bench_pipeline on CPU $cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) CPUs, kernel $(uname -r)"
echo "   taskset -c $cpu build/release/tests/bench/shoal_bench_pipeline $*"
exec taskset -c "$cpu" build/release/tests/bench/shoal_bench_pipeline "$@"
