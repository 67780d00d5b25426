"""The console's vendored assets: pinned, with their licence, served from the package (no CDN)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask.testing import FlaskClient

STATIC = Path(__file__).parents[2] / "console" / "static"


def test_every_vendored_asset_matches_its_pinned_checksum_and_has_its_licence() -> None:
    table = (STATIC / "vendor" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", table, flags=re.M)
    assert rows, "vendor/README.md lists no asset"
    for path, digest in rows:
        asset = STATIC / "vendor" / path
        assert hashlib.sha256(asset.read_bytes()).hexdigest() == digest, path
        assert (asset.parent / "LICENSE").is_file(), path


def test_pages_load_scripts_only_from_the_console_itself(console: FlaskClient) -> None:
    page = console.get("/console/login").get_data(as_text=True)
    sources = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert sources == ["/console/static/vendor/htmx/htmx-2.0.11.min.js"]
    assert "<script>" not in page  # no inline script: the CSP forbids it
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from another host
    served = console.get(sources[0])
    assert served.status_code == 200
    assert b"htmx" in served.data[:2000]
