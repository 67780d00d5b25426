"""The console queue benchmark's database (bench/console.py): a dedicated PostgreSQL database built once and
reused while its marker matches, its schema put at a revision, and its data — policies over twelve months in
the 20 synthetic branches, their callback tasks, open and closed cases with a real backlog's SLA mix, loaded
with COPY."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from console_db import (  # noqa: E402  (bench/console_db.py: the benchmark database itself)
    copy_rows,
    recreate_database,
    set_revision,
    vacuum_analyze,
)
from sqlalchemy import Engine, text  # noqa: E402

from accounts.service import add_user  # noqa: E402
from cases.queue import month_starts  # noqa: E402
from cases.sla import due_at, status_at, warn_at  # noqa: E402
from flows.vocab import CaseType  # noqa: E402
from huifang.synthetic import BRANCHES, synthetic_rows  # noqa: E402
from kit.actor import operator_actor  # noqa: E402
from kit.calendar import BusinessCalendar  # noqa: E402
from kit.clock import BUSINESS_TZ  # noqa: E402
from kit.settings import Settings  # noqa: E402
from storage.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from storage.models import Agent, Branch, CallbackTask, Case, Policy  # noqa: E402

DATA_VERSION = 1  # bump when the generated data changes: a database built before is then rebuilt
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=BUSINESS_TZ)
MONTHS = 12  # policies issued over the twelve months up to NOW

CASE_TYPES: dict[CaseType, tuple[float, tuple[str, ...]]] = {  # share, reason codes
    CaseType.VERIFICATION_CASE: (15, ("wrong_number", "unreachable", "applicant_absent", "identity_failed")),
    CaseType.DIALECT_CASE: (6, ("language_barrier",)),
    CaseType.FIRST_EXPLANATION_CASE: (30, ("unclear_coverage", "unclear_cooling_off_or_surrender_loss",
                                           "unclear_payment_or_term", "explanation_needed")),
    CaseType.SECOND_EXPLANATION_CASE: (5, ("explanation_needed",)),
    CaseType.MIS_SELLING_CASE: (8, ("suspected_mis_selling", "thought_deposit")),
    CaseType.PROXY_SIGNATURE_CASE: (10, ("proxy_signature", "proxy_transcription")),
    CaseType.IN_PERSON_VISIT_CASE: (8, ("refused", "not_received")),
    CaseType.LETTER_CASE: (8, ("unreachable",)),
    CaseType.CONTRACT_QUALITY_CASE: (10, ("policy_data_mismatch",)),
}
HANDLERS_PER_BRANCH = 6
PASSWORD = "bench-console-password"
BRANCH_USER, SUPERVISOR = "bench_branch", "bench_supervisor"  # the signed-in users the requests are timed as


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def marker_of(args: argparse.Namespace) -> str:
    spec = {"v": DATA_VERSION, "open": args.open, "closed": args.closed, "policies": args.policies, "seed": args.seed}
    return "huifang-bench-console " + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]



# --- the data -------------------------------------------------------------------------------------------------

def e164(phone: str) -> tuple[str, bool]:
    digits = phone.replace(" ", "")
    if len(digits) == 11 and digits.startswith("1"):
        return "+86" + digits, True
    return phone, False


@dataclasses.dataclass
class PolicyFacts:
    """What the cases and tasks need to know of a policy."""

    id: int
    branch_id: int
    start: date  # when its cooling-off period began (signed or issued)
    cooling_off_end: date
    required: bool


def month_ends() -> list[date]:
    """The last day of each of the MONTHS months up to NOW (NOW's own day for its month)."""
    today = NOW.date()
    ends = [today]
    first = today.replace(day=1)
    for _ in range(MONTHS - 1):
        last = first - timedelta(days=1)
        ends.append(last)
        first = last.replace(day=1)
    return list(reversed(ends))


def policy_rows(args: argparse.Namespace, branch_ids: dict[str, int], agent_ids: dict[str, int],
                agents: list[dict[str, Any]], facts: list[PolicyFacts]) -> Iterator[dict[str, Any]]:
    """Synthetic policies, `policies / MONTHS` issued in each month; fills `agents` and `facts` on the way."""
    per_month = args.policies // MONTHS
    next_id = 1
    stamp = NOW - timedelta(days=1)
    for index, end in enumerate(month_ends()):
        count = per_month if index < MONTHS - 1 else args.policies - per_month * (MONTHS - 1)
        for row in synthetic_rows(count, seed=args.seed * 100 + index, today=end):
            agent_id = agent_ids.get(row["agent_code"])
            if agent_id is None:
                agent_id = agent_ids[row["agent_code"]] = len(agent_ids) + 1
                agents.append({"id": agent_id, "code": row["agent_code"], "name": row["agent_name"],
                               "phone": row["agent_phone"], "branch_id": branch_ids[row["branch_code"]],
                               "created_at": stamp})
            term = None if row["policy_term_years"] == "whole_life" else int(row["policy_term_years"])
            group, renewal = row["is_group"] == "Y", row["guaranteed_renewal"] == "Y"
            excluded = "group_business" if group else "term_one_year_or_less" if term == 1 and not renewal else None
            issued = date.fromisoformat(row["issue_date"])
            signed = date.fromisoformat(row["receipt_signed_date"]) if row["receipt_signed_date"] else None
            logged = date.fromisoformat(row["receipt_logged_date"]) if row["receipt_logged_date"] else None
            days = int(row["cooling_off_days"] or 15)
            start = signed or issued
            phone, valid = e164(row["applicant_phone"])
            facts.append(PolicyFacts(next_id, branch_ids[row["branch_code"]], start, start + timedelta(days=days),
                                     excluded is None))
            created = datetime.combine(issued, dtime(20), tzinfo=BUSINESS_TZ)
            yield {
                "id": next_id, "policy_no": row["policy_no"], "product_code": row["product_code"],
                "product_name": row["product_name"], "product_type": row["product_type"], "channel": row["channel"],
                "policy_term_years": term, "guaranteed_renewal": renewal, "is_group": group,
                "premium": Decimal(row["premium"]), "payment_frequency": row["payment_frequency"],
                "payment_years": int(row["payment_years"]), "issue_date": issued, "receipt_signed_date": signed,
                "receipt_logged_date": logged, "cooling_off_days": days, "cooling_off_end": start + timedelta(days=days),
                "applicant_name": row["applicant_name"], "applicant_gender": row["applicant_gender"],
                "applicant_birth_date": date.fromisoformat(row["applicant_birth_date"]),
                "applicant_id_no": row["applicant_id_no"], "applicant_phone": phone, "applicant_phone_valid": valid,
                "applicant_phone2": row["applicant_phone2"] or None, "insured_name": row["insured_name"],
                "insured_is_applicant": row["insured_is_applicant"] == "Y", "agent_id": agent_id,
                "agent_is_applicant": False, "branch_id": branch_ids[row["branch_code"]],
                "bank_name": row["bank_name"] or None, "dual_recorded": row["dual_recorded"] == "Y",
                "dual_recorded_derived": row["dual_recorded"] == "", "callback_required": excluded is None,
                "exclusion_reason": excluded, "created_at": created, "updated_at": created,
            }
            next_id += 1


@dataclasses.dataclass
class PlannedCase:
    policy: PolicyFacts
    created: datetime
    open: bool


def plan_cases(args: argparse.Namespace, facts: list[PolicyFacts], rng: random.Random) -> list[PlannedCase]:
    """Which policies have a case, when it was raised and whether it is still open: exactly `open` open cases,
    drawn with a weight that falls with age (a backlog is mostly recent, with an old tail), and `closed`
    closed ones of any age."""
    now = NOW.astimezone(UTC)
    candidates: list[tuple[PolicyFacts, datetime]] = []
    for fact in facts:
        if not fact.required:
            continue
        raised = datetime.combine(fact.start + timedelta(days=rng.randint(2, 12)), dtime(9), tzinfo=BUSINESS_TZ)
        raised += timedelta(minutes=rng.randint(0, 9 * 60))
        if raised < now - timedelta(hours=1):
            candidates.append((fact, raised))
    if len(candidates) < args.open + args.closed:
        raise SystemExit(f"--policies {args.policies}: only {len(candidates)} could have a case; "
                         f"{args.open + args.closed} asked for")

    def key(raised: datetime) -> float:  # Efraimidis–Spirakis: the largest keys are a weighted sample
        age_days = (now - raised).total_seconds() / 86400
        return rng.random() ** (1 / max(0.02, math.exp(-age_days / 30)))

    order = sorted(range(len(candidates)), key=lambda i: key(candidates[i][1]), reverse=True)
    opened = [PlannedCase(*candidates[i], True) for i in order[:args.open]]
    rest = order[args.open:]
    closed = [PlannedCase(*candidates[i], False) for i in rng.sample(rest, args.closed)]
    return sorted(opened + closed, key=lambda c: c.created)


def case_rows(planned: list[PlannedCase], settings: Settings, calendar: BusinessCalendar,
              handlers: dict[int, list[str]], rng: random.Random,
              policy_nos: dict[int, str]) -> Iterator[dict[str, Any]]:
    types = list(CASE_TYPES)
    weights = [CASE_TYPES[t][0] for t in types]
    now = NOW.astimezone(UTC)
    for number, plan in enumerate(planned, start=1):
        kind = rng.choices(types, weights)[0]
        due = due_at(plan.created, settings.cases.sla[kind.value], calendar)
        warn = warn_at(plan.created, due, settings.cases)
        closed_at = None
        if not plan.open:
            closed_at = min(plan.created + timedelta(hours=rng.randint(2, 24 * 10)), now - timedelta(minutes=5))
        assigned = rng.random() < (0.9 if not plan.open else 0.4)
        status = ("in_progress" if rng.random() < 0.3 else "open") if plan.open else (
            "cancelled" if rng.random() < 0.05 else "closed")
        sla = status_at(closed_at or now, warn, due)
        yield {
            "id": number, "policy_id": plan.policy.id, "task_id": plan.policy.id, "branch_id": plan.policy.branch_id,
            "call_id": None, "type": kind.value, "reason": rng.choice(CASE_TYPES[kind][1]), "status": status,
            "detail": f"保单 {policy_nos[plan.policy.id]} 回访发现问题，请分公司在时限内处理并上传处理结果。",
            "due_at": due, "warn_at": warn, "sla_status": sla.value,
            "assigned_to": rng.choice(handlers[plan.policy.branch_id]) if assigned else None,
            "overdue_explanation": "客户出差，已约定返回后处理" if plan.open and sla.value == "overdue"
            and rng.random() < 0.1 else None,
            "closed_at": closed_at, "resolution_action": "explained" if closed_at else None,
            "resolution_note": "已电话解释，客户签署解释单" if closed_at else None,
            "version_id": 1 + (closed_at is not None) + (assigned and rng.random() < 0.5),
            "created_at": plan.created, "updated_at": closed_at or plan.created,
        }


def task_rows(facts: list[PolicyFacts], kinds: dict[int, str], rng: random.Random) -> Iterator[dict[str, Any]]:
    today = NOW.date()
    for fact in facts:
        if not fact.required:
            continue
        opens = fact.start + timedelta(days=1)
        kind = kinds.get(fact.id)
        done = kind is not None or opens + timedelta(days=3) < today
        result = None if not done else (
            "verification" if kind == CaseType.VERIFICATION_CASE.value else
            "problem" if kind else "sub_standard" if rng.random() < 0.04 else "standard")
        completed = datetime.combine(min(opens + timedelta(days=rng.randint(0, 5)), today), dtime(11),
                                     tzinfo=BUSINESS_TZ) if done else None
        stamp = datetime.combine(fact.start, dtime(21), tzinfo=BUSINESS_TZ)
        yield {
            "id": fact.id, "policy_id": fact.id, "status": "completed" if done else "queued", "opens_on": opens,
            "deadline": fact.cooling_off_end, "questionnaire_variant": "A" if fact.id % 5 else "B",
            "attempts": rng.randint(1, 3) if done else 0, "result_class": result,
            "reason_codes": "[]" if result in (None, "standard") else '["explanation_needed"]',
            "completed_at": completed, "version_id": 1, "created_at": stamp, "updated_at": completed or stamp,
        }


def build(args: argparse.Namespace, url: str, settings: Settings) -> dict[str, float]:
    """A fresh database at revision 0009 filled with the data; returns the seconds each step took."""
    recreate_database()
    engine = make_engine(url)
    set_revision(engine, args.build_revision)
    calendar = BusinessCalendar(settings.calendar)
    rng = random.Random(args.seed)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    stamp = NOW - timedelta(days=400)
    branch_ids = {b.code: i for i, b in enumerate(BRANCHES, start=1)}
    copy_rows(engine, Branch.__table__,  # type: ignore[arg-type]
              iter({"id": i, "code": b.code, "name": b.name, "created_at": stamp} for i, b in enumerate(BRANCHES, 1)))
    agents: list[dict[str, Any]] = []
    facts: list[PolicyFacts] = []
    policy_nos: dict[int, str] = {}

    def remember(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            policy_nos[row["id"]] = row["policy_no"]
            yield row

    # agents first (policies refer to them): generate the policies to a list, then COPY both
    policies = list(remember(policy_rows(args, branch_ids, {}, agents, facts)))
    seconds["generate_policies_s"] = time.perf_counter() - started
    started = time.perf_counter()
    copy_rows(engine, Agent.__table__, iter(agents))  # type: ignore[arg-type]
    copy_rows(engine, Policy.__table__, iter(policies))  # type: ignore[arg-type]
    del policies
    seconds["copy_policies_s"] = time.perf_counter() - started
    started = time.perf_counter()
    planned = plan_cases(args, facts, rng)
    handlers = {i: [f"{code}-handler-{k}" for k in range(1, HANDLERS_PER_BRANCH + 1)] for code, i in branch_ids.items()}
    handlers[branch_ids[args.branch]][0] = BRANCH_USER  # the branch user has cases of their own
    cases = list(case_rows(planned, settings, calendar, handlers, rng, policy_nos))
    kinds = {c["policy_id"]: c["type"] for c in cases}
    copy_rows(engine, CallbackTask.__table__, task_rows(facts, kinds, rng))  # type: ignore[arg-type]
    copy_rows(engine, Case.__table__, iter(cases))  # type: ignore[arg-type]
    seconds["cases_and_tasks_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as conn:
        for table in ("branches", "agents", "policies", "callback_tasks", "cases"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    set_revision(engine, "head")  # the accounts as the code has them now (users gained columns after 0009)
    with unit_of_work(make_session_factory(engine)) as db:
        root = operator_actor("bench")
        add_user(db, root, BRANCH_USER, PASSWORD, ["branch"], [args.branch], now=NOW, settings=settings.console)
        add_user(db, root, SUPERVISOR, PASSWORD, ["supervisor"], [], now=NOW, settings=settings.console)
        db.commit()
    engine.dispose()
    vacuum_analyze(url)
    seconds["vacuum_analyze_s"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in seconds.items()}


def dataset(engine: Engine, branch: str) -> dict[str, Any]:
    now = NOW.astimezone(UTC)
    last_month, month_before = month_starts(now)
    with engine.connect() as conn:
        def scalar(sql: str, **params: Any) -> Any:
            return conn.execute(text(sql), params).scalar_one()

        def pairs(sql: str, **params: Any) -> dict[str, int]:
            return {str(k): int(v) for k, v in conn.execute(text(sql), params)}

        opened = "status IN ('open', 'in_progress')"
        sla = ("CASE WHEN :now > due_at THEN 'overdue' WHEN :now >= warn_at THEN 'warning' ELSE 'normal' END")
        return {
            "branches": scalar("SELECT count(*) FROM branches"),
            "agents": scalar("SELECT count(*) FROM agents"),
            "policies": scalar("SELECT count(*) FROM policies"),
            "callback_tasks": scalar("SELECT count(*) FROM callback_tasks"),
            "cases": pairs("SELECT status, count(*) FROM cases GROUP BY status ORDER BY status"),
            "open_by_sla": pairs(f"SELECT {sla}, count(*) FROM cases WHERE {opened} GROUP BY 1 ORDER BY 1", now=now),
            "open_by_type": pairs(f"SELECT type, count(*) FROM cases WHERE {opened} GROUP BY 1 ORDER BY 2 DESC"),
            "open_by_group": pairs(
                f"SELECT CASE WHEN type = 'verification_case' THEN '0 verification' WHEN created_at >= :a THEN "
                f"'1 last month on' WHEN created_at >= :b THEN '2 month before' ELSE '3 older' END, count(*) "
                f"FROM cases WHERE {opened} GROUP BY 1 ORDER BY 1", a=last_month, b=month_before),
            "open_by_month": pairs(
                f"SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'), count(*) FROM cases WHERE {opened} "
                f"GROUP BY 1 ORDER BY 1"),
            "open_assigned": scalar(f"SELECT count(*) FROM cases WHERE {opened} AND assigned_to IS NOT NULL"),
            "open_per_branch": {"min": scalar(f"SELECT min(n) FROM (SELECT count(*) n FROM cases WHERE {opened} "
                                              f"GROUP BY branch_id) s"),
                                "max": scalar(f"SELECT max(n) FROM (SELECT count(*) n FROM cases WHERE {opened} "
                                              f"GROUP BY branch_id) s"),
                                branch: scalar(f"SELECT count(*) FROM cases JOIN branches b ON b.id = branch_id "
                                               f"WHERE {opened} AND b.code = :c", c=branch)},
            "size_mb": {t: round(scalar("SELECT pg_table_size(:t)", t=t) / 2**20, 1)
                        for t in ("cases", "policies", "callback_tasks")},
            "cases_indexes_mb": {str(k): round(int(v) / 2**20, 1) for k, v in conn.execute(text(
                "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes "
                "WHERE relname = 'cases' ORDER BY indexrelname"))},
        }


def churn(engine: Engine, share: float, seed: int) -> dict[str, Any]:
    """Update `share` of the open cases without changing them: each gets a new row version, so its table page
    is no longer all-visible until the next VACUUM (index-only scans then read those pages)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 100) / 100})
        updated = conn.execute(text(
            "UPDATE cases SET updated_at = updated_at WHERE id IN (SELECT id FROM cases WHERE status IN "
            "('open', 'in_progress') ORDER BY random() LIMIT (SELECT count(*) * :share FROM cases WHERE status IN "
            "('open', 'in_progress'))::int)"), {"share": share}).rowcount
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_visibility"))  # contrib; in the bench database only
        pages, dirty = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE NOT all_visible) FROM pg_visibility_map('cases')")).one()
    return {"share": share, "updated": updated, "pages": pages, "pages_not_all_visible": dirty}
