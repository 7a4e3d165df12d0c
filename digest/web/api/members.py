"""/api/v1/members and /api/v1/subscribe: the same rules as the CLI and the pages (digest.db.members)."""

from __future__ import annotations

from pathlib import Path

from ... import members as rules
from ...db import members as member_db
from ...db import requests as request_db
from ...errors import SubscriberError
from ...models import Subscriber
from ...sending.transports.file import remove_addressed_to
from ..common import state
from ..subscribe import request_link, welcome
from .routing import ApiProblem, Call, decode_cursor, encode_cursor, route
from .schemas import (
    Accepted,
    Change,
    Member,
    MemberPage,
    MemberQuery,
    MemberUpsert,
    PreferencesChange,
    LinkRequest,
    SubscribeRequest,
)


def member(sub: Subscriber) -> Member:
    return Member.model_validate(rules.as_json(sub))


def _address(raw: str) -> str:
    try:
        return rules.normalise_email(raw)
    except SubscriberError as exc:
        raise ApiProblem(422, "invalid", f"email: {exc.reason}") from None


def _find(conn, raw: str) -> Subscriber:
    sub = member_db.get_by_email(conn, _address(raw))
    if sub is None:
        raise ApiProblem(404, "not-found", "no member with this address")
    return sub


def _topics(raw: list[str] | None):
    if raw is None:
        return None
    try:
        return rules.parse_topics(raw, state().settings.topic_slugs)
    except SubscriberError as exc:
        raise ApiProblem(422, "invalid", f"body.topics: {exc.reason}") from None


def _language(raw: str | None):
    """A configured language tag, "" for "not chosen", None to leave it as it is; 422 otherwise."""
    if raw is None:
        return None
    try:
        return rules.check_language(raw, state().settings.languages)
    except SubscriberError as exc:
        raise ApiProblem(422, "invalid", f"body.language: {exc.reason}") from None


def _name(raw: str | None, email: str):
    try:
        return rules.clean_name(raw, email=email)
    except SubscriberError as exc:
        raise ApiProblem(422, "invalid", f"body.name: {exc.reason}") from None


@route("GET", "/members", scope="members:read", ok=(200, MemberPage), query=MemberQuery)
def list_members(call: Call):
    """List members, oldest first, filtered by status, topic, frequency and updated_since."""
    q: MemberQuery = call.query
    after = decode_cursor(q.cursor)
    if after is not None and not after.isdigit():
        raise ApiProblem(422, "invalid", "cursor: not a cursor this API gave")
    if q.topic and q.topic not in state().settings.topic_slugs:
        raise ApiProblem(422, "invalid", f"query.topic: unknown topic {q.topic!r}")
    with state().db.connect() as conn:
        subs = member_db.page(conn, status=q.status, topic=q.topic, frequency=q.frequency,
                              updated_since=q.updated_since, after_id=int(after or 0), limit=q.limit + 1)
    more = len(subs) > q.limit
    subs = subs[:q.limit]
    return 200, MemberPage(data=[member(s) for s in subs], next_cursor=encode_cursor(subs[-1].id) if more else None)


@route("GET", "/members/{email}", scope="members:read", ok=(200, Member))
def get_member(call: Call):
    """One member, with their attributes."""
    with state().db.connect() as conn:
        return 200, member(_find(conn, call.path["email"]))


UPSERT_ATTEMPTS = 2  # a second try sees the member a racing request has just added, and updates them


@route("PUT", "/members/{email}", scope="members:write", ok=(200, Member), body=MemberUpsert, also=(201,))
def upsert_member(call: Call):
    """Create the member (active) or update their details; never brings back one who left (409)."""
    b: MemberUpsert = call.body
    email = _address(call.path["email"])
    topics, name = _topics(b.topics), _name(b.name, email)
    for _ in range(UPSERT_ATTEMPTS):
        try:
            created, sub = _upsert(call, email, topics, name)
            break
        except member_db.AddressTaken:  # another request added this address between our read and our insert
            continue
    else:
        raise ApiProblem(409, "conflict", f"{email} was being added by another request at the same time; "
                                          "try again")
    if not created:
        return 200, member(sub)
    welcome(sub)  # after the commit: the member exists before their welcome goes out
    return 201, member(sub)


def _upsert(call: Call, email: str, topics, name) -> tuple[bool, Subscriber]:
    """One transaction: (created, the member); AddressTaken when a racing request inserted the address first."""
    b: MemberUpsert = call.body
    st = state()
    lang = _language(b.language)
    with st.db.begin() as conn:
        existing = member_db.get_by_email(conn, email)
        why = rules.refusal(existing, member_db.is_suppressed(conn, email))
        if why:
            raise ApiProblem(409, "consent", f"{email} {why}")
        if existing is None:
            return True, member_db.create(conn, email, name, topics or (), b.frequency or "weekly",
                                          b.format or "html", status="active", source=call.source, now=st.now(),
                                          attributes=b.attributes, language=lang or "")
        member_db.update_preferences(conn, existing.id, topics=topics, frequency=b.frequency, format=b.format,
                                     attributes=b.attributes, source=call.source, now=st.now(), language=lang,
                                     **({"name": name} if b.name is not None else {}))
        return False, member_db.get_by_id(conn, existing.id)


@route("PATCH", "/members/{email}", scope="members:write", ok=(200, Change), body=PreferencesChange)
def change_preferences(call: Call):
    """Change what a member gets (name, topics, frequency, format, language)."""
    b: PreferencesChange = call.body
    st = state()
    lang = _language(b.language)
    with st.db.begin() as conn:
        sub = _find(conn, call.path["email"])
        changes = member_db.update_preferences(
            conn, sub.id, topics=_topics(b.topics), frequency=b.frequency, format=b.format, source=call.source,
            language=lang,
            now=st.now(), **({"name": _name(b.name, sub.email)} if b.name is not None else {}))
    return 200, Change(email=sub.email, changed=changes)


def _pause(call: Call, paused: bool) -> tuple[int, Change]:
    st = state()
    with st.db.begin() as conn:
        sub = _find(conn, call.path["email"])
        changes = member_db.update_preferences(conn, sub.id, paused=paused, source=call.source, now=st.now())
    return 200, Change(email=sub.email, changed=changes)


@route("POST", "/members/{email}/pause", scope="members:write", ok=(200, Change))
def pause_member(call: Call):
    """Stop sending to a member without them leaving."""
    return _pause(call, True)


@route("POST", "/members/{email}/resume", scope="members:write", ok=(200, Change))
def resume_member(call: Call):
    """Start sending to a paused member again."""
    return _pause(call, False)


@route("POST", "/members/{email}/unsubscribe", scope="members:write", ok=(200, Change))
def unsubscribe_member(call: Call):
    """Unsubscribe a member (they keep their record, with the date they left)."""
    st = state()
    with st.db.begin() as conn:
        sub = _find(conn, call.path["email"])
        changed = member_db.unsubscribe(conn, sub.id, source=call.source, now=st.now())
    return 200, Change(email=sub.email, changed={"status": [sub.status, "unsubscribed"]} if changed else {})


@route("DELETE", "/members/{email}", scope="members:write", ok=(204, None))
def forget_member(call: Call):
    """Forget a member (GDPR erasure, as `digest members forget`): only a hash of the address stays."""
    st = state()
    with st.db.begin() as conn:
        sub = _find(conn, call.path["email"])
        member_db.forget(conn, sub.id, now=st.now())
    outbox = Path(st.settings.outbox)
    if outbox.is_dir():  # as the CLI's forget: the file transport's copies of mail to them go too
        remove_addressed_to(outbox, sub.email)
    return 204, None


@route("POST", "/subscribe", scope="subscribe", ok=(202, Accepted), body=SubscribeRequest, tag="subscribe")
def subscribe(call: Call):
    """Double opt-in for the site's own form: the same answer, after the same work, for every address."""
    b: SubscribeRequest = call.body
    st = state()
    email = _address(b.email)
    topics, name, lang = _topics(b.topics) or (), _name(b.name, email), _language(b.language)
    with st.db.begin() as conn:
        request_db.add(conn, email, name, topics, b.frequency, b.format, st.now(), lang or "")
    st.mailer.notify()  # the app's mail worker decides what to send, outside this request
    return 202, Accepted(status="accepted", detail="if the address can be subscribed, a confirmation email is on "
                                                   "its way")



@route("POST", "/preferences-link", scope="subscribe", ok=(202, Accepted), body=LinkRequest, tag="subscribe")
def preferences_link(call: Call):
    """Email a member their preferences link (the site's own "lost my email" form): the same answer for all."""
    request_link(_address(call.body.email))
    state().mailer.notify()
    return 202, Accepted(status="accepted", detail="if the address gets the digest, a link is on its way")
