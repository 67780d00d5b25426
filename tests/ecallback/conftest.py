"""The e-callback's browser fixtures: Debian's chromium (as the console's tests drive it) at a phone's
viewport, and the web app served over HTTP on a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from werkzeug.serving import make_server

from speech.cache import PromptCache
from tests.ecallback.world import World, build_world

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}  # a common phone's CSS viewport


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, object]) -> dict[str, object]:
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: run scripts/setup.sh (it installs Debian's chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": ["--no-sandbox"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, object]) -> dict[str, object]:
    """An applicant's phone: 390×844, touch, Chinese locale, Beijing time."""
    return {**browser_context_args, "viewport": PHONE, "device_scale_factor": 2, "is_mobile": True,
            "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai",
            "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"}


@pytest.fixture
def live(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[tuple[World, str]]:
    world = build_world(engine, tmp_path, prompt_cache)
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield world, f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join()
