"""The members' web app made: create_app wires the blueprints of this package, the desk, errors and headers."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from ..config import Settings, templates_dir
from ..config import web_option as _web_option
from ..db import Database
from ..errors import DatabaseBusyError, DatabaseError, TokenError
from ..sending.transports import make_transport
from . import clicks, desk, editions, hooks, preferences, subscribe, unsubscribe
from .common import PAGE_CSP, WebState, error_page, install_languages
from .mailer import Mailer

log = logging.getLogger("digest.web")

TEMPLATES_DIR = templates_dir() / "web"
MAX_BODY = 64 * 1024  # the largest form is a few hundred bytes
RETRY_AFTER_BUSY = 30  # seconds: a busy database is another digest's short write or a backup

def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def create_app(
    settings: Settings,
    db: Database,
    *,
    transport_factory: Callable[[], object] | None = None,
    clock: Callable[[], datetime] = utcnow,
    hooks_fetch: Callable[[str], bytes] | None = None,
) -> Flask:
    """The Flask app for these settings and this database.

    transport_factory: makes the Transport that carries confirmation emails
    (default: settings.transport via digest.sending.transports.make_transport).
    clock: aware UTC now, for events and rate limits.
    hooks_fetch: GETs an https URL for the providers' webhooks (the SNS signing
    certificate, its subscription confirmation); default: digest.outbound.
    Optional [web] settings: subscribe_limit (requests a client may make per
    subscribe_window seconds; 5 and 60), confirm_days (how long a
    confirmation link works; 7), resend_minutes (the shortest gap between two
    emails to one address from the subscribe form; 10).
    """
    if transport_factory is None:

        def transport_factory():
            return make_transport(settings.transport, settings)

    state = WebState(
        settings=settings,
        db=db,
        transport_factory=transport_factory,
        clock=clock,
        subscribe_limit=_web_option(settings, "subscribe_limit", 5, 1, 10_000),
        subscribe_window=_web_option(settings, "subscribe_window", 60, 1, 86_400),
        confirm_days=_web_option(settings, "confirm_days", 7, 1, 90),
        resend_minutes=_web_option(settings, "resend_minutes", 10, 0, 10_080),
    )
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, TEMPLATES_AUTO_RELOAD=False)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    install_languages(app)
    app.extensions["digest"] = state

    state.mailer = Mailer(app, subscribe.handle_request)

    for module in (preferences, unsubscribe, subscribe, editions, clicks):
        app.register_blueprint(module.bp)
    app.extensions["digest-bursts"] = clicks.BurstDetector()
    desk.register(app, state)  # the edition desk, /desk/ (editors only)
    hooks.register(app, state, hooks_fetch)  # /hooks/*: each on only with its [providers.NAME]

    app.context_processor(lambda: {"org": state.org})
    app.add_url_rule("/assets/site.css", "stylesheet", lambda: _stylesheet(state))
    _register_errors(app)
    app.after_request(_headers)
    return app


def _stylesheet(state: WebState) -> Response:
    css = render_template("site.css", c=state.palette, d=state.dark, error=state.error, error_dark=state.error_dark)
    resp = Response(css, mimetype="text/css")
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


def _register_errors(app: Flask) -> None:
    """Every error a member can meet is a page of ours, one log line at most, never a traceback."""

    @app.errorhandler(TokenError)
    def _bad_link(exc: TokenError):
        # The same page for a forged, expired, revoked or unknown member's link:
        # exc says which, and is deliberately not shown.
        return error_page("link", 400)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        kind = {404: "not-found", 405: "method", 413: "too-large", 429: "too-many"}.get(exc.code or 500, "bad-request")
        resp = error_page(kind, exc.code or 400)
        for name, value in exc.get_headers():  # Allow for 405, Retry-After for 429
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(DatabaseError)
    def _database(exc: DatabaseError):
        # One line, no traceback: busy is the expected case (503, come back); anything else is ours (500).
        busy = isinstance(exc, DatabaseBusyError)
        log.warning("%s %s: %s", request.method, request.path, exc)
        resp = error_page("busy" if busy else "server", 503 if busy else 500)
        if busy:
            resp.headers["Retry-After"] = str(RETRY_AFTER_BUSY)
        return resp

    @app.errorhandler(Exception)
    def _server_error(exc: Exception):
        log.exception("error on %s %s", request.method, request.path)
        return error_page("server", 500)


def _headers(resp: Response) -> Response:
    h = resp.headers
    h.setdefault("Content-Security-Policy", PAGE_CSP)
    h.setdefault("X-Frame-Options", "DENY")  # the desk's preview frame says SAMEORIGIN
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h.setdefault("Cache-Control", "no-store")
    return resp
