"""The case page's 录入签字问卷 form (a letter case's returned questionnaire, a visit's): the questions from the flow
engine for the policy, 是/否 each, the visitor (a visit), the date signed and the signed scan. Parsing and the
Chinese words here; the rules in letters.replies (and cases.actions for the visitor), the route beside the
case desk's other forms (`POST /console/cases/<id>/reply`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import abort, flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from calls.context import CallContext
from cases.actions import ActionRefused, CaseNotFound, NotAllowed
from console.cases.forms import version_of
from console.cases.messages import refusal_zh
from console.cases.routes import _case, cases
from console.context import context, page_actor, unit_of_work
from console.labels import RESULT_ZH
from console.recordings.queries import recording_store
from huifang.case_rules import CaseRules
from kit.actor import CASE_HANDLERS, Actor
from kit.vocab import CallbackChannel
from letters.replies import (
    CHANNEL_OF,
    Problem,
    Questionnaire,
    Recorded,
    Reply,
    ReplyRefused,
    case_task,
    paper_context,
    questionnaire,
    record,
)
from letters.scans import ScanProblem, ScanRefused, sniff

FIELDS = ("visitor", "signed_on", "note", "scan")
PROBLEM_ZH: dict[Problem, tuple[str, str]] = {  # code → (the field it is shown beside, the words)
    Problem.NOT_APPLICABLE: ("", "只有信函件、上门回访件可以录入签字问卷"),
    Problem.NO_TASK: ("", "该工单的回访任务已不在此回访方式，不能录入签字问卷"),
    Problem.ANSWER_MISSING: ("", "第{number}题未选择“是”或“否”"),
    Problem.FLOW_CHANGED: ("", "问卷内容已更新，请刷新页面后按新问卷重新录入"),
    Problem.SIGNED_ON: ("signed_on", "签署日期不能晚于今天"),
}
SCAN_ZH: dict[ScanProblem, str] = {
    ScanProblem.MISSING: "请上传客户签字的问卷扫描件",
    ScanProblem.TYPE: "扫描件须为 PDF、JPG 或 PNG 文件（按文件内容检查，不看文件名）",
    ScanProblem.TOO_LARGE: "扫描件不能超过 {limit} MB",
}


@dataclass(frozen=True)
class ReplyForm:
    values: dict[str, str]  # what the user sent, to re-display (answer.<step> → yes | no)
    answers: dict[str, bool]
    visitor: str | None
    signed_on: date | None
    note: str
    flow: str
    version: int | None
    errors: dict[str, str] = field(default_factory=dict)  # field → message


def parse_reply(form: dict[str, str], questions: Questionnaire, *, visit: bool) -> ReplyForm:
    """`answer.<step>` (yes | no, every question), `visitor` (a visit), `signed_on` (YYYY-MM-DD), `note`,
    `flow`, `version`. The scan is read separately (`read_scan`)."""
    values = {name: form.get(name, "") for name in ("visitor", "signed_on", "note", "flow")}
    errors: dict[str, str] = {}
    answers: dict[str, bool] = {}
    for question in questions.questions:
        name = f"answer.{question.step}"
        values[name] = form.get(name, "")
        if values[name] in ("yes", "no"):
            answers[question.step] = values[name] == "yes"
        else:
            errors[name] = "请选择“是”或“否”"
    if visit and not values["visitor"].strip():
        errors["visitor"] = "请填写上门回访人员"
    signed_on = None
    try:
        signed_on = date.fromisoformat(values["signed_on"].strip())
    except ValueError:
        errors["signed_on"] = "请填写签署日期，例如 2026-11-28"
    return ReplyForm(values, answers, values["visitor"].strip() or None, signed_on, values["note"].strip(),
                     values["flow"], version_of(form.get("version", "")), errors)


def read_scan(upload: FileStorage | None, max_mb: int) -> bytes:
    """At most one byte over the limit is read (a larger file is refused without reading it all)."""
    if upload is None:
        return b""
    return upload.stream.read(max_mb * 1024 * 1024 + 1)


def problem_zh(exc: ReplyRefused) -> tuple[str, str]:
    name, words = PROBLEM_ZH[exc.problem]
    if exc.field and exc.field.startswith("answer."):
        name = exc.field
    return name, words.format(**{k: str(v) for k, v in exc.params.items()})


def recorded_zh(done: Recorded) -> str:
    result = RESULT_ZH.get(done.result_class, done.result_class)
    return f"已录入签字问卷：回访结果 {result}，工单已办结，扫描件已保存（SHA-256 {done.snapshot.sha256[:16]}…）"


def paper_calls() -> CallContext | None:
    phone = context().calls
    return paper_context(phone) if phone is not None else None


def page_questionnaire(db: Session, actor: Actor, case_id: int) -> Questionnaire | None:
    """The questions for the case page's form: a letter or visit case, open, its task on that channel."""
    calls = paper_calls()
    if calls is None:
        return None
    try:
        _case_row, task, policy = case_task(db, actor, case_id)
    except (ReplyRefused, ActionRefused, CaseNotFound):
        return None
    return questionnaire(db, calls, task, policy)


@cases.post("/cases/<int:case_id>/reply", endpoint="reply")
def reply_route(case_id: int) -> Response | tuple[str, int]:
    """录入签字问卷: the answers through the phone's engine and classifier (letters.replies.record), the work order
    closed, the scan kept. Refused: the form again with the input kept and the reason beside the field."""
    calls = paper_calls()
    settings = context().settings
    with unit_of_work() as db:
        actor = page_actor(db, CASE_HANDLERS)  # read-only roles: 403
        handler = actor.acting_as(CASE_HANDLERS, "record a signed questionnaire")
        try:
            case_row, _task, _policy = case_task(db, handler, case_id)  # another branch's: 404
        except CaseNotFound:
            abort(404)
        except (ReplyRefused, ActionRefused):
            case_row = None
        questions = page_questionnaire(db, handler, case_id)
        if calls is None or questions is None or case_row is None:
            return _case(db, actor, case_id, errors={"reply.": "该工单当前不能录入签字问卷"}, status=422)
        form = parse_reply(request.form.to_dict(), questions, visit=CHANNEL_OF[str(case_row.type)] is CallbackChannel.VISIT)
        errors = {f"reply.{name}": words for name, words in form.errors.items()}
        scan = None
        try:
            scan = sniff(read_scan(request.files.get("scan"), settings.letters.max_scan_mb),
                         settings.letters.max_scan_mb)
        except ScanRefused as exc:
            errors["reply.scan"] = SCAN_ZH[exc.problem].format(limit=exc.limit_mb)
        if scan is not None and form.signed_on is not None and not errors:
            reply = Reply(form.answers, form.signed_on, scan, visitor=form.visitor, note=form.note, flow=form.flow,
                          version=form.version)
            try:
                done = record(db, calls, actor, case_id, reply, files=recording_store(),
                              rules=CaseRules(settings, context().calendar))
            except CaseNotFound:
                abort(404)
            except ReplyRefused as exc:
                name, words = problem_zh(exc)
                errors[f"reply.{name}"] = words
            except (ActionRefused, NotAllowed) as exc:
                at = getattr(exc, "field", None)
                errors[f"reply.{at if at in FIELDS else ''}"] = refusal_zh(exc)
            else:
                db.commit()
                flash(recorded_zh(done), "done")
                return redirect(url_for("cases.case_page", case_id=case_id))
        return _case(db, actor, case_id, reply_form=form.values, errors=errors, status=422)
