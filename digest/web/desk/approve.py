"""POST /desk/edition/build and /queue (the editor approves), GET /desk/edition/progress (the send, as it goes),
GET /desk/audit (who did what)."""

from __future__ import annotations

from flask import g, render_template, request

from ...db import deliveries as delivery_db
from ...db import editions as edition_db
from ...db import editors as editor_db
from ...editorial.build import build_edition
from ...editorial.mailing import Mailing, run_mailing
from ...editorial.text import set_edition_text
from ...editorial.week import window_for
from ...errors import DigestError
from ...ingest.store import refresh_sources
from ..common import state, words
from .core import bp
from .pages import desk_error, desk_page, local, note
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
    """Queue the edition for members with the policy of `digest weekly`: the gate first (failed or stale
    sources, too few articles), unless the editor sends it anyway with a reason; `digest send` sends it."""
    st = state()
    period = period_from_request()
    reason = " ".join(request.form.get("reason", "").split())[:500] if request.form.get("force") else None
    if request.form.get("force") and not reason:
        note("To send an edition the gate holds, say why (it is recorded with the edition).", "problem")
        return back_to(period, "approve")
    try:
        window = window_for(st.settings, period, now=st.now())
        # The run of `digest weekly`, without fetching (it gates on the last fetch), notices or sending.
        mailing = Mailing([window], force_reason=reason, forced_by=g.editor.email, fetch=False, tell=False)
        [report] = run_mailing(st.db, st.settings, mailing, clock=st.now).editions
    except DigestError as exc:
        note(f"Not queued: {exc}", "problem")
        return back_to(period, "approve")
    if report.waiting is not None:  # given a send time meanwhile: `digest run` queues it then
        note(words().gettext("%(key)s has a send time: withdraw it to queue the edition now.") % {"key": window.key},
             "problem")
        return back_to(window.key, "schedule")
    if report.held:
        for line in report.held:
            note(f"Held: {line}", "problem")
        return back_to(window.key, "approve")
    queued = report.queued.queued if report.queued else 0
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "force" if report.forced else "queue", window.key,
                        {"queued": queued, **({"reason": reason, "held": report.forced} if report.forced else {})},
                        now=st.now())
    for w in (report.queued.warnings if report.queued else []):
        note(w, "problem")
    note(f"Queued {queued} delivery(ies) of {window.key}." + (" Sent past the gate: recorded with your reason."
                                                              if report.forced else ""))
    return back_to(window.key, "approve")


@bp.get("/edition/progress")
def progress():
    """The deliveries of a queued edition by state: the part of the week page desk.js refreshes by itself."""
    st = state()
    try:
        key = window_for(st.settings, period_from_request(), now=st.now()).key
    except DigestError as exc:
        return desk_error("not-found", 404)
    with st.db.connect() as conn:
        edition = edition_db.load_edition(conn, key)
        if edition is None or edition.queued_at is None:
            return desk_error("not-found", 404)
        counts = delivery_db.counts(conn, edition.id)
    # Not desk_page: a poll must not take the notes meant for the next page the editor opens.
    return render_template("desk/_progress.html", counts=counts, counted_at=st.now(), period=key,
                           queued_at=edition.queued_at, local=local)


@bp.post("/sources/fetch")
def fetch():
    """Fetch every configured source now (as `digest sources fetch`); each one's outcome is shown."""
    st = state()
    period = period_from_request()
    runs = refresh_sources(st.db, st.settings, now=st.now())
    for run in runs:
        note(run.line(), "problem" if run.error else "ok")
    if not runs:
        note("No sources are configured ([[sources]] in digest.toml).", "problem")
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "fetch-sources", period or "", {r.name: r.error or "ok" for r in runs},
                        now=st.now())
    return back_to(period, "sources-title")


@bp.get("/audit")
def audit():
    st = state()
    with st.db.connect() as conn:
        rows = editor_db.list_audit(conn, limit=max(1, min(request.args.get("limit", 200, type=int), 2000)))
    return desk_page("desk/audit.html", rows=rows)
