"""GET /desk/preview: a variant of the edition as members will get it; POST /desk/preview/test.

Every byte comes from digest.editorial.preview.make_preview, the function behind
`digest preview`: the desk adds no way of its own to make an email. The email
is shown in sandboxed iframes (no scripts, no forms, a unique origin) served
by /desk/preview/frame with a CSP that sandboxes it even when opened alone.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, g, redirect, request, url_for

from ...db import deliveries as delivery_db
from ...db import editors as editor_db
from ...db import members as member_db
from ...edition.variants import plan_variant
from ...editorial.preview import BILINGUAL, PreviewRequest, find_edition, make_preview, resolve_window
from ...editorial.sendtest import send_test as mail_test
from ...editorial.text import language_name
from ...editorial.week import window_for
from ...errors import DigestError
from ...models import TopicSet
from ..common import state, words
from .core import FRAME_CSP, bp
from .pages import desk_page, note
from .week import period_from_request

WIDTHS = (375, 600)


def preview_request():
    """(PreviewRequest, the form as chosen) from the query or form fields."""
    s = state().settings
    period = period_from_request()
    fmt = request.values.get("format", "html")
    fmt = fmt if fmt in ("html", "text") else "html"
    chosen = [t for t in s.topic_slugs if t in request.values.getlist("topics")]
    member = (request.values.get("member") or "").strip()[:320]
    lang = request.values.get("language", "")
    lang = lang if lang in [tag for tag, _ in language_options()] else ""
    key = window_for(s, period, now=state().now()).key
    req = PreviewRequest(key=key, topics=tuple(chosen) or None, fmt=fmt, member=member or None, language=lang or None)
    return req, {"period": key, "topics": chosen, "format": fmt, "member": member, "language": lang}


def language_options() -> list[tuple[str, str]]:
    """(value, label) of each language a preview can be in: every configured one, and the bilingual email
    of members who have not chosen; [] when only one language is configured."""
    s = state().settings
    if len(s.languages) < 2:
        return []
    desk = words()
    out = [(tag, language_name(tag, desk)) for tag in s.languages]
    if s.language_mode == BILINGUAL:
        out.append((BILINGUAL, " + ".join(language_name(t, desk) for t in s.bilingual_order)))
    return out


def members_of_variant(edition, topics: tuple[str, ...], fmt: str) -> int:
    """How many due members get this variant (their topics within the edition x format)."""
    st = state()
    order = st.settings.topic_slugs
    chosen = plan_variant(topics, fmt, edition.items, order)
    if chosen is None:
        return 0
    with st.db.connect() as conn:
        combos = delivery_db.due_combinations(conn, edition.frequency)
    total = 0
    for member_topics, member_fmt, count in combos:
        plan = plan_variant(member_topics, member_fmt, edition.items, order)
        if plan is not None and (plan.key, member_fmt) == (chosen.key, fmt):
            total += count
    return total


def _query(form: dict) -> dict:
    q = {"period": form["period"], "format": form["format"]}
    if form.get("language"):
        q["language"] = form["language"]
    if form["member"]:
        q["member"] = form["member"]
    else:
        q["topics"] = form["topics"]
    return q


@bp.get("/preview")
def preview():
    st = state()
    s = st.settings
    try:
        req, form = preview_request()
        result = make_preview(st.db, s, req, now=st.now())
        text = result.text_filled
    except DigestError as exc:
        return desk_page("desk/preview.html", 400, problem=str(exc), result=None, period=None,
                         form=locals().get("form") or {"period": period_from_request() or "", "topics": [],
                                                      "format": "html", "member": "", "language": ""},
                         topics=[(t.slug, t.label_in(words().tag)) for t in s.topics], languages=language_options())
    checks = [w.removeprefix("check: ") for w in result.warnings if w.startswith("check: ")]
    warnings = [w for w in result.warnings if not w.startswith("check: ")]
    if form["member"]:
        members = None
    else:
        full = find_edition(st.db, s, resolve_window(s, req, now=st.now()))
        members = members_of_variant(full, tuple(form["topics"]), result.fmt)
    return desk_page("desk/preview.html", result=result, form=form, query=urlencode(_query(form), doseq=True),
                     text=text, period=form["period"],
                     checks=checks, warnings=warnings, members=members, widths=WIDTHS,
                     topics=[(t.slug, t.label_in(words().tag)) for t in s.topics], problem=None,
                     languages=language_options(), labels={t.slug: t.label_in(words().tag) for t in s.topics})


@bp.get("/preview/frame")
def frame():
    """The email's HTML, byte for byte what `digest preview --out` writes, sandboxed by its CSP."""
    st = state()
    try:
        req, _ = preview_request()
        result = make_preview(st.db, st.settings, req, now=st.now())
    except DigestError as exc:
        return Response(str(exc), 400, mimetype="text/plain")
    body = result.body if result.fmt == "html" else result.html_filled
    resp = Response(body.encode("utf-8"), mimetype="text/html")
    resp.headers["Content-Security-Policy"] = FRAME_CSP
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp


@bp.get("/preview/text")
def text_part():
    """The text part (what `digest preview --text` writes)."""
    st = state()
    try:
        req, _ = preview_request()
        result = make_preview(st.db, st.settings, req, now=st.now())
    except DigestError as exc:
        return Response(str(exc), 400, mimetype="text/plain")
    resp = Response(result.text_filled.encode("utf-8"), mimetype="text/plain")
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return resp


@bp.post("/preview/test")
def send_test():
    """Mail this variant to the signed-in editor (editorial.sendtest.send_test, as `digest send-test`)."""
    st = state()
    try:
        req, form = preview_request()
        topics, fmt = TopicSet(form["topics"]).label, form["format"]
        if form["member"]:
            with st.db.connect() as conn:
                sub = member_db.get_by_email(conn, form["member"])
            if sub is None:
                raise DigestError(f"{form['member']}: no such member")
            topics, fmt = TopicSet(sub.topics).label, sub.format
        variant = f"{topics}:{fmt}" + (f":{form['language']}" if form["language"] else "")
        transport = st.transport_factory()
        try:
            to, result = mail_test(st.db, st.settings, req.key, g.editor.email, variant, transport, now=st.now())
        finally:
            transport.close()
    except DigestError as exc:
        note(words().gettext("No test sent: %(problem)s") % {"problem": exc}, "problem")
        return redirect(url_for("desk.preview", **_query(locals().get("form") or {
            "period": period_from_request() or "", "format": "html", "member": "", "topics": []})), 303)
    except Exception as exc:  # the mail server could not be reached: say so on the page
        note(words().gettext("No test sent: the mail server could not be reached (%(error)s).")
             % {"error": type(exc).__name__}, "problem")
        return redirect(url_for("desk.preview", **_query(form)), 303)
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, "send-test", req.key, {"variant": variant, "to": to, "ok": result.ok},
                        now=st.now())
    _ = words().gettext
    if result.ok:
        note(_("Sent a test of %(edition)s (%(variant)s) to %(to)s.") % {"edition": req.key, "variant": variant,
                                                                          "to": to})
    else:
        note((_("The mail server refused the test to %(to)s: %(reply)s")
              % {"to": to, "reply": f"{result.code or ''} {result.message}"}).strip(), "problem")
    return redirect(url_for("desk.preview", **_query(form)), 303)
