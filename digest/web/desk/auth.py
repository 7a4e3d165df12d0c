"""Signing in and out: passwords, one-time links, the session."""

from __future__ import annotations

import logging
import secrets
import time

from flask import current_app, g, redirect, request, session, url_for
from werkzeug.exceptions import TooManyRequests

from ...db import editors as editor_db
from ...editorial.editors import (PASSWORD_MAX, PASSWORD_MIN, check_new_password, hash_password, issue_link,
                                  password_ok)
from ...errors import EditorError, TokenError
from ..common import state, words
from .core import bp, desk, session_hash
from .pages import desk_error, desk_page, note

log = logging.getLogger("digest.web.desk")


def start_session(editor, how: str) -> None:
    """A new session for the editor (a fresh cookie and CSRF token: no fixation)."""
    session.clear()
    session.permanent = True  # expires after desk_session_hours
    sid = secrets.token_urlsafe(32)
    session["s"], session["t"] = sid, int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)
    st = state()
    with st.db.begin() as conn:
        editor_db.open_session(conn, editor.id, session_hash(sid), now=st.now(),
                               older_than=st.now() - current_app.permanent_session_lifetime)
        editor_db.signed_in(conn, editor.id, now=st.now())
        editor_db.audit(conn, editor, "sign-in", editor.email, {"with": how}, now=st.now())
    g.editor = editor


def safe_next(target: str | None) -> str:
    """Only somewhere on the desk (no open redirect), and nothing a header cannot carry (CR, LF, controls)."""
    if (target and target.startswith("/desk/") and "\\" not in target and target.isprintable()
            and target.isascii() and len(target) <= 2000):
        return target
    return url_for("desk.week")


def address_key(address: str) -> str:
    """One spelling per address for the throttle: `Ed@Example.org ` and `ed@example.org` are one."""
    return address.strip().lower()


def _throttle(address: str, *, link: bool) -> None:
    """Password attempts count per (address, client) and, more loosely, per address and per client, so a
    stranger's guesses do not lock the editor out; link requests count on their own per address."""
    d, client, key = desk(), request.remote_addr or "unknown", address_key(address)
    if link:
        waits = (d.per_client.hit(client), d.links_per_address.hit(key))
    else:
        waits = (d.per_client.hit(client), d.per_pair.hit(f"{client}\0{key}"), d.per_address.hit(key))
    if max(waits):
        raise TooManyRequests(retry_after=int(max(waits) + 0.999))


@bp.get("/sign-in")
def sign_in():
    if g.editor is not None:
        return redirect(safe_next(request.args.get("next")), 303)
    return desk_page("desk/sign_in.html", next=request.args.get("next", ""), form={}, errors={})


def _throttled(address: str, *, link: bool = False):
    """The 429 page with Retry-After when this address or client has tried too often, else None."""
    try:
        _throttle(address, link=link)
    except TooManyRequests as exc:
        resp = desk_error("too-many", 429)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    return None


@bp.post("/sign-in")
def sign_in_post():
    email = request.form.get("email", "").strip()[:320]
    password = request.form.get("password", "")[:500]
    nxt = request.form.get("next", "")
    if (refused := _throttled(email)) is not None:
        return refused
    st = state()
    with st.db.connect() as conn:
        editor = editor_db.get_by_email(conn, email) if email else None
        stored = editor_db.password_hash(conn, editor.id) if editor else None
    right = password_ok(stored, password)  # hashes even for an unknown address: no timing hint who is an editor
    if editor is None or not right:
        with st.db.begin() as conn:
            editor_db.audit(conn, editor or "unknown", "sign-in-failed", email[:100], {}, now=st.now())
        return desk_page("desk/sign_in.html", 400, next=nxt, form={"email": email},
                         errors={"email": words().gettext("The email address or the password is not right.")})
    start_session(editor, "password")
    return redirect(safe_next(nxt), 303)


@bp.post("/sign-in/link")
def request_link():
    """Email a one-time sign-in link; the same page whatever the address (no way to find editors)."""
    email = request.form.get("email", "").strip()[:320]
    if (refused := _throttled(email, link=True)) is not None:
        return refused
    st = state()
    with st.db.connect() as conn:
        editor = editor_db.get_by_email(conn, email) if email else None
    if editor is not None:
        try:
            _, outcome = issue_link(st.db, st.settings, editor.id, "sign-in", st.transport_factory(), now=st.now())
        except Exception as exc:  # a broken transport must not show a different page
            outcome = exc
        if not getattr(outcome, "ok", False):
            log.warning("desk sign-in link not sent to an editor: %s", outcome)
    return desk_page("desk/check_inbox.html", email=email)


def _read_link(token: str):
    """(editor, purpose, nonce hash) of a live link, or a TokenError."""
    d = desk()
    editor_id, purpose, hashed = d.links.read(token, max_age=d.link_max_age)
    with state().db.connect() as conn:
        editor = editor_db.get(conn, editor_id)
        if editor is None or not editor_db.link_is_live(conn, editor_id, purpose, hashed):
            raise TokenError("used, replaced, or the editor was removed")
    return editor, purpose, hashed


@bp.get("/link/<token>")
def link(token: str):
    """Opening the link changes nothing (mail scanners open links): the page has a button."""
    try:
        editor, purpose, _ = _read_link(token)
    except TokenError:
        return desk_error("link", 400)
    resp = desk_page("desk/link.html", token=token, who=editor, purpose=purpose, errors={})
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.post("/link/<token>")
def use_link(token: str):
    st = state()
    try:
        editor, purpose, hashed = _read_link(token)
    except TokenError:
        return desk_error("link", 400)
    hashed_password = None
    if purpose == "set-password":
        password, again = request.form.get("password", ""), request.form.get("again", "")
        try:
            check_new_password(password, editor.email)
            if password != again:
                raise EditorError(editor.email, "the two passwords are not the same")
        except EditorError as exc:
            return desk_page("desk/link.html", 400, token=token, who=editor, purpose=purpose,
                             errors={"password": password_problem(exc.reason)})
        hashed_password = hash_password(password)
    with st.db.begin() as conn:
        used = editor_db.use_link(conn, editor.id, purpose, hashed)  # once: the hash is cleared
        if used is None:
            return desk_error("link", 400)
        if hashed_password is not None:
            editor_db.set_password(conn, editor.id, hashed_password)
            editor_db.audit(conn, editor, "password-set", editor.email, {}, now=st.now())
        editor = editor_db.get(conn, editor.id)
    start_session(editor, "link")
    if hashed_password is not None:
        note(words().gettext("Your password is set. You are signed in."))
    return redirect(url_for("desk.week"), 303)


def password_problem(reason: str) -> str:
    """The form's words for a password check_new_password (or the repeat) refused: its reason is for the CLI."""
    _ = words().gettext
    if reason.startswith("a password needs at least"):
        return _("A password needs at least %(num)d characters.") % {"num": PASSWORD_MIN}
    if reason.startswith("a password can have at most"):
        return _("A password can have at most %(num)d characters.") % {"num": PASSWORD_MAX}
    if "email address" in reason:
        return _("The password cannot be the email address.")
    if "not the same" in reason:
        return _("The two passwords are not the same.")
    return reason[0].upper() + reason[1:] + "."


@bp.post("/sign-out")
def sign_out():
    st = state()
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "sign-out", g.editor.email, {}, now=st.now())
        editor_db.end_session(conn, session_hash(session["s"]))  # a copy of the cookie stops working too
    session.clear()
    return redirect(url_for("desk.sign_in", out=1), 303)
