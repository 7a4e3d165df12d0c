"""Rendering the desk's pages: the shared context, error pages, flash messages."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import g, make_response, render_template, session

from ...i18n import N_
from ..common import state, words
from .core import bp, csrf_token

ERRORS = {
    "session": (N_("Sign in to use the desk"),
                N_("Your session has ended or you are not signed in. Nothing was changed.")),
    "form": (N_("This form has expired"), N_("Nothing was changed. Open the page again and repeat what you did.")),
    "link": (N_("This link does not work"),
             N_("It has been used already, has expired, or a newer link replaced it. Ask for a new one below.")),
    "too-many": (N_("Too many attempts"), N_("Wait a few minutes before trying again.")),
    "not-found": (N_("Not found"), N_("There is nothing here. It may have been removed.")),
    "forbidden": (N_("Not for your role"), N_("Membership staff use the members pages only. Nothing was changed.")),
}
# A delivery's state as the progress table names it (the state itself is the database's word).
DELIVERY_WORDS = {"queued": N_("Queued"), "sending": N_("Sending"), "sent": N_("Sent"), "failed": N_("Failed"),
                  "skipped": N_("Skipped")}
# The values members' records and deliveries store, as the desk shows them: English keeps the value itself (the
# CLI's --status, --frequency and --format take it), other languages a word. TRANSLATORS: lower case, one word.
CODE_WORDS = (N_("pending"), N_("active"), N_("unsubscribed"), N_("bounced"), N_("complained"), N_("lapsed"),
              N_("daily"), N_("weekly"), N_("monthly"), N_("html"), N_("text"),
              N_("queued"), N_("sending"), N_("sent"), N_("failed"), N_("skipped"))
# strftime's fields as CLDR pattern fields: month names come from the desk's language.
_CLDR = {"%-d": "d", "%d": "dd", "%b": "MMM", "%B": "MMMM", "%Y": "y", "%m": "MM", "%H": "HH", "%M": "mm",
         "%S": "ss"}


def local(moment, fmt: str = "%-d %b %Y %H:%M") -> str:
    """A stored (UTC) time in the editions' time zone, for people, with month names in the desk's language
    (English as strftime writes it: CLDR's "en", whose September is "Sep" as strftime's)."""
    if not moment:
        return ""
    when = moment.astimezone(ZoneInfo(state().settings.timezone))
    lang = words()
    if lang.locale.language == "en":
        return when.strftime(fmt)
    pattern = re.sub(r"%-?\w", lambda m: _CLDR.get(m.group(0), m.group(0)), fmt.replace("'", "''"))
    return format_datetime(when, pattern, tzinfo=when.tzinfo, locale=lang.locale)


@bp.context_processor
def _desk_words() -> dict:
    return {"delivery_words": DELIVERY_WORDS}


def desk_page(template: str, status: int = 200, **context):
    notes = session.pop("notes", None) if session else None
    return make_response(render_template(template, editor=getattr(g, "editor", None), csrf=csrf_token(),
                                         notes=notes or [], local=local, **context), status)


def desk_error(kind: str, status: int, **context):
    title, message = (words().gettext(m) for m in ERRORS[kind])
    return desk_page("desk/error.html", status, title=title, message=message, kind=kind, **context)


def note(text: str, kind: str = "ok") -> None:
    """A message for the next page (after a redirect): what an action did, or why it did not."""
    session["notes"] = [*session.get("notes", []), {"text": text, "kind": kind}]
