"""The members' web app: preferences, one-click unsubscribe, double opt-in, web versions.

    app = create_app(settings, db)            # a Flask app; `digest serve` runs it under waitress
    app.test_client().post("/unsubscribe/TOKEN", data={"List-Unsubscribe": "One-Click"})

create_app is in app.py; routes (views in the modules of this package):

    GET  /                       -> the subscribe form
    GET  /preferences/TOKEN      preferences form          POST: save, show what changed
    GET  /unsubscribe/TOKEN      confirm page (no change)  POST: unsubscribe (RFC 8058 one-click)
    GET  /subscribe              subscribe form            POST: double opt-in request (rate-limited)
    GET  /confirm/TOKEN          confirm page (no change)  POST: activates a pending member
    GET  /editions/KEY           web version of a queued edition (subscribe, previous/next links)
    GET  /editions/              the archive: sent editions newest first; ?topic=slug: a topic's articles
    GET  /editions/feed.xml      Atom feed of the sent editions
    GET  /r/TOKEN                an article link: counted per article (not per member), then redirected
    GET  /assets/site.css        the stylesheet, in the organisation's colours
    POST /hooks/ses|postmark|mailgun|sendgrid   mail providers' webhooks, each on with its [providers.NAME]

A database held busy by another process past the busy timeout gets 503 with
Retry-After (mail providers retry one-click POSTs) and one log line.
No cookies and no JavaScript. Pages that carry a token are never cached and
never send a Referer, so a token does not leak to the sites members go on to.
"""

from .app import MAX_BODY, TEMPLATES_DIR, create_app
from .common import EDITION_CSP, PAGE_CSP

__all__ = ["create_app", "EDITION_CSP", "MAX_BODY", "PAGE_CSP", "TEMPLATES_DIR"]
