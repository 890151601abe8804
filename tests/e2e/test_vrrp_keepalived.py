"""shoald and keepalived as VRRP peers (DR lab with two directors): shoald runs in d1,
keepalived (Debian's) in d2 on the kernel side of d2's veth. Whichever has the higher priority
is master, and each takes over from the other when that one is killed, within
Master_Down_Interval plus 100 ms. Only the election is tested: keepalived's kernel does not
balance the VIP's traffic. Every test runs twice: VRRP over IPv4 for 10.0.0.100, and VRRP over
IPv6 (from link-local addresses to ff02::12) for fd00::100. Over IPv6 the tests also ask the
segment who answers Neighbour Discovery for the VIP: the master alone, and, once shoald has
taken over, the client's cache holds shoald's virtual MAC, told by its unsolicited
advertisement.

Run as root:  SHOAL_E2E_LAB=vr /usr/bin/python3 -m pytest tests/e2e/test_vrrp_keepalived.py
"""

import json
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import (PY, VIP, VIP6, Lab, Shoald, _DAEMONS, make_config, requirements_missing,
                      shoald_path)
from test_lab import PROBE
from test_vrrp import INTERVAL, SLACK, VRID, log_time, master_down, state, vrrp_config

pytestmark = [
    pytest.mark.skipif(requirements_missing() is not None, reason=requirements_missing() or ""),
    pytest.mark.skipif(shutil.which("keepalived") is None,
                       reason="needs keepalived (scripts/install-deps.sh installs it)"),
]

KEEPALIVED_ADDRESS = "10.0.0.3"
VIRTUAL_MAC6 = f"00:00:5e:00:02:{VRID:02x}"  # RFC 9568 §7.3, IPv6


class Keepalived:
    """keepalived in d2, in the foreground; every output line kept with its arrival time.
    `vip`: the address its instance carries, and so the family it speaks VRRP in."""

    def __init__(self, lab, vip):
        self.lab = lab
        self.vip = vip
        self.proc = None
        self.lines = []  # (time.time(), line)
        self.lock = threading.Lock()
        self.configure_interface()

    def configure_interface(self):
        """d2's own address; over IPv6 also a link-local one to advertise from (the lab turns
        IPv6 off on directors' veths: shoald holds their addresses)."""
        iface = f"{self.lab.prefix}-d2"
        self.lab.exec("d2", "ip", "addr", "add", f"{KEEPALIVED_ADDRESS}/24", "dev", iface)
        if ":" in self.vip:
            self.lab.exec("d2", "sysctl", "-qw", f"net.ipv6.conf.{iface}.disable_ipv6=1")
            self.lab.exec("d2", "sysctl", "-qw", f"net.ipv6.conf.{iface}.disable_ipv6=0")
            self.lab.exec("d2", "ip", "-6", "addr", "add", "fd00::3/64", "dev", iface, "nodad")

    def start(self, priority):
        iface = f"{self.lab.prefix}-d2"
        prefix_len = 128 if ":" in self.vip else 32
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
        {self.vip}/{prefix_len}
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
        # The VIP a killed keepalived left on the interface would answer ARP (ND) as well.
        self.lab.exec("d2", "ip", "addr", "flush", "dev", f"{self.lab.prefix}-d2", check=False)
        self.configure_interface()


def peer_config(lab, vip, priority):
    """d1's config: the VRRP instance of test_vrrp, over the family of `vip`."""
    if ":" not in vip:
        return vrrp_config(lab, 1, priority)
    cfg = make_config(lab, director=1, family="ipv6")
    cfg["api"] = {"socket": str(lab.state / "d1.sock")}
    cfg["vrrp"] = {"instances": [{
        "name": "front", "vrid": VRID, "priority": priority, "interval": INTERVAL,
        "addresses": [vip], "garp": {"count": 3, "interval": 0.1}}]}
    return cfg


def who_answers(lab, vip):
    """The MACs that answer the client's Neighbour Solicitation (ARP request) for `vip`."""
    out = lab.exec("client", PY, PROBE, "--iface", "eth0", vip, timeout=30).stdout
    return json.loads(out.strip().splitlines()[-1]).get(vip, [])


def mac_of(lab, node, iface):
    return lab.exec(node, "cat", f"/sys/class/net/{iface}/address").stdout.strip()


@pytest.fixture(scope="module", params=["ipv4", "ipv6"])
def peers(request, tmp_path_factory):
    if not shoald_path().exists():
        pytest.fail(f"shoald not built at {shoald_path()} (./scripts/build.sh release)")
    lab = Lab("dr", servers=3, directors=2)
    request.addfinalizer(lab.down)
    d1 = Shoald(lab, tmp_path_factory.mktemp("vrrp-ka"), name="d1", node="d1")
    request.addfinalizer(lambda: _DAEMONS.remove(d1))
    request.addfinalizer(lambda: d1.stop(check=False))
    lab.up()
    vip = VIP6 if request.param == "ipv6" else VIP
    d1.vip = vip
    ka = Keepalived(lab, vip)
    request.addfinalizer(ka.kill)
    return lab, d1, ka


def test_shoald_higher_is_master_then_keepalived_takes_over(peers):
    lab, d1, ka = peers
    d1.start(peer_config(lab, ka.vip, 150), warm_up=False)
    d1.wait_log(r"vrrp front: backup -> master", timeout=10)
    started = time.time()
    ka.start(100)
    ka.wait(r"Entering BACKUP STATE", after=started)
    time.sleep(1.0)
    assert state(d1) == "master", d1.diag()
    with ka.lock:
        assert not any("Entering MASTER STATE" in line for _, line in ka.lines), \
            "\n".join(line for _, line in ka.lines)
    d1.warm_up()  # shoald balances the VIP as master
    if ":" in ka.vip:
        # The master alone answers for the VIP, from its virtual MAC.
        assert who_answers(lab, ka.vip) == [VIRTUAL_MAC6], d1.diag()

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
    d1.start(peer_config(lab, ka.vip, 150), warm_up=False)
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
    peer = r"fe80::\S+" if ":" in ka.vip else r"10\.0\.0\.3"
    d1.wait_log(rf"vrrp front: master -> backup .*higher priority 200 from {peer}",
                after=mark, timeout=5)
    time.sleep(0.5)
    assert state(d1) == "backup", d1.diag()
    if ":" in ka.vip:
        # A backup answers nothing for the VIP: keepalived alone does (from d2's own MAC, as
        # it runs without use_vmac). The client caches that answer.
        d2_mac = mac_of(lab, "d2", f"{lab.prefix}-d2")
        assert who_answers(lab, ka.vip) == [d2_mac], d1.diag()
        lab.exec("client", PY, "-c", "import socket; socket.socket(socket.AF_INET6, "
                 f"socket.SOCK_DGRAM).sendto(b'x', ('{ka.vip}', 9))")
        time.sleep(0.3)
        neigh = lab.exec("client", "ip", "-6", "neigh", "show", ka.vip, "dev", "eth0").stdout
        assert d2_mac in neigh, neigh

    mark = len(d1.log_lines())
    killed = time.time()
    ka.kill()
    _, line = d1.wait_log(r"vrrp front: backup -> master", after=mark, timeout=5)
    took = log_time(line) - killed
    bound = master_down(150) + SLACK
    print(f"\nshoald took over from a killed keepalived after {took * 1000:.0f} ms "
          f"(bound {bound * 1000:.0f} ms)")
    assert took <= bound, d1.diag(f"{took:.3f} s")
    if ":" in ka.vip:
        # The takeover's unsolicited advertisement (Override set) replaced keepalived's MAC in
        # the client's cache, before any probe of its own could have (that waits 5 s).
        neigh = lab.exec("client", "ip", "-6", "neigh", "show", ka.vip, "dev", "eth0").stdout
        assert VIRTUAL_MAC6 in neigh, d1.diag(neigh)
    d1.warm_up()
