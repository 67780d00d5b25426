"""Prometheus metrics (names start with `huifang_`).

Under gunicorn the workers write their counters to PROMETHEUS_MULTIPROC_DIR (set by `huifang serve` before
prometheus_client is first imported) and a scrape sums them; the gauges that describe the whole service
(backlog, open cases, ...) are read from the database at scrape time (huifang.serving.db_metrics).

/metrics answers only `Authorization: Bearer TOKEN` with the token from HUIFANG_METRICS_TOKEN or the file
named by HUIFANG_METRICS_TOKEN_FILE; without a configured token it is 404 (nothing to find), a missing or
wrong token gets 401. The token is compared in constant time and never logged.
"""

from __future__ import annotations

import functools
import hmac
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from huifang.config import ConfigError, read_secret_file

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.registry import Collector

TOKEN_ENV = "HUIFANG_METRICS_TOKEN"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
ASR_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
MIN_TOKEN = 16


def metrics_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The scrape token from HUIFANG_METRICS_TOKEN, else the file HUIFANG_METRICS_TOKEN_FILE names."""
    environ = os.environ if environ is None else environ
    token = environ.get(TOKEN_ENV, "").strip()
    path = environ.get(f"{TOKEN_ENV}_FILE", "").strip()
    if not token and path:
        token = read_secret_file(f"{TOKEN_ENV}_FILE", path)
    if token and len(token) < MIN_TOKEN:
        raise ConfigError(f"{TOKEN_ENV}: the metrics token must be at least {MIN_TOKEN} characters")
    return token or None


def authorised(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8", "replace"),
                                                               token.encode("utf-8"))


@dataclass(frozen=True)
class ProcessMetrics:
    """What one process counts as it goes (summed over gunicorn's workers at scrape time)."""

    requests: Counter
    latency: Histogram
    in_flight: Gauge
    asr_seconds: Histogram
    asr_intents: Counter


T = TypeVar("T")
_MAKING = threading.RLock()


def once(make: Callable[[], T]) -> Callable[[], T]:
    """`make` run once per process, under a lock: gunicorn's gthread workers answer their first requests on
    several threads at once, and registering a metric twice raises (bench/load.py caught it as a 500)."""
    cached = functools.cache(make)

    @functools.wraps(make)
    def made() -> T:
        with _MAKING:
            return cached()

    made.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return made


@once
def own_registry() -> CollectorRegistry:
    """Our metrics only (not the client's default process and GC metrics): every name starts with huifang_."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


@once
def process_metrics() -> ProcessMetrics:
    from prometheus_client import Counter, Gauge, Histogram

    ours = own_registry()
    return ProcessMetrics(
        requests=Counter("huifang_http_requests", "HTTP requests answered, by route template and status",
                         ["route", "method", "status"], registry=ours),
        latency=Histogram("huifang_http_request_duration_seconds",
                          "Time to answer a request (webhooks: Twilio waits for it), by route template",
                          ["route", "method"], buckets=LATENCY_BUCKETS, registry=ours),
        in_flight=Gauge("huifang_http_requests_in_flight", "Requests being answered now, by route template",
                        ["route"], multiprocess_mode="livesum", registry=ours),
        asr_seconds=Histogram("huifang_asr_decode_seconds", "Time to recognise one recorded answer",
                              buckets=ASR_BUCKETS, registry=ours),
        asr_intents=Counter("huifang_asr_intents", "Recognised answers by intent", ["intent"], registry=ours),
    )


@dataclass(frozen=True)
class DialerMetrics:
    tasks: Counter
    ticks: Counter
    tick_seconds: Histogram


@once
def dialer_metrics() -> DialerMetrics:
    from prometheus_client import Counter, Histogram

    ours = own_registry()
    return DialerMetrics(
        tasks=Counter("huifang_dialer_tasks", "Tasks this dialer claimed, placed, released (backing off), adopted "
                      "(a dead dialer's placement) or requeued (a call whose end was never reported)", ["event"],
                      registry=ours),
        ticks=Counter("huifang_dialer_ticks", "Dialer ticks run", registry=ours),
        tick_seconds=Histogram("huifang_dialer_tick_seconds", "Time one tick took (claiming and placing)",
                               buckets=LATENCY_BUCKETS, registry=ours),
    )


@once
def stream_metrics() -> tuple[Counter, Histogram, Histogram]:
    from prometheus_client import Counter, Histogram

    ours = own_registry()
    return (Counter("huifang_stream_events", "Media Streams: started, answered, lost_race (a key or the timeout "
                    "took the turn first), refused, fallback_no_start / fallback_error / fallback_lag (the call "
                    "records instead), intent_*, closed_*", ["event"], registry=ours),
            Histogram("huifang_stream_turn_gap_seconds", "End of the caller's speech to the live call being "
                      "moved on (endpoint wait, decoding, the turn's transaction and Twilio's REST call)",
                      buckets=LATENCY_BUCKETS, registry=ours),
            Histogram("huifang_stream_decode_seconds", "Time to recognise one streamed answer",
                      buckets=ASR_BUCKETS, registry=ours))


class StreamMetrics:
    """ivr.stream_session.StreamEvents on Prometheus."""

    def count(self, event: str) -> None:
        stream_metrics()[0].labels(event).inc()

    def observe(self, name: str, seconds: float) -> None:
        events, gap, decode = stream_metrics()
        (gap if name == "turn_gap" else decode).observe(seconds)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def scrape_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """A registry for one scrape: every worker's files under gunicorn, else this process's metrics; plus
    `extra` collectors (the database gauges)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(own_registry()))
    for collector in extra:
        registry.register(collector)
    return registry


class _Forward:
    """This process's own metrics as one collector of a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Any]:
        return self.registry.collect()


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry), CONTENT_TYPE_LATEST


def protected_wsgi(token: str, registry_for_scrape: Callable[[], CollectorRegistry]) -> Callable[..., Any]:
    """A WSGI app serving GET /metrics behind the bearer token (the dialer's own metrics server)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not authorised(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"a bearer token is required\n"]
        body, content_type = exposition(registry_for_scrape())
        start_response("200 OK", [("Content-Type", content_type), ("Cache-Control", "no-store")])
        return [body]

    return app
