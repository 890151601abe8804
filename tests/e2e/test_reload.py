"""End-to-end config reloads (SIGHUP) of a running shoald under load, in the namespace lab
with four real servers (the config starts with three); the run without removals also over
IPv6 (web on the IPv6 VIP fd00::100, in DR, NAT and TUN, one worker).

While wrk hammers the VIP over keep-alive connections and client.py opens a new connection
per request, 20 reloads about 0.5 s apart change weights, add a backend, drain one, and — in
the second run — remove backends:

- weights, additions and drains only: not one failed request (wrk nor client.py);
- with removals: failures only on connections that were open when a backend was removed —
  wrk's bounded by its connections × removals, client.py's only for requests in flight
  during a removal;
- every new connection opened between two reloads reaches a backend of the config then in
  force, with a non-zero weight (exact: the request started after the reload was logged and
  ended before the next SIGHUP); an added backend gets new connections.

An invalid file (an unknown key) is refused with FILE:LINE in the log and changes nothing:
the same backends keep answering. Every test ends with balanced counters, the module with
shoald's exit dump.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_reload.py
"""

import json
import shutil
import time

import pytest

from conftest import (VIP, VIP6, WRK_CONNECTIONS, config_text, make_config, parse_wrk,
                      requirements_missing, shares_ok, start_client, start_lab, start_wrk)

pytestmark = [
    pytest.mark.skipif(requirements_missing() is not None, reason=requirements_missing() or ""),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk"),
]

START = {1: 1, 2: 1, 3: 1}  # rs4 is in the lab, not in the config
RELOADS = 20
RELOAD_SPACING = 0.5  # seconds between SIGHUPs
WRK_SECONDS = 14


IPV4_SPECS = ["dr", "nat", "tun", "dr-2w", "nat-2w"]
IPV6_SPECS = ["dr-ipv6", "nat-ipv6", "tun-ipv6"]
# Each case names the labs it runs in; a lab (module-scoped) serves every case that names it.
ipv4_only = pytest.mark.parametrize("rl", IPV4_SPECS, indirect=True)
both_families = pytest.mark.parametrize("rl", IPV4_SPECS + IPV6_SPECS, indirect=True)


@pytest.fixture(scope="module")
def rl(request, tmp_path_factory):
    spec = request.param
    lab, d = start_lab(request, tmp_path_factory, spec.removesuffix("-ipv6"), servers=4)
    d.family = "ipv6" if spec.endswith("-ipv6") else "ipv4"
    d.vip = VIP6 if d.family == "ipv6" else VIP  # wrk's, client.py's and the warm-up's target
    d.start(config(d, START))
    return d


def config(d, web):
    return make_config(d.lab, workers=d.workers, web=web, family=d.family)


def steps_without_removal():
    """20 backend sets: weight changes, rs4 added at the second step, drains (weight 0)."""
    steps = []
    for k in range(RELOADS):
        members = [1, 2, 3] if k == 0 else [1, 2, 3, 4]
        weights = {i: (k + i) % 3 + 1 for i in members}
        if k % 4 == 3:
            weights[(k // 4) % len(members) + 1] = 0  # drain: no new flows, old ones stay
        steps.append(("weights" if k != 1 else "add rs4", weights))
    return steps


def steps_with_removal():
    """20 backend sets alternating a weight change with adding or removing a backend."""
    steps = []
    members = {1, 2, 3}
    order = [4, 1, 1, 2, 2, 3, 3, 4, 4, 1]  # add 4, remove 1, add 1, remove 2, ...
    for k in range(RELOADS):
        if k % 2 == 0:
            what = "weights"
        else:
            x = order[(k // 2) % len(order)]
            if x in members:
                members.remove(x)
                what = f"remove rs{x}"
            else:
                members.add(x)
                what = f"add rs{x}"
        steps.append((what, {i: (k + i) % 4 + 1 for i in sorted(members)}))
    return steps


def reload_under_load(d, steps):
    """Runs wrk and client.py while applying `steps`; returns (wrk result, client result,
    applied reloads as dicts: what, weights, t_sent, t_done)."""
    wrk = start_wrk(d, WRK_SECONDS)
    cli = start_client(d, WRK_SECONDS - 1)
    applied = []
    try:
        time.sleep(1.5)  # let both get going on the starting config
        last = time.time()
        for what, weights in steps:
            time.sleep(max(0.0, last + RELOAD_SPACING - time.time()))
            ok, lines, t_sent, t_done = d.reload(config(d, weights))
            last = t_sent
            assert ok, d.diag(f"reload '{what}' {weights} refused: {lines}")
            applied.append({"what": what, "weights": weights, "t_sent": t_sent,
                            "t_done": t_done})
        wrk_out, _ = wrk.communicate(timeout=WRK_SECONDS + 30)
        cli_out, cli_err = cli.communicate(timeout=WRK_SECONDS + 30)
    finally:
        for p in (wrk, cli):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert wrk.returncode == 0, f"wrk exited {wrk.returncode}: {wrk_out}"
    assert cli.returncode == 0, f"client.py exited {cli.returncode}: {cli_err}"
    return parse_wrk(wrk_out), json.loads(cli_out.strip().splitlines()[-1]), applied, wrk_out


def check_timeline(d, timeline, applied, initial):
    """Every request that ran entirely between two reloads reached a backend of the config in
    force then, with a non-zero weight. Returns {step index: histogram} (−1: before any)."""
    phases = [(-1, initial, 0.0)] + [(k, a["weights"], a["t_done"]) for k, a in enumerate(applied)]
    per_phase = {}
    bad = []
    first_use = {}
    for t0, t1, outcome, sport in timeline:
        first_use.setdefault(sport, []).append((t0, outcome))
    for t0, t1, outcome, sport in timeline:
        if outcome is None or outcome.startswith("!"):
            continue
        for k, weights, t_from in phases:
            t_until = applied[k + 1]["t_sent"] if k + 1 < len(applied) else float("inf")
            if t0 > t_from and t1 < t_until:
                per_phase.setdefault(k, {}).setdefault(outcome, 0)
                per_phase[k][outcome] += 1
                allowed = {f"rs{i}" for i, w in weights.items() if w > 0}
                if outcome not in allowed:
                    reused = [o for o in first_use.get(sport, []) if o[0] < t0]
                    bad.append(f"request {t0:.3f}-{t1:.3f} from port {sport} reached {outcome} "
                               f"under step {k} {weights}; earlier uses of the port: {reused}")
                break
    assert not bad, d.diag(f"{len(bad)} new connections went to a backend not in force: "
                           f"{bad[:10]}")
    return per_phase


def removal_windows(applied):
    return [(a["t_sent"], a["t_done"], a["what"]) for a in applied if a["what"].startswith("remove")]


@both_families
def test_reload_weights_and_add_under_load(rl):
    steps = steps_without_removal()
    wrk, cli, applied, wrk_out = reload_under_load(rl, steps)
    print(f"wrk: {wrk}; client.py: {cli['ok']}/{cli['count']} ok, {cli['hist']}")
    assert wrk["requests"] > 1000, wrk_out
    assert wrk["errors"] == 0, rl.diag(f"wrk failures without any removal: {wrk}\n{wrk_out}")
    assert cli["ok"] == cli["count"] and cli["count"] > 100, rl.diag(
        f"client.py failures without any removal: {cli['errors']} {cli['error_samples']}")
    per_phase = check_timeline(rl, cli["timeline"], applied, {i: w for i, w in START.items()})
    after_add = sum(h.get("rs4", 0) for k, h in per_phase.items() if k >= 1)
    assert after_add > 0, rl.diag(f"rs4 got no new connection after it was added: {per_phase}")
    rl.assert_balanced()


@ipv4_only
def test_reload_with_removals_under_load(rl):
    # Back to the starting config first (the previous test left rs4 in, weights changed).
    ok, lines, _, _ = rl.reload(config(rl, START))
    assert ok, rl.diag(lines)
    steps = steps_with_removal()
    wrk, cli, applied, wrk_out = reload_under_load(rl, steps)
    windows = removal_windows(applied)
    print(f"wrk: {wrk}; client.py: {cli['ok']}/{cli['count']} ok, errors {cli['errors']}, "
          f"{cli['hist']}; {len(windows)} removals")
    assert len(windows) >= 4
    assert wrk["requests"] > 1000, wrk_out
    # A keep-alive connection pinned to a removed backend breaks (its next packets go to
    # another server, which resets it): at most every connection, once per removal.
    assert wrk["errors"] <= WRK_CONNECTIONS * len(windows), rl.diag(
        f"wrk: {wrk} — more failures than connections × removals\n{wrk_out}")
    assert wrk["non2xx"] == 0 and wrk["connect"] == 0, rl.diag(f"wrk: {wrk}\n{wrk_out}")
    # client.py's requests fail only if they were in flight while a backend was removed.
    stray = []
    for t0, t1, outcome, _ in cli["timeline"]:
        if outcome is not None and outcome.startswith("!"):
            if not any(t0 < done and t1 > sent for sent, done, _ in windows):
                stray.append((t0, t1, outcome))
    assert not stray, rl.diag(f"client.py requests failed away from any removal: {stray[:10]}; "
                              f"removals {windows}")
    assert cli["count"] - cli["ok"] <= len(windows), rl.diag(
        f"more failed new connections ({cli['count'] - cli['ok']}) than removals: "
        f"{cli['error_samples']}")
    check_timeline(rl, cli["timeline"], applied, dict(START))
    rl.assert_balanced()


@ipv4_only
def test_invalid_reload_changes_nothing(rl):
    good = make_config(rl.lab, workers=rl.workers, web=START)
    ok, lines, _, _ = rl.reload(good)
    assert ok, rl.diag(lines)
    before = rl.lab.client("http", "--vip", VIP, "--port", 80, "--count", 300,
                           "--sport-base", 11000)
    assert before["ok"] == 300 and set(before["hist"]) == {"rs1", "rs2", "rs3"}, rl.diag(before)

    # The refused file would drop rs3, add rs4 and reweigh: none of it may happen. Its one
    # mistake: a misspelt key on rs2's line.
    bad_cfg = make_config(rl.lab, workers=rl.workers, web={1: 5, 2: 1, 4: 5})
    text = config_text(bad_cfg).splitlines()
    web_at = text.index("- name: web")
    rs2_at = next(i for i in range(web_at, len(text)) if text[i].strip() == "- name: rs2")
    weight_at = next(i for i in range(rs2_at, len(text)) if text[i].strip().startswith("weight:"))
    text[weight_at] = text[weight_at].replace("weight:", "wieght:")
    bad_line = weight_at + 1
    ok, lines, _, _ = rl.reload("\n".join(text) + "\n")
    assert not ok, rl.diag(f"an invalid file was accepted: {lines}")
    where = f"{rl.config_path}:{bad_line}:"
    named = [ln for ln in lines if where in ln]
    assert named and "wieght" in named[0], rl.diag(f"no error naming {where} and the key: {lines}")
    assert any("reload refused" in ln for ln in lines), lines
    print(f"refused: {named[0]}")

    after = rl.lab.client("http", "--vip", VIP, "--port", 80, "--count", 300,
                          "--sport-base", 12000)
    assert after["ok"] == 300, rl.diag(after)
    assert set(after["hist"]) == {"rs1", "rs2", "rs3"}, rl.diag(
        f"backends changed after a refused reload: before {before['hist']}, after {after['hist']}")
    problems = shares_ok(after["hist"], {"rs1": 1, "rs2": 1, "rs3": 1}, tolerance=0.35)
    assert not problems, rl.diag(f"weights changed after a refused reload: {problems}")

    # The daemon still reloads a good file afterwards.
    ok, lines, _, _ = rl.reload(make_config(rl.lab, workers=rl.workers, web={1: 1, 4: 1}))
    assert ok, rl.diag(lines)
    res = rl.lab.client("http", "--vip", VIP, "--port", 80, "--count", 100)
    assert res["ok"] == 100 and set(res["hist"]) == {"rs1", "rs4"}, rl.diag(res)
    rl.assert_balanced()


@pytest.mark.parametrize("rl", ["dr", "dr-ipv6"], indirect=True)
def test_reload_drops_a_static_neighbour_that_left_the_file(rl):
    """A static neighbour (`neighbours:`) with a wrong MAC for rs1, the only backend, sends
    every request nowhere; a reload with a file that no longer lists it drops it: rs1, still
    a backend, is resolved again (ARP, or Neighbour Discovery over IPv6) and answers."""
    rs1 = (rl.lab.rs_address6 if rl.family == "ipv6" else rl.lab.rs_address)(1)
    wrong = config(rl, {1: 1})
    wrong["neighbours"] = [{"address": rs1, "mac": "02:00:00:00:ee:01"}]
    ok, lines, _, _ = rl.reload(wrong)
    assert ok, rl.diag(lines)
    res = rl.lab.client("http", "--vip", rl.vip, "--port", 80, "--count", 3, "--timeout", 1,
                        "--sport-base", rl.lab.fresh_port())
    assert res["ok"] == 0, rl.diag(f"rs1 answered through a MAC that is no one's: {res}")

    ok, lines, _, _ = rl.reload(config(rl, START))
    assert ok, rl.diag(lines)
    rl.warm_up()
    res = rl.lab.client("http", "--vip", rl.vip, "--port", 80, "--count", 300, "--timeout", 2)
    assert res["ok"] == 300 and set(res["hist"]) == {"rs1", "rs2", "rs3"}, rl.diag(res)
    rl.assert_balanced()
