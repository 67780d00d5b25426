"""`huifang dialer pause | resume | status`: the supervisors' controls over calling from the command line, the same
service as the console's dialer page (dialer.controls, dialer.status). The operator (HUIFANG_OPERATOR, else
the login name) is who paused or resumed, in the pause's history and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from dialer import controls
from dialer.controls import ControlError, PauseView
from dialer.status import status as dialer_status
from huifang.app import App
from huifang.output import emit_json, emit_table
from kit.actor import NotAllowed
from kit.clock import business_today, isoformat_local
from kit.vocab import ProductType

PRODUCT_TYPES = [p.value for p in ProductType]


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except (ControlError, NotAllowed) as exc:
        raise click.ClickException(str(exc)) from None


def _scope_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--json", "as_json", is_flag=True)(func)
    func = click.option("--reason", required=True, help="Why (written to the pause's history and the audit trail).")(func)
    func = click.option("--product-type", default=None, type=click.Choice(PRODUCT_TYPES),
                        help="Only this product type (险种); with --branch: that branch's.")(func)
    return click.option("--branch", default=None, help="Only this branch (机构代码); without: every branch.")(func)


def _print_pauses(pauses: list[PauseView], as_json: bool) -> None:
    if as_json:
        emit_json({"paused": [p.as_json() for p in pauses]})
        return
    if not pauses:
        click.echo("calling is not paused")
        return
    emit_table(["branch", "product type", "since", "by", "reason"],
               [[p.branch or "all", p.product_type.value if p.product_type else "all", isoformat_local(p.since), p.by,
                 p.reason] for p in pauses])


@click.command("pause")
@_scope_options
@click.pass_obj
def pause_command(app: App, branch: str | None, product_type: str | None, reason: str, as_json: bool) -> None:
    """Stop calling for all, a branch, a product type or a branch's product type, from the dialers' next tick.
    Calls under way go on to their end; the tasks wait (their retry times and deadlines do not move).
    Prints the pauses in force."""
    with app.unit_of_work() as session, _refusals():
        done = controls.pause(session, app.actor, branch=branch, product_type=product_type, reason=reason,
                              now=app.clock.now())
        in_force = controls.pauses_in_force(session)
        session.commit()
    if not as_json:
        click.echo(f"paused {done.scope.describe()}")
    _print_pauses(in_force, as_json)


@click.command("resume")
@_scope_options
@click.pass_obj
def resume_command(app: App, branch: str | None, product_type: str | None, reason: str, as_json: bool) -> None:
    """Restart calling for exactly that scope (its pause is kept as history). Exit 1 when it is not paused.
    Prints the pauses still in force."""
    with app.unit_of_work() as session, _refusals():
        done = controls.resume(session, app.actor, branch=branch, product_type=product_type, reason=reason,
                               now=app.clock.now())
        in_force = controls.pauses_in_force(session)
        session.commit()
    if not as_json:
        click.echo(f"resumed {done.scope.describe()}")
    _print_pauses(in_force, as_json)


@click.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status_command(app: App, as_json: bool) -> None:
    """The dialers seen in the last day (last tick, claims in flight, back-off, CPS; stale ones marked), the
    pauses in force, and the due backlog."""
    with app.unit_of_work() as session, _refusals():
        view = dialer_status(session, app.actor, now=app.clock.now(), today=business_today(app.clock),
                             stale_after_ticks=app.settings.dialer.stale_after_ticks)
    if as_json:
        emit_json(view.as_json())
        return
    if view.dialers:
        emit_table(["dialer", "last tick", "in flight", "back-off until", "cps", "state"],
                   [[d.name, isoformat_local(d.last_tick), d.in_flight,
                     isoformat_local(d.backoff_until) if d.backoff_until else "", f"{d.cps:g}/{d.cps_limit:g}",
                     "stale" if d.stale else ("one-off run" if d.ticks_every_s is None else "ticking")]
                    for d in view.dialers])
    else:
        click.echo("no dialer has ticked in the last day")
    click.echo("")
    _print_pauses(view.paused, False)
    click.echo(f"\ndue now: {view.due}" + (f" ({view.due_paused} held back by the pauses)" if view.paused else ""))
