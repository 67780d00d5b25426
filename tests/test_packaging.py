"""The installed package holds every package of the checkout: `huifang` run from any other folder (a systemd unit's
WorkingDirectory, an operator's home) imports what the checkout's own folder would have given it for free."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "bench"}


def _packages() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in NOT_SHIPPED)


def test_every_package_is_in_the_distribution() -> None:
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    missing = [name for name in _packages() if not any(fnmatch(name, pattern) for pattern in include)]
    assert missing == [], f"pyproject.toml [tool.setuptools.packages.find] include lacks {missing}"


def test_the_cli_runs_from_another_folder(tmp_path: Path) -> None:
    """Outside the checkout only the installation is on the path: every package and the CLI import from it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import importlib, sys\nfor name in sys.argv[1:]: importlib.import_module(name)\nimport huifang.cli\n"
    done = subprocess.run([sys.executable, "-c", code, *_packages()], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = subprocess.run([str(Path(sys.executable).parent / "huifang"), "--help"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "notifications" in shown.stdout
