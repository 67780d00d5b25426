"""`huifang demo --serve`: after the campaign, one console user per role and the console on 127.0.0.1, so a
newcomer can click through real cases with real recordings within a minute of cloning."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import click
from sqlalchemy import select

from accounts.service import add_user
from huifang.app import App
from huifang.output import emit_table
from kit.actor import Role, operator_actor
from kit.clock import ShiftedClock

ROLE_ZH = {Role.BRANCH: "机构回访工单处理员", Role.SUPERVISOR: "总公司主管", Role.COMPLIANCE: "合规", Role.AGENT: "人工坐席",
           Role.QA: "质检", Role.ADMIN: "系统管理员"}


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: Role
    branches: tuple[str, ...]
    password: str


def demo_users(demo: App, now: datetime) -> list[DemoUser]:
    """One user per role with a password made for this run (the demo's database is new on every run). The
    branch handler gets the branch with the most open cases raised by the robot's calls, so their queue has
    work in it with calls to listen to."""
    from storage.models import Branch, Case

    with demo.unit_of_work() as session:
        # the robot's cases first: they have calls and recordings to listen to
        open_by_branch = Counter(str(code) for code in session.scalars(
            select(Branch.code).join(Case, Case.branch_id == Branch.id)
            .where(Case.status == "open", Case.call_id.is_not(None))))
        every = [str(code) for code in session.scalars(select(Branch.code).order_by(Branch.code))]
        busiest = open_by_branch.most_common(1)[0][0] if open_by_branch else every[0]
        users = [DemoUser("branch", Role.BRANCH, (busiest,), secrets.token_urlsafe(9)),
                 *(DemoUser(role.value, role, tuple(every) if role is Role.AGENT else (), secrets.token_urlsafe(9))
                   for role in (Role.SUPERVISOR, Role.COMPLIANCE, Role.AGENT, Role.QA, Role.ADMIN))]
        root = operator_actor("demo")
        for user in users:
            add_user(session, root, user.name, user.password, [user.role.value], list(user.branches), now=now,
                     settings=demo.settings.console,
                     agent_line=demo.settings.ivr.agent_target or None if user.role is Role.AGENT else None)
        session.commit()
    return users


def serve_demo(demo: App, ended_at: datetime, port: int) -> None:
    """Serve the webhooks and the console over the demo's database on 127.0.0.1, its clock running on from the
    campaign's end. The secret key is made for this run: sessions end with the process."""
    from werkzeug.serving import make_server

    from huifang.simulate_cmd import simulated
    from huifang.web import build_services, compose

    served = App(settings=simulated(demo).settings, clock=ShiftedClock(ended_at))
    users = demo_users(served, ended_at)
    click.echo("\nconsole users (passwords made for this run):")
    emit_table(["user", "role", "branches", "password"],
               [(u.name, f"{u.role.value} {ROLE_ZH[u.role]}",
                 " ".join(u.branches) if u.role is Role.BRANCH else "all", u.password) for u in users])
    web = compose(served, build_services(served), secrets.token_urlsafe(32))
    server = make_server("127.0.0.1", port, web, threaded=True)
    click.echo(f"\nconsole: http://127.0.0.1:{server.port}/console/login  (Ctrl-C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("huifang: the demo's console stopped", err=True)
