"""`huifang dialer`'s own /metrics: its ticks and claims, and the database gauges, on metrics.dialer_bind,
behind the same bearer token as the web app's."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dialer.loop import TickResult
from huifang.app import App
from huifang.serving.binding import parse_bind
from huifang.serving.db_metrics import DatabaseCollector
from huifang.serving.metrics import dialer_metrics, metrics_token, protected_wsgi, scrape_registry

log = logging.getLogger("huifang.dialer")
EVENTS = ("claimed", "placed", "released", "adopted", "requeued")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        log.debug("metrics: " + format, *args)


class _ThreadedServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request: object, client_address: object) -> None:
        threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

    def _handle(self, request: object, client_address: object) -> None:
        try:
            self.finish_request(request, client_address)  # type: ignore[arg-type]
        finally:
            self.shutdown_request(request)  # type: ignore[arg-type]


def start_metrics_server(app: App) -> WSGIServer | None:
    """Serve /metrics on metrics.dialer_bind (None when it is empty). A ValueError when no token is set."""
    bind = app.settings.metrics.dialer_bind
    if not bind:
        return None
    token = metrics_token()
    if token is None:
        raise ValueError("metrics.dialer_bind is set but no metrics token is: set HUIFANG_METRICS_TOKEN or "
                         "HUIFANG_METRICS_TOKEN_FILE (or leave metrics.dialer_bind empty)")
    host, port = parse_bind(bind, "metrics.dialer_bind")
    collector = DatabaseCollector(app.sessions, app.clock, app.settings.metrics.db_timeout_s)
    server = make_server(host, port, protected_wsgi(token, lambda: scrape_registry([collector])),
                         server_class=_ThreadedServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="dialer-metrics", daemon=True).start()
    log.info("dialer metrics on http://%s/metrics", bind)
    return server


def metered(tick: Callable[[], TickResult]) -> Callable[[], TickResult]:
    """The dialer's tick, counted."""

    def run() -> TickResult:
        metrics = dialer_metrics()
        started = time.perf_counter()
        result = tick()
        metrics.tick_seconds.observe(time.perf_counter() - started)
        metrics.ticks.inc()
        for event in EVENTS:
            count = getattr(result, event)
            if count:
                metrics.tasks.labels(event=event).inc(count)
        return result

    return run
