"""Shared machinery of the end-to-end suite: the namespace lab (scripts/lab), shoald run in the
director's namespace, configs generated from configs/demo*.yaml, and the lab client
(client.py) run in the client's namespace.

Everything runs under one lab prefix, SHOAL_E2E_LAB (default "e2e"), so that the suite does
not touch a lab someone runs by hand under another prefix (scripts/lab's default is "shoal").
Run as root:  /usr/bin/python3 -m pytest tests/e2e
SHOAL_BUILD_DIR (default build/release, relative to the repo root) names the build to test.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable  # Debian's python3 (pytest, scapy, yaml); client.py needs only the stdlib
LIB = Path(__file__).resolve().parent / "lib"  # helper programs the tests run in the lab
CLIENT = LIB / "client.py"
LAB_PREFIX = os.environ.get("SHOAL_E2E_LAB", "e2e")
VIP = "10.0.0.100"
VIP6 = "fd00::100"  # the lab's IPv6 VIP (scripts/lab: every address has its IPv6 twin)
DEMO = {"dr": "demo.yaml", "nat": "demo-nat.yaml", "tun": "demo-tun.yaml"}

COUNTERS_RE = re.compile(r"counters total: rx=(\d+) tx=(\d+) dropped=(\d+) to_control=(\d+) "
                         r"balanced=(yes|NO)")


def build_dir() -> Path:
    d = Path(os.environ.get("SHOAL_BUILD_DIR", "build/release"))
    return d if d.is_absolute() else REPO / d


def shoald_path() -> Path:
    return build_dir() / "controlplane" / "shoald"


def shoalctl_path() -> Path:
    return build_dir() / "controlplane" / "shoalctl"


def run(*cmd, check=True, timeout=60, env=None):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {p.returncode}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def requirements_missing():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "nginx", "ethtool"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return None


# Daemons started in this session, for the failure report hook below.
_DAEMONS = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for d in _DAEMONS:
            rep.sections.append((f"shoald log tail ({d.log_path})", d.log_tail(60)))


class Lab:
    """One scripts/lab topology: client, directors d1..dN, real servers rs1..rsN."""

    def __init__(self, mode, servers=3, prefix=LAB_PREFIX, mgmt=False, directors=1, ecmp=False):
        # Interface names (at most 15 characters) are made of it: "<prefix>-clientp".
        assert re.fullmatch(r"[a-z][a-z0-9]{0,6}", prefix), \
            f"SHOAL_E2E_LAB={prefix!r}: up to 7 lower-case letters and digits"
        self.mode = mode
        self.servers = servers
        self.mgmt = mgmt  # the director's kernel gets a management interface (health checks)
        self.directors = directors
        self.ecmp = ecmp  # the client behind a bird2 router, ECMP over the directors
        self.prefix = prefix
        self.state = Path(f"/run/{prefix}-lab")
        self.env = dict(os.environ, SHOAL_LAB=prefix, SHOAL_BUILD_DIR=str(build_dir()))
        self._big = None
        self._next_port = 20000

    def lab(self, *args, timeout=120):
        return run(REPO / "scripts" / "lab", *args, env=self.env, timeout=timeout)

    def up(self):
        self.lab("up", "--mode", self.mode, "--servers", self.servers,
                 "--directors", self.directors, *(["--mgmt"] if self.mgmt else []),
                 *(["--ecmp"] if self.ecmp else []))
        # Ephemeral ports stay clear of 10000-29999, which tests bind explicitly: a fixed set
        # of 5-tuples spreads over the servers the same way on every run, and the warm-up's
        # ports (Lab.fresh_port) are never reused.
        self.exec("client", "sysctl", "-qw", "net.ipv4.ip_local_port_range=30000 65535")

    def down(self):
        subprocess.run([str(REPO / "scripts" / "lab"), "down"], env=self.env,
                       capture_output=True, timeout=120)

    def ns(self, node):
        return f"{self.prefix}-{node}"

    def exec(self, node, *cmd, check=True, timeout=60):
        return run("ip", "netns", "exec", self.ns(node), *cmd, check=check, timeout=timeout)

    def popen(self, node, *cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.ns(node), *map(str, cmd)], **kw)

    def client(self, *args, timeout=120, node="client"):
        """Runs client.py in the client namespace (or another node's); returns its JSON
        answer."""
        p = self.exec(node, PY, CLIENT, *args, timeout=timeout)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def fresh_port(self):
        """A client source port never used before in this lab, outside the ephemeral range."""
        self._next_port += 1
        assert self._next_port < 30000
        return self._next_port

    def rs_address(self, i):
        return f"10.0.1.{10 + i}" if self.mode == "nat" else f"10.0.0.{10 + i}"

    def rs_address6(self, i):
        return f"fd00:1::{10 + i}" if self.mode == "nat" else f"fd00::{10 + i}"

    def big_hashes(self):
        """sha256 of each real server's /big (the lab writes 64 MiB of random bytes)."""
        if self._big is None:
            import hashlib
            self._big = {}
            for i in range(1, self.servers + 1):
                h = hashlib.sha256()
                with open(self.state / f"rs{i}" / "big.bin", "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                self._big[f"rs{i}"] = h.hexdigest()
        return self._big

    def add_client_addresses(self, addresses):
        for a in addresses:
            self.exec("client", "ip", "addr", "add", f"{a}/24", "dev", "eth0")


def make_config(lab, workers=1, web=None, web_hash="5-tuple", echo=None, tap=None, director=1,
                family="ipv4"):
    """A config for the lab, made from the mode's demo config: the director's interface and
    EAL file prefix follow the lab prefix, and the web (80/tcp) and echo (7/udp) services get
    the backends asked for. web/echo: {server index: weight}; default rs1:1 rs2:1 rs3:2 (the
    demo's) and rs1..rs3 for echo. tap: the name of the port's exception path, if any.
    director N > 1 gets its own port (dN) and address (10.0.0.N+1). family "ipv6": the port
    is dual-stack (fd00::N+1/64 beside its IPv4 address; in NAT also fd00:1::1/64, the real
    servers' gateway) and web and echo, under the same names, are IPv6 services on VIP6 with
    the real servers' IPv6 addresses. Returns the config as a dict (see write_config)."""
    assert family in ("ipv4", "ipv6"), family
    text = (REPO / "configs" / DEMO[lab.mode]).read_text()
    node = f"d{director}"
    text = text.replace("iface=shoal-d1", f"iface={lab.prefix}-{node}")
    text = text.replace('"--file-prefix", "shoal-d1"', f'"--file-prefix", "{lab.prefix}-{node}"')
    if director != 1:
        text = text.replace("10.0.0.2/24", f"10.0.0.{1 + director}/24")
    cfg = yaml.safe_load(text)
    assert f"iface={lab.prefix}-{node}" in cfg["ports"][0]["device"], cfg["ports"]
    assert f"{lab.prefix}-{node}" in cfg["eal"], cfg["eal"]
    cfg["workers"]["count"] = workers
    # The demo configs are dual-stack; a suite gets one family's web and echo services, on a
    # port with that family's addresses.
    cfg["services"] = [s for s in cfg["services"] if s["name"] in ("web", "echo")]
    cfg["ports"][0]["addresses"] = [a for a in cfg["ports"][0]["addresses"] if ":" not in a]
    if family == "ipv6":
        addresses = cfg["ports"][0]["addresses"]
        addresses.append(f"fd00::{1 + director}/64")
        if lab.mode == "nat":
            addresses.append("fd00:1::1/64")
    # The demo's exception path and health check are opt-in here: most suites test
    # forwarding with backends that are simply up.
    cfg["ports"][0].pop("tap", None)
    if tap:
        cfg["ports"][0]["tap"] = tap
    web = web if web is not None else {1: 1, 2: 1, 3: 2}
    echo = echo if echo is not None else {1: 1, 2: 1, 3: 1}

    rs_address = lab.rs_address6 if family == "ipv6" else lab.rs_address

    def backends(weights, port):
        out = []
        for i, w in sorted(weights.items()):
            b = {"name": f"rs{i}", "address": rs_address(i)}
            if lab.mode == "nat":
                b["port"] = port
            b["weight"] = w
            out.append(b)
        return out

    for svc in cfg["services"]:
        svc.pop("health_check", None)
        if family == "ipv6":
            svc["vip"] = VIP6
        if svc["name"] == "web":
            svc["hash"] = web_hash
            svc["backends"] = backends(web, 80)
        elif svc["name"] == "echo":
            svc["backends"] = backends(echo, 7)
    return cfg


def config_text(cfg):
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)


def counters_from(line):
    m = COUNTERS_RE.search(line)
    assert m, line
    rx, tx, dropped, control = (int(m.group(k)) for k in range(1, 5))
    return {"rx": rx, "tx": tx, "dropped": dropped, "to_control": control,
            "balanced": m.group(5) == "yes", "line": line.strip()}


class Shoald:
    """shoald run in the lab's director namespace, with its config, log and state directory
    (the admin states it keeps across restarts) in a tmp dir."""

    def __init__(self, lab, tmpdir, name="shoald", node="d1"):
        self.lab = lab
        self.node = node  # the director namespace it runs in
        self.dir = Path(tmpdir)
        self.config_path = self.dir / f"{name}.yaml"
        self.log_path = self.dir / f"{name}.log"
        self.api_socket = self.dir / f"{name}.sock"  # each daemon its own control API
        self.state_dir = self.dir / f"{name}-state"  # and its own --state-dir
        self.proc = None
        self.final_counters = None
        self.vip = VIP  # what warm_up asks for: VIP6 for a config of IPv6 services
        _DAEMONS.append(self)

    # --- config and log -----------------------------------------------------------------
    def write_config(self, cfg_or_text):
        if not isinstance(cfg_or_text, str):
            cfg_or_text = dict(cfg_or_text)
            cfg_or_text.setdefault("api", {"socket": str(self.api_socket)})
        text = cfg_or_text if isinstance(cfg_or_text, str) else config_text(cfg_or_text)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config_path)  # whole files only: a reload never reads half of one

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return self.log_text().splitlines()

    def log_tail(self, n=40):
        return "\n".join(self.log_lines()[-n:])

    def diag(self, what=""):
        return f"{what}\n--- shoald log tail ({self.log_path}) ---\n{self.log_tail()}"

    def wait_log(self, pattern, after=0, timeout=10.0):
        """Waits for a log line matching `pattern` among the lines after the first `after`;
        returns (index, line)."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            lines = self.log_lines()
            for i in range(after, len(lines)):
                if rx.search(lines[i]):
                    return i, lines[i]
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(self.diag(f"shoald exited ({self.proc.returncode}) while "
                                               f"waiting for /{pattern}/"))
            if time.time() > deadline:
                raise AssertionError(self.diag(f"no /{pattern}/ in the log after {timeout}s"))
            time.sleep(0.02)

    # --- process ------------------------------------------------------------------------
    def start(self, cfg=None, warm_up=True, env=None, pid_env=()):
        """env: variables added to shoald's environment. pid_env: names of variables that must
        hold shoald's own pid (WATCHDOG_PID), known only once it runs: a shell sets them to its
        own pid and execs `ip netns exec`, which execs shoald."""
        if cfg is not None:
            self.write_config(cfg)
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.final_counters = None
        mark = len(self.log_lines())
        log = open(self.log_path, "a")
        # `ip netns exec` execs shoald: the Popen pid is shoald's own.
        cmd = ["ip", "netns", "exec", self.lab.ns(self.node), shoald_path(), "--config",
               self.config_path, "--state-dir", self.state_dir]
        if pid_env:
            exports = "".join(f"export {name}=$$; " for name in pid_env)
            cmd = ["sh", "-c", exports + 'exec "$@"', "sh", *cmd]
        self.proc = subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **env) if env else None)
        log.close()
        self.wait_log(r"shoald running", after=mark, timeout=30)
        if self.lab.mode == "nat":
            # NAT replies go back through the director, which learns on-link clients only
            # from their ARP. A client that still has the VIP in its neighbour cache (from an
            # earlier shoald) would not ask again for tens of seconds: make it ask now.
            self.lab.exec("client", "ip", "neigh", "flush", "dev", "eth0")
        if warm_up:
            self.warm_up()

    def warm_up(self, timeout=15.0, port_ok=None):
        """Until the director has resolved its real servers and the client the VIP, the first
        packets go nowhere: retry one request until it succeeds. `port_ok`, if given, picks
        the client source ports to try (say, those the director schedules to one backend)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            # A source port of its own: an attempt given up on leaves a half-open flow in the
            # director, which would pin a later connection on the same 5-tuple to the
            # backend it chose then, drained or not.
            port = self.lab.fresh_port()
            if port_ok is not None and not port_ok(port):
                continue
            last = self.lab.client("http", "--vip", self.vip, "--port", 80, "--count", 1,
                                   "--timeout", 1, "--sport-base", port)
            if last["ok"] == 1:
                return
            time.sleep(0.2)
        raise AssertionError(self.diag(f"no HTTP answer through the VIP within {timeout}s: "
                                       f"{last}"))

    def ctl(self, *args, check=True, timeout=30):
        """shoalctl against this daemon's API; returns the CompletedProcess."""
        return run(shoalctl_path(), "--socket", self.api_socket, *args, check=check,
                   timeout=timeout)

    def api(self, *args):
        """shoalctl --json ARGS, parsed."""
        return json.loads(self.ctl("--json", *args).stdout)

    def metrics_text(self):
        """GET /metrics on the Unix socket: Prometheus' text."""
        return run("curl", "-s", "--unix-socket", self.api_socket, "http://shoald/metrics").stdout

    def api_json(self, method, path, body=None):
        """A raw API request on the Unix socket (curl); the JSON answer, whatever the status."""
        args = ["curl", "-s", "-X", method, "--unix-socket", self.api_socket]
        if body is not None:
            args += ["--data-binary", "@-"]
        p = subprocess.run([*map(str, args), f"http://shoald{path}"], input=body,
                           capture_output=True, text=True, timeout=30)
        return json.loads(p.stdout)

    def signal(self, sig):
        assert self.proc is not None and self.proc.poll() is None, self.diag("shoald is not running")
        self.proc.send_signal(sig)

    def counters(self, retries=3):
        """SIGUSR1: the counter dump. The dump reads the workers' counters while they run, so
        one packet may be between rx and tx: retry a few times; a real imbalance stays."""
        for attempt in range(retries):
            mark = len(self.log_lines())
            self.signal(signal.SIGUSR1)
            i, line = self.wait_log(r"counters total:", after=mark, timeout=10)
            c = counters_from(line)
            c["workers"] = [int(m.group(1)) for ln in self.log_lines()[mark:i]
                            if (m := re.search(r"counters worker \d+: rx=(\d+)", ln))]
            if c["balanced"]:
                return c
            time.sleep(0.3)
        return c

    def assert_balanced(self):
        c = self.counters()
        assert c["balanced"], self.diag(f"counters do not balance: {c['line']}")
        assert c["rx"] == c["tx"] + c["dropped"] + c["to_control"], self.diag(c["line"])
        return c

    def reload(self, cfg_or_text, timeout=20):
        """Writes the config, sends SIGHUP, waits for the outcome. Returns (ok, new log lines,
        time the signal was sent, time the outcome was seen)."""
        self.write_config(cfg_or_text)
        mark = len(self.log_lines())
        t_sent = time.time()
        self.signal(signal.SIGHUP)
        i, line = self.wait_log(r"reloaded: |reload refused", after=mark, timeout=timeout)
        t_done = time.time()
        lines = self.log_lines()[mark:i + 1]
        return "reloaded: " in line, lines, t_sent, t_done

    def stop(self, check=True):
        """SIGTERM; the daemon dumps its counters on the way out (exact: the workers have
        stopped). Returns the final counters, or None if it had to be killed."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        mark = len(self.log_lines())
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                if check:
                    raise AssertionError(self.diag("shoald did not stop on SIGTERM in 15 s"))
                return None
        lines = self.log_lines()[mark:]
        totals = [ln for ln in lines if "counters total:" in ln]
        if not check:
            return counters_from(totals[-1]) if totals else None
        assert proc.returncode == 0, self.diag(f"shoald exited {proc.returncode}")
        assert totals, self.diag("no counter dump at exit")
        self.final_counters = counters_from(totals[-1])
        assert self.final_counters["balanced"], self.diag(
            f"counters do not balance at exit: {self.final_counters['line']}")
        fc = self.final_counters
        assert fc["rx"] == fc["tx"] + fc["dropped"] + fc["to_control"], self.diag(fc["line"])
        return fc


# Load generators shared by the suites that change things under traffic.
WRK_CONNECTIONS = 8


def start_wrk(d, seconds):
    """wrk against d's VIP (d.vip, either family) from the client, WRK_CONNECTIONS keep-alive
    connections."""
    host = f"[{d.vip}]" if ":" in d.vip else d.vip
    return d.lab.popen("client", "wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s",
                       f"http://{host}/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)


def start_client(d, seconds):
    """client.py against d's VIP opening a connection per request for `seconds`, with its
    timeline."""
    return d.lab.popen("client", PY, CLIENT, "http", "--vip", d.vip, "--port", 80, "--duration",
                       seconds, "--timeline", "--timeout", 3, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)


def parse_wrk(out):
    """wrk's summary: requests and every kind of error."""
    m = re.search(r"(\d+) requests in ([\d.]+)s", out)
    assert m, f"cannot read wrk's output:\n{out}"
    res = {"requests": int(m.group(1)), "connect": 0, "read": 0, "write": 0, "timeout": 0,
           "non2xx": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res.update(connect=int(m.group(1)), read=int(m.group(2)), write=int(m.group(3)),
                   timeout=int(m.group(4)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    res["errors"] = res["connect"] + res["read"] + res["write"] + res["timeout"] + res["non2xx"]
    return res


def start_lab(request, tmp_path_factory, spec, servers=3, mgmt=False):
    """For a module fixture: a lab for `spec` ('dr', 'nat-2w', ...) and a Shoald (not yet
    started) in it, torn down in order when the module is done — shoald stopped with SIGTERM
    (its exit dump must balance), then every namespace of the lab removed, also when the
    setup or a test failed."""
    if not shoald_path().exists():
        pytest.fail(f"shoald not built at {shoald_path()} (./scripts/build.sh release)")
    mode, workers = mode_params(spec)
    lab = Lab(mode, servers=servers, mgmt=mgmt)
    request.addfinalizer(lab.down)  # registered first: runs last
    d = Shoald(lab, tmp_path_factory.mktemp(spec))
    d.workers = workers
    request.addfinalizer(lambda: _DAEMONS.remove(d))
    request.addfinalizer(d.stop)
    lab.up()
    return lab, d


def mode_params(spec):
    """'dr' or 'dr-2w' → (mode, workers)."""
    mode, _, w = spec.partition("-")
    return mode, int(w[:-1]) if w else 1


def shares_ok(hist, weights, tolerance=0.2):
    """Each backend's share of the answers within ±tolerance (relative) of its weight's share.
    Returns a list of problems (empty if fine)."""
    total = sum(hist.values())
    wsum = sum(weights.values())
    problems = []
    for name in hist:
        if name not in weights:
            problems.append(f"{name} answered but is not a backend")
    for name, w in weights.items():
        expected = w / wsum
        share = hist.get(name, 0) / total if total else 0.0
        if abs(share / expected - 1) > tolerance:
            problems.append(f"{name}: share {share:.3f}, expected {expected:.3f} "
                            f"(±{tolerance:.0%})")
    return problems
