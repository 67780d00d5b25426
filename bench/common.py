"""Small helpers the benches share: progress on stderr, statements on the PostgreSQL server, a free port."""

from __future__ import annotations

import socket
import sys

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
