"""E-callback links: one random, unguessable token per sending (192 bits from `secrets`; only its SHA-256 is
stored), valid until the end of the task's deadline day (the cooling-off end), used once the questionnaire has
ended. A new link for a task closes the one before. Services flush; the caller commits and then sends the
queued SMS (messaging.queue)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.switch import move
from kit.actor import Actor
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, business_start_of, isoformat_local
from kit.settings import Settings
from kit.vocab import CallbackChannel, CallOutcome, TaskStatus
from messaging.queue import enqueue
from recordings.audit import audit
from storage.models import Call, CallbackTask, EcallbackLink, Policy
from storage.repositories import calls as call_repo

TOKEN_BYTES = 24  # 192 bits
REPLACED, EXPIRED, UNANSWERED = "replaced", "expired", "unanswered"  # why a link was closed


class LinkRefused(ValueError):
    """No link can be sent; the message says why."""


@dataclass(frozen=True)
class Issued:
    link: EcallbackLink
    token: str
    url: str
    message_id: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(settings: Settings, token: str) -> str:
    base = (settings.ecallback.public_base_url or settings.ivr.public_base_url).rstrip("/")
    return f"{base}/e/{token}"


def expiry(task: CallbackTask) -> datetime:
    """The end of the task's deadline day (the cooling-off end), business time."""
    return business_start_of(task.deadline + timedelta(days=1))


def by_token(session: Session, token: str, *, lock: bool = False) -> EcallbackLink | None:
    stmt = select(EcallbackLink).where(EcallbackLink.token_hash == token_hash(token))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def live_link(session: Session, task_id: int) -> EcallbackLink | None:
    """The task's open link (not closed, not used), whether or not it has expired yet."""
    stmt = (select(EcallbackLink).where(EcallbackLink.task_id == task_id, EcallbackLink.closed_at.is_(None),
                                        EcallbackLink.used_at.is_(None)).order_by(EcallbackLink.id.desc()))
    return session.scalars(stmt.limit(1)).first()


def close(session: Session, link: EcallbackLink, reason: str, now: datetime) -> None:
    """The link stops working. A questionnaire it started and the applicant left unfinished is marked left
    (outcome hangup, unclassified: the callback goes on by the link's successor or the next channel)."""
    link.closed_at, link.closed_reason, link.updated_at = now, reason, now
    call = session.get(Call, link.call_id, with_for_update=True) if link.call_id else None
    if call is not None and call.end_reason is None and call.outcome is CallOutcome.IN_PROGRESS:
        call.outcome, call.updated_at = CallOutcome.HANGUP, now
        call_repo.add_events(session, call, now, [{"who": "web", "kind": "status", "text": "abandoned",
                                                   "detail": {"link_closed": reason}}])


def issue(session: Session, task: CallbackTask, policy: Policy, *, now: datetime, settings: Settings) -> Issued:
    """A new link for a queued e-callback task, its SMS queued to the applicant's phone; the link before it (if
    any) is closed."""
    if task.channel is not CallbackChannel.ECALLBACK:
        raise LinkRefused(f"policy {policy.policy_no}: the callback is on {task.channel}, not ecallback")
    if task.status not in (TaskStatus.QUEUED, TaskStatus.HELD):
        raise LinkRefused(f"policy {policy.policy_no}: the callback is {task.status}; no link is sent")
    expires = expiry(task)
    if expires <= now:
        raise LinkRefused(f"policy {policy.policy_no}: the cooling-off period ended on {task.deadline}; "
                          "an e-callback must be done inside it")
    before = live_link(session, task.id)
    if before is not None:
        close(session, before, REPLACED, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    url = link_url(settings, token)
    e = settings.ecallback
    body = e.link_text.format(company_name=settings.questionnaire.company_name, applicant_name=policy.applicant_name,
                              policy_no=policy.policy_no, link=url,
                              expires=f"{(expires - timedelta(seconds=1)).astimezone(BUSINESS_TZ):%Y-%m-%d %H:%M}")
    message = enqueue(session, to=policy.applicant_phone, body=body, purpose="link", now=now, task_id=task.id)
    link = EcallbackLink(task_id=task.id, policy_id=policy.id, token_hash=token_hash(token), expires_at=expires,
                         message_id=message.id, codes_sent=0, wrong_codes=0, created_at=now, updated_at=now)
    session.add(link)
    session.flush()
    return Issued(link, token, url, message.id)


def send_by_hand(session: Session, task: CallbackTask, policy: Policy, *, actor: Actor, reason: str, now: datetime,
                 settings: Settings, calendar: BusinessCalendar) -> Issued:
    """`huifang ecallback send` (and any front door a person uses): the callback is moved to the e-callback
    first when it is on another channel (channels.switch.move: scoped, audited), then a new link is issued;
    audited."""
    if task.channel is not CallbackChannel.ECALLBACK:
        move(session, task, CallbackChannel.ECALLBACK, actor=actor, reason=reason, now=now, settings=settings,
             calendar=calendar)
    issued = issue(session, task, policy, now=now, settings=settings)
    audit(session, actor=actor, action="ecallback_link", target=f"policy {policy.policy_no}", now=now, reason=reason,
          detail=f"link {issued.link.id} expires {isoformat_local(issued.link.expires_at)}")
    return issued
