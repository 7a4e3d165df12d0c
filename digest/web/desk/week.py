"""GET /desk/ (the week on one page) and POST /desk/articles/ID/ACTION (the editor's controls)."""

from __future__ import annotations

from flask import abort, g, redirect, request, url_for

from ...db import articles as article_db
from ...db import deliveries as delivery_db
from ...db import editors as editor_db
from ...editorial.report import edition_report
from ...editorial.week import language_name, load_week, move_ranks, topic_reasons, window_for
from ...errors import DigestError
from ..common import state
from .core import bp
from .pages import desk_page, note

SUMMARY_MAX = 2000  # characters: a summary is a paragraph, not an article
# An id from outside is an article only within the ids' column type (PostgreSQL INTEGER, the narrower of the two
# databases): a larger one is a 404, not an overflow inside the driver (SQLite) or a DataError (PostgreSQL).
MAX_ID = 2**31 - 1
ACTIONS = ("pin", "unpin", "exclude", "include", "up", "down", "summary", "topics")


def period_from_request() -> str | None:
    """?period=KEY, or what the week/day/month pickers sent."""
    for name in ("period", "week", "day", "month"):
        value = (request.values.get(name) or "").strip()
        if value:
            return value[:40]
    return None


@bp.get("/")
def week():
    st = state()
    try:
        window = window_for(st.settings, period_from_request(), now=st.now())
    except DigestError as exc:
        return desk_page("desk/week.html", 400, week=None, problem=str(exc), period=period_from_request() or "")
    data = load_week(st.db, st.settings, window)
    counts = report = None
    if data.built is not None and data.built.queued_at is not None:
        with st.db.connect() as conn:
            counts = delivery_db.counts(conn, data.built.id)
        report = edition_report(st.db, st.settings, data.built.key)
    return desk_page("desk/week.html", week=data, counts=counts, report=report, counted_at=st.now(),
                     period=window.key,
                     topics=[(t.slug, t.label) for t in st.settings.topics],
                     labels={t.slug: t.label for t in st.settings.topics},
                     budget=st.settings.summary_words, tz=st.settings.timezone,
                     open_id=request.args.get("open", type=int),
                     first_language=language_name(st.settings.language, st.settings.language))


def back_to(period: str | None, anchor: str = "", open_id: int | None = None):
    """The week again, at `anchor`; `open_id`: the article whose controls stay open (it was just changed)."""
    return redirect(url_for("desk.week", period=period, open=open_id) + (f"#{anchor}" if anchor else ""), 303)


def _set_topics(conn, article, title: str, now) -> tuple[str, dict]:
    """The topics form: the editor's choice (recorded as by hand), or back to what the rules give."""
    chosen = None if request.form.get("automatic") else request.form.getlist("topics")
    reasons = topic_reasons(state().settings, article, chosen, by=g.editor.email)
    article_db.set_topics(conn, article.id, reasons, by_hand=chosen is not None, now=now)
    after = [r.slug for r in reasons]
    detail = {"before": list(article.topics), "after": after, "by_hand": chosen is not None}
    if chosen is None:
        return f"{title} has the topics the rules give it again.", detail
    return f"Set the topics of {title}." + ("" if after else " With no topic, only members who "
                                                             "chose all topics get it."), detail


@bp.post(f"/articles/<int(max={MAX_ID}):article_id>/<action>")
def article_action(article_id: int, action: str):
    if action not in ACTIONS:
        abort(404)
    st = state()
    period = period_from_request()
    now = st.now()
    with st.db.connect() as conn:
        [article] = article_db.list_articles(conn, ids=[article_id]) or [None]
    if article is None:
        abort(404)
    title = f"“{article.title}”"
    detail: dict = {}
    if action in ("up", "down"):  # worked out before the write transaction: it reads the whole week
        try:
            move = move_ranks(st.db, st.settings, window_for(st.settings, period, now=now), article_id, action)
        except DigestError:
            abort(400)
        if move is None:
            note(f"{title} cannot move {action} any further.", "problem")
            return back_to(period, f"a-{article_id}", article_id)
    with st.db.begin() as conn:
        if action in ("pin", "unpin", "exclude", "include"):
            field, value = {"pin": ("pinned", True), "unpin": ("pinned", False),
                            "exclude": ("excluded", True), "include": ("excluded", False)}[action]
            article_db.set_editorial(conn, article_id, now=now, **{field: value})
            message = {"pin": f"Pinned {title}: it comes first.", "unpin": f"Unpinned {title}.",
                       "exclude": f"Excluded {title}: it is in no edition.",
                       "include": f"{title} can be chosen again."}[action]
        elif action in ("up", "down"):
            ranks, before = move
            article_db.set_ranks(conn, ranks, now=now)
            detail = {"order": before}
            message = f"Moved {title} {action}."
        elif action == "summary":
            if request.form.get("clear"):
                text = None
                message = f"{title} uses the summary made from its teaser again."
            else:
                text = " ".join(request.form.get("summary", "").split())
                if not text:
                    note("Write a summary, or choose “Use the teaser again”.", "problem")
                    return back_to(period, f"a-{article_id}", article_id)
                if len(text) > SUMMARY_MAX:
                    note(f"That summary is {len(text)} characters; the most is {SUMMARY_MAX}.", "problem")
                    return back_to(period, f"a-{article_id}", article_id)
                message = f"Saved the summary of {title}."
            article_db.set_editorial(conn, article_id, now=now, summary_override=text)
            detail = {"before": article.summary_override, "after": text}
        else:
            message, detail = _set_topics(conn, article, title, now)
        editor_db.audit(conn, g.editor, action, article_id, {"period": period, **detail}, now=now)
    note(message)
    return back_to(period, f"a-{article_id}", article_id)
