"""The database schema (SQLAlchemy Core). Migrations in digest/migrations mirror it.

Times are stored as naive UTC and read back as aware UTC (UTCDateTime), so
SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.types import TypeDecorator

from ..models import TopicSet

# The newest migration; db.connect() upgrades any database that is not at it.
SCHEMA_REVISION = "0023_anntime"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the database; pass an aware one")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text from a hand-written query
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc)


articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dedupe_key", String(1000), nullable=False, unique=True),
    Column("guid", String(1000)),
    Column("url", String(2000)),
    Column("title", String(1000), nullable=False),
    Column("author", String(300)),
    Column("author_role", String(300)),
    Column("published_at", UTCDateTime, index=True),  # NULL: the feed's date could not be read (0007)
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("categories", Text, nullable=False, default="[]"),  # JSON list of source categories
    Column("teaser", Text),
    Column("body", Text),
    Column("source", String(2000), nullable=False, default=""),  # a [[sources]] name, or the path/URL ingested
    # "source" (the source gave the link), "template" (its link_template made
    # it) or "website" (a stand-in for a listing export that carries no links).
    Column("link_origin", String(10), nullable=False, default="source", server_default="source"),
    Column("summary_override", Text),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("excluded", Boolean, nullable=False, default=False),
    Column("image", Text),  # JSON (models.ArticleImage); NULL: no picture
    # The edition desk (migration 0009): the editor's order (NULL: by date) and topics set by hand.
    Column("rank", Integer),
    Column("topics_by_hand", Boolean, nullable=False, default=False),
    # The same story from another source (migration 0011): this copy is kept for its
    # source's health, members get the other one. NULL: an article in its own right.
    Column("duplicate_of", Integer),
    # Migration 0020: the language the source wrote it in ("": the organisation's first), and the
    # same article in another language (set on both; `digest article translation`, /cy/ links, WPML/Polylang).
    Column("language", String(35), nullable=False, default="", server_default=""),
    Column("translation_id", Integer),
)

topics = Table(
    "topics",
    metadata,
    Column("slug", String(100), primary_key=True),
    Column("label", String(200), nullable=False),
    Column("position", Integer, nullable=False, default=0),
)

article_topics = Table(
    "article_topics",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_slug", String(100), ForeignKey("topics.slug", ondelete="CASCADE"), primary_key=True),
    Column("reason", String(500), nullable=False, default=""),
    Index("ix_article_topics_topic_slug", "topic_slug"),
)

editions = Table(
    "editions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(40), nullable=False, unique=True),
    Column("frequency", String(10), nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("subject", String(500), nullable=False),
    Column("built_at", UTCDateTime, nullable=False),
    Column("queued_at", UTCDateTime),  # set once queued: the edition is frozen from then on
    Column("preheader", String(500), nullable=False, default=""),  # the editor's; "" = made from the titles
    Column("note", Text, nullable=False, default=""),  # the editor's note (Markdown-lite), frozen with the build
    # Sent although the gate held it (`--force --reason`): who, why, when.
    Column("forced_by", String(200)),
    Column("forced_reason", String(500)),
    Column("forced_at", UTCDateTime),
    # "edition" (the period's digest) or an announcement's kind, "news" or "statutory" (0020_announce):
    # an announcement is sent as an edition row so variants, deliveries and the sender serve it unchanged.
    Column("kind", String(12), nullable=False, default="edition", server_default="edition"),
    Column("words", Text),  # the editor's words in the other languages, frozen with the build (edition_texts.words)
    # A send time the editor set (migration 0020_schedule): the wall time and its IANA zone as chosen, and
    # the UTC instant they resolve to; `digest run` queues the edition from then on. NULL: not scheduled.
    Column("send_at", UTCDateTime),
    Column("send_local", String(16)),  # "YYYY-MM-DD HH:MM" in send_zone
    Column("send_zone", String(64)),
    Column("scheduled_by", String(320)),
    Index("ix_editions_send_at", "send_at"),
)

# What the editor wrote for an edition before (or between) builds, by key; a
# build copies it into the edition, where it is frozen once queued.
edition_texts = Table(
    "edition_texts",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("subject", String(500), nullable=False, default=""),
    Column("preheader", String(500), nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(320), nullable=False, default=""),
    # The subject, preheader and note in each language but the first: JSON {"cy": {"subject": ...}}; NULL: none.
    Column("words", Text),
)

edition_items = Table(
    "edition_items",
    metadata,
    Column("edition_id", Integer, ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="SET NULL")),
    Column("title", String(1000), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("author", String(300)),
    Column("author_role", String(300)),
    Column("published_at", UTCDateTime, nullable=False),
    Column("topics", String(1000), nullable=False, default=""),  # comma-separated slugs
    Column("summary", Text, nullable=False),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("image", Text),  # the article's picture as frozen with the edition (JSON)
    # where url came from, frozen with it (articles.link_origin): "website"/"template" are stand-ins
    Column("link_origin", String(10), nullable=False, default="source", server_default="source"),
    # the article's language ("": the first) and its translations, frozen: JSON {"cy": {"title", "url", "summary"}}
    Column("language", String(35), nullable=False, default="", server_default=""),
    Column("translations", Text),
)

variants = Table(
    "variants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("edition_id", Integer, ForeignKey("editions.id", ondelete="CASCADE"), nullable=False),
    Column("topics", String(1000), nullable=False),  # the member's topics within the edition, sorted, comma-separated
    Column("format", String(10), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("preheader", String(500), nullable=False, default=""),
    Column("html", Text),  # with slot markers; NULL for text-only variants
    Column("text", Text, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("rendered_at", UTCDateTime, nullable=False),
    Column("language", String(35), nullable=False, default="", server_default=""),  # "": the default language
    UniqueConstraint("edition_id", "topics", "format", "language"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False, unique=True),  # lower-cased: unique without regard to case
    Column("name", String(200)),
    Column("status", String(12), nullable=False, default="active"),
    Column("topics", String(1000), nullable=False, default=""),  # comma-separated slugs; empty = all
    Column("frequency", String(10), nullable=False, default="weekly"),
    Column("format", String(10), nullable=False, default="html"),
    Column("paused", Boolean, nullable=False, default=False),
    Column("consent_source", String(20)),
    Column("consent_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("left_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("token_version", Integer, nullable=False, default=1),
    Column("hard_bounces", Integer, nullable=False, default=0),
    Column("language", String(35), nullable=False, default="", server_default=""),  # "": not chosen
    # What the membership system says beyond our fields (region, grade...): a JSON object (0012).
    Column("attributes", Text, nullable=False, default="{}", server_default="{}"),
    # False: the member turned off news announcements (statutory notices still reach them) (0020_announce).
    Column("news_announcements", Boolean, nullable=False, default=True, server_default=true()),
    Index("ix_subscribers_updated_at", "updated_at"),  # the API's updated_since
    # Covers "who is due for an edition" (and their variant) without touching the table.
    Index("ix_subscribers_due", "frequency", "status", "paused", "topics", "format"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("email_hash", String(64), primary_key=True),  # sha256 of the lower-cased address
    Column("reason", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(20), nullable=False),  # web, one-click, import, cli, system
    Column("action", String(30), nullable=False),  # subscribe, confirm, preferences, unsubscribe, ...
    Column("detail", Text, nullable=False, default="{}"),  # JSON: what changed
    Index("ix_events_subscriber_id", "subscriber_id"),
)

# The health of each configured [[sources]] entry, by name, and what a polite
# conditional GET needs next time. Articles name their source in articles.source.
sources = Table(
    "sources",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("location", String(2000), nullable=False),  # the url or path as configured
    Column("kind", String(20)),  # as last read: rss, atom, jsonfeed, wordpress, listing
    Column("last_fetched_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", String(500)),
    Column("items_last_seen", Integer),
    Column("newest_item_at", UTCDateTime),
    Column("etag", String(500)),
    Column("last_modified", String(100)),
    Column("moved_to", String(2000)),  # where a 301/308 said the source now lives
)

# A delivery is one member's copy of one edition. It stays small: it points at
# its variant and never holds the message.
# No foreign keys, on purpose: this is the high-volume queue, and PostgreSQL
# checks each key with a trigger per row (two thirds of the time of queueing
# 333,000 deliveries). Rows come only from queue_members, which joins real
# members to real variants; editions and variants are never deleted once
# queued; forgetting a member sets subscriber_id to NULL explicitly.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("edition_id", Integer, nullable=False),
    Column("subscriber_id", Integer),  # NULL once the member is forgotten
    Column("variant_id", Integer, nullable=False),
    Column("status", SmallInteger, nullable=False, default=0),  # see DELIVERY_STATES
    Column("attempts", SmallInteger, nullable=False, default=0),
    Column("not_before", UTCDateTime),  # retry after; NULL = now
    Column("lease_until", UTCDateTime),  # while sending: claimed until then (renewed while the sender lives)
    Column("claimed_by", String(32)),  # the claiming run's token: only it records an outcome (0012)
    Column("sent_at", UTCDateTime),
    Column("last_error", String(500)),
    # The relay's final answer to a sent message, kept for statutory notices only (evidence) (0020_announce).
    Column("relay_reply", String(500)),
    UniqueConstraint("edition_id", "subscriber_id"),
    # Claims read one status in id order: queued ones (the many) and sending
    # ones (the few in flight, whose leases may have run out).
    Index("ix_deliveries_status_id", "status", "id"),
)

# A message that came back (bounce, complaint, unsubscribe by mail, auto-reply,
# or something not understood), one row per report Message-ID: reading the same
# mailbox or file twice changes nothing. Migration 0008.
inbound_reports = Table(
    "inbound_reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("report_key", String(300), nullable=False, unique=True),  # its Message-ID, else sha256 of its bytes
    Column("kind", String(12), nullable=False),  # bounce, delay, complaint, unsubscribe, auto-reply, unknown...
    Column("shape", String(12), nullable=False),  # dsn, arf, exchange, gmail, qmail, postfix, ...
    Column("status", String(12)),  # enhanced status code, 5.1.1
    Column("received_at", UTCDateTime, nullable=False),
    Column("delivery_id", Integer),  # the delivery it was attributed to (VERP), if any
    Column("edition_id", Integer),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="SET NULL")),
    Column("outcome", String(20), nullable=False),  # bounced, counted, complained, unsubscribed, ignored, quarantined...
    Column("folder", String(20), nullable=False),  # processed or quarantine
    Column("source", String(500), nullable=False),  # where it was read: imap folder, maildir, file
    Column("detail", Text, nullable=False, default="{}"),  # JSON: recipient, diagnostic, reason
    Index("ix_inbound_reports_subscriber_id", "subscriber_id"),
    Index("ix_inbound_reports_edition_id", "edition_id"),
)

# A mail provider's event, recorded as its verified webhook is answered and acted
# on afterwards by the app's worker (taken_at set in the same transaction as what
# it did); one row per provider event id: the provider's retries change nothing.
# Migration 0012_providers.
provider_events = Table(
    "provider_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(20), nullable=False),  # ses, postmark, mailgun, sendgrid
    Column("event_id", String(200), nullable=False),  # the provider's own id for the event
    Column("received_at", UTCDateTime, nullable=False),
    Column("event", Text, nullable=False),  # JSON: what the verified webhook said (bounces.providers.ProviderEvent)
    Column("taken_at", UTCDateTime),  # NULL until the worker has acted on it
    UniqueConstraint("provider", "event_id"),
    Index("ix_provider_events_taken_at_id", "taken_at", "id"),
)

# A Mailgun webhook token already accepted (each signed request is taken once);
# kept for a day, far longer than a signature's timestamp window. Migration 0012_providers.
provider_tokens = Table(
    "provider_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(20), nullable=False),
    Column("token", String(200), nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("provider", "token"),
    Index("ix_provider_tokens_seen_at", "seen_at"),
)

# One followed article link ([tracking] clicks = "aggregate"): which edition,
# article and variant, never which member. kind "read" or "scanner".
clicks = Table(
    "clicks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("edition_id", Integer, nullable=False),
    Column("position", SmallInteger, nullable=False),  # the article's place in the edition
    Column("variant", String(1020), nullable=False),  # "topics:format" of the message it was in
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("reason", String(60), nullable=False, default=""),  # why a scanner
    Index("ix_clicks_edition_id_kind", "edition_id", "kind"),
)

# Numbers keep delivery rows small; names are for people.
DELIVERY_STATES = {0: "queued", 1: "sending", 2: "sent", 3: "failed", 4: "skipped"}
QUEUED, SENDING, SENT, FAILED, SKIPPED = 0, 1, 2, 3, 4


def encode_topics(topics: TopicSet) -> str:
    """A topic set as stored (subscribers.topics, variants.topics): "a,b", "" for all topics."""
    return ",".join(topics)


def decode_topics(text: str | None) -> TopicSet:
    return TopicSet((text or "").split(","))


# The edition desk (migration 0009): who may use it, and what each of them did.
editors = Table(
    "editors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False, unique=True),  # lower-cased
    Column("name", String(200)),
    Column("password_hash", String(300)),  # NULL until they set one through a link
    Column("link_hash", String(64)),  # sha256 of the nonce of their one live one-time link
    Column("link_purpose", String(20)),  # set-password or sign-in
    Column("session_version", Integer, nullable=False, default=1),  # bumped: every session ends
    Column("notify", String(100), nullable=False, server_default="held"),  # notices they get, "a,b"; "": none
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_sign_in_at", UTCDateTime),
    # "editor": the whole desk; "membership": only /desk/members (0012_members)
    Column("role", String(12), nullable=False, default="editor", server_default="editor"),
)

# The desk's live sessions (migration 0012_desk): the cookie carries a random id,
# this table its sha256. Signing out, removing the editor or a new password
# deletes the rows, so a copied cookie stops working at once.
desk_sessions = Table(
    "desk_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("editor_id", Integer, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# No foreign key: the trail outlives an editor who is removed.
editor_events = Table(
    "editor_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("editor_id", Integer),
    Column("editor", String(320), nullable=False),  # their address at the time, or "cli"
    Column("action", String(30), nullable=False),  # sign-in, pin, summary, build, send-test, ...
    Column("target", String(100), nullable=False, default=""),  # article id, edition key, address
    Column("detail", Text, nullable=False, default="{}"),  # JSON
    Index("ix_editor_events_at", "at"),
)

# A subscribe form request, recorded inside the request and handled by the web
# app's mail worker (digest/web/mailer.py), which deletes the row once it has
# decided what to send. The form does the same work for every address. (0007)
subscribe_requests = Table(
    "subscribe_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200)),
    Column("topics", Text, nullable=False),  # comma-separated slugs; "" = all topics
    Column("frequency", String(20), nullable=False),
    Column("format", String(10), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("language", String(35), nullable=False, default="", server_default=""),  # the page's, as the member chose
    # "subscribe" (the form), or "link": "email me my preferences link" (0012_members)
    Column("kind", String(12), nullable=False, default="subscribe", server_default="subscribe"),
)


# API tokens (migration 0012): only the sha256 of each token is kept; the
# token itself is printed once by `digest tokens add`.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(16), nullable=False, unique=True),  # short: events.source is "api:NAME"
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(200), nullable=False),  # comma-separated: members:read,members:write,...
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
)

# Receivers of webhooks out (0012); secret is the Standard Webhooks "whsec_..." key.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("events", String(500), nullable=False),  # comma-separated event types
    Column("secret", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One event for one endpoint, written in the transaction of the change it
# reports; a worker delivers them in id order per order_key ("member:ID").
# No foreign keys: a removed endpoint's failed rows stay readable.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("endpoint_id", Integer, nullable=False),
    Column("msg_id", String(40), nullable=False, unique=True),  # webhook-id: the same on every retry
    Column("event", String(40), nullable=False),
    Column("order_key", String(60), nullable=False),
    Column("payload", Text, nullable=False),  # the JSON body, as signed
    Column("status", String(10), nullable=False, default="pending", server_default="pending"),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("next_at", UTCDateTime, nullable=False),  # not tried before then
    Column("lease_until", UTCDateTime),  # a worker holds it until then
    Column("last_error", String(500)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),  # delivered or given up
    Index("ix_webhook_outbox_status_id", "status", "id"),
)


# What `digest prune` keeps of an edition once its delivery rows go (migration
# 0012): counts per edition and variant ("topics:format", "" for the edition as
# a whole). measure is a delivery state name ("sent", "failed", ...) added to as
# each batch of rows is folded; "click:POSITION:KIND" added to as old clicks
# go; and, written once before the first row goes, the report's figures that
# need the rows ("outcome:...", "kind:...", "unsubscribes") and "folded" itself.
edition_totals = Table(
    "edition_totals",
    metadata,
    Column("edition_id", Integer, primary_key=True),
    Column("variant", String(1020), primary_key=True),
    Column("measure", String(60), primary_key=True),
    Column("value", Integer, nullable=False, default=0),
)

# Each `digest prune` that changed something: when, and what it removed (JSON).
# `digest run` prunes when the newest is a week old.
prune_runs = Table(
    "prune_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("removed", Text, nullable=False, default="{}"),
)


# An announcement (0020_announce): a message an editor composes for an audience.
# Once queued it is sent as the edition row `edition_id` (editions.kind = its kind).
announcements = Table(
    "announcements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", String(500), nullable=False),
    Column("preheader", String(500), nullable=False, default="", server_default=""),
    Column("body", Text, nullable=False),  # Markdown-lite (edition.body)
    Column("cta_label", String(200), nullable=False, default="", server_default=""),
    Column("cta_url", String(2000), nullable=False, default="", server_default=""),
    Column("picture_url", String(2000), nullable=False, default="", server_default=""),
    Column("picture_alt", String(500), nullable=False, default="", server_default=""),
    # the picture's size as measured when it was set (0: not measured): Outlook needs width and height
    Column("picture_width", Integer, nullable=False, default=0, server_default="0"),
    Column("picture_height", Integer, nullable=False, default=0, server_default="0"),
    Column("articles", String(1000), nullable=False, default="", server_default=""),  # article ids, "3,7"
    Column("audience", String(1000), nullable=False),  # an audience spec: all, topics:a,b, attr:k=v, saved:NAME
    Column("kind", String(12), nullable=False, default="news", server_default="news"),  # news or statutory
    Column("public", Boolean, nullable=False, default=False, server_default=false()),  # shown in the archive
    Column("state", String(12), nullable=False, default="draft", server_default="draft"),  # draft, approved, queued
    Column("created_by", String(320), nullable=False, default="", server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("approved_by", String(320)),
    Column("approved_at", UTCDateTime),
    Column("queued_at", UTCDateTime),
    Column("edition_id", Integer),  # the edition row it is sent as, once queued
    # An approved announcement's send time (0023_anntime), as editions.send_*: its edition row is made only
    # when it is queued, so the time is kept here; `digest run` queues and sends it from then on.
    Column("send_at", UTCDateTime),
    Column("send_local", String(16)),  # "YYYY-MM-DD HH:MM" in send_zone
    Column("send_zone", String(64)),
    Column("scheduled_by", String(320)),
    Index("ix_announcements_send_at", "send_at"),
)

# An audience an editor named to use again (0020_announce).
saved_audiences = Table(
    "saved_audiences",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("spec", String(1000), nullable=False),
    Column("created_by", String(320), nullable=False, default="", server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
)
