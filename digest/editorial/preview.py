"""The editor's preview: which edition, which variant, rendered as it will be sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ..checks import Failure
from ..checks.edition import SampleMessage, check_edition, image_weights, sample_messages, sample_recipient
from ..checks.message import check_message
from ..config import Settings
from ..db import Database
from ..db import members as member_db
from ..db.editions import load_edition
from ..edition.periods import parse_period, previous_period, window_between
from ..edition.render import fill_slots, render_variant
from ..edition.variants import plan_variant, variant_language
from ..edition.wording import shown_items
from ..errors import SelectionError, SubscriberError
from ..i18n import language
from ..members import check_language
from ..message.assemble import Recipient, name_slot
from ..message.links import Links
from ..message.outgoing import Outgoing
from ..models import Edition, EditionItem, Rendered, TopicSet, Window
from .candidates import plan_edition

BILINGUAL = "bilingual"  # the language a preview asks for to get the bilingual email (desk and --language)


@dataclass
class PreviewRequest:
    key: str | None = None
    week: str | None = None
    day: str | None = None
    month: str | None = None
    since: str | None = None
    until: str | None = None
    topics: tuple[str, ...] | None = None
    member: str | None = None  # an address: exactly the variant this member gets
    fmt: str = "html"
    language: str | None = None  # a tag of [organisation] languages or "bilingual"; None: the member's, else the first


@dataclass
class PreviewResult:
    edition: Edition
    items: list[EditionItem]
    rendered: Rendered
    body: str  # what --out gets: the HTML part, or the text part, slots filled
    html_filled: str
    tz: ZoneInfo
    fmt: str = "html"  # what body holds: the member's format may be text
    member: str | None = None  # an address: exactly the variant this member gets
    warnings: list[str] = field(default_factory=list)
    text_filled: str = ""  # the text part, slots filled (what --text writes), whatever the format


def resolve_window(settings: Settings, req: PreviewRequest, *, now: datetime, default: str = "weekly") -> Window:
    """The window an edition command names: KEY, --week/--day/--month, --since/--until, or the last period."""

    given = [v for v in (req.key, req.week, req.day, req.month) if v]
    if len(given) > 1 or (given and (req.since or req.until)):
        raise SelectionError("give one of KEY, --week, --day, --month or --since/--until")
    if given:
        return parse_period(given[0], settings.timezone)
    if req.since or req.until:
        if not (req.since and req.until):
            raise SelectionError("--since and --until go together")
        return window_between(req.since, req.until, settings.timezone)
    return previous_period(default, now, settings.timezone)


def generic_slots(settings: Settings) -> dict[str, str]:
    """Slot values for a copy that belongs to nobody (preview, web version)."""
    return {
        "preferences_url": f"{settings.base_url}/preferences/example",
        "unsubscribe_url": f"{settings.base_url}/unsubscribe/example",
        "name": "",
    }


def member_slots(settings: Settings, subscriber_id: int, token_version: int, name: str | None) -> dict[str, str]:

    links = Links(settings.secret_key, settings.base_url)
    return {
        "preferences_url": links.preferences_url(subscriber_id, token_version),
        "unsubscribe_url": links.unsubscribe_url(subscriber_id, token_version),
        "name": name_slot(name),  # cleaned exactly as the sent message cleans it
    }


def find_edition(db: Database, settings: Settings, window: Window, topics=None) -> Edition:
    """The built edition for the window's key, else one planned now (not saved)."""

    with db.connect() as conn:
        edition = load_edition(conn, window.key)
    if edition is None:
        return plan_edition(db, settings, window, topics=topics)
    edition.warnings = [] if edition.items else [f"edition {edition.key} was built with no articles"]
    return edition


def preview_language(settings: Settings, wanted: str | None) -> str:
    """The variant language a preview asks for: a configured tag ("" for the first), "bilingual" (the email
    of members who have not chosen, in bilingual mode), or None/"" (the member's, else the first)."""
    if not wanted:
        return ""
    if wanted == BILINGUAL:
        if settings.language_mode != "bilingual":
            raise SubscriberError("--language", 'bilingual: [organisation] language_mode is not "bilingual"')
        return settings.unchosen_language
    tag = check_language(wanted, settings.languages, email="--language")
    return "" if tag == settings.language else tag


def make_preview(db: Database, settings: Settings, req: PreviewRequest, *, now: datetime) -> PreviewResult:
    """The email of an edition as it will be sent: to a member, to members of some topics, or to all topics.

    A member's or some topics' copy is the variant queueing plans for them
    (edition.variants.plan_variant over the whole edition), so what is
    previewed is what is sent, article for article.
    """
    window = resolve_window(settings, req, now=now)
    edition = find_edition(db, settings, window)
    fmt = req.fmt
    slots = generic_slots(settings)
    member = None
    chosen = req.topics
    lang = preview_language(settings, req.language)
    if req.member:
        with db.connect() as conn:
            sub = member_db.get_by_email(conn, req.member)
        if sub is None:
            raise SubscriberError(req.member, "no such member")
        chosen = sub.topics
        if sub.format == "text":
            fmt = "text"
        slots = member_slots(settings, sub.id, sub.token_version, sub.name)
        member = sub
        if not req.language:  # the language asked for wins over the member's
            lang = variant_language(sub.language, settings.languages, settings.unchosen_language)
    items, member_topics = list(edition.items), TopicSet()
    if chosen is not None:
        plan = plan_variant(TopicSet(chosen), fmt, edition.items, settings.topic_slugs, lang)
        items, member_topics = (list(plan.items), plan.member_topics) if plan else ([], TopicSet(chosen))
    rendered = render_variant(edition, settings, items=items, member_topics=member_topics,
                              fmt="html", lang=lang, reuse=True)  # previewed again and again, each a new process
    warnings = list(edition.warnings)
    if req.member and not items:
        warnings.append(f"{req.member} would get nothing from {edition.key}: no article in their topics")
    elif chosen is not None and not items and edition.items:
        warnings.append(f"no article of {edition.key} is in those topics: members who chose only them get nothing")
    if items:
        own = shown_items(items, language(lang or settings.language), settings.language)  # translations' links
        warnings += [f"check: {f}" for f in preview_checks(settings, edition, own, rendered, fmt, member, now)]
    html_filled = fill_slots(rendered.html, slots, html=True)
    text_filled = fill_slots(rendered.text, slots, html=False)
    return PreviewResult(
        edition=edition, items=items, rendered=rendered,
        body=text_filled if fmt == "text" else html_filled, html_filled=html_filled,
        tz=ZoneInfo(settings.timezone), fmt=fmt, member=req.member, warnings=warnings,
        text_filled=text_filled,
    )


def preview_checks(settings: Settings, edition: Edition, items, rendered: Rendered, fmt: str, member, now):
    """The deliverability checks on the message this preview stands for (as `digest check` runs them)."""
    out = Outgoing(settings)
    who = Recipient(0, member.id, member.email, member.name, member.token_version) if member else sample_recipient()
    message = out.digest(out.template(rendered, edition_key=edition.key, fmt=fmt), who, date=now)
    return check_message(message, settings, article_titles=[i.title for i in items],
                         article_urls=[i.url for i in items], image_bytes=image_weights(items))


def edition_for_key(db: Database, settings: Settings, key: str, *, now: datetime) -> Edition:
    """The edition a key names: built (as frozen), else as `edition build` would make it now.

    A queued announcement's row ("announcement-4") is named by its key too, so `digest check` checks it.
    """
    if key.startswith("announcement-"):
        with db.connect() as conn:
            found = load_edition(conn, key)
        if found is not None:
            return found
    return find_edition(db, settings, resolve_window(settings, PreviewRequest(key=key), now=now))


def check_key(db: Database, settings: Settings, key: str, *, now: datetime) -> dict[str, list[Failure]]:
    """`digest check KEY`: every variant of the edition a key names, checked (see checks.edition)."""
    return check_edition(db, settings, edition_for_key(db, settings, key, now=now), now=now)


def samples_for_key(db: Database, settings: Settings, key: str, *, now: datetime) -> dict[str, SampleMessage]:
    """Every variant of the edition a key names, as a sample member would get it."""
    return sample_messages(db, settings, edition_for_key(db, settings, key, now=now), now=now)
