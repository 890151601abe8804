"""When every real server of a service is down (DR lab, HTTP checks through the exception
path): a sorry server takes the new connections, fail-open keeps forwarding to every backend
as if their checks passed, drop refuses them (counted as no_backend) — and once a real server
passes its checks again, new connections go back to it.

The same policies apply below a quorum: with `quorum: {up: 2, hysteresis: 1}` and real servers
of weights 2 and 1, the service keeps quorum with one left, loses it with none, and regains it
only once both are back (3 = 2 + 1), whether health checks or the operator take them out; the
sorry server serves meanwhile, and the API, /metrics, shoalctl list and the log say so, and the
quorum's notify_down and notify_up commands run.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_all_down.py
"""

import copy
import time
from pathlib import Path

import pytest

from conftest import VIP, make_config, requirements_missing, start_lab

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

CHECK = {"type": "http", "interval": 0.3, "timeout": 0.2, "rise": 1, "fall": 1,
         "initial": "down"}


@pytest.fixture(scope="module")
def d(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, "dr", servers=3)
    d.base = make_config(lab, tap="lan0")
    d.start(config(d, "sorry", path="/"), warm_up=False)
    for i in (1, 2, 3):
        d.wait_log(rf"rs{i} 10\.0\.0\.1{i}:80 up: ", timeout=15)
    d.warm_up()
    return d


def config(d, policy, path, sorry=True):
    """web: rs1 and rs2 checked at `path`; rs3 a sorry server (checked at /) or a third real
    backend checked like the others."""
    cfg = copy.deepcopy(d.base)
    web = next(s for s in cfg["services"] if s["name"] == "web")
    web["all_down"] = policy
    web["health_check"] = dict(CHECK, path=path)
    rs3 = web["backends"][2]
    rs3["weight"] = 1
    if sorry:
        rs3["sorry"] = True
        rs3["health_check"] = {"path": "/"}
    return cfg


def requests(d, base, count=120, timeout=5):
    return d.lab.client("http", "--vip", VIP, "--port", 80, "--count", count,
                        "--sport-base", base, "--timeout", timeout)


def reload_and_wait(d, cfg, patterns):
    mark = len(d.log_lines())
    ok, lines, _, _ = d.reload(cfg)
    assert ok, "\n".join(lines)
    for p in patterns:
        d.wait_log(p, after=mark, timeout=10)


def test_sorry_server_idle_while_real_servers_are_up(d):
    res = requests(d, 21000)
    assert res["ok"] == 120 and set(res["hist"]) == {"rs1", "rs2"}, res


def test_sorry_server_takes_over_when_all_are_down(d):
    reload_and_wait(d, config(d, "sorry", path="/missing"),
                    [r"rs1 10\.0\.0\.11:80 down: http status 404", r"rs2 10\.0\.0\.12:80 down: "])
    res = requests(d, 22000)
    assert res["ok"] == 120 and set(res["hist"]) == {"rs3"}, res


def test_fail_open_forwards_to_every_backend(d):
    reload_and_wait(d, config(d, "fail-open", path="/missing", sorry=False),
                    [r"rs3 10\.0\.0\.13:80 down: http status 404"])
    listed = next(s for s in d.api("list")["services"] if s["name"] == "web")
    assert not any(b["health"]["up"] for b in listed["backends"]), listed
    assert all(b["accepts_new_flows"] for b in listed["backends"]), listed
    res = requests(d, 23000)
    assert res["ok"] == 120 and set(res["hist"]) == {"rs1", "rs2", "rs3"}, res


def test_drop_refuses_new_connections(d):
    reload_and_wait(d, config(d, "drop", path="/missing", sorry=False), [])
    before = d.api("counters")["total"]["drops"]["no_backend"]
    res = requests(d, 24000, count=3, timeout=1)
    assert res["ok"] == 0, res
    assert d.api("counters")["total"]["drops"]["no_backend"] >= before + 3


def test_back_to_the_real_servers_once_they_pass(d):
    reload_and_wait(d, config(d, "sorry", path="/"),
                    [r"rs1 10\.0\.0\.11:80 up: ", r"rs2 10\.0\.0\.12:80 up: "])
    res = requests(d, 25000)
    assert res["ok"] == 120 and set(res["hist"]) == {"rs1", "rs2"}, res
    d.assert_balanced()


def quorum_config(d, path="/"):
    """rs1 (weight 2, checked at `path`) and rs2 (weight 1, checked at /), quorum 2 with
    hysteresis 1, rs3 the sorry server."""
    cfg = config(d, "sorry", path="/")
    web = next(s for s in cfg["services"] if s["name"] == "web")
    log = quorum_log(d)
    web["quorum"] = {"up": 2, "hysteresis": 1,
                     "notify_up": f"/bin/sh -c 'echo up $SHOAL_HEALTHY_WEIGHT >> {log}'",
                     "notify_down": f"/bin/sh -c 'echo down $SHOAL_HEALTHY_WEIGHT >> {log}'"}
    web["backends"][0]["weight"] = 2
    web["backends"][0]["health_check"] = {"path": path}
    return cfg


def quorum_log(d):
    """Where the quorum notify commands write."""
    return Path(d.api_socket).parent / "quorum-notify.log"


def wait_notified(d, want, timeout=5):
    deadline = time.time() + timeout
    while True:
        lines = quorum_log(d).read_text().splitlines() if quorum_log(d).exists() else []
        if lines and lines[-1] == want:
            return lines
        assert time.time() < deadline, f"the quorum notify commands wrote {lines}, not {want!r}"
        time.sleep(0.1)


def quorum(d):
    return next(s for s in d.api("list")["services"] if s["name"] == "web")["quorum"]


def metric(d, name):
    text = d.metrics_text()
    line = next(l for l in text.splitlines() if l.startswith(f'{name}{{service="web"}}'))
    return float(line.split()[-1])


def test_quorum_kept_above_its_hysteresis(d):
    reload_and_wait(d, quorum_config(d, path="/missing"),
                    [r"rs1 10\.0\.0\.11:80 down: http status 404"])
    # 1 left: below 2, but not below 2 - 1. The service stays up on rs2 alone.
    assert quorum(d) == {"up": True, "healthy_weight": 1, "needs": 2, "hysteresis": 1}
    res = requests(d, 26000)
    assert res["ok"] == 120 and set(res["hist"]) == {"rs2"}, res


def test_quorum_lost_hands_new_flows_to_the_sorry_server(d):
    mark = len(d.log_lines())
    d.ctl("disable", "web", "rs2")
    d.wait_log(r"service web: quorum lost \(healthy weight 0, needs 2 - hysteresis 1\)",
               after=mark, timeout=10)
    assert quorum(d)["up"] is False
    assert metric(d, "shoal_service_quorum_up") == 0
    assert metric(d, "shoal_service_healthy_weight") == 0
    assert "quorum 0/2 lost" in d.ctl("list").stdout
    wait_notified(d, "down 0")  # notify_down, with the weight in its environment
    res = requests(d, 27000)
    assert res["ok"] == 120 and set(res["hist"]) == {"rs3"}, res


def test_quorum_regained_only_above_its_hysteresis(d):
    d.ctl("enable", "web", "rs2")
    time.sleep(0.5)
    # 1 is back: not 2 + 1 yet, the sorry server still serves.
    assert quorum(d) == {"up": False, "healthy_weight": 1, "needs": 2, "hysteresis": 1}
    res = requests(d, 28000)
    assert res["ok"] == 120 and set(res["hist"]) == {"rs3"}, res
    reload_and_wait(d, quorum_config(d, path="/"),
                    [r"rs1 10\.0\.0\.11:80 up: ",
                     r"service web: quorum regained \(healthy weight 3, needs 2 \+ hysteresis 1\)"])
    res = requests(d, 29000)
    assert res["ok"] == 120 and set(res["hist"]) == {"rs1", "rs2"}, res
    assert wait_notified(d, "up 3") == ["down 0", "up 3"]
    assert metric(d, "shoal_service_quorum_up") == 1
    # Every change logged is counted, the earlier tests' (quorum 1: all down) included.
    text = d.metrics_text()
    log = "\n".join(d.log_lines())
    for to, word in (("down", "lost"), ("up", "regained")):
        logged = log.count(f"service web: quorum {word} ")
        assert logged >= 1
        assert f'shoal_quorum_transitions_total{{service="web",to="{to}"}} {logged}' in text, text
