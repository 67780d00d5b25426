"""Downloading announced recordings: claim → commit → download → commit, never inside a transaction.

One path for Twilio's recording callback (right after the announcement has committed) and for the retry
job (the dialer's `fetch_recordings`, `huifang recordings fetch`):

1. claim, in a short transaction: a lease on the row (`claimed_by` token, `claim_expires_at`). PostgreSQL
   takes the batch with FOR UPDATE SKIP LOCKED; SQLite's write lock (BEGIN IMMEDIATE) serialises claims.
2. download and write the file with no transaction open (architecture invariant 2): a slow Twilio never
   holds a lock another webhook waits on.
3. finish, in a second short transaction: the result (stored, or the error and the next try) is written
   only if this claim still holds the row. A downloader whose lease ran out and was taken over changes
   nothing; a crashed one leaves a claim that runs out and is taken over (invariant 4: nothing lost).

A claim or a finish whose database connection was lost (the database restarted) is done again on a new
connection, so a stored file is recorded at once rather than after the claim's lease. A file that cannot be
written (the disk full or read-only) is a failed download: kept pending with the store's error, the claim
given back, tried again after retry_after_minutes, logged as an error (someone must free the disk).

Two downloaders of one recording (a late one and its taker) write the same path: the store is write-once
and takes the same bytes again as a no-op, so both end with the one file.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.orm import Session, sessionmaker

from kit.clock import Clock
from kit.settings import RecordingSettings
from recordings import service
from recordings.media import MediaClient, MediaUnavailable, wav_problem
from recordings.service import Claim
from recordings.store import AlreadyStored, RecordingStore, Stored
from storage.db import on_a_new_connection, unit_of_work

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    STORED = "stored"
    PENDING = "pending"  # not downloadable yet: kept with its error and next try
    SUPERSEDED = "superseded"  # the lease ran out and another downloader took over: this result was dropped
    NOT_CLAIMED = "not_claimed"  # stored already, not due, or another downloader holds it


@dataclass(frozen=True)
class DownloadFailed:
    error: str
    store_failed: bool = False  # downloaded, but the store could not write it (the disk full or read-only)


def default_holder() -> str:
    """Who claims, as the dialer names itself: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Downloader:
    sessions: sessionmaker[Session]
    media: MediaClient
    files: RecordingStore
    clock: Clock
    settings: RecordingSettings
    holder: str = field(default_factory=default_holder)

    def claim(self, *, limit: int, recording_sid: str | None = None) -> list[Claim]:
        """Step 1, committed before it returns."""

        def claim() -> list[Claim]:
            with unit_of_work(self.sessions) as session:
                claims = service.claim(session, self.holder, now=self.clock.now(), settings=self.settings,
                                       limit=limit, recording_sid=recording_sid)
                session.commit()
            return claims

        return on_a_new_connection(claim, what="claiming recordings")

    def download(self, claimed: Claim) -> Stored | DownloadFailed:
        """Step 2: no database transaction is open here. Only a complete WAV file is stored: anything else
        (a RIFF header alone, a cut-off body, a page of HTML) leaves the recording pending with the reason."""
        s = self.settings
        try:
            data = self.media.fetch(claimed.url, s.download_attempts, s.download_wait_s, backoff=2.0)
            problem = wav_problem(data)
            if problem is not None:
                return DownloadFailed(f"{claimed.url}: not stored: {problem}")
        except (MediaUnavailable, OSError, ValueError) as exc:
            return DownloadFailed(str(exc))
        try:
            return self.files.put(claimed.path, data)
        except (AlreadyStored, OSError, ValueError) as exc:  # no partial file is left at its path (recordings.store)
            return DownloadFailed(f"not stored: {claimed.path}: {exc}", store_failed=True)

    def finish(self, claimed: Claim, result: Stored | DownloadFailed) -> Outcome:
        """Step 3, committed before it returns; nothing changes unless the claim is still ours."""
        now = self.clock.now()

        def finish() -> bool:  # a conditional update on the claim's token: done once, whoever asks again
            with unit_of_work(self.sessions) as session:
                if isinstance(result, Stored):
                    held = service.finish_stored(session, claimed, result, now=now)
                else:
                    held = service.finish_failed(session, claimed, result.error, now=now, settings=self.settings)
                session.commit()
            return held

        held = on_a_new_connection(finish, what=f"recording {claimed.recording_sid}")
        if not held:
            log.warning("recording %s: the claim ran out and was taken over; this download's result is dropped",
                        claimed.recording_sid)
            return Outcome.SUPERSEDED
        if isinstance(result, DownloadFailed):
            if not result.store_failed:
                log.info("recording %s not stored yet: %s", claimed.recording_sid, result.error)
            else:  # someone must free the disk or make it writable; the recording waits for it, pending
                log.error("recording %s downloaded but %s; kept pending, tried again in %s min",
                          claimed.recording_sid, result.error, self.settings.retry_after_minutes)
            return Outcome.PENDING
        return Outcome.STORED

    def fetch(self, recording_sid: str) -> Outcome:
        """One recording (the recording callback, after the announcement has committed)."""
        claims = self.claim(limit=1, recording_sid=recording_sid)
        if not claims:
            return Outcome.NOT_CLAIMED
        return self.finish(claims[0], self.download(claims[0]))

    def fetch_due(self, limit: int = 100) -> dict[str, int]:
        """Up to `limit` due pending recordings, fetch_batch_size claimed at a time (the retry job)."""
        counts = {"stored": 0, "pending": 0}
        taken = 0
        while taken < limit:
            claims = self.claim(limit=min(self.settings.fetch_batch_size, limit - taken))
            if not claims:
                break
            taken += len(claims)
            for claimed in claims:
                outcome = self.finish(claimed, self._download_guarded(claimed))
                if outcome.value in counts:
                    counts[outcome.value] += 1
        return counts

    def _download_guarded(self, claimed: Claim) -> Stored | DownloadFailed:
        """One recording's download, whatever goes wrong with it: a bug in one never stops the others."""
        try:
            return self.download(claimed)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, kept pending with the reason
            log.exception("recording %s: the download failed unexpectedly", claimed.recording_sid)
            return DownloadFailed(f"unexpected {type(exc).__name__}: {exc}")
