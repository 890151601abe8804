#!/usr/bin/env bash
# Builds shoal (release and ASan+UBSan) and runs its test suites.
#   ./scripts/test.sh          every suite
#   ./scripts/test.sh unit     one suite: unit (Catch2, release and ASan+UBSan builds) or
#                              e2e (pytest in the network-namespace lab)
# Ends with one line "N passed, N failed" counting test cases across every suite run, and
# exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

suite=${1:-all}
case "$suite" in
  all | unit | e2e) ;;
  *) echo "test.sh: unknown suite '$suite' (expected: unit or e2e)" >&2; exit 2 ;;
esac

./scripts/install-deps.sh || exit 1

echo "== build: release"
./scripts/build.sh release || { echo "0 passed, 1 failed"; exit 1; }
echo "== build: asan+ubsan"
./scripts/build.sh asan || { echo "0 passed, 1 failed"; exit 1; }

total_passed=0
total_failed=0
total_skipped=0

# Runs one Catch2 binary and adds its test-case counts to the totals.
run_catch() {  # run_catch LABEL BINARY [ARGS...]
  local label=$1; shift
  local log
  log=$(mktemp)
  echo "== $label"
  "$@" 2>&1 | tee "$log" | tail -4
  local rc=${PIPESTATUS[0]}
  local passed failed
  if grep -qE '^All tests passed' "$log"; then
    passed=$(sed -nE 's/^All tests passed \([0-9]+ assertions? in ([0-9]+) test cases?\).*/\1/p' "$log")
    failed=0
  else
    passed=$(sed -nE 's/^test cases: *[0-9]+ \| *([0-9]+) passed.*/\1/p' "$log")
    failed=$(sed -nE 's/^test cases: *[0-9]+ \|.*\| *([0-9]+) failed.*/\1/p' "$log")
    failed=${failed:-$(sed -nE 's/^test cases: *([0-9]+) \| *([0-9]+) failed.*/\2/p' "$log")}
  fi
  passed=${passed:-0}
  failed=${failed:-0}
  # A crash or a non-zero exit without a failed test case still counts as a failure.
  if [[ $rc -ne 0 && $failed -eq 0 ]]; then
    grep -B5 -A20 -E 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error' "$log" | head -60
    failed=1
  fi
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  rm -f "$log"
}

if [[ $suite == all || $suite == unit ]]; then
  run_catch "unit (release)" build/release/tests/unit/shoal_unit_tests
  # DPDK maps its memory at fixed hints and keeps it to exit: leak checks would only report
  # the EAL's own allocations.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_catch "unit (asan+ubsan)" build/asan/tests/unit/shoal_unit_tests
fi

# Runs a pytest suite and adds its counts (from its JUnit report) to the totals.
run_pytest() {  # run_pytest LABEL PATH...
  local label=$1; shift
  local report
  report=$(mktemp --suffix=.xml)
  echo "== $label"
  SHOAL_BUILD_DIR=build/release /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    --junitxml="$report" "$@" 2>&1 | tail -30
  local counts
  counts=$(/usr/bin/python3 - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 1 0"); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
# The log's tail may have scrolled past pytest's summary: name each failure again.
for case in root.iter("testcase"):
    for bad_one in list(case.findall("failure")) + list(case.findall("error")):
        first = (bad_one.get("message") or "").strip().splitlines()[:1]
        print(f"FAILED {case.get('classname')}::{case.get('name')}: {''.join(first)[:300]}",
              file=sys.stderr)
# A run that collected nothing has failed: a suite that cannot fail is no suite.
print(tests - bad - skipped, bad if tests else 1, skipped)
PY
)
  read -r passed failed skipped <<<"$counts"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  rm -f "$report"
}

if [[ $suite == all || $suite == e2e ]]; then
  run_pytest "e2e (network-namespace lab)" tests/e2e
fi

if ((total_skipped)); then
  echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
else
  echo "$total_passed passed, $total_failed failed"
fi
[[ $total_failed -eq 0 ]]
