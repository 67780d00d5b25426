"""deploy/: the systemd units and the nginx site an operator copies. They cannot run here as they would on a
server, so each claim they make is checked against the code: systemd accepts the units, their commands parse
with this CLI, every secret they hand over is one the app reads, and nginx passes what the app needs."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from huifang.cli import cli
from kit.settings import ApiSettings, ConsoleSettings, IvrSettings, WebSettings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
HUIFANG = str(Path(sys.executable).with_name("huifang"))
SOURCES = [p for d in ("huifang", "kit") for p in (ROOT / d).rglob("*.py")]


def _directives(unit: Path, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith(f"{key}=")]


def test_there_is_a_unit_for_the_web_app_and_one_for_the_dialer() -> None:
    assert [u.name for u in UNITS] == ["huifang-dialer.service", "huifang-web.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_the_unit_without_a_warning(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` checks every key and that the commands are executable; the venv's path is this
    checkout's (the unit's /srv/huifang does not exist here). An unknown or misspelt key is a warning."""
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/srv/huifang/.venv/bin/huifang", HUIFANG))
    checked = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60,
                             check=False)
    assert (checked.returncode, checked.stderr, checked.stdout) == (0, "", "")


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_units_commands_parse_with_this_cli(unit: Path) -> None:
    commands = _directives(unit, "ExecStartPre") + _directives(unit, "ExecStart")
    assert commands
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "/srv/huifang/.venv/bin/huifang"
        args = [str(ROOT / "config.example.toml") if a == "/etc/huifang/config.toml" else a for a in argv[1:]]
        parsed = CliRunner().invoke(cli, [*args, "--help"])
        assert parsed.exit_code == 0, f"{unit.name}: {command}: {parsed.output}"


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_secret_a_unit_hands_over_is_read_by_the_app_from_a_credential_file(unit: Path) -> None:
    credentials = {c.split(":", 1)[0] for c in _directives(unit, "LoadCredentialEncrypted")}
    handed = dict(e.split("=", 1) for e in _directives(unit, "Environment"))
    files = {name: value for name, value in handed.items() if name.endswith("_FILE")}
    assert {v.removeprefix("%d/") for v in files.values()} == credentials  # each credential is passed on
    code = "\n".join(p.read_text() for p in SOURCES)
    for name in files:
        stem = name.removesuffix("_FILE")
        assert f'"{name}"' in code or f'"{stem}"' in code, f"{unit.name}: {name} is not read by the app"
    assert not any("TOKEN=" in e or "SECRET_KEY=" in e for e in _directives(unit, "Environment"))


def test_the_web_unit_waits_for_in_flight_webhooks_longer_than_gunicorn_does() -> None:
    web = DEPLOY / "huifang-web.service"
    stop = int(_directives(web, "TimeoutStopSec")[0])
    assert stop > WebSettings().graceful_timeout  # systemd's SIGKILL must not cut gunicorn's graceful stop short
    assert _directives(web, "UMask") == ["0027"]


def test_nginx_passes_what_the_app_needs_and_logs_no_query_strings() -> None:
    site = (DEPLOY / "nginx-huifang.conf").read_text()
    assert "proxy_set_header Host $host;" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site
    size = re.search(r"client_max_body_size (\d+)m;", site)
    assert size is not None
    assert int(size.group(1)) * 1024 * 1024 == WebSettings().max_content_length
    upload = re.search(r"location = /console/imports \{\s*client_max_body_size (\d+)m;", site)
    assert upload is not None
    assert int(upload.group(1)) == ConsoleSettings().upload_max_mb
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    upstream = re.search(r"upstream huifang \{\s*server ([\d.:]+);", site)
    assert upstream is not None
    assert upstream.group(1) == example["web"]["bind"]
    log = re.search(r"access_log \S+ (\w+);", site)
    assert log is not None
    assert log.group(1) == "combined_noquery"
    log_format = site.split("log_format combined_noquery", 1)[1].split(";", 1)[0]
    assert "$uri" in log_format
    assert "$request_uri" not in log_format
    assert "$request " not in log_format  # the path only: no query string, where tokens could be
    api = re.search(r"location /api/ \{\s*client_max_body_size (\d+)m;", site)
    assert api is not None  # a batch of policies is larger than the webhooks' limit
    assert int(api.group(1)) * 1024 * 1024 == ApiSettings().max_body_bytes
    stream = re.search(r"location = /twilio/stream \{(.*?)\}", site, re.S)
    assert stream is not None  # Twilio's Media Streams: the WebSocket upgrade passed on, held for a whole call
    assert "proxy_set_header Upgrade $http_upgrade;" in stream.group(1)
    assert 'proxy_set_header Connection "upgrade";' in stream.group(1)
    held = re.search(r"proxy_read_timeout (\d+)s;", stream.group(1))
    assert held is not None
    assert int(held.group(1)) >= IvrSettings().max_call_seconds
    read = re.search(r"proxy_read_timeout (\d+)s;", site)
    assert read is not None
    assert int(read.group(1)) > 15  # Twilio gives up on a webhook after 15 s: nginx must not cut it first
