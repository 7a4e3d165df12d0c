"""The public side of editions: the web version of each, the archive, its Atom feed.

    GET /editions/KEY          the web version ("Read the whole edition on our website" in every email)
    GET /editions/             sent editions, newest first, by period
    GET /editions/?topic=slug  one topic's articles across editions
    GET /editions/feed.xml     an Atom feed of the sent editions

The web version is the full edition (every article, all topics) rendered as
the email is, but for nobody: no greeting, no preference or unsubscribe
links, no link to itself; instead the site's header (the organisation, the
archive, a subscribe button), a subscribe link and links to the previous and
next editions, and a preview card for shared links (Open Graph, Twitter). Only queued editions are public; a draft is a 404
like an unknown key. Renders are cached per edition build and neighbours.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime, timezone

from flask import Blueprint, abort, make_response, render_template, request

from ..db import announcements as announcement_db
from ..db import editions as edition_db
from ..edition.announcement import render_announcement
from ..edition.render import frequency_label, render_variant, subject_for
from ..edition.textformat import local_date, window_dates
from ..models import Edition
from .common import EDITION_CSP, page, state, topic_choices, words

bp = Blueprint("editions", __name__)

_KEY = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,39}")
_CACHE_SIZE = 16
FEED_SIZE = 20


def _sent() -> list[Edition]:
    with state().db.connect() as conn:
        return edition_db.sent_editions(conn)


def _dates(edition: Edition) -> str:
    return window_dates(edition.window, edition.frequency, state().settings.timezone, words())


def _neighbours(key: str, frequency: str, sent: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """The keys of the previous and next sent editions of the same frequency (sent is newest first)."""
    keys = [k for k, f in sent if f == frequency]
    if key not in keys:
        return None, None
    i = keys.index(key)
    return (keys[i + 1] if i + 1 < len(keys) else None), (keys[i - 1] if i > 0 else None)


@bp.get("/editions/<key>")
def show(key: str):
    if not _KEY.fullmatch(key):
        abort(404)
    st = state()
    base = st.settings.base_url
    with st.db.connect() as conn:
        edition = edition_db.load_edition(conn, key)
        sent = edition_db.sent_keys(conn) if edition is not None and edition.queued_at is not None else []
    if edition is None or edition.queued_at is None:
        abort(404)
    if edition.kind != "edition":
        return _announcement(edition)
    previous, following = _neighbours(edition.key, edition.frequency, sent)
    cache_key = (edition.key, edition.built_at, previous, following, words().tag)
    with st.cache_lock:
        html = st.edition_cache.get(cache_key)
    if html is None:
        web = {
            "subscribe_url": f"{base}/subscribe",
            "archive_url": f"{base}/editions/",
            "previous_url": f"{base}/editions/{previous}" if previous else "",
            "next_url": f"{base}/editions/{following}" if following else "",
        }
        html = render_variant(edition, st.settings, fmt="html", web=web, lang=words().tag).html
        with st.cache_lock:
            st.edition_cache[cache_key] = html
            while len(st.edition_cache) > _CACHE_SIZE:
                st.edition_cache.popitem(last=False)
    resp = make_response(html)
    resp.headers["Content-Security-Policy"] = EDITION_CSP
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


def _announcement(edition: Edition):
    """The web version of a queued announcement marked public (any other is a 404, as a draft edition is)."""
    st = state()
    with st.db.connect() as conn:
        found = announcement_db.load_by_edition(conn, edition.id)
    if found is None or not found.public:
        abort(404)
    html = render_announcement(found, st.settings, items=edition.items, fmt="html", lang=words().tag,
                               now=found.queued_at or edition.built_at, web=True).html
    resp = make_response(html)
    resp.headers["Content-Security-Policy"] = EDITION_CSP
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


def _public_announcements() -> list[dict]:
    with state().db.connect() as conn:
        found = announcement_db.public_queued(conn)
    return [{"key": a.key, "subject": a.subject,
             "date": words().long_date(local_date(a.queued_at, state().settings.timezone))} for a in found]


@bp.get("/editions/")
def archive():
    st = state()
    settings = st.settings
    sent = _sent()
    topics = topic_choices()
    slug = request.args.get("topic")
    if slug is not None:
        label = dict(topics).get(slug)
        if label is None:
            abort(404)
        _ = words().gettext
        found = [{"title": it.title, "url": it.url, "edition": e, "dates": _dates(e),
                  "date": words().long_date(local_date(it.published_at, settings.timezone)) if it.published_at else "",
                  "summary": " ".join((it.summary or "").split())}
                 for e in sent for it in e.items if slug in it.topics]
        share = {"title": _("%(topic)s: past editions") % {"topic": label},
                 "url": f"{settings.base_url}/editions/?topic={slug}",
                 "description": _("Articles on %(topic)s in the digests %(organisation)s has sent.") % {
                     "topic": label.lower(), "organisation": settings.organisation}}
        resp = page("archive_topic.html", topic=label, slug=slug, found=found, topics=topics, share=share)
    else:
        rows = [{"edition": e, "dates": _dates(e), "label": frequency_label(e.frequency, words()),
                 "titles": [it.title for it in e.items]} for e in sent]
        _ = words().gettext
        share = {"title": _("Past editions – %(organisation)s") % {"organisation": settings.organisation},
                 "url": f"{settings.base_url}/editions/",
                 "description": _("Every digest %(organisation)s has sent, newest first.") % {
                     "organisation": settings.organisation}}
        resp = page("archive.html", rows=rows, topics=topics, share=share, announcements=_public_announcements())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/editions/feed.xml")
def feed():
    st = state()
    settings = st.settings
    sent = _sent()[:FEED_SIZE]
    entries = [{
        "key": e.key,
        "title": subject_for(e, settings, words()),
        "url": f"{settings.base_url}/editions/{e.key}",
        "updated": _iso(e.queued_at or e.built_at),
        # HTML (escaped once here; the template escapes it again as XML text)
        "summary_html": f"<p>{html_lib.escape(_dates(e))}</p><ul>"
                        + "".join(f"<li>{html_lib.escape(it.title)}</li>" for it in e.items) + "</ul>",
    } for e in sent]
    updated = entries[0]["updated"] if entries else _iso(datetime(2000, 1, 1, tzinfo=timezone.utc))
    xml = render_template("feed.xml", entries=entries, updated=updated, base=settings.base_url,
                          domain=settings.sender_domain)
    resp = make_response(xml)
    resp.headers["Content-Type"] = "application/atom+xml; charset=utf-8"
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


def _iso(moment: datetime | None) -> str:
    moment = moment or datetime(2000, 1, 1, tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
