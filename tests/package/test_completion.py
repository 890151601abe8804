"""Bash completion of shoalctl (completions/shoalctl), run in `bash -c` as bash-completion
would: COMP_WORDS and COMP_CWORD set, the function `complete -p shoalctl` names called,
COMPREPLY read back. No shoald is needed: where names are fetched, a stand-in `shoalctl` on
PATH prints what `shoalctl --json list` prints."""

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPLETION = ROOT / "completions" / "shoalctl"


def complete(words, env_path=None):
    """The completions of the last word of `words` (the word under the cursor)."""
    script = f"""
source {shlex.quote(str(COMPLETION))}
fn=$(complete -p shoalctl | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE={shlex.quote(' '.join(words))}
COMP_POINT=${{#COMP_LINE}}
"$fn" shoalctl {shlex.quote(words[-1])} {shlex.quote(words[-2] if len(words) > 1 else '')}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = dict(os.environ)
    if env_path is not None:
        env["PATH"] = f"{env_path}:{env['PATH']}"
    run = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=env,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return [line for line in run.stdout.splitlines() if line]


def test_command():
    assert complete(["shoalctl", "dr"]) == ["drain"]


def test_global_option():
    assert complete(["shoalctl", "--so"]) == ["--socket"]


def test_every_command_from_nothing():
    assert set(complete(["shoalctl", ""])) == {
        "status", "list", "counters", "reload", "simulate", "flows", "check", "import",
        "enable", "disable", "drain", "weight", "bgp", "withdraw", "announce", "zero"}


def test_command_options():
    assert complete(["shoalctl", "list", "--s"]) == ["--stats"]
    assert complete(["shoalctl", "--json", "flows", "--l"]) == ["--limit"]
    assert complete(["shoalctl", "simulate", "10.0.0.1:4000", "10.0.0.100:80", "u"]) == ["udp"]


def test_files_after_check(tmp_path):
    (tmp_path / "director.yaml").write_text("")
    assert complete(["shoalctl", "check", str(tmp_path / "dir")]) == [
        str(tmp_path / "director.yaml")]


def test_import_kinds_options_and_files(tmp_path):
    assert complete(["shoalctl", "import", ""]) == ["keepalived", "ipvsadm"]
    assert complete(["shoalctl", "import", "keepalived", "--c"]) == ["--config-id"]
    assert complete(["shoalctl", "import", "ipvsadm", "--h"]) == ["--help"]
    assert complete(["shoalctl", "import", "keepalived", "--config-id", ""]) == []
    (tmp_path / "keepalived.conf").write_text("")
    assert complete(["shoalctl", "import", "keepalived", "--config-id", "high",
                     str(tmp_path / "keep")]) == [str(tmp_path / "keepalived.conf")]


@pytest.fixture
def fake_shoalctl(tmp_path):
    """A `shoalctl` that answers `--json list` as shoald's would (json.dumps with indent 2
    and sorted keys prints what nlohmann::json's dump(2) prints), and logs its arguments."""
    services = {"services": [
        {"name": "web", "vip": "10.0.0.100", "port": 80, "protocol": "tcp",
         "forwarding": "dr", "hash": "5-tuple", "all_down": "drop",
         "backends": [
             {"name": "rs1", "address": "10.0.0.11", "port": 80,
              "health": {"check": "http", "up": True}, "traffic": {"packets": 1}},
             {"name": "rs2", "address": "10.0.0.12", "port": 80,
              "health": {"check": "http", "up": False}, "traffic": {"packets": 0}}]},
        {"name": "echo", "vip": "10.0.0.100", "port": 7, "protocol": "udp",
         "forwarding": "dr", "hash": "source-address", "all_down": "drop",
         "backends": [{"name": "10.0.0.13:7", "address": "10.0.0.13", "port": 7,
                       "health": {"check": "none"}, "traffic": {"packets": 0}}]}]}
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(services, indent=2, sort_keys=True) + "\n")
    log = tmp_path / "args.log"
    program = tmp_path / "shoalctl"
    program.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\ncat {answer}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return tmp_path, log


def test_service_and_backend_names(fake_shoalctl):
    path, _ = fake_shoalctl
    assert sorted(complete(["shoalctl", "drain", ""], path)) == ["echo", "web"]
    assert complete(["shoalctl", "enable", "w"], path) == ["web"]
    assert sorted(complete(["shoalctl", "disable", "web", ""], path)) == ["rs1", "rs2"]
    assert complete(["shoalctl", "weight", "echo", ""], path) == ["10.0.0.13:7"]
    assert complete(["shoalctl", "weight", "web", "rs1", ""], path) == []


def test_names_come_from_the_socket_on_the_line(fake_shoalctl):
    path, log = fake_shoalctl
    assert complete(["shoalctl", "--socket", "/run/other.sock", "drain", "web", "rs"],
                    path) == ["rs1", "rs2"]
    assert log.read_text().split() == ["--socket", "/run/other.sock", "--json", "list"]


def test_no_names_without_shoald(tmp_path):
    program = tmp_path / "shoalctl"
    program.write_text("#!/bin/sh\necho 'shoalctl: cannot reach shoald' >&2\nexit 3\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    assert complete(["shoalctl", "drain", ""], tmp_path) == []
