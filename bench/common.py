"""Small helpers the benches share: progress on stderr, statements on the PostgreSQL server, a free port."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def admin(statement: str) -> None:
    """One statement on the server's `postgres` database, outside a transaction (CREATE/DROP DATABASE)."""
    server = create_engine(PG_SERVER + "postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(statement))
    server.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answering(url: str, log_path: Path, seconds: float = 180.0) -> None:
    """Poll `url` until it answers 200 (a server starting up); otherwise exit showing the end of its log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s: {log_path.read_text()[-2000:]}")
