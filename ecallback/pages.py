"""What the e-callback page shows and takes, without HTTP: the screen for a link, the one-time code, the identity
form, each answer. Each function runs inside the caller's transaction (the link's row locked for a change); the
web layer commits and sends the queued SMS afterwards. Rules live elsewhere: codes in ecallback.codes, the
questionnaire in calls.sessions (the phone's engine, classifier and results)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calls import sessions as web_sessions
from calls.context import CallContext
from calls.errors import CallError
from ecallback import codes
from ecallback.links import by_token
from kit.settings import Settings
from kit.vocab import CallbackChannel
from storage.models import Call, CallbackTask, CallEvent, EcallbackLink, Policy

INVALID, EXPIRED, USED, LOCKED, IDENTITY, QUESTION, DONE = (
    "invalid", "expired", "used", "locked", "identity", "question", "done")
STATUS = {INVALID: 404, EXPIRED: 410}


@dataclass
class Screen:
    """One screen of the page; `text` is what it shows, kept (with its SHA-256) in the session's record."""

    kind: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    question: str = ""
    seq: int | None = None
    error: str = ""
    code_needed: bool = True  # the one-time code is still to be given
    name: str = ""  # the applicant, masked (the identity screen)
    policy_no: str = ""

    @property
    def text(self) -> str:
        return "\n".join(part for part in (self.title, self.name, self.policy_no, *self.paragraphs, self.question,
                                           self.error) if part)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def status(self) -> int:
        return STATUS.get(self.kind, 200)


class PageRefused(Exception):
    """The request cannot be taken; `screen` is what to show instead."""

    def __init__(self, screen: Screen) -> None:
        super().__init__(screen.title)
        self.screen = screen


def masked(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


def screen(session: Session, ctx: CallContext, token: str, now: datetime) -> Screen:
    """What the link shows now (nothing changes)."""
    link = by_token(session, token)
    closed = _closed(session, link, now)
    if closed is not None:
        return closed
    assert link is not None
    call = session.get(Call, link.call_id) if link.call_id else None
    policy = session.get(Policy, link.policy_id)
    assert policy is not None
    if call is None or not web_sessions.verified(call):
        return _identity(ctx.settings, link, policy, call)
    return _question(session, call, policy)


def request_code(session: Session, ctx: CallContext, token: str, detail: dict[str, Any]) -> int:
    """The applicant asks for a code: the questionnaire's session starts (the first deliberate act on the link)
    and the code's SMS is queued; its message id (to send after the commit)."""
    now = ctx.clock.now()
    link, policy = _open_link(session, ctx, token, now)
    if link.verified_at is not None:
        raise PageRefused(_with_error(session, ctx, token, now, "验证码已验证，无需再次获取。"))
    _start(session, ctx, link, detail)
    try:
        return codes.request_code(session, link, policy, now=now, settings=ctx.settings)
    except codes.CodeRefused as exc:
        raise PageRefused(_with_error(session, ctx, token, now, str(exc))) from None


def identify(session: Session, ctx: CallContext, token: str, birth_date: str, code: str,
             detail: dict[str, Any]) -> Screen | None:
    """The identity form: the one-time code (unless given already), then the birth date to the questionnaire's
    identity check. The screen to show when the questionnaire has ended (identity failed); None: go on."""
    now = ctx.clock.now()
    link, _policy = _open_link(session, ctx, token, now)
    try:
        born = date.fromisoformat(birth_date.strip())
    except ValueError:
        raise PageRefused(_with_error(session, ctx, token, now, "请按“年-月-日”填写出生日期，例如1980-05-17。")) from None
    try:
        codes.check_code(link, code, now=now, settings=ctx.settings)
    except codes.CodeRefused as exc:
        session.flush()  # a wrong code counts, whatever the page shows next
        raise PageRefused(_with_error(session, ctx, token, now, str(exc))) from exc
    call = _start(session, ctx, link, detail)
    if web_sessions.verified(call):  # the form sent again after identity passed: the questionnaire goes on
        return None
    doc = web_sessions.current(call)
    web_sessions.identify(session, ctx, call.call_sid, doc["seq"], born, detail)
    return _after(session, link, call, now)


def answer(session: Session, ctx: CallContext, token: str, seq: int, value: str,
           detail: dict[str, Any]) -> Screen | None:
    """An answer to the question of turn `seq`; the confirmation (or the end) when the questionnaire ended."""
    now = ctx.clock.now()
    link, _policy = _open_link(session, ctx, token, now)
    call = session.get(Call, link.call_id) if link.call_id else None
    if call is None or not web_sessions.verified(call):
        raise PageRefused(_with_error(session, ctx, token, now, "请先完成身份验证。"))
    try:
        web_sessions.answer(session, ctx, call.call_sid, seq, value, detail)
    except CallError:
        pass  # an older page answered again: the page shows where the questionnaire is now
    return _after(session, link, call, now)


# -- pieces ------------------------------------------------------------------------------------------


def _closed(session: Session, link: EcallbackLink | None, now: datetime) -> Screen | None:
    if link is None:
        return Screen(INVALID, "链接无效", ["请核对短信中的链接是否完整。"])
    if link.used_at is not None:
        return Screen(USED, "此链接已使用", ["本次回访已经完成，感谢您的配合。此链接不再接受任何操作。"])
    task = session.get(CallbackTask, link.task_id)
    assert task is not None
    if (link.closed_at is not None or link.expires_at <= now or task.channel is not CallbackChannel.ECALLBACK
            or task.status not in web_sessions.STARTABLE):
        return Screen(EXPIRED, "链接已过期", ["此回访链接已经失效，页面不会记录任何操作。",
                                            "如需办理，请拨打客服热线与我们联系。"])
    if link.locked_at is not None:
        return Screen(LOCKED, "链接已锁定", ["验证码错误次数过多，此链接已锁定。请拨打客服热线与我们联系。"])
    return None


def _open_link(session: Session, ctx: CallContext, token: str, now: datetime) -> tuple[EcallbackLink, Policy]:
    link = by_token(session, token, lock=True)
    closed = _closed(session, link, now)
    if closed is not None:
        raise PageRefused(closed)
    assert link is not None
    policy = session.get(Policy, link.policy_id)
    assert policy is not None
    return link, policy


def _start(session: Session, ctx: CallContext, link: EcallbackLink, detail: dict[str, Any]) -> Call:
    if link.call_id is not None:
        call = session.get(Call, link.call_id)
        assert call is not None
        return call
    task = session.get(CallbackTask, link.task_id, with_for_update=True)
    assert task is not None
    call = web_sessions.open_session(session, ctx, task, CallbackChannel.ECALLBACK, detail=detail)
    link.call_id = call.id
    return call


def _after(session: Session, link: EcallbackLink, call: Call, now: datetime) -> Screen | None:
    session.flush()  # the call is the identity map's: the questionnaire's changes are on it
    if not web_sessions.ended(call):
        return None
    link.used_at, link.updated_at = now, now  # single use once the questionnaire has ended
    doc = web_sessions.current(call)
    texts = [p["text"] for p in doc["prompts"]]
    title = "回访已完成" if call.end_reason == "completed" else "回访已结束"
    return Screen(DONE, title, texts or ["感谢您的配合。"], code_needed=False)


def _identity(settings: Settings, link: EcallbackLink, policy: Policy, call: Call | None) -> Screen:
    error = ""
    if call is not None:
        doc = web_sessions.current(call)
        if doc["expect"] == "digits":  # the birthday check asked again: the engine's words
            error = "".join(p["text"] for p in doc["prompts"] if p["role"] == "system")
    intro = [f"{settings.questionnaire.company_name}新契约电子化回访。为保障您的权益，请先核实身份："
             "填写您的出生日期，并输入发送到您手机的短信验证码。提交即表示您确认是投保人本人。"]
    return Screen(IDENTITY, "身份验证", intro, error=error, code_needed=link.verified_at is None,
                  name=f"投保人：{masked(policy.applicant_name)}")


def _question(session: Session, call: Call, policy: Policy) -> Screen:
    doc = web_sessions.current(call)
    prompts = doc["prompts"]
    paragraphs = [p["text"] for p in prompts[:-1]]
    last = prompts[-1] if prompts else {"text": "", "step": ""}
    question = last["text"]
    if any(p["role"] == "explanation" for p in prompts):  # after 否: the explanation, then the question again
        paragraphs.append(last["text"])
        question = _asked(session, call.id, last["step"]) or question
    return Screen(QUESTION, "新契约回访", paragraphs, question=question, seq=doc["seq"], code_needed=False,
                  policy_no=f"保单号：{policy.policy_no}")


def _asked(session: Session, call_id: int, step: str) -> str:
    """The question of `step` as first asked (its text, as the robot speaks it)."""
    stmt = (select(CallEvent.text).where(CallEvent.call_id == call_id, CallEvent.kind == "prompt",
                                         CallEvent.detail["step"].as_string() == step,
                                         CallEvent.detail["role"].as_string() == "question")
            .order_by(CallEvent.seq).limit(1))
    return session.scalar(stmt) or ""


def _with_error(session: Session, ctx: CallContext, token: str, now: datetime, error: str) -> Screen:
    shown = screen(session, ctx, token, now)
    shown.error = error
    return shown
