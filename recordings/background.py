"""Storing a whole-call recording after Twilio's recording callback has been answered.

The callback's announcement commits first (the recording is then pending and can never be lost); the download
itself — seconds against Twilio's media host, longer when the media is late (rapidpro#604) — runs on a small
thread pool of the web process, so the callback is answered at once and a worker thread is never held by
Twilio's media host while calls wait for their next turn.

A download that cannot finish here (the process stopped, the media host down, the queue full) leaves the
recording pending: its claim's lease runs out and the retry job (the dialer's `fetch_recordings`, `huifang
recordings fetch`) takes it (recordings.downloader). Graceful shutdown lets queued downloads finish (the pool's
threads are joined when the interpreter exits).

`recordings.download_threads = 0` downloads inside the callback before answering (one process, no threads).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from recordings.downloader import Outcome

log = logging.getLogger(__name__)

Fetch = Callable[[str], Outcome]


class RecordingDownloads(Protocol):
    def submit(self, recording_sid: str) -> Future[Outcome] | None:
        """Store the announced recording now or soon; None when it is left to the retry job."""


def _fetch_logged(fetch: Fetch, recording_sid: str) -> Outcome:
    try:
        return fetch(recording_sid)
    except Exception:  # a bug in one download never stops the pool; the recording stays pending
        log.exception("recording %s: the download failed unexpectedly; left pending for the retry job",
                      recording_sid)
        return Outcome.PENDING


class InlineDownloads:
    """Download inside the callback, before answering Twilio (recordings.download_threads = 0)."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch

    def submit(self, recording_sid: str) -> Future[Outcome] | None:
        done: Future[Outcome] = Future()
        done.set_result(_fetch_logged(self._fetch, recording_sid))
        return done


class BackgroundDownloads:
    """A bounded pool per process, made on first use in that process (a pool made before gunicorn forks has no
    threads in the workers). More than `queue_limit` waiting downloads: the next ones are left to the retry
    job rather than held in memory."""

    def __init__(self, fetch: Fetch, threads: int, queue_limit: int,
                 process: Callable[[], int] = os.getpid) -> None:
        if threads < 1:
            raise ValueError("a background pool needs at least one thread")
        self._fetch = fetch
        self._threads = threads
        self._queue_limit = queue_limit
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._process = process
        self._pid = 0
        self._waiting = 0

    def submit(self, recording_sid: str) -> Future[Outcome] | None:
        with self._lock:
            if self._waiting >= self._queue_limit:
                log.warning("recording %s: %d downloads already waiting in this process; left pending for the "
                            "retry job", recording_sid, self._waiting)
                return None
            pool = self._pool_here()
            self._waiting += 1
            future = pool.submit(_fetch_logged, self._fetch, recording_sid)
        future.add_done_callback(self._one_done)
        return future

    @property
    def waiting(self) -> int:
        """Downloads queued or running in this process."""
        return self._waiting

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)

    def _one_done(self, _: Future[Outcome]) -> None:
        with self._lock:
            self._waiting -= 1

    def _pool_here(self) -> ThreadPoolExecutor:
        pid = self._process()
        if self._pool is None or self._pid != pid:  # a new process (a forked worker): a pool of its own
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="recording-download")
            self._pid = pid
            self._waiting = 0
        return self._pool
