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

from flask import Response, current_app, make_response, render_template
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..config import Settings
from ..db import Database
from ..db import members as member_db
from ..edition.textformat import Palette, dark_palette, palette, readable
from ..errors import TokenError
from ..message.links import Links
from ..models import Subscriber
from ..signing import PURPOSES as SIGNING_PURPOSES
from ..signing import Signing

CSRF_SALT = SIGNING_PURPOSES["csrf"].salt
CSRF_MAX_AGE = 24 * 3600  # a preferences form left open longer asks to be reloaded

FREQUENCY_WORDS = {
    "daily": ("Daily", "One email on each day with news."),
    "weekly": ("Weekly", "One email each week with the week's news."),
    "monthly": ("Monthly", "One email each month with the month's news."),
}
FORMAT_WORDS = {
    "html": ("Designed email", "With headings and links, as most people read it."),
    "text": ("Plain text", "Text only: lighter, and kind to screen readers and old mail programs."),
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


def page(template: str, status: int = 200, **context) -> Response:
    """A rendered page; token pages are never cached (the app's default)."""
    return make_response(render_template(template, **context), status)


# What each error page says: (title, message). Nothing in them depends on the request.
ERRORS = {
    "link": ("This link does not work",
             "It may be incomplete, out of date, or replaced by a link in a newer email. "
             "Links in our emails are personal: use the one in the most recent email you received from us."),
    "form": ("This form has expired",
             "Nothing was changed. Forms stay valid for a day: open the page again and make your changes there."),
    "not-found": ("Page not found", "There is nothing at this address. Check that it was copied in full."),
    "method": ("That did not work", "This page cannot be used that way. Go back and try again."),
    "too-large": ("That was too much", "The form sent more than this site accepts."),
    "too-many": ("Too many requests",
                 "You have sent this form several times in a short while. Wait a minute and try again."),
    "bad-request": ("That did not work", "The request could not be understood. Go back and try again."),
    "busy": ("We are busy", "Nothing was changed. Please try again in a minute."),
    "server": ("Something went wrong", "The problem is ours, not yours. Nothing was changed; please try again later."),
}


def error_page(kind: str, status: int, **context) -> Response:
    title, message = ERRORS[kind]
    return page("error.html", status, title=title, message=message, kind=kind, **context)


# ---------------------------------------------------------------- links


def load_member(conn, purpose: str, token: str, *, max_age: int | None = None) -> Subscriber:
    """The member a link belongs to; TokenError (one page for all) if forged, expired, revoked or unknown."""

    sub_id, version = state().links.read(purpose, token, max_age=max_age)
    sub = member_db.get_by_id(conn, sub_id)
    if sub is None or sub.token_version != version:
        raise TokenError("no such member, or the link was revoked")
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
        return state().settings.topic(slug).label
    except KeyError:  # dropped from the taxonomy since
        return slug.replace("-", " ").capitalize()


def topics_text(slugs: Sequence[str]) -> str:
    return ", ".join(topic_label(s) for s in slugs) if slugs else "All topics"


def describe_changes(changes: dict[str, list]) -> list[dict]:
    """[{"what", "before", "after"}] in words, for the saved page."""
    out = []
    order = ("topics", "frequency", "format", "paused", "name", "status")
    for key in sorted(changes, key=lambda k: order.index(k) if k in order else len(order)):
        old, new = changes[key]
        if key == "topics":
            row = {"what": "Topics", "before": topics_text(old), "after": topics_text(new)}
        elif key == "frequency":
            row = {"what": "How often", "before": FREQUENCY_WORDS[old][0], "after": FREQUENCY_WORDS[new][0]}
        elif key == "format":
            row = {"what": "Format", "before": FORMAT_WORDS[old][0], "after": FORMAT_WORDS[new][0]}
        elif key == "paused":
            row = {"what": "Emails", "before": "Paused" if old else "Being sent",
                   "after": "Paused" if new else "Being sent"}
        elif key == "name":
            row = {"what": "Name", "before": old or "(none)", "after": new or "(none)"}
        elif key == "status":
            row = {"what": "Subscription", "before": old.capitalize(), "after": new.capitalize()}
        else:
            continue
        out.append(row)
    return out
