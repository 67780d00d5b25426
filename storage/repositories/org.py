"""Branches and agents: find by code, insert what is missing."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from storage.models import Agent, Branch
from storage.repositories.bulk import matching


class AgentFacts(NamedTuple):
    id: int
    name: str
    phone: str


def branch_ids(session: Session, codes: Collection[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for condition in matching(session, Branch.code, codes):
        found.update(session.execute(select(Branch.code, Branch.id).where(condition)).all())
    return found


def insert_branches(session: Session, names_by_code: Mapping[str, str], now: datetime) -> dict[str, int]:
    if not names_by_code:
        return {}
    rows = [{"code": code, "name": name, "created_at": now} for code, name in names_by_code.items()]
    result = session.execute(insert(Branch).returning(Branch.code, Branch.id), rows)
    return dict(result.all())


def agents_by_code(session: Session, codes: Collection[str]) -> dict[str, AgentFacts]:
    """The id, name and phone of each agent found (plain rows: an import reads thousands per chunk)."""
    found: dict[str, AgentFacts] = {}
    for condition in matching(session, Agent.code, codes):
        stmt = select(Agent.code, Agent.id, Agent.name, Agent.phone).where(condition)
        found.update((code, AgentFacts(i, name, phone)) for code, i, name, phone in session.execute(stmt))
    return found


def rename_agents(session: Session, changes: list[AgentFacts]) -> None:
    """Set each agent's name and phone (by id)."""
    if changes:
        stmt = (update(Agent).where(Agent.id == bindparam("agent_id"))
                .values(name=bindparam("agent_name"), phone=bindparam("agent_phone")))
        session.connection().execute(
            stmt, [{"agent_id": c.id, "agent_name": c.name, "agent_phone": c.phone} for c in changes])


def insert_agents(session: Session, rows: list[dict[str, object]]) -> dict[str, int]:
    if not rows:
        return {}
    result = session.execute(insert(Agent).returning(Agent.code, Agent.id), rows)
    return dict(result.all())


def branch_by_code(session: Session, code: str) -> Branch | None:
    return session.scalars(select(Branch).where(Branch.code == code)).one_or_none()
