"""`huifang qa sample`: draw the month's quality sample (质检抽样); `report qa` is in huifang.report_cmd."""

from __future__ import annotations

import dataclasses
import logging

import click

from huifang.app import App
from huifang.output import emit_json, emit_table
from kit.actor import SYSTEM
from kit.clock import business_today
from qa.sampling import DrawSummary, SampleSettings, SamplingError, draw, previous_period, sampled

log = logging.getLogger(__name__)


@click.group("qa")
def qa_group() -> None:
    """Quality inspection (质检)."""


@qa_group.command("sample")
@click.option("--period", required=True, help="YYYY-MM: the month whose finished callbacks are sampled")
@click.option("--rate", type=float, default=None, help="share of each branch's callbacks (default: qa.call_rate)")
@click.option("--min", "minimum", type=int, default=None, help="at least this many per branch (default: qa.call_min)")
@click.option("--seed", default=None, help="the random seed (default: qa.seed, else the period)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def qa_sample(app: App, period: str, rate: float | None, minimum: int | None, seed: str | None,
              as_json: bool) -> None:
    """Draw a reproducible random sample per branch, stratified by result class and channel, of the period's
    finished callbacks, and of its closed problem cases; a call or case drawn before is never drawn again."""
    settings = SampleSettings.from_settings(app.settings.qa)
    if rate is not None:
        settings = dataclasses.replace(settings, call_rate=rate)
    if minimum is not None:
        settings = dataclasses.replace(settings, call_min=minimum)
    with app.unit_of_work() as session:
        try:
            summary = draw(session, app.actor, period, settings, seed=seed or app.settings.qa.seed or period,
                           now=app.clock.now())
        except SamplingError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    if as_json:
        emit_json(summary.to_json())
        return
    emit_table(["branch", "calls", "cases"], [(code, c["calls"], c["cases"])
                                              for code, c in sorted(summary.by_branch.items())])
    click.echo(f"{summary.period}: {summary.calls} calls, {summary.cases} cases drawn")


def sample_job(app: App) -> DrawSummary | None:
    """The dialer's monthly job: on qa.sample_day (or a later day of the month, if the dialer was not running),
    draw the previous month's sample unless it has been drawn."""
    qa = app.settings.qa
    today = business_today(app.clock)
    if today.day < qa.sample_day:
        return None
    period = previous_period(today)
    with app.unit_of_work() as session:
        if sampled(session, period):
            return None
        summary = draw(session, SYSTEM, period, SampleSettings.from_settings(qa), seed=qa.seed or period,
                       now=app.clock.now())
        session.commit()
    log.info("quality sample %s: %s calls, %s cases", period, summary.calls, summary.cases)
    return summary
