"""The charts' data, as console/static/charts.js reads it from a chart container's `data-chart` attribute (JSON):
`{"type": "line"|"bar"|"pie", "categories": [...], "series": [{"name", "data", "color"?, "stack"?}],
"percent": bool, "horizontal": bool}`. Rates are fractions (0.625) or null where there is no denominator."""

from __future__ import annotations

from typing import Any

from cases.campaign import Dashboard
from cases.kpi import GROUPING_ZH
from console.labels import RESULT_ZH, SLA_ZH

RESULT_COLOURS = {"standard": "#16a34a", "sub_standard": "#0ea5e9", "problem": "#f97316", "verification": "#a855f7"}
SLA_COLOURS = {"normal": "#3b82f6", "warning": "#f59e0b", "overdue": "#dc2626"}


def dashboard_charts(board: Dashboard) -> dict[str, dict[str, Any]]:
    results = board.today.results
    return {
        "results": {"type": "pie", "categories": [RESULT_ZH.get(k, k) for k in results],
                    "series": [{"name": "今日回访结果", "data": list(results.values()),
                                "colors": [RESULT_COLOURS.get(k, "#64748b") for k in results]}]},
        "days": {"type": "line", "percent": True, "categories": [f"{d.day:%m-%d}" for d in board.days],
                 "series": [{"name": "接通率", "data": [d.reach_rate for d in board.days], "color": "#2563eb"},
                            {"name": "成功率", "data": [d.success_rate for d in board.days], "color": "#16a34a"}]},
        "cases": {"type": "bar", "horizontal": True, "categories": [f"{c.name}" for c in board.cases],
                  "series": [{"name": SLA_ZH[s], "data": [c.counts[s] for c in board.cases], "stack": "sla",
                              "color": SLA_COLOURS[s]} for s in ("overdue", "warning", "normal")]},
    }


def kpi_chart(rows: list[dict[str, Any]], by: str, labels: dict[str, str]) -> dict[str, Any]:
    """The KPI page's picture: coverage and success rate per group shown (the table beside it has every rate)."""
    return {"type": "bar", "percent": True, "title": f"按{GROUPING_ZH[by]}",
            "categories": [labels.get(r["key"], r["key"]) for r in rows],
            "series": [{"name": "回访覆盖率", "data": [r["coverage_rate"] for r in rows], "color": "#93c5fd"},
                       {"name": "回访成功率", "data": [r["success_rate"] for r in rows], "color": "#16a34a"},
                       {"name": "犹豫期内回访成功率", "data": [r["in_cooling_off_success_rate"] for r in rows],
                        "color": "#0ea5e9"}]}
