"""What the views share: app state, pages, reading a member from a link, the CSRF guard, wording."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

from urllib.parse import urlencode

from flask import Response, current_app, g, has_request_context, make_response, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..config import Settings
from ..db import Database
from ..db import members as member_db
from ..edition.textformat import Palette, dark_palette, palette, readable
from ..errors import TokenError
from ..i18n import N_, Language, best_language, language
from ..message.links import Links
from ..members import NAME_MAX
from ..models import Subscriber
from ..signing import PURPOSES as SIGNING_PURPOSES
from ..signing import Signing

CSRF_SALT = SIGNING_PURPOSES["csrf"].salt
CSRF_MAX_AGE = 24 * 3600  # a preferences form left open longer asks to be reloaded

# (label, hint) of each choice; translated where shown (words()).
FREQUENCY_WORDS = {
    "daily": (N_("Daily"), N_("One email on each day with news.")),
    "weekly": (N_("Weekly"), N_("One email each week with the week's news.")),
    "monthly": (N_("Monthly"), N_("One email each month with the month's news.")),
}
FORMAT_WORDS = {
    "html": (N_("Designed email"), N_("With headings and links, as most people read it.")),
    "text": (N_("Plain text"), N_("Text only: lighter, and kind to screen readers and old mail programs.")),
}

# App pages: only our own stylesheet, no scripts at all, forms post to ourselves.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
# The web version of an edition is the email itself: inline styles, images from anywhere https.
EDITION_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'none'; "
               "frame-ancestors 'none'; base-uri 'none'")


class RateLimiter:
    """At most `limit` hits per `window` seconds for each key, in process memory.

    Several server processes each count on their own; that is fine for
    slowing a script down, which is all this is for.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000):
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one hit; 0 if allowed, else the seconds until the next one would be."""
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            self._hits[key] = hits  # most recently used last
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit:
                return max(1.0, hits[0] + self.window - now)
            hits.append(now)
            return 0.0


@dataclass
class WebState:
    """Everything the views need, made once per app."""

    settings: Settings
    db: Database
    transport_factory: Callable[[], object]
    clock: Callable[[], datetime]
    subscribe_limit: int = 5
    subscribe_window: int = 60
    confirm_days: int = 7
    resend_minutes: int = 10
    links: Links = field(init=False)
    csrf: URLSafeTimedSerializer = field(init=False)
    limiter: RateLimiter = field(init=False)
    palette: Palette = field(init=False)
    dark: Palette = field(init=False)  # the members' pages when their device is in dark mode
    error: str = "#a4262c"  # form errors, on the light card
    error_dark: str = field(init=False)  # the same on the dark card (a light red)
    org: dict = field(init=False)
    edition_cache: OrderedDict = field(init=False, default_factory=OrderedDict)
    cache_lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    mailer: object = field(init=False, default=None)  # web.mailer.Mailer, set by create_app

    def __post_init__(self) -> None:
        s = self.settings
        self.links = Links(s.secret_key, s.base_url)
        self.csrf = Signing(s.secret_key).serializer("csrf")
        self.limiter = RateLimiter(self.subscribe_limit, self.subscribe_window)
        self.palette = palette(s.brand_colour, s.accent_colour)
        self.dark = dark_palette(s.brand_colour, s.accent_colour)
        self.error_dark = readable("#ff9a9e", self.dark.surface, self.dark.page)
        self.org = {"name": s.organisation, "address": s.address, "website": s.website}

    def now(self) -> datetime:
        return self.clock()


def state() -> WebState:
    return current_app.extensions["digest"]


def words() -> Language:
    """The language of this request's words: the member's when a view has set it, else the organisation's first."""
    return g.get("digest_language") or language(state().settings.language)


def install_languages(app) -> None:
    """Every page speaks the request's language: {% trans %} and _() in templates, its lang attribute,
    the language switch; chosen before each request (negotiate_language)."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: words().gettext(message),
        lambda singular, plural, n: words().ngettext(singular, plural, n),
        newstyle=True)
    app.before_request(negotiate_language)

    @app.context_processor
    def _language() -> dict:
        lang = words()
        # <html lang> names the language only ("en"); the feed's xml:lang the whole tag ("en-GB").
        return {"html_lang": lang.locale.language, "lang_tag": lang.tag, "language_links": language_links()}

    @app.after_request
    def _vary(resp: Response) -> Response:
        if len(state().settings.languages) > 1:  # pages (and their caches) differ by the reader's languages
            resp.headers.add("Vary", "Accept-Language")
        return resp


def negotiate_language() -> None:
    """Before each request: ?lang=TAG (the language switch) wins, else the browser's Accept-Language.
    The desk is written in the organisation's first language only."""
    languages = state().settings.languages
    if request.path.startswith("/desk"):
        use_language(languages[0])
        return
    explicit = request.args.get("lang")
    g.digest_explicit_language = explicit in languages
    use_language(explicit if explicit in languages else
                 best_language([tag for tag, _q in request.accept_languages], languages))


def language_choices() -> list[tuple[str, str, str]]:
    """(tag, name, lang) of each configured language, named in itself ("Cymraeg") as language choices are;
    [] when there is only one."""
    languages = state().settings.languages
    if len(languages) < 2:
        return []
    return [(tag, language(tag).locale.get_language_name().capitalize(), language(tag).locale.language)
            for tag in languages]


def language_links() -> list[dict]:
    """The language switch: every configured language, named in itself, linking to this page in it."""
    languages = state().settings.languages
    if len(languages) < 2 or not has_request_context():  # emails made by the mail worker have no request
        return []
    if request.path.startswith("/desk") or request.method != "GET":
        return []
    current = words().tag
    links = []
    for tag in languages:
        args = {**request.args.to_dict(), "lang": tag}
        links.append({"tag": tag, "lang": language(tag).locale.language, "current": tag == current,
                      "name": language(tag).locale.get_language_name().capitalize(),
                      "url": f"{request.path}?{urlencode(args)}"})
    return links


def use_language(tag: str | None) -> Language:
    """Speak `tag` for the rest of this request (a configured language; else the default)."""
    languages = state().settings.languages
    g.digest_language = language(tag if tag in languages else languages[0])
    return g.digest_language


def topic_choices() -> list[tuple[str, str]]:
    """(slug, label) of every topic, labelled in the request's language."""
    tag = words().tag
    return [(t.slug, t.label_in(tag)) for t in state().settings.topics]


def choices(words_of: dict[str, tuple[str, str]], values: Sequence[str]) -> list[tuple[str, str, str]]:
    """(value, label, hint) of each radio choice, in the request's language."""
    _ = words().gettext
    return [(v, _(words_of[v][0]), _(words_of[v][1])) for v in values]


def page(template: str, status: int = 200, **context) -> Response:
    """A rendered page; token pages are never cached (the app's default)."""
    return make_response(render_template(template, **context), status)


# What each error page says: (title, message). Nothing in them depends on the request but the language.
ERRORS = {
    "link": (N_("This link does not work"),
             N_("It may be incomplete, out of date, or replaced by a link in a newer email. "
                "Links in our emails are personal: use the one in the most recent email you received from us.")),
    "form": (N_("This form has expired"),
             N_("Nothing was changed. Forms stay valid for a day: open the page again and make your changes there.")),
    "not-found": (N_("Page not found"), N_("There is nothing at this address. Check that it was copied in full.")),
    "method": (N_("That did not work"), N_("This page cannot be used that way. Go back and try again.")),
    "too-large": (N_("That was too much"), N_("The form sent more than this site accepts.")),
    "too-many": (N_("Too many requests"),
                 N_("You have sent this form several times in a short while. Wait a minute and try again.")),
    "bad-request": (N_("That did not work"), N_("The request could not be understood. Go back and try again.")),
    "busy": (N_("We are busy"), N_("Nothing was changed. Please try again in a minute.")),
    "server": (N_("Something went wrong"),
               N_("The problem is ours, not yours. Nothing was changed; please try again later.")),
}


def error_page(kind: str, status: int, **context) -> Response:
    title, message = (words().gettext(m) for m in ERRORS[kind])
    return page("error.html", status, title=title, message=message, kind=kind, **context)


# ---------------------------------------------------------------- links


def load_member(conn, purpose: str, token: str, *, max_age: int | None = None) -> Subscriber:
    """The member a link belongs to; TokenError (one page for all) if forged, expired, revoked or unknown."""

    sub_id, version = state().links.read(purpose, token, max_age=max_age)
    sub = member_db.get_by_id(conn, sub_id)
    if sub is None or sub.token_version != version:
        raise TokenError("no such member, or the link was revoked")
    if sub.language and not g.get("digest_explicit_language"):  # the member's choice, unless the switch was used
        use_language(sub.language)
    return sub


def tokens_for(sub: Subscriber) -> dict[str, str]:
    """The member's current preferences and unsubscribe tokens (for links between pages)."""
    links = state().links
    return {p: links.token(p, sub.id, sub.token_version) for p in ("preferences", "unsubscribe")}


def _bind(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()[:32]


def csrf_value(token: str) -> str:
    """A signed, timed value for the hidden field of a form that belongs to this link."""
    return state().csrf.dumps(_bind(token))


def csrf_ok(token: str, value: str | None) -> bool:
    if not value or len(value) > 200:
        return False
    try:
        bound = state().csrf.loads(value, max_age=CSRF_MAX_AGE)
    except BadSignature:  # also SignatureExpired
        return False
    return isinstance(bound, str) and hmac.compare_digest(bound, _bind(token))


# ---------------------------------------------------------------- wording


def masked(email: str) -> str:
    """'s•••@example.org': enough for members to know which address, not enough to read it off a screen."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}•••@{domain}" if local else email


def topic_label(slug: str) -> str:
    try:
        return state().settings.topic(slug).label_in(words().tag)
    except KeyError:  # dropped from the taxonomy since
        return slug.replace("-", " ").capitalize()


def topics_text(slugs: Sequence[str]) -> str:
    return ", ".join(topic_label(s) for s in slugs) if slugs else words().gettext("All topics")


# A member's status as the saved page names it.
STATUS_WORDS = {"pending": N_("Pending"), "active": N_("Active"), "unsubscribed": N_("Unsubscribed"),
                "bounced": N_("Bounced"), "complained": N_("Complained")}


def _kinds(news: bool) -> str:
    """Which kinds of announcement a member gets, in words."""
    _ = words().gettext
    return _("News announcements and statutory notices") if news else _("Statutory notices only")


def describe_changes(changes: dict[str, list]) -> list[dict]:
    """[{"what", "before", "after"}] in words, for the saved page."""
    _ = words().gettext
    out = []
    order = ("topics", "frequency", "format", "language", "paused", "news_announcements", "name", "status")
    for key in sorted(changes, key=lambda k: order.index(k) if k in order else len(order)):
        old, new = changes[key]
        if key == "topics":
            row = {"what": _("Topics"), "before": topics_text(old), "after": topics_text(new)}
        elif key == "frequency":
            row = {"what": _("How often"), "before": _(FREQUENCY_WORDS[old][0]), "after": _(FREQUENCY_WORDS[new][0])}
        elif key == "format":
            row = {"what": _("Format"), "before": _(FORMAT_WORDS[old][0]), "after": _(FORMAT_WORDS[new][0])}
        elif key == "language":
            row = {"what": _("Language"), "before": _language_name(old), "after": _language_name(new)}
        elif key == "paused":
            row = {"what": _("Emails"), "before": _("Paused") if old else _("Being sent"),
                   "after": _("Paused") if new else _("Being sent")}
        elif key == "news_announcements":
            row = {"what": _("Announcements"), "before": _kinds(old), "after": _kinds(new)}
        elif key == "name":
            row = {"what": _("Name"), "before": old or _("(none)"), "after": new or _("(none)")}
        elif key == "status":
            row = {"what": _("Subscription"), "before": _status(old), "after": _status(new)}
        else:
            continue
        out.append(row)
    return out


def _language_name(tag: str) -> str:
    tag = tag or state().settings.language
    return language(tag).locale.get_language_name().capitalize() if tag in state().settings.languages else tag


def _status(status: str) -> str:
    return words().gettext(STATUS_WORDS[status]) if status in STATUS_WORDS else status.capitalize()


def name_error(reason: str) -> str:
    """The form's words for a name members.clean_name refused (its reason is for operators, in English)."""
    _ = words().gettext
    if "line break" in reason:
        return _("Check the name: it contains a line break.")
    if "control character" in reason:
        return _("Check the name: it contains a control character.")
    return _("Check the name: it is longer than %(num)d characters.") % {"num": NAME_MAX}
