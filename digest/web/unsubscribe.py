"""GET/POST /unsubscribe/TOKEN: a confirm page, and the RFC 8058 one-click POST.

GET never changes anything: mail scanners and link previews fetch every
link in a message. POST unsubscribes, whoever sends it: the mail client's
one-click request (`List-Unsubscribe=One-Click`, form-urlencoded or
multipart, no cookie) or the confirm page's button, which adds a hidden
`via=page` so the audit trail can tell the two apart. The answer is always
200 with a small page, never a redirect, and a second POST changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, request

from ..db import members as member_db
from .common import load_member, masked, page, state, tokens_for

bp = Blueprint("unsubscribe", __name__)


@bp.get("/unsubscribe/<token>")
def confirm_page(token: str):
    with state().db.connect() as conn:
        sub = load_member(conn, "unsubscribe", token)
    return page("unsubscribe.html", token=token, member=sub, address=masked(sub.email), links=tokens_for(sub),
                left=sub.status in ("unsubscribed", "complained", "bounced"))


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str):
    st = state()
    source = "web" if request.form.get("via") == "page" else "one-click"
    with st.db.begin() as conn:
        sub = load_member(conn, "unsubscribe", token)
        member_db.unsubscribe(conn, sub.id, source=source, now=st.now())  # False if already: no event
        sub = member_db.get_by_id(conn, sub.id)
    return page("unsubscribed.html", member=sub, address=masked(sub.email), links=tokens_for(sub),
                can_return=sub.status == "unsubscribed")
