"""The desk wired into the app: its session key and cookie, the guard before every request, headers, assets."""

from __future__ import annotations

import hmac
from datetime import timedelta

from flask import Flask, Response, g, redirect, render_template, request, session, url_for

from ...editorial.editors import EditorLinks, desk_option
from ...signing import Signing
from ..common import RateLimiter, WebState, state
from . import announcements, announcing, approve, auth, members, preview, schedule, week  # noqa: F401  (their routes join the blueprint)
from .core import DESK_CSP, PUBLIC, DeskSessionInterface, DeskState, bp, current_editor
from .pages import desk_error


def register(app: Flask, state: WebState) -> None:
    s = state.settings
    # A key of the desk's own, derived from the secret: the member links' signatures stay separate.
    app.secret_key = Signing(s.secret_key).key("desk-session").hex()
    app.config.update(
        SESSION_COOKIE_NAME="digest_desk",
        SESSION_COOKIE_PATH="/desk",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=desk_option(s, "desk_session_hours")),
    )
    app.session_interface = DeskSessionInterface(s.base_url.startswith("https://"))
    limit, window = desk_option(s, "desk_signin_limit"), desk_option(s, "desk_signin_window")
    app.extensions["digest.desk"] = DeskState(
        links=EditorLinks(s.secret_key, s.base_url),
        link_max_age=desk_option(s, "desk_link_minutes") * 60,
        per_pair=RateLimiter(limit, window),
        per_client=RateLimiter(limit * 4, window),
        per_address=RateLimiter(limit * 10, window),
        links_per_address=RateLimiter(limit, window),
    )
    app.register_blueprint(bp)


@bp.before_request
def _guard():
    """No session: GET -> the sign-in page, POST -> 401. Every POST: the session's CSRF token."""
    g.editor = current_editor()
    public = request.endpoint in PUBLIC
    if request.method == "POST":
        if g.editor is None and not public:
            return desk_error("session", 401)
        if members.staff_guard(g.editor, public) is not None:  # membership staff: the members pages only
            return desk_error("forbidden", 403)
        sent = request.form.get("csrf", "")
        if not (session.get("csrf") and sent and hmac.compare_digest(sent, session["csrf"])):
            return desk_error("form", 400)
        return None
    if g.editor is None and not public:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("desk.sign_in", next=target), 303)
    return members.staff_guard(g.editor, public)


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", DESK_CSP)
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    return resp


@bp.get("/assets/desk.js")
def script():
    resp = Response(render_template("desk/desk.js"), mimetype="text/javascript")
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


@bp.get("/assets/desk.css")
def stylesheet():
    resp = Response(render_template("desk/desk.css", c=state().palette), mimetype="text/css")
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp
