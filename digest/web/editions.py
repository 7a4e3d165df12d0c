"""GET /editions/KEY: the web version of an edition ("View in your browser" in every email).

The full edition (every article, all topics) rendered as the email is, with
slots filled by generic values: it belongs to nobody, so it carries no
personal link. Only queued editions are public; a draft is a 404 like an
unknown key. Renders are cached per edition build, since a queued edition
never changes.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, make_response

from ..db import editions as edition_db
from ..edition.render import fill_slots, render_variant
from ..editorial.preview import generic_slots
from .common import EDITION_CSP, state

bp = Blueprint("editions", __name__)

_KEY = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,39}")
_CACHE_SIZE = 16


@bp.get("/editions/<key>")
def show(key: str):

    if not _KEY.fullmatch(key):
        abort(404)
    st = state()
    with st.db.connect() as conn:
        edition = edition_db.load_edition(conn, key)
    if edition is None or edition.queued_at is None:
        abort(404)
    cache_key = (edition.key, edition.built_at)
    with st.cache_lock:
        html = st.edition_cache.get(cache_key)
    if html is None:
        rendered = render_variant(edition, st.settings, fmt="html")
        html = fill_slots(rendered.html, generic_slots(st.settings), html=True)
        with st.cache_lock:
            st.edition_cache[cache_key] = html
            while len(st.edition_cache) > _CACHE_SIZE:
                st.edition_cache.popitem(last=False)
    resp = make_response(html)
    resp.headers["Content-Security-Policy"] = EDITION_CSP
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
