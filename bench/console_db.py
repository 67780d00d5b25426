"""The console benchmark's PostgreSQL database itself (bench/queue_data.py fills it): made, marked with what it
holds, dropped, moved to a schema revision, vacuumed; rows COPYed in."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, create_engine, text

from storage import migrate

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
PG_DATABASE = "huifang_bench_console"


def server() -> Engine:
    return create_engine(PG_SERVER + "postgres", isolation_level="AUTOCOMMIT")


def existing_marker() -> str | None:
    admin = server()
    with admin.connect() as conn:
        found = conn.execute(text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :d"),
                             {"d": PG_DATABASE}).one_or_none()
    admin.dispose()
    return None if found is None else (found[0] or "")


def recreate_database() -> None:
    admin = server()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    admin.dispose()


def drop_database() -> None:
    admin = server()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
    admin.dispose()


def set_marker(marker: str) -> None:
    admin = server()
    with admin.connect() as conn:
        conn.execute(text(f"COMMENT ON DATABASE {PG_DATABASE} IS '{marker}'"))
    admin.dispose()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def set_revision(engine: Engine, revision: str) -> str:
    """The schema at `revision` (upgrading or downgrading); returns the revision it is at."""
    with engine.begin() as connection:
        config = migrate.alembic_config()
        config.attributes["connection"] = connection
        script = ScriptDirectory.from_config(config)
        target = script.get_revision(revision)
        if target is None:
            raise SystemExit(f"--revision {revision}: no such revision")
        current = MigrationContext.configure(connection).get_current_revision()
        below = {r.revision for r in script.iterate_revisions(current, "base")} if current else set()
        if target.revision in below:
            command.downgrade(config, target.revision)
        else:
            command.upgrade(config, target.revision)
    return current_revision(engine) or ""


def vacuum_analyze(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()



def columns(table: Table) -> list[str]:
    return [c.name for c in table.columns]


def copy_rows(engine: Engine, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    """COPY the rows into the table: the columns the first row names (the ones a later row lacks are NULL; the
    ones no row names take their defaults, so a column added after the build revision, such as
    callback_tasks.channel in 0015, is left to its migration). Returns the count."""
    first = next(rows, None)
    if first is None:
        return 0
    names = [name for name in columns(table) if name in first]
    raw = engine.raw_connection()
    count = 0
    try:
        pg: Any = raw.driver_connection
        with pg.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in itertools.chain([first], rows):
                copy.write_row(tuple(row.get(n) for n in names))
                count += 1
        pg.commit()
    finally:
        raw.close()
    return count
