"""An announcement's way out on the desk: preview every variant, test, approve, queue, schedule.

    GET  /desk/announcements/ID/preview?variant=V     every variant: phone and desktop, light and dark
    GET  /desk/announcements/ID/frame?variant=V&scheme=light|dark   the email itself, sandboxed
    GET  /desk/announcements/ID/text?variant=V        its text part
    POST /desk/announcements/ID/test                  mail a variant to the signed-in editor
    POST /desk/announcements/ID/approve               approve it as it stands
    POST /desk/announcements/ID/queue                 queue it for its audience now
    POST /desk/announcements/ID/schedule              send it at a time (in the organisation's time zone)
    POST /desk/announcements/ID/withdraw              take back a scheduled time

Every byte of the preview and the test comes from digest.editorial.announcements
(the functions of `digest announcement preview` and `send-test`); approve,
queue and schedule are its (the send time kept on the announcement, with
digest.editorial.schedule's rules), which record each in the desk's audit log; the test-send is recorded here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Response, g, redirect, request, url_for

from ...editorial import announcements as lib
from ...errors import DigestError
from ...i18n import language
from ..common import state, words
from .announcements import MAX_ID, audit, load
from .core import FRAME_CSP, bp
from .pages import desk_error, desk_page, note

WIDTHS = (375, 600)  # a phone, and the email's full width as a desktop reader sees it
SCHEMES = ("light", "dark")
# The email's dark palette is in `@media (prefers-color-scheme: dark)` (templates/partials/dark.css.j2); a frame
# cannot be told which scheme to prefer, so the dark preview applies those rules to the screen as they stand.
_DARK_QUERY = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)")
ROUTE = f"/announcements/<int(max={MAX_ID}):announcement_id>"


def as_dark(html: str) -> str:
    """The email as a reader whose mail app prefers dark sees it: its dark rules applied unconditionally."""
    return _DARK_QUERY.sub("@media screen", html)


def back(announcement_id: int, anchor: str = "steps"):
    return redirect(url_for("desk.announcement", announcement_id=announcement_id) + f"#{anchor}", 303)


@dataclass(frozen=True)
class Variant:
    key: str  # the library's: "html", "text", "html:cy"...
    label: str
    subject: str
    html: str  # "" for a plain-text variant
    text: str

    @property
    def fmt_lang(self) -> tuple[str, str]:
        fmt, _, lang = self.key.partition(":")
        return fmt, lang


def variants_of(previews: dict) -> list[Variant]:
    """The library's previews ({"html": Rendered, "text:cy": ...}) with a label for people."""
    _ = words().gettext
    out = []
    for key, r in previews.items():
        fmt, _sep, lang = key.partition(":")
        label = _("Designed email") if fmt == "html" else _("Plain text")
        if lang:
            label = f"{label}, {language(lang).locale.get_display_name(words().locale)}"
        out.append(Variant(key, label, r.subject, r.html, r.text))
    return out


def _variant(variants, wanted: str | None):
    """The variant asked for (by key), else the first."""
    return next((v for v in variants if v.key == wanted), variants[0] if variants else None)


def _rendered(announcement_id: int):
    """(announcement, its variants, the chosen one) or a Response saying why not."""
    found = load(announcement_id)
    if found is None:
        return desk_error("not-found", 404)
    st = state()
    try:
        variants = variants_of(lib.variant_previews(st.db, st.settings, found.id, now=st.now()))
    except DigestError as exc:
        return desk_page("desk/announcement_preview.html", 400, announcement=found, problem=str(exc),
                         variants=[], chosen=None)
    return found, variants, _variant(variants, request.values.get("variant"))


@bp.get(f"{ROUTE}/preview")
def announcement_preview(announcement_id: int):
    got = _rendered(announcement_id)
    if not isinstance(got, tuple):
        return got
    found, variants, chosen = got
    return desk_page("desk/announcement_preview.html", announcement=found, variants=variants, chosen=chosen,
                     problem=None, widths=WIDTHS, schemes=SCHEMES,
                     query=lambda **extra: urlencode({"variant": chosen.key, **extra}))


@bp.get(f"{ROUTE}/frame")
def announcement_frame(announcement_id: int):
    """The email's HTML, byte for byte the library's (dark: its dark rules applied), sandboxed by its CSP."""
    got = _rendered(announcement_id)
    if not isinstance(got, tuple) or got[2] is None:
        return Response("no such announcement or variant", 404, mimetype="text/plain")
    html = got[2].html
    if request.args.get("scheme") == "dark":
        html = as_dark(html)
    resp = Response(html.encode("utf-8"), mimetype="text/html")
    resp.headers["Content-Security-Policy"] = FRAME_CSP
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp


@bp.get(f"{ROUTE}/text")
def announcement_text(announcement_id: int):
    got = _rendered(announcement_id)
    if not isinstance(got, tuple) or got[2] is None:
        return Response("no such announcement or variant", 404, mimetype="text/plain")
    resp = Response(got[2].text.encode("utf-8"), mimetype="text/plain")
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return resp


@bp.post(f"{ROUTE}/test")
def announcement_test(announcement_id: int):
    """Mail one variant to the signed-in editor (the library's send-test); no member is touched."""
    found = load(announcement_id)
    if found is None:
        return desk_error("not-found", 404)
    st, _ = state(), words().gettext
    variant = (request.form.get("variant") or "html")[:40]
    fmt, _sep, lang = variant.partition(":")
    transport = st.transport_factory()
    try:
        to, result = lib.send_test_announcement(st.db, st.settings, found.id, g.editor.email, transport,
                                                fmt=fmt if fmt in ("html", "text") else "html", lang=lang,
                                                now=st.now())
    except DigestError as exc:
        note(_("No test sent: %(reason)s") % {"reason": exc}, "problem")
        return back(found.id)
    except OSError as exc:  # the mail server could not be reached: say so on the page
        note(_("No test sent: the mail server could not be reached (%(error)s).") % {"error": type(exc).__name__},
             "problem")
        return back(found.id)
    finally:
        transport.close()
    audit(found, "announcement-test", to=to, ok=result.ok, variant=variant)
    if result.ok:
        note(_("Sent a test to %(address)s.") % {"address": to})
    else:
        note(_("The mail server refused the test to %(address)s: %(answer)s")
             % {"address": to, "answer": f"{result.code or ''} {result.message}".strip()}, "problem")
    return back(found.id)


@bp.post(f"{ROUTE}/approve")
def approve_announcement(announcement_id: int):
    found = load(announcement_id)
    if found is None:
        return desk_error("not-found", 404)
    st, _ = state(), words().gettext
    try:  # the library records it in the audit log, as it does for `digest announcement approve`
        lib.approve_announcement(st.db, found.id, by=g.editor, now=st.now())
    except DigestError as exc:
        note(_("Not approved: %(reason)s") % {"reason": exc}, "problem")
        return back(found.id)
    note(_("Approved. Queue it now, or choose a time to send it."))
    return back(found.id)


@bp.post(f"{ROUTE}/queue")
def queue_announcement(announcement_id: int):
    """Queue it for its audience now (the library's queue: one INSERT ... SELECT); `digest send` sends it."""
    found = load(announcement_id)
    if found is None:
        return desk_error("not-found", 404)
    st, _ = state(), words().gettext
    try:  # audited by the library (who, the audience, how many it counted and queued)
        report = lib.queue_announcement(st.db, st.settings, found.id, by=g.editor, now=st.now())
    except DigestError as exc:
        note(_("Not queued: %(reason)s") % {"reason": exc}, "problem")
        return back(found.id)
    queued = report.queued
    note(words().ngettext("Queued for %(count)s member.", "Queued for %(count)s members.", queued)
         % {"count": f"{queued:,}"})
    return back(found.id)


@bp.post(f"{ROUTE}/schedule")
def schedule_announcement(announcement_id: int):
    """Send it at a date and time of the organisation's time zone (`digest run` queues and sends it then);
    the library records it in the audit log, as `digest announcement schedule` does."""
    found = load(announcement_id)
    if found is None:
        return desk_error("not-found", 404)
    st, _ = state(), words().gettext
    day, time = (request.form.get("day") or "").strip()[:10], (request.form.get("time") or "").strip()[:5]
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) or not re.fullmatch(r"\d{1,2}:\d{2}", time):
        note(_("Not scheduled: give a date and a time, such as 2027-06-28 and 07:00."), "problem")
        return back(found.id, "schedule")
    if found.state != "approved":
        note(_("Not scheduled: approve it first."), "problem")
        return back(found.id, "schedule")
    try:
        send = lib.schedule_announcement(st.db, st.settings, found.id, f"{day} {time}", by=g.editor, now=st.now())
    except DigestError as exc:
        note(_("Not scheduled: %(reason)s") % {"reason": exc}, "problem")
        return back(found.id, "schedule")
    note(_("Scheduled: it goes out at %(when)s %(zone)s.") % {"when": send.local_text, "zone": send.zone})
    return back(found.id, "schedule")


@bp.post(f"{ROUTE}/withdraw")
def withdraw_announcement(announcement_id: int):
    found = load(announcement_id)
    if found is None:
        return desk_error("not-found", 404)
    st, _ = state(), words().gettext
    try:
        lib.unschedule_announcement(st.db, found.id, by=g.editor, now=st.now())
    except DigestError as exc:
        note(_("Not withdrawn: %(reason)s") % {"reason": exc}, "problem")
        return back(found.id, "schedule")
    note(_("The send time is withdrawn: nothing goes out until you queue or schedule it again."))
    return back(found.id, "schedule")
