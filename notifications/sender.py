"""Delivering the outbox: claim → commit → POST each event with no transaction open → commit the outcomes.

1. claim, in a short transaction: a batch of due events leased to this sender (notifications.outbox.claim).
2. POST each, signed (notifications.signing), with no database transaction open (architecture invariant 2):
   a slow or dead endpoint never holds a lock. A 2xx is delivered; anything else (an error status, a refused
   connection, a timeout) is tried again after an exponential back-off until `max_age_hours`, then dead.
3. finish, in a second short transaction: each outcome is written only while this sender's claim still holds.

At least once: a sender that dies after a POST and before step 3 leaves its claim to run out; the event is then
POSTed again with the same event id (receivers dedupe by `X-Huifang-Event-Id`). Never lost: an event leaves the
queue only delivered or dead, and a dead letter stays until someone resends it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from sqlalchemy.orm import Session, sessionmaker

from kit.clock import Clock
from kit.settings import NotificationSettings
from notifications import outbox, signing
from notifications.outbox import Claimed, Result
from storage.db import on_a_new_connection, unit_of_work

log = logging.getLogger(__name__)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


Post = Callable[[str, bytes, dict[str, str], float], int]  # url, body, headers, timeout → HTTP status


def requests_post(http: requests.Session) -> Post:
    def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        response = http.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        response.close()
        return response.status_code

    return post


@dataclass
class Sender:
    sessions: sessionmaker[Session]
    clock: Clock
    settings: NotificationSettings
    post: Post = field(default_factory=lambda: requests_post(requests.Session()))
    holder: str = field(default_factory=default_holder)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.endpoint)

    def claim(self, limit: int | None = None) -> list[Claimed]:
        def work() -> list[Claimed]:
            with unit_of_work(self.sessions) as session:
                claims = outbox.claim(session, self.holder, now=self.clock.now(), settings=self.settings,
                                      limit=limit)
                session.commit()
            return claims

        return on_a_new_connection(work, what="claiming notifications")

    def deliver(self, claimed: Claimed) -> Result:
        """One POST (no transaction open here)."""
        payload = signing.body(claimed.event_id, claimed.type, claimed.created_at, claimed.policy_no, claimed.payload)
        headers = signing.headers(self.settings.secret, claimed.event_id, int(self.clock.now().timestamp()), payload)
        try:
            status = self.post(self.settings.endpoint, payload, headers, self.settings.timeout_s)
        except requests.RequestException as exc:
            return Result(claimed, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one event's failure never stops the batch; kept with the reason
            log.exception("notification %s: the POST failed unexpectedly", claimed.event_id)
            return Result(claimed, f"unexpected {type(exc).__name__}: {exc}")
        return Result(claimed, None if 200 <= status < 300 else f"HTTP {status}")

    def finish(self, results: list[Result], untried: list[Claimed]) -> int:
        def work() -> int:
            with unit_of_work(self.sessions) as session:
                done = outbox.finish(session, results, now=self.clock.now(), settings=self.settings)
                outbox.release(session, untried)
                session.commit()
            return done

        done = on_a_new_connection(work, what="recording notification outcomes")
        if done < len(results):
            log.warning("notifications: %d claims ran out and were taken over; their outcomes were dropped",
                        len(results) - done)
        return done

    def send_batch(self) -> dict[str, int]:
        """One batch: claimed, POSTed, finished. Counts delivered, failed (retried later or dead), released."""
        claims = self.claim()
        results: list[Result] = []
        untried: list[Claimed] = []
        for i, claimed in enumerate(claims):
            # the claim must outlive the POST: the rest of a batch whose lease is nearly out is given back
            if self.clock.now().timestamp() + self.settings.timeout_s >= claimed.expires_at.timestamp():
                untried = claims[i:]
                break
            results.append(self.deliver(claimed))
        if claims:
            self.finish(results, untried)
        failed = sum(1 for r in results if r.error is not None)
        for r in results:
            if r.error is not None:
                log.info("notification %s not delivered: %s", r.claimed.event_id, r.error)
        return {"claimed": len(claims), "delivered": len(results) - failed, "failed": failed, "released": len(untried)}

    def send_due(self, max_batches: int | None = None) -> dict[str, int]:
        """Batches until nothing is due (or `max_batches`); off (nothing sent) without an endpoint."""
        totals = {"claimed": 0, "delivered": 0, "failed": 0, "released": 0}
        if not self.enabled:
            return totals
        batches = 0
        while max_batches is None or batches < max_batches:
            counts = self.send_batch()
            batches += 1
            for key, value in counts.items():
                totals[key] += value
            if counts["claimed"] == 0 or counts["released"]:
                break
        return totals
