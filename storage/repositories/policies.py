"""Policy queries."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from kit.actor import Actor
from storage.models import Policy
from storage.repositories.bulk import insert_rows, matching
from storage.scope import scoped


def by_numbers(session: Session, policy_nos: Collection[str]) -> dict[str, Policy]:
    found: dict[str, Policy] = {}
    for condition in matching(session, Policy.policy_no, policy_nos):
        for policy in session.scalars(select(Policy).where(condition)):
            found[policy.policy_no] = policy
    return found


def by_number(session: Session, policy_no: str, *, actor: Actor) -> Policy | None:
    """The policy, if the actor may see it."""
    stmt = scoped(select(Policy).where(Policy.policy_no == policy_no), actor, Policy.branch_id)
    return session.scalars(stmt).one_or_none()


def insert_many(session: Session, rows: list[dict[str, object]]) -> dict[str, int]:
    """Insert new policies in one batch (bulk.insert_rows: COPY on PostgreSQL); returns policy_no → id.

    Core, not the ORM: the ORM's bulk insert spent a third of an import's time sorting each row's values into
    the mapper's columns. The ids are read back by policy_no with a plain select: an executemany with RETURNING
    is several times slower on psycopg, and COPY returns nothing.
    """
    if not rows:
        return {}
    insert_rows(session, Policy.__table__, rows)  # type: ignore[arg-type]
    ids: dict[str, int] = {}
    for condition in matching(session, Policy.policy_no, [str(r["policy_no"]) for r in rows]):
        ids.update(session.execute(select(Policy.policy_no, Policy.id).where(condition)).all())
    return ids
