"""What the desk's views share: the blueprint, its state, the session's editor and CSRF token, the CSPs."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from ...db import editors as editor_db
from ...db.editors import Editor
from ...editorial.editors import EditorLinks
from ..common import RateLimiter, state

bp = Blueprint("desk", __name__, url_prefix="/desk")

# The desk's pages: our stylesheets and our one script (desk.js, optional), frames from ourselves (the preview).
DESK_CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The email in the preview frame: sandboxed (no scripts, no forms, a unique origin) even if opened on its own.
FRAME_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
             "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
# Reachable without a session (POSTs still need the CSRF token the page put in the session).
PUBLIC = {"desk.sign_in", "desk.sign_in_post", "desk.request_link", "desk.link", "desk.use_link", "desk.stylesheet",
          "desk.script"}


@dataclass
class DeskState:
    links: EditorLinks
    link_max_age: int  # seconds
    per_pair: RateLimiter  # password attempts on one address from one client
    per_client: RateLimiter  # every sign-in attempt of a client
    per_address: RateLimiter  # password attempts on one address from everywhere (a much wider net)
    links_per_address: RateLimiter  # "email me a link" per address: apart, so the link still works when locked


def desk() -> DeskState:
    return current_app.extensions["digest.desk"]


class DeskSessionInterface(SecureCookieSessionInterface):
    """Secure cookies when the request came over https (or the site's address is https)."""

    def __init__(self, always_secure: bool):
        self.always_secure = always_secure

    def get_cookie_secure(self, app: Flask) -> bool:
        return self.always_secure or request.is_secure


def csrf_token() -> str:
    """The session's CSRF token (made on first use; a sign-in makes a new one)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def session_hash(sid: str) -> str:
    """What the server keeps of a session id: a copied database holds no usable cookie."""
    return hashlib.sha256(sid.encode()).hexdigest()


def current_editor() -> Editor | None:
    """The signed-in editor, or None (no session, expired, signed out, removed, or a newer password since).

    The cookie carries a random session id; the session is live only while
    its hash is in desk_sessions (signing out deletes it). A session lasts
    desk_session_hours from signing in, however busy: the cookie's own expiry
    slides with each request, this limit does not.
    """
    sid, since = session.get("s"), session.get("t")
    if not isinstance(sid, str) or not isinstance(since, int):
        return None
    if time.time() - since > current_app.permanent_session_lifetime.total_seconds():
        session.clear()
        return None
    with state().db.connect() as conn:
        live = editor_db.session_editor(conn, session_hash(sid))
    if live is None:
        session.pop("s", None)
        return None
    return live[0]
