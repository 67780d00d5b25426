"""Running simulated calls against an app in this process: the Flask test client as Twilio's HTTP client
(every request signed), the database as the callee's understanding of the question, and one call's
summary in the shape of `huifang simulate call` (docs/interfaces.md)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.serving import BaseWSGIServer, make_server

from calls.service import prepare
from flows.engine import CallState
from flows.library import FlowLibrary
from ivr.harness.call_updates import CallUpdates
from ivr.harness.media import InjectedRecognizer, MediaHost
from ivr.harness.persona import Persona
from ivr.harness.sids import CALL, mint
from ivr.harness.simulator import NO_RESPONSE, CallLog, Simulator
from ivr.harness.streamed import VirtualTimers
from ivr.services import IvrServices
from ivr.stream_services import TwilioCallUpdater
from kit.clock import FrozenClock, isoformat_local
from storage.db import unit_of_work
from storage.models import CallbackTask, Case, Policy
from storage.repositories import calls as call_repo


class FlaskTransport:
    def __init__(self, app: Flask, auth_token: str, base_url: str, fallback_base_url: str = "") -> None:
        self.client = app.test_client()
        self.validator = RequestValidator(auth_token)
        self.base_url = base_url
        self.fallback_base_url = fallback_base_url or base_url  # the fallback host: the same app here

    def _path(self, url: str) -> str:
        if not url.startswith((self.base_url, self.fallback_base_url)):
            raise ValueError(f"{url} is not under the app's public URL {self.base_url}")
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        signature = self.validator.compute_signature(url, form)
        response = self.client.post(self._path(url), data=form, headers={"X-Twilio-Signature": signature})
        return response.status_code, response.get_data(as_text=True)

    def get(self, url: str) -> tuple[int, bytes]:
        response = self.client.get(self._path(url))
        return response.status_code, response.get_data()


class HttpTransport:
    """Twilio's requests over real HTTP to the app served by a WSGI server (e.g. on loopback). Requests are
    signed for the public URL Twilio would use and sent to the address the server listens on."""

    def __init__(self, server_url: str, auth_token: str, public_base_url: str, timeout_s: float = 15.0,
                 fallback_base_url: str = "") -> None:
        self.server_url = server_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.public_base_url = public_base_url
        self.fallback_base_url = fallback_base_url or public_base_url  # served by the same server
        self.timeout_s = timeout_s
        self.http = requests.Session()

    def _address(self, url: str) -> str:
        for base in (self.public_base_url, self.fallback_base_url):
            if url.startswith(base):
                return self.server_url + url[len(base):]
        raise ValueError(f"{url} is not under the app's public URL {self.public_base_url}")

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        """The status and body; status 0 (simulator.NO_RESPONSE) when no HTTP answer came (refused, reset,
        timed out), which Twilio meets as error 11205."""
        signature = self.validator.compute_signature(url, form)
        try:
            reply = self.http.post(self._address(url), data=form, headers={"X-Twilio-Signature": signature},
                                   timeout=self.timeout_s)
        except requests.RequestException as exc:
            return NO_RESPONSE, str(exc)
        return reply.status_code, reply.text

    def get(self, url: str) -> tuple[int, bytes]:
        reply = self.http.get(self._address(url), timeout=self.timeout_s)
        return reply.status_code, reply.content


class DatabaseOracle:
    """The topic of the question a call is asking now, from the call's stored flow state."""

    def __init__(self, services: IvrServices) -> None:
        self.services = services

    def current_topic(self, call_sid: str) -> str | None:
        with self.services.sessions() as session:
            stored = call_repo.state_of(session, call_sid)
        return None if stored is None else _topic(self.services.library, CallState.from_dict(stored))

    def takes_speech(self, call_sid: str) -> bool:
        """Whether the question asked now wants a spoken answer (a person hears "please answer"; a keypad-only
        question says which key to press)."""
        with self.services.sessions() as session:
            call = call_repo.by_sid(session, call_sid)
            return call is not None and call.speech_seq is not None and call.speech_seq == call.turn_seq


def _topic(library: FlowLibrary, state: CallState) -> str | None:
    if state.index >= len(state.plan):
        return None
    step = library.flows[state.flow_id].step(state.plan[state.index])
    return step.topic.value if step.topic is not None else None


@dataclass
class AppStreams:
    """The app as a stream host (ivr.harness.streamed.StreamHost): where it is served, Twilio's call-update
    endpoint its TwilioCallUpdater talks to, and its live stream sessions."""

    services: IvrServices
    server_url: str
    public_base_url: str
    updates: CallUpdates

    def session(self, call_sid: str) -> Any:
        streams = self.services.streams
        return streams.registry.get(call_sid) if streams is not None else None


@dataclass
class LocalHarness:
    """One app under simulation: its services (their clock must be a FrozenClock) and the simulator."""

    services: IvrServices
    app: Flask
    simulator: Simulator
    rest_latency_ms: int = 250  # Twilio's REST round trip, counted in turn gaps (and on the virtual clock)
    streams: AppStreams | None = None
    last_log: CallLog | None = None  # the simulator's log of the last call (its stream, prompts, requests)
    _server: BaseWSGIServer | None = field(default=None, repr=False)

    def serve_streams(self, server_url: str | None = None) -> AppStreams:
        """Streamed capture: Twilio's call-update endpoint on the app's updater, the app's timers on the virtual
        clock, and the app served on a real loopback socket for the Media Streams WebSocket (unless `server_url`
        names where it is served already). Webhooks stay on the harness's transport."""
        streams = self.services.streams
        if streams is None:
            raise RuntimeError("the app does not take streamed answers (ivr.capture = stream, with a recogniser)")
        if self.streams is not None:
            return self.streams
        twilio = self.services.settings.twilio
        updates = CallUpdates(twilio.account_sid, twilio.auth_token)
        if isinstance(streams.updater, TwilioCallUpdater):
            session = streams.updater.client.http_client.session  # type: ignore[attr-defined]
            session.mount("https://api.twilio.com/", updates)
            session.mount(twilio.api_base_url.rstrip("/") + "/", updates)
        timers = VirtualTimers(self.simulator.clock)
        streams.schedule = timers.schedule
        if server_url is None:
            self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
            threading.Thread(target=self._server.serve_forever, name="harness-app", daemon=True).start()
            server_url = f"http://127.0.0.1:{self._server.server_port}"
        self.streams = AppStreams(self.services, server_url, self.services.settings.ivr.public_base_url, updates)
        self.simulator.stream_host = self.streams
        self.simulator.timers = timers
        self.simulator.auth_token = twilio.auth_token
        self.simulator.stream_options.rest_latency_ms = self.rest_latency_ms
        return self.streams

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @classmethod
    def build(cls, services: IvrServices, app: Flask, recognizer: InjectedRecognizer,
              server_url: str | None = None) -> LocalHarness:
        """A harness for `app`; with `server_url`, over real HTTP to the app served there, else the test client."""
        clock = services.clock
        if not isinstance(clock, FrozenClock):
            raise TypeError("the harness runs on a virtual clock: give the services a FrozenClock")
        settings = services.settings
        media = MediaHost(settings.twilio.account_sid)
        services.media.http.mount("https://api.twilio.com/", media)
        ivr = settings.ivr
        transport: FlaskTransport | HttpTransport = (
            HttpTransport(server_url, settings.twilio.auth_token, ivr.public_base_url,
                          fallback_base_url=ivr.fallback_base) if server_url
            else FlaskTransport(app, settings.twilio.auth_token, ivr.public_base_url, ivr.fallback_base))
        simulator = Simulator(
            transport=transport,
            media=media, oracle=DatabaseOracle(services), clock=clock, account_sid=settings.twilio.account_sid,
            base_url=ivr.public_base_url, recognizer=recognizer,
            fallback_url=f"{ivr.fallback_base}/twilio/voice/fallback",  # as the dialer places calls
        )
        harness = cls(services, app, simulator)
        simulator.birthday = harness.birthday
        return harness

    def birthday(self, task_id: int) -> str:
        with self.services.sessions() as session:
            task = session.get(CallbackTask, task_id)
            policy = session.get(Policy, task.policy_id) if task else None
            return f"{policy.applicant_birth_date:%m%d}" if policy else "0101"

    def call(self, policy_no: str, persona: Persona, attempt: int = 1) -> dict[str, Any]:
        """One simulated call of the policy's task, as `huifang simulate call` prints it. The harness plays the
        dialer's part first: the call's prompts are rendered before it is placed (calls.service.prepare), so no
        webhook renders one; then Twilio's, with a new call SID."""
        with self.services.sessions() as session:
            row = session.execute(select(CallbackTask.id, Policy.applicant_phone).join(Policy)
                                  .where(Policy.policy_no == policy_no)).one_or_none()
        if row is None:
            raise LookupError(f"no callback task for policy {policy_no}")
        task_id, phone = row
        prepare(self.services.sessions, self.services.calls, task_id)
        call_sid = mint(CALL)
        self.place(task_id, call_sid, phone)
        log = self.last_log = self.simulator.run(task_id, call_sid, phone, persona, attempt)
        return self.summary(policy_no, log)

    def place(self, task_id: int, call_sid: str, to: str) -> None:
        """A simulated call is placed outside the dialer: register it as the dialer registers what it placed
        (the webhooks refuse a call its task did not place)."""
        with unit_of_work(self.services.sessions) as session:
            task = session.get(CallbackTask, task_id)
            if task is not None and call_repo.by_sid(session, call_sid) is None:
                call = call_repo.create(session, call_sid=call_sid, task_id=task.id, policy_id=task.policy_id,
                                        now=self.services.clock.now())
                call.dialled_number = to or None
                session.commit()

    def summary(self, policy_no: str, log: CallLog) -> dict[str, Any]:
        with self.services.sessions() as session:
            call = call_repo.by_sid(session, log.call_sid)
            assert call is not None
            events = call_repo.events(session, call.id)
            cases = list(session.scalars(select(Case).where(Case.call_id == call.id).order_by(Case.id)))
            state = CallState.from_dict(call.state) if call.state else None
        transcript = [
            {"who": "robot" if e.who == "robot" else "caller", "topic": e.topic,
             "text": e.text if e.who == "robot" else str(e.detail.get("intent") or e.detail.get("input") or ""),
             "digits": str(e.detail.get("digits") or "")}
            for e in events if (e.who, e.kind) in (("robot", "prompt"), ("caller", "answer"))
        ]
        return {
            "policy_no": policy_no,
            "call_sid": log.call_sid,
            "status": log.ended,
            "outcome": call.outcome.value,
            "flow": {"id": call.flow_id, "version": call.flow_version} if call.flow_id else None,
            "transcript": transcript,
            "answers": dict(state.answers) if state else {},
            "end_reason": call.end_reason,
            "result_class": call.result_class.value if call.result_class else None,
            "reason_codes": list(call.reason_codes or []),
            "handoff": call.handoff_topic is not None,
            "cases": [{"id": c.id, "type": c.type.value, "reason": c.reason, "due_at": isoformat_local(c.due_at)}
                      for c in cases],
            "capture": "stream" if log.streamed else (call.capture or self.services.capture_mode),
            "turn_gaps": turn_gaps(log, events, self.simulator.stream_options.rest_latency_ms),
        }


def turn_gaps(log: CallLog, events: list[Any], latency_ms: int) -> list[dict[str, Any]]:
    """End of the caller's speech → the next prompt starts, per answered turn (ms). Streamed: the app's own
    decision (its stream-time wait for the end of speech, decoding and the compare-and-set, wall time) plus
    Twilio's REST round trip as the configured latency in place of the measured redirect (a loopback adapter
    here). Recorded: Twilio's silence detection (the <Record> timeout) + the action webhook's wall time (download
    and decoding) + the same latency."""
    gaps: list[dict[str, Any]] = []
    session = log.stream.session if log.stream is not None else None
    for decision in (session.decisions if session is not None else []):
        moved = log.moved_ms.get(decision.seq)
        prompt_end = log.prompt_end_ms.get(decision.seq)
        gaps.append({"seq": decision.seq, "intent": str(decision.intent), "capture": "stream",
                     "speech_end_ms": decision.speech_end_ms,
                     "gap_ms": round(decision.gap_ms - decision.redirect_ms + latency_ms, 1),
                     "wait_ms": decision.decided_ms - decision.speech_end_ms,  # stream time: the endpoint's wait
                     "barge_in": moved is not None and prompt_end is not None and moved < prompt_end})
    recorded = [e for e in events if e.who == "caller" and e.kind == "answer"
                and (e.detail or {}).get("source") == "record" and (e.detail or {}).get("recording_url")]
    for event, timing in zip(recorded, log.recorded, strict=False):
        gaps.append({"seq": int(timing["seq"]), "intent": str(event.detail.get("intent") or ""), "capture": "record",
                     "speech_end_ms": round(timing["speech_end_ms"]),
                     "gap_ms": round(timing["silence_ms"] + timing["webhook_ms"] + latency_ms, 1),
                     "wait_ms": round(timing["silence_ms"]), "barge_in": False})
    return gaps
