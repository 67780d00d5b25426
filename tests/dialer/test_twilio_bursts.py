"""Fault: Twilio's REST API answering 429 (with Retry-After), 500 and read timeouts in bursts, then success.

The real dialer and the real TwilioProvider against Twilio's API mocked with `responses`, on the virtual
clock (both databases). POST /Calls is not idempotent: a 500 or a read timeout may come after Twilio created
the call, and the mock does create it for some of them. Nothing lost, nothing doubled: every task ends on
exactly one call Twilio created, a placement whose answer was lost is never asked for again within its claim
(it is looked up when the claim runs out: adopted when Twilio has it, dialled when not), and no request
reaches Twilio while the dialer backs off (Twilio's Retry-After included).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from sqlalchemy import select

from dialer.loop import Dialer, TickResult
from dialer.pacing import Pacer
from dialer.telephony import TwilioProvider
from kit.clock import FrozenClock
from kit.vocab import TaskStatus
from storage.models import Call, CallbackTask, Policy
from tests.dialer.conftest import Bench
from tests.factories import policy_row

ACCOUNT = "AC" + "7" * 32
CALLS = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
CALLER_ID = "+861085550000"


@dataclass
class TwilioCallsApi:
    """POST /Calls and GET /Calls of one account, mocked: each request answered by the next scripted fault of
    its kind, else by success. `+created`: the call is created before the failure is answered (Twilio took the
    request; its answer was lost). Every request is kept with the virtual time it arrived."""

    clock: FrozenClock
    create_faults: list[str] = field(default_factory=list)  # "429:<retry-after>", "500", "500+created", "timeout", "timeout+created"
    list_faults: list[str] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[datetime, str, str, str]] = field(default_factory=list)  # (at, method, To, answer)

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, CALLS, callback=self._create)
        mock.add_callback(responses.GET, CALLS, callback=self._list)

    def _create(self, request: requests.PreparedRequest) -> Any:
        form = {k: v[0] for k, v in parse_qs(str(request.body)).items()}
        fault = self.create_faults.pop(0) if self.create_faults else "ok"
        self.requests.append((self.clock.now(), "POST", form["To"], fault))
        kind, created = fault.split("+")[0], fault.endswith("+created") or fault == "ok"
        call = None
        if created:
            call = {"sid": f"CA{len(self.created) + 1:032x}", "account_sid": ACCOUNT, "to": form["To"],
                    "from": form["From"], "status": "queued",
                    "date_created": format_datetime(self.clock.now().astimezone(UTC), usegmt=True)}
            self.created.append(call)
        return self._answer(kind, call)

    def _list(self, request: requests.PreparedRequest) -> Any:
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        fault = self.list_faults.pop(0) if self.list_faults else "ok"
        self.requests.append((self.clock.now(), "GET", query.get("To", ""), fault))
        if fault != "ok":
            return self._answer(fault, None)
        calls = [c for c in reversed(self.created) if c["to"] == query.get("To") and c["from"] == query.get("From")]
        return 200, {}, _json({"calls": calls, "next_page_uri": None, "page": 0, "page_size": 50})

    @staticmethod
    def _answer(kind: str, call: dict[str, Any] | None) -> Any:
        if kind == "ok":
            return 201, {}, _json(call)
        if kind.startswith("429"):
            retry_after = kind.partition(":")[2] or "1"
            return 429, {"Retry-After": retry_after}, _json({"code": 20429, "message": "Too Many Requests",
                                                              "status": 429})
        if kind == "500":
            return 500, {}, _json({"code": 20500, "message": "Internal Server Error", "status": 500})
        if kind == "timeout":
            raise requests.ReadTimeout("HTTPSConnectionPool(host='api.twilio.com', port=443): Read timed out.")
        raise AssertionError(kind)

    def posts(self) -> Counter[str]:
        return Counter(to for _, method, to, _ in self.requests if method == "POST")

    def created_per_number(self) -> Counter[str]:
        return Counter(c["to"] for c in self.created)


def _json(data: object) -> str:
    import json

    return json.dumps(data)


def _run(bench: Bench, dialer: Dialer, api: TwilioCallsApi, until: datetime) -> list[tuple[datetime, TickResult]]:
    """Tick every tick_seconds on the virtual clock until every task is on a call (or `until`)."""
    ticks = []
    step = timedelta(seconds=bench.settings.dialer.tick_seconds)
    while bench.clock.now() < until:
        ticks.append((bench.clock.now(), dialer.tick()))
        with bench.session() as s:
            if set(s.scalars(select(CallbackTask.status))) == {TaskStatus.IN_PROGRESS}:
                break
        bench.clock.advance(step)
    return ticks


def test_a_burst_of_429_500_and_timeouts_places_every_call_once_and_honours_the_backoff(bench: Bench) -> None:
    bench.load([policy_row(policy_no=f"P{i}", receipt_signed_date=f"2026-11-{16 + i}",
                           receipt_logged_date=f"2026-11-{16 + i}") for i in range(6)])  # P0 first (earliest deadline) …
    api = TwilioCallsApi(bench.clock)
    api.create_faults = ["429:120", "500", "timeout+created", "ok", "500+created", "timeout", "429:45"]
    api.list_faults = ["429:90", "500"]  # the first lookups after the claims ran out fail too
    settings = dataclasses.replace(bench.settings, twilio=dataclasses.replace(
        bench.settings.twilio, account_sid=ACCOUNT, auth_token="token"))
    dialer = Dialer(settings=settings, clock=bench.clock, calendar=bench.calendar, sessions=bench.sessions,
                    provider=TwilioProvider(ACCOUNT, "token"), dialer_id="d1", pacer=Pacer(0))
    start = bench.clock.now()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        api.install(mock)
        ticks = _run(bench, dialer, api, until=start + timedelta(hours=1))

    # every task is on exactly one call Twilio created, registered under its CallSid: nothing lost, nothing doubled
    with bench.session() as s:
        tasks = {no: (status, phone) for no, status, phone in
                 s.execute(select(Policy.policy_no, CallbackTask.status, Policy.applicant_phone).join(Policy))}
        registered = Counter(phone for phone, in s.execute(select(Call.dialled_number)))
        sids = {sid for sid, in s.execute(select(Call.call_sid))}
    assert {status for status, _ in tasks.values()} == {TaskStatus.IN_PROGRESS}
    phones = {phone for _, phone in tasks.values()}
    assert api.created_per_number() == Counter(dict.fromkeys(phones, 1))
    assert registered == Counter(dict.fromkeys(phones, 1))
    assert sids == {c["sid"] for c in api.created}

    # a placement whose answer was lost is never asked for again within its claim: the next POST for that
    # number (only when Twilio had not created the call) comes after the lease, and after a lookup
    lease = timedelta(seconds=bench.settings.dialer.lease_seconds)
    for i, (at, method, to, answer) in enumerate(api.requests):
        if method != "POST" or answer not in ("500", "timeout", "500+created", "timeout+created"):
            continue
        later = [(t, m, a) for t, m, n, a in api.requests[i + 1:] if n == to]
        posts = [t for t, m, _ in later if m == "POST"]
        if answer.endswith("+created"):
            assert posts == [], f"{to}: dialled again after Twilio created its call at {at}"
        else:
            assert posts, f"{to}: never called"
            assert posts[0] >= at + lease, f"{to}: asked again within the claim"
            assert any(m == "GET" and a == "ok" and t <= posts[0] for t, m, a in later), f"{to}: not looked up"
    phone = {no: p for no, (_, p) in tasks.items()}
    # P0: 429, 500 (nothing created), then its call; P4: a timeout that created nothing, then its call; P5: 429
    # then its call; P1 and P3 once each, their lost answers found at Twilio; P2 at once
    assert api.posts() == Counter({phone["P0"]: 3, phone["P1"]: 1, phone["P2"]: 1, phone["P3"]: 1, phone["P4"]: 2,
                                   phone["P5"]: 2})

    # the backoff is honoured: between a failure and the end of its backoff no request reaches Twilio, and a
    # 429's Retry-After stands when it is longer than the dialer's own doubling
    failures = [(at, result.backoff_until) for at, result in ticks if result.backoff_until and result.backoff_until > at]
    for at, until in failures:
        assert not [r for r in api.requests if at < r[0] < until], f"a request while backing off {at} → {until}"
    first_429 = api.requests[0]
    assert first_429[3] == "429:120"
    assert api.requests[1][0] - first_429[0] == timedelta(seconds=120)  # not the dialer's 30 s
    assert sum(r.unknown for _, r in ticks) == 4
    assert sum(r.adopted for _, r in ticks) == 2  # the two calls Twilio had created: found, not dialled again
