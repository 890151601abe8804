"""Health checks end to end (DR lab): shoald's HTTP checks of the real servers, made from the
director's kernel through the port's exception path (a TAP), take a server whose nginx stopped out of
the Maglev table within interval × fall + timeout — after which no request fails — and bring
it back once it answers again for `rise` checks.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_health.py
"""

import json
import re
import time

import pytest

from conftest import (VIP, make_config, parse_wrk, requirements_missing, start_client, start_lab,
                      start_wrk)

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")

INTERVAL, TIMEOUT, RISE, FALL = 0.5, 0.3, 2, 3
DETECT = INTERVAL * FALL + TIMEOUT  # the longest a dead server may still get new flows


@pytest.fixture(scope="module")
def hc(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, "dr", servers=3)
    cfg = make_config(lab, tap="lan0")
    for svc in cfg["services"]:
        if svc["name"] == "web":
            svc["health_check"] = {"type": "http", "path": "/", "interval": INTERVAL,
                                   "timeout": TIMEOUT, "rise": RISE, "fall": FALL,
                                   "initial": "down"}
    d.start(cfg, warm_up=False)
    for i in (1, 2, 3):
        d.wait_log(rf"rs{i} 10\.0\.0\.1{i}:80 up: http status 200", timeout=10)
    d.warm_up()
    return d


def answered(d, count, base):
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", count,
                       "--sport-base", base, timeout=120)
    return res


def nginx(d, server, action):
    conf = d.lab.state / f"rs{server}" / "nginx.conf"
    if action == "stop":
        pid = (d.lab.state / f"rs{server}" / "nginx.pid").read_text().strip()
        d.lab.exec(f"rs{server}", "kill", "-QUIT", pid)
        for _ in range(50):  # until the listener is gone
            out = d.lab.exec(f"rs{server}", "ss", "-ltn", "sport = :80").stdout
            if ":80" not in out:
                return
            time.sleep(0.1)
        pytest.fail(f"nginx on rs{server} did not stop")
    else:
        d.lab.exec(f"rs{server}", "nginx", "-c", str(conf))


def test_all_servers_up_at_start(hc):
    for i in (1, 2, 3):
        assert re.search(rf"rs{i} 10\.0\.0\.1{i}:80 up: http status 200", hc.log_text()), \
            hc.diag(f"rs{i} never came up")
    res = answered(hc, 300, 21000)
    assert res["ok"] == 300 and set(res["hist"]) == {"rs1", "rs2", "rs3"}, hc.diag(str(res))


def test_dead_server_removed_then_back(hc):
    mark = len(hc.log_lines())
    nginx(hc, 2, "stop")
    stopped = time.monotonic()
    hc.wait_log(r"rs2 10\.0\.0\.12:80 down: http connect", after=mark, timeout=DETECT + 3)
    took = time.monotonic() - stopped
    assert took <= DETECT + 0.5, hc.diag(f"down after {took:.2f} s; allowed {DETECT} s")
    # From now on no new connection may reach rs2, so none fails.
    res = answered(hc, 300, 22000)
    assert res["ok"] == 300 and "rs2" not in res["hist"], hc.diag(str(res))

    mark = len(hc.log_lines())
    nginx(hc, 2, "start")
    hc.wait_log(rf"rs2 10\.0\.0\.12:80 up: http status 200 \({RISE}/{RISE}\)", after=mark,
                timeout=INTERVAL * RISE + TIMEOUT + 3)
    res = answered(hc, 300, 23000)
    assert res["ok"] == 300 and res["hist"].get("rs2", 0) > 30, hc.diag(str(res))
    hc.assert_balanced()


def test_under_wrk_load_no_request_fails_once_detected(hc):
    """wrk keeps the VIP busy (keep-alive) and client.py opens a connection per request while
    rs1's nginx stops: from its detection on, no new connection reaches rs1 and no request
    fails; a second wrk run after detection sees no error at all."""
    seconds = DETECT + 4
    wrk = start_wrk(hc, seconds)
    client = start_client(hc, seconds)
    time.sleep(1)
    mark = len(hc.log_lines())
    nginx(hc, 1, "stop")
    stopped = time.time()
    try:
        hc.wait_log(r"rs1 10\.0\.0\.11:80 down: ", after=mark, timeout=DETECT + 3)
        detected = time.time()
        assert detected - stopped <= DETECT + 0.5, hc.diag(f"down after {detected - stopped:.2f} s")
        out, _ = client.communicate(timeout=seconds + 30)
        timeline = json.loads(out.strip().splitlines()[-1])["timeline"]
        late = [t for t in timeline if t[0] > detected + 0.05]
        assert len(late) > 20, f"too few requests after detection: {len(late)}"
        bad = [t for t in late if t[2] == "rs1" or t[2].startswith("!")]
        assert not bad, hc.diag(f"after detection: {bad[:5]}")
        wrk.communicate(timeout=seconds + 30)
        after = start_wrk(hc, 2)
        res = parse_wrk(after.communicate(timeout=40)[0])
        assert res["requests"] > 100 and res["errors"] == 0, res
    finally:
        for p in (wrk, client):
            if p.poll() is None:
                p.kill()
                p.wait()
        nginx(hc, 1, "start")
    hc.wait_log(r"rs1 10\.0\.0\.11:80 up: ", after=mark, timeout=INTERVAL * RISE + TIMEOUT + 5)
    hc.assert_balanced()
