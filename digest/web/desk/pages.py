"""Rendering the desk's pages: the shared context, error pages, flash messages."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import g, make_response, render_template, session

from ..common import state
from .core import csrf_token

ERRORS = {
    "session": ("Sign in to use the desk", "Your session has ended or you are not signed in. Nothing was changed."),
    "form": ("This form has expired", "Nothing was changed. Open the page again and repeat what you did."),
    "link": ("This link does not work",
             "It has been used already, has expired, or a newer link replaced it. Ask for a new one below."),
    "too-many": ("Too many attempts", "Wait a few minutes before trying again."),
    "not-found": ("Not found", "There is nothing here. It may have been removed."),
    "forbidden": ("Not for your role", "Membership staff use the members pages only. Nothing was changed."),
}


def local(moment, fmt: str = "%-d %b %Y %H:%M") -> str:
    """A stored (UTC) time in the editions' time zone, for people."""
    return moment.astimezone(ZoneInfo(state().settings.timezone)).strftime(fmt) if moment else ""


def desk_page(template: str, status: int = 200, **context):
    notes = session.pop("notes", None) if session else None
    return make_response(render_template(template, editor=getattr(g, "editor", None), csrf=csrf_token(),
                                         notes=notes or [], local=local, **context), status)


def desk_error(kind: str, status: int, **context):
    title, message = ERRORS[kind]
    return desk_page("desk/error.html", status, title=title, message=message, kind=kind, **context)


def note(text: str, kind: str = "ok") -> None:
    """A message for the next page (after a redirect): what an action did, or why it did not."""
    session["notes"] = [*session.get("notes", []), {"text": text, "kind": kind}]
