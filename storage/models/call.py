"""Calls (one per Twilio CallSid, or one per off-phone session of the questionnaire) with the flow state between
turns, and their event log (the transcript)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from flows.vocab import ResultClass
from kit.vocab import AgentOutcome, CallbackChannel, CallOutcome
from storage.base import Base, IdMixin, TimestampMixin, enum_column


class Call(IdMixin, TimestampMixin, Base):
    __tablename__ = "calls"
    __table_args__ = (  # the dashboard's last 30 days of calls, on PostgreSQL from the index alone
        Index("ix_calls_created_at", "created_at",
              postgresql_include=["task_id", "policy_id", "answered_at", "outcome", "result_class"]),
    )

    call_sid: Mapped[str] = mapped_column(String(64), unique=True)  # Twilio's CallSid; a session id off the phone
    # phone: a Twilio call. ecallback / letter / visit: the same questionnaire run off the phone (channels/)
    channel: Mapped[CallbackChannel] = mapped_column(enum_column(CallbackChannel), default=CallbackChannel.PHONE,
                                                     server_default=CallbackChannel.PHONE.value)
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), index=True)
    dialled_number: Mapped[str | None] = mapped_column(String(32))  # the number called (E.164), as it was then
    caller_id: Mapped[str | None] = mapped_column(String(32))  # the number shown to the callee
    twilio_status: Mapped[str] = mapped_column(String(16))  # the latest CallStatus taken
    status_rank: Mapped[int] = mapped_column(default=0)  # order of that status; older callbacks change nothing
    attempt_counted: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[CallOutcome] = mapped_column(enum_column(CallOutcome))
    answered_by: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None]  # when Twilio started the call (initiated)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[int | None]
    flow_id: Mapped[str | None] = mapped_column(String(64))
    flow_version: Mapped[int | None]
    flow_hash: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # flows.engine.CallState.to_dict()
    turn_seq: Mapped[int] = mapped_column(default=0)  # the turn the next webhook must name
    last_twiml: Mapped[str | None] = mapped_column(Text)  # replayed when Twilio delivers a turn twice
    # How spoken answers are taken on this call: record | stream (a Media Stream; back to record when it
    # fails) | keypad; None off the phone. speech_seq: the turn whose document listens for a spoken answer.
    capture: Mapped[str | None] = mapped_column(String(16))
    speech_seq: Mapped[int | None]
    event_count: Mapped[int] = mapped_column(default=0)  # numbers the call's events without a query
    end_reason: Mapped[str | None] = mapped_column(String(32))
    handoff_topic: Mapped[str | None] = mapped_column(String(48))
    handoff_reason: Mapped[str | None] = mapped_column(String(16))  # asked | unresolved | human_first
    handoff_target: Mapped[str | None] = mapped_column(String(128), index=True)  # the agent line dialled
    agent_outcome: Mapped[AgentOutcome | None] = mapped_column(enum_column(AgentOutcome))
    result_class: Mapped[ResultClass | None] = mapped_column(enum_column(ResultClass))
    reason_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    finished_at: Mapped[datetime | None]  # when the result was classified


class CallEvent(IdMixin, Base):
    """One line of a call's record: a prompt played, an answer heard (raw recognition kept), a status."""

    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "seq", name="uq_call_events_call_id_seq"),)

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int]
    at: Mapped[datetime]
    who: Mapped[str] = mapped_column(String(16))  # robot | caller | twilio | agent | applicant (off the phone)
    kind: Mapped[str] = mapped_column(String(16))  # prompt | answer | status | handoff | dial | outcome
    topic: Mapped[str | None] = mapped_column(String(48))
    text: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
