"""shoald and keepalived as VRRP peers (DR lab with two directors): shoald runs in d1,
keepalived (Debian's) in d2 on the kernel side of d2's veth. Whichever has the higher priority
is master, and each takes over from the other when that one is killed, within
Master_Down_Interval plus 100 ms. Only the election is tested: keepalived's kernel does not
balance the VIP's traffic.

Run as root:  SHOAL_E2E_LAB=vr /usr/bin/python3 -m pytest tests/e2e/test_vrrp_keepalived.py
"""

import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import VIP, Lab, Shoald, _DAEMONS, requirements_missing, shoald_path
from test_vrrp import INTERVAL, SLACK, VRID, log_time, master_down, state, vrrp_config

pytestmark = [
    pytest.mark.skipif(requirements_missing() is not None, reason=requirements_missing() or ""),
    pytest.mark.skipif(shutil.which("keepalived") is None,
                       reason="needs keepalived (scripts/install-deps.sh installs it)"),
]

KEEPALIVED_ADDRESS = "10.0.0.3"


class Keepalived:
    """keepalived in d2, in the foreground; every output line kept with its arrival time."""

    def __init__(self, lab):
        self.lab = lab
        self.proc = None
        self.lines = []  # (time.time(), line)
        self.lock = threading.Lock()

    def start(self, priority):
        iface = f"{self.lab.prefix}-d2"
        conf = self.lab.state / "keepalived.conf"
        conf.write_text(f"""global_defs {{
    router_id {self.lab.prefix}_d2
    vrrp_version 3
    script_user root
    enable_script_security
}}
vrrp_instance front {{
    state BACKUP
    interface {iface}
    virtual_router_id {VRID}
    priority {priority}
    advert_int {INTERVAL}
    virtual_ipaddress {{
        {VIP}/32
    }}
}}
""")
        self.lines = []
        state = self.lab.state
        self.proc = self.lab.popen(
            "d2", "keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
            "-f", conf, "-p", state / "keepalived.pid", "-r", state / "keepalived-vrrp.pid",
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append((time.time(), line.rstrip()))

    def wait(self, pattern, after=0.0, timeout=10.0):
        """(arrival time, line) of the first line matching `pattern` that arrived after
        `after` (a time.time())."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for t, line in self.lines:
                    if t >= after and rx.search(line):
                        return t, line
            time.sleep(0.01)
        with self.lock:
            tail = "\n".join(line for _, line in self.lines[-30:])
        raise AssertionError(f"keepalived: no /{pattern}/ in {timeout}s\n{tail}")

    def kill(self):
        if self.proc is not None:
            # keepalived's parent and its VRRP child, the only processes in d2: SIGKILL both,
            # by pid, as a crash would.
            ns = self.lab.ns("d2")
            for _ in range(100):
                pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                      text=True).stdout.split()
                if not pids:
                    break
                subprocess.run(["kill", "-KILL", *pids], capture_output=True)
                time.sleep(0.05)
            self.proc.wait(timeout=10)
        self.proc = None
        for name in ("keepalived.pid", "keepalived-vrrp.pid"):
            (self.lab.state / name).unlink(missing_ok=True)
        # The VIP a killed keepalived left on the interface would answer ARP as well.
        self.lab.exec("d2", "ip", "addr", "flush", "dev", f"{self.lab.prefix}-d2", check=False)
        self.lab.exec("d2", "ip", "addr", "add", f"{KEEPALIVED_ADDRESS}/24", "dev",
                      f"{self.lab.prefix}-d2")


@pytest.fixture(scope="module")
def peers(request, tmp_path_factory):
    if not shoald_path().exists():
        pytest.fail(f"shoald not built at {shoald_path()} (./scripts/build.sh release)")
    lab = Lab("dr", servers=3, directors=2)
    request.addfinalizer(lab.down)
    d1 = Shoald(lab, tmp_path_factory.mktemp("vrrp-ka"), name="d1", node="d1")
    request.addfinalizer(lambda: _DAEMONS.remove(d1))
    request.addfinalizer(lambda: d1.stop(check=False))
    lab.up()
    lab.exec("d2", "ip", "addr", "add", f"{KEEPALIVED_ADDRESS}/24", "dev", f"{lab.prefix}-d2")
    ka = Keepalived(lab)
    request.addfinalizer(ka.kill)
    return lab, d1, ka


def test_shoald_higher_is_master_then_keepalived_takes_over(peers):
    lab, d1, ka = peers
    d1.start(vrrp_config(lab, 1, 150), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", timeout=10)
    started = time.time()
    ka.start(100)
    ka.wait(r"Entering BACKUP STATE", after=started)
    time.sleep(1.0)
    assert state(d1) == "master", d1.diag()
    with ka.lock:
        assert not any("Entering MASTER STATE" in line for _, line in ka.lines), ka.lines
    d1.warm_up()  # shoald balances the VIP as master

    killed = time.time()
    d1.proc.kill()
    d1.proc.wait(timeout=10)
    d1.proc = None
    t, _ = ka.wait(r"Entering MASTER STATE", after=killed, timeout=5)
    took = t - killed
    bound = master_down(100) + SLACK
    print(f"\nkeepalived took over from a killed shoald after {took * 1000:.0f} ms "
          f"(bound {bound * 1000:.0f} ms, measured at the log line's arrival)")
    assert took <= bound + 0.05, f"{took:.3f} s"  # + the pipe from keepalived's log


def test_returning_shoald_preempts_keepalived(peers):
    lab, d1, ka = peers
    since = time.time()
    d1.start(vrrp_config(lab, 1, 150), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", timeout=10)
    ka.wait(r"Entering BACKUP STATE", after=since, timeout=5)
    d1.warm_up()


def test_keepalived_higher_wins_and_shoald_takes_over_when_it_dies(peers):
    lab, d1, ka = peers
    ka.kill()
    mark = len(d1.log_lines())
    since = time.time()
    ka.start(200)
    ka.wait(r"Entering MASTER STATE", after=since, timeout=10)
    d1.wait_log(r"vrrp front: master -> backup .*higher priority 200 from 10\.0\.0\.3",
                after=mark, timeout=5)
    time.sleep(0.5)
    assert state(d1) == "backup", d1.diag()

    mark = len(d1.log_lines())
    killed = time.time()
    ka.kill()
    _, line = d1.wait_log(r"vrrp front: backup -> master", after=mark, timeout=5)
    took = log_time(line) - killed
    bound = master_down(150) + SLACK
    print(f"\nshoald took over from a killed keepalived after {took * 1000:.0f} ms "
          f"(bound {bound * 1000:.0f} ms)")
    assert took <= bound, d1.diag(f"{took:.3f} s")
    d1.warm_up()
