"""shoald under a service manager, in the DR lab: what it tells systemd (Type=notify) on the
socket NOTIFY_SOCKET names — here one the test binds itself, as systemd would —, its log lines
when journald reads its stderr (JOURNAL_STREAM), and the admin states it keeps in its state
directory across a restart.

- READY=1 comes once the ports are up and shoald runs (the first Snapshot is published), with
  a STATUS= line; the status follows a drain and an enable; WATCHDOG=1 comes every half of
  WATCHDOG_USEC; a SIGHUP gives RELOADING=1 (with MONOTONIC_USEC) then READY=1, applied or
  refused; SIGTERM gives STOPPING=1.
- Under journald each line starts with its syslog priority (<6> info, <3> error) and has no
  timestamp; a JOURNAL_STREAM naming another file leaves the usual lines.
- A backend drained through shoalctl is still drained after a restart with the same
  --state-dir, and gets no new connection.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_service_manager.py
"""

import json
import os
import re
import shutil
import socket
import threading
import time

import pytest

from conftest import VIP, make_config, requirements_missing, start_lab

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

WATCHDOG_USEC = 1_000_000  # pings expected every 0.5 s
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ")


@pytest.fixture(scope="module")
def d(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, "dr", servers=3)
    d.cfg = make_config(lab)
    return d


class NotifySocket:
    """The service manager's end of NOTIFY_SOCKET: every datagram with the time it came and
    the shoald log as it was then (shoald logs before it notifies)."""

    def __init__(self, path, d):
        self.path = str(path)
        self.d = d
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (time, text, log text then)
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.done:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            entry = (time.time(), data.decode(), self.d.log_text())
            with self.lock:
                self.messages.append(entry)

    def close(self):
        self.done = True
        self.thread.join(timeout=2)
        self.sock.close()
        os.unlink(self.path)

    def since(self, after=0):
        with self.lock:
            return list(self.messages[after:])

    def count(self):
        with self.lock:
            return len(self.messages)

    def wait(self, pattern, after=0, timeout=10.0):
        """The first message (index, (time, text, log)) from `after` on that matches."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            for i, m in enumerate(self.since(after), after):
                if rx.search(m[1]):
                    return i, m
            if time.time() > deadline:
                texts = [m[1] for m in self.since(after)]
                raise AssertionError(self.d.diag(f"no /{pattern}/ on NOTIFY_SOCKET after "
                                                 f"{timeout}s; got {texts}"))
            time.sleep(0.02)


@pytest.fixture
def notify(d, tmp_path):
    n = NotifySocket(tmp_path / "notify.sock", d)
    yield n
    n.close()


def spread(d, count, base):
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", count,
                       "--sport-base", base)
    assert res["ok"] == count, d.diag(str(res))
    return res["hist"]


def web_backend(services, name):
    web = next(s for s in services["services"] if s["name"] == "web")
    return next(b for b in web["backends"] if b["name"] == name)


def test_notifications_from_start_to_stop(d, notify):
    d.start(d.cfg, env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)},
            pid_env=("WATCHDOG_PID",))

    # READY=1 only once the ports are up and the first Snapshot is out, with the status.
    i, (_, text, log) = notify.wait(r"^READY=1")
    assert re.search(r"port lan: .* is DPDK port \d+", log), d.diag("READY=1 before the ports")
    assert "shoald running" in log, d.diag("READY=1 before shoald running")
    assert text == "READY=1\nSTATUS=2 service(s), 6/6 backend(s) up", text
    assert not any("READY=1" in m[1] for m in notify.since()[:i]), notify.since()[:i]
    assert f"service manager's watchdog: {WATCHDOG_USEC // 1000} ms" in d.log_text(), d.diag()

    # The status line follows the operator's word, within a second or so.
    mark = notify.count()
    d.ctl("drain", "web", "rs2")
    notify.wait(r"^STATUS=2 service\(s\), 6/6 backend\(s\) up, 1 draining$", after=mark,
                timeout=3)
    mark = notify.count()
    d.ctl("enable", "web", "rs2")
    notify.wait(r"^STATUS=2 service\(s\), 6/6 backend\(s\) up$", after=mark, timeout=3)

    # The watchdog: every 0.5 s over 3 s, and no gap as long as WATCHDOG_USEC, after which
    # systemd would act. Measured once the director has settled (its next hops resolved, the
    # commands above done): a Snapshot publish holds the control loop until the workers pass
    # a quiescent state, which on a machine others keep busy can take most of a second. Some
    # slack too for this thread, which sees each ping as late as it runs.
    mark = notify.count()
    time.sleep(3.0)
    pings = [t for t, text, _ in notify.since(mark) if text == "WATCHDOG=1"]
    gaps = [round(b - a, 3) for a, b in zip(pings, pings[1:])]
    assert len(pings) >= 5, gaps
    assert 0.45 <= (pings[-1] - pings[0]) / len(gaps) <= 0.65, gaps
    assert max(gaps) < WATCHDOG_USEC / 1e6, gaps
    assert all(text == "WATCHDOG=1" for _, text, _ in notify.since(mark)), \
        f"more than pings while nothing changed: {[m[1] for m in notify.since(mark)]}"

    # A reload: RELOADING=1 (with MONOTONIC_USEC), then READY=1, applied ...
    mark = notify.count()
    ok, lines, _, _ = d.reload(d.cfg)
    assert ok, lines
    i, (_, text, _) = notify.wait(r"^RELOADING=1", after=mark)
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", text), text
    usec = int(text.split("=")[-1])
    assert abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 10, usec
    _, (_, text, log) = notify.wait(r"^READY=1", after=i + 1)
    assert text.startswith("READY=1\nSTATUS=2 service(s)"), text
    assert "reloaded: " in log, d.diag("READY=1 before the reload was done")

    # ... or refused.
    mark = notify.count()
    bad = d.config_path.read_text().replace("forwarding: dr", "forwarding: teleport", 1)
    ok, lines, _, _ = d.reload(bad)
    assert not ok, lines
    i, _ = notify.wait(r"^RELOADING=1", after=mark)
    _, (_, text, log) = notify.wait(r"^READY=1", after=i + 1)
    assert "reload refused" in log, d.diag()
    d.write_config(d.cfg)

    # SIGTERM: STOPPING=1, and the daemon exits cleanly.
    mark = notify.count()
    d.stop()
    texts = [m[1] for m in notify.since(mark)]
    assert "STOPPING=1" in texts, texts
    assert not any(t.startswith("READY=1") for t in texts[texts.index("STOPPING=1"):]), texts


def test_journal_lines(d):
    d.stop(check=False)  # left running by a test that failed
    # A JOURNAL_STREAM naming another file: stderr is not the journal, lines stay as they are.
    d.log_path.touch()
    mark = len(d.log_lines())
    d.start(d.cfg, warm_up=False, env={"JOURNAL_STREAM": "1:1"})
    _, line = d.wait_log(r"shoald running", after=mark)
    assert TIMESTAMP.match(line) and " info shoald running" in line, line
    d.stop()

    st = os.stat(d.log_path)
    mark = len(d.log_lines())
    d.start(d.cfg, env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    _, line = d.wait_log(r"shoald running", after=mark)
    assert line.startswith("<6>info shoald running: 2 service(s)"), line

    bad = d.config_path.read_text().replace("forwarding: dr", "forwarding: teleport", 1)
    ok, lines, _, _ = d.reload(bad)
    d.write_config(d.cfg)
    assert not ok, lines
    refused = [ln for ln in lines if "reload refused" in ln]
    assert refused and all(ln.startswith("<3>error ") for ln in refused), lines
    assert any(ln.startswith("<3>error ") and "teleport" in ln for ln in lines), lines
    assert any(ln.startswith("<6>info reloading ") for ln in lines), lines

    logged = [ln for ln in d.log_lines()[mark:] if ln.startswith("<")]
    assert logged and all(re.match(r"<[2-7]>(critical|error|warning|info|debug) ", ln)
                          for ln in logged), logged
    assert not any(TIMESTAMP.match(ln) for ln in d.log_lines()[mark:]), d.diag()
    fc = d.stop()  # the exit dump is read as ever
    assert fc["balanced"], fc


def test_a_drained_backend_stays_drained_across_a_restart(d):
    if d.proc is None or d.proc.poll() is not None:
        d.start(d.cfg)
    assert set(spread(d, 300, 21000)) == {"rs1", "rs2", "rs3"}
    d.ctl("drain", "web", "rs2")
    saved = json.loads((d.state_dir / "admin-state.json").read_text())
    assert saved["backends"] == [{"service": "web", "backend": "rs2", "state": "draining"}], saved

    d.stop()
    mark = len(d.log_lines())
    d.start(d.cfg)
    d.wait_log(r"admin states of 1 backend\(s\) restored from .*admin-state\.json", after=mark)
    rs2 = web_backend(d.api_json("GET", "/v1/services"), "rs2")
    assert rs2["admin_state"] == "draining" and rs2["accepts_new_flows"] is False, rs2
    hist = spread(d, 300, 22000)
    assert "rs2" not in hist and set(hist) == {"rs1", "rs3"}, hist

    # Enabled again, and so it stays after the next restart.
    d.ctl("enable", "web", "rs2")
    assert json.loads((d.state_dir / "admin-state.json").read_text())["backends"] == []

    # A state directory that cannot be written: the drain applies, and the answer says it was
    # not kept (a file where the directory should be stops even root). Back, it is kept again.
    shutil.rmtree(d.state_dir)
    d.state_dir.write_text("not a directory")
    try:
        p = d.ctl("drain", "web", "rs2")
        assert "web/rs2: draining" in p.stdout, p.stdout
        assert "warning: draining applies now, but the state directory could not keep it" in p.stderr, p.stderr
        rs2 = web_backend(d.api_json("GET", "/v1/services"), "rs2")
        assert rs2["admin_state"] == "draining", rs2
        d.wait_log(r"admin states not saved, they hold until shoald stops")
    finally:
        d.state_dir.unlink()
    answer = d.api_json("POST", "/v1/services/web/backends/rs2/enable")
    assert answer["persisted"] is True and "warning" not in answer, answer
    assert json.loads((d.state_dir / "admin-state.json").read_text())["backends"] == []
    d.stop()
    d.start(d.cfg)
    assert web_backend(d.api_json("GET", "/v1/services"), "rs2")["admin_state"] == "enabled"
    assert spread(d, 300, 23000).get("rs2", 0) > 30
