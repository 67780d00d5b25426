"""The KPI page's 质检 section: the month's quality measures from listened calls and reviewed cases, the numbers of
`huifang report qa --period P --json` (qa.measures: one implementation), with the branches' names."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kit.actor import Actor, NotAllowed
from qa.measures import measures
from storage.models import Branch


def qa_section(db: Session, actor: Actor, period: str) -> dict[str, Any] | None:
    """The measures' JSON for `period` (YYYY-MM) and `branch_names` (code → name); None when the actor may not
    read them (the section is left out)."""
    try:
        found = measures(db, actor, period).to_json()
    except NotAllowed:
        return None
    return {**found, "branch_names": {code: name for code, name in db.execute(select(Branch.code, Branch.name))}}
