"""GET /r/TOKEN: follow an article link, counted per article and variant, never per member.

Only when [tracking] clicks = "aggregate"; otherwise the redirect still works
(messages already sent keep working) and nothing is recorded. The redirect
goes only to the URL in a token we signed (edition/clicks.py); a forged or
altered token is the 400 "link" page and goes nowhere. No cookie is set and
Referrer-Policy is no-referrer (the app's headers), so the article's site
learns nothing from us.

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
import re
import threading
import time
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


def _client(edition_id: int, variant: str) -> str:
    raw = "\0".join((request.remote_addr or "", request.headers.get("User-Agent", ""), str(edition_id), variant))
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:24]


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
        with st.db.begin() as conn:
            click_id = reports_db.add_click(conn, click.edition_id, click.position, click.variant,
                                            "scanner" if reason else "read", reason, st.clock())
            if not reason:
                burst = current_app.extensions["digest-bursts"].see(
                    _client(click.edition_id, click.variant), click.position, click_id)
                reports_db.reclassify_clicks(conn, burst, "several links within a second")
    resp = redirect(click.url, code=302)
    resp.headers["Cache-Control"] = "no-store"
    return resp
