"""POST /desk/edition/build and /queue (the editor approves), GET /desk/audit (who did what)."""

from __future__ import annotations

from flask import g, request

from ...db import editions as edition_db
from ...db import editors as editor_db
from ...editorial.build import build_edition
from ...editorial.text import set_edition_text
from ...editorial.week import window_for
from ...errors import DigestError
from ...sending.queue import queue_edition
from ..common import state
from .core import bp
from .pages import desk_page, note
from .week import back_to, period_from_request


@bp.post("/edition/text")
def text():
    """The edition's subject, preheader and note (`digest edition set`); empty means made from the articles."""
    st = state()
    period = period_from_request()
    f = request.form
    try:
        key = window_for(st.settings, period, now=st.now()).key
        saved = set_edition_text(st.db, key, subject=f.get("subject", ""), preheader=f.get("preheader", ""),
                                 note=f.get("note", ""), by=g.editor.email, now=st.now())
    except DigestError as exc:
        note(f"Not saved: {exc}", "problem")
        return back_to(period, "edition-title")
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "edition-text", key, {"subject": saved.subject, "preheader": saved.preheader,
                                                               "note": saved.note}, now=st.now())
    note(f"Saved the words of {key}." + (" Build it again to send them." if _built(key) else ""))
    return back_to(key, "edition-title")


def _built(key: str) -> bool:
    with state().db.connect() as conn:
        return edition_db.load_edition(conn, key) is not None


@bp.post("/edition/build")
def build():
    """Freeze the edition with the same function as `digest edition build`."""
    st = state()
    period = period_from_request()
    try:
        window = window_for(st.settings, period, now=st.now())
        built = build_edition(st.db, st.settings, window, now=st.now())
    except DigestError as exc:
        note(f"Not built: {exc}", "problem")
        return back_to(period, "approve")
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "build", built.key, {"articles": [i.article_id for i in built.items],
                                                              "subject": built.subject}, now=st.now())
    note(f"Built {built.key}: {len(built.items)} article(s). What is queued now is what you previewed.")
    return back_to(built.key, "approve")


@bp.post("/edition/queue")
def queue():
    """Queue one delivery per due member (`digest queue`); `digest send` (cron) sends them."""
    st = state()
    period = period_from_request()
    try:
        window = window_for(st.settings, period, now=st.now())
        report = queue_edition(st.db, st.settings, window.key, now=st.now())
    except DigestError as exc:
        note(f"Not queued: {exc}", "problem")
        return back_to(period, "approve")
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "queue", window.key, {"queued": report.queued}, now=st.now())
    for w in report.warnings:
        note(w, "problem")
    note(f"Queued {report.queued} delivery(ies) of {window.key}.")
    return back_to(window.key, "approve")


@bp.get("/audit")
def audit():
    st = state()
    with st.db.connect() as conn:
        rows = editor_db.list_audit(conn, limit=max(1, min(request.args.get("limit", 200, type=int), 2000)))
    return desk_page("desk/audit.html", rows=rows)
