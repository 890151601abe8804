"""The installed Debian package (run by `./scripts/test.sh package` after it installs it):
its files are where they belong, and the installed shoald runs the demo's DR config
(configs/demo.yaml, as the package ships it among its examples) in the network-namespace
lab, with its health checks through the exception path, and sends the client's requests to
all three real servers. shoalctl, the dashboard and shoal-decap are the installed ones too.

The lab comes from the end-to-end suite's helpers (tests/e2e/conftest.py), under its own
prefix SHOAL_PACKAGE_LAB (default "pkg"), so that it never meets another lab.
Run as root, with the package installed:  /usr/bin/python3 -m pytest tests/package
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

import conftest as e2e  # noqa: E402
from conftest import REPO, VIP, Lab, Shoald, requirements_missing, run  # noqa: E402

SBIN = Path("/usr/sbin")
EXAMPLES = Path("/usr/share/doc/shoal/examples")
DASHBOARD = Path("/usr/share/shoal/dashboard")
LAB_PREFIX = os.environ.get("SHOAL_PACKAGE_LAB", "pkg")
LISTEN = "127.0.0.1:8080"  # the director namespace's own loopback

# The lab helpers run the daemon and shoalctl they find through these: the installed ones.
e2e.shoald_path = lambda: SBIN / "shoald"
e2e.shoalctl_path = lambda: SBIN / "shoalctl"


def package_missing():
    if requirements_missing():
        return requirements_missing()
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "shoal"], capture_output=True,
                       text=True)
    if "install ok installed" not in p.stdout:
        return "the shoal package is not installed (./scripts/test.sh package installs it)"
    return None


pytestmark = pytest.mark.skipif(package_missing() is not None, reason=package_missing() or "")


def package_files():
    return set(run("dpkg-query", "-L", "shoal").stdout.split("\n"))


def test_files_in_place():
    files = package_files()
    for name in ("shoald", "shoalctl", "shoal-decap"):
        assert str(SBIN / name) in files, name
        assert os.access(SBIN / name, os.X_OK), name
    multiarch = run("dpkg-architecture", "-qDEB_HOST_MULTIARCH").stdout.strip()
    assert f"/usr/lib/{multiarch}/shoal/shoal_decap.bpf.o" in files
    assert str(DASHBOARD / "index.html") in files and str(DASHBOARD / "js" / "app.js") in files
    assert "/usr/lib/sysctl.d/50-shoal.conf" in files
    assert any(f.endswith("/systemd/system/shoald.service") for f in files), sorted(files)
    assert Path("/etc/shoal").is_dir()
    # Every example as it is in the tree, uncompressed: an operator copies one to start from.
    for example in sorted((REPO / "configs").rglob("*.yaml")):
        installed = EXAMPLES / example.relative_to(REPO / "configs")
        assert installed.read_text() == example.read_text(), installed


def test_check_the_examples_and_a_missing_config():
    for example in sorted(EXAMPLES.glob("demo*.yaml")):
        p = run(SBIN / "shoald", "--check", example, check=False)
        assert p.returncode == 0 and ": ok" in p.stdout, (example, p.stdout, p.stderr)
    # What the unit's ExecStartPre says until the operator writes the config.
    p = run(SBIN / "shoald", "--check", "/etc/shoal/no-such-file.yaml", check=False)
    assert p.returncode != 0 and "no-such-file.yaml" in p.stderr, p


@pytest.fixture(scope="module")
def d(request, tmp_path_factory):
    lab = Lab("dr", servers=3, prefix=LAB_PREFIX)
    request.addfinalizer(lab.down)  # registered first: runs last
    d = Shoald(lab, tmp_path_factory.mktemp("package"))
    request.addfinalizer(lambda: e2e._DAEMONS.remove(d))
    request.addfinalizer(d.stop)
    lab.up()
    # The demo config as installed, with the lab prefix's interface and EAL file prefix, an
    # API socket of its own (not the host's /run/shoal) and the dashboard on the director's
    # loopback. Its exception path and http health checks stay.
    text = (EXAMPLES / "demo.yaml").read_text()
    text = text.replace("iface=shoal-d1", f"iface={lab.prefix}-d1")
    text = text.replace('"--file-prefix", "shoal-d1"', f'"--file-prefix", "{lab.prefix}-d1"')
    cfg = yaml.safe_load(text)
    assert cfg["ports"][0]["device"].endswith(f"iface={lab.prefix}-d1"), cfg["ports"]
    web = next(s for s in cfg["services"] if s["name"] == "web")
    assert web["forwarding"] == "dr" and web["health_check"]["type"] == "http", web
    token_file = d.dir / "api.token"
    token_file.write_text(secrets.token_urlsafe(24) + "\n")
    token_file.chmod(0o600)
    cfg["api"] = {"socket": str(d.api_socket), "listen": LISTEN, "token_file": str(token_file)}
    d.start(cfg, warm_up=False)
    # No `dashboard:` in the config: the built-in default, which the package build sets to
    # the installed copy, not to the source tree it was built from.
    d.wait_log(rf"dashboard files in {DASHBOARD}\b", timeout=5)
    for i in (1, 2, 3):
        d.wait_log(rf"rs{i} 10\.0\.0\.1{i}:80 up", timeout=20)
    d.warm_up()
    return d


def test_dr_traffic_reaches_every_real_server(d):
    res = d.lab.client("http", "--vip", VIP, "--port", 80, "--count", 60, "--timeout", 2)
    assert res["ok"] == 60, d.diag(f"failed requests: {res}")
    assert set(res["hist"]) == {"rs1", "rs2", "rs3"}, d.diag(f"answers: {res['hist']}")


def test_installed_shoalctl_lists_the_backends(d):
    out = d.ctl("list", "-n").stdout
    assert "10.0.0.100:80" in out and "web" in out, out
    for i in (1, 2, 3):
        line = next((ln for ln in out.splitlines() if f"10.0.0.1{i}:80 " in ln), "")
        assert line.split()[-1:] == ["up"], out


def test_dashboard_files_come_from_the_package(d):
    p = d.lab.exec("d1", "curl", "-s", "-S", "--max-time", "10", f"http://{LISTEN}/login.html")
    assert p.stdout == (DASHBOARD / "login.html").read_text(), p.stdout[:300]


def test_counters_balance_at_exit(d):
    c = d.stop()
    assert c["rx"] > 0 and c["tx"] > 0, c


def test_installed_decap_finds_its_bpf_object():
    """shoal-decap attaches with the object the package installed (in skb mode, on a veth of
    a namespace of its own) and detaches again."""
    ns = f"{LAB_PREFIX}-decap"
    run("ip", "netns", "add", ns)
    try:
        run("ip", "-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb")
        run("ip", "-n", ns, "link", "set", "va", "up")
        run("ip", "-n", ns, "link", "set", "vb", "up")
        run("ip", "netns", "exec", ns, SBIN / "shoal-decap", "attach", "vb", "--mode", "skb")
        link = run("ip", "-n", ns, "link", "show", "vb").stdout
        assert "xdp" in link, link
        run("ip", "netns", "exec", ns, SBIN / "shoal-decap", "stats", "vb")
        run("ip", "netns", "exec", ns, SBIN / "shoal-decap", "detach", "vb")
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
