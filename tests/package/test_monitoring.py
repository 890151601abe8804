"""monitoring/: the Prometheus alert rules pass promtool's check and their own unit tests, and
the Grafana dashboard is well formed, takes its Prometheus from a variable, and asks only for
metrics shoald serves."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "monitoring" / "prometheus" / "shoal-alerts.yml"
ALERT_TESTS = ROOT / "monitoring" / "prometheus" / "shoal-alerts.test.yml"
DASHBOARD = ROOT / "monitoring" / "grafana" / "shoal.json"

# Metrics whose registration is on its way into controlplane/ (ports' NIC counters, flow
# table capacity, connection census, reload time, build information): accepted by name.
BEING_ADDED = {
    "shoal_flow_table_capacity",
    "shoal_port_rx_missed_total",
    "shoal_port_rx_nombuf_total",
    "shoal_port_errors_total",
    "shoal_backend_connections",
    "shoal_last_reload_success_timestamp_seconds",
    "shoal_build_info",
}

METRIC = re.compile(r"\bshoal_[a-z0-9_]+\b")


def promtool(*args):
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: scripts/install-deps.sh installs Debian's prometheus")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120)


def served_metrics():
    """Every metric name controlplane/ registers: the names its sources give a metric family
    (`f.counter("shoal_...")`, `f.gauge(...)`, prometheus-cpp's `.Name(...)`)."""
    names = set()
    for source in (ROOT / "controlplane").rglob("*"):
        if source.suffix in (".cc", ".h"):
            names.update(re.findall(r'(?:\.counter|\.gauge|\.Name)\(\s*"(shoal_[a-z0-9_]+)"',
                                    source.read_text()))
    return names


def known(name, served):
    if name in served or name in BEING_ADDED:
        return True
    # A histogram's series: NAME_bucket, NAME_sum, NAME_count.
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base != name and base in served


def dashboard_panels():
    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))
    return list(walk(json.loads(DASHBOARD.read_text())["panels"]))


def panel_exprs():
    return [(p["title"], t["expr"]) for p in dashboard_panels() for t in p.get("targets", [])]


def test_alert_rules_pass_promtool_check():
    run = promtool("check", "rules", str(ALERTS))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_alert_rules_pass_their_unit_tests():
    run = promtool("test", "rules", str(ALERT_TESTS))
    assert run.returncode == 0, run.stdout + run.stderr


def test_alert_rules_ask_for_served_metrics():
    served = served_metrics()
    assert "shoal_backend_up" in served  # the source scan found the registrations
    unknown = sorted({m for m in METRIC.findall(ALERTS.read_text()) if not known(m, served)})
    assert unknown == []


def test_every_alert_is_tested_firing_and_not_firing():
    alerts = set(re.findall(r"^\s*- alert: (\w+)", ALERTS.read_text(), re.M))
    assert len(alerts) == 7
    tests = ALERT_TESTS.read_text()
    for alert in alerts:
        assert re.search(rf"alertname: {alert}\n\s+exp_alerts:\n\s+- exp_labels:", tests), alert
        assert re.search(rf"alertname: {alert}\n\s+exp_alerts: \[\]", tests), alert


def test_dashboard_takes_prometheus_from_a_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_layout():
    panels = dashboard_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, p["title"]
        assert pos["h"] > 0, p["title"]


def test_dashboard_asks_for_served_metrics():
    served = served_metrics()
    unknown = sorted({(title, m) for title, expr in panel_exprs() for m in METRIC.findall(expr)
                      if not known(m, served)})
    assert unknown == []


def test_dashboard_covers_what_an_operator_watches():
    used = {m for _, expr in panel_exprs() for m in METRIC.findall(expr)}
    for metric in ("shoal_backend_packets_total", "shoal_backend_bytes_total", "shoal_drops_total",
                   "shoal_flows", "shoal_flow_table_capacity", "shoal_backend_up",
                   "shoal_vrrp_state", "shoal_reloads_total", "shoal_port_rx_missed_total",
                   "shoal_port_rx_nombuf_total"):
        assert metric in used, metric


def test_dashboard_expressions_parse(tmp_path):
    """Each panel's expression, with Grafana's variables given values, as a recording rule:
    promtool's check parses it as PromQL."""
    rules = []
    for n, (title, expr) in enumerate(panel_exprs()):
        concrete = (expr.replace("$__rate_interval", "5m").replace("$instance", ".*")
                    .replace("$service", ".*"))
        assert "$" not in concrete, title
        rules.append({"record": f"shoal:panel_{n}", "expr": concrete})
    # JSON is YAML: promtool reads it as a rule file.
    path = tmp_path / "panels.yml"
    path.write_text(json.dumps({"groups": [{"name": "panels", "rules": rules}]}))
    run = promtool("check", "rules", str(path))
    assert run.returncode == 0, run.stdout + run.stderr
