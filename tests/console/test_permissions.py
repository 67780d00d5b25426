"""The console's permission matrix (docs/console.md, "Roles and scoping"): every console route × every role ×
the user's own branch and another branch → the answer the documented rules give. Scoping is enforced in the
queries, so a branch-bound user asking for another branch's case, policy, recording or hand-off gets 404 in
pages, exports and audio alike; a desk outside the user's roles is 403 (console.context.page_actor); not signed
in is the sign-in page. A refused request changes nothing, and a console route the table does not cover fails
the run.

The world: branches 110100 (policy BJ1 of 赵敏) and 120100 (policy TJ1 of 钱进), each with a case, a stored
recording of an answered call, and a call the robot handed off to the agent line; one account per role, and two
accounts with two roles each. "own" is 110100 (the branch of the branch-bound accounts), "other" is 120100.
Roles that see every branch (supervisor, compliance, qa) see both sides alike."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

import accounts.service
from accounts.service import add_user
from calls import service as calls
from calls.context import CallContext
from calls.inputs import Answered, Heard
from console.context import ConsoleContext
from flows.engine import CallerInput, InputKind, Turn
from flows.library import load_library
from kit.actor import operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from recordings.store import FileStore
from storage.db import unit_of_work
from storage.models import AuditEvent, Call, CallbackTask, Case, CaseEvent, Policy, QaSample, User
from storage.repositories import calls as call_repo
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, case_of, csrf, login
from tests.console.permission_matrix import (
    ACCOUNTS,
    AUDITED,
    BRANCH_BOUND,
    CHANGES,
    FORMS,
    LINE,
    MATRIX,
    ROLES,
    XLSX,
    ZIP,
)
from tests.console.recordings.conftest import AUDIO, add_call
from tests.ivr.conftest import BIRTHDAY

# -- the world --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its smallest cost: every test here builds eight accounts (at the real cost, ~0.65 s each,
    the file would take most of a minute per backend); signing in still verifies a real argon2id hash, and the
    real cost is accounts.service's own (tests/accounts)."""
    monkeypatch.setattr(accounts.service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The console fixture's settings with the recordings store in the test's directory and an agent line."""
    base = Settings()
    return replace(base, recordings=replace(base.recordings, root=str(tmp_path / "recordings")),
                   ivr=replace(base.ivr, agent_target=LINE),
                   console=replace(base.console, upload_dir=str(tmp_path / "uploads")))


class _Quiet:
    """The call's channel: renders nothing (the calls service driven directly, as a WebSocket worker would)."""

    def turn(self, turn: Turn, language: str, seq: int, call: object = None) -> str:
        return f"turn {seq}"

    def hangup(self) -> str:
        return "hangup"

    def prepare(self, texts: Iterable[str], language: str) -> int:
        return 0


def _hand_off(ctx: CallContext, console: ConsoleContext, policy_no: str) -> str:
    """The robot calls the policy's applicant, who confirms who they are, answers one question and keys 0 for a
    person: the call is handed to the agent line (calls.handoff_target), its flow still running."""
    sid = f"CA{policy_no}{2:030d}"
    with unit_of_work(console.sessions) as s:
        policy = s.scalars(select(Policy).where(Policy.policy_no == policy_no)).one()
        task = s.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        call_repo.create(s, call_sid=sid, task_id=task.id, policy_id=policy.id, now=NOW)  # the dialer placed it
        calls.start(s, ctx, Answered(sid, task.id, "human", policy.applicant_phone))
        s.commit()
    for digits in ("1", BIRTHDAY, "1", "0"):
        with unit_of_work(console.sessions) as s:
            seq = s.scalars(select(Call.turn_seq).where(Call.call_sid == sid)).one()
            calls.advance(s, ctx, sid, seq, Heard(CallerInput(InputKind.DIGITS, digits=digits), {"source": "test"}))
            s.commit()
    with unit_of_work(console.sessions) as s:
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert (call.handoff_target, call.agent_outcome) == (LINE, None)
        assert call.handoff_topic is not None
    return sid


@dataclass(frozen=True)
class Side:
    code: str
    policy: str
    applicant: str
    case: int
    recording: str
    call: str


@dataclass(frozen=True)
class World:
    app: Flask
    engine: Engine
    own: Side
    other: Side
    imported: int  # a finished policy-file import (console.imports)
    sample: int  # a quality sample (console.qa): TJ1's case

    def side(self, name: str | None) -> Side | None:
        return {"own": self.own, "other": self.other, None: None}[name]

    def opposite(self, side: Side) -> Side:
        return self.other if side is self.own else self.own


@pytest.fixture
def world(console_app: Flask, engine: Engine, session: Session, settings: Settings, clock: FrozenClock,
          calendar: BusinessCalendar) -> World:
    """The console fixture (BJ1 and its case in 110100, TJ1 and its case in 120100, 王芳 and 张总) with, per
    branch, a stored recording and a call handed off to LINE; and the other accounts of ACCOUNTS."""
    files = FileStore(Path(settings.recordings.root))
    recordings = {no: add_call(session, no, 1, stored=AUDIO, settings=settings, files=files) for no in ("BJ1", "TJ1")}
    root = operator_actor("root")
    for name, roles, branches, line in ACCOUNTS.values():
        if name not in ("王芳", "张总"):
            add_user(session, root, name, PASSWORD, roles, branches, now=NOW, settings=settings.console,
                     agent_line=line)
    session.commit()
    console: ConsoleContext = console_app.extensions["huifang.console"]
    rules = CallContext(settings=settings, clock=clock, calendar=calendar, library=load_library(),
                        responder=_Quiet(), prompts=_Quiet())
    console_app.extensions["huifang.console"] = replace(console, calls=rules)  # the agent desk's outcome form
    handed = {no: _hand_off(rules, console, no) for no in ("BJ1", "TJ1")}
    own, other = (Side(code, no, who, case_of(no, engine), recordings[no], handed[no])
                  for code, no, who in (("110100", "BJ1", "赵敏"), ("120100", "TJ1", "钱进")))
    return World(console_app, engine, own, other, _an_import(session, settings), _a_sample(session, other.case))


def _a_sample(session: Session, case_id: int) -> int:
    """A case drawn for quality review (as `huifang qa sample` stores it)."""
    case = session.get(Case, case_id)
    assert case is not None
    sample = QaSample(period="2026-11", kind="case", case_id=case_id, branch_id=case.branch_id,
                      stratum=str(case.type), seed="test", drawn_at=NOW, drawn_by="root")
    session.add(sample)
    session.commit()
    return sample.id


def _an_import(session: Session, settings: Settings) -> int:
    """A finished import of a stored file with one rejected row (the imports desk's pages and download)."""
    from console.imports import jobs

    stored = jobs.store_upload(io.BytesIO(b"policy_no\n"), Path(settings.console.upload_dir), "p.csv", NOW)
    job = jobs.create_job(session, stored, "p.csv", "张总", NOW)
    job.status, job.summary = jobs.DONE, {"rows": 1, "rejected": [{"row": 2, "column": "premium", "error": "x"}]}
    session.commit()
    return job.id


# -- asking and checking ----------------------------------------------------------------------------------


def snapshot(engine: Engine) -> dict[str, Any]:
    """What a refused request must leave as it was: the cases, their history, the calls' hand-off outcomes, the
    tasks, the accounts and the audit trail (playbacks and exports are written there)."""
    with Session(engine) as s:
        return {
            "cases": s.execute(select(Case.id, Case.status, Case.version_id, Case.assigned_to,
                                      Case.overdue_explanation, Case.resolution_action).order_by(Case.id)).all(),
            "case_events": s.scalar(select(func.count()).select_from(CaseEvent)),
            "calls": s.execute(select(Call.call_sid, Call.agent_outcome, Call.result_class, Call.event_count)
                               .order_by(Call.id)).all(),
            "tasks": s.execute(select(CallbackTask.id, CallbackTask.status).order_by(CallbackTask.id)).all(),
            "users": s.execute(select(User.name, User.failed_logins, User.locked_until).order_by(User.name)).all(),
            "audit": s.scalar(select(func.count()).select_from(AuditEvent)),
        }


def sample_version(engine: Engine, sample_id: int) -> int:
    with Session(engine) as s:
        return s.scalars(select(QaSample.version_id).where(QaSample.id == sample_id)).one()


def version_of(engine: Engine, case_id: int) -> int:
    with Session(engine) as s:
        return s.scalars(select(Case.version_id).where(Case.id == case_id)).one()


def values(world: World, side: Side | None, role: str) -> dict[str, str]:
    found = {"user": ACCOUNTS[role][0] if role in ACCOUNTS else "无此人", "import": str(world.imported),
             "sample": str(world.sample), "sample_version": str(sample_version(world.engine, world.sample))}
    if side is not None:
        found.update(code=side.code, policy=side.policy, case=str(side.case), recording=side.recording,
                     call=side.call, opposite_case=str(world.opposite(side).case),
                     version=str(version_of(world.engine, side.case)))
    return found


def answer(reply: TestResponse) -> str:
    """The reply in the table's words."""
    if reply.status_code == 302:
        target = reply.headers["Location"]
        return "login" if target.startswith("/console/login") else f"→{target}"
    return str(reply.status_code)


def body_text(reply: TestResponse) -> str:
    """What the answer says, for the checks of who is named in it (nothing in audio; an XLSX's cells)."""
    kind = reply.mimetype or ""
    if kind.startswith("audio/"):
        return ""
    if kind == ZIP:  # an export bundle: its JSON files (the policy, the calls)
        with zipfile.ZipFile(io.BytesIO(reply.data)) as bundle:
            return "\n".join(bundle.read(n).decode() for n in bundle.namelist() if n.endswith(".json"))
    if kind == XLSX:
        book = load_workbook(io.BytesIO(reply.data), read_only=True)
        return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    return reply.get_data(as_text=True)


def cell_for(cell: str, side: str | None) -> str:
    own, _, other = cell.partition("|")
    return other if side == "other" and other else own


def sides_of(template: str) -> tuple[str | None, ...]:
    """Both sides when the request names a branch's data (in its path, or in its form: the bulk assignment)."""
    asked = (template + "".join(FORMS.get(template, {}).values())).replace("{user}", "").replace("{import}", "")
    asked = asked.replace("{sample}", "").replace("{sample_version}", "")
    return ("own", "other") if "{" in asked else (None,)


def ask(client: FlaskClient, world: World, role: str, method: str, template: str,
        side: Side | None) -> tuple[TestResponse, dict[str, Any], dict[str, Any], dict[str, str]]:
    """Send one request of the table as a browser would (a POST with its page's CSRF token); the database before
    and after it."""
    given = values(world, side, role)
    path = template.format(**given)
    if method == "GET":
        headers = {"Range": "bytes=0-99"} if "/audio" in path else {}
        before = snapshot(world.engine)
        reply = client.get(path, headers=headers)
    else:
        form = {name: value.format(**given) for name, value in FORMS[template].items()}
        form["csrf_token"] = csrf(client, "/console/login")
        before = snapshot(world.engine)
        reply = client.post(path, data=form)
    return reply, before, snapshot(world.engine), given


@pytest.mark.parametrize("role", ROLES)
def test_the_permission_matrix(world: World, role: str) -> None:
    """One client per role, signed in once; every row of the matrix on both sides. All the cells that differ
    are reported together."""
    client = world.app.test_client()
    if role in ACCOUNTS:
        assert login(client, ACCOUNTS[role][0]) == "/console/"
    column = 1 + ROLES.index(role)
    problems: list[str] = []
    for row in MATRIX:
        method, template = row[0].split(" ", 1)
        for side_name in sides_of(template):
            side = world.side(side_name)
            reply, before, after, given = ask(client, world, role, method, template, side)
            wanted = cell_for(row[column], side_name).format(**given)
            where = f"{role} {method} {template.format(**given)}" + (f" [{side_name}]" if side_name else "")
            got = answer(reply)
            if got != ("200" if wanted == "empty" else wanted):
                problems.append(f"{where}: expected {wanted}, got {got}")
                continue
            text = body_text(reply)
            if side is not None and wanted in ("200", "empty") and (side.applicant in text) != (wanted == "200"):
                problems.append(f"{where}: expected {wanted}, but {side.applicant} is "
                                f"{'missing from' if wanted == '200' else 'in'} the answer")
            if role in BRANCH_BOUND and world.other.applicant in text:
                problems.append(f"{where}: {world.other.applicant} (branch {world.other.code}) is in the answer")
            if wanted in ("login", "403", "404") and after != before:
                changed = sorted(k for k in before if before[k] != after[k])
                problems.append(f"{where}: refused ({wanted}) but changed {', '.join(changed)}")
            if method == "POST" and template.endswith(CHANGES) and wanted.startswith("→") and after == before:
                problems.append(f"{where}: {wanted} but nothing changed")
            audited = after["audit"] - before["audit"]
            if template.startswith(AUDITED) and wanted in ("200", "empty", "206") and audited != 1:
                problems.append(f"{where}: an export or a playback, but {audited} audit lines")
    assert not problems, "\n".join(problems)


def test_the_matrix_covers_every_console_route(console_app: Flask) -> None:
    """Each route of the console (every method but HEAD and OPTIONS; not the static files) has a row, every
    row is a route, every row has a cell per role in the table's vocabulary, and signing out comes last."""
    adapter = console_app.url_map.bind("localhost")
    sample = {"user": "王芳", "code": "110100", "policy": "BJ1", "case": "1", "recording": "RE1", "call": "CA1",
              "opposite_case": "2", "version": "1", "import": "1", "sample": "1", "sample_version": "1"}
    covered = set()
    for row in MATRIX:
        assert len(row) == 1 + len(ROLES), row[0]
        method, template = row[0].split(" ", 1)
        endpoint, _ = adapter.match(template.format(**sample).split("?")[0], method=method)
        covered.add((endpoint, method))
        if method == "POST":
            assert template in FORMS, row[0]
        for cell in row[1:]:
            for side in sides_of(template):
                wanted = cell_for(cell, side)
                assert wanted in ("200", "empty", "206", "login", "403", "404", "422") \
                    or wanted.startswith("→/console/"), \
                    f"{row[0]}: {wanted!r}"
    routes = {(rule.endpoint, method) for rule in console_app.url_map.iter_rules()
              if not rule.endpoint.endswith("static") for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert sorted(routes - covered) == [], "console routes the permission matrix does not cover"
    assert covered <= routes
    assert MATRIX[-1][0] == "POST /console/logout"


def test_the_case_forms_are_offered_only_where_the_user_handles_cases(world: World) -> None:
    """周立 reads every branch's cases (compliance) and handles 110100's (branch): the resolve and assign forms
    are on the own branch's case page only (the service refuses the other branch's case: the matrix)."""
    client = world.app.test_client()
    login(client, ACCOUNTS["branch+compliance"][0])
    own = client.get(f"/console/cases/{world.own.case}").get_data(as_text=True)
    other = client.get(f"/console/cases/{world.other.case}").get_data(as_text=True)
    assert f'action="/console/cases/{world.own.case}/resolve"' in own
    assert f'action="/console/cases/{world.own.case}/assign"' in own
    assert world.other.applicant in other
    assert f"/console/cases/{world.other.case}/resolve" not in other
    assert f"/console/cases/{world.other.case}/assign" not in other
