"""The web dashboard and the API's TCP listener against a running shoald (DR lab).

shoald listens on 127.0.0.1 inside the director's namespace, so everything that talks to it
over TCP runs there too (`ip netns exec`): curl for the authentication rules, and Node.js
with Debian's Chromium for the dashboard itself (tests/dashboard/dashboard.test.mjs). The
browser script asks this module, line by line, to confirm with the lab client what only
traffic can show: a backend drained from the dashboard gets no new connection, and gets its
share again once enabled.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_dashboard.py
The screenshots of every page are saved in the test's tmp dir, printed at the end.
"""

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time

import pytest
import yaml

from conftest import REPO, VIP, make_config, requirements_missing, run, start_lab

DASHBOARD_TESTS = REPO / "tests" / "dashboard"
SCRIPT = DASHBOARD_TESTS / "dashboard.test.mjs"
LISTEN = "127.0.0.1:8080"  # the director namespace's own loopback: no other lab shares it
URL = f"http://{LISTEN}"
CHROMIUM = "/usr/bin/chromium"
SCRIPT_TIMEOUT = 300  # s; the script's own waits are 15 s each, a run takes about a minute


def browser_missing():
    if shutil.which("node") is None or not os.path.exists(CHROMIUM):
        return "needs node and chromium (./scripts/install-deps.sh)"
    return None


pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")


@pytest.fixture(scope="module")
def d(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, "dr", servers=3)
    d.token = secrets.token_urlsafe(24)
    token_file = d.dir / "api.token"
    token_file.write_text(d.token + "\n")
    token_file.chmod(0o600)
    # Real health checks (through the port's exception path), so that the dashboard shows
    # each backend up with its last check's result. Slow enough for a busy two-CPU machine:
    # nothing here times a transition.
    d.cfg = make_config(lab, tap="lan0")
    web = next(s for s in d.cfg["services"] if s["name"] == "web")
    web["health_check"] = {"type": "http", "path": "/", "interval": 1, "timeout": 0.8,
                           "rise": 2, "fall": 3, "initial": "down"}
    d.cfg["api"] = {"socket": str(d.api_socket), "listen": LISTEN, "token_file": str(token_file),
                    "dashboard": str(REPO / "controlplane" / "api" / "dashboard")}
    # Connection sync with no peer: the overview shows its (timed-out) pull.
    d.cfg["connection_sync"] = {"pull_timeout": 1}
    d.start(d.cfg, warm_up=False)
    for i in (1, 2, 3):
        d.wait_log(rf"rs{i} 10\.0\.0\.1{i}:80 up: .*first check", timeout=15)
    d.warm_up()
    return d


def curl(d, *args):
    """curl in the director's namespace; returns (status, headers, body)."""
    p = d.lab.exec("d1", "curl", "-s", "-S", "-D", "-", "--max-time", "10", *args)
    head, _, body = p.stdout.replace("\r\n", "\n").partition("\n\n")
    status = int(head.split()[1])
    return status, head, body


def backend(d, name, service="web"):
    svc = next(s for s in d.api("list")["services"] if s["name"] == service)
    return next(b for b in svc["backends"] if b["name"] == name)


def test_the_tcp_api_requires_a_session(d):
    status, _, body = curl(d, f"{URL}/v1/status")
    assert status == 401 and "error" in json.loads(body), (status, body)
    status, _, body = curl(d, "-X", "POST", f"{URL}/v1/services/web/backends/rs1/disable")
    assert status == 401, (status, body)
    assert backend(d, "rs1")["admin_state"] == "enabled"  # refused means not done
    status, _, body = curl(d, "-X", "POST", "--data-binary", "services: []",
                           f"{URL}/v1/config/apply")
    assert status == 401, (status, body)

    # A stranger gets the login page, whatever the path, and none of the dashboard's files.
    for path in ("/", "/js/app.js", "/style.css", "/index.html"):
        status, head, body = curl(d, f"{URL}{path}")
        assert status == 401 and re.search(r"(?im)^content-type: text/html", head), (path, head)
        assert 'id="login-form"' in body and "import " not in body, (path, body[:200])
    status, _, body = curl(d, f"{URL}/login.html")
    assert status == 200 and 'id="login-form"' in body

    status, head, body = curl(d, "-X", "POST", "-H", "Content-Type: application/json",
                              "--data", json.dumps({"token": d.token + "x"}), f"{URL}/v1/login")
    assert status == 401 and "set-cookie" not in head.lower(), head
    status, head, body = curl(d, "-X", "POST", "-H", "Content-Type: application/json",
                              "--data", json.dumps({"token": d.token}), f"{URL}/v1/login")
    assert status == 200, (status, body)
    m = re.search(r"(?im)^set-cookie: (shoal_session=[^;\s]+)(.*)$", head)
    assert m, head
    attrs = m.group(2).lower()
    assert "httponly" in attrs and "samesite=strict" in attrs and "path=/" in attrs, m.group(0)
    cookie = m.group(1)

    status, _, body = curl(d, "-H", f"Cookie: {cookie}", f"{URL}/v1/status")
    assert status == 200 and json.loads(body)["pid"] == d.proc.pid, body
    status, _, body = curl(d, "-H", f"Cookie: {cookie}", f"{URL}/")
    assert status == 200 and 'src="js/app.js"' in body, body[:300]
    status, head, body = curl(d, "-H", f"Cookie: {cookie}", f"{URL}/js/app.js")
    assert status == 200 and re.search(r"(?im)^content-type: text/javascript", head), head
    # Nothing outside the dashboard's directory, even to a session.
    status, _, body = curl(d, "--path-as-is", "-H", f"Cookie: {cookie}",
                           f"{URL}/js/../../../../../etc/passwd")
    assert status == 404 and "root:" not in body, (status, body[:200])
    status, _, _ = curl(d, "-H", f"Cookie: {cookie}x", f"{URL}/v1/status")
    assert status == 401
    status, _, _ = curl(d, "-X", "POST", "-H", f"Cookie: {cookie}", f"{URL}/v1/logout")
    assert status == 200
    status, _, _ = curl(d, "-H", f"Cookie: {cookie}", f"{URL}/v1/status")
    assert status == 401, "the session outlived its logout"

    # The Unix socket stays as it was: root only, by its mode, and no login.
    assert d.api("status")["pid"] == d.proc.pid


def spread(d, count, base):
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", count,
                       "--sport-base", base)
    return res["ok"], res["hist"]


class Answers:
    """What the browser script asks of the lab: each answer is {"ok": bool, "detail": str}."""

    def __init__(self, d):
        self.d = d
        self.base = 21000  # a fresh block of client source ports per batch (see conftest)

    def ports(self):
        self.base += 1000
        return self.base

    def traffic(self, q):
        ok, hist = spread(self.d, 200, self.ports())
        return ok == 200, f"{ok}/200 answered: {hist}"

    def drained(self, q):
        b = backend(self.d, q["backend"], q["service"])
        if b["admin_state"] != "draining" or b["accepts_new_flows"]:
            return False, f"the API says {b['admin_state']}, accepts_new_flows={b['accepts_new_flows']}"
        ok, hist = spread(self.d, 300, self.ports())
        return ok == 300 and q["backend"] not in hist, f"{ok}/300 answered: {hist}"

    def enabled(self, q):
        b = backend(self.d, q["backend"], q["service"])
        if b["admin_state"] != "enabled" or not b["accepts_new_flows"]:
            return False, f"the API says {b['admin_state']}, accepts_new_flows={b['accepts_new_flows']}"
        ok, hist = spread(self.d, 300, self.ports())
        # rs2 weighs 1 of 4: 75 expected of 300; 30 leaves room for Maglev's unevenness.
        return ok == 300 and hist.get(q["backend"], 0) > 30, f"{ok}/300 answered: {hist}"

    def applied(self, q):
        b = backend(self.d, q["backend"], q["service"])
        on_disk = yaml.safe_load(self.d.config_path.read_text())
        svc = next(s for s in on_disk["services"] if s["name"] == q["service"])
        file_weight = next(x for x in svc["backends"] if x["name"] == q["backend"])["weight"]
        ok = b["weight"] == q["weight"] == file_weight and b["effective_weight"] == q["weight"]
        return ok, (f"the API says weight {b['weight']} (effective {b['effective_weight']}), "
                    f"the file {file_weight}")

    def answer(self, q):
        handler = getattr(self, q.get("step", ""), None)
        if handler is None:
            return {"ok": False, "detail": f"unknown step {q!r}"}
        try:
            ok, detail = handler(q)
        except Exception as e:  # noqa: BLE001 - reported to the script, which fails the run
            ok, detail = False, f"{type(e).__name__}: {e}"
        return {"ok": bool(ok), "detail": detail}


def ensure_playwright():
    if (DASHBOARD_TESTS / "node_modules" / "playwright-core").is_dir():
        return
    run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", DASHBOARD_TESTS,
        timeout=300)


def test_dashboard_in_chromium(d, tmp_path, request):
    missing = browser_missing()
    if missing:
        pytest.fail(missing)
    major = int(run("node", "--version").stdout.strip().lstrip("v").split(".")[0])
    assert major >= 20, f"playwright-core needs Node.js 20 or later, this is {major}"
    ensure_playwright()
    shots = tmp_path / "screenshots"
    cmd = ["ip", "netns", "exec", d.lab.ns("d1"), "node", str(SCRIPT), "--url", f"{URL}/",
           "--token", d.token, "--out", str(shots), "--chromium", CHROMIUM,
           "--service", "web", "--backend", "rs2", "--backends", "rs1,rs2,rs3", "--checked"]
    # Its own process group: on a timeout, node and the Chromium it started go together.
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1,
                            start_new_session=True, cwd=DASHBOARD_TESTS)
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        os.killpg(proc.pid, signal.SIGKILL)

    watchdog = threading.Timer(SCRIPT_TIMEOUT, kill)
    watchdog.start()
    answers = Answers(d)
    output = []
    started = time.time()
    try:
        for line in proc.stdout:
            output.append(line.rstrip("\n"))
            if line.startswith("@@ask "):
                a = answers.answer(json.loads(line[len("@@ask "):]))
                output.append(f"# lab: {'ok' if a['ok'] else 'FAILED'}: {a['detail']}")
                proc.stdin.write(json.dumps(a) + "\n")
                proc.stdin.flush()
        rc = proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = "\n".join(output)
    report = (f"--- dashboard.test.mjs ({time.time() - started:.0f} s, exit {rc}) ---\n{text}\n"
              f"screenshots: {shots}")
    print(report)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\ndashboard screenshots: {shots}")
    assert not timed_out.is_set(), f"killed after {SCRIPT_TIMEOUT} s\n{report}"
    assert rc == 0 and "# all steps passed" in text, report
    assert sorted(p.name for p in shots.glob("*.png")) == sorted(
        f"{n}.png" for n in ("login", "login-refused", "overview", "overview-vrrp", "services", "services-quorum", "drain-confirm",
                             "services-drained", "actions", "config-invalid", "config-valid"))
    # What the browser did, seen from shoald's side: the API logged both operations.
    log = d.log_text()
    assert re.search(r"web/rs2 10\.0\.0\.12:80 set draining through the API", log), d.diag()
    assert re.search(r"web/rs2 10\.0\.0\.12:80 set enabled through the API", log), d.diag()
    assert re.search(r"web/rs1 10\.0\.0\.11:80 set weight 5 through the API", log), d.diag()
    # The refused disable was answered in the browser: shoald never got it.
    assert not re.search(r"web/rs1 \S+ set disabled", log), d.diag()
    d.assert_balanced()
