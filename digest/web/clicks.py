"""GET /r/TOKEN: follow an article link, counted per article and variant, never per member.

Only when [tracking] clicks = "aggregate"; otherwise the redirect still works
(messages already sent keep working) and nothing is recorded. The redirect
goes only to the URL in a token we signed (edition/clicks.py); a forged or
altered token is the 400 "link" page and goes nowhere. No cookie is set and
Referrer-Policy is no-referrer (the app's headers), so the article's site
learns nothing from us.

A person opening the same link again (a second tap, back and forward, a
reload) within REPEAT_SECONDS counts once. The client is recognised by a keyed
hash of its address, agent and the link, the key drawn at random each day and
kept in memory only: nothing stored says who followed what, and yesterday's
hashes cannot be matched to today's.

Link scanners (mail security gateways that fetch every link of a message
before the member sees it) are counted apart, as kind "scanner":
  - HEAD requests, and requests without a user agent or with a known scanner's;
  - several different articles of one variant followed from one client within
    a second: a person reads one story at a time. The earlier clicks of such a
    burst are re-labelled too. The client is recognised by a hash of its
    address and user agent kept in memory for two seconds, never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

from flask import Blueprint, current_app, redirect, request

from ..db import reports as reports_db
from ..edition.clicks import ClickLinks
from .common import state

bp = Blueprint("clicks", __name__)

# Mail security gateways and link checkers seen fetching links in mail, and generic robots.
SCANNER_AGENTS = re.compile(
    r"barracuda|mimecast|proofpoint|symantec|messagelabs|trend ?micro|fireeye|safelinks|bitdefender|sophos"
    r"|forcepoint|cisco|ironport|fortinet|zscaler|checkpoint|spamtitan|mailscanner|vade|cloudmark"
    r"|python-requests|python-urllib|curl/|wget/|go-http-client|java/|okhttp|libwww|httpclient|aiohttp"
    r"|bot\b|bot/|crawler|spider|scanner|linkcheck|urlscan|preview", re.I)
BURST_SECONDS = 1.0


class BurstDetector:
    """Remembers, for two seconds, which articles each client followed (by a hash of address + agent)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.recent: dict[str, list[tuple[float, int, int]]] = {}  # client -> [(when, position, click id)]

    def see(self, client: str, position: int, click_id: int) -> list[int]:
        """Record a click; the ids of this burst's clicks (this one included) if it is one, else []."""
        now = self.clock()
        with self.lock:
            for key in [k for k, v in self.recent.items() if now - v[-1][0] > 2 * BURST_SECONDS]:
                del self.recent[key]
            seen = [c for c in self.recent.get(client, []) if now - c[0] <= BURST_SECONDS]
            seen.append((now, position, click_id))
            self.recent[client] = seen
            if len({p for _, p, _ in seen}) > 1:
                return [i for _, _, i in seen]
            return []


REPEAT_SECONDS = 600.0


class RepeatFilter:
    """Whether this client followed this very link within REPEAT_SECONDS (a keyed hash, the key new each day)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = 100_000):
        self.clock, self.max_keys = clock, max_keys
        self.lock = threading.Lock()
        self.day, self.key = -1, b""
        self.seen: OrderedDict[bytes, float] = OrderedDict()  # hash -> when, oldest first

    def repeat(self, *parts: str) -> bool:
        """True if the same parts were seen within the window (then nothing is counted); records them."""
        now = self.clock()
        with self.lock:
            if int(now) // 86_400 != self.day:  # a new day: a new key, and nothing of yesterday kept
                self.day, self.key = int(now) // 86_400, secrets.token_bytes(32)
                self.seen.clear()
            while self.seen and (now - next(iter(self.seen.values())) > REPEAT_SECONDS
                                 or len(self.seen) > self.max_keys):
                self.seen.popitem(False)  # the oldest
            mark = hmac.new(self.key, "\0".join(parts).encode(), hashlib.sha256).digest()
            if mark in self.seen:
                return True
            self.seen[mark] = now
            return False


def _client(edition_id: int, variant: str) -> str:
    raw = "\0".join((request.remote_addr or "", request.user_agent.string, str(edition_id), variant))
    return hashlib.sha256(raw.encode()).hexdigest()


@bp.route("/r/<token>", methods=["GET", "HEAD"])
def follow(token: str):
    st = state()
    links = ClickLinks(st.settings.secret_key, st.settings.base_url)
    click = links.read(token)  # TokenError -> the 400 link page
    if st.settings.tracking_clicks == "aggregate":
        agent = request.headers.get("User-Agent", "").strip()
        reason = ""
        if request.method == "HEAD":
            reason = "HEAD request"
        elif not agent:
            reason = "no user agent"
        elif SCANNER_AGENTS.search(agent):
            reason = f"scanner agent {SCANNER_AGENTS.search(agent).group(0).lower()}"
        ext = current_app.extensions
        if not reason and ext["digest-repeats"].repeat(request.remote_addr or "", agent, token):
            return redirect(click.url)  # the same person again: counted once already (302, no-store: the app's)
        with st.db.begin() as conn:
            click_id = reports_db.add_click(conn, click.edition_id, click.position, click.variant,
                                            "scanner" if reason else "read", reason, st.clock())
            if not reason:
                burst = ext["digest-bursts"].see(
                    _client(click.edition_id, click.variant), click.position, click_id)
                reports_db.reclassify_clicks(conn, burst, "several links within a second")
    return redirect(click.url)
