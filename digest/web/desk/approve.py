"""POST /desk/edition/build and /queue (the editor approves), GET /desk/edition/progress (the send, as it goes),
GET /desk/audit (who did what)."""

from __future__ import annotations

from flask import g, render_template, request

from ...db import deliveries as delivery_db
from ...db import editions as edition_db
from ...db import editors as editor_db
from ...editorial.build import build_edition
from ...editorial.mailing import Mailing, run_mailing
from ...editorial.text import check_words, set_edition_text
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
        others = [t for t in st.settings.languages[1:] if f"subject-{t}" in f]
        for tag in others:  # every column checked before any is saved: all or nothing
            check_words(key, f.get(f"subject-{tag}", ""), f.get(f"preheader-{tag}", ""), f.get(f"note-{tag}", ""))
        saved = set_edition_text(st.db, key, subject=f.get("subject", ""), preheader=f.get("preheader", ""),
                                 note=f.get("note", ""), by=g.editor.email, now=st.now())
        for tag in others:  # each other language's column, side by side on the form
            saved = set_edition_text(st.db, key, subject=f.get(f"subject-{tag}", ""), language=tag,
                                     preheader=f.get(f"preheader-{tag}", ""), note=f.get(f"note-{tag}", ""),
                                     by=g.editor.email, now=st.now())
    except DigestError as exc:
        note(words().gettext("Not saved: %(problem)s") % {"problem": exc}, "problem")
        return back_to(period, "edition-title")
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "edition-text", key, {
            "subject": saved.subject, "preheader": saved.preheader, "note": saved.note,
            **({"words": {t: vars(w) for t, w in saved.words.items()}} if saved.words else {})}, now=st.now())
    _ = words().gettext
    note(_("Saved the words of %(edition)s.") % {"edition": key} + (_(" Build it again to send them.")
                                                                    if _built(key) else ""))
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
        note(words().gettext("Not built: %(problem)s") % {"problem": exc}, "problem")
        return back_to(period, "approve")
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "build", built.key, {"articles": [i.article_id for i in built.items],
                                                              "subject": built.subject}, now=st.now())
    # English keeps "(s)" as the command line says it; the catalogue gives each language its plural forms.
    note(words().ngettext("Built %(edition)s: %(num)d article(s). What is queued now is what you previewed.",
                          "Built %(edition)s: %(num)d article(s). What is queued now is what you previewed.",
                          len(built.items)) % {"edition": built.key, "num": len(built.items)})
    return back_to(built.key, "approve")


@bp.post("/edition/queue")
def queue():
    """Queue the edition for members with the policy of `digest weekly`: the gate first (failed or stale
    sources, too few articles), unless the editor sends it anyway with a reason; `digest send` sends it."""
    st = state()
    period = period_from_request()
    reason = " ".join(request.form.get("reason", "").split())[:500] if request.form.get("force") else None
    if request.form.get("force") and not reason:
        note(words().gettext("To send an edition the gate holds, say why (it is recorded with the edition)."),
             "problem")
        return back_to(period, "approve")
    try:
        window = window_for(st.settings, period, now=st.now())
        # The run of `digest weekly`, without fetching (it gates on the last fetch), notices or sending.
        mailing = Mailing([window], force_reason=reason, forced_by=g.editor.email, fetch=False, tell=False)
        [report] = run_mailing(st.db, st.settings, mailing, clock=st.now).editions
    except DigestError as exc:
        note(words().gettext("Not queued: %(problem)s") % {"problem": exc}, "problem")
        return back_to(period, "approve")
    if report.waiting is not None:  # given a send time meanwhile: `digest run` queues it then
        note(words().gettext("%(key)s has a send time: withdraw it to queue the edition now.") % {"key": window.key},
             "problem")
        return back_to(window.key, "schedule")
    if report.held:
        for line in report.held:
            note(words().gettext("Held: %(reason)s") % {"reason": line}, "problem")
        return back_to(window.key, "approve")
    queued = report.queued.queued if report.queued else 0
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "force" if report.forced else "queue", window.key,
                        {"queued": queued, **({"reason": reason, "held": report.forced} if report.forced else {})},
                        now=st.now())
    for w in (report.queued.warnings if report.queued else []):
        note(w, "problem")
    _ = words().gettext
    note(words().ngettext("Queued %(num)d delivery(ies) of %(edition)s.", "Queued %(num)d delivery(ies) of %(edition)s.",
                          queued) % {"num": queued, "edition": window.key}
         + (_(" Sent past the gate: recorded with your reason.") if report.forced else ""))
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
        note(words().gettext("No sources are configured ([[sources]] in digest.toml)."), "problem")
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
