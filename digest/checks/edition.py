"""Every variant of an edition, assembled for a sample member and checked.

The send pre-flight (sending.worker refuses an edition whose messages fail)
and `digest check KEY` both come through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from ..config import Settings
from ..db import Database
from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..edition.clicks import article_urls
from ..edition.render import render_plan
from ..edition.variants import plan_variant, variant_language
from ..errors import RenderError
from ..message.assemble import Recipient
from ..message.outgoing import Outgoing
from ..models import Edition, TopicSet
from . import Failure
from .message import check_message

SAMPLE_EMAIL, SAMPLE_NAME = "sample.member@example.org", "Siân Member"


@dataclass(frozen=True)
class SampleMessage:
    """One variant of an edition as a sample member would get it."""

    message: bytes  # b"" if it could not be made
    titles: tuple[str, ...]  # the variant's articles, which its text part must carry
    urls: tuple[str, ...]
    error: str = ""  # why it could not be made (a RenderError)
    image_bytes: Mapping[str, int] = field(default_factory=dict)  # the pictures' weights, by URL


def sample_recipient() -> Recipient:
    return Recipient(delivery_id=0, subscriber_id=0, email=SAMPLE_EMAIL, name=SAMPLE_NAME, token_version=1)


def sample_messages(db: Database, settings: Settings, edition: Edition, *, now: datetime) -> dict[str, SampleMessage]:
    """Every variant of an edition, assembled for a sample member and DKIM-signed if configured.

    The variants are those already rendered for it (when it is built), those
    its due members need (topic combinations x formats), and always the
    all-topics html and text variants. Keys are "topics:format" ("*:html",
    "cyber-security:text"). An edition without articles has no variants ({}).
    """
    if edition.kind != "edition":
        return _announcement_samples(db, settings, edition, now=now)
    if not edition.items:
        return {}
    # Every language's all-topics variants, and every variant a due member needs or that is stored.
    every = [*settings.languages, ""]  # and the bilingual variant of members who have not chosen, if any
    wanted: list[tuple[TopicSet, str, str]] = [
        (TopicSet(), fmt, variant_language(tag, settings.languages, settings.unchosen_language))
        for tag in every for fmt in ("html", "text")]
    stored = {}
    with db.connect() as conn:
        wanted += [(topics, fmt, variant_language(lang, settings.languages, settings.unchosen_language))
                   for topics, fmt, lang, _ in delivery_db.due_combinations(conn, edition.frequency, by_language=True)]
        if edition.id is not None:
            for v in edition_db.list_variants(conn, edition.id):
                stored[(v.topics, v.format, v.language)] = v.rendered
                wanted.append((v.topics, v.format, v.language))
    out_maker = Outgoing(settings)
    sample = sample_recipient()
    out: dict[str, SampleMessage] = {}
    for topics, fmt, lang in wanted:
        plan = plan_variant(topics, fmt, edition.items, settings.topic_slugs, lang)
        if plan is None or plan.label in out:
            continue
        titles = tuple(i.title for i in plan.items)
        urls = tuple(article_urls(settings, edition, plan.items, plan.member_topics, fmt))
        try:
            rendered = stored.get((plan.key, fmt, plan.lang)) or render_plan(edition, settings, plan)
            template = out_maker.template(rendered, edition_key=edition.key, fmt=fmt)
        except RenderError as exc:
            out[plan.label] = SampleMessage(b"", titles, urls, str(exc))
            continue
        out[plan.label] = SampleMessage(out_maker.digest(template, sample, date=now), titles, urls,
                                        image_bytes=image_weights(plan.items))
    return out


def _announcement_samples(db: Database, settings: Settings, edition: Edition, *,
                          now: datetime) -> dict[str, SampleMessage]:
    """An announcement's variants are all rendered when it is queued (one per format and language): those."""
    with db.connect() as conn:
        stored = edition_db.list_variants(conn, edition.id) if edition.id is not None else []
    out_maker, sample = Outgoing(settings), sample_recipient()
    titles = tuple(i.title for i in edition.items)
    urls = tuple(i.url for i in edition.items)
    return {f"*:{v.format}" + (f":{v.language}" if v.language else ""): SampleMessage(
        out_maker.digest(out_maker.template(v.rendered, edition_key=edition.key, fmt=v.format), sample, date=now),
        titles, urls, image_bytes=image_weights(edition.items)) for v in stored}


def check_edition(db: Database, settings: Settings, edition: Edition, *, now: datetime) -> dict[str, list[Failure]]:
    """Every variant of an edition (see sample_messages), checked; keys "topics:format"."""
    samples = sample_messages(db, settings, edition, now=now)
    if not samples:
        return {"*:html": [Failure("no-articles", f"edition {edition.key} has no articles: nothing would be sent")]}
    return {
        name: [Failure("render", s.error)] if s.error else
        check_message(s.message, settings, article_titles=s.titles, article_urls=s.urls, image_bytes=s.image_bytes)
        for name, s in samples.items()
    }


def image_weights(items) -> dict[str, int]:
    """URL -> bytes of every measured file of the items' pictures (for the image-weight check)."""
    return {src.url: src.bytes for it in items if it.image is not None for src in it.image.sources if src.bytes}
