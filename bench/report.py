"""KPI report benchmark: the monthly report over 1,000,000 callback tasks on PostgreSQL.

    .venv/bin/python bench/report.py [--tasks 1000000] [--cases-per-100 8]

Fills a fresh database with generate_series (policies, tasks spread over 12 months with realistic result
shares, and cases), ANALYZEs it, then times `kpi()` for each grouping (median of 3). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.intake import fresh_database  # noqa: E402
from cases.kpi import GROUPINGS, Month, kpi  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402

FILL = """
INSERT INTO branches (id, code, name, created_at)
  SELECT g, (110000 + g * 100)::text, '分公司' || g, now() FROM generate_series(1, 36) g;
INSERT INTO agents (id, code, name, phone, branch_id, created_at)
  SELECT g, 'A' || lpad(g::text, 6, '0'), '业务员' || g, '1390000' || lpad(g::text, 4, '0'), 1 + g % 36, now()
  FROM generate_series(1, 3000) g;
INSERT INTO policies (id, policy_no, product_code, product_name, product_type, channel, policy_term_years,
    guaranteed_renewal, is_group, premium, payment_frequency, payment_years, issue_date, receipt_signed_date,
    receipt_logged_date, cooling_off_days, cooling_off_end, applicant_name, applicant_gender, applicant_birth_date,
    applicant_id_no, applicant_phone, applicant_phone_valid, insured_name, insured_is_applicant, agent_id,
    agent_is_applicant, branch_id, dual_recorded, dual_recorded_derived, callback_required, created_at, updated_at)
  SELECT g, 'P' || lpad(g::text, 10, '0'), 'T1', '产品', (ARRAY['traditional','participating','universal',
    'investment_linked','health'])[1 + g % 5], (ARRAY['agency','bancassurance','telesales'])[1 + g % 3], 20,
    false, false, 6000, 'annual', 10, d - 20, d - 15, d - 14, 15, d, '投保人', 'F', date '1980-01-01',
    '110105198001010000', '+8613700000000', true, '投保人', true, 1 + g % 3000, false, 1 + (g % 3000) % 36,
    false, false, true, now(), now()
  FROM (SELECT g, date '2026-01-01' + (g % 365) AS d FROM generate_series(1, :n) g) s;
INSERT INTO callback_tasks (id, policy_id, status, opens_on, deadline, questionnaire_variant, attempts,
    result_class, reason_codes, completed_at, created_at, updated_at)
  SELECT id, id, 'completed', cooling_off_end - 13, cooling_off_end, 'A', 1 + id % 3,
    (ARRAY['standard','standard','standard','standard','standard','sub_standard','problem','verification'])[1 + id % 8],
    '[]', (cooling_off_end - (id % 5) + time '10:00') AT TIME ZONE 'Asia/Shanghai', now(), now()
  FROM policies;
INSERT INTO cases (policy_id, task_id, branch_id, type, reason, status, detail, due_at, created_at, updated_at,
    closed_at, sla_status)
  SELECT p.id, p.id, p.branch_id, (ARRAY['verification_case','first_explanation_case','mis_selling_case',
    'proxy_signature_case'])[1 + p.id % 4], 'r', CASE WHEN p.id % 3 = 0 THEN 'open' ELSE 'closed' END, 'd',
    (p.cooling_off_end + 7)::timestamptz, p.cooling_off_end::timestamptz, now(),
    CASE WHEN p.id % 3 = 0 THEN NULL ELSE (p.cooling_off_end + (p.id % 10))::timestamptz END, 'normal'
  FROM policies p WHERE p.id % 100 < :cases;
ANALYZE;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--cases-per-100", type=int, default=8)
    args = parser.parse_args()
    url = fresh_database("postgresql", Path(tempfile.mkdtemp()), "report")
    engine = make_engine(url)
    migrate.upgrade(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in filter(str.strip, FILL.split(";\n")):
            conn.execute(text(statement), {"n": args.tasks, "cases": args.cases_per_100})
    fill_s = time.perf_counter() - started
    sessions = make_session_factory(engine)
    month = Month.parse("2026-06")
    out: dict[str, object] = {"tasks": args.tasks, "fill_s": round(fill_s, 1), "month": "2026-06", "seconds": {}}
    for by in GROUPINGS:
        times = []
        for _ in range(3):
            with sessions() as session:
                begun = time.perf_counter()
                report = kpi(session, month, by)
                times.append(time.perf_counter() - begun)
        out["seconds"][by] = round(statistics.median(times), 3)  # type: ignore[index]
        out.setdefault("rows", {})[by] = len(report["rows"])  # type: ignore[union-attr]
        out.setdefault("due", report["total"]["due"])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
