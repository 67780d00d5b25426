"""`huifang demo`: the whole product on a fresh SQLite database, with simulated callees and a 15-day campaign."""

from __future__ import annotations

import dataclasses
import json
import random
import shlex
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from huifang.app import App
from huifang.output import emit_json, emit_table
from huifang.simulate_cmd import harness_for
from intake.service import ImportSummary
from kit.clock import BUSINESS_TZ
from kit.settings import DatabaseSettings, Settings
from storage.db import units_of_work

DEMO_AGENT_LINE = "client:huifang-demo-agent"  # a Twilio Client identity: the demo's agent desk
DEFAULT_START = datetime(2026, 11, 25, 9, 0, tzinfo=BUSINESS_TZ)  # a day the bundled holiday calendar covers

# Callees, as shares of the policies: every result class, every case type the robot can raise.
MIX: tuple[tuple[str, float, dict[str, Any]], ...] = (
    ("agrees", 0.46, {}),
    ("agrees_by_keypad", 0.08, {"mode": "dtmf"}),
    ("doubts_surrender_loss", 0.08, {"answers": {"default": "yes", "understand_surrender_loss": "no-then-yes"}}),
    ("unclear_coverage", 0.04, {"answers": {"default": "yes", "understand_coverage": "no"}}),
    ("thought_it_a_deposit", 0.02, {"answers": {"default": "yes", "knows_is_insurance": "no"}}),
    ("signed_by_someone_else", 0.03, {"answers": {"default": "yes", "signed_in_person": "no"}}),
    ("contract_not_received", 0.03, {"answers": {"default": "yes", "policy_received": "no"}}),
    ("never_picks_up", 0.04, {"pickup": "busy"}),
    ("picks_up_third_time", 0.05, {"pickup": ["no-answer", "machine", "human"]}),
    ("invalid_number", 0.02, {"pickup": "invalid-number"}),
    ("wrong_birthday", 0.02, {"identity": "wrong"}),
    ("someone_else_answers", 0.03, {"identity": "absent"}),
    ("silent_line", 0.03, {"answers": {"default": "silence", "identity": "yes"}}),
    ("hangs_up", 0.02, {"hangup_after": "policy_received"}),
    ("asks_for_a_person", 0.05, {"answers": {"default": "yes", "knows_is_insurance": "human"}}),
)


@dataclass
class DemoRun:
    app: App  # the demo's app: its database, its virtual clock at the start
    summary: dict[str, Any]  # as `simulate campaign`
    imported: ImportSummary
    ended_at: datetime  # the virtual clock when the campaign ended


def run_demo(settings: Settings, workdir: Path, *, start: datetime, policies: int, days: int, seed: int) -> DemoRun:
    """Synthetic policies imported into `settings.database` (migrated first), simulated callees, a campaign
    on the virtual clock. `huifang demo` runs it on a fresh SQLite file; the console's browser tests on
    both backends."""
    import yaml

    from huifang.synthetic import write_csv
    from intake.reader import open_table
    from intake.service import PolicyIntake
    from ivr.harness.campaign import load_cast, run_campaign
    from kit.clock import FrozenClock
    from storage import migrate
    from storage.models import Policy

    if not settings.ivr.agent_target:  # hand-offs ring the demo's agent (the harness answers for them)
        settings = dataclasses.replace(settings, ivr=dataclasses.replace(settings.ivr, agent_target=DEMO_AGENT_LINE))
    demo = App(settings=settings, clock=FrozenClock(start))
    migrate.upgrade(demo.engine)
    csv_path = workdir / "policies.csv"
    write_csv(csv_path, policies, seed=seed, today=start.astimezone(BUSINESS_TZ).date())
    imported = PolicyIntake(units_of_work(demo.sessions), settings=settings, calendar=demo.calendar,
                            clock=demo.clock).run(open_table(csv_path))
    with demo.unit_of_work() as session:
        policy_nos = list(session.scalars(select(Policy.policy_no).order_by(Policy.policy_no)))
    cast_path = workdir / "personas.yaml"
    cast_path.write_text(yaml.safe_dump(demo_cast(policy_nos, seed), allow_unicode=True), encoding="utf-8")
    _, harness = harness_for(demo, real_prompts=False)
    summary = run_campaign(harness, load_cast(cast_path), start, days)
    return DemoRun(demo, summary, imported, harness.simulator.clock.now())


def demo_cast(policy_nos: list[str], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    names = [name for name, _, _ in MIX]
    weights = [share for _, share, _ in MIX]
    return {"personas": {name: spec for name, _, spec in MIX},
            "assign": {policy_no: rng.choices(names, weights)[0] for policy_no in policy_nos}}


@click.command("demo")
@click.option("--policies", default=300, show_default=True, type=click.IntRange(10, 5000))
@click.option("--days", default=15, show_default=True, type=click.IntRange(1, 60))
@click.option("--seed", default=1, show_default=True)
@click.option("--dir", "workdir", default="./var/demo", show_default=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--serve", is_flag=True, help="Then serve the console on 127.0.0.1 with one user per role.")
@click.option("--port", default=8080, show_default=True, type=int, help="The console's port with --serve.")
@click.pass_obj
def demo_command(app: App, policies: int, days: int, seed: int, workdir: Path, as_json: bool, serve: bool,
                 port: int) -> None:
    """Fresh SQLite under --dir, synthetic policies, simulated callees, a campaign on the virtual clock.
    With --serve, the console follows on http://127.0.0.1:PORT/console/login (users printed)."""
    started = time.perf_counter()
    start = app.clock.now() if _clock_is_set() else DEFAULT_START
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    settings = dataclasses.replace(
        app.settings, database=DatabaseSettings(url=f"sqlite:///{workdir / 'huifang.db'}"),
        speech=dataclasses.replace(app.settings.speech, prompt_cache_dir=str(workdir / "prompts")),
        recordings=dataclasses.replace(app.settings.recordings, root=str(workdir / "recordings")))
    run = run_demo(settings, workdir, start=start, policies=policies, days=days, seed=seed)
    demo, summary, imported, cast_path = run.app, run.summary, run.imported, workdir / "personas.yaml"
    from storage.models import Branch, CallbackTask, Case, Policy

    with demo.unit_of_work() as session:
        by_branch = session.execute(
            select(Branch.code, Branch.name, CallbackTask.result_class, func.count())
            .join(Policy, Policy.branch_id == Branch.id).join(CallbackTask, CallbackTask.policy_id == Policy.id)
            .group_by(Branch.code, Branch.name, CallbackTask.result_class)).all()
        open_cases = Counter(str(code) for code, in session.execute(
            select(Branch.code).join(Case, Case.branch_id == Branch.id).where(Case.status == "open")))
    from cases.kpi import Month, kpi

    with demo.unit_of_work() as session:
        report = kpi(session, Month.parse(f"{start.astimezone(BUSINESS_TZ):%Y-%m}"), "branch")
    summary["kpi"] = report
    summary.update({"policies": policies, "imported": imported.imported, "tasks_created": imported.tasks_created,
                    "held_at_intake": imported.held, "start": start.isoformat(), "days": days,
                    "database": settings.database.url, "seconds": round(time.perf_counter() - started, 1)})
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary, by_branch, open_cases, report, days, policies, settings, cast_path)
    if serve:
        from huifang.demo_serve import serve_demo

        serve_demo(demo, run.ended_at, port)


def _print_summary(summary: dict[str, Any], by_branch: Any, open_cases: Counter[str], report: dict[str, Any],
                   days: int, policies: int, settings: Settings, cast_path: Path) -> None:
    from cases.kpi import RATES

    rows: dict[tuple[str, str], Counter[str]] = {}
    for code, name, result, count in by_branch:
        rows.setdefault((code, name), Counter())[str(result) if result else "open"] += count
    emit_table(["branch", "name", "standard", "sub_standard", "problem", "verification", "open", "open cases"],
               [(code, name, c["standard"], c["sub_standard"], c["problem"], c["verification"], c["open"],
                 open_cases[code]) for (code, name), c in sorted(rows.items())])
    click.echo()
    click.echo(f"KPIs {report['month']} (tasks due that month; huifang report kpi --month {report['month']}):")
    emit_table(["branch", "due", *RATES],
               [(r["key"], r["due"], *("-" if r[k] is None else f"{r[k]:.0%}" for k in RATES))
                for r in [*report["rows"], report["total"]]])
    click.echo()
    for key in ("results", "cases", "outcomes"):
        click.echo(f"{key}: " + (", ".join(f"{k} {v}" for k, v in summary[key].items()) or "-"))
    click.echo(f"{summary['calls']} calls over {days} days for {policies} policies in {summary['seconds']} s; "
               f"late {summary['late']}")
    click.echo(f"\nlook next (the demo's database and recordings):\n  {demo_env(settings)}\n"
               f"  huifang tasks list | huifang policies show POLICY_NO | huifang recordings verify\n"
               f"personas in {cast_path}")


def demo_env(settings: Settings) -> str:
    """The shell line that points later commands at the demo's database and its recordings root."""
    return (f"export HUIFANG_DATABASE_URL={shlex.quote(settings.database.url)} "
            f"HUIFANG__RECORDINGS__ROOT={shlex.quote(json.dumps(settings.recordings.root))}")


def _clock_is_set() -> bool:
    import os

    return bool(os.environ.get("HUIFANG_NOW"))
