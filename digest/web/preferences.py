"""GET/POST /preferences/TOKEN: the member's topics, frequency, format, pause, name; resubscribe.

A change is stored at once and applies to the next send, including
deliveries already queued: the send worker reads the member's row again
and re-plans or skips (digest/sending/worker.py).
"""

from __future__ import annotations

from flask import Blueprint, request

from ..db import members as member_db
from ..errors import SubscriberError
from ..members import check_format, check_frequency, check_language, clean_name, parse_topics
from ..models import FORMATS, FREQUENCIES, Subscriber
from .common import (
    FORMAT_WORDS,
    FREQUENCY_WORDS,
    choices,
    csrf_ok,
    language_choices,
    csrf_value,
    describe_changes,
    error_page,
    load_member,
    masked,
    name_error,
    page,
    state,
    tokens_for,
    topic_choices,
    use_language,
    words,
)

bp = Blueprint("preferences", __name__)


def _form_state(sub: Subscriber) -> dict:
    """What the form shows: the member's stored choices ("all topics" shows every box ticked)."""
    slugs = state().settings.topic_slugs
    return {
        "name": sub.name or "",
        "topics": set(sub.topics) if sub.topics else set(slugs),
        "frequency": sub.frequency,
        "format": sub.format,
        "paused": sub.paused,
        "news_announcements": sub.news_announcements,
        "language": sub.language or state().settings.language,
    }


def _render_form(token: str, sub: Subscriber, form: dict, errors: dict[str, str] | None = None, status: int = 200):
    s = state().settings
    return page(
        "preferences.html",
        status,
        token=token,
        csrf=csrf_value(token),
        member=sub,
        address=masked(sub.email),
        form=form,
        errors=errors or {},
        topics=topic_choices(),
        frequencies=choices(FREQUENCY_WORDS, FREQUENCIES),
        formats=choices(FORMAT_WORDS, FORMATS),
        languages=language_choices(),
        links=tokens_for(sub),
    )


@bp.get("/preferences/<token>")
def show(token: str):
    with state().db.connect() as conn:
        sub = load_member(conn, "preferences", token)
    return _render_form(token, sub, _form_state(sub))


def _read_form(sub: Subscriber) -> tuple[dict, dict, dict[str, str]]:
    """(values for update_preferences, what the form showed back, errors by field)."""
    s = state().settings
    f = request.form
    errors: dict[str, str] = {}
    _ = words().gettext
    chosen = [t for t in f.getlist("topics") if t]
    shown = _form_state(sub)
    shown["topics"] = {t for t in chosen if t in s.topic_slugs}
    values: dict = {}
    if not chosen:
        errors["topics"] = _("Choose at least one topic. To stop all emails, pause them or unsubscribe below.")
    else:
        try:
            wanted = parse_topics(chosen, s.topic_slugs, email=sub.email)
        except SubscriberError:
            errors["topics"] = _("Choose from the topics listed.")
        else:
            every = set(s.topic_slugs)
            if (set(wanted) or every) != (set(sub.topics) or every):  # a change of what they get
                values["topics"] = wanted
    for key, check in (("frequency", check_frequency), ("format", check_format)):
        raw = f.get(key)
        if raw is None:
            continue
        try:
            values[key] = shown[key] = check(raw)
        except SubscriberError:
            errors[key] = (_("Choose one of the frequency options.") if key == "frequency"
                           else _("Choose one of the format options."))
    if "language" in f:
        try:
            values["language"] = shown["language"] = check_language(f.get("language", ""), s.languages)
        except SubscriberError:
            errors["language"] = _("Choose one of the languages listed.")
    for box in ("paused", "news_announcements"):  # a hidden "0" comes before each checkbox: unticked still says so
        if box in f:
            values[box] = shown[box] = "1" in f.getlist(box)
    if "name" in f:
        shown["name"] = f.get("name", "")
        try:
            values["name"] = clean_name(f.get("name", ""))
        except SubscriberError as exc:
            errors["name"] = name_error(exc.reason)
    return values, shown, errors


@bp.post("/preferences/<token>")
def save(token: str):
    st = state()
    with st.db.connect() as conn:
        sub = load_member(conn, "preferences", token)
    if not csrf_ok(token, request.form.get("csrf")):
        return error_page("form", 400, back=f"/preferences/{token}")
    action = request.form.get("action", "save")
    if action == "resubscribe":
        return _resubscribe(token)
    values, shown, errors = _read_form(sub)
    if errors:
        return _render_form(token, sub, shown, errors, 400)
    with st.db.begin() as conn:
        sub = load_member(conn, "preferences", token)  # again, inside the write transaction
        changes = member_db.update_preferences(conn, sub.id, source="web", now=st.now(), **values)
        sub = member_db.get_by_id(conn, sub.id)
    use_language(sub.language)  # a member who chose another language reads the answer in it
    return page("saved.html", token=token, member=sub, address=masked(sub.email),
                changes=describe_changes(changes), links=tokens_for(sub))


def _resubscribe(token: str):
    """The member comes back from their own link (it proves the address is theirs)."""
    st = state()
    with st.db.begin() as conn:
        sub = load_member(conn, "preferences", token)
        changes = {}
        if sub.status == "unsubscribed":
            changes = member_db.set_status(conn, sub.id, "active", source="web", now=st.now())
            sub = member_db.get_by_id(conn, sub.id)
    return page("saved.html", token=token, member=sub, address=masked(sub.email),
                changes=describe_changes(changes), links=tokens_for(sub), resubscribed=bool(changes))
