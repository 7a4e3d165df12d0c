"""An edition's candidates from the database, chosen and summarised: an edition planned (not saved).

The stages themselves are pure (selection, summarise); this module reads the
database around them.
"""

from __future__ import annotations

from typing import Collection, Sequence

from ..config import Settings
from ..db import Database
from ..db import articles as article_db
from ..db import editions as edition_db
from ..edition.selection import select
from ..edition.summarise import summarise
from ..models import Article, Edition, EditionItem, Window


def plan_edition(
    db: Database,
    settings: Settings,
    window: Window,
    *,
    topics: Collection[str] | None = None,
) -> Edition:
    """Choose and summarise the articles of a window, with the editor's words: an edition not yet saved."""

    with db.connect() as conn:
        candidates = article_db.list_articles(conn, since=window.start, until=window.end)
        words = edition_db.load_text(conn, window.key)  # `digest edition set`: subject, preheader, note
    chosen = select(candidates, window, topics=topics, size=settings.edition_size)
    items = [edition_item(a, pos, summarise(a, settings.summary_words)) for pos, a in enumerate(chosen)]
    edition = Edition(key=window.key, frequency=window.frequency, window=window, items=items,
                      subject=words.subject, preheader=words.preheader, note=words.note)
    edition.warnings = edition_warnings(chosen, candidates, window)
    return edition


def edition_item(article: Article, position: int, summary: str) -> EditionItem:
    assert article.id is not None and article.published_at is not None
    return EditionItem(
        article_id=article.id,
        position=position,
        title=article.title,
        url=article.url or "",
        author=article.author,
        author_role=article.author_role,
        published_at=article.published_at,
        topics=tuple(article.topics),
        summary=summary,
        pinned=article.pinned,
        image=article.image,
        link_origin=article.link_origin,
    )


def edition_warnings(chosen: Sequence[Article], candidates: Sequence[Article], window: Window) -> list[str]:
    warnings = []
    if not chosen:
        warnings.append(f"no articles in {window.key}: nothing would be sent")
    for a in chosen:
        if not (a.teaser or "").strip() and not a.summary_override:
            warnings.append(f"article {a.id} “{a.title}” has no teaser: its summary comes from the body")
        if not a.url:
            warnings.append(f"article {a.id} “{a.title}” has no link")
        elif a.link_origin == "website":
            warnings.append(f"article {a.id} “{a.title}” links to its source's website ({a.url}): "
                            "the source gave no link of its own")
        if not a.topics:
            warnings.append(f"article {a.id} “{a.title}” has no topic: only members who chose all topics get it")
    left_out = len([a for a in candidates if not a.excluded]) - len(chosen)
    if left_out > 0 and chosen:
        warnings.append(f"{left_out} more article(s) in {window.key} did not fit the edition size")
    return warnings
