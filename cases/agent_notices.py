"""The monthly warning SMS to agents whose phone-callback success rate is below the threshold (月度预警,
docs/domain.md §10; the seed's Jinan rules): queued through the SMS queue once per agent and month, each one on
the audit trail (who asked, for which agent and month). Services flush; the caller commits, then sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.kpi import Month, agent_warnings
from kit.actor import REPORT_READERS, Actor
from kit.settings import Settings
from messaging.queue import enqueue
from recordings.audit import audit
from storage.locks import hold_for_transaction
from storage.models import Agent, AuditEvent

ACTION = "agent_warning"


@dataclass(frozen=True)
class Notice:
    agent_code: str
    agent_name: str
    success_rate: float | None
    message_id: int | None  # None: warned for this month already (or no phone)
    status: str  # queued | already_warned | no_phone


def _target(code: str, month: Month) -> str:
    return f"agent {code} {month.first:%Y-%m}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def queue_warnings(session: Session, month: Month, *, settings: Settings, actor: Actor, now: datetime,
                   reason: str) -> list[Notice]:
    """Queue the month's warning to every agent below the threshold who has not had it yet."""
    actor.require(REPORT_READERS, "send the agents' monthly warnings")
    hold_for_transaction(session, f"agent-warnings:{month.first:%Y-%m}")  # two runs at once: one waits
    report = agent_warnings(session, month, settings.reports)
    done = set(session.scalars(select(AuditEvent.target).where(AuditEvent.action == ACTION)))
    phones = {code: phone for code, phone in session.execute(select(Agent.code, Agent.phone))}
    notices: list[Notice] = []
    for warned in report["agents"]:
        code, name, rate = warned["agent_code"], warned["agent_name"], warned["success_rate"]
        target = _target(code, month)
        phone = phones.get(code) or ""
        if target in done:
            notices.append(Notice(code, name, rate, None, "already_warned"))
            continue
        if not phone:
            notices.append(Notice(code, name, rate, None, "no_phone"))
            continue
        body = settings.reports.agent_warning_sms.format(
            company=settings.questionnaire.company_name, agent_name=name, month=f"{month.first.year}年{month.first.month}月",
            rate=_pct(rate), threshold=_pct(settings.reports.agent_warning_success_rate))
        message = enqueue(session, to=phone, body=body, purpose="notice", now=now)
        audit(session, actor=actor, action=ACTION, target=target, now=now, reason=reason,
              detail=f"sms {message.id}: success rate {_pct(rate)}")
        notices.append(Notice(code, name, rate, message.id, "queued"))
    return notices
