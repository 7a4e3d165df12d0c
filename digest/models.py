"""Plain data passed between the pure stages.

No SQL, no I/O: db.py turns rows into these and back. Datetimes are always
timezone-aware and in UTC unless a field says otherwise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

FREQUENCIES = ("daily", "weekly", "monthly")
FORMATS = ("html", "text")
# An enhanced mail system status code (RFC 3463: class.subject.detail, as 5.1.1), wherever it is
# written: a relay's reply, a returned report, the config's `[bounces] permanent`. The one pattern for it.
ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# lapsed: no longer in the membership system's export (`members sync --complete`): not mailed, kept,
# active again when they reappear.
STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained", "lapsed")


@dataclass(frozen=True)
class Topic:
    slug: str
    label: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()  # (language tag, label) for languages other than the first

    def label_in(self, tag: str) -> str:
        """The topic's label in a language: its own for that tag, else the label."""
        return dict(self.labels).get(tag, self.label)


@dataclass(frozen=True)
class ImageSource:
    """One file of an article's picture: where, and its size in px (measured, else declared)."""

    url: str
    width: int = 0
    height: int = 0
    bytes: int = 0  # as fetched; 0 when it could not be fetched
    measured: bool = False  # width/height read from the file itself (else as the source declared)


@dataclass(frozen=True)
class ArticleImage:
    """An article's picture: one or more sizes of it, and its alt text.

    Stored as JSON (articles.image, edition_items.image). `problem` says why
    the picture is left out of emails (no size known, not https, ...).
    """

    alt: str = ""
    sources: tuple[ImageSource, ...] = ()
    problem: str = ""

    @property
    def usable(self) -> bool:
        return not self.problem and any(s.width and s.height for s in self.sources)

    def pick(self, shown_width: int, *, density: float = 1.5) -> ImageSource | None:
        """The smallest sized file at least density x shown_width wide (sharp on
        retina screens), else the widest there is."""
        sized = sorted((s for s in self.sources if s.width and s.height), key=lambda s: s.width)
        if not sized:
            return None
        return next((s for s in sized if s.width >= shown_width * density), sized[-1])

    def to_json(self) -> str:
        return json.dumps({"alt": self.alt, "problem": self.problem,
                           "sources": [[s.url, s.width, s.height, s.bytes, s.measured] for s in self.sources]},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | None) -> "ArticleImage | None":
        if not raw:
            return None
        d = json.loads(raw)
        return cls(alt=d.get("alt", ""), problem=d.get("problem", ""),
                   sources=tuple(ImageSource(u, int(w), int(h), int(b), bool(m)) for u, w, h, b, m in d.get("sources", [])))


# Link origins that are not the story's own page (see docs/glossary.md, "Stand-in link").
STAND_IN_ORIGINS = ("website", "template")


@dataclass
class Article:
    """One news item as ingested from a source (before topic tagging)."""

    title: str
    url: str | None = None
    guid: str | None = None
    author: str | None = None
    author_role: str | None = None
    published_at: datetime | None = None
    categories: list[str] = field(default_factory=list)
    teaser: str | None = None  # plain text or sanitised HTML, as the source gave it
    body: str | None = None  # sanitised HTML
    source: str = ""
    # Where url comes from: "source" (the source gave it), "template" (the
    # source's link_template made it) or "website" (a stand-in: the source's
    # website, for listing exports that carry no links).
    link_origin: str = "source"
    date_unreadable: bool = False  # the source gave a date that cannot be read: store none, the editor places it
    # Filled when the article comes from the database.
    id: int | None = None
    topics: list[str] = field(default_factory=list)
    summary_override: str | None = None
    pinned: bool = False
    excluded: bool = False
    first_seen_at: datetime | None = None
    image: ArticleImage | None = None  # the article's picture, if the source has one
    rank: int | None = None  # the editor's order (the desk's move up/down); None: by date
    topics_by_hand: bool = False  # an editor chose the topics; re-ingest keeps them
    language: str = ""  # the language it is written in (the source's, else its feed's); "": the organisation's first
    translation_id: int | None = None  # the same article in another language
    # Where the source says its translations are (WPML/Polylang): their guids or links, linked when both are in.
    translation_refs: tuple[str, ...] = ()

    @property
    def dedupe_key(self) -> str:
        """guid, else URL (given by the source), else title+author: what makes two items the same article."""
        if self.guid:
            return "guid:" + self.guid.strip()
        if self.url and self.link_origin == "source":
            return "url:" + self.url.strip()
        return "title:" + " ".join(self.title.lower().split()) + "|" + (self.author or "").lower().strip()


@dataclass(frozen=True)
class TopicReason:
    """Why an article carries a topic (for `digest articles --explain`)."""

    slug: str
    reason: str


@dataclass(frozen=True)
class Window:
    """A half-open interval [start, end) of publication times, in UTC."""

    start: datetime
    end: datetime
    key: str  # "2017-W25", "2017-06-21", "2017-06" or "2017-06-01..2017-06-08"
    frequency: str  # daily / weekly / monthly / custom


class TopicSet(tuple):
    """A member's chosen topics, or a variant's: slugs in taxonomy order; empty means all topics.

    The one spelling of "all topics" in code is the empty TopicSet (`TopicSet()`,
    `.is_all`). Text forms exist only at the edges: the database stores "a,b"
    ("" for all; db.schema's encode_topics/decode_topics are the one place that
    converts), people type "all" (members.parse_topics), and a variant's label,
    as in "*:html", is "*" (`label`, `from_label`).
    """

    __slots__ = ()

    def __new__(cls, slugs: Iterable[str] = ()) -> "TopicSet":
        return super().__new__(cls, (s for s in slugs if s))

    @property
    def is_all(self) -> bool:
        return not self

    @property
    def label(self) -> str:
        return ",".join(self) or "*"

    @classmethod
    def from_label(cls, label: str) -> "TopicSet":
        return cls(() if label in ("*", "") else label.split(","))

    def __repr__(self) -> str:
        return f"TopicSet({self.label})"


def same_language(a: str, b: str) -> bool:
    """Two BCP 47 tags of one language ("en-GB" and "en"; "cy" and "CY")."""
    return a.split("-")[0].lower() == b.split("-")[0].lower()


@dataclass(frozen=True)
class Translation:
    """An edition item's article in another language, frozen with the edition."""

    language: str
    title: str
    url: str
    summary: str


@dataclass(frozen=True)
class EditionWords:
    """What the editor wrote for one language: "" means not written (made from the articles)."""

    subject: str = ""
    preheader: str = ""
    note: str = ""

    def any(self) -> bool:
        return bool(self.subject or self.preheader or self.note)


@dataclass(frozen=True)
class EditionItem:
    """An article frozen into an edition: what members will read."""

    article_id: int
    position: int
    title: str
    url: str
    author: str | None
    author_role: str | None
    published_at: datetime
    topics: tuple[str, ...]
    summary: str
    pinned: bool = False
    image: ArticleImage | None = None
    link_origin: str = "source"  # as Article.link_origin: "website"/"template" link to the site, not the story
    language: str = ""  # the article's language; "": the organisation's first
    translations: tuple[Translation, ...] = ()  # the article in other languages

    def in_language(self, tag: str) -> Translation | None:
        """Its translation into `tag`, if there is one."""
        return next((t for t in self.translations if same_language(t.language, tag)), None)

    @property
    def stand_in_link(self) -> bool:
        """The link goes to the source's website (or a guess by its link_template), not to the story itself."""
        return self.link_origin in STAND_IN_ORIGINS


@dataclass
class Edition:
    key: str
    frequency: str
    window: Window
    items: list[EditionItem]
    subject: str = ""
    id: int | None = None
    built_at: datetime | None = None
    preheader: str = ""  # the editor's inbox preview text; "" = made from the titles
    note: str = ""  # the editor's note above the articles (Markdown-lite, see edition.note)
    queued_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    forced_by: str | None = None  # sent although the gate held it: who...
    forced_reason: str | None = None  # ...and why
    kind: str = "edition"  # or an announcement's kind ("news", "statutory"): see models.Announcement
    # The editor's words in the languages after the first, by tag (the first's are subject, preheader, note).
    words: dict[str, EditionWords] = field(default_factory=dict)
    send_time: SendTime | None = None  # approved for a time (`digest edition schedule`); None: when its period is due


@dataclass(frozen=True)
class SendTime:
    """When an edition (any edition row) is to be queued and sent: the wall time the editor chose, in its zone.

    `local` is naive and means wall-clock time in `zone` (an IANA name); `at`
    is the UTC instant it resolves to (digest/edition/sendtime.py), which is
    what `digest run` compares with its clock. 07:00 Europe/London stays 07:00
    London whichever side of a clock change it was chosen on.
    """

    local: datetime
    zone: str
    at: datetime
    by: str = ""  # who set it: an editor's address, or user@host for the command line

    @property
    def local_text(self) -> str:
        """"2027-06-28 07:00": the wall time as stored and as the command line takes it."""
        return self.local.strftime("%Y-%m-%d %H:%M")

    def __str__(self) -> str:
        return f"{self.local_text} {self.zone}"


@dataclass
class Subscriber:
    email: str
    name: str | None = None
    status: str = "active"
    topics: TopicSet = TopicSet()  # empty: all topics
    frequency: str = "weekly"
    format: str = "html"
    consent_source: str | None = None
    consent_at: datetime | None = None
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    left_at: datetime | None = None
    paused: bool = False
    token_version: int = 1
    id: int | None = None
    language: str = ""  # a BCP 47 tag of [organisation] languages; "": not chosen (the organisation's first)
    # What the membership system says beyond the fields above (region, grade...), from a sync.
    attributes: dict[str, str] = field(default_factory=dict)
    updated_at: datetime | None = field(default=None, compare=False)  # bookkeeping, not who they are
    news_announcements: bool = True  # False: no news announcements (statutory notices still come)


@dataclass(frozen=True)
class Rendered:
    """A rendered email: HTML and text, with slot markers still in place."""

    subject: str
    preheader: str
    html: str
    text: str


# Per-member parts of a rendered email. Rendering leaves these markers in place
# (the URL ones look like absolute URLs so MJML and premailer leave them be);
# message/assemble.py fills them per recipient, preview and the web version fill them
# with generic values.
SLOT_MARKERS = {
    "preferences_url": "https://digest.invalid/slot/preferences",
    "unsubscribe_url": "https://digest.invalid/slot/unsubscribe",
    "name": "[[digest:name]]",
}


ANNOUNCEMENT_KINDS = ("news", "statutory")
ANNOUNCEMENT_STATES = ("draft", "approved", "queued")


@dataclass(frozen=True)
class Audience:
    """Who an announcement is for, as an editor wrote it (see editorial/announcements.py for the syntax).

    kind "all": every active member; "topics": members with any of `topics`
    (members who chose all topics included); "attr": members whose attributes
    match every (key, value) of `attributes`; "saved": the saved audience `name`.
    """

    kind: str
    topics: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    name: str = ""

    @property
    def spec(self) -> str:
        """The one spelling of this audience, as stored and as typed: "all", "topics:a,b", "attr:k=v,k2=v2"."""
        if self.kind == "topics":
            return "topics:" + ",".join(self.topics)
        if self.kind == "attr":
            return "attr:" + ",".join(f"{k}={v}" for k, v in self.attributes)
        if self.kind == "saved":
            return "saved:" + self.name
        return "all"


@dataclass
class Announcement:
    """A one-off message an editor composes; once queued it is sent as the edition row `edition_id`."""

    subject: str
    body: str  # Markdown-lite: paragraphs, links, "## " headings, "- " and "1. " lists (edition.body)
    audience: str  # an Audience spec
    preheader: str = ""
    kind: str = "news"  # news or statutory
    cta_label: str = ""
    cta_url: str = ""
    picture_url: str = ""
    picture_alt: str = ""
    picture_width: int = 0  # as measured when the picture was set (0: not measured)
    picture_height: int = 0
    articles: tuple[int, ...] = ()  # stored articles shown after the body, in this order
    public: bool = False  # shown in the public archive once queued
    state: str = "draft"  # draft, approved, queued
    id: int | None = None
    created_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    queued_at: datetime | None = None
    edition_id: int | None = None
    send_time: SendTime | None = None  # approved for this time: `digest run` queues and sends it then

    @property
    def key(self) -> str:
        """The key of the edition row it is sent as (what `digest report` and `digest status` show)."""
        return f"announcement-{self.id}"
