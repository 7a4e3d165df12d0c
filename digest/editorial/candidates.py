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
from ..models import Article, Edition, EditionItem, Translation, Window


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
        candidates, translations = _translations(conn, candidates)
    chosen = select(candidates, window, topics=topics, size=settings.edition_size)
    items = [edition_item(a, pos, summarise(a, settings.summary_words), translations.get(a.id), settings)
             for pos, a in enumerate(chosen)]
    edition = Edition(key=window.key, frequency=window.frequency, window=window, items=items,
                      subject=words.subject, preheader=words.preheader, note=words.note, words=dict(words.words))
    edition.warnings = edition_warnings(chosen, candidates, window)
    return edition


def _translations(conn, candidates: list[Article]) -> tuple[list[Article], dict[int, Article]]:
    """The candidates with one article of each translated pair (the one in the organisation's first
    language, else the older), and each kept article's translation (read when it is outside the window)."""
    by_id = {a.id: a for a in candidates}
    linked = [a for a in candidates if a.translation_id is not None]
    missing = [a.translation_id for a in linked if a.translation_id not in by_id]
    others = {a.id: a for a in article_db.list_articles(conn, ids=missing)} if missing else {}
    dropped, translations = set(), {}
    for a in linked:
        if a.id in dropped:
            continue
        other = by_id.get(a.translation_id) or others.get(a.translation_id)
        if other is None or other.excluded:
            continue
        if other.id in by_id and (a.language, a.id) > (other.language, other.id):  # "" (the first) sorts first
            continue  # the other one is kept, with this one as its translation
        dropped.add(other.id)
        translations[a.id] = other
    return [a for a in candidates if a.id not in dropped], translations


def edition_item(article: Article, position: int, summary: str, translation: Article | None = None,
                 settings: Settings | None = None) -> EditionItem:
    assert article.id is not None and article.published_at is not None
    translated = ()
    if translation is not None and settings is not None:
        translated = (Translation(translation.language or settings.language, translation.title,
                                  translation.url or "", summarise(translation, settings.summary_words)),)
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
        language=article.language,
        translations=translated,
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
