"""Announcements: one-off messages an editor composes for an audience, sent by the digest's own machinery.

Why an announcement is sent as an edition row (editions.kind "news" or
"statutory"): deliveries, variants and the sender's leases all hang on an
edition id, so queueing one as an edition row gives it, unchanged, the
once-only guarantee, the kill -9 resume, DKIM, the member's own preference and
one-click unsubscribe links, `digest report` and `digest status`. What is
particular to it (body, audience, kind, state) is in the `announcements` table.

The library the CLI and the desk call (names kept stable):

    a = create_announcement(db, settings, Announcement(subject=..., body=..., audience="attr:region=Wales"),
                            by="editor@example.org", now=now)
    a = edit_announcement(db, settings, a.id, {"subject": "..."}, by=..., now=now)   # back to draft
    get_announcement(db, id); list_announcements(db)
    audience_count(db, a.audience, a.kind)              # the members it would reach now
    rendered = render_preview(db, settings, a.id, fmt="html", lang="", now=now)   # slots filled, generic
    variant_previews(db, settings, a.id, now=now)       # {"html": Rendered, "text:cy": ...}: every variant
    send_test_announcement(db, settings, a.id, "me@example.org", transport, fmt="html", now=now)
    approve_announcement(db, a.id, by=..., now=now)      # withdraw_announcement(...) takes it back to draft
    report = queue_announcement(db, settings, a.id, by=..., now=now)   # then `digest send` sends it
    schedule_announcement(db, settings, a.id, "2027-06-28 07:00", zone=None, by=..., now=now)  # approved: a time
    unschedule_announcement(db, a.id, by=..., now=now)  # take the time back (editing or withdrawing does too)
    queue_due_announcements(db, settings, now=now)      # `digest run`: queue every one whose time has come
    write_evidence_csv(db, a.id, path)                  # statutory notices: who, when, the relay's answer
    save_audience(db, "fellows-wales", "attr:region=Wales,grade=fellow", by=..., now=now)
    saved_audiences(db)

Audience syntax (one spelling, models.Audience.spec):
    all                          every active member
    topics:policy,events         members with any of these topics (a member who chose all topics has them)
    attr:region=Wales,grade=fellow   members whose attributes match every pair (CSV import, membership sync)
    saved:NAME                   an audience saved under NAME
Whatever the audience, only active, unpaused members; a news announcement
also skips members who turned news announcements off; a statutory notice
does not (but never reaches a member who unsubscribed: they are not active).
"""

from __future__ import annotations

import csv
import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Mapping

from ..config import Settings
from ..db import Database
from ..db import announcements as ann_db
from ..db import articles as article_db
from ..db import editions as edition_db
from ..db import editors as editor_db
from ..edition.announcement import render_announcement
from ..edition.body import body_problem
from ..edition.render import PREHEADER_MAX, PREHEADER_MIN, fill_slots
from ..edition.summarise import summarise
from ..edition.variants import variant_language
from ..edition.sendtime import resolve_send_time
from ..errors import AnnouncementError, EditionError
from ..ingest.images import FetchFailed, fetch_size
from ..members import normalise_email
from ..message.assemble import Recipient
from ..message.outgoing import Outgoing
from ..outbound import for_settings
from ..models import (ANNOUNCEMENT_KINDS, Announcement, Audience, Edition, EditionItem, Rendered, SendTime, TopicSet,
                      Window)
from ..sending.transports import Envelope, SendResult, Transport
from .candidates import edition_item
from .preview import generic_slots
from .schedule import audit_detail

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")  # a saved audience's name
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # an attribute's key (it goes into a JSON path)
EDITABLE = ("subject", "preheader", "body", "cta_label", "cta_url", "picture_url", "picture_alt", "articles",
            "audience", "kind", "public")


# ---- audiences -------------------------------------------------------------------


def parse_audience(text: str, settings: Settings) -> Audience:
    """An audience as typed (see the module's docstring); AnnouncementError("audience", why) if it is wrong."""
    spec = (text or "").strip()
    kind, _, rest = spec.partition(":")
    if spec == "all":
        return Audience("all")
    if kind == "topics":
        topics = tuple(dict.fromkeys(t.strip() for t in rest.split(",") if t.strip()))
        unknown = [t for t in topics if t not in settings.topic_slugs]
        if not topics or unknown:
            why = f"unknown topic {unknown[0]!r}" if unknown else "names no topic"
            raise AnnouncementError("audience", f"{spec!r}: {why}; topics are {', '.join(settings.topic_slugs)}")
        return Audience("topics", topics=topics)
    if kind == "attr":
        pairs = []
        for part in (p.strip() for p in rest.split(",") if p.strip()):
            key, eq, value = part.partition("=")
            if not eq or not _KEY.match(key.strip()) or not value.strip():
                raise AnnouncementError("audience", f"{spec!r}: {part!r} is not KEY=VALUE (key: letters, digits, "
                                                    "- and _)")
            pairs.append((key.strip(), value.strip()))
        if not pairs:
            raise AnnouncementError("audience", f"{spec!r}: names no attribute (attr:region=Wales)")
        return Audience("attr", attributes=tuple(pairs))
    if kind == "saved" and _NAME.match(rest.strip()):
        return Audience("saved", name=rest.strip())
    raise AnnouncementError("audience", f"{spec!r} is not one of: all, topics:A,B, attr:KEY=VALUE[,KEY=VALUE], "
                                        "saved:NAME")


def resolve_audience(db: Database, settings: Settings, spec: str) -> Audience:
    """The audience a spec means now: a saved one is looked up (one level: a saved audience names no other)."""
    audience = parse_audience(spec, settings)
    if audience.kind != "saved":
        return audience
    with db.connect() as conn:
        stored = ann_db.saved_audience(conn, audience.name)
    if stored is None:
        raise AnnouncementError("audience", f"no saved audience {audience.name!r} (`digest announcement audience list`)")
    return parse_audience(stored, settings)


def audience_count(db: Database, settings: Settings, spec: str, kind: str = "news") -> int:
    """How many members an announcement of `kind` to this audience would reach now."""
    audience = resolve_audience(db, settings, spec)
    with db.connect() as conn:
        return ann_db.count(conn, audience, kind)


def save_audience(db: Database, settings: Settings, name: str, spec: str, *, by: str, now: datetime) -> Audience:
    """Save an audience under a name (lower-case letters, digits, - and _); a saved one names no other."""
    if not _NAME.match(name or ""):
        raise AnnouncementError("audience name", f"{name!r}: use lower-case letters, digits, - and _ (fellows-wales)")
    audience = parse_audience(spec, settings)
    if audience.kind == "saved":
        raise AnnouncementError("audience", f"{spec!r}: a saved audience cannot name another one")
    with db.begin() as conn:
        ann_db.save_audience(conn, name, audience.spec, by=by, now=now)
    return audience


def saved_audiences(db: Database) -> list[tuple[str, str]]:
    """(name, spec) of every saved audience."""
    with db.connect() as conn:
        return ann_db.list_audiences(conn)


# ---- compose -------------------------------------------------------------------


def check_fields(a: Announcement, settings: Settings) -> Announcement:
    """The announcement with its fields cleaned, or AnnouncementError naming the first wrong field."""
    subject = " ".join(a.subject.split())
    if not subject or len(subject) > 200:
        raise AnnouncementError("subject", "is empty" if not subject else f"is {len(subject)} characters; at most 200")
    preheader = " ".join(a.preheader.split())
    if preheader and not PREHEADER_MIN <= len(preheader) <= PREHEADER_MAX:
        raise AnnouncementError("preheader", f"is {len(preheader)} characters; inboxes show {PREHEADER_MIN} to "
                                             f"{PREHEADER_MAX} well (or give none: the body's start is used)")
    problem = body_problem(a.body)
    if problem:
        raise AnnouncementError("body", problem)
    if a.kind not in ANNOUNCEMENT_KINDS:
        raise AnnouncementError("kind", f"{a.kind!r}: use one of {', '.join(ANNOUNCEMENT_KINDS)}")
    if bool(a.cta_label.strip()) != bool(a.cta_url.strip()):
        raise AnnouncementError("call to action", "give both its label and its address, or neither")
    if a.cta_url.strip() and not re.match(r"^https?://[^\s<>\"]+$", a.cta_url.strip()):
        raise AnnouncementError("call to action address", f"{a.cta_url!r}: use an http(s) address")
    if len(a.cta_label) > 60:
        raise AnnouncementError("call to action label", f"is {len(a.cta_label)} characters; a button has at most 60")
    if a.picture_url.strip():
        scheme = "https?" if settings.http_images else "https"
        if not re.match(rf"^{scheme}://[^\s<>\"]+$", a.picture_url.strip()):
            raise AnnouncementError("picture", f"{a.picture_url!r}: use an https:// address")
        if not a.picture_alt.strip():
            raise AnnouncementError("picture", "say what it shows (its alt text) for members who cannot see it")
    audience = parse_audience(a.audience, settings)
    return dataclasses.replace(a, subject=subject, preheader=preheader, audience=audience.spec,
                               cta_label=" ".join(a.cta_label.split()), cta_url=a.cta_url.strip(),
                               picture_url=a.picture_url.strip(), picture_alt=" ".join(a.picture_alt.split()))


def measured_picture(a: Announcement, settings: Settings, before: Announcement | None = None) -> Announcement:
    """The announcement with its picture's size, fetched once when the picture is new or changed.

    Through the one outbound client (no internal address). With [digest]
    fetch_images = false nothing is fetched and the picture has no height (the
    send's pre-flight then names it). A picture that cannot be read is refused.
    """
    url = a.picture_url
    if not url:
        return dataclasses.replace(a, picture_width=0, picture_height=0)
    if before is not None and before.picture_url == url and before.picture_width:
        return dataclasses.replace(a, picture_width=before.picture_width, picture_height=before.picture_height)
    if not settings.fetch_images:
        return dataclasses.replace(a, picture_width=0, picture_height=0)
    try:
        width, height, _ = fetch_size(url, client=for_settings(settings), https_only=not settings.http_images)
    except FetchFailed as exc:
        raise AnnouncementError("picture", f"{url}: cannot be read ({exc})") from None
    return dataclasses.replace(a, picture_width=width, picture_height=height)


def _check_articles(conn, ids: tuple[int, ...]) -> None:
    found = {a.id for a in article_db.list_articles(conn, ids=ids)} if ids else set()
    missing = [i for i in ids if i not in found]
    if missing:
        raise AnnouncementError("article", f"{missing[0]}: no such stored article (`digest articles list`)")


def _who(by) -> str:
    """An Editor's address, or the string given ("cli")."""
    return (getattr(by, "email", None) or str(by))[:320]


def create_announcement(db: Database, settings: Settings, draft: Announcement, *, by,
                        now: datetime) -> Announcement:
    """Store a new draft announcement (fields checked; a saved audience must exist)."""
    a = dataclasses.replace(measured_picture(check_fields(draft, settings), settings), id=None, state="draft", created_by=_who(by), created_at=now,
                            updated_at=now, approved_by=None, approved_at=None, queued_at=None, edition_id=None)
    resolve_audience(db, settings, a.audience)
    with db.begin() as conn:
        _check_articles(conn, a.articles)
        return ann_db.save(conn, a)


def get_announcement(db: Database, announcement_id: int) -> Announcement:
    """The announcement, or AnnouncementError("announcement N", "no such announcement")."""
    with db.connect() as conn:
        a = ann_db.load(conn, announcement_id)
    if a is None:
        raise AnnouncementError(f"announcement {announcement_id}", "no such announcement")
    return a


def list_announcements(db: Database) -> list[Announcement]:
    """Every announcement, newest first."""
    with db.connect() as conn:
        return ann_db.list_all(conn)


def edit_announcement(db: Database, settings: Settings, announcement_id: int, changes: Mapping[str, object], *,
                      by: str, now: datetime) -> Announcement:
    """Change fields of an announcement not yet queued; an approved one goes back to draft (approve it again).

    changes: field name (EDITABLE) -> new value (articles: a tuple of ids; public: bool).
    """
    unknown = [k for k in changes if k not in EDITABLE]
    if unknown:
        raise AnnouncementError(unknown[0], f"cannot be edited; editable: {', '.join(EDITABLE)}")
    # The picture is fetched (if new) before the write transaction: no network wait under the database's lock.
    current = get_announcement(db, announcement_id)
    measured = measured_picture(check_fields(dataclasses.replace(current, **changes), settings), settings, current)
    with db.begin() as conn:
        a = ann_db.load_for_update(conn, announcement_id)
        if a.state == "queued":
            raise AnnouncementError(f"announcement {announcement_id}", f"was queued at {a.queued_at:%Y-%m-%d %H:%M} "
                                    "UTC and cannot change any more")
        changed = measured_picture(check_fields(dataclasses.replace(a, **changes), settings), settings, measured)
        _check_articles(conn, changed.articles)
        changed = dataclasses.replace(changed, state="draft", approved_by=None, approved_at=None, updated_at=now,
                                      send_time=None)  # what was approved for a time has changed
        return ann_db.save(conn, changed)


def approve_announcement(db: Database, announcement_id: int, *, by, now: datetime) -> Announcement:
    """Mark a draft approved by `by` (an Editor or a string such as "cli"; recorded in the editors' trail):
    it may be queued (now, or at a time the scheduler keeps)."""
    with db.begin() as conn:
        a = ann_db.load_for_update(conn, announcement_id)
        if a is None:
            raise AnnouncementError(f"announcement {announcement_id}", "no such announcement")
        if a.state == "queued":
            raise AnnouncementError(f"announcement {announcement_id}", "is already queued")
        editor_db.audit(conn, by, "announcement-approve", a.key, {"subject": a.subject}, now=now)
        return ann_db.save(conn, dataclasses.replace(a, state="approved", approved_by=_who(by), approved_at=now,
                                                     updated_at=now))


def withdraw_announcement(db: Database, announcement_id: int, *, by, now: datetime) -> Announcement:
    """Take back an approval (approved -> draft) before it is queued, and its send time; a draft stays a draft."""
    with db.begin() as conn:
        a = ann_db.load_for_update(conn, announcement_id)
        if a is None:
            raise AnnouncementError(f"announcement {announcement_id}", "no such announcement")
        if a.state == "queued":
            raise AnnouncementError(f"announcement {announcement_id}", "is already queued: it cannot be withdrawn")
        editor_db.audit(conn, by, "announcement-withdraw", a.key, {}, now=now)
        return ann_db.save(conn, dataclasses.replace(a, state="draft", approved_by=None, approved_at=None,
                                                     updated_at=now, send_time=None))


# ---- render ----------------------------------------------------------------------


def announcement_items(db: Database, settings: Settings, a: Announcement) -> list[EditionItem]:
    """The stored articles an announcement shows, in its order, summarised as an edition would."""
    if not a.articles:
        return []
    with db.connect() as conn:
        found = {x.id: x for x in article_db.list_articles(conn, ids=a.articles)}
    return [edition_item(found[i], pos, summarise(found[i], settings.summary_words))
            for pos, i in enumerate(i for i in a.articles if i in found and found[i].published_at is not None)]


def render_preview(db: Database, settings: Settings, announcement_id: int, *, fmt: str = "html", lang: str = "",
                   now: datetime) -> Rendered:
    """One variant as an editor previews it: the member's parts filled with generic values."""
    a = get_announcement(db, announcement_id)
    _check_language(settings, lang)
    r = render_announcement(a, settings, items=announcement_items(db, settings, a), fmt=fmt, lang=lang,
                            now=a.queued_at or now, topics=resolve_audience(db, settings, a.audience).topics)
    slots = generic_slots(settings)
    return Rendered(r.subject, r.preheader, fill_slots(r.html, slots, html=True) if r.html else "",
                    fill_slots(r.text, slots, html=False))


def variant_previews(db: Database, settings: Settings, announcement_id: int, *, now: datetime) -> dict[str, Rendered]:
    """Every variant an announcement can have (format x language), filled generically: "html", "text:cy"..."""
    out = {}
    for lang in ("", *settings.languages[1:]):
        for fmt in ("html", "text"):
            out[fmt + (f":{lang}" if lang else "")] = render_preview(db, settings, announcement_id, fmt=fmt,
                                                                     lang=lang, now=now)
    return out


def _check_language(settings: Settings, lang: str) -> None:
    if lang and lang not in settings.languages[1:] and lang != settings.unchosen_language:
        others = ", ".join(settings.languages[1:]) or "none: the organisation has one language"
        raise AnnouncementError("language", f"{lang!r}: use one of the other configured languages ({others})")


def send_test_announcement(db: Database, settings: Settings, announcement_id: int, to: str, transport: Transport, *,
                           fmt: str = "html", lang: str = "", now: datetime) -> tuple[str, SendResult]:
    """Mail one variant to an editor (no delivery is touched); returns the address and the transport's answer."""
    address = normalise_email(to)
    a = get_announcement(db, announcement_id)
    _check_language(settings, lang)
    rendered = render_announcement(a, settings, items=announcement_items(db, settings, a), fmt=fmt, lang=lang,
                                   now=now, topics=resolve_audience(db, settings, a.audience).topics)
    out = Outgoing(settings)
    template = out.template(rendered, edition_key=f"{a.key}-test", fmt=fmt)
    message = out.digest(template, Recipient(0, 0, address, None, 0), date=now)
    return address, transport.send(Envelope(settings.sender_address, (address,)), message)


# ---- queue -----------------------------------------------------------------------


@dataclass
class QueueReport:
    key: str  # the edition row's key: `digest report KEY`, `digest send --edition KEY`
    counted: int  # the audience's members just before queueing
    queued: int
    variants: int


def queue_announcement(db: Database, settings: Settings, announcement_id: int, *, by,
                       now: datetime) -> QueueReport:
    """Queue an approved announcement to its audience: `digest send` (or `digest run`) then sends it.

    In one transaction: the edition row, one variant per (format, language)
    the audience needs, one INSERT ... SELECT of deliveries with the same
    WHERE clause as the count, the announcement marked queued. Rendering is
    inside it, so no member who changed format meanwhile is left out; an
    announcement has a handful of variants. Nothing is half-written on failure.
    """
    a = get_announcement(db, announcement_id)
    audience = resolve_audience(db, settings, a.audience)
    items = announcement_items(db, settings, a)
    with db.begin() as conn:
        a = ann_db.load_for_update(conn, announcement_id)
        if a.state != "approved":
            why = "is already queued" if a.state == "queued" else "is a draft: approve it first"
            raise AnnouncementError(f"announcement {announcement_id}", why)
        counted = ann_db.count(conn, audience, a.kind)
        window = Window(now, now, a.key, "")
        edition = edition_db.save_edition(conn, Edition(key=a.key, frequency="", window=window, items=items,
                                                        subject=a.subject, preheader=a.preheader, kind=a.kind),
                                          now=now)
        variant_of, made = {}, {}
        for fmt, stored_lang, _members in ann_db.combinations(conn, audience, a.kind):
            lang = variant_language(stored_lang, settings.languages, settings.unchosen_language)
            if (fmt, lang) not in made:
                rendered = render_announcement(a, settings, items=items, fmt=fmt, lang=lang, now=now,
                                               topics=audience.topics)
                made[(fmt, lang)] = edition_db.add_variant(conn, edition.id, TopicSet(), fmt, rendered, len(items),
                                                           now=now, language=lang)
            variant_of[(fmt, stored_lang)] = made[(fmt, lang)]
        queued = ann_db.queue(conn, edition.id, audience, a.kind, variant_of)
        edition_db.mark_queued(conn, edition.id, now=now)
        editor_db.audit(conn, by, "announcement-queue", a.key, {"audience": audience.spec, "kind": a.kind,
                                                                "counted": counted, "queued": queued}, now=now)
        ann_db.save(conn, dataclasses.replace(a, state="queued", queued_at=now, edition_id=edition.id,
                                              updated_at=now))
    return QueueReport(a.key, counted, queued, len(made))


# ---- send time -------------------------------------------------------------------


def schedule_announcement(db: Database, settings: Settings, announcement_id: int, at: str, *,
                          zone: str | None = None, by, now: datetime) -> SendTime:
    """Approve an approved announcement for a time: `at` "YYYY-MM-DD HH:MM" in `zone` (IANA; default [digest]
    timezone), resolved and refused as an edition's (edition.sendtime: past, skipped by the clocks, malformed).
    Setting it again changes it; `digest run` queues and sends it at the first run after it."""
    what = f"announcement {announcement_id}"
    try:
        send = resolve_send_time(what, at, zone or settings.timezone, now=now, by=_who(by))
    except EditionError as exc:
        raise AnnouncementError(what, exc.reason) from None
    with db.begin() as conn:
        a = _approved_for_update(conn, announcement_id, "given a send time")
        editor_db.audit(conn, by, "schedule-change" if a.send_time else "schedule", a.key,
                        {**audit_detail(send), "before": audit_detail(a.send_time)}, now=now)
        ann_db.save(conn, dataclasses.replace(a, send_time=send, updated_at=now))
    return send


def unschedule_announcement(db: Database, announcement_id: int, *, by, now: datetime) -> SendTime:
    """Take back an approved announcement's send time before it is queued (it stays approved); the one
    withdrawn. AnnouncementError when it has none or is not approved."""
    with db.begin() as conn:
        a = _approved_for_update(conn, announcement_id, "have its send time withdrawn")
        if a.send_time is None:
            raise AnnouncementError(f"announcement {announcement_id}", "has no send time to withdraw")
        editor_db.audit(conn, by, "schedule-withdraw", a.key, {"before": audit_detail(a.send_time)}, now=now)
        ann_db.save(conn, dataclasses.replace(a, send_time=None, updated_at=now))
    return a.send_time


def queue_due_announcements(db: Database, settings: Settings, *, now: datetime) -> list[QueueReport]:
    """Queue every approved announcement whose send time has come (`digest run`), earliest first. Safe to run
    twice: a queued one is no longer approved, and queue_announcement re-checks that under the row's lock."""
    with db.connect() as conn:
        due = ann_db.due_ids(conn, now=now)
    reports = []
    for announcement_id in due:
        try:
            reports.append(queue_announcement(db, settings, announcement_id, by="digest run", now=now))
        except AnnouncementError:
            if get_announcement(db, announcement_id).state == "approved":
                raise
            # queued by an overlapping run (or withdrawn) meanwhile: nothing left to do for it
    return reports


def _approved_for_update(conn, announcement_id: int, to: str) -> Announcement:
    a = ann_db.load_for_update(conn, announcement_id)
    if a is None:
        raise AnnouncementError(f"announcement {announcement_id}", "no such announcement")
    if a.state != "approved":
        why = "is already queued" if a.state == "queued" else "is a draft: approve it first"
        raise AnnouncementError(f"announcement {announcement_id}", f"{why}; only an approved one can be {to}")
    return a


# ---- evidence --------------------------------------------------------------------

EVIDENCE_COLUMNS = ("delivery", "member", "email", "name", "state", "attempts", "sent_at", "relay_reply", "variant")


def evidence(db: Database, announcement_id: int) -> list[ann_db.EvidenceRow]:
    """Every delivery of a queued announcement: who, when, the relay's answer."""
    a = get_announcement(db, announcement_id)
    if a.edition_id is None:
        raise AnnouncementError(f"announcement {announcement_id}", "is not queued: there is no delivery yet")
    with db.connect() as conn:
        return ann_db.evidence(conn, a.edition_id)


def write_evidence_csv(db: Database, announcement_id: int, path: Path) -> int:
    """Write the evidence of an announcement's deliveries as CSV (written whole, then moved); returns the rows."""
    rows = evidence(db, announcement_id)
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(EVIDENCE_COLUMNS)
            for r in rows:
                w.writerow([r.delivery_id, r.member_id or "", r.email, r.name, r.state, r.attempts,
                            r.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ") if r.sent_at else "", r.relay_reply, r.variant])
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AnnouncementError(str(path), f"cannot write: {exc.strerror or exc}") from None
    return len(rows)


def public_announcements(db: Database) -> list[Announcement]:
    """The queued announcements marked public, newest first (for the archive)."""
    with db.connect() as conn:
        return ann_db.public_queued(conn)
