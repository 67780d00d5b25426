"""The one place an actor's branch scope is applied to a query (architecture invariant 8).

Every read of cases, policies, tasks, calls and recordings made on someone's behalf goes through `scoped`,
which joins the branch when the statement has not and keeps only the actor's branches. An actor that sees
every branch (supervisor, compliance, operator, system) gets the statement unchanged.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, false
from sqlalchemy.orm import InstrumentedAttribute

from kit.actor import Actor
from storage.models import Branch

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def scoped(stmt: S, actor: Actor, branch_id: InstrumentedAttribute[int], *, joined: bool = False) -> S:
    """`stmt` limited to the rows whose `branch_id` column is one of the actor's branches.

    `joined`: the statement already joins `Branch` on that column (then its code is filtered directly)."""
    codes = actor.branch_codes
    if codes is None:
        return stmt
    if not codes:
        return stmt.where(false())  # type: ignore[return-value]
    if not joined:
        stmt = stmt.join(Branch, Branch.id == branch_id)  # type: ignore[assignment]
    return stmt.where(Branch.code.in_(sorted(codes)))  # type: ignore[return-value]
