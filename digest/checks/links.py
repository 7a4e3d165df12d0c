"""Links in an edition that its sources did not give (listing exports carry none)."""

from __future__ import annotations

from ..db import Database
from ..db import articles as article_db
from ..models import Edition
from . import short

WHY = {
    "website": "links to its source's website: the source gave no link of its own",
    "template": "links where the source's link_template says: the source gave no link of its own",
}


def links_not_from_sources(db: Database, edition: Edition) -> list[str]:
    """One warning per article of the edition whose link its source did not give."""
    with db.connect() as conn:
        origins = article_db.link_origins(conn, [i.article_id for i in edition.items])
    return [f"edition {edition.key}: “{short(i.title)}” {WHY[origins[i.article_id]]} ({i.url})"
            for i in edition.items if origins.get(i.article_id, "source") in WHY]
