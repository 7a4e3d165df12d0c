"""The week as the edition desk shows it, and the editor's controls that need more than one row.

No rules of its own for choosing: the selection and the summaries are
candidates.plan_edition's (the call `digest preview` and `digest edition
build` make); load_week lays them out beside the articles that did not fit or
were excluded, with each one's topic reasons and the warnings an editor acts
on. move_article and set_topics are the desk's "move up/down" and "set topics".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

from ..config import Settings
from ..db import Database
from ..db import articles as article_db
from ..db import editions as edition_db
from ..db import sources as sources_db
from ..db.sources import SourceHealth
from ..db.editions import EditionText
from ..edition.periods import parse_period, period_label, previous_period
from ..edition.render import preheader_for, subject_for
from ..edition.selection import candidates
from ..edition.summarise import summarise
from ..edition.topics import classify
from ..i18n import language, locale_of
from ..ingest.listing import slugify
from ..models import Article, Edition, EditionWords, TopicReason, Window
from .candidates import plan_edition
from .gate import gate_problems
from .text import missing_lines, missing_words

TOO_SHORT = 8  # words: fewer reads as a fragment, not a summary
ELLIPSIS = "\u2026"


@dataclass
class Row:
    article: Article
    state: str  # "in" (in the edition), "left-out" (did not fit), "excluded"
    position: int | None  # 1-based place in the edition
    summary: str
    words: int
    warnings: list[str]
    reasons: list[TopicReason]
    source: str
    can_up: bool = False
    can_down: bool = False


@dataclass(frozen=True)
class LanguageWords:
    """One language's column of the edition's words on the desk."""

    tag: str
    name: str  # in the desk's language (the first): "Welsh"
    lang: str  # its language subtag, for the fields' lang attribute
    words: EditionWords


def language_name(tag: str, desk: str) -> str:
    """A language's name in the desk's language (the organisation's first): "Welsh", "Cymraeg"."""
    return language(desk).locale.languages.get(locale_of(tag).language) or tag


def other_words(text: EditionText, settings: Settings) -> list[LanguageWords]:
    """The languages after the first, each with the words the editor wrote in it."""
    return [LanguageWords(tag, language_name(tag, settings.language), locale_of(tag).language,
                          text.in_language(tag, settings.language)) for tag in settings.languages[1:]]


@dataclass
class Week:
    window: Window
    label: str
    rows: list[Row]
    edition: Edition  # as planned now (what `digest preview` shows when nothing is built)
    built: Edition | None  # the stored edition, if built
    changed_since_build: bool
    text: EditionText  # what the editor wrote (subject, preheader, note); "" = made from the articles
    default_subject: str  # what the subject is when the editor writes none
    default_preheader: str
    warnings: list[str] = field(default_factory=list)
    prev_key: str | None = None
    next_key: str | None = None
    sources: list[tuple[str, str, SourceHealth | None]] = field(default_factory=list)  # (name, location, health)
    held: list[str] = field(default_factory=list)  # why `digest weekly` would hold it now ([]: it may go)
    # The configured languages after the first, each with the editor's words in it (the desk's columns).
    other_words: list[LanguageWords] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # a word written in the first language, not in another

    @property
    def order(self) -> list[int]:
        """Article ids in the order shown (edition first, then what did not fit): what move up/down moves in."""
        return [r.article.id for r in self.rows if r.state != "excluded"]


def window_for(settings: Settings, key: str | None, *, now: datetime) -> Window:
    """The period a desk page names (a week, day or month key); default: the week `digest weekly` sends next."""
    if key:
        return parse_period(key.strip(), settings.timezone)
    return previous_period("weekly", now, settings.timezone)


def neighbours(window: Window, tz: str) -> tuple[str | None, str | None]:
    if window.frequency not in ("daily", "weekly", "monthly"):
        return None, None
    ahead = {"daily": 1, "weekly": 7, "monthly": 35}[window.frequency]
    before = previous_period(window.frequency, window.start, tz)
    after = previous_period(window.frequency, window.end + timedelta(days=ahead), tz)
    return before.key, after.key


def summary_warnings(article: Article, summary: str, budget: int, website: str) -> list[str]:
    """What an editor should look at in a summary, in words."""
    out = []
    words = len(summary.split())
    if not summary.strip():
        out.append("No summary: the article has no teaser or body text to make one from.")
    elif words > budget:
        out.append(f"Over the budget: {words} words, the budget is {budget}.")
    elif words < TOO_SHORT:
        out.append(f"Too short: {words} word(s).")
    if summary.rstrip().endswith((ELLIPSIS, "...")):
        out.append("Cut off mid-thought: it ends with “…”. Edit it to end on a full sentence.")
    fold = lambda s: re.sub(r"\W+", " ", s).strip().casefold()  # noqa: E731
    if summary.strip() and fold(article.title) and fold(summary).startswith(fold(article.title)):
        out.append("Repeats the title.")
    if not article.url:
        out.append("No link: members cannot read the whole article.")
    elif website and article.url == urljoin(website if website.endswith("/") else website + "/",
                                            slugify(article.title) + "/"):
        out.append("Guessed link: the listing export had none, so it was made from the title. Check that it works.")
    return out


def translation_note(article: Article, position: dict[int, int]) -> list[str]:
    """An article left out because its translation is in the edition: it goes in that one's place."""
    if article.id in position or article.translation_id not in position:
        return []
    return [f"The translation of article {article.translation_id} (number {position[article.translation_id]} "
            f"in the edition): members who read {article.language or 'its language'} get it in that one's place."]


def source_of(article: Article) -> str:
    host = urlsplit(article.url or "").hostname
    if host:
        return host.removeprefix("www.")
    return (article.source or "").rsplit("/", 1)[-1] or "unknown source"


def load_week(db: Database, settings: Settings, window: Window) -> Week:
    edition = plan_edition(db, settings, window)
    with db.connect() as conn:
        found = article_db.list_articles(conn, since=window.start, until=window.end)
        reasons = article_db.topic_reasons(conn, [a.id for a in found])
        built = edition_db.load_edition(conn, window.key)
        text = edition_db.load_text(conn, window.key)
        health = sources_db.load_all(conn)
    by_id = {a.id: a for a in found}
    position = {item.article_id: n for n, item in enumerate(edition.items, 1)}
    rest = [a for a in candidates(found, window) if a.id not in position]
    ordered = [by_id[i.article_id] for i in edition.items] + rest + [a for a in found if a.excluded]
    rows = []
    for a in ordered:
        summary = summarise(a, settings.summary_words)
        rows.append(Row(
            article=a,
            state="excluded" if a.excluded else "in" if a.id in position else "left-out",
            position=position.get(a.id),
            summary=summary,
            words=len(summary.split()),
            warnings=summary_warnings(a, summary, settings.summary_words, settings.website)
            + translation_note(a, position),
            reasons=reasons.get(a.id, []),
            source=source_of(a),
        ))
    movable = [r for r in rows if r.state != "excluded"]
    for n, r in enumerate(movable):
        r.can_up = n > 0 and movable[n - 1].article.pinned == r.article.pinned
        r.can_down = n + 1 < len(movable) and movable[n + 1].article.pinned == r.article.pinned
    planned = replace(edition, subject="", preheader="")
    default_subject = subject_for(planned, settings)
    default_preheader = preheader_for(planned, edition.items) if edition.items else ""
    changed = built is not None and (
        [(i.article_id, i.summary, tuple(i.topics)) for i in built.items]
        != [(i.article_id, i.summary, tuple(i.topics)) for i in edition.items]
        or (built.subject, built.preheader, built.note, built.words) != (
            subject_for(edition, settings), edition.preheader, edition.note, edition.words))
    prev_key, next_key = neighbours(window, settings.timezone)
    queued = built is not None and built.queued_at is not None
    held = [] if queued else gate_problems(db, settings, window, last_failures(settings, health),
                                           len(built.items if built is not None else edition.items))
    return Week(window=window, label=period_label(window, settings.timezone), rows=rows, edition=edition,
                built=built, changed_since_build=changed, text=text, default_subject=default_subject,
                default_preheader=default_preheader, warnings=list(edition.warnings),
                prev_key=prev_key, next_key=next_key, held=held, other_words=other_words(text, settings),
                missing=missing_lines(window.key, missing_words(text.in_language(settings.language, settings.language),
                                                                text.words, settings.languages)),
                sources=[(s.name, s.location, health.get(s.name)) for s in settings.sources])


def moved(order: list[int], pinned: dict[int, bool], article_id: int, direction: str) -> dict[int, int] | None:
    """Ranks for the shown order with one article moved a place up or down (within its pinned group).

    None when it cannot move that way. Every article shown gets a rank, so the
    order on the page is the order selection uses from now on.
    """
    if article_id not in order:
        return None
    i = order.index(article_id)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(order) or pinned[order[j]] != pinned[article_id]:
        return None
    new = list(order)
    new[i], new[j] = new[j], new[i]
    return {a: n for n, a in enumerate(new)}


def last_failures(settings: Settings, health: dict[str, SourceHealth]) -> dict[str, str]:
    """Configured sources whose last fetch failed: {name: error} (what the gate holds an edition for)."""
    return {s.name: h.last_error for s in settings.sources if (h := health.get(s.name)) and h.last_error}


def failed_sources(db: Database, settings: Settings) -> dict[str, str]:
    with db.connect() as conn:
        return last_failures(settings, sources_db.load_all(conn))


def move_ranks(db: Database, settings: Settings, window: Window, article_id: int,
               direction: str) -> tuple[dict[int, int], list[int]] | None:
    """(ranks to store, the order before) for moving an article one place up or down; None if it cannot.

    The caller stores the ranks (db.articles.set_ranks) in the transaction that records the action.
    """
    week = load_week(db, settings, window)
    ranks = moved(week.order, {r.article.id: r.article.pinned for r in week.rows}, article_id, direction)
    return None if ranks is None else (ranks, week.order)


def topic_reasons(settings: Settings, article: Article, slugs: list[str] | None, *, by: str) -> list[TopicReason]:
    """Topics chosen by hand (with who chose them), or for None the classifier's again."""
    if slugs is None:
        return classify(article, settings.topics)
    return [TopicReason(t, f"set by hand by {by}") for t in settings.topic_slugs if t in slugs]
