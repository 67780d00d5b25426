"""Branches and agents: find by code, insert what is missing."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage.models import Agent, Branch
from storage.repositories import chunked


def branch_ids(session: Session, codes: Collection[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for batch in chunked(codes):
        found.update(session.execute(select(Branch.code, Branch.id).where(Branch.code.in_(batch))).all())
    return found


def insert_branches(session: Session, names_by_code: Mapping[str, str], now: datetime) -> dict[str, int]:
    if not names_by_code:
        return {}
    rows = [{"code": code, "name": name, "created_at": now} for code, name in names_by_code.items()]
    result = session.execute(insert(Branch).returning(Branch.code, Branch.id), rows)
    return dict(result.all())


def agents_by_code(session: Session, codes: Collection[str]) -> dict[str, Agent]:
    found: dict[str, Agent] = {}
    for batch in chunked(codes):
        found.update((a.code, a) for a in session.scalars(select(Agent).where(Agent.code.in_(batch))))
    return found


def insert_agents(session: Session, rows: list[dict[str, object]]) -> dict[str, int]:
    if not rows:
        return {}
    result = session.execute(insert(Agent).returning(Agent.code, Agent.id), rows)
    return dict(result.all())


def branch_by_code(session: Session, code: str) -> Branch | None:
    return session.scalars(select(Branch).where(Branch.code == code)).one_or_none()
