"""gunicorn, configured from our settings through its application API (no gunicorn.conf.py).

The app is built in the master before any worker starts (`preload_app`): the Vosk model is loaded once
and the workers share its memory copy-on-write. After the fork each worker drops the database connections
it inherited; when a worker exits its metric files are marked dead. Before each fork the master freezes what
it has built (`gc.freeze`, as Python's gc documentation advises for a forking server): the app, the flows, the
ASR grammar are never scanned again by a worker's full collections, which otherwise stop every thread of the
worker (55 ms with the Korean model loaded, measured) and write to the shared pages. SIGTERM stops the master taking new
connections, lets in-flight requests finish within `graceful_timeout`, then exits 0."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from kit.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class RootLogger(Logger):
    """gunicorn's own messages go through the root handler (masked, text or JSON like ours); no access log:
    the app logs one line per request itself, without query strings."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, wsgi: Callable[..., Any], options: dict[str, Any]) -> None:
        self.wsgi_app, self.options = wsgi, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable[..., Any]:
        return self.wsgi_app


def options(settings: Settings, bind: str, after_fork: Callable[[], None]) -> dict[str, Any]:
    web = settings.web

    def pre_fork(_server: Any, _worker: Any) -> None:
        gc.freeze()  # everything built so far: out of the workers' collections (module docstring)

    def post_fork(_server: Any, _worker: Any) -> None:
        after_fork()

    def child_exit(_server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    return {
        "bind": [bind], "workers": web.workers, "worker_class": "gthread", "threads": web.threads,
        "timeout": web.timeout, "graceful_timeout": web.graceful_timeout, "keepalive": web.keepalive,
        "preload_app": True, "proc_name": "huifang", "logger_class": RootLogger, "accesslog": None,
        "errorlog": "-", "loglevel": "info", "pre_fork": pre_fork, "post_fork": post_fork, "child_exit": child_exit,
        "forwarded_allow_ips": "127.0.0.1,::1", "control_socket_disable": True,
    }


def prepare_metrics_dir(configured: str) -> tuple[Path, bool]:
    """The folder the workers' metric files go to, emptied, and whether it is ours to remove at exit; sets
    PROMETHEUS_MULTIPROC_DIR and switches prometheus_client to multiprocess values if it was imported."""
    if configured:
        path, owned = Path(configured), False
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path, owned = Path(tempfile.mkdtemp(prefix="huifang-metrics-")), True
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        from prometheus_client import values
    except ImportError:  # pragma: no cover - a dependency
        return path, owned
    values.ValueClass = values.get_value_class()
    return path, owned


def run(settings: Settings, wsgi: Callable[..., Any], bind: str, after_fork: Callable[[], None]) -> None:
    metrics_dir, owned = prepare_metrics_dir(settings.metrics.multiproc_dir)
    logging.getLogger("huifang.serve").info("metrics of the workers in %s", metrics_dir)
    master = os.getpid()
    try:
        Server(wsgi, options(settings, bind, after_fork)).run()
    finally:
        if os.getpid() == master:  # a worker leaves through here too (SystemExit): only the master cleans up
            os.environ.pop(MULTIPROC_ENV, None)
            if owned:
                shutil.rmtree(metrics_dir, ignore_errors=True)
