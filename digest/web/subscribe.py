"""GET/POST /subscribe (double opt-in) and GET/POST /confirm/TOKEN.

Whatever the address, the answer is the same "check your inbox" page, so the
form cannot be used to find out who is a member; and it comes after the same
work (one row recorded in subscribe_requests), so its timing cannot either.
The app's mail worker (mailer.py) then decides, outside the request:

    new address            -> pending member, confirmation email
    pending                -> the confirmation email again (at most every resend_minutes)
    unsubscribed           -> an email with their preferences link, where they can come back
    active, bounced, complained, forgotten -> nothing is sent

Requests are rate-limited per client address (in memory, per process).
GET /confirm/TOKEN shows a button and changes nothing (mail scanners follow
links); POST confirms, and a second POST changes nothing (200 both times).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import TooManyRequests

from ..db import members as member_db
from ..db import requests as request_db
from ..errors import SubscriberError, TokenError
from ..members import check_format, check_frequency, check_language, clean_name, normalise_email, parse_topics
from ..message.outgoing import Outgoing
from ..models import FORMATS, FREQUENCIES
from ..sending.transports import Envelope
from .common import (FORMAT_WORDS, FREQUENCY_WORDS, choices, language_choices, load_member, masked, name_error,
                     page, state, tokens_for, topic_choices, use_language, words)

log = logging.getLogger("digest.web")
bp = Blueprint("subscribe", __name__)

REQUEST_ACTIONS = ("subscribe", "subscribe-request")  # events that mean "an email went out to confirm"


def _render_form(form: dict, errors: dict[str, str] | None = None, status: int = 200):
    s = state().settings
    return page(
        "subscribe.html",
        status,
        form=form,
        errors=errors or {},
        topics=topic_choices(),
        frequencies=choices(FREQUENCY_WORDS, FREQUENCIES),
        formats=choices(FORMAT_WORDS, FORMATS),
        languages=language_choices(),
    )


def _blank_form() -> dict:
    return {"email": "", "name": "", "topics": set(state().settings.topic_slugs), "frequency": "weekly",
            "format": "html", "language": words().tag}


@bp.get("/")
@bp.get("/subscribe")
def form():
    return _render_form(_blank_form())


@bp.post("/subscribe")
def subscribe():
    st = state()
    wait = st.limiter.hit(request.remote_addr or "unknown")
    if wait:
        raise TooManyRequests(retry_after=int(wait + 0.999))
    f = request.form
    slugs = st.settings.topic_slugs
    shown = {
        "email": f.get("email", "").strip()[:320],
        "name": f.get("name", "")[:200],
        "topics": {t for t in f.getlist("topics") if t in slugs},
        "frequency": f.get("frequency", "weekly"),
        "format": f.get("format", "html"),
        "language": f.get("language", ""),
    }
    errors: dict[str, str] = {}
    _ = words().gettext
    email = name = None
    try:
        email = normalise_email(shown["email"])
    except SubscriberError:
        errors["email"] = _("Enter an email address like name@example.org.")
    try:
        name = clean_name(shown["name"])
    except SubscriberError as exc:
        errors["name"] = name_error(exc.reason)
    topics = ()
    if not shown["topics"]:
        errors["topics"] = _("Choose at least one topic.")
    else:
        topics = parse_topics(shown["topics"], slugs)  # known slugs only (shown): every one ticked is all topics
    try:
        frequency = check_frequency(shown["frequency"])
    except SubscriberError:
        errors["frequency"] = _("Choose how often.")
    try:
        fmt = check_format(shown["format"])
    except SubscriberError:
        errors["format"] = _("Choose a format.")
    try:  # absent when only one language is configured: "" (the first)
        lang = check_language(shown["language"], st.settings.languages)
    except SubscriberError:
        errors["language"] = _("Choose one of the languages listed.")
    if errors:
        return _render_form(shown, errors, 400)
    # The same work whoever the address belongs to: record, wake the worker, answer.
    with st.db.begin() as conn:
        request_db.add(conn, email, name, topics, frequency, fmt, st.now(), lang)
    resp = page("check_inbox.html", email=email)
    # Wake the worker once the answer has gone out, so its work cannot slow this answer down.
    resp.call_on_close(st.mailer.notify)
    return resp


def handle_request(conn, req: request_db.SubscribeRequest):
    """The mail worker's decision for one recorded request (in its transaction): a sender, or None."""
    if req.kind == "link":
        outgoing = _decide_link(conn, req.email, req.requested_at)
    else:
        outgoing = _decide(conn, req.email, req.name, req.topics, req.frequency, req.format, req.requested_at,
                           req.language)
    if outgoing is None:
        return None
    return lambda: _send(req.email, *outgoing)


def _decide(conn, email: str, name, topics, frequency: str, fmt: str, now, language: str = ""):
    """Update the member for a request; returns (kind, name, url, language) of the email to send, or None."""
    st = state()
    existing = member_db.get_by_email(conn, email)
    if existing is None:
        if member_db.is_suppressed(conn, email):
            return None  # forgotten at their request: only an administrator may add them back
        sub = member_db.create_pending(conn, email, name, topics, frequency, fmt, "web", now, language)
        return "confirm", sub.name, st.links.confirm_url(sub.id, sub.token_version), sub.language
    if existing.status not in ("pending", "unsubscribed"):
        return None
    last = member_db.last_event_at(conn, existing.id, REQUEST_ACTIONS)
    if last is not None and now - last < timedelta(minutes=st.resend_minutes):
        return None  # one email per address per few minutes, however often the form is sent
    if existing.status == "pending":
        kind, url = "confirm", st.links.confirm_url(existing.id, existing.token_version)
    else:
        kind, url = "return", st.links.preferences_url(existing.id, existing.token_version)
    member_db.add_event(conn, existing.id, "web", "subscribe-request",
                       {"status": existing.status, "email": kind}, now)
    return kind, existing.name, url, existing.language


def _decide_link(conn, email: str, now):
    """"Email me my preferences link": the member's own links, at most once per resend_minutes.

    Strangers, forgotten addresses, bounced and complained members get nothing
    (mail to them failed or was unwanted); pending members get the confirmation again.
    """
    st = state()
    sub = member_db.get_by_email(conn, email)
    if sub is None or sub.status in ("bounced", "complained"):
        return None
    last = member_db.last_event_at(conn, sub.id, ("link-request", "subscribe-request"))  # emails we sent on request
    if last is not None and now - last < timedelta(minutes=st.resend_minutes):
        return None
    kind = "confirm" if sub.status == "pending" else "link"
    member_db.add_event(conn, sub.id, "web", "link-request", {"status": sub.status, "email": kind}, now)
    if kind == "confirm":
        return kind, sub.name, st.links.confirm_url(sub.id, sub.token_version), sub.language
    return kind, sub.name, st.links.preferences_url(sub.id, sub.token_version), sub.language


def request_link(email: str) -> None:
    """Record an "email me my preferences link" request: the same work for every address (the worker decides)."""
    st = state()
    with st.db.begin() as conn:
        request_db.add(conn, email, None, (), "weekly", "html", st.now(), kind="link")


@bp.get("/preferences-link")
def link_form():
    return page("preferences_link.html", email="", error=None)


@bp.post("/preferences-link")
def link_request():
    st = state()
    wait = st.limiter.hit(request.remote_addr or "unknown")
    if wait:
        raise TooManyRequests(retry_after=int(wait + 0.999))
    shown = request.form.get("email", "").strip()[:320]
    _ = words().gettext
    try:
        email = normalise_email(shown)
    except SubscriberError:
        return page("preferences_link.html", 400, email=shown, error=_("Enter an email address like name@example.org."))
    request_link(email)
    resp = page("link_sent.html", email=email)
    resp.call_on_close(st.mailer.notify)
    return resp


def _send(email: str, kind: str, name: str | None, url: str, lang: str = "") -> None:
    """Send the confirmation, come-back, link or welcome email, in the member's language; a failure is logged,
    never shown (same page for all)."""
    st = state()
    use_language(lang)
    s = st.settings
    context = {"kind": kind, "name": name, "url": url, "days": st.confirm_days, "org": st.org, "c": st.palette}
    _ = words().gettext
    subject = {"confirm": _("Confirm your subscription to %(organisation)s"),
               "link": _("Your link to your %(organisation)s digest preferences"),
               "welcome": _("Welcome to the %(organisation)s digest")}.get(
                   kind, _("Subscribe again to %(organisation)s")) % {"organisation": s.organisation}
    message = Outgoing(s).notice(email, subject, render_template("confirm_email.txt", **context),
                                 render_template("confirm_email.html", **context), kind="subscribe",
                                 date=st.now())
    transport = None
    try:
        transport = st.transport_factory()
        result = transport.send(Envelope(s.sender_address, (email,)), message)
    except Exception as exc:  # a broken transport must not turn into a different page
        log.warning("confirmation email not sent: %s: %s", type(exc).__name__, exc)
        return
    finally:
        if transport is not None:
            transport.close()
    if not result.ok:
        log.warning("confirmation email not sent: %s", result.message)


@bp.get("/confirm/<token>")
def confirm_page(token: str):
    """A button; nothing changes (a link scanner's GET must not subscribe anyone)."""
    st = state()
    with st.db.connect() as conn:
        sub = load_member(conn, "confirm", token, max_age=st.confirm_days * 86400)
    if sub.status == "active":
        return page("confirmed.html", member=sub, links=tokens_for(sub))
    if sub.status != "pending":
        raise TokenError("the member left after this link was sent")
    return page("confirm.html", token=token, address=masked(sub.email))


@bp.post("/confirm/<token>")
def confirm(token: str):
    st = state()
    confirmed = False
    with st.db.begin() as conn:
        sub = load_member(conn, "confirm", token, max_age=st.confirm_days * 86400)
        if sub.status == "pending":
            sub = member_db.confirm(conn, sub.id, source="web", now=st.now())
            confirmed = True
        elif sub.status != "active":
            raise TokenError("the member left after this link was sent")
    resp = page("confirmed.html", member=sub, links=tokens_for(sub))
    if confirmed and st.settings.member_welcome:
        app = current_app._get_current_object()

        def send_welcome():  # after the answer has gone: the page does not wait for the mail server
            with app.app_context():
                welcome(sub)
        resp.call_on_close(send_welcome)
    return resp


def welcome(sub) -> None:
    """[members] welcome = true: a welcome email with the member's preferences link (never for imports or syncs)."""
    st = state()
    if st.settings.member_welcome:
        _send(sub.email, "welcome", sub.name, st.links.preferences_url(sub.id, sub.token_version), sub.language)


def welcome_outside_a_request(app, sub) -> None:
    """The same welcome for `digest members add`, which has no request: the app lends its templates and links."""
    with app.app_context():
        welcome(sub)


def _each_pending(db, batch: int = 1_000):
    """Pending members in id order, a page at a time (each page read, then let go of the connection)."""
    after = 0
    while True:
        with db.connect() as conn:
            found = member_db.page(conn, status="pending", after_id=after, limit=batch)
        if not found:
            return
        yield from found
        after = found[-1].id


def ask_confirmations(app, *, source: str = "cli") -> tuple[int, int]:
    """Email every pending member who has not been asked in the last resend_minutes.

    For members added with `subscribers add/import --pending`: the same
    confirmation email the subscribe form sends. Returns (asked, skipped).
    """
    asked = skipped = 0
    with app.app_context():
        st = state()
        now = st.now()
        for sub in _each_pending(st.db):
            with st.db.begin() as conn:
                # When were they last emailed? A later request, or the form that created them.
                last = member_db.last_event_at(conn, sub.id, ("subscribe-request",))
                if sub.consent_source == "web" and (last is None or sub.created_at > last):
                    last = sub.created_at
                if last is not None and now - last < timedelta(minutes=st.resend_minutes):
                    skipped += 1
                    continue
                member_db.add_event(conn, sub.id, source, "subscribe-request",
                                   {"status": "pending", "email": "confirm"}, now)
            _send(sub.email, "confirm", sub.name, st.links.confirm_url(sub.id, sub.token_version), sub.language)
            asked += 1
    return asked, skipped
