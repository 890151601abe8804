"""Notify commands and tracked scripts between two directors (DR lab, scripts/lab --directors
2): d1 (priority 150) and d2 (priority 100) share the VIP in instance "front" and run the
operator's commands in the background as keepalived would — notify_master / notify_backup /
notify_fault / notify_stop, and the generic notify with "INSTANCE front STATE priority" — each
writing its arguments and environment to a file. d1 tracks two scripts that test for a flag
file: "demote" (weight -60: d1 drops to 90, d2 takes over) and "fault" (weight 0: d1 goes to
fault). d1's health checks of the web backends fire notify_down / notify_up when a real
server's nginx stops and starts. A notify command that hangs is killed at its timeout while
the control loop keeps answering the API.

Run as root:  SHOAL_E2E_LAB=hooks /usr/bin/python3 -m pytest tests/e2e/test_notify.py
"""

import re
import subprocess
import time

import pytest

from conftest import Lab, Shoald, _DAEMONS, make_config, requirements_missing, shoald_path
from test_health import nginx

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

VIP = "10.0.0.100"
SCRIPT_INTERVAL = 0.2
NOTIFY_TIMEOUT = 1


def recorder(path, what):
    """A notify command (keepalived's string form, split into words without a shell) that
    appends `what`, its arguments and the SHOAL_* environment to `path`."""
    return (f"/bin/sh -c 'echo \"{what} args=[$*] event=$SHOAL_EVENT "
            f"instance=$SHOAL_VRRP_INSTANCE state=$SHOAL_VRRP_STATE "
            f"priority=$SHOAL_VRRP_PRIORITY backend=$SHOAL_SERVICE/$SHOAL_BACKEND "
            f"address=$SHOAL_BACKEND_ADDRESS\" >> {path}' {what}")


def notify_config(lab, director, priority, files):
    cfg = make_config(lab, director=director, tap="lan0" if director == 1 else None)
    cfg["api"] = {"socket": str(lab.state / f"d{director}.sock")}
    log = files[f"d{director}"]
    instance = {
        "name": "front", "vrid": 51, "priority": priority, "interval": 0.1,
        "addresses": [VIP], "garp": {"count": 2, "interval": 0.1},
        "notify_master": recorder(log, "master"),
        "notify_backup": recorder(log, "backup"),
        "notify_stop": recorder(log, "stop"),
        "notify": recorder(log, "notify"),
    }
    cfg["notify"] = {"timeout": NOTIFY_TIMEOUT}
    cfg["vrrp"] = {"instances": [instance]}
    if director == 1:
        # The fault command hangs after writing: it must be killed at its timeout.
        instance["notify_fault"] = ["/bin/sh", "-c", f"echo fault >> {log}; exec sleep 60"]
        instance["track"] = {"scripts": ["demote", {"name": "fault", "weight": 0}]}
        cfg["vrrp"]["scripts"] = [
            {"name": "demote", "command": f"test ! -e {files['demote']}",
             "interval": SCRIPT_INTERVAL, "weight": -60},
            {"name": "fault", "command": ["test", "!", "-e", str(files["fault"])],
             "interval": SCRIPT_INTERVAL, "weight": 50},  # the track's weight 0 wins
        ]
        for svc in cfg["services"]:
            if svc["name"] == "web":
                svc["health_check"] = {"type": "http", "path": "/", "interval": 0.3,
                                       "timeout": 0.2, "rise": 1, "fall": 1}
                svc["notify_up"] = recorder(files["backends"], "up")
                svc["notify_down"] = recorder(files["backends"], "down")
    return cfg


class Pair:
    def __init__(self, lab, d1, d2, files):
        self.lab, self.d1, self.d2, self.files = lab, d1, d2, files


@pytest.fixture(scope="module")
def pair(request, tmp_path_factory):
    if not shoald_path().exists():
        pytest.fail(f"shoald not built at {shoald_path()} (./scripts/build.sh release)")
    lab = Lab("dr", servers=3, directors=2)
    request.addfinalizer(lab.down)  # registered first: runs last
    tmp = tmp_path_factory.mktemp("notify")
    files = {k: tmp / k for k in ("d1", "d2", "backends", "demote", "fault")}
    d1 = Shoald(lab, tmp, name="d1", node="d1")
    d2 = Shoald(lab, tmp, name="d2", node="d2")
    for d in (d1, d2):
        d.api_socket = lab.state / f"{d.node}.sock"  # where notify_config puts it
        request.addfinalizer(lambda d=d: _DAEMONS.remove(d))
        request.addfinalizer(lambda d=d: d.stop(check=False))
    lab.up()
    d1.start(notify_config(lab, 1, 150, files), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", timeout=10)
    d2.start(notify_config(lab, 2, 100, files), warm_up=False)
    d2.wait_log(r"vrrp front: init -> backup", timeout=10)
    return Pair(lab, d1, d2, files)


def wait_line(path, pattern, timeout=5.0, after=0):
    """The first line of `path` (from line `after`) matching `pattern`, waited for."""
    rx = re.compile(pattern)
    deadline = time.time() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        for ln in lines[after:]:
            if rx.search(ln):
                return ln
        if time.time() > deadline:
            raise AssertionError(f"no /{pattern}/ in {path} after {timeout} s:\n" + "\n".join(lines))
        time.sleep(0.05)


def line_count(path):
    return len(path.read_text().splitlines()) if path.exists() else 0


def vrrp_front(d):
    return d.api("status")["vrrp"][0]


def wait_state(d, want, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        front = vrrp_front(d)
        if front["state"] == want:
            return front
        if time.time() > deadline:
            raise AssertionError(d.diag(f"front is {front['state']}, not {want}, after {timeout} s"))
        time.sleep(0.05)


def metric(d, text):
    out = subprocess.run(["curl", "-s", "--unix-socket", str(d.api_socket),
                          "http://shoald/metrics"], capture_output=True, text=True,
                         timeout=10).stdout
    m = re.search(re.escape(text) + r" (\d+)", out)
    return int(m.group(1)) if m else None


def test_start_runs_master_and_backup_commands_with_keepalived_arguments(pair):
    f1, f2 = pair.files["d1"], pair.files["d2"]
    line = wait_line(f1, r"^master ")
    assert "event=vrrp instance=front state=MASTER priority=150" in line, line
    wait_line(f1, r"^notify args=\[INSTANCE front MASTER 150\]")
    line = wait_line(f2, r"^backup ")
    assert "state=BACKUP priority=100" in line, line
    wait_line(f2, r"^notify args=\[INSTANCE front BACKUP 100\]")
    assert re.search(r"notify vrrp instance front MASTER: running /bin/sh -c", pair.d1.log_text())
    scripts = {s["name"]: s for s in pair.d1.api("status")["vrrp_scripts"]}
    assert scripts["demote"]["state"] == "ok" and scripts["demote"]["last_exit"] == 0, scripts
    assert scripts["fault"]["weight"] == 50, scripts


def test_failing_script_with_negative_weight_moves_mastership(pair):
    d1, d2, f1, f2 = pair.d1, pair.d2, pair.files["d1"], pair.files["d2"]
    m1, m2 = line_count(f1), line_count(f2)
    pair.files["demote"].touch()
    try:
        front = wait_state(d2, "master", timeout=SCRIPT_INTERVAL * 2 + 2)
        assert front["priority"] == 100, front
        line = wait_line(f2, r"^master ", after=m2)
        assert "state=MASTER priority=100" in line, line
        wait_line(f2, r"^notify args=\[INSTANCE front MASTER 100\]", after=m2)
        wait_line(f1, r"^backup .*state=BACKUP priority=90", after=m1)
        front = vrrp_front(d1)
        assert front["priority"] == 90, front
        assert {"name": "script:demote", "weight": -60, "up": False} in front["tracks"], front
        demote = {s["name"]: s for s in d1.api("status")["vrrp_scripts"]}["demote"]
        assert demote["state"] == "failing" and demote["last_exit"] == 1, demote
        assert "vrrp script demote: failing (exit status 1)" in d1.ctl("status").stdout
    finally:
        pair.files["demote"].unlink()
    # Ok again: 150 preempts back.
    wait_state(d1, "master", timeout=SCRIPT_INTERVAL * 2 + 2)
    wait_state(d2, "backup")
    wait_line(f1, r"^master .*priority=150", after=m1)


def test_weight_zero_script_faults_and_a_hung_command_is_killed(pair):
    d1, d2, f1 = pair.d1, pair.d2, pair.files["d1"]
    m1 = line_count(f1)
    mark = len(d1.log_lines())
    timeouts = metric(d1, 'shoal_notify_runs_total{result="timeout"}') or 0
    pair.files["fault"].touch()
    try:
        wait_state(d1, "fault", timeout=SCRIPT_INTERVAL * 2 + 2)
        wait_state(d2, "master")
        wait_line(f1, r"^fault$", after=m1)
        wait_line(f1, r"^notify args=\[INSTANCE front FAULT 150\]", after=m1)
        # The fault command sleeps; the control loop answers meanwhile.
        for _ in range(5):
            t = time.monotonic()
            assert vrrp_front(d1)["state"] == "fault"
            assert time.monotonic() - t < 0.8, "the API waited for a notify command"
            time.sleep(0.1)
        d1.wait_log(r"notify vrrp instance front FAULT: killed after 1 s \(its timeout\)",
                    after=mark, timeout=NOTIFY_TIMEOUT + 2)
        assert metric(d1, 'shoal_notify_runs_total{result="timeout"}') == timeouts + 1
    finally:
        pair.files["fault"].unlink()
    wait_state(d1, "master", timeout=SCRIPT_INTERVAL * 2 + 2)
    wait_state(d2, "backup")


def test_real_server_down_and_up_run_notify_down_and_up(pair):
    d1, log = pair.d1, pair.files["backends"]
    d1.wait_log(r"rs2 10\.0\.0\.12:80 up", timeout=5)
    mark = line_count(log)
    nginx(d1, 2, "stop")
    try:
        line = wait_line(log, r"^down ", after=mark, timeout=3)
        assert "event=backend" in line and "backend=web/rs2 address=10.0.0.12" in line, line
    finally:
        nginx(d1, 2, "start")
    line = wait_line(log, r"^up ", after=mark, timeout=3)
    assert "backend=web/rs2 address=10.0.0.12" in line, line
    assert metric(d1, 'shoal_notify_runs_total{result="ok"}') >= 2


def test_reload_changes_scripts_and_commands(pair):
    """A positive weight now: while "demote" fails d1 keeps 150 - 10 = 140 and stays master;
    the new notify_master command is the one that runs next."""
    d1, f1 = pair.d1, pair.files["d1"]
    cfg = notify_config(pair.lab, 1, 150, pair.files)
    cfg["vrrp"]["scripts"][0]["weight"] = 10
    cfg["vrrp"]["instances"][0]["notify_master"] = recorder(f1, "reloaded-master")
    ok, lines, _, _ = d1.reload(cfg)
    assert ok, d1.diag("\n".join(lines))
    scripts = {s["name"]: s for s in d1.api("status")["vrrp_scripts"]}
    assert scripts["demote"]["weight"] == 10 and scripts["demote"]["state"] == "ok", scripts
    # Tracked with the script's weight: +10 while ok.
    deadline = time.time() + 3
    while vrrp_front(d1)["priority"] != 160 and time.time() < deadline:
        time.sleep(0.05)
    assert vrrp_front(d1)["priority"] == 160, d1.diag()
    pair.files["demote"].touch()
    try:
        deadline = time.time() + 3
        while vrrp_front(d1)["priority"] != 150 and time.time() < deadline:
            time.sleep(0.05)
        assert vrrp_front(d1)["priority"] == 150, d1.diag()
        assert vrrp_front(d1)["state"] == "master"
    finally:
        pair.files["demote"].unlink()
    # The fault script makes d1 hand over and take back: the new command runs.
    m1 = line_count(f1)
    pair.files["fault"].touch()
    try:
        wait_state(d1, "fault", timeout=SCRIPT_INTERVAL * 2 + 2)
    finally:
        pair.files["fault"].unlink()
    wait_state(d1, "master", timeout=SCRIPT_INTERVAL * 2 + 3)
    wait_line(f1, r"^reloaded-master .*priority=160", after=m1)


def test_stop_runs_notify_stop(pair):
    d2, f2 = pair.d2, pair.files["d2"]
    m2 = line_count(f2)
    d2.stop()
    line = wait_line(f2, r"^stop ", after=m2, timeout=1)  # run before shoald exited
    assert "state=STOP" in line, line
    wait_line(f2, r"^notify args=\[INSTANCE front STOP 100\]", after=m2, timeout=1)
