"""The load bench's measurements: CPU from /proc (process trees, PostgreSQL, the machine), latency
percentiles from raw times and from the server's Prometheus histograms, the peak of overlapping calls."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

TICKS = os.sysconf("SC_CLK_TCK")


def stats() -> dict[int, list[str]]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                out[int(entry)] = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
    return out


def tree_cpu(roots: list[int], table: dict[int, list[str]]) -> float:
    """utime+stime (s) of the processes under `roots`, themselves included."""
    children: dict[int, list[int]] = defaultdict(list)
    for pid, fields in table.items():
        children[int(fields[1])].append(pid)
    total, todo = 0, list(roots)
    while todo:
        pid = todo.pop()
        if pid in table:
            total += int(table[pid][11]) + int(table[pid][12])
        todo.extend(children.get(pid, []))
    return total / TICKS


def postgres_cpu(table: dict[int, list[str]]) -> dict[int, float]:
    """CPU (s) of each PostgreSQL process; a backend that exits takes its CPU with it, so deltas are taken over
    the processes alive at both ends (a lower bound)."""
    out = {}
    for pid, fields in table.items():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                out[pid] = (int(fields[11]) + int(fields[12])) / TICKS
        except OSError:
            continue
    return out


def machine_busy() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS  # all but idle and iowait


def snapshot(groups: dict[str, list[int]]) -> dict[str, Any]:
    table = stats()
    out: dict[str, Any] = {name: tree_cpu(pids, table) for name, pids in groups.items()}
    out["postgres"] = postgres_cpu(table)
    out["machine"] = machine_busy()
    return out


def used(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    out = {k: after[k] - before[k] for k in after if k != "postgres"}
    out["postgres"] = sum(v - before["postgres"][pid] for pid, v in after["postgres"].items() if pid in before["postgres"])
    out["other_processes"] = out["machine"] - sum(v for k, v in out.items() if k != "machine")
    return {k: round(v, 1) for k, v in out.items()}


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50": round(pick(0.50), 1), "p95": round(pick(0.95), 1),
            "p99": round(pick(0.99), 1), "max": round(ordered[-1], 1)}


def histograms(base: str, token: str) -> dict[str, dict[float, float]]:
    """Cumulative bucket counts of the server's latency (by route) and ASR decode histograms."""
    reply = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    reply.raise_for_status()
    out: dict[str, dict[float, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == "huifang_http_request_duration_seconds_bucket":
                key = sample.labels["route"].rsplit("/", 1)[-1]
            elif sample.name == "huifang_asr_decode_seconds_bucket":
                key = "asr_decode"
            else:
                continue
            bound = float(sample.labels["le"])
            out[key][bound] = out[key].get(bound, 0.0) + sample.value
    return out


def server_percentiles(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
                       ) -> dict[str, dict[str, float]]:
    """p50/p95/p99 (ms) of what the level added to each histogram, interpolated inside buckets."""
    out = {}
    for key, buckets in after.items():
        bounds = sorted(buckets)
        counts = [buckets[b] - before.get(key, {}).get(b, 0.0) for b in bounds]
        total = counts[-1] if counts else 0
        if total <= 0:
            continue
        result: dict[str, float] = {"n": total}
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            rank, low, below = q * total, 0.0, 0.0
            for bound, count in zip(bounds, counts, strict=True):
                if count >= rank:
                    top = bound if bound != float("inf") else low
                    share = (rank - below) / (count - below) if count > below else 1.0
                    result[name] = round((low + (top - low) * share) * 1000, 1)
                    break
                low, below = bound, count
        out[key] = result
    return out


def peak(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda p: (p[0], p[1]))
    live = most = 0
    for _, step in points:
        live += step
        most = max(most, live)
    return most
