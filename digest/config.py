"""Settings from digest.toml and the environment, validated once and passed down.

Order of precedence: environment (DIGEST_*) > digest.toml > digest/defaults.toml.
The file is found from --config, else DIGEST_CONFIG, else ./digest.toml if it
exists; without one the shipped defaults work as they are.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import unicodedata
from string import Formatter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from .errors import ConfigError
from .i18n import locale_of
from .models import ENHANCED_STATUS, Topic

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")
INSECURE_SECRET = "insecure-demo-key-change-me"  # digest serve refuses it

# Environment variable -> (section, key). Sections are the TOML tables.
ENVIRONMENT = {
    "DIGEST_DATABASE_URL": ("digest", "database_url"),
    "DIGEST_BASE_URL": ("organisation", "base_url"),
    "DIGEST_SENDER": ("organisation", "sender"),
    "DIGEST_ORGANISATION": ("organisation", "name"),
    "DIGEST_TIMEZONE": ("digest", "timezone"),
    "DIGEST_OUTBOX": ("digest", "outbox"),
    "DIGEST_SMTP_URL": ("digest", "smtp_url"),
    "DIGEST_TRANSPORT": ("digest", "transport"),
    "DIGEST_SECRET_KEY": ("security", "secret_key"),
    "DIGEST_DKIM_DOMAIN": ("dkim", "domain"),
    "DIGEST_DKIM_SELECTOR": ("dkim", "selector"),
    "DIGEST_DKIM_KEY_FILE": ("dkim", "key_file"),
    "DIGEST_FETCH_IMAGES": ("digest", "fetch_images"),
    "DIGEST_BOUNCE_ADDRESS": ("bounces", "address"),
    "DIGEST_BOUNCE_IMAP_URL": ("bounces", "imap_url"),
    "DIGEST_TRACKING_CLICKS": ("tracking", "clicks"),
    "DIGEST_BUSY_TIMEOUT": ("digest", "busy_timeout"),
    "DIGEST_SMTP_ROUND_TRIPS": ("smtp", "round_trips"),
    "DIGEST_FETCH_ALLOW_PRIVATE": ("fetch", "allow_private"),  # comma-separated CIDRs
}

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class DkimSettings:
    domain: str
    selector: str
    key_file: str


@dataclass(frozen=True)
class SourceSettings:
    """One [[sources]] entry: where a source is and how to read it."""

    name: str
    location: str  # an http(s) URL, or an absolute path (relative ones are resolved against the config file)
    kind: str | None = None  # feed, jsonfeed, wordpress, listing; None: detected
    topics: tuple[str, ...] = ()  # forced on every article from it
    link_template: str | None = None  # listing exports: how their links are made
    website: str | None = None  # where its articles link when they have no link of their own
    max_age_days: int = 14  # nothing newer than this before an edition's end holds the edition
    resolve_links: str | None = None  # listing exports: a sitemap URL, or "wordpress" (its REST search)

    @property
    def is_url(self) -> bool:
        return self.location.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class BounceSettings:
    """[bounces]: where reports come back (VERP) and what they do to a member."""

    address: str = ""  # "bounces@news.example.org"; empty: no VERP, envelope sender = From
    imap_url: str = ""  # imap(s)://user:pass@host[:port]/FOLDER that digest bounces fetch reads
    processed_folder: str = "processed"
    quarantine_folder: str = "quarantine"
    permanent: tuple[str, ...] = ("5.1.1", "5.1.10", "5.2.1")  # one of these: bounced at once
    threshold: int = 3  # other failures (refused during the send, or returned): this many...
    window_days: int = 30  # ...within this many days make the member bounced


@dataclass(frozen=True)
class SmtpSettings:
    """[smtp]: how long `digest send` waits on the relay at each step, in seconds.

    A step that times out gives the delivery back to the queue without spending
    an attempt; `timeouts_in_a_row` of them with nothing sent between stop the run.
    """

    connect_timeout: float = 30.0
    greeting_timeout: float = 30.0  # the greeting, EHLO, STARTTLS and AUTH
    command_timeout: float = 30.0  # MAIL FROM, RCPT TO, DATA
    data_timeout: float = 60.0  # the reply to the final "."
    timeouts_in_a_row: int = 3
    round_trips: int = 1  # a message's round trips to a relay with PIPELINING: 1 ("." with the next MAIL), or 2


@dataclass(frozen=True)
class RetentionSettings:
    """[retention]: how long each kind of record is kept, in months (see README "Retention")."""

    deliveries_months: int = 13  # delivery rows of older editions fold into totals, then go
    reports_months: int = 13  # processed bounce, complaint and unsubscribe messages
    quarantine_months: int = 6  # reports not understood or not attributed
    clicks_months: int = 13  # followed links: folded into the edition's totals, then deleted
    members_months: int = 24  # members who left: after this, only a hash of the address stays
    audit_months: int = 72  # members' consent events and the editors' trail
    batch: int = 2000  # rows per transaction: short, so sending and the pages go on


@dataclass(frozen=True)
class SesSettings:
    """[providers.ses]: Amazon SES events through an SNS topic."""

    topic_arn: str  # arn:aws:sns:REGION:ACCOUNT:NAME, the only topic whose messages and subscription are taken
    configuration_set: str = ""  # X-SES-CONFIGURATION-SET on each message (events with our tag need one)


@dataclass(frozen=True)
class PostmarkSettings:
    """[providers.postmark]: basic authentication and/or a secret path on the webhook URL."""

    username: str = ""
    password: str = ""
    secret_path: str = ""  # /hooks/postmark/SECRET
    message_stream: str = ""  # X-PM-Message-Stream on each message ("broadcast" for newsletters)


@dataclass(frozen=True)
class MailgunSettings:
    """[providers.mailgun]: the HTTP webhook signing key."""

    signing_key: str
    tag: str = "digest"  # X-Mailgun-Tag on each message


@dataclass(frozen=True)
class SendgridSettings:
    """[providers.sendgrid]: the Event Webhook's verification key (base64 DER or PEM, ECDSA P-256)."""

    public_key: str


@dataclass(frozen=True)
class ProviderSettings:
    """[providers.*]: which mail providers report back by webhook (None: that hook answers 404)."""

    ses: SesSettings | None = None
    postmark: PostmarkSettings | None = None
    mailgun: MailgunSettings | None = None
    sendgrid: SendgridSettings | None = None

    @property
    def configured(self) -> tuple[str, ...]:
        return tuple(n for n in PROVIDERS if getattr(self, n) is not None)


PROVIDERS = ("ses", "postmark", "mailgun", "sendgrid")


@dataclass(frozen=True)
class MemberSyncSettings:
    """[members.sync]: where the membership system's export is and how to read it (README, "Sync")."""

    source: str = ""  # a CSV/JSON file or an https URL; `digest members sync` without SOURCE reads it
    columns: Mapping[str, str] = field(default_factory=dict)  # our field -> the export's column
    attributes: Mapping[str, str] = field(default_factory=dict)  # attribute name -> the export's column
    topics_separator: str = ";"
    header: str = "Authorization"  # the HTTP header that carries the export's token...
    token_env: str = "DIGEST_SYNC_TOKEN"  # ...whose value is read from this environment variable
    complete: bool = True  # before_run syncs with --complete
    max_lapse: float = 0.05  # the brake: refuse to lapse more than this share of active members
    require_in_crm: bool = False  # also lapse members who joined through the public form
    before_run: bool = False  # `digest run` syncs first; a failed sync holds the mailing


@dataclass(frozen=True)
class Settings:
    organisation: str
    address: str
    base_url: str
    sender: str
    reply_to: str
    website: str
    brand_colour: str
    accent_colour: str
    timezone: str
    summary_words: int
    edition_size: int
    subject: str
    database_url: str
    outbox: str
    smtp_url: str
    transport: str
    list_id: str
    unsubscribe_mailto: str
    secret_key: str
    topics: tuple[Topic, ...]
    dkim: DkimSettings | None = None
    bounces: BounceSettings = field(default_factory=BounceSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    tracking_clicks: str = "off"  # [tracking] clicks: "off" or "aggregate"
    source: str = ""  # the file the settings came from, for messages
    extra: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[SourceSettings, ...] = ()
    editors: tuple[str, ...] = ()  # seeds the desk's list of editors (editorial.editors.seed_editors)
    min_articles: int = 1
    fetch_timeout: float = 20.0
    fetch_deadline: float = 60.0
    member_sync: MemberSyncSettings = field(default_factory=MemberSyncSettings)
    member_welcome: bool = False  # [members] welcome: email members who confirm (or the API or CLI adds) a welcome
    allow_private: tuple[str, ...] = ()  # [fetch]: internal networks digest may fetch from (CIDRs)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    languages: tuple[str, ...] = ("en-GB",)  # BCP 47 tags; the first is the default (digest/i18n.py)
    language_mode: str = "per_member"  # or "bilingual": members who have not chosen get every language in one email
    bilingual_order: tuple[str, ...] = ()  # the languages of a bilingual email, in order

    @property
    def language(self) -> str:
        """The default language: the first configured."""
        return self.languages[0]

    @property
    def unchosen_language(self) -> str:
        """The language of the variant for members who have not chosen: "" (the first), or the bilingual
        tag ("cy+en-GB") in bilingual mode."""
        return "+".join(self.bilingual_order) if self.language_mode == "bilingual" else ""

    def source_named(self, name: str) -> SourceSettings:
        for src in self.sources:
            if src.name == name:
                return src
        raise KeyError(name)

    # The look of the email (issue 14): see [digest] and [organisation] in defaults.toml.
    images: str = "lead"  # lead | all | none
    layout: str = "newest"  # newest | by-topic
    templates_dir: str = ""  # an organisation's own templates, looked up before the shipped ones
    logo_url: str = ""
    logo_alt: str = ""
    logo_width: int = 0
    logo_height: int = 0
    http_images: bool = False  # allow http: images (tests and demos serving images locally); never in production
    image_weight_kb: int = 800  # digest check: total weight of the images an email shows
    fetch_images: bool = True  # measure pictures at ingest (false: the sizes the source declares)
    busy_timeout: int = 30  # seconds a command or page waits for another writer's lock
    providers: ProviderSettings = field(default_factory=ProviderSettings)

    @property
    def topic_slugs(self) -> tuple[str, ...]:
        return tuple(t.slug for t in self.topics)

    def topic(self, slug: str) -> Topic:
        for t in self.topics:
            if t.slug == slug:
                return t
        raise KeyError(slug)

    @property
    def sender_address(self) -> str:
        m = re.search(r"<([^>]+)>", self.sender)
        return (m.group(1) if m else self.sender).strip()

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2] or "localhost"

    @property
    def insecure_secret(self) -> bool:
        return self.secret_key in ("", INSECURE_SECRET)


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "file", "does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "syntax", str(exc)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "file", f"is not UTF-8 text (byte {exc.start + 1} cannot be read)") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "file", "is a folder, not a file") from None
    except OSError as exc:
        raise ConfigError(str(path), "file", exc.strerror or str(exc)) from None


def find_config(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if environ.get("DIGEST_CONFIG"):
        return Path(environ["DIGEST_CONFIG"])
    local = Path("digest.toml")
    return local if local.exists() else None


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, merge and validate settings; raise ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    data = _read_toml(DEFAULTS_PATH)
    source = ""
    cfg_path = find_config(str(path) if path else None, environ)
    if cfg_path is not None:
        source = str(cfg_path)
        user = _read_toml(cfg_path)
        if "topics" in user:  # a taxonomy replaces the default one as a whole
            data.pop("topics", None)
        _check_known(user, data, source)
        data = _merge(data, user)
    for var, (section, key) in ENVIRONMENT.items():
        if environ.get(var) not in (None, ""):
            data.setdefault(section, {})[key] = environ[var]
    return _validate(data, source)


def _check_known(user: dict, defaults: dict, source: str) -> None:
    known_sections = set(defaults) | {"security", "dkim", "topics", "web", "sources", "providers", "members"}
    for section, value in user.items():
        if section not in known_sections:
            raise ConfigError(source, section, "unknown section")
        if section in defaults and isinstance(defaults[section], dict):
            if not isinstance(value, dict):
                raise ConfigError(source, section, "must be a table")
            for key in value:
                if key not in defaults[section]:
                    raise ConfigError(source, f"{section}.{key}", "unknown key")


def _get(data: dict, source: str, section: str, key: str, kind: type, default: Any = None) -> Any:
    value = data.get(section, {}).get(key, default)
    name = f"{section}.{key}"
    if kind is int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(source, name, f"must be a whole number, not {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(source, name, f"must be a string, not {value!r}")
    return value


def _validate(data: dict, source: str) -> Settings:
    s = lambda sec, key, default=None: _get(data, source, sec, key, str, default)  # noqa: E731
    i = lambda sec, key: _get(data, source, sec, key, int)  # noqa: E731

    timezone, summary_words, edition_size = _edition_numbers(source, s, i)
    name, base_url, sender = _organisation(source, s)
    topics = _topics(data.get("topics"), source)
    dkim = _dkim(data, source)
    transport = s("digest", "transport")  # checked against the transports' table where it is used
    busy_timeout = i("digest", "busy_timeout")
    if not 1 <= busy_timeout <= 3600:
        raise ConfigError(source, "digest.busy_timeout", "must be between 1 and 3600 (seconds)")
    list_id = s("digest", "list_id") or f"{name} digest <digest.{_domain_of(sender)}>"
    min_articles = i("digest", "min_articles")
    if not 0 <= min_articles <= 100:
        raise ConfigError(source, "digest.min_articles", "must be between 0 and 100")
    fetch = {key: _seconds(data, source, key) for key in ("fetch_timeout", "fetch_deadline")}
    return Settings(
        organisation=name.strip(),
        address=s("organisation", "address"),
        base_url=base_url,
        sender=sender,
        reply_to=s("organisation", "reply_to"),
        website=s("organisation", "website"),
        brand_colour=s("organisation", "brand_colour"),
        accent_colour=s("organisation", "accent_colour"),
        timezone=timezone,
        summary_words=summary_words,
        edition_size=edition_size,
        subject=s("digest", "subject"),
        database_url=s("digest", "database_url"),
        outbox=s("digest", "outbox"),
        smtp_url=s("digest", "smtp_url"),
        transport=transport,
        list_id=list_id,
        unsubscribe_mailto=s("digest", "unsubscribe_mailto"),
        secret_key=str(data.get("security", {}).get("secret_key", INSECURE_SECRET)),
        topics=topics,
        dkim=dkim,
        bounces=_bounces(data, source),
        smtp=_smtp(data, source),
        tracking_clicks=_tracking_clicks(data, source),
        source=source,
        extra={"web": data.get("web", {})},
        sources=_sources(data.get("sources"), source, tuple(t.slug for t in topics)),
        editors=_editors(data.get("organisation", {}).get("editors", []), source),
        min_articles=min_articles,
        fetch_timeout=fetch["fetch_timeout"],
        fetch_deadline=fetch["fetch_deadline"],
        allow_private=_allow_private(data, source),
        retention=_retention(data, source),
        **_language_settings(data.get("organisation", {}), source),
        **_look(data, source, s, i),
        busy_timeout=busy_timeout,
        providers=_providers(data.get("providers"), source),
        member_sync=_member_sync(data.get("members", {}), source),
        member_welcome=_bool(data, source, "welcome", False, section="members"),
    )


def _edition_numbers(source: str, s, i) -> tuple[str, int, int]:
    """[digest] timezone, summary_words and edition_size, checked."""
    timezone = s("digest", "timezone")
    try:
        ZoneInfo(timezone)
    except Exception:
        raise ConfigError(source, "digest.timezone", f"unknown time zone {timezone!r}") from None
    summary_words = i("digest", "summary_words")
    if not 10 <= summary_words <= 500:
        raise ConfigError(source, "digest.summary_words", "must be between 10 and 500")
    edition_size = i("digest", "edition_size")
    if not 1 <= edition_size <= 100:
        raise ConfigError(source, "digest.edition_size", "must be between 1 and 100")
    return timezone, summary_words, edition_size


def _organisation(source: str, s) -> tuple[str, str, str]:
    """[organisation] name, base_url and sender, checked (and the colours, read again by _look)."""
    base_url = s("organisation", "base_url").rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigError(source, "organisation.base_url", f"must be an http(s) URL, not {base_url!r}")
    sender = s("organisation", "sender")
    if "@" not in sender or "\n" in sender or "\r" in sender:
        raise ConfigError(source, "organisation.sender", f"must be an email address, not {sender!r}")
    for key in ("brand_colour", "accent_colour"):
        if not _COLOUR.match(s("organisation", key)):
            raise ConfigError(source, f"organisation.{key}", "must be a colour like #1d4f91")
    name = s("organisation", "name")
    if not name.strip() or "\n" in name:
        raise ConfigError(source, "organisation.name", "must be one non-empty line")
    return name, base_url, sender


def _dkim(data: dict, source: str) -> DkimSettings | None:
    d = data.get("dkim") or {}
    if not any(d.get(k) for k in ("domain", "selector", "key_file")):
        return None
    missing = [k for k in ("domain", "selector", "key_file") if not d.get(k)]
    if missing:
        raise ConfigError(source, f"dkim.{missing[0]}", "is required when DKIM signing is configured")
    return DkimSettings(str(d["domain"]), str(d["selector"]), str(d["key_file"]))


def _look(data: dict, source: str, s, i) -> dict:
    """The [digest] and [organisation] keys of issue 14: images, layout, templates, logo."""
    images = s("digest", "images")
    if images not in ("lead", "all", "none"):
        raise ConfigError(source, "digest.images", f"must be lead, all or none, not {images!r}")
    layout = s("digest", "layout")
    if layout not in ("newest", "by-topic"):
        raise ConfigError(source, "digest.layout", f"must be newest or by-topic, not {layout!r}")
    templates_dir = s("digest", "templates_dir").strip()
    if templates_dir:
        folder = Path(templates_dir).expanduser()
        if not folder.is_absolute() and source:
            folder = Path(source).resolve().parent / folder  # relative to the config file
        if not folder.is_dir():
            raise ConfigError(source, "digest.templates_dir", f"{str(folder)!r} is not a folder")
        templates_dir = str(folder)
    logo_url = s("organisation", "logo_url").strip()
    logo_width, logo_height = i("organisation", "logo_width"), i("organisation", "logo_height")
    if logo_url:
        if not re.match(r"^https?://[^/\s]+", logo_url):
            raise ConfigError(source, "organisation.logo_url", f"must be an http(s) URL, not {logo_url!r}")
        if not (1 <= logo_width <= 536 and 1 <= logo_height <= 300):
            raise ConfigError(source, "organisation.logo_width",
                              "logo_width (1 to 536) and logo_height (1 to 300) give the logo's shown size in px")
    http_images = _bool(data, source, "http_images", False)
    fetch_images = _bool(data, source, "fetch_images", True)
    weight = i("digest", "image_weight_kb")
    if weight < 1:
        raise ConfigError(source, "digest.image_weight_kb", "must be at least 1")
    return dict(images=images, layout=layout, templates_dir=templates_dir, logo_url=logo_url,
                logo_alt=s("organisation", "logo_alt").strip(), logo_width=logo_width, logo_height=logo_height,
                http_images=http_images, image_weight_kb=weight, fetch_images=fetch_images)


def _language_settings(org: dict, source: str) -> dict:
    """languages, language_mode and bilingual_order of [organisation]."""
    languages = _languages(org.get("languages", ["en-GB"]), source)
    mode = org.get("language_mode", "per_member")
    if mode not in ("per_member", "bilingual"):
        raise ConfigError(source, "organisation.language_mode", f"must be per_member or bilingual, not {mode!r}")
    if mode == "bilingual" and len(languages) < 2:
        raise ConfigError(source, "organisation.language_mode", "bilingual needs two or more languages")
    # By default the other languages come first (the Welsh Language Standards: Welsh not after English).
    order = org.get("bilingual_order") or [*languages[1:], languages[0]]
    if not isinstance(order, list) or sorted(order) != sorted(languages):
        raise ConfigError(source, "organisation.bilingual_order",
                          f"must list each of the languages once ({', '.join(languages)}), not {order!r}")
    return {"languages": languages, "language_mode": mode, "bilingual_order": tuple(order)}


def _languages(raw: Any, source: str) -> tuple[str, ...]:
    """[organisation] languages: BCP 47 tags CLDR knows, no repeats, at least one."""
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) and t.strip() for t in raw):
        raise ConfigError(source, "organisation.languages",
                          'must be a non-empty list of language tags like ["en-GB", "cy"]')
    tags = tuple(t.strip() for t in raw)
    for tag in tags:
        try:
            locale_of(tag)
        except ValueError as exc:
            raise ConfigError(source, "organisation.languages", str(exc)) from None
    if len(set(tags)) != len(tags):
        raise ConfigError(source, "organisation.languages", f"lists a language twice: {', '.join(tags)}")
    return tags


def _bool(data: dict, source: str, key: str, default: bool, *, section: str = "digest") -> bool:
    value = data.get(section.rpartition(".")[2], {}).get(key, default)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        value = value.strip().lower() in ("1", "true", "yes", "on")  # from the environment
    if not isinstance(value, bool):
        raise ConfigError(source, f"{section}.{key}", f"must be true or false, not {value!r}")
    return value


def _bounces(data: dict, source: str) -> BounceSettings:
    b = data.get("bounces") or {}
    address = str(b.get("address", "")).strip()
    if address and not re.fullmatch(r"[A-Za-z0-9._-]{1,40}@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", address):
        raise ConfigError(source, "bounces.address", f"must be a plain address like bounces@news.example.org "
                                                     f"(no '+'), not {address!r}")
    imap_url = str(b.get("imap_url", "")).strip()
    if imap_url and not re.match(r"^imaps?://[^/\s]+", imap_url):
        raise ConfigError(source, "bounces.imap_url", "must be imap://user:pass@host/FOLDER or imaps://...")
    permanent = b.get("permanent", list(BounceSettings.permanent))
    if not isinstance(permanent, list) or not all(isinstance(x, str) and (m := ENHANCED_STATUS.fullmatch(x))
                                                  and m.group(1) == "5" for x in permanent):
        raise ConfigError(source, "bounces.permanent", "must be a list of 5.x.y status codes")
    out = {}
    for key, low, high in (("threshold", 1, 100), ("window_days", 1, 3650)):
        value = _get(data, source, "bounces", key, int, getattr(BounceSettings, key))
        if not low <= value <= high:
            raise ConfigError(source, f"bounces.{key}", f"must be between {low} and {high}")
        out[key] = value
    folders = {}
    for key in ("processed_folder", "quarantine_folder"):
        value = str(b.get(key, getattr(BounceSettings, key))).strip()
        if not value or "\n" in value:
            raise ConfigError(source, f"bounces.{key}", "must be a folder name")
        folders[key] = value
    return BounceSettings(address=address, imap_url=imap_url, permanent=tuple(permanent), **out, **folders)


def _smtp(data: dict, source: str) -> SmtpSettings:
    raw = data.get("smtp") or {}
    out: dict[str, Any] = {}
    for key in ("connect_timeout", "greeting_timeout", "command_timeout", "data_timeout"):
        value = raw.get(key, getattr(SmtpSettings, key))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
            raise ConfigError(source, f"smtp.{key}", f"must be a number of seconds from 0 to 3600, not {value!r}")
        out[key] = float(value)
    limit = raw.get("timeouts_in_a_row", SmtpSettings.timeouts_in_a_row)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ConfigError(source, "smtp.timeouts_in_a_row", f"must be a whole number from 1 to 1000, not {limit!r}")
    trips = raw.get("round_trips", SmtpSettings.round_trips)
    if str(trips) not in ("1", "2") or isinstance(trips, bool):  # the environment gives "1" or "2"
        raise ConfigError(source, "smtp.round_trips", f"must be 1 or 2, not {trips!r}")
    return SmtpSettings(**out, timeouts_in_a_row=limit, round_trips=int(trips))


def _retention(data: dict, source: str) -> RetentionSettings:
    out = {}
    for key, low, high in (("deliveries_months", 1, 1200), ("reports_months", 1, 1200),
                           ("quarantine_months", 1, 1200), ("clicks_months", 1, 1200),
                           ("members_months", 1, 1200), ("audit_months", 12, 1200), ("batch", 100, 100_000)):
        value = _get(data, source, "retention", key, int, getattr(RetentionSettings, key))
        if not low <= value <= high:
            raise ConfigError(source, f"retention.{key}", f"must be between {low} and {high}")
        out[key] = value
    window = _get(data, source, "bounces", "window_days", int, BounceSettings.window_days)
    if out["reports_months"] * 28 < window:  # the bounce count reads the reports of its window
        raise ConfigError(source, "retention.reports_months",
                          f"must keep reports at least as long as [bounces] window_days ({window} days)")
    return RetentionSettings(**out)


_PROVIDER_KEYS = {
    "ses": {"topic_arn": None, "configuration_set": ""},
    "postmark": {"username": "", "password": "", "secret_path": "", "message_stream": ""},
    "mailgun": {"signing_key": None, "tag": "digest"},
    "sendgrid": {"public_key": None},
}
_PROVIDER_CLASSES = {"ses": SesSettings, "postmark": PostmarkSettings, "mailgun": MailgunSettings,
                     "sendgrid": SendgridSettings}
# What may go into a header or a URL path as it is.
_PROVIDER_FORMATS = {
    "topic_arn": (r"arn:aws:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", "an SNS topic ARN like "
                  "arn:aws:sns:eu-west-2:123456789012:digest-feedback"),
    "configuration_set": (r"[A-Za-z0-9_-]{1,64}", "letters, digits, '_' and '-'"),
    "message_stream": (r"[a-z0-9-]{1,30}", "a Postmark stream id (lower-case letters, digits, '-')"),
    "tag": (r"[A-Za-z0-9_.-]{1,64}", "letters, digits, '_', '.' and '-'"),
    "secret_path": (r"[A-Za-z0-9_-]{24,128}", "at least 24 letters, digits, '_' or '-'"),
    "username": (r"[^:\s]{1,100}", "a user name without ':' or spaces (HTTP basic authentication)"),
    "public_key": (r"(-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----|[A-Za-z0-9+/=\s]{40,})\s*",
                   "the base64 verification key SendGrid shows (or its PEM form)"),
}


def _providers(raw: Any, source: str) -> ProviderSettings:
    if raw is None:
        return ProviderSettings()
    if not isinstance(raw, dict):
        raise ConfigError(source, "providers", "must be a table of [providers.NAME] tables")
    out = {}
    for name, section in raw.items():
        if name not in _PROVIDER_KEYS:
            raise ConfigError(source, f"providers.{name}", f"unknown provider (known: {', '.join(PROVIDERS)})")
        if not isinstance(section, dict):
            raise ConfigError(source, f"providers.{name}", "must be a table")
        values = {}
        for key, default in _PROVIDER_KEYS[name].items():
            value = section.get(key, default)
            if value is None:
                raise ConfigError(source, f"providers.{name}.{key}", "is required")
            if not isinstance(value, str) or "\n" in value.strip() and key != "public_key":
                raise ConfigError(source, f"providers.{name}.{key}", f"must be one line of text, not {value!r}")
            value = value.strip()
            pattern, what = _PROVIDER_FORMATS.get(key, (r".+", "not empty"))
            if (value or default is None) and not re.fullmatch(pattern, value):
                raise ConfigError(source, f"providers.{name}.{key}", f"must be {what}")
            values[key] = value
        unknown = set(section) - set(_PROVIDER_KEYS[name])
        if unknown:
            raise ConfigError(source, f"providers.{name}.{sorted(unknown)[0]}", "unknown key")
        if name == "postmark" and not (values["secret_path"] or values["username"] and values["password"]):
            raise ConfigError(source, "providers.postmark", "needs username and password, or secret_path, or both")
        out[name] = _PROVIDER_CLASSES[name](**values)
    return ProviderSettings(**out)


def _tracking_clicks(data: dict, source: str) -> str:
    value = str((data.get("tracking") or {}).get("clicks", "off")).strip()
    if value not in ("off", "aggregate"):
        raise ConfigError(source, "tracking.clicks", f"must be off or aggregate, not {value!r}")
    return value


def _domain_of(sender: str) -> str:
    m = re.search(r"@([^>\s]+)", sender)
    return m.group(1) if m else "localhost"


def _topics(raw: Any, source: str) -> tuple[Topic, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(source, "topics", "must be a non-empty list of [[topics]] tables")
    seen: set[str] = set()
    out = []
    for n, t in enumerate(raw, 1):
        where = f"topics[{n}]"
        if not isinstance(t, dict):
            raise ConfigError(source, where, "must be a table")
        slug = t.get("slug")
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise ConfigError(source, f"{where}.slug", f"must be lower-case words joined by '-', not {slug!r}")
        if slug in seen:
            raise ConfigError(source, f"{where}.slug", f"{slug!r} appears twice")
        seen.add(slug)
        label = t.get("label", slug)
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(source, f"{where}.label", "must be a non-empty string")
        lists = {}
        for key in ("aliases", "keywords"):
            v = t.get(key, [])
            if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
                raise ConfigError(source, f"{where}.{key}", "must be a list of non-empty strings")
            lists[key] = tuple(x.strip() for x in v)
        unknown = set(t) - {"slug", "label", "aliases", "keywords", "labels"}
        if unknown:
            raise ConfigError(source, f"{where}.{sorted(unknown)[0]}", "unknown key")
        out.append(Topic(slug, label.strip(), lists["aliases"], lists["keywords"],
                         _topic_labels(t.get("labels", {}), source, f"{where}.labels")))
    return tuple(out)


def _topic_labels(raw: Any, source: str, where: str) -> tuple[tuple[str, str], ...]:
    """labels = { cy = "Diogelu data" }: the topic's label per language tag."""
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v.strip() for v in raw.values()):
        raise ConfigError(source, where, 'must be a table of non-empty labels by language, like { cy = "Iechyd" }')
    for tag in raw:
        try:
            locale_of(tag)
        except ValueError as exc:
            raise ConfigError(source, f"{where}.{tag}", str(exc)) from None
    return tuple((tag, v.strip()) for tag, v in raw.items())


def templates_dir() -> Path:
    """The shipped templates (templates/ of the repository, packaged as digest.templates)."""
    from importlib.resources import files

    return Path(str(files("digest.templates")))


def _seconds(data: dict, source: str, key: str) -> float:
    value = data.get("digest", {}).get(key)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise ConfigError(source, f"digest.{key}", f"must be a number of seconds from 0 to 3600, not {value!r}")
    return float(value)


def _allow_private(data: dict, source: str) -> tuple[str, ...]:
    """[fetch] allow_private: CIDRs ("10.1.2.0/24"); a list, or comma-separated from the environment."""
    raw = (data.get("fetch") or {}).get("allow_private", [])
    if isinstance(raw, str):
        raw = [c for c in raw.split(",") if c.strip()]
    if not isinstance(raw, list):
        raise ConfigError(source, "fetch.allow_private", "must be a list of networks like \"10.1.2.0/24\"")
    out = []
    for cidr in raw:
        try:
            out.append(str(ipaddress.ip_network(str(cidr).strip(), strict=False)))
        except ValueError:
            raise ConfigError(source, "fetch.allow_private",
                              f"{cidr!r} is not an address or network like \"10.1.2.0/24\"") from None
    return tuple(out)


def _editors(raw: Any, source: str) -> tuple[str, ...]:
    if isinstance(raw, str):  # one address, or a comma-separated list from the environment
        raw = [a for a in raw.split(",") if a.strip()]
    if not isinstance(raw, list):
        raise ConfigError(source, "organisation.editors", "must be a list of email addresses")
    out = []
    for address in raw:
        if not isinstance(address, str) or not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+", address.strip()):
            raise ConfigError(source, "organisation.editors", f"{address!r} is not an email address")
        out.append(address.strip())
    return tuple(out)


_SOURCE_KEYS = {"name", "url", "path", "kind", "topics", "link_template", "website", "max_age_days",
                "resolve_links"}
SOURCE_KINDS = ("feed", "jsonfeed", "wordpress", "listing")



def _sources(raw: Any, source: str, slugs: tuple[str, ...]) -> tuple[SourceSettings, ...]:
    """[[sources]]: each with a unique name and one of url / path; see defaults.toml."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(source, "sources", "must be a list of [[sources]] tables")
    base = Path(source).resolve().parent if source else Path.cwd()
    seen: set[str] = set()
    out = []
    for n, entry in enumerate(raw, 1):
        where = f"sources[{n}]"
        if not isinstance(entry, dict):
            raise ConfigError(source, where, "must be a table")
        unknown = set(entry) - _SOURCE_KEYS
        if unknown:
            raise ConfigError(source, f"{where}.{sorted(unknown)[0]}", "unknown key")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or _has_controls(name):
            raise ConfigError(source, f"{where}.name", "must be a short one-line name without control characters")
        name = name.strip()
        where = f"sources[{n}] ({name})"
        if name in seen:
            raise ConfigError(source, f"{where}.name", f"{name!r} appears twice")
        seen.add(name)
        out.append(_source(entry, name, _location(entry, source, where, base), source, where, slugs))
    return tuple(out)


def _location(entry: dict, source: str, where: str, base: Path) -> str:
    """A source's url (http(s)), or its path resolved against the config file's folder."""
    if ("url" in entry) == ("path" in entry):
        raise ConfigError(source, where, "give either url or path")
    if "url" in entry:
        location = entry["url"]
        if not isinstance(location, str) or not re.match(r"^https?://[^/\s]+", location.strip()):
            raise ConfigError(source, f"{where}.url", f"must be an http(s) URL, not {location!r}")
        return location.strip()
    path = entry["path"]
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(source, f"{where}.path", "must be a file path")
    return str(base / Path(path.strip()).expanduser())


def _source(entry: dict, name: str, location: str, source: str, where: str, slugs: tuple[str, ...]) -> SourceSettings:
    """The rest of one [[sources]] entry, each key checked."""
    kind = entry.get("kind")
    if kind is not None and kind not in SOURCE_KINDS:
        raise ConfigError(source, f"{where}.kind", f"must be one of {', '.join(SOURCE_KINDS)}, not {kind!r}")
    topics = entry.get("topics", [])
    if isinstance(topics, str):
        topics = [topics]
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise ConfigError(source, f"{where}.topics", "must be a list of topic slugs")
    for t in topics:
        if t not in slugs:
            raise ConfigError(source, f"{where}.topics", f"unknown topic {t!r}; known: {', '.join(slugs)}")
    template = entry.get("link_template")
    if template is not None:
        problem = check_link_template(template) if isinstance(template, str) else "must be a string"
        if problem:
            raise ConfigError(source, f"{where}.link_template", problem)
    website = entry.get("website")
    if website is not None and (not isinstance(website, str) or not re.match(r"^https?://[^/\s]+", website)):
        raise ConfigError(source, f"{where}.website", f"must be an http(s) URL, not {website!r}")
    age = entry.get("max_age_days", 14)
    if isinstance(age, bool) or not isinstance(age, int) or not 1 <= age <= 3660:
        raise ConfigError(source, f"{where}.max_age_days", f"must be a whole number of days, not {age!r}")
    resolve = entry.get("resolve_links")
    if resolve is not None and (not isinstance(resolve, str) or not (
            resolve == "wordpress" or re.match(r"^https?://[^/\s]+", resolve))):
        raise ConfigError(source, f"{where}.resolve_links",
                          f'must be a sitemap\'s http(s) URL or "wordpress", not {resolve!r}')
    return SourceSettings(name, location, kind, tuple(t for t in slugs if t in topics), template, website, age,
                          resolve)


def _has_controls(text: str) -> bool:
    """A control character: a newline, or a terminal escape that would print raw."""
    return any(unicodedata.category(c) == "Cc" for c in text)


def check_link_template(template: str) -> str | None:
    """Why `template` is no usable link_template, or None: http(s), and only
    {slug} and {date:FORMAT} fields (strftime formats)."""
    if not template.startswith(("https://", "http://")):
        return "must be an http(s) URL with {slug} (and {date:%Y/%m/%d} pieces)"
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"is not a template: {exc}"
    if len(template) > 500:
        return "is longer than 500 characters: no link needs that"
    for name, spec, conversion in fields:
        if name not in ("slug", "date"):
            return f"has {{{name}}}: only {{slug}} and {{date:FORMAT}} are filled"
        if conversion or (name == "slug" and spec) or (name == "date" and spec and "%" not in spec) \
                or "{" in (spec or ""):
            # {slug:>99999999} would pad every link to 100 MB: no width, precision or conversion
            return (f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is not allowed: "
                    "{slug} takes no format, {date:...} only strftime codes like %Y/%m/%d")
    if "slug" not in [name for name, _, _ in fields]:
        return "must contain {slug}: without it every article would get the same link"
    return None


def web_option(settings: Settings, key: str, default: int, low: int, high: int) -> int:
    """A whole number from the free-form [web] table (the web app's and the desk's options)."""
    raw = (settings.extra.get("web") or {}).get(key, default)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise ConfigError(settings.source, f"web.{key}", f"must be a whole number from {low} to {high}, not {raw!r}")
    return raw


_SYNC_FIELDS = ("email", "name", "topics", "frequency", "format")


def _member_sync(raw: Any, source: str) -> MemberSyncSettings:
    """[members.sync], checked: unknown keys, columns and attribute names are errors."""
    if not isinstance(raw, dict) or set(raw) - {"sync", "welcome"}:
        raise ConfigError(source, "members", "only welcome and [members.sync] are known here")
    sync = raw.get("sync", {})
    defaults = MemberSyncSettings()
    known = set(MemberSyncSettings.__dataclass_fields__)
    for key in sync:
        if key not in known:
            raise ConfigError(source, f"members.sync.{key}", "unknown key")
    columns = _str_table(sync.get("columns", {}), source, "members.sync.columns")
    bad = set(columns) - set(_SYNC_FIELDS)
    if bad:
        raise ConfigError(source, f"members.sync.columns.{sorted(bad)[0]}",
                          f"unknown field (one of: {', '.join(_SYNC_FIELDS)})")
    attributes = _str_table(sync.get("attributes", {}), source, "members.sync.attributes")
    for name in attributes:
        if not _SLUG.match(name.replace("_", "-")):
            raise ConfigError(source, f"members.sync.attributes.{name}", "must be a short lower-case name like region")
    max_lapse = sync.get("max_lapse", defaults.max_lapse)
    if isinstance(max_lapse, str) and max_lapse.strip().endswith("%"):
        try:
            max_lapse = float(max_lapse.strip()[:-1]) / 100
        except ValueError:
            pass
    if not isinstance(max_lapse, (int, float)) or isinstance(max_lapse, bool) or not 0 <= max_lapse <= 1:
        raise ConfigError(source, "members.sync.max_lapse", f'must be a share from 0 to 1 or "5%", not {max_lapse!r}')
    text = {k: sync.get(k, getattr(defaults, k)) for k in ("source", "topics_separator", "header", "token_env")}
    for k, v in text.items():
        if not isinstance(v, str) or "\n" in v:
            raise ConfigError(source, f"members.sync.{k}", f"must be one line of text, not {v!r}")
    return MemberSyncSettings(
        columns={**{f: f for f in _SYNC_FIELDS}, **{k: v.strip() for k, v in columns.items()}},
        attributes={k: v.strip() for k, v in attributes.items()},
        max_lapse=float(max_lapse),
        **text,
        **{k: _bool({"sync": sync}, source, k, getattr(defaults, k), section="members.sync")
           for k in ("complete", "require_in_crm", "before_run")},
    )


def _str_table(raw: Any, source: str, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v.strip() for v in raw.values()):
        raise ConfigError(source, where, 'must be a table of names to column headings, like email = "Email"')
    return dict(raw)
