"""The quality desk's world: the console fixture (BJ1 in 110100, TJ1 in 120100, a case each; 王芳 branch 110100,
张总 supervisor) with a reviewer 质检周 (qa), a completed robot call of BJ1 (every question answered "是", five
seconds apart, so each answer has its own place in the whole-call recording) whose 60-second recording is stored,
TJ1's case closed, and the November sample holding both (drawn as `huifang qa sample` would store them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from accounts.service import add_user
from calls import service as calls
from calls.context import CallContext
from calls.inputs import Answered, Heard
from cases.actions import Action, Handling, resolve
from console.context import ConsoleContext
from flows.engine import CallerInput, InputKind, Turn
from flows.library import load_library
from huifang.case_rules import CaseRules
from kit.actor import operator_actor
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import Settings
from recordings.service import RecordingCallback, announce, claim, finish_stored
from recordings.store import FileStore
from storage.models import Branch, Call, CallbackTask, CallEvent, Case, Policy, QaSample
from storage.repositories import calls as call_repo
from tests.conftest import NOW
from tests.console.conftest import PASSWORD, case_of, csrf, login
from tests.console.recordings.conftest import tone_wav
from tests.ivr.conftest import BIRTHDAY

CALL_SID = "CA" + "9" * 32
RECORDING_SID = "RE" + "9" * 32
GAP = timedelta(seconds=4)  # between two turns of the call
STAFF = {"质检周": ["qa"], "质检吴": ["qa"]}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The console fixture's settings, with the recordings store in the test's directory."""
    base = Settings()
    return replace(base, recordings=replace(base.recordings, root=str(tmp_path / "recordings")))


class _Quiet:
    """The call's channel: renders nothing (the calls service driven directly, as a WebSocket worker would)."""

    def turn(self, turn: Turn, language: str, seq: int, call: object = None) -> str:
        return f"turn {seq}"

    def hangup(self) -> str:
        return "hangup"

    def prepare(self, texts: Iterable[str], language: str) -> int:
        return 0


@dataclass(frozen=True)
class QaWorld:
    app: Flask
    engine: Engine
    call_sample: int
    case_sample: int
    call_id: int
    case_id: int  # TJ1's closed case (the case sample)
    task_id: int  # BJ1's callback task (the call's)

    def client(self, name: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if name is not None:
            login(client, name)
        return client


def _heard(kind: InputKind, text: str = "", digits: str = "") -> Heard:
    return Heard(CallerInput(kind, digits=digits, text=text), {"source": "test", "confidence": 0.91})


def _complete_call(rules: CallContext, console: ConsoleContext, clock: FrozenClock) -> int:
    """BJ1's applicant confirms who they are (keys) and says 是 to every question, one turn every GAP."""
    with console.sessions() as s:
        policy = s.scalars(select(Policy).where(Policy.policy_no == "BJ1")).one()
        task = s.scalars(select(CallbackTask).where(CallbackTask.policy_id == policy.id)).one()
        call_repo.create(s, call_sid=CALL_SID, task_id=task.id, policy_id=policy.id, now=clock.now())
        calls.start(s, rules, Answered(CALL_SID, task.id, "human", policy.applicant_phone))
        s.commit()
    inputs = [_heard(InputKind.DIGITS, digits="1"), _heard(InputKind.DIGITS, digits=BIRTHDAY)]
    for seq in range(1, 40):
        clock.advance(GAP)
        heard = inputs.pop(0) if inputs else _heard(InputKind.YES, "是的")
        with console.sessions() as s:
            calls.advance(s, rules, CALL_SID, seq, heard)
            s.commit()
            call = s.scalars(select(Call).where(Call.call_sid == CALL_SID)).one()
            if call.result_class is not None:
                assert call.result_class == "standard"
                return call.id
    raise AssertionError("the call did not end")


def _store_recording(session: Session, settings: Settings) -> None:
    """Twilio's whole-call recording of the call, downloaded and stored (60 s of tone)."""
    call = session.scalars(select(Call).where(Call.call_sid == CALL_SID)).one()
    policy = session.get(Policy, call.policy_id)
    assert policy is not None
    callback = RecordingCallback.parse({"CallSid": CALL_SID, "RecordingSid": RECORDING_SID,
                                        "RecordingStatus": "completed", "RecordingDuration": "60",
                                        "RecordingUrl": f"https://api.twilio.com/Recordings/{RECORDING_SID}"})
    announce(session, call, policy, callback, now=NOW, settings=settings.recordings)
    files = FileStore(Path(settings.recordings.root))
    [held] = claim(session, "test", now=NOW, settings=settings.recordings, limit=1, recording_sid=RECORDING_SID)
    assert finish_stored(session, held, files.put(held.path, tone_wav(60.0)), now=NOW)


def _close_case(session: Session, case_id: int, settings: Settings, calendar: BusinessCalendar) -> None:
    """TJ1's explanation case handled by its branch: explained, the customer signed the explanation form."""
    handler = operator_actor("钱处理")
    resolve(session, handler, case_id, Handling(Action.EXPLAINED, "已向客户解释保险责任，客户签署解释单"),
            now=NOW + timedelta(days=1), settings=settings, calendar=calendar,
            rules=CaseRules(settings, calendar))


def _sample(session: Session, *, kind: str, branch: str, stratum: str, call_id: int | None = None,
            case_id: int | None = None) -> int:
    branch_id = session.scalars(select(Branch.id).where(Branch.code == branch)).one()
    sample = QaSample(period="2026-11", kind=kind, call_id=call_id, case_id=case_id, branch_id=branch_id,
                      stratum=stratum, seed="test", drawn_at=NOW + timedelta(days=10), drawn_by="root")
    session.add(sample)
    session.flush()
    return sample.id


@pytest.fixture
def qa_world(console_app: Flask, engine: Engine, session: Session, settings: Settings, clock: FrozenClock,
             calendar: BusinessCalendar) -> Iterator[QaWorld]:
    root = operator_actor("root")
    for name, roles in STAFF.items():
        add_user(session, root, name, PASSWORD, roles, [], now=NOW, settings=settings.console)
    session.commit()
    console: ConsoleContext = console_app.extensions["huifang.console"]
    rules = CallContext(settings=settings, clock=clock, calendar=calendar, library=load_library(),
                        responder=_Quiet(), prompts=_Quiet())
    console_app.extensions["huifang.console"] = replace(console, calls=rules)  # review_call re-classifies with it
    call_id = _complete_call(rules, console, clock)
    clock.set(NOW)
    _store_recording(session, settings)
    session.commit()
    case_id = case_of("TJ1", engine)
    _close_case(session, case_id, settings, calendar)
    call_sample = _sample(session, kind="call", branch="110100", stratum="standard/phone", call_id=call_id)
    case_sample = _sample(session, kind="case", branch="120100", stratum="first_explanation_case", case_id=case_id)
    task_id = session.scalars(select(Call.task_id).where(Call.id == call_id)).one()
    assert session.get(Case, case_id) is not None
    assert task_id is not None
    session.commit()  # SQLite: no transaction left open for the pages' own
    yield QaWorld(console_app, engine, call_sample, case_sample, call_id, case_id, task_id)
    # TJ1's task points at the case that confirms it (cases ↔ callback_tasks): SQLite's emptying between tests
    # deletes cases first, so the pointer goes first
    with engine.begin() as conn:
        conn.execute(update(CallbackTask).values(confirming_case_id=None))


# -- asking ------------------------------------------------------------------------------------------------


def answer_topics(world: QaWorld) -> dict[int, str]:
    """The call's answers the robot heard: event seq → topic."""
    with Session(world.engine) as s:
        return {e.seq: e.topic or "" for e in s.scalars(select(CallEvent).where(
            CallEvent.call_id == world.call_id, CallEvent.kind == "answer").order_by(CallEvent.seq))}


def sample_version(world: QaWorld, sample_id: int) -> int:
    with Session(world.engine) as s:
        return s.scalars(select(QaSample.version_id).where(QaSample.id == sample_id)).one()


def all_right(world: QaWorld, **changes: str) -> dict[str, str]:
    form = {f"mark-{seq}": "right" for seq in answer_topics(world)}
    form.update(result_correct="yes", remarks="", version=str(sample_version(world, world.call_sample)))
    form.update(changes)
    return form


def post_review(client: FlaskClient, world: QaWorld, sample_id: int, form: dict[str, str]) -> tuple[int, str, str]:
    token = csrf(client, f"/console/qa/{sample_id}")
    reply = client.post(f"/console/qa/{sample_id}/review", data={**form, "csrf_token": token})
    return reply.status_code, reply.headers.get("Location", ""), reply.get_data(as_text=True)
