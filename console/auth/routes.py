"""Sign in and out (docs/console.md, "The pages' contract"): `GET/POST /console/login`, `POST /console/logout`."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from accounts.service import by_name, sign_in
from console.context import context, page_actor, unit_of_work
from console.dashboard.routes import dashboard_page
from console.desk import desk
from kit.actor import CASE_READERS, REPORT_READERS, Actor, Role

auth = desk("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名")])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码")])


@auth.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    form = LoginForm()
    refusal = ""
    if form.validate_on_submit():
        ctx = context()
        with unit_of_work() as db:
            result = sign_in(db, form.username.data or "", form.password.data or "", now=ctx.clock.now(),
                             settings=ctx.settings.console)
            user = by_name(db, form.username.data or "") if result.actor else None
            db.commit()  # a failure's count, lock and audit line are kept too
        if result.actor is not None and user is not None:
            session.clear()  # a new session id for the signed-in user (no fixation)
            session["user"], session["since"] = user.name, user.password_changed_at.isoformat()
            session["seen"] = ctx.clock.now().isoformat()
            session.permanent = True
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/console/") else url_for("auth.home"))
        refusal = result.refusal
    return render_template("console/login.html", form=form, refusal=refusal)


@auth.get("/", endpoint="home")
def home() -> Response | str:
    """Each role's first desk: the dashboard for supervisors (this page itself), the quality desk for reviewers,
    the case queue for those who read cases, the hand-off desk for agents, the accounts for administrators."""
    with unit_of_work() as db:
        actor = page_actor(db)
        if actor.has(REPORT_READERS):
            return dashboard_page(db, actor)
    return redirect(home_for(actor))


def home_for(actor: Actor) -> str:
    if actor.has(REPORT_READERS):
        return url_for("auth.home")
    if actor.has({Role.QA}):
        return url_for("qa.list_page")  # the month's sample to review
    if actor.has(CASE_READERS):
        return url_for("cases.queue_page")
    if actor.has({Role.AGENT}):
        return url_for("agent_desk.desk_page")
    return url_for("users.list_page")


@auth.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))
