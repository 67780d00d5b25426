"""The e-callback's job, run each tick (the dialer's loop, or `huifang ecallback tick`): a link for each queued
e-callback task that has none open; the next channel (channels.switch.fall_through) for a link left unanswered
for channels.ecallback_wait_days working days or past its expiry. One transaction decides, it commits, and the
queued messages are sent afterwards, outside it (messaging.queue)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from channels.switch import end_unreachable, fall_through
from ecallback.links import EXPIRED, UNANSWERED, LinkRefused, close, issue, live_link
from kit.calendar import BusinessCalendar
from kit.clock import BUSINESS_TZ, Clock
from kit.settings import Settings
from kit.vocab import CallbackChannel, TaskStatus
from messaging.queue import Outbound, Outcome
from storage.db import unit_of_work
from storage.models import Call, CallbackTask, EcallbackLink, Policy


@dataclass
class TickReport:
    links_sent: list[str] = field(default_factory=list)  # policy numbers
    fell_through: dict[str, str] = field(default_factory=dict)  # policy number → the next channel or "unreachable"
    refused: dict[str, str] = field(default_factory=dict)  # policy number → why no link was sent
    messages: list[Outcome] = field(default_factory=list)


def decide(session: Session, *, settings: Settings, calendar: BusinessCalendar, clock: Clock,
           limit: int = 200) -> TickReport:
    """What is due now, inside the caller's transaction (flushed, not committed)."""
    now = clock.now()
    today = now.astimezone(BUSINESS_TZ).date()
    report = TickReport()
    live = (select(EcallbackLink.id).where(EcallbackLink.task_id == CallbackTask.id,
                                           EcallbackLink.closed_at.is_(None), EcallbackLink.used_at.is_(None)))
    # a link waits ecallback_wait_days working days, so at least as many calendar days: younger ones are not due
    settled = live.where(EcallbackLink.expires_at > now,
                         EcallbackLink.created_at > now - timedelta(days=settings.channels.ecallback_wait_days))
    stmt = (select(CallbackTask, Policy).join(Policy, Policy.id == CallbackTask.policy_id)
            .where(CallbackTask.channel == CallbackChannel.ECALLBACK, CallbackTask.status == TaskStatus.QUEUED,
                   ~settled.exists())
            .order_by(CallbackTask.id).limit(limit).with_for_update(of=CallbackTask, skip_locked=True))
    for task, policy in session.execute(stmt).all():
        link = live_link(session, task.id)
        if link is None:
            try:
                issue(session, task, policy, now=now, settings=settings)
                report.links_sent.append(policy.policy_no)
            except LinkRefused as exc:
                report.refused[policy.policy_no] = str(exc)
                _fall(session, task, policy, EXPIRED, None, "电子化回访未能在犹豫期内发送链接", settings, calendar,
                      clock, report)
            continue
        if _in_progress(session, link, settings, now):
            continue
        if link.expires_at <= now:
            _fall(session, task, policy, EXPIRED, link, "电子化回访链接已过期，投保人未完成", settings, calendar,
                  clock, report)
            continue
        waited_until = calendar.add_working_days(link.created_at.astimezone(BUSINESS_TZ).date(),
                                                 settings.channels.ecallback_wait_days)
        if waited_until <= today:
            why = f"电子化回访链接{settings.channels.ecallback_wait_days}个工作日内未完成"
            _fall(session, task, policy, UNANSWERED, link, why, settings, calendar, clock, report)
    session.flush()
    return report


def _in_progress(session: Session, link: EcallbackLink, settings: Settings, now: datetime) -> bool:
    """The applicant is answering now: a session started, not ended, and touched within its time limit."""
    if link.call_id is None or link.expires_at <= now:
        return False
    call = session.get(Call, link.call_id)
    return (call is not None and call.end_reason is None
            and now - call.updated_at < timedelta(minutes=settings.ecallback.session_minutes))


def _fall(session: Session, task: CallbackTask, policy: Policy, reason: str, link: EcallbackLink | None, why: str,
          settings: Settings, calendar: BusinessCalendar, clock: Clock, report: TickReport) -> None:
    now = clock.now()
    if link is not None:
        close(session, link, reason, now)
    nxt = fall_through(session, task, now=now, settings=settings, calendar=calendar, why=why)
    if nxt is not None:
        report.fell_through[policy.policy_no] = str(nxt)
        return
    end_unreachable(session, task, detail=f"{why}，且没有可用的下一种回访方式，请核实联系方式", now=now,
                    settings=settings, calendar=calendar)
    report.fell_through[policy.policy_no] = "unreachable"


def tick(sessions: sessionmaker[Session], outbound: Outbound, *, settings: Settings, calendar: BusinessCalendar,
         clock: Clock) -> TickReport:
    """Decide and commit, then send what is queued (links and codes alike) with no transaction open."""
    with unit_of_work(sessions) as session:
        report = decide(session, settings=settings, calendar=calendar, clock=clock)
        session.commit()
    report.messages = outbound.deliver()
    return report
