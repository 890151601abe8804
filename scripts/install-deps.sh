#!/usr/bin/env bash
# Installs every build and test dependency of shoal from Debian's packages and prepares the
# machine for the tests (hugepages reserved, hugetlbfs mounted). Idempotent: safe to run twice.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root (it installs packages and reserves hugepages)" >&2
  exit 1
fi

packages=(
  # build
  build-essential meson ninja-build pkg-config clang llvm
  scdoc  # the man pages (docs/man/*.scd)
  # libraries
  libdpdk-dev libyaml-cpp-dev libfmt-dev libspdlog-dev libcli11-dev catch2 libbpf-dev libxdp-dev
  libnuma-dev libpcap-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libmicrohttpd-dev
  libnl-route-3-dev prometheus-cpp-dev libsystemd-dev
  # lab and tests
  iproute2 ethtool bc nginx-light curl wrk iperf3 python3-pytest python3-scapy python3-pyroute2
  # the peers scripts/bench-lab.sh measures shoald against: the kernel's DNAT and HAProxy
  nftables haproxy
  netbase  # /etc/services: the port names `shoalctl list` prints without -n
  # the web dashboard's browser tests (tests/dashboard): Debian's Chromium, driven from Node.js
  chromium
  # keepalived: a VRRP peer of another make for the interop tests; its samples
  # (/usr/share/doc/keepalived/samples) are what tests/e2e/test_import.py imports
  keepalived
  bird2  # BGP and BFD for the ECMP lab: the router and each director's announcer
  prometheus  # promtool, which checks and unit-tests monitoring/prometheus/ (tests/package)
  # the Debian package (debian/, scripts/package.sh, the package suite of scripts/test.sh):
  # dpkg-buildpackage and debhelper build it (ccache keeps rebuilds short), lintian checks
  # it, systemd-analyze verifies its unit; the daemon links libsystemd (notify, watchdog,
  # journald), the man pages are scdoc
  debhelper dpkg-dev fakeroot ccache lintian systemd libsystemd-dev scdoc
)
# Node.js and npm: Debian's nodejs and npm only where there is no node at all. A Node.js
# installed otherwise (as on the project's machines: 20, with npm 11) ships its own npm and
# conflicts with Debian's npm package, which apt would resolve by removing it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # nginx is used by the lab inside namespaces only; the packaged service stays off.
  if systemctl is-active --quiet nginx 2>/dev/null; then systemctl disable --now nginx || true; fi
  # keepalived too runs in a lab namespace, with the test's own config.
  if systemctl is-active --quiet keepalived 2>/dev/null; then
    systemctl disable --now keepalived || true
  fi
  # bird2 runs in lab namespaces only, with the lab's own configs.
  if systemctl is-active --quiet bird 2>/dev/null; then systemctl disable --now bird || true; fi
  # HAProxy runs in a lab namespace only, as scripts/bench-lab.sh's peer.
  if systemctl is-active --quiet haproxy 2>/dev/null; then systemctl disable --now haproxy || true; fi
  # Only promtool is wanted from the prometheus package: its server stays off.
  if systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl disable --now prometheus || true
  fi
fi

# The importer's tests (tests/e2e/test_import.py) read keepalived's samples; an image whose dpkg
# drops /usr/share/doc (path-exclude) installs the package without them.
if [[ ! -d /usr/share/doc/keepalived/samples ]]; then
  echo "install-deps.sh: /usr/share/doc/keepalived/samples is missing (a dpkg path-exclude?):" \
    "reinstall keepalived with its documentation kept" >&2
fi

# playwright-core for the dashboard tests, exactly as package-lock.json pins it; again only
# when the lock file changed since the last install. It drives /usr/bin/chromium: nothing
# downloads a browser of its own.
dashboard_tests=$(cd "$(dirname "$0")/.." && pwd)/tests/dashboard
if ! cmp -s "$dashboard_tests/package-lock.json" "$dashboard_tests/node_modules/.shoal-lock"; then
  echo "install-deps.sh: npm ci in $dashboard_tests"
  (cd "$dashboard_tests" && npm ci --no-audit --no-fund --loglevel=error) &&
    cp "$dashboard_tests/package-lock.json" "$dashboard_tests/node_modules/.shoal-lock"
fi

# Hugepages for DPDK: 512 x 2 MiB is enough for several lab directors and the benchmark.
want_pages=${SHOAL_HUGEPAGES:-512}
have_pages=$(cat /proc/sys/vm/nr_hugepages)
if ((have_pages < want_pages)); then
  echo "$want_pages" >/proc/sys/vm/nr_hugepages || true
fi
if ! grep -qs '^hugetlbfs /dev/hugepages ' /proc/mounts; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs nodev /dev/hugepages || echo "install-deps.sh: could not mount hugetlbfs; EAL will need --no-huge" >&2
fi
echo "install-deps.sh: ok ($(cat /proc/sys/vm/nr_hugepages) hugepages)"
