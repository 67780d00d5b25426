"""One-time codes for an e-callback link: 6 digits sent by SMS to the policy's phone, stored hashed with a salt,
expiring after ecallback.code_minutes; a wait between codes and a most per link; the link locked after
ecallback.max_wrong_codes wrong codes. A right code is used up: the link is verified. Services flush; the caller
commits and then sends the queued SMS."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from kit.settings import Settings
from messaging.queue import enqueue
from storage.models import EcallbackLink, Policy


class CodeRefused(ValueError):
    """What the applicant reads (zh-CN) when a code cannot be sent or taken."""


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def usable(link: EcallbackLink, now: datetime) -> None:
    """Refuses a link that accepts nothing: used, closed, expired, locked."""
    if link.used_at is not None:
        raise CodeRefused("本次回访已经完成，此链接已失效。")
    if link.closed_at is not None or link.expires_at <= now:
        raise CodeRefused("此链接已过期。")
    if link.locked_at is not None:
        raise CodeRefused("验证码错误次数过多，此链接已锁定。请拨打客服热线联系我们。")


def request_code(session: Session, link: EcallbackLink, policy: Policy, *, now: datetime,
                 settings: Settings) -> int:
    """A new code for the link (the one before no longer works), its SMS queued; the message's id."""
    e = settings.ecallback
    usable(link, now)
    if link.codes_sent >= e.max_codes:
        raise CodeRefused("验证码发送次数已达上限。请拨打客服热线联系我们。")
    if link.code_sent_at is not None and now - link.code_sent_at < timedelta(seconds=e.code_resend_seconds):
        wait = e.code_resend_seconds - int((now - link.code_sent_at).total_seconds())
        raise CodeRefused(f"验证码已发送，请{wait}秒后再试。")
    code = f"{secrets.randbelow(10 ** 6):06d}"
    link.code_salt = secrets.token_hex(8)
    link.code_hash = _digest(link.code_salt, code)
    link.code_expires_at = now + timedelta(minutes=e.code_minutes)
    link.code_sent_at, link.updated_at = now, now
    link.codes_sent += 1
    body = e.code_text.format(company_name=settings.questionnaire.company_name, code=code, minutes=e.code_minutes)
    message = enqueue(session, to=policy.applicant_phone, body=body, purpose="code", now=now, task_id=link.task_id)
    session.flush()
    return message.id


def check_code(link: EcallbackLink, code: str, *, now: datetime, settings: Settings) -> None:
    """Verifies the link with `code`, or refuses (a wrong code counts towards the lock)."""
    usable(link, now)
    if link.verified_at is not None:
        return
    if not code.strip():
        raise CodeRefused("请输入短信验证码。")  # nothing given is not a wrong code
    if link.code_hash is None or link.code_salt is None or link.code_expires_at is None:
        raise CodeRefused("请先获取短信验证码。")
    if link.code_expires_at <= now:
        raise CodeRefused("验证码已过期，请重新获取。")
    link.updated_at = now
    if not hmac.compare_digest(_digest(link.code_salt, code.strip()), link.code_hash):
        link.wrong_codes += 1
        left = settings.ecallback.max_wrong_codes - link.wrong_codes
        if left <= 0:
            link.locked_at = now
            raise CodeRefused("验证码错误次数过多，此链接已锁定。请拨打客服热线联系我们。")
        raise CodeRefused(f"验证码不正确，还可以再试{left}次。")
    link.verified_at = now
    link.code_hash = link.code_salt = None  # used up
