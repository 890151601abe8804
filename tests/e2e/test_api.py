"""The control API and shoalctl against a running shoald (DR lab): the socket's permissions,
every command, its exit codes, and the backend operations confirmed by traffic through the
VIP — a drained or disabled backend gets no new connection, and its admin state survives a
reload.

Run as root:  /usr/bin/python3 -m pytest tests/e2e/test_api.py
"""

import json
import os
import re
import stat
import subprocess
import time

import yaml

import pytest

from conftest import PY, VIP, make_config, requirements_missing, run, shoalctl_path, start_lab

pytestmark = pytest.mark.skipif(requirements_missing() is not None,
                                reason=requirements_missing() or "")


TOKEN = "lab-token-0123456789abcdef"
LISTEN = "127.0.0.1:8080"  # inside the director's namespace
METRICS = "127.0.0.1:9469"  # the token-free /metrics listener


@pytest.fixture(scope="module")
def d(request, tmp_path_factory):
    lab, d = start_lab(request, tmp_path_factory, "dr", servers=3)
    token_file = d.dir / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    d.cfg = make_config(lab)
    d.cfg["api"] = {"socket": str(d.api_socket), "listen": LISTEN, "token_file": str(token_file),
                    "metrics_listen": METRICS}
    d.start(d.cfg)
    return d


def http(d, method, path, *curl_args, body=None, listen=LISTEN):
    """curl in the director's namespace against a TCP listener: (status, body text)."""
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, *curl_args]
    if body is not None:
        args += ["--data-binary", body]
    out = d.lab.exec("d1", *args, f"http://{listen}{path}").stdout
    text, _, status = out.rpartition("\n")
    return int(status), text


def spread(d, count, base):
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", count,
                       "--sport-base", base)
    assert res["ok"] == count, d.diag(str(res))
    return res["hist"]


def backend(d, name, service="web"):
    svc = next(s for s in d.api("list")["services"] if s["name"] == service)
    return next(b for b in svc["backends"] if b["name"] == name)


def test_socket_is_root_only(d):
    st = os.stat(d.api_socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, oct(st.st_mode)
    # Another user cannot connect: shoalctl reports shoald unreachable (exit 3).
    p = run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", shoalctl_path(),
            "--socket", d.api_socket, "status", check=False)
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
    assert "cannot reach shoald" in p.stderr


def test_status_and_list(d):
    status = d.api("status")
    assert status["pid"] == d.proc.pid and status["services"] == 2 and status["backends"] == 6
    text = d.ctl("list", "-n").stdout
    assert re.search(r"^TCP  10\.0\.0\.100:80 +maglev 5-tuple +web$", text, re.M), text
    assert re.search(r"^  -> 10\.0\.0\.13:80 +Route +2 +2 +enabled +\d+ +\d+ +unchecked$", text,
                     re.M), text
    assert re.search(r"^UDP  10\.0\.0\.100:7 ", text, re.M), text
    counters = d.api("counters")
    assert counters["total"]["balanced"] is True and counters["total"]["rx"] > 0


# Run in a mount and network namespace of its own: /etc/hosts names the VIP and rs1, and the
# only name server is a black hole on the namespace's loopback that counts the questions it
# never answers, with a resolver that would wait 5 s x 3 for each.
NAMES_SCRIPT = r"""
set -eu
mount --bind "$DIR/hosts" /etc/hosts
mount --bind "$DIR/resolv.conf" /etc/resolv.conf
mount --bind "$DIR/nsswitch.conf" /etc/nsswitch.conf
ip link set lo up
"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
s.settimeout(20)
print("listening", flush=True)
asked = 0
try:
    while True:
        s.recvfrom(512)
        asked += 1
        open(sys.argv[1], "w").write(str(asked))
except socket.timeout:
    pass
' "$DIR/asked" > "$DIR/blackhole.out" &
for i in $(seq 50); do grep -q listening "$DIR/blackhole.out" && break; sleep 0.1; done
start=$(date +%s%N)
"$SHOALCTL" --socket "$SOCK" list
echo "took_ms $(( ($(date +%s%N) - start) / 1000000 ))"
"$SHOALCTL" --socket "$SOCK" list -n
kill %1
"""


def test_list_prints_names_unless_numeric(d, tmp_path):
    """ipvsadm's habit: `list` names hosts (the system's resolver) and ports (/etc/services),
    `list -n` prints numbers; a name server that never answers holds the listing for at most
    the lookups' shared budget (1 s), and the addresses it was asked about stay numbers."""
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n10.0.0.100 shop.lab\n10.0.0.11 rs1.lab\n")
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:5 attempts:3\n")
    (tmp_path / "nsswitch.conf").write_text("hosts: files dns\nservices: files\n")
    env = dict(os.environ, DIR=str(tmp_path), PY=PY, SHOALCTL=str(shoalctl_path()),
               SOCK=str(d.api_socket))
    p = run("unshare", "--mount", "--net", "bash", "-c", NAMES_SCRIPT, env=env, timeout=60)
    named, numeric = p.stdout.split("took_ms ")
    took_ms = int(numeric.split()[0])
    print(f"list with names took {took_ms} ms; the black hole was asked "
          f"{(tmp_path / 'asked').read_text()} time(s)")
    assert re.search(r"^TCP  shop\.lab:http +maglev 5-tuple +web$", named, re.M), named
    assert re.search(r"^UDP  shop\.lab:echo ", named, re.M), named
    assert re.search(r"^  -> rs1\.lab:http +Route ", named, re.M), named
    assert re.search(r"^  -> 10\.0\.0\.12:http +Route ", named, re.M), named  # no name in time
    assert int((tmp_path / "asked").read_text()) >= 1  # the resolver did ask, and got no answer
    assert took_ms < 3000, took_ms
    assert re.search(r"^TCP  10\.0\.0\.100:80 +maglev", numeric, re.M), numeric
    assert re.search(r"^  -> 10\.0\.0\.11:80 +Route ", numeric, re.M), numeric
    assert "shop.lab" not in numeric and "http" not in numeric


def test_drain_disable_enable_weight_are_seen_by_traffic(d):
    assert set(spread(d, 300, 21000)) == {"rs1", "rs2", "rs3"}
    out = d.ctl("drain", "web", "rs2").stdout
    assert "web/rs2: draining, weight 0" in out, out
    assert backend(d, "rs2")["accepts_new_flows"] is False
    assert "rs2" not in spread(d, 300, 22000)

    d.ctl("enable", "web", "rs2")
    assert spread(d, 300, 23000).get("rs2", 0) > 30
    d.ctl("disable", "web", "rs1")
    hist = spread(d, 300, 24000)
    assert "rs1" not in hist and hist.get("rs2", 0) > 30

    d.ctl("enable", "web", "rs1")
    d.ctl("weight", "web", "rs3", "0")
    assert backend(d, "rs3")["effective_weight"] == 0
    assert "rs3" not in spread(d, 300, 25000)
    d.ctl("weight", "web", "rs3", "6")  # rs3 now 6 of 8: three quarters
    hist = spread(d, 400, 26000)
    assert 0.6 < hist.get("rs3", 0) / 400 < 0.9, hist
    m = re.search(r"web/rs3 10\.0\.0\.13:80 set weight 6 through the API", d.log_text())
    assert m, d.diag("the weight change was not logged")
    d.assert_balanced()


def test_admin_state_survives_a_reload(d):
    d.ctl("drain", "web", "rs1")
    cfg = dict(d.cfg)
    cfg["services"] = [dict(s) for s in cfg["services"]]
    cfg["services"][0]["backends"] = [dict(b) for b in cfg["services"][0]["backends"]]
    cfg["services"][0]["backends"][1]["weight"] = 2  # rs2: 1 -> 2, a real change
    ok, lines, _, _ = d.reload(cfg)
    assert ok, "\n".join(lines)
    assert backend(d, "rs1")["admin_state"] == "draining"
    assert "rs1" not in spread(d, 300, 27000)
    d.ctl("enable", "web", "rs1")
    assert backend(d, "rs1")["admin_state"] == "enabled"


def test_errors_and_exit_codes(d, tmp_path):
    p = d.ctl("drain", "web", "nosuch", check=False)
    assert p.returncode == 1 and "service 'web' has no backend named 'nosuch'" in p.stderr
    p = d.ctl("enable", "nosuch", "rs1", check=False)
    assert p.returncode == 1 and "no service named 'nosuch'" in p.stderr
    p = d.ctl("weight", "web", "rs1", "70000", check=False)
    assert p.returncode == 2, p.stderr
    p = d.ctl("frobnicate", check=False)
    assert p.returncode == 2
    p = run(shoalctl_path(), "--socket", tmp_path / "none.sock", "status", check=False)
    assert p.returncode == 3 and "cannot reach shoald" in p.stderr
    # A JSON error from the API itself, through curl: the message and a 404.
    out = run("curl", "-s", "-w", " %{http_code}", "--unix-socket", d.api_socket,
              "http://shoald/v2/nothing").stdout
    assert out.endswith(" 404") and '"error"' in out, out


def test_tcp_needs_the_token_or_a_session(d, tmp_path):
    status, text = http(d, "GET", "/v1/status")
    assert status == 401 and "log in" in text, (status, text)
    status, _ = http(d, "GET", "/v1/status", "-H", "Authorization: Bearer wrong-token")
    assert status == 401
    status, text = http(d, "GET", "/v1/status", "-H", f"Authorization: Bearer {TOKEN}")
    assert status == 200 and json.loads(text)["pid"] == d.proc.pid, text
    status, _ = http(d, "POST", "/v1/login", body='{"token": "nope"}')
    assert status == 401
    jar = tmp_path / "cookies"  # curl runs in the namespace but sees the same files
    status, _ = http(d, "POST", "/v1/login", "-c", str(jar), body=json.dumps({"token": TOKEN}))
    assert status == 200
    assert "shoal_session" in jar.read_text() and "#HttpOnly_" in jar.read_text()
    status, text = http(d, "GET", "/v1/services", "-b", str(jar))
    assert status == 200 and json.loads(text)["services"][0]["name"] == "web"
    status, _ = http(d, "POST", "/v1/logout", "-b", str(jar), "-c", str(jar))
    assert status == 200
    status, _ = http(d, "GET", "/v1/services", "-b", str(jar))
    assert status == 401


def test_config_view_validate_and_apply(d):
    running = d.api_json("GET", "/v1/config")
    assert running["path"] == str(d.config_path) and "services:" in running["text"]
    bad = running["text"].replace("forwarding: dr", "forwarding: teleport", 1)
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if "teleport" in ln)
    v = d.api_json("POST", "/v1/config/validate", bad)
    assert v["valid"] is False and v["errors"][0]["line"] == line, v
    assert "teleport" in v["errors"][0]["message"]

    cfg = yaml.safe_load(running["text"])
    web = next(s for s in cfg["services"] if s["name"] == "web")
    web["backends"][0]["weight"] = 5
    web["backends"].pop()  # rs3 removed
    candidate = yaml.safe_dump(cfg, sort_keys=False)
    v = d.api_json("POST", "/v1/config/validate", candidate)
    assert v["valid"] is True, v
    assert "service web: backend rs1: weight 1 -> 5" in v["diff"], v["diff"]
    assert "service web: backend rs3 10.0.0.13:80 removed" in v["diff"], v["diff"]

    status, text = http(d, "POST", "/v1/config/apply", "-H", f"Authorization: Bearer {TOKEN}",
                        body=bad)
    assert status == 422 and json.loads(text)["applied"] is False
    assert d.config_path.read_text() == running["text"]  # the file is untouched

    a = d.api_json("POST", "/v1/config/apply", candidate)
    assert a["applied"] is True and a["diff"] == v["diff"], a
    assert "rs3" not in spread(d, 200, 29000)
    assert d.api_json("POST", "/v1/config/apply", running["text"])["applied"] is True
    assert set(spread(d, 300, 29500)) == {"rs1", "rs2", "rs3"}


def test_reload_and_check_report_the_line(d, tmp_path):
    bad = d.config_path.read_text().replace("forwarding: dr", "forwarding: teleport", 1)
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if "teleport" in ln)
    candidate = tmp_path / "bad.yaml"
    candidate.write_text(bad)
    p = d.ctl("check", candidate, check=False)
    assert p.returncode == 1 and f"bad.yaml:{line}:" in p.stderr, p.stderr

    good = d.config_path.read_text()
    d.write_config(bad)
    try:
        p = d.ctl("reload", check=False)
        assert p.returncode == 1 and f":{line}:" in p.stderr and "teleport" in p.stderr, p.stderr
    finally:
        d.write_config(good)
    assert spread(d, 100, 28000)  # still serving the running config
    p = d.ctl("reload")
    assert "reloaded" in p.stdout


def test_simulate_agrees_with_the_dataplane(d):
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", 24, "--sport-base", 31000,
                       "--timeline")
    assert res["ok"] == 24, res
    for start, end, server, sport in res["timeline"]:
        sim = d.api("simulate", f"10.0.0.1:{sport}", f"{VIP}:80")
        assert sim["backend"]["name"] == server, (sport, server, sim)
    text = d.ctl("simulate", "10.0.0.1:31000", f"{VIP}:80").stdout
    assert re.search(r"^web -> rs\d 10\.0\.0\.1\d:80$", text, re.M) and "Maglev slot" in text, text
    # The echo service hashes the source address alone: no port needed, same answer for all.
    a = d.api("simulate", "10.0.0.1", f"{VIP}:7", "udp")["backend"]["name"]
    b = d.api("simulate", "10.0.0.1:5555", f"{VIP}:7", "udp")["backend"]["name"]
    assert a == b
    p = d.ctl("simulate", "10.0.0.1", f"{VIP}:80", check=False)  # 5-tuple needs the port
    assert p.returncode == 1 and "give the client's port" in p.stderr
    p = d.ctl("simulate", "10.0.0.1:1", f"{VIP}:81", check=False)
    assert p.returncode == 1 and "no service on" in p.stderr


def test_flows_sample(d):
    spread(d, 10, 32000)
    flows = d.api("flows", "--client", "10.0.0.1", "--limit", "5")
    assert flows["complete"] is True and 1 <= len(flows["flows"]) <= 5, flows
    for f in flows["flows"]:
        assert f["client"].startswith("10.0.0.1:") and f["vip"] in (f"{VIP}:80", f"{VIP}:7"), f
        assert f["backend"].split("/")[1] in ("rs1", "rs2", "rs3"), f
    assert d.api("flows", "--client", "10.0.0.99")["flows"] == []
    text = d.ctl("flows", "--vip", VIP, "--limit", "3").stdout
    assert text.splitlines()[0].split()[:3] == ["Worker", "Client", "VIP"] and \
        len(text.splitlines()) == 4, text


def metric(text, name, **labels):
    """The value of the sample `name{labels...}` (labels in any order) in an exposition."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        sample, _, value = line.rpartition(" ")
        have = dict(re.findall(r'(\w+)="([^"]*)"', sample))
        if sample.split("{")[0] == name and all(have.get(k) == v for k, v in labels.items()):
            return float(value)
    raise AssertionError(f"no {name}{labels} in the exposition")


def test_prometheus_metrics(d):
    def scrape():
        p = run("curl", "-s", "--unix-socket", d.api_socket, "http://shoald/metrics")
        return p.stdout

    before = scrape()
    assert "# TYPE shoal_packets_total counter" in before
    rs1 = metric(before, "shoal_backend_connections_total", service="web", backend="rs1")
    spread(d, 200, 33000)
    d.ctl("drain", "web", "rs2")
    time.sleep(1.2)  # per-backend traffic is sampled once a second
    after = scrape()
    assert metric(after, "shoal_backend_connections_total", service="web", backend="rs1") > rs1
    assert metric(after, "shoal_backend_bytes_total", service="web", backend="rs1") > 0
    assert metric(after, "shoal_packets_total", worker="0", direction="rx") > \
        metric(before, "shoal_packets_total", worker="0", direction="rx")
    assert metric(after, "shoal_backend_admin_state", backend="rs2", state="draining") == 1
    assert metric(after, "shoal_backend_weight", backend="rs2") == 0
    assert metric(after, "shoal_backend_up", backend="rs2") == 1
    assert metric(after, "shoal_reloads_total", result="applied") >= 1  # earlier tests reloaded
    assert metric(after, "shoal_snapshot_publish_seconds_count") >= 2
    assert metric(after, "shoal_drops_total", worker="0", reason="no_backend") >= 0
    # The NIC's own counters: the port's driver saw at least what the worker received.
    assert metric(after, "shoal_port_packets_total", port="lan", direction="rx") >= \
        metric(after, "shoal_packets_total", worker="0", direction="rx") > 0
    assert metric(after, "shoal_port_rx_missed_total", port="lan") >= 0
    assert metric(after, "shoal_flow_table_capacity", worker="0") >= \
        metric(after, "shoal_flows", worker="0") > 0
    assert metric(after, "shoal_backend_connections", backend="rs1", state="inactive") >= 0
    loaded = metric(after, "shoal_last_reload_success_timestamp_seconds")
    assert time.time() - 3600 < loaded <= time.time()
    assert metric(after, "shoal_build_info") == 1
    counters = d.api_json("GET", "/v1/counters")
    assert counters["ports"][0]["port"] == "lan" and counters["ports"][0]["rx_packets"] > 0
    d.ctl("enable", "web", "rs2")
    status, _ = http(d, "GET", "/metrics")
    assert status == 401
    status, text = http(d, "GET", "/metrics", "-H", f"Authorization: Bearer {TOKEN}")
    assert status == 200 and "shoal_uptime_seconds" in text
    # The metrics listener needs no token, and serves nothing else.
    status, text = http(d, "GET", "/metrics", listen=METRICS)
    assert status == 200 and metric(text, "shoal_packets_total", worker="0", direction="rx") > 0
    status, _ = http(d, "POST", "/metrics", listen=METRICS)
    assert status == 405
    for path in ("/v1/status", "/v1/services/web/backends/rs1/disable", "/"):
        status, text = http(d, "GET", path, listen=METRICS)
        assert status == 404 and "only GET /metrics" in text, (path, status, text)
    status, _ = http(d, "POST", "/v1/services/web/backends/rs1/disable", listen=METRICS)
    assert status == 404
    assert backend(d, "rs1")["admin_state"] == "enabled"


def test_connections_and_list_views(d):
    """Held-open connections show as active on their backend (counted by the workers' flow
    tables), and list --stats / --rate give ipvsadm's totals and rates."""
    holder = d.lab.popen("client", PY, "-c", (
        "import socket, time\n"
        "socks = []\n"
        "for i in range(12):\n"
        "    s = socket.create_connection(('10.0.0.100', 80), timeout=5)\n"
        "    socks.append(s)\n"
        "print('open', flush=True)\n"
        "time.sleep(8)\n"), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        deadline = time.time() + 5
        while True:
            web = next(s for s in d.api("list")["services"] if s["name"] == "web")
            active = sum(b["connections"]["active"] for b in web["backends"])
            if active >= 12 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert active >= 12, web
    finally:
        holder.kill()
        holder.wait()
    stats = d.ctl("list", "-n", "--stats").stdout
    assert "Conns      InPkts       InBytes" in stats
    m = re.search(r"^  -> 10\.0\.0\.11:80 +(\d+) +(\d+) +(\d+)$", stats, re.M)
    assert m and int(m.group(1)) > 0 and int(m.group(3)) > int(m.group(2)), stats
    assert "CPS" in d.ctl("list", "--rate").stdout
    assert d.ctl("list", "--stats", "--rate", check=False).returncode == 2


def test_zero_starts_the_totals_again(d):
    """shoalctl zero [SERVICE], as ipvsadm -Z: the totals list --stats shows start again from 0
    (of one service, or all), and count what comes after; /metrics' counters go on."""
    def totals(service):
        web = next(s for s in d.api("list")["services"] if s["name"] == service)
        return sum(b["traffic"]["new_flows"] for b in web["backends"])

    def metric_flows():
        return sum(float(l.split()[-1]) for l in d.metrics_text().splitlines()
                   if l.startswith('shoal_backend_connections_total{') and 'service="web"' in l)

    assert totals("web") > 0
    before_metric = metric_flows()
    assert d.ctl("zero", "web").stdout.strip() == "zeroed the traffic totals of 3 backend(s)"
    assert totals("web") == 0
    assert all(b["traffic"]["packets"] == 0 and b["traffic"]["bytes"] == 0
               for s in d.api("list")["services"] if s["name"] == "web" for b in s["backends"])
    base = d.lab.fresh_port()
    d.lab._next_port += 40
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", 40, "--sport-base", base)
    assert res["ok"] == 40, res
    time.sleep(1.2)  # the totals are sampled once a second
    assert totals("web") == 40
    assert metric_flows() >= before_metric + 40
    assert re.search(r"^  -> 10\.0\.0\.1\d:80 +[1-9]", d.ctl("list", "-n", "--stats").stdout, re.M)
    every = sum(len(s["backends"]) for s in d.api("list")["services"])
    assert f"zeroed the traffic totals of {every} backend(s)" in d.ctl("zero").stdout
    assert totals("web") == 0
    p = d.ctl("zero", "nosuch", check=False)
    assert p.returncode != 0 and "no service named 'nosuch'" in p.stderr
