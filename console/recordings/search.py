"""The compliance desk (docs/console.md): `GET /console/recordings` searches recordings (query `policy`,
`phone`, `since`, `until`, `branch`, `result`, `page`; audited as `huifang recordings find` is, by the same
recordings.compliance.search); `POST /console/recordings/reason` keeps the reason for listening for this
session (every playback from this page writes it to the trail); `POST /console/recordings/bundle` downloads a
policy's export bundle (recordings.compliance.export, as `huifang recordings export`); `POST
/console/recordings/dispute` opens or closes a policy's dispute (recordings.compliance.set_dispute, as `huifang
policies dispute`)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import abort, flash, get_flashed_messages, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from console.cases.export import attachment
from console.context import context, page_actor, unit_of_work
from console.formatting import local_time
from console.recordings.forms import (
    DisputeForm,
    dispute_state,
    parse_dispute,
    parse_search,
    reason_of,
)
from console.recordings.queries import SEARCH_REASON, RecordingView, recording_store, view_of
from console.recordings.routes import recordings
from flows.vocab import ResultClass
from kit.actor import RECORDING_KEEPERS, RECORDING_READERS, Actor
from kit.clock import BUSINESS_TZ
from recordings import compliance
from recordings.playback import availability
from recordings.store import RecordingStore
from storage.models import Branch, Call, Policy, Recording
from storage.repositories import policies as policy_repo

PAGE_SIZE = 50


@dataclass(frozen=True)
class Row:
    started: str  # Beijing time
    policy_no: str
    applicant: str
    phone: str  # masked
    branch: str
    duration: str
    result: str | None  # the result class (the template words it)
    status: str  # recordings.playback.Availability
    player: RecordingView


def masked_phone(number: str | None) -> str:
    """139****5678: the first three and last four digits of the number (the rest is personal data)."""
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    if number and number.startswith("+86"):
        digits = digits[2:]
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "*" * len(digits)


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds // 60} 分 {seconds % 60:02d} 秒" if seconds >= 60 else f"{seconds} 秒"


def _rows(db: Session, files: RecordingStore, actor: Actor, found: list[tuple[Recording, Call, Policy]],
          listening: bool) -> list[Row]:
    codes: dict[int, str] = {}
    if found:
        stmt = select(Branch.id, Branch.code).where(Branch.id.in_({p.branch_id for _, _, p in found}))
        codes = {branch_id: code for branch_id, code in db.execute(stmt)}
    rows = []
    for recording, call, policy in found:
        player = view_of(files, actor, call, recording, "recordings")
        if player.src and not listening:
            player = RecordingView(player.label, None, "请先填写调阅事由，再收听")
        rows.append(Row(local_time(call.started_at or call.created_at), policy.policy_no, policy.applicant_name,
                        masked_phone(call.dialled_number or policy.applicant_phone), codes.get(policy.branch_id, ""),
                        _duration(recording.duration_s), call.result_class.value if call.result_class else None,
                        availability(recording, files).value, player))
    return rows


def _page(db: Session, actor: Actor, *, errors: dict[str, str] | None = None, forms: dict[str, Any] | None = None,
          status: int = 200) -> tuple[str, int]:
    """The search page for the request's query; after a refused form, with its input and messages."""
    query = parse_search(request.args)
    errors = {**query.errors, **(errors or {})}
    listening = bool(session.get(SEARCH_REASON))
    rows: list[Row] = []
    if not query.errors:
        found = compliance.search(db, query.filters, actor=actor, now=context().clock.now(), limit=PAGE_SIZE,
                                  offset=(query.page - 1) * PAGE_SIZE, newest_first=True)
        db.commit()  # the search's audit line
        rows = _rows(db, recording_store(), actor, found, listening)
    policy = policy_repo.by_number(db, query.filters.policy_no, actor=actor) if query.filters.policy_no else None
    html = render_template(
        "console/recordings/search.html", actor=actor, rows=rows, args=request.args, errors=errors,
        forms=forms or {}, policy=policy, reason=session.get(SEARCH_REASON, ""), results=list(ResultClass),
        result={"page": query.page, "has_next": len(rows) == PAGE_SIZE},
        messages=get_flashed_messages(with_categories=True), here=request.full_path.rstrip("?"),
        can_keep=actor.has(RECORDING_KEEPERS),
        dispute_was=dispute_state(policy.dispute_started_on, policy.dispute_ended_on) if policy else "",
        today=context().clock.now().astimezone(BUSINESS_TZ).date().isoformat())
    return html, status


@recordings.get("/recordings", endpoint="search_page")
def search_view() -> tuple[str, int]:
    with unit_of_work() as db:
        return _page(db, page_actor(db, RECORDING_READERS))


def _back(policy_no: str | None = None) -> str:
    """The search page with the filters the form was sent from (only our own path), or the policy's."""
    if policy_no:
        return url_for("recordings.search_page") + "?" + urlencode({"policy": policy_no})
    back = request.form.get("back", "")
    return back if back.startswith("/console/recordings") else url_for("recordings.search_page")


@recordings.post("/recordings/reason", endpoint="reason")
def reason_route() -> Response:
    """The reason for listening, asked once per session (signing in again asks again)."""
    errors: dict[str, str] = {}
    with unit_of_work() as db:
        page_actor(db, RECORDING_READERS)
    reason = reason_of(request.form, errors, "调阅事由")
    if errors:
        flash(errors["reason"], "error")
    else:
        session[SEARCH_REASON] = reason
        flash(f"调阅事由已记录：{reason}（本次登录内每次收听都会记入审计日志）", "done")
    return redirect(_back())


@recordings.post("/recordings/bundle", endpoint="bundle")
def bundle_route() -> Response | tuple[str, int]:
    """A policy's export bundle, streamed: written to a temporary file (unlinked at once: it goes when the
    download ends, however it ends), then sent from it; audited with its name and SHA-256 before it is sent."""
    ctx = context()
    now = ctx.clock.now()
    policy_no = request.form.get("policy", "").strip()
    errors: dict[str, str] = {}
    reason = reason_of(request.form, errors, "导出事由")
    with unit_of_work() as db:
        actor = page_actor(db, RECORDING_READERS)
        if policy_repo.by_number(db, policy_no, actor=actor) is None:
            abort(404)
        if errors:
            return _page(db, actor, errors=errors, forms={"bundle": request.form}, status=422)
        stamp = now.astimezone(BUSINESS_TZ).strftime("%Y%m%d-%H%M%S")
        name, ascii_name = f"回访证据包-{policy_no}-{stamp}.zip", f"bundle-{policy_no}-{stamp}.zip"
        handle, scratch = tempfile.mkstemp(prefix="huifang-bundle-", suffix=".zip")
        os.close(handle)
        path = Path(scratch)
        try:
            compliance.export(db, recording_store(), policy_no, path, actor=actor, reason=reason, now=now, name=name)
            db.commit()  # the audit line is in the trail before the bundle leaves
            data = path.open("rb")
        except compliance.ComplianceError as exc:
            db.rollback()
            return _page(db, actor, errors={"bundle": f"无法导出：{exc}"}, forms={"bundle": request.form}, status=422)
        finally:
            path.unlink(missing_ok=True)  # the open handle keeps the data until the download is sent
    size = os.fstat(data.fileno()).st_size
    response = Response(wrap_file(request.environ, data), mimetype="application/zip", direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = attachment(name, ascii_name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@recordings.post("/recordings/dispute", endpoint="dispute")
def dispute_route() -> Response | tuple[str, int]:
    """Open (`action=open`, `start`) or close (`action=close`, `end`) the policy's dispute, with a reason; the
    page's view of the dispute (`was`) must still hold (else someone else changed it)."""
    form = parse_dispute(request.form)
    with unit_of_work() as db:
        actor = page_actor(db, RECORDING_KEEPERS)
        policy = policy_repo.by_number(db, form.policy_no, actor=actor) if form.policy_no else None
        if policy is None:
            abort(404)
        errors = dict(form.errors)
        if not errors and dispute_state(policy.dispute_started_on, policy.dispute_ended_on) != form.was:
            errors["dispute"] = "该保单的争议状态已被他人修改，请查看最新状态后重新提交"
        if not errors and form.action == "close" and policy.dispute_started_on is None:
            errors["dispute"] = "该保单没有登记中的争议，无法结束"
        if not errors:
            changed = _set_dispute(db, actor, policy, form, errors)
            if changed is not None:
                db.commit()
                flash(_dispute_done(form, changed), "done")
                return redirect(_back(policy.policy_no))
        db.rollback()
        return _page(db, actor, errors=errors, forms={"dispute": request.form}, status=422)


def _set_dispute(db: Session, actor: Actor, policy: Policy, form: DisputeForm, errors: dict[str, str]) -> int | None:
    ctx = context()
    started = form.start if form.action == "open" else policy.dispute_started_on
    ended = form.end if form.action == "close" else None
    assert started is not None
    try:
        return compliance.set_dispute(db, policy, started, ended, actor=actor, reason=form.reason,
                                      now=ctx.clock.now(), settings=ctx.settings.recordings)
    except compliance.ComplianceError:
        errors["end"] = f"争议结束日期：不能早于争议开始日期 {started}"
        return None


def _dispute_done(form: DisputeForm, changed: int) -> str:
    if form.action == "open":
        return f"已登记争议（自 {form.start} 起）：该保单的 {changed} 条录音在争议结束前一律保留"
    return f"争议已结束（{form.end}）：该保单的 {changed} 条录音保存至争议结束后至少 2 年"
