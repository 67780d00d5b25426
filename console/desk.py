"""A desk is one blueprint under /console (docs/console.md): its errors are pages in Chinese."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.response import Response as AnyResponse

ERROR_ZH = {400: "请求无效（页面可能已过期，请刷新后重试）", 403: "无权访问", 404: "未找到（不存在，或不在您的权限范围内）",
            405: "不支持此操作", 413: "文件过大"}


def desk(name: str, import_name: str) -> Blueprint:
    """The blueprint of one desk, mounted under /console, with the console's error pages."""
    blueprint = Blueprint(name, import_name, url_prefix="/console")
    blueprint.register_error_handler(HTTPException, error_page)
    blueprint.before_request(check_csrf)
    return blueprint


def check_csrf() -> None:
    """Every POST to a desk carries the CSRF token of the page it came from (a 400 page otherwise). Only the
    desks: on the same app Twilio's webhooks are checked by their signature and the agent's link by its
    token, and a CSRF check there would refuse every call (Twilio sends no such token)."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        current_app.extensions["csrf"].protect()


def error_page(exc: HTTPException) -> AnyResponse:
    """An error in Chinese; a complete answer given to abort() (a redirect, a 403 page) is sent as it is."""
    if exc.response is not None:
        return exc.response
    code = exc.code or 500
    return make_response(render_template("console/error.html", code=code,
                                         words=ERROR_ZH.get(code, "出错了，请稍后重试")), code)
