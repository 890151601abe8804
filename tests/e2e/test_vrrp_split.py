"""VRRP between two directors that stop hearing each other, and a returning director that waits
before it preempts (DR lab, scripts/lab --directors 2; d1 priority 150, d2 priority 100, 100 ms
interval, the virtual MAC, bursts of 3 gratuitous ARPs).

The partition is made on the lab's bridge: `bridge link set ... mcast_flood off` on a
director's bridge port stops the multicast advertisements (224.0.0.18) reaching that director,
while unicast and broadcast traffic (ARP) still pass, so that the client keeps seeing both.

- Split brain: for 5 s neither hears the other and both are master. After the heal the loser
  steps down within one advertisement interval plus SLACK (the first advertisement of the
  winner is at most one interval away), and the winner never leaves master.
- Whether the winner hears the loser after a symmetric heal is a race (the loser falls silent
  as soon as it hears the winner). A one-way heal makes it certain: the winner, hearing a
  lower-priority master, logs the conflict and sends a burst of gratuitous ARPs within an
  interval plus SLACK (RFC 9568 §6.4.3 has it answer with an advertisement; the burst is
  keepalived's garp_lower_prio_repeat), so that hosts and bridges that followed the loser
  come back.
- Preemption delay: d1 returns with preempt_delay 2 s while d2 is master: it stays backup for
  2 s after its start, then takes over within Master_Down_Interval plus SLACK.

Run as root:  SHOAL_E2E_LAB=vs /usr/bin/python3 -m pytest tests/e2e/test_vrrp_split.py
"""

import json
import re
import subprocess
import time

import pytest

from conftest import PY, VIP, requirements_missing
from test_vrrp import (INTERVAL, SLACK, VMAC, WIRE, Pair, log_time, master_down, start_pair,
                       state, vrrp_config)

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

SPLIT_SECONDS = 5.0
PREEMPT_DELAY = 2.0


class SplitPair(Pair):
    """The pair, with a way to keep the directors from hearing each other."""

    def deafen(self, node, deaf):
        """Whether the bridge floods multicast (advertisements) to `node`'s port."""
        self.lab.exec("lan", "bridge", "link", "set", "dev", f"{self.lab.prefix}-{node}p",
                      "mcast_flood", "off" if deaf else "on")

    def heal(self):
        self.lab.exec("lan", "sh", "-c", " && ".join(
            f"bridge link set dev {self.lab.prefix}-{n}p mcast_flood on" for n in ("d1", "d2")))


@pytest.fixture(scope="module")
def pair(request, tmp_path_factory):
    return start_pair(request, tmp_path_factory, "dr", SplitPair)


def garp_sniffer(lab, seconds):
    p = lab.popen("client", PY, WIRE, "garps", "--vip", VIP, "--seconds", seconds,
                  stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # scapy's socket is open a little after "ready"
    return p


def garps_of(sniffer):
    return [json.loads(ln) for ln in sniffer.communicate(timeout=60)[0].splitlines() if ln]


def split(pair):
    """Both directors deaf to advertisements until d2, no longer hearing d1, is master."""
    mark2 = len(pair.d2.log_lines())
    cut = time.time()
    pair.deafen("d1", True)
    pair.deafen("d2", True)
    _, line = pair.d2.wait_log(r"vrrp front: backup -> master .*master down timer expired",
                               after=mark2, timeout=5)
    took = log_time(line) - cut
    assert took <= master_down(100) + SLACK, pair.d2.diag(f"{took:.3f} s")
    return cut


def test_split_brain_heals_to_the_higher_priority(pair):
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    assert state(d1) == "master" and state(d2) == "backup"
    mark1 = len(d1.log_lines())
    try:
        cut = split(pair)
        assert state(d1) == "master" and state(d2) == "master", "not a split brain"
        time.sleep(max(0.0, cut + SPLIT_SECONDS - time.time() - 1.0))
        sniffer = garp_sniffer(lab, 3)  # about 1 s of the split, then the heal
        mark1h, mark2 = len(d1.log_lines()), len(d2.log_lines())
        healed = time.time()
    finally:
        pair.heal()
    _, line = d2.wait_log(r"vrrp front: master -> backup .*higher priority 150", after=mark2,
                          timeout=5)
    took = log_time(line) - healed
    bound = INTERVAL + SLACK
    print(f"\nsplit brain of {healed - cut:.1f} s healed: one master again after "
          f"{took * 1000:.0f} ms (bound {bound * 1000:.0f} ms)")
    assert took <= bound, d2.diag(f"took {took:.3f} s > {bound:.3f} s")

    # The winner never left master, through the split and the heal.
    assert not any(re.search(r"vrrp front: master -> ", ln) for ln in d1.log_lines()[mark1:]), \
        d1.diag("the higher priority left master")
    time.sleep(1.0)  # a few intervals: the loser stays down
    assert state(d1) == "master" and state(d2) == "backup", d2.diag()
    assert not any("backup -> master" in ln for ln in d2.log_lines()[mark2:]), d2.diag()

    # If d1 heard d2 before d2 fell silent, it announced the VIP again.
    garps = [g for g in garps_of(sniffer) if g["t"] >= healed]
    heard = [ln for ln in d1.log_lines()[mark1h:]
             if re.search(r"vrrp front: another master, 10\.0\.0\.3 with priority 100", ln)]
    print(f"winner heard the loser after the heal: {'yes' if heard else 'no'}; "
          f"gratuitous ARPs after the heal: {len(garps)}")
    if heard:
        assert len(garps) >= 3 and all(g["mac"] == VMAC for g in garps), garps
    res = lab.client("http", "--vip", VIP, "--port", 80, "--count", 20, "--timeout", 2)
    assert res["ok"] == 20, res


def test_healed_winner_announces_its_addresses_again(pair):
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    assert state(d1) == "master" and state(d2) == "backup"
    try:
        split(pair)
        time.sleep(0.5)  # d2's own burst on becoming master is over (3 × 100 ms)
        sniffer = garp_sniffer(lab, 3)
        mark1, mark2 = len(d1.log_lines()), len(d2.log_lines())
        # One way first: d1 hears d2, d2 still hears nothing of d1.
        half = time.time()
        pair.deafen("d1", False)
        _, line = d1.wait_log(r"vrrp front: another master, 10\.0\.0\.3 with priority 100: "
                              r"announcing the addresses again", after=mark1, timeout=5)
        took = log_time(line) - half
        garps = [g for g in garps_of(sniffer) if g["t"] >= half - 0.5]
        assert garps and all(g["mac"] == VMAC for g in garps), garps
        first = garps[0]["t"] - half
        print(f"\nwinner heard the other master {took * 1000:.0f} ms after the one-way heal; "
              f"{len(garps)} gratuitous ARPs, the first after {first * 1000:.0f} ms")
        assert took <= INTERVAL + SLACK, d1.diag(f"{took:.3f} s")
        assert len(garps) == 3 and 0 <= first <= INTERVAL + SLACK, garps
        assert state(d2) == "master"  # deaf to d1 still
        healed = time.time()
    finally:
        pair.heal()
    _, line = d2.wait_log(r"vrrp front: master -> backup .*higher priority 150", after=mark2,
                          timeout=5)
    took = log_time(line) - healed
    assert took <= INTERVAL + SLACK, d2.diag(f"{took:.3f} s")
    assert state(d1) == "master" and state(d2) == "backup"
    res = lab.client("http", "--vip", VIP, "--port", 80, "--count", 20, "--timeout", 2)
    assert res["ok"] == 20, res


def test_returning_director_waits_for_its_preempt_delay(pair):
    d1, d2, lab = pair.d1, pair.d2, pair.lab
    assert state(d1) == "master"
    mark2 = len(d2.log_lines())
    d1.stop()
    d2.wait_log(r"vrrp front: backup -> master", after=mark2, timeout=5)
    mark1, mark2 = len(d1.log_lines()), len(d2.log_lines())
    cfg = vrrp_config(lab, 1, 150)
    cfg["vrrp"]["instances"][0]["preempt_delay"] = PREEMPT_DELAY
    d1.start(cfg, warm_up=False)
    _, line = d1.wait_log(r"vrrp front: init -> backup", after=mark1, timeout=10)
    started = log_time(line)
    _, line = d1.wait_log(r"vrrp front: backup -> master", after=mark1, timeout=10)
    took = log_time(line) - started
    bound = PREEMPT_DELAY + master_down(150) + SLACK
    print(f"\npreempt_delay {PREEMPT_DELAY:.0f} s: took over {took * 1000:.0f} ms after its "
          f"start (window {PREEMPT_DELAY * 1000:.0f}..{bound * 1000:.0f} ms)")
    assert PREEMPT_DELAY <= took <= bound, d1.diag(f"took over after {took:.3f} s")
    # Until then d2 was master all along.
    _, line = d2.wait_log(r"vrrp front: master -> backup .*higher priority 150", after=mark2,
                          timeout=5)
    assert log_time(line) - started >= PREEMPT_DELAY, d2.diag()
    assert sum("-> " in ln for ln in d2.log_lines()[mark2:]) == 1, d2.diag()
    d1.warm_up()
