"""The retention desk: `GET /console/recordings/retention` lists the stored recordings past their retention
date (due for purge) and those an open dispute keeps; `POST /console/recordings/purge` deletes what is due (all,
or the one named by `recording`) with a reason, through recordings.compliance.purge (as `huifang recordings
purge`); a refusal is shown with its reason."""

from __future__ import annotations

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.context import context, page_actor, unit_of_work
from console.recordings.forms import reason_of
from console.recordings.queries import recording_store
from console.recordings.routes import recordings
from kit.actor import RECORDING_KEEPERS, Actor
from recordings import compliance

LIMIT = 500  # rows the page lists (the purge itself takes every due recording)


def kept_zh(kept: compliance.Kept | None) -> str:
    """Why a recording is kept, as the retention page says it; empty when it may be deleted."""
    if kept is None:
        return ""
    return {"dispute": f"争议未结（自 {kept.on} 起），争议结束后至少保存 2 年",
            "whole_life": "终身合同尚未终止，合同存续期间保留",
            "no_date": "尚无保存期限，保留",
            "retention": f"保存期限至 {kept.on}（自合同终止起算），未到期不可删除"}[kept.why]


def _page(db: Session, actor: Actor, *, errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
          status: int = 200) -> tuple[str, int]:
    rows = compliance.retention_view(db, actor, now=context().clock.now(), limit=LIMIT)
    html = render_template("console/recordings/retention.html", actor=actor, rows=rows, kept_zh=kept_zh,
                           due=sum(1 for *_, kept in rows if kept is None), limit=LIMIT, errors=errors or {},
                           form=form or {}, messages=get_flashed_messages(with_categories=True))
    return html, status


@recordings.get("/recordings/retention", endpoint="retention_page")
def retention_view() -> tuple[str, int]:
    with unit_of_work() as db:
        return _page(db, page_actor(db, RECORDING_KEEPERS))


@recordings.post("/recordings/purge", endpoint="purge")
def purge_route() -> Response | tuple[str, int]:
    errors: dict[str, str] = {}
    reason = reason_of(request.form, errors, "删除事由")
    sid = request.form.get("recording", "").strip() or None
    with unit_of_work() as db:
        actor = page_actor(db, RECORDING_KEEPERS)
        if not errors:
            try:
                result = compliance.purge(db, recording_store(), actor=actor, now=context().clock.now(),
                                          reason=reason, recording_sid=sid)
            except compliance.Refused as exc:
                errors["recording"] = f"录音 {exc.recording_sid} 不可删除：{kept_zh(exc.kept)}"
            except compliance.ComplianceError:
                errors["recording"] = f"录音编号：没有已保存的录音 {sid}（或不在您的权限范围内）"
            else:
                db.commit()
                flash(f"已删除 {len(result['purged'])} 条到期录音（共检查 {result['checked']} 条已保存录音）", "done")
                return redirect(url_for("recordings.retention_page"))
        db.rollback()
        return _page(db, actor, errors=errors, form=dict(request.form), status=422)
