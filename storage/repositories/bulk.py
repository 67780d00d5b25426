"""Set-sized work for the repositories: a condition on many values, and an insert of many rows.

PostgreSQL gets its own forms where they pay (an import of 100,000 rows spent most of its time on the IN lists
and the row-by-row inserts): one bound array instead of an IN list per chunk of values, and COPY instead of an
executemany. Every other backend (SQLite) gets the portable forms. Both run in the session's transaction:
the caller owns it (nothing here commits)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, String, Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.repositories import IN_CHUNK, chunked

T = TypeVar("T")


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


ARRAY_CHUNK = 10_000  # values in one bound array: an import's 2,000 in one; 100,000 ids took 25 MB more at once


def matching(session: Session, column: InstrumentedAttribute[T], values: Collection[T]) -> Iterator[ColumnElement[bool]]:
    """`column IN values` as the conditions of one or more queries, each to be run on its own and the results
    taken together: none for no values.

    On PostgreSQL `column IN (SELECT unnest(:array))`, the values bound as one array of up to ARRAY_CHUNK: the
    statement's text is the same for any count, so neither psycopg nor the server parses a new one for each (an
    IN list's text grows with its count). Not `column = ANY(:array)`: psycopg prepares a statement run five
    times, the server then plans it once for any array, and that plan compares each row of a small table with
    every value in turn (the agents of a 2,000-row chunk: 50-90 ms a query, against 2-3 ms for the join).
    Elsewhere IN lists of at most IN_CHUNK values, under SQLite's limit on bound parameters."""
    if is_postgresql(session):
        item = column.type.copy()
        if isinstance(item, String):
            item.length = None  # an array of VARCHAR(n) would cut a longer value to n and find what it does not name
        for batch in chunked(values, ARRAY_CHUNK):
            yield column.in_(select(func.unnest(bindparam(None, batch, type_=ARRAY(item)))).scalar_subquery())
        return
    for batch in chunked(values, IN_CHUNK):
        yield column.in_(batch)


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (every row naming the same columns, as one executemany needs) in the session's transaction.

    On PostgreSQL by COPY, the values converted by the columns' own types as SQLAlchemy converts them for an
    INSERT (enumerations by value, instants to UTC, JSON): one statement a batch, where psycopg's pipelined
    executemany sends one per row and took three times as long. A column the rows leave out takes its constant
    default, as a Core insert gives it (one with a default computed per row must be given: ValueError, on
    every backend); columns without a default are left to the database (NULL, a sequence, a server default).
    Nothing is returned: the caller reads ids back by a key of its own when it needs them."""
    if not rows:
        return
    names = list(rows[0])
    defaults: list[tuple[str, Any]] = []
    for column in table.columns:
        if column.name in names or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"insert_rows: give {table.name}.{column.name} a value (its default is not a constant)")
        defaults.append((column.name, column.default.arg))  # type: ignore[attr-defined]
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    dialect = connection.dialect
    every = [*names, *(name for name, _ in defaults)]
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in every]
    convert = [(i, process) for i, process in enumerate(processors) if process is not None]
    fixed = [value for _, value in defaults]
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in every)
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({columns}) FROM STDIN"
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                values = [row[name] for name in names] + fixed
                for i, process in convert:
                    values[i] = process(values[i])
                copy.write_row(values)
    except dialect.loaded_dbapi.Error as exc:  # raised as SQLAlchemy raises a statement's error (IntegrityError …)
        lost = dialect.is_disconnect(exc, raw, cursor)
        if lost:  # as SQLAlchemy does for a statement: the connection is not given out again
            connection.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                                  dialect=dialect) from exc
    finally:
        cursor.close()
