"""An IVR wired to a real database (SQLite and PostgreSQL), real prompts, and Twilio-signed requests."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from flows.library import load_library
from intake.reader import open_table
from intake.service import PolicyIntake
from ivr.app import create_app
from ivr.capture import AnswerCapture, KeypadCapture, RecordCapture
from ivr.prompts import PromptIndex
from ivr.services import IvrServices
from kit.calendar import BusinessCalendar
from kit.clock import FrozenClock
from kit.settings import IvrSettings, Settings, TwilioSettings
from kit.vocab import CallbackChannel
from kit.wire import is_call_sid, is_recording_sid
from recordings.media import MediaClient
from recordings.store import FileStore
from speech.asr import Recognition
from speech.audio import Audio
from speech.cache import PromptCache
from speech.lexicon import Intent
from storage.db import make_session_factory, units_of_work
from storage.models import Call, CallbackTask, CallEvent, Case, Policy
from storage.repositories import calls as call_repo
from tests.conftest import NOW
from tests.factories import policy_row, write_csv

if TYPE_CHECKING:
    from ivr.harness.local import LocalHarness

TOKEN = "test-auth-token"
ACCOUNT = "AC" + "0" * 32
BASE = "https://ivr.example.com"
BIRTHDAY = "0517"  # policy_row's applicant is born 1980-05-17


@dataclass
class ScriptedRecognizer:
    """Stands in for Vosk where the IVR's logic is under test: returns the next scripted result and keeps
    the audio it was given (tests check it is the audio served at RecordingUrl)."""

    results: list[Recognition] = field(default_factory=list)
    heard: list[Audio] = field(default_factory=list)

    def say(self, intent: Intent, text: str = "", confidence: float = 0.9) -> None:
        self.results.append(Recognition(intent, confidence, text))

    def recognize(self, audio: Audio) -> Recognition:
        self.heard.append(audio)
        return self.results.pop(0)


def answer_wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x10\x00" * int(8000 * seconds))
    return buffer.getvalue()


class Ivr:
    """The app under test plus what a test needs to drive it the way Twilio does and to look inside."""

    def __init__(self, app: Flask, svc: IvrServices, engine: Engine, clock: FrozenClock,
                 recognizer: ScriptedRecognizer, sleeps: list[float]) -> None:
        self.app, self.svc, self.engine, self.clock = app, svc, engine, clock
        self.client: FlaskClient = app.test_client()
        self.recognizer = recognizer
        self.sleeps = sleeps
        self.http = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.task_id = 0
        self.policy_no = ""
        self._recordings = 0
        self.twilio_calls = TwilioCalls()

    # -- requests as Twilio sends them --------------------------------------------------------------

    def post(self, path: str, form: dict[str, str], *, sign: bool = True, token: str = TOKEN,
             base: str = BASE, place: bool = True) -> TestResponse:
        """POST as Twilio does, signed for `base` + path (the host Twilio requested: the fallback's may differ).
        The test IVR plays the dialer too: a call a genuine (signed) answer or status webhook names for a task is
        placed first (registered as the dialer registers what it placed), unless `place=False`; a shorthand
        CallSid or RecordingSid ("CA1", "RE1") is sent as one of Twilio's shape (`sid`)."""
        form = {name: sid(value) if name in ("CallSid", "RecordingSid") else value for name, value in form.items()}
        task = parse_qs(urlsplit(path).query).get("task")
        genuine = sign and token == TOKEN  # a forged request was not placed by anyone
        if place and genuine and task and task[0].isdigit() and is_call_sid(form.get("CallSid", "")):
            self.place(form["CallSid"], int(task[0]), form.get("To", ""))
        headers = {}
        if sign:
            headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(base + path, form)
        return self.client.post(path, data=form, headers=headers)

    def place(self, call_sid: str = "CA1", task_id: int | None = None, to: str = "") -> None:
        """What the dialer does once Twilio took the call: register its SID and number for the task (once)."""
        call_sid = sid(call_sid)
        with self.session() as s:
            task = s.get(CallbackTask, task_id or self.task_id)
            if task is None or s.scalars(select(Call).where(Call.call_sid == call_sid)).first() is not None:
                return
            call = call_repo.create(s, call_sid=call_sid, task_id=task.id, policy_id=task.policy_id,
                                    now=self.clock.now())
            call.dialled_number = to or None
            s.commit()

    def params(self, call_sid: str, **extra: str) -> dict[str, str]:
        return {"CallSid": sid(call_sid), "AccountSid": ACCOUNT, "From": "+861085551234", "To": "+8613700000001",
                "CallStatus": "in-progress", "ApiVersion": "2010-04-01", "Direction": "outbound-api", **extra}

    def answer_call(self, call_sid: str = "CA1", **extra: str) -> ET.Element:
        return self.ok(self.post(f"/twilio/voice/answer?task={self.task_id}", self.params(call_sid, **extra)))

    def turn(self, call_sid: str = "CA1", *, digits: str | None = None, speech: Intent | None = None,
             no_input: bool = False, seq: int | None = None) -> TestResponse:
        seq = self.call(call_sid).turn_seq if seq is None else seq
        form = self.params(call_sid)
        path = f"/twilio/voice/turn?seq={seq}" + ("&no_input=1" if no_input else "")
        if digits is not None:
            form["Digits"] = digits
        if speech is not None:
            self.recognizer.say(speech)
            form.update(self.serve_answer_recording())
        return self.post(path, form)

    def serve_answer_recording(self, status: int = 200, seconds: float = 1.0) -> dict[str, str]:
        self._recordings += 1
        sid = f"RE{self._recordings:032d}"
        url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}"
        self.http.add(responses.GET, url + ".wav", body=answer_wav(seconds), status=status,
                      content_type="audio/x-wav")
        return {"RecordingUrl": url, "RecordingSid": sid, "RecordingDuration": str(int(seconds)), "Digits": ""}

    def agent_page(self, call_sid: str = "CA1") -> tuple[FlaskClient, TestResponse]:
        """The agent opens the hand-off's link (minted for the call's agent line): a browser holding the
        page's session, and the page."""
        call_sid = sid(call_sid)
        client = self.app.test_client()
        link = self.svc.agent_link(call_sid, self.call(call_sid).handoff_target or "")
        opened = client.get(link.removeprefix(BASE), base_url=BASE)
        assert opened.status_code == 303, opened.get_data(as_text=True)
        return client, client.get(opened.headers["Location"], base_url=BASE)

    def agent_outcome(self, outcome: str, call_sid: str = "CA1", note: str = "") -> TestResponse:
        """The agent posts the outcome from the call's page (opened through the link)."""
        client, _page = self.agent_page(call_sid)
        return client.post(f"/agent/calls/{sid(call_sid)}/outcome", data={"outcome": outcome, "note": note},
                           headers={"Origin": BASE}, base_url=BASE)

    def status(self, call_sid: str, status: str, **extra: str) -> TestResponse:
        return self.post(f"/twilio/voice/status?task={self.task_id}", self.params(call_sid, CallStatus=status, **extra))

    @staticmethod
    def ok(response: TestResponse) -> ET.Element:
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/xml"
        return ET.fromstring(response.get_data())

    # -- looking inside ------------------------------------------------------------------------------

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def call(self, call_sid: str = "CA1") -> Call:
        with self.session() as s:
            return s.scalars(select(Call).where(Call.call_sid == sid(call_sid))).one()

    def events(self, call_sid: str = "CA1") -> list[CallEvent]:
        with self.session() as s:
            call = s.scalars(select(Call).where(Call.call_sid == sid(call_sid))).one()
            return list(s.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.seq)))

    def task(self) -> CallbackTask:
        with self.session() as s:
            task = s.get(CallbackTask, self.task_id)
            assert task is not None
            return task

    def cases(self) -> list[Case]:
        with self.session() as s:
            return list(s.scalars(select(Case).order_by(Case.id)))

    def run_to_question(self, call_sid: str = "CA1") -> ET.Element:
        """Answer the call, confirm it is the applicant (key 1) and key the birthday: the TwiML of the first
        question after identity."""
        self.answer_call(call_sid)
        self.ok(self.turn(call_sid, digits="1"))
        return self.ok(self.turn(call_sid, digits=BIRTHDAY))

    def prompts_of(self, twiml: ET.Element) -> list[str]:
        """The texts of the prompts a TwiML plays (from the call's own record of what it said)."""
        by_url: dict[str, str] = {}
        for event in self.events():
            if event.kind == "prompt":
                for personal in (False, True):
                    by_url[self.svc.prompts.url(event.text, "zh-CN", personal)] = event.text
        return [by_url[play.text or ""] for play in twiml.iter("Play")]


SHORTHAND = re.compile(r"(CA|RE)[A-Za-z0-9-]{1,24}")


def sid(short: str) -> str:
    """A test's shorthand SID ("CA1", "CA-nobody", "RE2") as one of Twilio's shape (two letters and 32 hex
    digits), the same every time: "CA1" → "CA000…0001". Anything else (a SID of Twilio's shape, junk a test
    sends on purpose) is left as it is."""
    if not SHORTHAND.fullmatch(short) or is_call_sid(short) or is_recording_sid(short):
        return short
    tail = short[2:]
    digits = tail.zfill(32) if tail.isdigit() and len(tail) <= 32 else hashlib.sha256(tail.encode()).hexdigest()[:32]
    return short[:2] + digits


@dataclass
class TwilioCalls:
    """Twilio's call-update REST API as the app sees it (StreamServices.updater): the redirects asked for; the
    scheduled stream-start checks, run by the test when it wants (ivr.stream_watch)."""

    redirects: list[tuple[str, str]] = field(default_factory=list)
    scheduled: list[tuple[float, Any]] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)

    def redirect(self, call_sid: str, twiml: str) -> bool:
        if call_sid in self.ended:
            return False  # Twilio: 21220, the call is not in progress
        self.redirects.append((call_sid, twiml))
        return True

    def schedule(self, seconds: float, action: Any) -> None:
        self.scheduled.append((seconds, action))


STREAM_SECRET = b"stream-test-secret"


def verbs(twiml: ET.Element) -> list[str]:
    return [child.tag for child in twiml]


def build_ivr(engine: Engine, tmp_path: Path, prompt_cache: PromptCache, *, keypad: bool = False,
              row: dict[str, str] | None = None, download_threads: int = 0,
              channels: tuple[CallbackChannel, ...] | None = (CallbackChannel.PHONE,), streams: bool = False,
              **ivr_overrides: Any) -> Ivr:
    """The IVR app on the test database. Recordings are downloaded inside the callback unless
    `download_threads` (the background pool is tested on its own: tests/ivr/test_recording_background.py).
    `channels`: the callback's channel sequence. The IVR's tests are the phone channel's, so by default the phone
    is the only one (its attempts used up, the callback ends as unreachable); None: the configured default.
    `streams`: ivr.capture = "stream", with Twilio's call updates and the start checks kept in `ivr.twilio_calls`."""
    if streams:
        ivr_overrides = {"capture": "stream", **ivr_overrides}
    settings = dataclasses.replace(
        Settings(),
        twilio=TwilioSettings(account_sid=ACCOUNT, auth_token=TOKEN),
        ivr=dataclasses.replace(IvrSettings(public_base_url=BASE, agent_target="+861088880000"), **ivr_overrides),
    )
    settings = dataclasses.replace(settings, recordings=dataclasses.replace(
        settings.recordings, root=str(tmp_path / "recordings"), download_threads=download_threads))
    if channels is not None:
        settings = dataclasses.replace(settings, channels=dataclasses.replace(settings.channels, sequence=channels))
    clock = FrozenClock(NOW)
    calendar = BusinessCalendar(settings.calendar)
    sessions = make_session_factory(engine)
    path = write_csv(tmp_path / "policies.csv", [row or policy_row()])
    PolicyIntake(units_of_work(sessions), settings=settings, calendar=calendar, clock=clock).run(open_table(path))
    sleeps: list[float] = []
    media = MediaClient(ACCOUNT, TOKEN, sleep=sleeps.append)
    recognizer = ScriptedRecognizer()
    capture: AnswerCapture = KeypadCapture() if keypad else RecordCapture(recognizer, media)
    svc = IvrServices(settings=settings, clock=clock, calendar=calendar, sessions=sessions, library=load_library(),
                      prompts=PromptIndex(prompt_cache, BASE), capture=capture, media=media,
                      files=FileStore(tmp_path / "recordings"))
    twilio_calls = TwilioCalls()
    if streams:
        from ivr.stream_capture import StreamCapture, StreamTokens
        from ivr.stream_services import StreamServices
        from ivr.stream_session import StreamSettings

        svc.streams = StreamServices(
            capture=StreamCapture(timeout_s=settings.ivr.stream_gather_timeout_s),
            tokens=StreamTokens(STREAM_SECRET), recognizer=recognizer, updater=twilio_calls,
            settings=StreamSettings(), start_timeout_ms=settings.ivr.stream_start_timeout_ms,
            schedule=twilio_calls.schedule)
    ivr = Ivr(create_app(svc), svc, engine, clock, recognizer, sleeps)
    ivr.twilio_calls = twilio_calls
    with ivr.session() as s:
        task = s.scalars(select(CallbackTask)).one()
        policy = s.get(Policy, task.policy_id)
        assert policy is not None
        ivr.task_id, ivr.policy_no = task.id, policy.policy_no
    return ivr


@pytest.fixture
def ivr(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> Iterator[Ivr]:
    built = build_ivr(engine, tmp_path, prompt_cache)
    with built.http:
        yield built


def text_mode_harness(ivr: Ivr) -> LocalHarness:
    """The harness over this IVR, recognition results handed in (the harness's text mode)."""
    from ivr.harness.local import LocalHarness
    from ivr.harness.media import InjectedRecognizer

    injected = InjectedRecognizer()
    capture = ivr.svc.capture
    assert isinstance(capture, RecordCapture)
    ivr.svc.capture = dataclasses.replace(capture, recognizer=injected)
    return LocalHarness.build(ivr.svc, ivr.app, injected)
