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
    GET  /desk/audit              what editors did

Nothing here is reachable without a session: a GET goes to the sign-in page,
a POST gets 401. Every POST carries the session's CSRF token. The session is
Flask's signed cookie (path /desk, HttpOnly, SameSite=Lax, Secure over https),
expiring after [web] desk_session_hours; it names the editor and their
session_version, so removing an editor or setting a new password ends it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, Flask, Response, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from ...editors import EditorLinks, desk_option
from ..common import RateLimiter, WebState

bp = Blueprint("desk", __name__, url_prefix="/desk")

# The desk's pages: our stylesheets, frames from ourselves (the preview), no scripts.
DESK_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
# The email in the preview frame: sandboxed (no scripts, no forms, a unique origin) even if opened on its own.
FRAME_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
             "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
PUBLIC = {"desk.sign_in", "desk.sign_in_post", "desk.request_link", "desk.link", "desk.use_link", "desk.stylesheet"}


@dataclass
class DeskState:
    links: EditorLinks
    link_max_age: int  # seconds
    per_address: RateLimiter
    per_client: RateLimiter


def desk() -> DeskState:
    from flask import current_app

    return current_app.extensions["digest.desk"]


class _DeskSessionInterface(SecureCookieSessionInterface):
    """Secure cookies when the request came over https (or the site's address is https)."""

    def __init__(self, always_secure: bool):
        self.always_secure = always_secure

    def get_cookie_secure(self, app: Flask) -> bool:
        return self.always_secure or request.is_secure


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
    app.session_interface = _DeskSessionInterface(s.base_url.startswith("https://"))
    limit, window = desk_option(s, "desk_signin_limit"), desk_option(s, "desk_signin_window")
    app.extensions["digest.desk"] = DeskState(
        links=EditorLinks(s.secret_key, s.base_url),
        link_max_age=desk_option(s, "desk_link_minutes") * 60,
        per_address=RateLimiter(limit, window),
        per_client=RateLimiter(limit * 4, window),
    )
    from . import approve, auth, preview, week  # noqa: F401  (their routes join bp)

    app.register_blueprint(bp)


# ---------------------------------------------------------------- the guard


def csrf_token() -> str:
    """The session's CSRF token (made on first use; a sign-in makes a new one)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


@bp.before_request
def _guard():
    from .auth import current_editor

    g.editor = current_editor()
    public = request.endpoint in PUBLIC
    if request.method == "POST":
        if g.editor is None and not public:
            return _refuse(401)
        sent = request.form.get("csrf", "")
        if not (session.get("csrf") and sent and hmac.compare_digest(sent, session["csrf"])):
            return _refuse(400, "form")
        return None
    if g.editor is None and not public:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("desk.sign_in", next=target), 303)
    return None


def _refuse(status: int, kind: str = "session") -> Response:
    from .pages import desk_error

    return desk_error(kind, status)


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", DESK_CSP)
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    return resp


@bp.get("/assets/desk.css")
def stylesheet():
    from flask import render_template

    from ..common import state

    resp = Response(render_template("desk/desk.css", c=state().palette), mimetype="text/css")
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp
