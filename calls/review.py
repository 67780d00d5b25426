"""A quality review's corrections applied to a finished call: the corrected answers classified again and, when
the result differs, applied to the call, its task and its cases by the same path as a call's end and an agent's
outcome (`calls.service.reclassify`). Every review leaves a call event (who: qa, kind: review). Services flush;
the caller commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from calls.context import CallContext
from calls.errors import UnknownCall
from calls.service import Loaded, answers_with_agent, reclassify
from flows.classify import classify
from flows.engine import CallState
from flows.review import HeardAnswer, corrected_answers, topic_rules
from flows.vocab import ReasonCode
from kit.vocab import TaskStatus
from storage.models import Call, CallbackTask, CallEvent, Policy
from storage.repositories import calls as call_repo

REVIEW_NOTE = "质检复核：{reviewer}：{remarks}"


@dataclass(frozen=True)
class ReviewResult:
    before: str | None  # the call's result class before the review
    after: str | None  # as the corrections make it (None: the call cannot be classified again)
    reclassified: bool  # the call and task were re-classified (and cases opened or closed)
    why_not: str = ""  # when the result differs but was not applied: why


def heard_answers(session: Session, call_id: int) -> list[HeardAnswer]:
    """The call's answer events, in order, as the review reads them."""
    stmt = select(CallEvent).where(CallEvent.call_id == call_id, CallEvent.kind == "answer").order_by(CallEvent.seq)
    return [HeardAnswer(e.seq, e.topic, str((e.detail or {}).get("input") or ""),
                        str((e.detail or {}).get("digits") or "")) for e in session.scalars(stmt)]


def _load(session: Session, ctx: CallContext, call_id: int) -> Loaded | None:
    call = session.get(Call, call_id, with_for_update=True)
    if call is None:
        raise UnknownCall(f"unknown call {call_id}")
    task = session.get(CallbackTask, call.task_id, with_for_update=True)
    policy = session.get(Policy, call.policy_id)
    assert task is not None
    assert policy is not None
    if call.state is None or call.flow_id is None:
        return None
    return Loaded(call, task, policy, ctx.engine(session, task, policy, call.flow_id))


def _moved_on(session: Session, call: Call, task: CallbackTask) -> str:
    """Why the task cannot take this call's result again (empty: it can)."""
    if task.status is not TaskStatus.COMPLETED:
        return f"task is {task.status.value}"
    later = [c for c in call_repo.for_task(session, task.id) if c.id > call.id and c.finished_at is not None]
    return f"a later call ({later[-1].call_sid}) gave the task its result" if later else ""


def apply_review(session: Session, ctx: CallContext, call_id: int, corrections: Mapping[int, str], *,
                 reviewer: str, remarks: str, now: datetime) -> ReviewResult:
    """Classify the call again with the reviewer's corrections (answer event seq → what the caller said) and,
    when the result class or reasons differ, re-classify the call and its task; cases follow (apply_result)."""
    loaded = _load(session, ctx, call_id)
    call = session.get(Call, call_id)
    assert call is not None
    before = call.result_class.value if call.result_class else None
    note = REVIEW_NOTE.format(reviewer=reviewer, remarks=remarks.strip() or "—")
    detail: dict[str, object] = {"reviewer": reviewer, "before": before,
                                 "corrections": {str(seq): actual for seq, actual in sorted(corrections.items())}}
    result = ReviewResult(before, None, False, "the call has no finished flow")
    if loaded is not None and loaded.call.state is not None:
        state = CallState.from_dict(loaded.call.state)
        if state.end_reason is not None:
            rules = topic_rules(loaded.engine.flow, state.plan)
            answers = corrected_answers(answers_with_agent(call, state), heard_answers(session, call.id),
                                        corrections, rules)
            new = classify(answers, state.end_reason, state.identity_verified)
            after = new.result_class.value
            kept = set(call.reason_codes or []) - {ReasonCode.RECORDING_MISSING.value}  # added after the call
            changed = bool(corrections) and (after != before or {str(c) for c in new.reason_codes} != kept)
            why_not = _moved_on(session, call, loaded.task) if changed else ""
            if changed and not why_not:
                reclassify(session, ctx, loaded, answers, state, now, note=note)
            result = ReviewResult(before, after, changed and not why_not, why_not)
            detail["answers"] = answers
    detail.update({"after": result.after, "reclassified": result.reclassified, "why_not": result.why_not})
    call_repo.add_events(session, call, now, [{"who": "qa", "kind": "review", "text": note, "detail": detail}])
    session.flush()
    return result
