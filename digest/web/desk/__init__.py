"""The edition desk: the editor's week in a browser, under /desk/.

    register(app, state)     # called by digest.web.create_app; in app.py, with the guard every request passes

Routes (views in the modules of this package):

    GET  /desk/sign-in            sign-in form (password, or "email me a link")   POST: sign in (rate-limited)
    POST /desk/sign-in/link       email a one-time sign-in link (same answer for any address)
    GET  /desk/link/TOKEN         a one-time link: set-password form or sign-in button   POST: use it (once)
    POST /desk/sign-out
    GET  /desk/?period=KEY        the week: candidates, summaries, why, actions; the edition; approve
    POST /desk/articles/ID/ACTION pin unpin exclude include up down summary topics
    GET  /desk/preview?...        a variant (topics x format, or a member) at 375 and 600 px, text part, checks
    GET  /desk/preview/frame?...  the email itself, for the sandboxed iframes
    POST /desk/preview/test       "send me a test"
    POST /desk/edition/build      "build this edition" (and /desk/edition/queue)
    GET  /desk/edition/progress   a queued edition's deliveries by state (the week page refreshes it)
    GET  /desk/audit              what editors did
    GET  /desk/members...         the members: search, a member's page, change, forget, CSV (desk/members.py)
    GET  /desk/announcements...   compose, count, preview, test, approve, queue, schedule announcements
                                  (desk/announcements.py, desk/announcing.py)

Nothing here is reachable without a session: a GET goes to the sign-in page,
a POST gets 401. Every POST carries the session's CSRF token. The session is
Flask's signed cookie (path /desk, HttpOnly, SameSite=Lax, Secure over https),
expiring after [web] desk_session_hours; it carries a random session id whose
hash is a row of desk_sessions, so signing out, removing an editor or setting
a new password ends it on the server (a copied cookie stops working too).
"""

from .app import register

__all__ = ["register"]
