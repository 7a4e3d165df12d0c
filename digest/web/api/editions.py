"""/api/v1/editions and /api/v1/sources: read-only, from the same functions as `digest report` and `sources list`."""

from __future__ import annotations

from ...db import editions as edition_db
from ...db import sources as source_db
from ...editorial.report import edition_report
from ...models import Edition as EditionModel
from ..common import state
from .routing import ApiProblem, Call, decode_cursor, encode_cursor, route
from .schemas import Edition, EditionDetail, EditionPage, PageQuery, Report, Source, SourceList


def _edition(e: EditionModel) -> dict:
    return {"key": e.key, "frequency": e.frequency, "subject": e.subject, "window_start": e.window.start,
            "window_end": e.window.end, "built_at": e.built_at, "queued_at": e.queued_at, "articles": len(e.items)}


@route("GET", "/editions", scope="editions:read", ok=(200, EditionPage), query=PageQuery, tag="editions")
def list_editions(call: Call):
    """Editions, newest window first."""
    q: PageQuery = call.query
    after = decode_cursor(q.cursor)
    with state().db.connect() as conn:
        found = sorted(edition_db.list_editions(conn), key=lambda e: (e.window.start, e.key), reverse=True)
    keys = [e.key for e in found]
    if after is not None and after not in keys:
        raise ApiProblem(422, "invalid", "cursor: not a cursor this API gave")
    start = keys.index(after) + 1 if after is not None else 0
    chunk = found[start:start + q.limit]
    more = start + q.limit < len(found)
    return 200, EditionPage(data=[Edition(**_edition(e)) for e in chunk],
                            next_cursor=encode_cursor(chunk[-1].key) if more and chunk else None)


@route("GET", "/editions/{key}", scope="editions:read", ok=(200, EditionDetail), tag="editions")
def get_edition(call: Call):
    """One edition with its report (delivered, failed, bounced, complaints, unsubscribes, reads)."""
    st = state()
    with st.db.connect() as conn:
        e = edition_db.load_edition(conn, call.path["key"][:40])
    if e is None or e.kind != "edition":  # an announcement's edition row is not an edition of a period
        raise ApiProblem(404, "not-found", "no edition with this key")
    report = None
    if e.queued_at is not None:
        report = Report.model_validate(edition_report(st.db, st.settings, e.key).as_dict())
    return 200, EditionDetail(**_edition(e), report=report)


@route("GET", "/sources", scope="sources:read", ok=(200, SourceList), tag="sources")
def list_sources(call: Call):
    """The configured sources with their health, as `digest sources list` shows it."""
    st = state()
    with st.db.connect() as conn:
        health = source_db.load_all(conn)
    out = []
    for src in st.settings.sources:
        h = health.get(src.name) or source_db.SourceHealth(src.name, src.url or src.path or "")
        out.append(Source(name=src.name, location=h.location, kind=h.kind, healthy=bool(h.last_fetched_at) and
                          not h.last_error, last_fetched_at=h.last_fetched_at, last_success_at=h.last_success_at,
                          last_error=h.last_error, items_last_seen=h.items_last_seen, newest_item_at=h.newest_item_at))
    return 200, SourceList(data=out)
