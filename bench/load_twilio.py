"""The load bench's fake Twilio: one per harness process, over HTTP on loopback (bench/load.py drives them).

Twilio's REST API as the dialer calls it (`twilio.api_base_url`): POST .../Calls.json takes a call (HTTP 201,
Twilio-shaped JSON, a new CallSid: ivr.harness.sids) and GET .../Calls.json?To=&From= lists the calls to a
number (the dialer's look-up of an unknown placement). Every call taken is a row of `bench_twilio_calls` in
the bench's database (which process took it, for which task, in which level), so any process answers a
look-up and the driver counts placements per dialer and tasks placed twice.

Twilio's media host (`GET .../Recordings/{RE}.wav`, Basic auth with the account's SID and token): the
recordings the simulated callers leave. Their bytes follow from the RecordingSid (its first two hex digits
index `clips`, built alike in every process), so the one process the server's `twilio.api_base_url` names
serves the recordings every process announces.

A call taken is played against the web server by the harness's Simulator over real HTTP (signed requests),
at the URLs the dialer sent, once the driver opens the level's gate (every call of the level placed), each
after a random start within `ramp_s`. Time: the simulator's virtual clock (prompts as long as their audio,
a <Record> its silence timeout) is slept at `speed` × real time between a call's requests, plus the callee's
0.5–2 s reaction before each answer; speed 1.0 is a real call's pace.
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import create_engine, text

from huifang.app import App
from huifang.config import load_settings
from huifang.web import build_services
from ivr.harness.local import DatabaseOracle, HttpTransport
from ivr.harness.media import MediaHost
from ivr.harness.persona import persona_from
from ivr.harness.sids import CALL, RECORDING, mint
from ivr.harness.simulator import CallUrls, Simulator, silence_wav
from kit.clock import FrozenClock
from storage.models import CallbackTask, Policy

TABLE = ("CREATE TABLE IF NOT EXISTS bench_twilio_calls (sid text PRIMARY KEY, task_id int, to_number text, "
         "from_number text, via int, level text, created_at timestamptz DEFAULT clock_timestamp())")
PERSONAS = {"keypad": {"mode": "dtmf", "answers": {"default": "yes"}}, "asr": {"mode": "audio"}}
ANSWERS = ("yes", "no", "human", "unintelligible")
IDLE_S = 2.0  # a connection idle this long is not reused: gunicorn closes idle ones after web.keepalive (5 s)


@dataclass(frozen=True)
class HarnessConfig:
    index: int
    port: int
    media_origin: str  # the server's twilio.api_base_url: where RecordingUrls point
    server_url: str
    env: dict[str, str]  # HUIFANG_* settings (database, account, flows)
    capture: str  # keypad | asr
    speed: float
    ramp_s: float


def clips(capture: str) -> list[bytes]:
    """Every recording a simulated call can leave: whole-call silences of 1–5 s, and in ASR mode the
    callee's spoken answers (espeak-ng, Korean). The same list, in the same order, in every process."""
    out = [silence_wav(seconds) for seconds in range(1, 6)]
    if capture == "asr":
        from ivr.harness.voice import SpokenAnswers
        from speech.lexicon import load_lexicon
        from speech.tts import EspeakTts

        speaker = SpokenAnswers(EspeakTts(), load_lexicon("ko-KR"))
        out += [speaker(answer) for answer in ANSWERS]
    return out


class SharedMedia(MediaHost):
    """The simulator's media host, naming each recording by its content (any process can serve it)."""

    def __init__(self, account_sid: str, origin: str, bodies: list[bytes]) -> None:
        super().__init__(account_sid)
        self.origin, self.bodies = origin, bodies
        self.index = {body: kind for kind, body in enumerate(bodies)}

    def add(self, body: bytes, not_ready: int = 0) -> tuple[str, str]:  # noqa: ARG002 - always ready
        sid = f"{RECORDING}{self.index[body]:02x}{uuid.uuid4().hex[2:]}"
        return sid, f"{self.origin}/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    def body_of(self, sid: str) -> bytes | None:
        kind = int(sid[2:4], 16) if len(sid) == 34 and sid.startswith(RECORDING) else -1
        return self.bodies[kind] if 0 <= kind < len(self.bodies) else None


class PacedTransport(HttpTransport):
    """One call's requests: paced on its virtual clock, each timed by route (request sent → response read)."""

    def __init__(self, *args: Any, clock: FrozenClock, speed: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock, self.speed = clock, speed
        self.last = clock.now()
        self.times: list[tuple[str, float, int]] = []
        self.pace = random.Random()

    def post(self, url: str, form: dict[str, str]) -> tuple[int, str]:
        pause = (self.clock.now() - self.last).total_seconds()
        if form.get("Digits") or form.get("RecordingUrl"):
            pause += self.pace.uniform(0.5, 2.0)  # the callee reacts
        time.sleep(pause * self.speed)
        if pause * self.speed >= IDLE_S:  # a fresh connection: not one the server may be closing (keepalive)
            self.http.close()
        self.last = self.clock.now()
        started = time.perf_counter()
        status, body = super().post(url, form)
        elapsed = (time.perf_counter() - started) * 1000
        path = urlsplit(url).path.rsplit("/", 1)[-1]
        if path == "turn":
            path = "turn_keypad" if form.get("Digits") else "turn_asr" if form.get("RecordingUrl") else "turn_other"
        self.times.append((path, elapsed, status))
        return status, body


@dataclass
class Level:
    label: str
    gate: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    times: list[tuple[str, float, int]] = field(default_factory=list)


class FakeTwilio:
    def __init__(self, config: HarnessConfig) -> None:
        self.config = config
        settings = load_settings(environ=config.env)
        self.account, self.token = settings.twilio.account_sid, settings.twilio.auth_token
        self.auth = "Basic " + base64.b64encode(f"{self.account}:{self.token}".encode()).decode()
        self.services = build_services(App(settings=settings), with_asr=False)
        self.base, self.fallback_base = settings.ivr.public_base_url, settings.ivr.fallback_base
        self.engine = create_engine(settings.database.url, pool_size=10)
        self.media = SharedMedia(self.account, config.media_origin, clips(config.capture))
        self.persona = persona_from(PERSONAS[config.capture], "load")
        self.speaker = None
        if config.capture == "asr":
            self.speaker = lambda answer: self.media.bodies[5 + ANSWERS.index(answer)]
        self.prompt_seconds: dict[str, float] = {}  # Twilio caches <Play> media: one fetch per process
        self.level = Level("setup")
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", config.port), self.handler())
        self.server.daemon_threads = True
        self.server.request_queue_size = 1024
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the dialer's and the server's sessions reuse connections

            def reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def authorised(self) -> bool:
                if self.headers.get("Authorization") == fake.auth:
                    return True
                self.reply(401, json.dumps({"code": 20003, "message": "Authenticate", "status": 401}).encode())
                return False

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0)))
                                                        .decode()).items()}
                if not self.authorised():
                    return
                if not self.path.endswith(f"/Accounts/{fake.account}/Calls.json"):
                    self.reply(404, b'{"status": 404}')
                    return
                self.reply(201, json.dumps(fake.take(form)).encode())

            def do_GET(self) -> None:  # noqa: N802
                if not self.authorised():
                    return
                parts = urlsplit(self.path)
                if parts.path.endswith("/Calls.json"):
                    self.reply(200, json.dumps(fake.listing(parse_qs(parts.query))).encode())
                    return
                body = fake.media.body_of(parts.path.rsplit("/", 1)[-1].removesuffix(".wav"))
                if "/Recordings/" in parts.path and body is not None:
                    self.reply(200, body, "audio/x-wav")
                else:
                    self.reply(404, b'{"status": 404}')

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        return Handler

    def resource(self, sid: str, to: str, from_: str, created: datetime) -> dict[str, Any]:
        return {"sid": sid, "account_sid": self.account, "to": to, "from": from_, "status": "queued",
                "direction": "outbound-api", "api_version": "2010-04-01",
                "date_created": format_datetime(created.astimezone(UTC), usegmt=True),
                "uri": f"/2010-04-01/Accounts/{self.account}/Calls/{sid}.json"}

    def take(self, form: dict[str, str]) -> dict[str, Any]:
        """POST /Calls: a new call, on record, played once the level's gate opens."""
        sid = mint(CALL)
        task_id = int(parse_qs(urlsplit(form["Url"]).query)["task"][0])
        with self.engine.begin() as conn:
            created = conn.execute(text(
                "INSERT INTO bench_twilio_calls (sid, task_id, to_number, from_number, via, level) "
                "VALUES (:s, :t, :to, :f, :v, :l) RETURNING created_at"),
                {"s": sid, "t": task_id, "to": form["To"], "f": form.get("From", ""), "v": self.config.index,
                 "l": self.level.label}).scalar_one()
        level = self.level
        thread = threading.Thread(target=self.play, args=(level, sid, task_id, form), daemon=True)
        with self.lock:
            level.threads.append(thread)
        thread.start()
        return self.resource(sid, form["To"], form.get("From", ""), created)

    def listing(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """GET /Calls?To=&From=[&StartTime>=]: newest first, one page."""
        since = query.get("StartTime>", [""])[0]
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT sid, to_number, from_number, created_at FROM bench_twilio_calls WHERE to_number = :to "
                "AND (:f = '' OR from_number = :f) ORDER BY created_at DESC LIMIT 50"),
                {"to": query.get("To", [""])[0], "f": query.get("From", [""])[0]}).all()
        calls = [self.resource(*row) for row in rows
                 if not since or row[3] >= parsedate_to_datetime(since) - timedelta(days=1)]
        return {"calls": calls, "page": 0, "page_size": 50, "next_page_uri": None, "start": 0, "end": len(calls),
                "uri": f"/2010-04-01/Accounts/{self.account}/Calls.json", "first_page_uri": None,
                "previous_page_uri": None}

    def play(self, level: Level, sid: str, task_id: int, form: dict[str, str]) -> None:
        level.gate.wait()
        time.sleep(random.uniform(0, self.config.ramp_s))
        clock = FrozenClock(datetime.now(UTC))
        transport = PacedTransport(self.config.server_url, self.token, self.base, clock=clock,
                                   speed=self.config.speed, fallback_base_url=self.fallback_base)
        simulator = Simulator(transport=transport, media=self.media, oracle=DatabaseOracle(self.services),
                              clock=clock, account_sid=self.account, base_url=self.base, speaker=self.speaker,
                              media_seconds=self.prompt_seconds, birthday=self.birthday)
        urls = CallUrls(answer=form["Url"], status=form["StatusCallback"],
                        recording_status=form["RecordingStatusCallback"])
        started, errors = time.time(), []
        try:
            log = simulator.run(task_id, sid, form["To"], self.persona, fallback_url=form.get("FallbackUrl"),
                                urls=urls)
            errors = [str(e) for e in log.errors]
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            errors = [f"{type(exc).__name__}: {exc}"[:300]]
        with self.lock:
            level.times.extend(transport.times)
            level.calls.append({"sid": sid, "task": task_id, "start": started, "end": time.time(), "errors": errors})

    def birthday(self, task_id: int) -> str:
        with self.services.sessions() as session:
            task = session.get(CallbackTask, task_id)
            policy = session.get(Policy, task.policy_id) if task else None
            return f"{policy.applicant_birth_date:%m%d}" if policy else "0101"

    def collect(self, deadline_s: float) -> dict[str, Any]:
        level = self.level
        until = time.monotonic() + deadline_s
        for thread in list(level.threads):
            thread.join(max(0.0, until - time.monotonic()))
        with self.lock:
            return {"index": self.config.index, "calls": list(level.calls), "times": list(level.times),
                    "unfinished": sum(t.is_alive() for t in level.threads)}


def harness_main(config: HarnessConfig, control: Any, results: Any) -> None:
    """A harness process: its fake Twilio, then the driver's commands (level, go, collect, stop)."""
    os.chdir(Path(config.env.get("HUIFANG__RECORDINGS__ROOT", ".")).parent)
    fake = FakeTwilio(config)
    results.put({"ready": config.index})
    while True:
        command = control.get()
        if command[0] == "level":
            fake.level = Level(command[1])
        elif command[0] == "go":
            fake.level.gate.set()
        elif command[0] == "collect":
            results.put(fake.collect(command[1]))
        else:
            break
    fake.server.shutdown()
