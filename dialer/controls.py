"""The supervisors' controls over calling: pause and resume calling for all tasks, one branch, one product type
or one branch's product type. The one implementation behind `huifang dialer pause|resume` and the console's
dialer page.

A pause is a row in `dialer_pauses`, in force until resumed; resumed rows stay as the history (who stopped
calling, when and why; who restarted it, when and why). Every dialer reads the pauses in force at each tick
(dialer.loop): the tasks they cover are not claimed, calls already placed go on to their end, and retry times
and deadlines do not move — the tasks just wait. Each change writes the audit trail with who and why.

Scopes are exact: resuming a branch resumes the pause of that branch, not a pause of all calling (that one
is resumed as "all"). Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kit.actor import Actor, Role
from kit.clock import isoformat_local
from kit.vocab import ProductType
from storage.models import AuditEvent, Branch, DialerPause
from storage.repositories.claims import PauseScope

CONTROLLERS = frozenset({Role.SUPERVISOR, Role.OPERATOR})  # who may pause and resume calling
VIEWERS = CONTROLLERS | {Role.ADMIN}  # who may see the dialers and the pauses (docs/console.md)
REASON_MAX = 500


class ControlError(ValueError):
    """A pause or resume the rules refuse: `field` names the input (branch, product_type, reason), the message
    says it for the command line (naming the option), `zh` for the console. A pause or resume that does not fit
    what is in force now has no field: `current` is the pause already in force, `in_force` every pause (the
    console words these with its own vocabulary)."""

    def __init__(self, field: str, message: str, zh: str = "", *, current: PauseView | None = None,
                 in_force: list[PauseView] | None = None) -> None:
        super().__init__(message)
        self.field, self.zh, self.current, self.in_force = field, zh, current, in_force or []


@dataclass(frozen=True)
class Scope:
    """What a pause covers: a branch (code), a product type, both, or neither (all calling)."""

    branch: str | None = None
    product_type: ProductType | None = None

    @property
    def key(self) -> str:
        return f"branch={self.branch or '*'};product_type={self.product_type.value if self.product_type else '*'}"

    def describe(self) -> str:
        if self.branch is None and self.product_type is None:
            return "all calling"
        return ", ".join(part for part in (self.branch and f"branch {self.branch}",
                                           self.product_type and f"product type {self.product_type.value}") if part)


@dataclass(frozen=True)
class PauseView:
    """A pause as the command line prints it and the console and dashboard show it."""

    id: int
    branch: str | None
    product_type: ProductType | None
    since: datetime
    by: str
    reason: str
    resumed_at: datetime | None = None
    resumed_by: str | None = None
    resume_reason: str | None = None

    @property
    def scope(self) -> Scope:
        return Scope(self.branch, self.product_type)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"branch": self.branch,
                                "product_type": self.product_type.value if self.product_type else None,
                                "since": isoformat_local(self.since), "by": self.by, "reason": self.reason}
        if self.resumed_at is not None:
            data.update(resumed_at=isoformat_local(self.resumed_at), resumed_by=self.resumed_by,
                        resume_reason=self.resume_reason)
        return data


def _view(row: DialerPause) -> PauseView:
    return PauseView(row.id, row.branch_code, row.product_type, row.paused_at, row.paused_by, row.reason,
                     row.resumed_at, row.resumed_by, row.resume_reason)


def scope_of(session: Session, branch: str | None, product_type: str | None) -> Scope:
    """The scope asked for, checked: a branch that exists, a product type of the vocabulary (empty: every one)."""
    branch = (branch or "").strip() or None
    kind = (product_type or "").strip() or None
    if branch is not None and session.scalar(select(Branch.id).where(Branch.code == branch)) is None:
        raise ControlError("branch", f"--branch {branch!r}: no such branch (branches come with imported policies)",
                           f"机构：没有代码为 {branch} 的机构")
    if kind is not None and kind not in {p.value for p in ProductType}:
        raise ControlError("product_type", f"--product-type {kind!r}: not a product type "
                                           f"(one of {', '.join(p.value for p in ProductType)})",
                           "险种：请从列表中选择")
    return Scope(branch, ProductType(kind) if kind else None)


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ControlError("reason", "--reason: say why (it goes into the audit trail)", "原因：请填写原因（将记入审计日志）")
    if len(text) > REASON_MAX:
        raise ControlError("reason", f"--reason: at most {REASON_MAX} characters",
                           f"原因：最多 {REASON_MAX} 字（现有 {len(text)} 字）")
    return text


def _in_force(session: Session, scope: Scope, *, lock: bool = False) -> DialerPause | None:
    stmt = select(DialerPause).where(DialerPause.scope == scope.key, DialerPause.resumed_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def _audit(session: Session, actor: Actor, action: str, scope: Scope, reason: str, now: datetime,
           detail: str) -> None:
    session.add(AuditEvent(at=now, operator=actor.user, action=action, target=f"dialer: {scope.describe()}",
                           reason=reason, detail=detail))


def pause(session: Session, actor: Actor, *, branch: str | None, product_type: str | None, reason: str | None,
          now: datetime) -> PauseView:
    """Stop calling for the scope from the dialers' next tick. Refused when that scope is paused already."""
    actor.require(CONTROLLERS, "pause calling")
    scope = scope_of(session, branch, product_type)
    why = _reason(reason)
    current = _in_force(session, scope)
    if current is None:
        row = DialerPause(scope=scope.key, branch_code=scope.branch, product_type=scope.product_type, reason=why,
                          paused_by=actor.user, paused_at=now)
        try:
            with session.begin_nested():  # another supervisor paused the same scope a moment ago: theirs stands
                session.add(row)
        except IntegrityError:
            current = _in_force(session, scope)
        else:
            _audit(session, actor, "dialer_paused", scope, why, now, f"pause {row.id}")
            session.flush()
            return _view(row)
    assert current is not None
    raise ControlError("", f"{scope.describe()} is paused already (since {isoformat_local(current.paused_at)} by "
                           f"{current.paused_by}: {current.reason})", current=_view(current))


def resume(session: Session, actor: Actor, *, branch: str | None, product_type: str | None, reason: str | None,
           now: datetime) -> PauseView:
    """Restart calling for the scope: its pause in force ends (kept as history). Refused when that exact scope
    is not paused (the message names the pauses that are)."""
    actor.require(CONTROLLERS, "resume calling")
    scope = scope_of(session, branch, product_type)
    why = _reason(reason)
    row = _in_force(session, scope, lock=True)
    ended = 0
    if row is not None:  # a conditional update: a resume that raced another one ends the pause once
        result = cast(CursorResult[Any], session.execute(
            update(DialerPause).where(DialerPause.id == row.id, DialerPause.resumed_at.is_(None))
            .values(resumed_at=now, resumed_by=actor.user, resume_reason=why)
            .execution_options(synchronize_session=False)))
        ended = result.rowcount
    if row is None or not ended:
        others = pauses_in_force(session)
        listed = "; ".join(p.scope.describe() for p in others) or "nothing"
        raise ControlError("", f"{scope.describe()} is not paused (paused now: {listed})", in_force=others)
    _audit(session, actor, "dialer_resumed", scope, why, now, f"pause {row.id}")
    session.flush()
    session.refresh(row)
    return _view(row)


def pauses_in_force(session: Session) -> list[PauseView]:
    """The pauses in force, oldest first (the dashboard shows whether calling is paused from this)."""
    rows = session.scalars(select(DialerPause).where(DialerPause.resumed_at.is_(None))
                           .order_by(DialerPause.paused_at, DialerPause.id))
    return [_view(row) for row in rows]


def paused_scopes(session: Session) -> list[PauseScope]:
    """The pauses in force as the dialer's claim query takes them (storage.repositories.claims.paused)."""
    return [(p.branch, p.product_type) for p in pauses_in_force(session)]


def history(session: Session, limit: int = 50) -> list[PauseView]:
    """Pauses that were resumed, the latest first."""
    rows = session.scalars(select(DialerPause).where(DialerPause.resumed_at.is_not(None))
                           .order_by(DialerPause.resumed_at.desc(), DialerPause.id.desc()).limit(limit))
    return [_view(row) for row in rows]
