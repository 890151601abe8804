"""When every real server of a service is down (DR lab, HTTP checks through the exception
path): a sorry server takes the new connections, fail-open keeps forwarding to every backend
as if their checks passed, drop refuses them (counted as no_backend) — and once a real server
passes its checks again, new connections go back to it.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_all_down.py
"""

import copy

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
