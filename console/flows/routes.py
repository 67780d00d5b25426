"""The flow studio (supervisors and administrators): `GET /console/flows` (every flow of the configured flows
directory with its version and content hash, and `huifang flows check`'s errors with file and line),
`GET /console/flows/<flow_id>` (the flow's diagram, SVG drawn on the server, and every prompt with its audio),
`GET /console/flows/<flow_id>/audio/<key>` (a prompt's WAV from the prompt cache: only the flow's sample prompts
or the running simulation's), and the simulator `GET|POST /console/flows/<flow_id>/simulate` and
`POST /console/flows/<flow_id>/simulate/answer` (console.flows.simulator: nothing is written to the database)."""

from __future__ import annotations

from collections.abc import Collection

from flask import (
    abort,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.context import context, page_actor, unit_of_work
from console.desk import desk
from console.flows import diagram
from console.flows.queries import (
    FREQUENCY_CHOICES,
    KIND_ZH,
    STUDIO,
    audio_texts,
    find_text,
    flows_dir,
    library,
    prompt_lines,
    rows,
    sample,
    simulation_texts,
)
from console.flows.samples import CHANNELS, VARIANTS, SampleChoice, SampleNotFound, sample_facts
from console.flows.simulator import HANDOFF, SESSION_KEY, VOICE, BadInput, Simulation, Stored, parse, replay
from console.labels import CASE_TYPE_ZH, CHANNEL_ZH, END_REASON_ZH, REASON_ZH, RESULT_ZH, TOPIC_ZH
from flows.engine import FlowEngine
from flows.facts import condition_values
from flows.library import FlowLibrary
from flows.model import Flow, applies
from kit.actor import Actor
from kit.clock import business_today

flows_desk = desk("flows", __name__)
LABELS = {"result_zh": RESULT_ZH, "reason_zh": REASON_ZH, "case_type_zh": CASE_TYPE_ZH, "end_zh": END_REASON_ZH,
          "topic_zh": TOPIC_ZH, "kind_zh": KIND_ZH, "voice": VOICE, "handoff": HANDOFF}


@flows_desk.get("/flows", endpoint="list_page")
def list_view() -> str:
    ctx = context()
    with unit_of_work() as db:
        actor = page_actor(db, STUDIO)
    lib = library(ctx.settings)
    running = ctx.calls.library if ctx.calls is not None else None
    return render_template("console/flows/list.html", actor=actor, rows=rows(lib, running), errors=lib.errors,
                           path=flows_dir(ctx.settings))


def _studio(db: Session, flow_id: str) -> tuple[Actor, FlowLibrary, Flow]:
    """Who may use the studio (else 403), the configured flows read as `flows check` reads them, and the flow."""
    actor = page_actor(db, STUDIO)
    lib = library(context().settings)
    return actor, lib, _flow(lib, flow_id)


def _flow(lib: FlowLibrary, flow_id: str) -> Flow:
    flow = lib.flows.get(flow_id)
    if flow is None:
        abort(404)
    return flow


@flows_desk.get("/flows/<flow_id>", endpoint="flow_page")
def flow_view(flow_id: str) -> str:
    ctx = context()
    with unit_of_work() as db:
        actor = page_actor(db, STUDIO)
    lib = library(ctx.settings)
    flow = _flow(lib, flow_id)
    facts = sample(flow, ctx.settings, business_today(ctx.clock))
    lines = prompt_lines(flow, lib, facts, ctx.settings.questionnaire.hotline)
    svg = Markup(diagram.render(flow, lib.messages[flow.language]))  # noqa: S704 - every text in it is escaped
    return render_template("console/flows/flow.html", actor=actor, flow=flow, svg=svg, lines=lines, facts=facts,
                           audio=_audio_urls(flow, [line.spoken for line in lines]), **LABELS)


def _audio_urls(flow: Flow, texts: list[str]) -> dict[str, str]:
    """Each text's audio URL (by the cache key of the text: no rendering here, only hashing)."""
    cache = context().prompts
    if cache is None:
        return {}
    return {text: url_for("flows.audio", flow_id=flow.id, key=cache.key(text, flow.language)) for text in texts}


@flows_desk.get("/flows/<flow_id>/audio/<key>", endpoint="audio")
def audio_view(flow_id: str, key: str) -> Response:
    """A prompt's WAV (rendered into the cache on first play): the flow's sample prompts, or the prompts of the
    simulation this session is running of the flow. Any other key is not found."""
    ctx = context()
    cache = ctx.prompts
    with unit_of_work() as db:
        actor, lib, flow = _studio(db, flow_id)
        if cache is None:
            abort(404)
        today = business_today(ctx.clock)
        texts = audio_texts(flow, lib, sample(flow, ctx.settings, today))
        private = False
        text = find_text(cache, key, texts, flow.language)
        stored = _stored(flow)
        if text is None and stored is not None:
            engine = _engine(db, actor, lib, flow, stored.sample)
            text = find_text(cache, key, simulation_texts(engine), flow.language)
            private = bool(stored.sample.policy_no)
    if text is None:
        abort(404)
    reply = send_file(cache.get(text, flow.language).path, mimetype="audio/wav", conditional=True, max_age=0)
    reply.headers["Cache-Control"] = "private, no-store" if private else "private, max-age=3600"
    return reply


# -- the simulator ------------------------------------------------------------------------------------------


def _stored(flow: Flow) -> Stored | None:
    data = session.get(SESSION_KEY)
    stored = Stored.from_dict(data) if isinstance(data, dict) else None
    if stored is None or stored.flow_id != flow.id:
        return None
    return stored


def _engine(db: Session, actor: Actor, lib: FlowLibrary, flow: Flow, choice: SampleChoice) -> FlowEngine:
    ctx = context()
    facts = sample_facts(db, actor, flow, choice, business_today(ctx.clock), ctx.settings.questionnaire)
    limits = ctx.calls.limits if ctx.calls is not None else None
    return FlowEngine(flow, facts, lib.messages[flow.language], limits)


def _choice(form: dict[str, str]) -> SampleChoice:
    """The simulator's form; a value it does not offer falls back to the default."""
    def pick(name: str, allowed: Collection[str], default: str) -> str:
        value = form.get(name, "")
        return value if value in allowed else default

    age = form.get("age", "45")
    return SampleChoice(
        variant=pick("variant", VARIANTS, "A"), channel=pick("channel", CHANNELS, "agency"),
        age=min(100, max(18, int(age))) if age.isdigit() else 45,
        payment_frequency=pick("payment_frequency", FREQUENCY_CHOICES, "annual"),
        insured_is_applicant=form.get("insured_is_applicant", "yes") == "yes",
        dual_recorded=form.get("dual_recorded") == "yes", policy_no=form.get("policy_no", "").strip())


@flows_desk.get("/flows/<flow_id>/simulate", endpoint="simulate_page")
def simulate_view(flow_id: str) -> str:
    with unit_of_work() as db:
        actor, lib, flow = _studio(db, flow_id)
        stored = _stored(flow)
        sim: Simulation | None = None
        if stored is not None and stored.flow_hash != flow.content_hash:
            flash("流程文件已修改，请重新开始模拟", "error")
            session.pop(SESSION_KEY, None)
            stored = None
        if stored is not None:
            try:
                sim = replay(_engine(db, actor, lib, flow, stored.sample), stored.inputs, confirming=stored.confirming)
            except (SampleNotFound, BadInput):
                session.pop(SESSION_KEY, None)
                stored = None
    choice = stored.sample if stored is not None else SampleChoice()
    audio = _audio_urls(flow, [p.text for e in sim.exchanges for p in e.turn.prompts]) if sim else {}
    fits = applies(flow.applies_to, condition_values(sim.engine.facts)) if sim else True
    return render_template("console/flows/simulate.html", actor=actor, flow=flow, sim=sim, choice=choice,
                           confirming=stored.confirming if stored else False, audio=audio, fits=fits,
                           variants=VARIANTS, channels={c: CHANNEL_ZH[c] for c in CHANNELS},
                           frequencies=FREQUENCY_CHOICES, messages=get_flashed_messages(with_categories=True),
                           **LABELS)


@flows_desk.post("/flows/<flow_id>/simulate", endpoint="simulate_start")
def simulate_start(flow_id: str) -> Response | tuple[str, int]:
    """Start (or restart) a simulated call of the flow with the form's sample policy and variant."""
    form = {k: v for k, v in request.form.items()}
    with unit_of_work() as db:
        actor, lib, flow = _studio(db, flow_id)
        choice = _choice(form)
        try:
            _engine(db, actor, lib, flow, choice)
        except SampleNotFound:
            abort(404)  # not a policy the user may see: the same answer as one that does not exist
    session[SESSION_KEY] = Stored(flow.id, flow.content_hash, choice, form.get("confirming") == "yes", []).to_dict()
    return redirect(url_for("flows.simulate_page", flow_id=flow.id) + "#call")


@flows_desk.post("/flows/<flow_id>/simulate/answer", endpoint="simulate_answer")
def simulate_answer(flow_id: str) -> Response:
    """The caller's next input (a button or keys), or `input=undo` to take back the last one."""
    with unit_of_work() as db:
        actor, lib, flow = _studio(db, flow_id)
        stored = _stored(flow)
        if stored is None or stored.flow_hash != flow.content_hash:
            flash("没有进行中的模拟通话，请先开始", "error")
            return redirect(url_for("flows.simulate_page", flow_id=flow.id))
        if request.form.get("input") == "undo":
            inputs = stored.inputs[:-1]
        else:
            try:
                inputs = [*stored.inputs, parse(request.form)]
                replay(_engine(db, actor, lib, flow, stored.sample), inputs, confirming=stored.confirming)
            except BadInput as exc:
                flash(str(exc), "error")
                inputs = stored.inputs
            except SampleNotFound:
                abort(404)
    session[SESSION_KEY] = Stored(flow.id, stored.flow_hash, stored.sample, stored.confirming, inputs).to_dict()
    return redirect(url_for("flows.simulate_page", flow_id=flow.id) + "#call")
