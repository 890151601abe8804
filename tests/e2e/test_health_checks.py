"""Every kind of health check end to end (DR lab, checks through the exception path): real
checks by shoald of real servers that misbehave on purpose, each judged twice — by the
transition line shoald logs (`rs1 10.0.0.11:80 down: http status 503 (3/3)`) and by what the
VIP does with the traffic (a backend that is down gets no new connection; the others keep
serving every request).

One lab and one shoald serve the whole module. The web service's backends are checked three
ways at once:
- rs1 by HTTP on port 8081, where bad_http_server.py answers as a mode file says (wrong
  status, a hang, a reset, a 100 MB body), while nginx on port 80 keeps taking the traffic;
- rs2 by an `exec` check, a shell script that logs its environment and passes while a file
  exists, its first output line giving the weight;
- rs3 by HTTP against nginx itself.
The echo service's backends are checked by UDP against the lab's echo on port 7.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_health_checks.py
"""

import hashlib
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PY, VIP, make_config, requirements_missing, shares_ok, start_lab

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

INTERVAL, TIMEOUT, RISE, FALL = 0.5, 0.3, 2, 3
DETECT = INTERVAL * FALL + TIMEOUT  # the longest a failing server may still be up
RECOVER = INTERVAL * RISE + TIMEOUT  # the longest a mended one may still be down
SLACK = 0.7  # log polling, process start-up and a machine shared with other work
# The exec check starts a shell (and `date`) per run: on two CPUs busy with other builds that
# has taken over 300 ms, so it gets a longer timeout, and with it a longer interval.
EXEC_INTERVAL, EXEC_TIMEOUT = 1.0, 0.8
EXEC_DETECT = EXEC_INTERVAL * FALL + EXEC_TIMEOUT
EXEC_RECOVER = EXEC_INTERVAL * RISE + EXEC_TIMEOUT
BAD_PORT = 8081  # rs1's check port, served by bad_http_server.py
MARKER = "shoal-ok"
WEB = {1: 1, 2: 1, 3: 2}
BIG_SIZE = 64 * 1024 * 1024  # the lab's /big
CLIENT_SOURCES = [f"10.0.0.{50 + i}" for i in range(12)]  # for the source-hashed echo service
HERE = Path(__file__).resolve().parent
TRANSITION = r"rs\d \d+\.\d+\.\d+\.\d+:\d+ (up|down): "  # any backend's flip


def web_line(i, state, reason):
    return rf"rs{i} 10\.0\.0\.1{i}:80 {state}: {reason}"


def echo_line(i, state, reason):
    return rf"rs{i} 10\.0\.0\.1{i}:7 {state}: {reason}"


class Rig:
    """The module's lab, shoald and the knobs the tests turn."""

    def __init__(self, lab, d, work):
        self.lab, self.d, self.work = lab, d, work
        self.mode_file = work / "rs1-mode"
        self.bad_log = work / "rs1-bad-http.jsonl"
        self.exec_dir = work / "exec"
        self.bad_server = None
        self.echo = {}

    # --- configuration ------------------------------------------------------------------
    def config(self, web=None):
        cfg = make_config(self.lab, web=web or WEB, tap="lan0")
        common = {"interval": INTERVAL, "timeout": TIMEOUT, "rise": RISE, "fall": FALL,
                  "initial": "down"}
        for svc in cfg["services"]:
            if svc["name"] == "web":
                svc["health_check"] = {"type": "http", "path": "/", **common}
                for b in svc["backends"]:
                    if b["name"] == "rs1":
                        b["health_check"] = {"port": BAD_PORT, "body": MARKER}
                    elif b["name"] == "rs2":
                        b["health_check"] = {"type": "exec", "weight_from_output": True,
                                             "interval": EXEC_INTERVAL,
                                             "timeout": EXEC_TIMEOUT,
                                             "command": ["/bin/sh",
                                                         str(self.exec_dir / "check.sh")]}
            elif svc["name"] == "echo":
                svc["health_check"] = {"type": "udp", "payload": "hc", "expect": "hc", **common}
        return cfg

    def write_exec_script(self):
        self.exec_dir.mkdir(exist_ok=True)
        d = self.exec_dir
        # One line per run: when, and what shoald put in the environment.
        (d / "check.sh").write_text(
            "#!/bin/sh\n"
            f'echo "$(date +%s.%N) $SHOAL_SERVICE $SHOAL_BACKEND_NAME $SHOAL_BACKEND_ADDRESS '
            f'$SHOAL_BACKEND_PORT" >> {d}/runs\n'
            f'if [ -e {d}/healthy ]; then cat {d}/weight; exit 0; fi\n'
            'echo "in maintenance" >&2\n'
            "exit 1\n")
        (d / "weight").write_text("1\n")
        (d / "healthy").touch()

    def exec_runs(self):
        try:
            text = (self.exec_dir / "runs").read_text()
        except FileNotFoundError:
            return []
        return [ln.split() for ln in text.splitlines() if ln.strip()]

    # --- rs1's misbehaving check port ---------------------------------------------------
    def set_mode(self, mode):
        tmp = self.mode_file.with_suffix(".tmp")
        tmp.write_text(mode + "\n")
        tmp.replace(self.mode_file)
        return time.monotonic()

    def start_bad_server(self):
        self.set_mode("ok")
        self.bad_server = self.lab.popen(
            "rs1", PY, HERE / "lib" / "bad_http_server.py", "--port", BAD_PORT, "--mode-file",
            self.mode_file, "--log", self.bad_log, "--marker", MARKER,
            stdout=subprocess.DEVNULL, stderr=open(self.work / "rs1-bad-http.err", "w"))
        wait_listening(self.lab, "rs1", BAD_PORT, "tcp")

    def bad_log_entries(self):
        try:
            return [json.loads(ln) for ln in self.bad_log.read_text().splitlines() if ln]
        except FileNotFoundError:
            return []

    # --- the lab's servers --------------------------------------------------------------
    def nginx(self, i, action):
        node = f"rs{i}"
        if action == "stop":
            pid = (self.lab.state / node / "nginx.pid").read_text().strip()
            self.lab.exec(node, "kill", "-QUIT", pid)
            wait_listening(self.lab, node, 80, "tcp", present=False)
        else:
            self.lab.exec(node, "nginx", "-c", str(self.lab.state / node / "nginx.conf"))
            wait_listening(self.lab, node, 80, "tcp")

    def echo_stop(self, i):
        proc = self.echo.pop(i, None)
        if proc is not None:
            proc.kill()
            proc.wait()
        else:
            # The lab's pid file names the shell that started it: find the listener itself.
            out = self.lab.exec(f"rs{i}", "ss", "-Hlunp", "sport = :7").stdout
            # One process, two sockets (IPv4 and IPv6): each pid once.
            pids = sorted(set(re.findall(r"pid=(\d+)", out)))
            assert pids, f"no UDP echo listening on rs{i}: {out!r}"
            for pid in pids:
                subprocess.run(["kill", pid], check=True)
        wait_listening(self.lab, f"rs{i}", 7, "udp", present=False)

    def echo_start(self, i):
        proc = self.lab.popen(f"rs{i}", PY, HERE / "lib" / "udp_echo.py", "--port", 7, "--name",
                              f"rs{i}", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.echo[i] = proc
        # scripts/lab down stops it with the others.
        (self.lab.state / f"rs{i}" / "udp_echo.pid").write_text(f"{proc.pid}\n")
        wait_listening(self.lab, f"rs{i}", 7, "udp")

    def stop_helpers(self):
        for p in [self.bad_server, *self.echo.values()]:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()

    # --- traffic through the VIP --------------------------------------------------------
    def http(self, count, base):
        """`count` new connections from source ports base, base+1, ...: every call in the
        module has ports of its own, since a reused 5-tuple could still be in TIME_WAIT at the
        client or pinned to its old backend by the director's flow table."""
        return self.lab.client("http", "--vip", VIP, "--port", 80, "--count", count,
                               "--sport-base", base, "--timeout", 3, timeout=120)

    def echo_from_each_source(self):
        """One echo request from every extra client address: {source: answering server}."""
        out = {}
        for src in CLIENT_SOURCES:
            r = self.lab.client("udp", "--vip", VIP, "--port", 7, "--payload", "x",
                                "--source", src)["replies"][0]
            out[src] = r["data"].split(":", 1)[0] if r["data"] else None
        return out

    def shoald_rss_kib(self):
        status = Path(f"/proc/{self.d.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def wait_listening(lab, node, port, proto, present=True, timeout=10.0):
    flag = "-ltn" if proto == "tcp" else "-lun"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = lab.exec(node, "ss", "-H", flag, f"sport = :{port}").stdout
        if bool(out.strip()) == present:
            return
        time.sleep(0.05)
    pytest.fail(f"{proto} port {port} on {node} {'never opened' if present else 'still open'}")


def wait_flip(d, pattern, since, limit, mark):
    """Waits for a transition line after log line `mark`; fails if it took longer than `limit`
    seconds from `since` (time.monotonic()). Returns (seconds taken, the line)."""
    _, line = d.wait_log(pattern, after=mark, timeout=limit + SLACK + 3)
    took = time.monotonic() - since
    assert took <= limit + SLACK, d.diag(f"/{pattern}/ after {took:.2f} s; allowed {limit} s "
                                         f"(+{SLACK} s slack)")
    return took, line


@pytest.fixture(scope="module")
def rig(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, "dr", servers=3)
    r = Rig(lab, d, tmp_path_factory.mktemp("hc-work"))
    request.addfinalizer(r.stop_helpers)  # before the lab goes (finalizers run last first)
    r.write_exec_script()
    r.start_bad_server()
    lab.add_client_addresses(CLIENT_SOURCES)
    d.start(r.config(), warm_up=False)
    for i in (1, 2, 3):
        d.wait_log(web_line(i, "up", ".*first check"), timeout=10)
        d.wait_log(echo_line(i, "up", r"udp reply .*first check"), timeout=10)
    d.warm_up()
    return r


def test_every_check_passes_at_start(rig):
    d = rig.d
    log = d.log_text()
    assert re.search(web_line(1, "up", r"http status 200 \(first check\)"), log), d.diag()
    assert re.search(web_line(2, "up", r"exec exit status 0, weight 1 \(first check\)"), log), \
        d.diag()
    assert re.search(web_line(3, "up", r"http status 200 \(first check\)"), log), d.diag()
    res = rig.http(200, 21000)
    assert res["ok"] == 200 and set(res["hist"]) == {"rs1", "rs2", "rs3"}, d.diag(str(res))
    d.assert_balanced()


def test_http_wrong_status(rig):
    d = rig.d
    mark = len(d.log_lines())
    since = rig.set_mode("status:503")
    took, _ = wait_flip(d, web_line(1, "down", rf"http status 503 \({FALL}/{FALL}\)"), since,
                        DETECT, mark)
    res = rig.http(200, 22000)
    assert res["ok"] == 200 and "rs1" not in res["hist"], d.diag(str(res))
    assert set(res["hist"]) == {"rs2", "rs3"}, d.diag(str(res))

    mark = len(d.log_lines())
    since = rig.set_mode("ok")
    wait_flip(d, web_line(1, "up", rf"http status 200 \({RISE}/{RISE}\)"), since, RECOVER, mark)
    res = rig.http(200, 22500)
    assert res["ok"] == 200 and res["hist"].get("rs1", 0) > 20, d.diag(str(res))
    print(f"503 detected in {took:.2f} s")
    d.assert_balanced()


def exec_lateness(runs, t_from, t_to):
    """The exec check's runs between two wall-clock times, and how far each strayed from the
    fixed-rate grid the scheduler keeps (due + interval): max − min of (t − k × interval)."""
    times = [float(r[0]) for r in runs if t_from <= float(r[0]) <= t_to]
    if len(times) < 2:
        return times, None
    offsets = []
    for t in times:
        k = round((t - times[0]) / EXEC_INTERVAL)
        offsets.append(t - times[0] - k * EXEC_INTERVAL)
    return times, max(offsets) - min(offsets)


def test_http_hang_does_not_delay_other_checks(rig):
    d = rig.d
    mark = len(d.log_lines())
    wall0 = time.time()
    since = rig.set_mode("hang")
    took, _ = wait_flip(d, web_line(1, "down", rf"http timeout after {int(TIMEOUT * 1000)} ms "
                                               rf"\({FALL}/{FALL}\)"), since, DETECT, mark)
    # While rs1's checks hang, rs3's nginx stops: its own detection must not wait for rs1's.
    mark3 = len(d.log_lines())
    rig.nginx(3, "stop")
    since3 = time.monotonic()
    try:
        took3, _ = wait_flip(d, web_line(3, "down", r"http connect: Connection refused "
                                                    rf"\({FALL}/{FALL}\)"), since3, DETECT, mark3)
        res = rig.http(100, 23000)
        assert res["ok"] == 100 and set(res["hist"]) == {"rs2"}, d.diag(str(res))
        time.sleep(2.0)  # more hung checks of rs1, for the exec cadence below
        wall1 = time.time()
    finally:
        rig.nginx(3, "start")
        rig.set_mode("ok")
    hung = [e for e in rig.bad_log_entries() if e["mode"] == "hang"]
    assert len(hung) >= FALL, f"rs1's helper saw {len(hung)} hung checks: {hung}"
    # The exec check of rs2 kept its fixed rate all along (a loop stalled by rs1's hung
    # connections would have pushed some runs back by up to the timeout).
    times, spread = exec_lateness(rig.exec_runs(), wall0, wall1)
    assert len(times) >= 0.8 * (wall1 - wall0) / EXEC_INTERVAL, f"{len(times)} exec runs in {wall1 - wall0:.1f} s"
    assert spread is not None and spread < 0.25, \
        f"exec runs strayed {spread:.3f} s from their {EXEC_INTERVAL} s grid during the hang: " \
        f"{times}"
    # No unexpected flip of the others meanwhile.
    expected = (web_line(1, "down", "http timeout"), web_line(3, "down", "http connect"))
    flips = [ln for ln in d.log_lines()[mark:] if re.search(TRANSITION, ln)
             and not any(re.search(e, ln) for e in expected)]
    assert not flips, d.diag(f"other transitions during the hang: {flips}")

    mark = len(d.log_lines())
    d.wait_log(web_line(1, "up", r"http status 200"), after=mark, timeout=RECOVER + SLACK + 3)
    d.wait_log(web_line(3, "up", r"http status 200"), after=mark, timeout=RECOVER + SLACK + 3)
    res = rig.http(200, 23500)
    assert res["ok"] == 200 and set(res["hist"]) == {"rs1", "rs2", "rs3"}, d.diag(str(res))
    print(f"hang detected in {took:.2f} s, rs3 meanwhile in {took3:.2f} s; exec lateness "
          f"spread {spread * 1000:.0f} ms over {len(times)} runs")
    d.assert_balanced()


def test_http_reset(rig):
    d = rig.d
    mark = len(d.log_lines())
    since = rig.set_mode("reset")
    took, line = wait_flip(d, web_line(1, "down", r"http (receive|send|connect): Connection "
                                                  rf"reset by peer \({FALL}/{FALL}\)"),
                           since, DETECT, mark)
    res = rig.http(200, 24000)
    assert res["ok"] == 200 and "rs1" not in res["hist"], d.diag(str(res))
    assert any(e["mode"] == "reset" and e["end"] == "reset" for e in rig.bad_log_entries())

    mark = len(d.log_lines())
    since = rig.set_mode("ok")
    wait_flip(d, web_line(1, "up", rf"http status 200 \({RISE}/{RISE}\)"), since, RECOVER, mark)
    res = rig.http(200, 24500)
    assert res["ok"] == 200 and res["hist"].get("rs1", 0) > 20, d.diag(str(res))
    print(f"reset detected in {took:.2f} s: {line}")
    d.assert_balanced()


def test_http_100mb_body(rig):
    """A 100 MB answer is read only up to read_limit (64 KiB by default): the verdict depends
    on whether the marker is within it, and shoald's memory does not follow the body."""
    d = rig.d
    time.sleep(2 * INTERVAL)  # a few ordinary checks first: the baseline includes their memory
    rss = [rig.shoald_rss_kib()]
    n_before = len(rig.bad_log_entries())

    def sample_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rss.append(rig.shoald_rss_kib())
            time.sleep(0.1)

    mark = len(d.log_lines())
    since = rig.set_mode("big-tail")  # the marker is past the first 64 KiB: a failure
    wait_flip(d, web_line(1, "down", rf"http status 200 but the body lacks '{MARKER}' "
                                     rf"\({FALL}/{FALL}\)"), since, DETECT, mark)
    res = rig.http(100, 25000)
    assert res["ok"] == 100 and "rs1" not in res["hist"], d.diag(str(res))
    sample_for(2.0)

    mark = len(d.log_lines())
    since = rig.set_mode("big-head")  # the marker in the first bytes: a pass
    wait_flip(d, web_line(1, "up", rf"http status 200 \({RISE}/{RISE}\)"), since, RECOVER, mark)
    sample_for(2.0)
    rig.set_mode("ok")

    big = [e for e in rig.bad_log_entries()[n_before:] if e["mode"].startswith("big-")]
    assert len(big) >= 8, f"only {len(big)} checks of the 100 MB body"
    # Every one was cut short by the checker: nowhere near 100 MB left the server.
    assert all(e["end"] != "done" for e in big), big
    assert max(e["sent"] for e in big) < 20 * 1000 * 1000, big
    growth_mib = (max(rss) - rss[0]) / 1024
    print(f"{len(big)} checks of a 100 MB body; shoald VmRSS {rss[0] / 1024:.1f} MiB at start, "
          f"peak {max(rss) / 1024:.1f} MiB (+{growth_mib:.1f} MiB); server sent at most "
          f"{max(e['sent'] for e in big) / 1e6:.1f} MB per check")
    assert growth_mib < 16, f"shoald's VmRSS grew by {growth_mib:.1f} MiB: {rss}"
    res = rig.http(200, 25500)
    assert res["ok"] == 200 and res["hist"].get("rs1", 0) > 20, d.diag(str(res))
    d.assert_balanced()


def test_exec_check(rig):
    d = rig.d
    # The backend's address and port reached the command.
    runs = rig.exec_runs()
    assert runs and all(r[1:] == ["web", "rs2", "10.0.0.12", "80"] for r in runs), runs[-5:]

    mark = len(d.log_lines())
    since = time.monotonic()
    (rig.exec_dir / "healthy").unlink()
    try:
        wait_flip(d, web_line(2, "down", rf"exec exit status 1: in maintenance "
                                         rf"\({FALL}/{FALL}\)"), since, EXEC_DETECT, mark)
        res = rig.http(200, 26000)
        assert res["ok"] == 200 and set(res["hist"]) == {"rs1", "rs3"}, d.diag(str(res))
    finally:
        (rig.exec_dir / "healthy").touch()
    mark = len(d.log_lines())
    since = time.monotonic()
    wait_flip(d, web_line(2, "up", rf"exec exit status 0, weight 1 \({RISE}/{RISE}\)"), since,
              EXEC_RECOVER, mark)

    # weight_from_output: the command's word moves rs2's share of new connections.
    mark = len(d.log_lines())
    (rig.exec_dir / "weight").write_text("6\n")
    d.wait_log(r"rs2 10\.0\.0\.12:80 weight 6 from command output", after=mark,
               timeout=EXEC_INTERVAL + EXEC_TIMEOUT + SLACK + 2)
    try:
        res = rig.http(600, 26500)
        assert res["ok"] == 600, d.diag(str(res))
        problems = shares_ok(res["hist"], {"rs1": 1, "rs2": 6, "rs3": 2}, tolerance=0.3)
        assert not problems, d.diag(f"shares with rs2 at weight 6: {problems} {res['hist']}")
    finally:
        mark = len(d.log_lines())
        (rig.exec_dir / "weight").write_text("1\n")
        d.wait_log(r"rs2 10\.0\.0\.12:80 weight 1 from command output", after=mark,
                   timeout=EXEC_INTERVAL + EXEC_TIMEOUT + SLACK + 2)
    print(f"weight 6: {res['hist']}")
    d.assert_balanced()


def test_udp_check(rig):
    d = rig.d
    before = rig.echo_from_each_source()
    assert None not in before.values(), before
    assert set(before.values()) == {"rs1", "rs2", "rs3"}, \
        f"the client addresses do not reach every echo server: {before}"

    mark = len(d.log_lines())
    rig.echo_stop(3)
    since = time.monotonic()
    try:
        took, line = wait_flip(d, echo_line(3, "down", r"udp (port unreachable|no reply within "
                                                       rf"\d+ ms) \({FALL}/{FALL}\)"),
                               since, DETECT, mark)
        during = rig.echo_from_each_source()
    finally:
        mark = len(d.log_lines())
        rig.echo_start(3)
        since = time.monotonic()
    assert None not in during.values(), d.diag(f"unanswered while rs3 was down: {during}")
    assert set(during.values()) == {"rs1", "rs2"}, d.diag(str(during))

    wait_flip(d, echo_line(3, "up", rf"udp reply of \d+ bytes \({RISE}/{RISE}\)"), since,
              RECOVER, mark)
    after = rig.echo_from_each_source()
    assert after == before, d.diag(f"before {before}, after rs3 came back {after}")
    # The web service's rs3 never noticed: another service, another check.
    assert not re.search(web_line(3, "down", ""), "\n".join(d.log_lines()[mark:]))
    print(f"udp: {line} after {took:.2f} s")
    d.assert_balanced()


def established_from_client(lab, i):
    out = lab.exec(f"rs{i}", "ss", "-Htn", "state", "established", "( sport = :80 )").stdout
    return "10.0.0.1:" in out


def test_drain_keeps_long_transfer(rig):
    d, lab = rig.d, rig.lab
    out = rig.work / "big.out"
    t0 = time.monotonic()
    # About 6 s at 10 MiB/s: time to drain its server and open new connections meanwhile.
    curl = lab.popen("client", "curl", "-sS", "--limit-rate", "10M", "-o", out, "-w",
                     "%{http_code} %{size_download}", f"http://{VIP}/big",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        serving = None
        deadline = time.monotonic() + 5
        while serving is None and time.monotonic() < deadline:
            serving = next((i for i in (1, 2, 3) if established_from_client(lab, i)), None)
            time.sleep(0.05)
        assert serving is not None, "the transfer never showed up on a real server"

        drained = {**WEB, serving: 0}
        ok, lines, _, t_done = d.reload(rig.config(web=drained))
        assert ok, d.diag(f"reload refused: {lines}")
        drained_at = time.monotonic()
        # New connections while the transfer runs: never the drained server.
        hist = {}
        for base in (28000, 28200):
            res = rig.http(150, base)
            assert res["ok"] == 150, d.diag(str(res))
            for k, v in res["hist"].items():
                hist[k] = hist.get(k, 0) + v
        assert f"rs{serving}" not in hist, d.diag(f"rs{serving} drained but got {hist}")
        assert curl.poll() is None, "the transfer ended before the new connections were made"
        stdout, stderr = curl.communicate(timeout=60)
    finally:
        if curl.poll() is None:
            curl.kill()
            curl.wait()
    ended = time.monotonic()
    assert curl.returncode == 0, f"curl exited {curl.returncode}: {stderr}"
    code, size = stdout.split()
    assert code == "200" and int(size) == BIG_SIZE, stdout
    h = hashlib.sha256()
    with open(out, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    assert h.hexdigest() == lab.big_hashes()[f"rs{serving}"], \
        f"the body is not rs{serving}'s /big"
    out.unlink()
    assert ended - drained_at > 1.0, "the transfer did not outlive the drain by much"
    # The drain was a weight change, not a health flip.
    assert not any(re.search(TRANSITION, ln) for ln in lines), lines

    ok, lines, _, _ = d.reload(rig.config())
    assert ok, d.diag(lines)
    res = rig.http(200, 28400)
    assert res["ok"] == 200 and set(res["hist"]) == {"rs1", "rs2", "rs3"}, d.diag(str(res))
    print(f"drained rs{serving} {drained_at - t0:.2f} s into a {ended - t0:.2f} s transfer; "
          f"new connections meanwhile: {hist}")
    d.assert_balanced()
