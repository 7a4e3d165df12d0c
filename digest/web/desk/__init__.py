"""The edition desk: the editor's week in a browser, under /desk/.

    register(app, state)     # called by digest.web.create_app

Routes (views in the modules of this package):

    GET  /desk/sign-in            sign-in form (password, or "email me a link")   POST: sign in (rate-limited)
    POST /desk/sign-in/link       email a one-time sign-in link (same answer for any address)
    GET  /desk/link/TOKEN         a one-time link: set-password form or sign-in button   POST: use it (once)
    POST /desk/sign-out
    GET  /desk/?period=KEY        the week: candidates, summaries, why, actions; the edition; approve
    POST /desk/articles/ID/ACTION pin unpin exclude include up down summary topics
    GET  /desk/preview?...        a variant (topics x format, or a member) at 375 and 600 px, text part, checks
    GET  /desk/preview/frame?...  the email itself, for the sandboxed iframes
    POST /desk/preview/test       "send me a test"
    POST /desk/edition/build      "build this edition" (and /desk/edition/queue)
    GET  /desk/edition/progress   a queued edition's deliveries by state (the week page refreshes it)
    GET  /desk/audit              what editors did

Nothing here is reachable without a session: a GET goes to the sign-in page,
a POST gets 401. Every POST carries the session's CSRF token. The session is
Flask's signed cookie (path /desk, HttpOnly, SameSite=Lax, Secure over https),
expiring after [web] desk_session_hours; it carries a random session id whose
hash is a row of desk_sessions, so signing out, removing an editor or setting
a new password ends it on the server (a copied cookie stops working too).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import Flask, Response, g, redirect, render_template, request, session, url_for

from ...editorial.editors import EditorLinks, desk_option
from ..common import RateLimiter, WebState, state
from . import approve, auth, preview, week  # noqa: F401  (their routes join the blueprint)
from .core import DESK_CSP, PUBLIC, DeskSessionInterface, DeskState, bp, current_editor
from .pages import desk_error


def register(app: Flask, state: WebState) -> None:
    s = state.settings
    # A key of the desk's own, derived from the secret: the member links' signatures stay separate.
    app.secret_key = hmac.new(s.secret_key.encode(), b"digest.desk.session", hashlib.sha256).hexdigest()
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
        sent = request.form.get("csrf", "")
        if not (session.get("csrf") and sent and hmac.compare_digest(sent, session["csrf"])):
            return desk_error("form", 400)
        return None
    if g.editor is None and not public:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("desk.sign_in", next=target), 303)
    return None


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
