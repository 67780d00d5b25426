"""An e-callback world for the page's tests: the web app (webhooks, console, /e/) over the test database with
one queued e-callback task, a link sent to it, and the simulated SMS outbox to read the codes from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import Engine, select

from console.app import mount_console
from console.context import ConsoleContext
from ecallback.links import issue
from ecallback.web import EcallbackContext, mount_ecallback
from kit.vocab import CallbackChannel
from messaging.senders import outbox
from speech.cache import PromptCache
from storage.db import unit_of_work
from storage.models import Call, CallbackTask, EcallbackLink, Policy
from tests.ivr.conftest import Ivr, build_ivr

BORN = "1980-05-17"  # policy_row's applicant


@dataclass
class World:
    ivr: Ivr
    app: Flask
    token: str
    phone: str

    @property
    def path(self) -> str:
        return f"/e/{self.token}"

    def last_code(self) -> str:
        with unit_of_work(self.ivr.svc.sessions) as s:
            bodies = [e.body for e in outbox(s, self.phone)]
        found = re.search(r"验证码为(\d{6})", bodies[-1])
        assert found is not None, bodies
        return found[1]

    def link(self) -> EcallbackLink:
        with self.ivr.session() as s:
            return s.scalars(select(EcallbackLink).order_by(EcallbackLink.id.desc()).limit(1)).one()

    def session_call(self) -> Call:
        link = self.link()
        with self.ivr.session() as s:
            call = s.get(Call, link.call_id)
            assert call is not None
            return call


def build_world(engine: Engine, tmp_path: Path, prompt_cache: PromptCache) -> World:
    ivr = build_ivr(engine, tmp_path, prompt_cache, keypad=True, channels=None)
    svc = ivr.svc
    app = ivr.app
    mount_console(app, ConsoleContext(svc.settings, svc.clock, svc.calendar, svc.sessions, calls=svc.calls), "k" * 40,
                  https=False)
    mount_ecallback(app, EcallbackContext.build(svc.sessions, svc.calls, svc.files))
    with unit_of_work(svc.sessions) as s:
        task = s.get(CallbackTask, ivr.task_id)
        assert task is not None
        task.channel = CallbackChannel.ECALLBACK
        policy = s.get(Policy, task.policy_id)
        assert policy is not None
        issued = issue(s, task, policy, now=svc.clock.now(), settings=svc.settings)
        phone = policy.applicant_phone
        s.commit()
    return World(ivr, app, issued.url.rsplit("/", 1)[1], phone)
