"""A world for recording signed questionnaires: the web app (webhooks and console) over the test database with
one policy whose callback was moved to a letter (or a visit) and its work order opened, two branch users (王芳
of the policy's branch, 李雷 of another) and the files a branch uploads (a real PDF, JPEG and PNG, and a fake)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import Engine, select

from accounts.service import add_user
from channels.switch import move
from console.app import mount_console
from console.context import ConsoleContext
from kit.actor import operator_actor
from kit.vocab import CallbackChannel
from speech.cache import PromptCache
from storage.db import unit_of_work
from storage.models import Branch, CallbackTask, Case
from tests.console.conftest import PASSWORD
from tests.ivr.conftest import Ivr, build_ivr

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17 + b"\x00\x00\x00\x00IEND\xaeB`\x82"
FAKE_PDF = b"MZ\x90\x00 this is an executable, named scan.pdf"


@dataclass
class World:
    ivr: Ivr
    app: Flask
    case_id: int


def build_world(engine: Engine, tmp_path: Path, prompt_cache: PromptCache,
                channel: CallbackChannel = CallbackChannel.LETTER) -> World:
    ivr = build_ivr(engine, tmp_path, prompt_cache, keypad=True, channels=None)
    svc = ivr.svc
    app = ivr.app
    mount_console(app, ConsoleContext(svc.settings, svc.clock, svc.calendar, svc.sessions, calls=svc.calls), "k" * 40,
                  https=False)
    with unit_of_work(svc.sessions) as s:
        root = operator_actor("root")
        now = svc.clock.now()
        s.add(Branch(code="120100", name="天津分公司", created_at=now))
        s.flush()
        add_user(s, root, "王芳", PASSWORD, ["branch"], ["110100"], now=now, settings=svc.settings.console)
        add_user(s, root, "李雷", PASSWORD, ["branch"], ["120100"], now=now, settings=svc.settings.console)
        task = s.get(CallbackTask, ivr.task_id)
        assert task is not None
        moved = move(s, task, channel, actor=root, reason="电话多次未接通", now=now, settings=svc.settings,
                     calendar=svc.calendar)
        assert moved.case_id is not None
        s.commit()
        case_id = moved.case_id
    return World(ivr, app, case_id)


def case_row(world: World) -> Case:
    with world.ivr.session() as s:
        return s.scalars(select(Case).where(Case.id == world.case_id)).one()
