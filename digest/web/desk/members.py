"""/desk/members: the membership team's view of members (search, a member's page, change, forget, CSV).

    GET  /desk/members?q=&status=&topic=   search by address or name, filter by status and topic
    GET  /desk/members.csv?...             the same list as CSV
    GET  /desk/members/ID                  status, topics, attributes, history, last deliveries and reports
    POST /desk/members/ID/change           preferences or status, with a reason (in the member's history)
    POST /desk/members/ID/forget           erasure, as `digest members forget` (in the desk's audit log)

Every change goes through digest.db.members, as from the CLI and the API;
the history names the door ("desk") and the editor.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from flask import Response, abort, g, redirect, request, stream_with_context, url_for

from ...db import editors as editor_db
from ...db import members as member_db
from ...db import webhooks as webhook_db
from ...models import FORMATS, FREQUENCIES, STATUSES
from ...sending.transports.file import remove_addressed_to
from ..common import state, words
from .core import bp
from .pages import desk_error, desk_page, note

# An id from a URL is a member only within PostgreSQL's INTEGER: larger is a 404, not a driver error.
MAX_ID = 2**31 - 1
LIST_LIMIT = 500  # rows on the page; the CSV has them all
REASON_MAX = 300


# What membership staff (editors.role "membership") may reach: the members pages, and signing out.
STAFF_ENDPOINTS = {"desk.members", "desk.members_csv", "desk.member", "desk.change_member", "desk.forget_member",
                   "desk.sign_out"}


def staff_guard(editor, public: bool):
    """Membership staff asking for an edition page: sent to the members (GET); None when they may go on."""
    if editor is None or public or editor.role != "membership" or request.endpoint in STAFF_ENDPOINTS:
        return None
    return redirect(url_for("desk.members"), 303)


def _filters() -> dict:
    a = request.args
    slugs = state().settings.topic_slugs
    return {"q": (a.get("q") or "").strip()[:200],
            "status": a.get("status") if a.get("status") in STATUSES else "",
            "topic": a.get("topic") if a.get("topic") in slugs else ""}


def _find(f: dict, limit: int, after: int = 0):
    with state().db.connect() as conn:
        return member_db.page(conn, status=f["status"] or None, topic=f["topic"] or None, search=f["q"] or None,
                              after_id=after, limit=limit)


@bp.get("/members")
def members():
    f = _filters()
    found = _find(f, LIST_LIMIT + 1)
    st = state()
    with st.db.connect() as conn:  # webhooks out that gave up: the membership system missed these changes
        counts = webhook_db.summary(conn)
        failing = [(ep.url, counts[ep.id]["failed"], counts[ep.id]["last_error"])
                   for ep in webhook_db.endpoints(conn) if counts.get(ep.id, {}).get("failed")]
    return desk_page("desk/members.html", members=found[:LIST_LIMIT], more=len(found) > LIST_LIMIT, f=f,
                     statuses=STATUSES, topics=[(t.slug, t.label_in(words().tag)) for t in st.settings.topics], failing=failing)


@bp.get("/members.csv")
def members_csv():
    f = _filters()
    with state().db.begin() as conn:
        editor_db.audit(conn, g.editor, "members-export", "", {k: v for k, v in f.items() if v}, now=state().now())
    resp = Response(stream_with_context(_csv_lines(f)), mimetype="text/csv")
    resp.headers["Content-Disposition"] = 'attachment; filename="members.csv"'
    return resp


CSV_BATCH = 5_000  # members read at a time for the download


def _csv_lines(f: dict):
    """The download, a page of members at a time: a membership of millions is never held whole (issue 24)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["email", "name", "status", "paused", "topics", "frequency", "format", "attributes", "joined",
                "updated"])
    after = 0
    while True:
        found = _find(f, CSV_BATCH, after)
        for s in found:
            w.writerow([s.email, s.name or "", s.status, "yes" if s.paused else "", ";".join(s.topics) or "all",
                        s.frequency, s.format, "; ".join(f"{k}={v}" for k, v in s.attributes.items()),
                        s.created_at.isoformat() if s.created_at else "",
                        s.updated_at.isoformat() if s.updated_at else ""])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(found) < CSV_BATCH:
            return
        after = found[-1].id


@bp.get(f"/members/<int(max={MAX_ID}):member_id>")
def member(member_id: int):
    st = state()
    with st.db.connect() as conn:
        sub = member_db.get_by_id(conn, member_id)
        if sub is None:
            return desk_error("not-found", 404)
        history = list(reversed(member_db.list_events(conn, sub.id)))
        sent = member_db.recent_deliveries(conn, sub.id)
        reports = member_db.recent_reports(conn, sub.id)
    return desk_page("desk/member.html", member=sub, history=history, sent=sent, reports=reports,
                     statuses=STATUSES, frequencies=FREQUENCIES, formats=FORMATS,
                     topics=[(t.slug, t.label_in(words().tag)) for t in st.settings.topics])


def _reason() -> str | None:
    reason = " ".join((request.form.get("reason") or "").split())[:REASON_MAX]
    return reason or None


@bp.post(f"/members/<int(max={MAX_ID}):member_id>/change")
def change_member(member_id: int):
    st = state()
    form = request.form
    reason = _reason()
    back = redirect(url_for("desk.member", member_id=member_id), 303)
    if reason is None:
        note(words().gettext("Nothing was changed: say why in the reason field (it goes into the member's "
                             "history)."), "problem")
        return back
    slugs = st.settings.topic_slugs
    chosen = [t for t in form.getlist("topics") if t in slugs]
    topics = () if set(chosen) == set(slugs) else tuple(t for t in slugs if t in chosen)
    status = form.get("status") if form.get("status") in STATUSES else None
    frequency = form.get("frequency") if form.get("frequency") in FREQUENCIES else None
    fmt = form.get("format") if form.get("format") in FORMATS else None
    if not chosen:
        note(words().gettext("Nothing was changed: choose at least one topic."), "problem")
        return back
    why = {"reason": reason, "editor": g.editor.email}
    with st.db.begin() as conn:
        sub = member_db.get_by_id(conn, member_id)
        if sub is None:
            abort(404)
        changes = {}
        if status and status != sub.status:
            changes.update(member_db.set_status(conn, sub.id, status, source="desk", now=st.now(), why=why))
        changes.update(member_db.update_preferences(
            conn, sub.id, topics=topics, frequency=frequency, format=fmt, paused=form.get("paused") == "yes",
            source="desk", now=st.now(), why=why))
    note(words().gettext("Saved: %(changes)s.") % {"changes": ", ".join(changes)} if changes else
         words().gettext("Nothing to change: the member already had these settings."))
    return back


@bp.post(f"/members/<int(max={MAX_ID}):member_id>/forget")
def forget_member(member_id: int):
    st = state()
    reason = _reason()
    if reason is None or request.form.get("confirm") != "yes":
        note(words().gettext("Nothing was erased: tick the box and give the reason (the request, its date)."),
             "problem")
        return redirect(url_for("desk.member", member_id=member_id), 303)
    with st.db.begin() as conn:
        sub = member_db.get_by_id(conn, member_id)
        if sub is None:
            abort(404)
        member_db.forget(conn, sub.id, now=st.now())
        # The member's own history goes with them: the desk's audit log keeps that someone was forgotten.
        editor_db.audit(conn, g.editor, "member-forget", f"member {member_id}", {"reason": reason}, now=st.now())
    outbox = Path(st.settings.outbox)
    if outbox.is_dir():  # as `digest members forget`: the file transport's copies of mail to them go too
        remove_addressed_to(outbox, sub.email)
    note(words().gettext("Member %(id)d was forgotten: only a hash of the address is kept, so no import can add "
                         "them again.") % {"id": member_id})
    return redirect(url_for("desk.members"), 303)



