"""Policy queries."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage.models import Policy
from storage.repositories import chunked


def by_numbers(session: Session, policy_nos: Collection[str]) -> dict[str, Policy]:
    found: dict[str, Policy] = {}
    for batch in chunked(policy_nos):
        for policy in session.scalars(select(Policy).where(Policy.policy_no.in_(batch))):
            found[policy.policy_no] = policy
    return found


def by_number(session: Session, policy_no: str) -> Policy | None:
    return session.scalars(select(Policy).where(Policy.policy_no == policy_no)).one_or_none()


def insert_many(session: Session, rows: list[dict[str, object]]) -> dict[str, int]:
    """Insert new policies in one executemany; returns policy_no → id."""
    if not rows:
        return {}
    result = session.execute(insert(Policy).returning(Policy.policy_no, Policy.id), rows)
    return dict(result.all())
