#!/usr/bin/env bash
# Builds shoal (release and ASan+UBSan) and runs its test suites.
#   ./scripts/test.sh          every suite
#   ./scripts/test.sh unit     one suite: unit (Catch2, release and ASan+UBSan builds),
#                              e2e (pytest in the network-namespace lab) or package (the
#                              Debian package built, checked, installed and run in the lab,
#                              then removed)
# Ends with one line "N passed, N failed" counting test cases across every suite run, and
# exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

suite=${1:-all}
case "$suite" in
  all | unit | e2e | package) ;;
  *) echo "test.sh: unknown suite '$suite' (expected: unit, e2e or package)" >&2; exit 2 ;;
esac

./scripts/install-deps.sh || exit 1

# The package suite builds its own, from a clean copy of the tree.
if [[ $suite != package ]]; then
  echo "== build: release"
  ./scripts/build.sh release || { echo "0 passed, 1 failed"; exit 1; }
fi
if [[ $suite == all || $suite == unit ]]; then
  echo "== build: asan+ubsan"
  # The unit suite alone runs under the sanitizers: shoald, shoalctl and the benchmarks are
  # not built a second time (the release build has them, warnings as errors alike).
  ./scripts/build.sh asan tests/unit/shoal_unit_tests || { echo "0 passed, 1 failed"; exit 1; }
fi

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
  # The ten slowest tests are listed too: what to look at when the suite grows too long.
  SHOAL_BUILD_DIR=build/release /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    --durations=10 --junitxml="$report" "$@" 2>&1 | tail -45
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

# One step of a suite that is no test framework's: a test case of its own in the totals.
run_step() {  # run_step LABEL COMMAND...
  local label=$1; shift
  echo "== $label"
  if "$@"; then
    total_passed=$((total_passed + 1))
  else
    echo "FAILED $label"
    total_failed=$((total_failed + 1))
    return 1
  fi
}

# The Debian package, as an operator gets it: built by scripts/package.sh (dpkg-buildpackage
# in a copy of the work tree, removed once built) into a temporary directory, checked by
# lintian (errors fail), installed with apt-get (which brings what its shlibs name), its
# unit checked by systemd-analyze, run in the lab by tests/package, and purged at the end
# whatever happened, with whatever apt-get brought along, so that the machine is left as it
# was.
package_work=""
package_added=()  # what apt-get install brought along with shoal, purged with it
package_cleanup() {
  local purge=("${package_added[@]}")
  if dpkg-query -W -f='${Status}' shoal 2>/dev/null | grep -q "ok installed"; then
    purge+=(shoal)
  fi
  if ((${#purge[@]})); then
    run_step "package: purge" env DEBIAN_FRONTEND=noninteractive \
      apt-get purge -y -q -o DPkg::Lock::Timeout=300 "${purge[@]}" >/dev/null
  fi
  [[ -n $package_work ]] && rm -rf "$package_work"
  package_work=""
  package_added=()
}

installed_packages() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '/^ii/ {print $2}'; }

build_package() {  # build_package WORK
  # Only the package's files may be found by the tests: the tree it was built from is gone.
  ./scripts/package.sh "$1"
}

lint_package() {  # lint_package WORK
  # The .changes names the .deb and the .buildinfo: lintian checks all three.
  lintian --fail-on error "$1"/shoal_*.changes
}

verify_unit() {  # the unit as installed, with the binaries it names
  # systemd-analyze verify needs no running systemd, but it needs the system's units
  # (sysinit.target...): with --root on the unpacked .deb alone it cannot load the unit.
  local unit man=no
  unit=$(dpkg-query -L shoal | grep -m1 '/systemd/system/shoald\.service$')
  [[ -n $unit ]] || { echo "no shoald.service in the package"; return 1; }
  # Its Documentation= man pages are checked once the package has them.
  if dpkg-query -L shoal | grep -q '/man8/shoald\.8'; then man=yes; fi
  systemd-analyze verify --man=$man "$unit"
}

install_package() {  # install_package WORK
  # Without Recommends (the dpdk package would enable its own service on this machine).
  installed_packages | sort >"$1/before"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$1"/shoal_*.deb >"$1/install.log" 2>&1
  local rc=$?
  mapfile -t package_added < <(installed_packages | sort | comm -13 "$1/before" - | grep -vx shoal)
  ((${#package_added[@]} == 0)) || echo "apt-get installed with it: ${package_added[*]}"
  ((rc == 0)) || { tail -20 "$1/install.log"; return 1; }
  dpkg-query -W shoal
}

# Last, once the e2e suite no longer needs the machine: the package takes the lab's place
# for its own tests (tests/package: the installed shoald in the lab, the completion, the
# alert rules and dashboard).
if [[ $suite == all || $suite == package ]]; then
  if dpkg-query -W -f='${Status}' shoal 2>/dev/null | grep -q "ok installed"; then
    echo "test.sh: a shoal package is installed already; the package suite replaces it and" \
      "purges it at the end"
  fi
  package_work=$(mktemp -d /tmp/shoal-package.XXXXXX)
  trap package_cleanup EXIT
  trap 'exit 130' INT TERM
  run_step "package: dpkg-buildpackage" build_package "$package_work" &&
    run_step "package: lintian" lint_package "$package_work"
  if ls "$package_work"/shoal_*.deb >/dev/null 2>&1; then
    # The machine has one dpkg database: a package suite of another work tree waits here
    # until this one has purged the package.
    exec 8>/run/lock/shoal-package-suite.lock
    flock -n 8 || { echo "== package: waiting for another package suite"; flock 8; }
    if run_step "package: apt-get install" install_package "$package_work"; then
      run_step "package: systemd-analyze verify" verify_unit
      run_pytest "package (the installed shoal in the lab)" tests/package
    fi
  fi
  package_cleanup
  exec 8>&-
  trap - EXIT INT TERM
fi

if ((total_skipped)); then
  echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
else
  echo "$total_passed passed, $total_failed failed"
fi
[[ $total_failed -eq 0 ]]
