"""The HTTP API under /api/v1/: tokens and scopes, each error as problem details, pagination,
the audit trail naming the token, the rate limit, and schemathesis against the OpenAPI document."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from digest.db import members as member_db
from digest.membership.tokens import SCOPES, issue
from digest.web import create_app

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def api(settings, db):
    app = create_app(settings, db)
    client = app.test_client()

    def token(name: str, *scopes: str) -> dict:
        return {"Authorization": "Bearer " + issue(db, name, scopes or SCOPES, now=NOW)}

    client.token = token
    client.app_ = app
    return client


def problem(resp, status: int, kind: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status and body["type"].endswith("/" + kind) and body["title"] and body["detail"]
    return body


def test_tokens_cli_prints_once_keeps_a_hash_lists_and_revokes(run_cli, db, api):
    result = run_cli("tokens", "add", "crm", "--scope", "members:read,editions:read")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("dgt_") and "copy it now" in result.stderr
    listed = run_cli("tokens", "list").output
    assert listed.startswith("crm\tmembers:read,editions:read\tmade ") and token not in listed
    with db.connect() as conn:
        assert token not in str(conn.exec_driver_sql("SELECT * FROM api_tokens").all())
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/members", headers=headers).status_code == 200
    assert "last used" in run_cli("tokens", "list").output
    assert run_cli("tokens", "add", "crm", "--scope", "members:read").exit_code == 1
    bad = run_cli("tokens", "add", "x", "--scope", "members:delete")
    assert bad.exit_code == 2 and "unknown scope 'members:delete'" in bad.output
    assert run_cli("tokens", "revoke", "crm").output == "revoked crm\n"
    problem(api.get("/api/v1/members", headers=headers), 401, "unauthorized")
    assert run_cli("tokens", "revoke", "crm").exit_code == 1


def test_401_without_a_token_and_403_for_each_missing_scope(api):
    problem(api.get("/api/v1/members"), 401, "unauthorized")
    resp = api.get("/api/v1/members", headers={"Authorization": "Bearer dgt_forged"})
    assert problem(resp, 401, "unauthorized") and "invalid_token" in resp.headers["WWW-Authenticate"]
    problem(api.get("/api/v1/members", headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    calls = {
        "members:read": ("get", "/api/v1/members", None),
        "members:write": ("put", "/api/v1/members/ana@example.org", {}),
        "subscribe": ("post", "/api/v1/subscribe", {"email": "ana@example.org"}),
        "editions:read": ("get", "/api/v1/editions", None),
        "sources:read": ("get", "/api/v1/sources", None),
    }
    for scope, (method, url, body) in calls.items():
        others = [s for s in SCOPES if s != scope]
        without = api.token(f"no-{scope.replace(':', '-')}"[:16], *others)
        with_it = api.token(f"only-{scope.replace(':', '-')}"[:16], scope)
        resp = getattr(api, method)(url, headers=without, json=body)
        assert scope in problem(resp, 403, "forbidden")["detail"]
        assert getattr(api, method)(url, headers=with_it, json=body).status_code < 300, scope


def test_members_upsert_change_pause_unsubscribe_forget_audited_by_token(api, db, settings):
    h = api.token("crm")
    created = api.put("/api/v1/members/Ana@Example.org", headers=h,
                      json={"name": "Ana", "topics": ["cyber-security"], "attributes": {"region": "North"}})
    assert created.status_code == 201 and created.get_json()["attributes"] == {"region": "North"}
    assert api.put("/api/v1/members/ana@example.org", headers=h, json={"frequency": "daily"}).status_code == 200
    change = api.patch("/api/v1/members/ana@example.org", headers=h, json={"format": "text", "topics": ["all"]})
    assert change.get_json() == {"email": "Ana@example.org",
                                 "changed": {"topics": [["cyber-security"], []], "format": ["html", "text"]}}
    assert api.post("/api/v1/members/ana@example.org/pause", headers=h).get_json()["changed"] == {"paused": [False, True]}
    assert api.post("/api/v1/members/ana@example.org/resume", headers=h).get_json()["changed"] == {"paused": [True, False]}
    assert api.post("/api/v1/members/ana@example.org/unsubscribe", headers=h).get_json()["changed"] == {
        "status": ["active", "unsubscribed"]}
    # Consent wins here too: an upsert never brings back someone who left.
    body = problem(api.put("/api/v1/members/ana@example.org", headers=h, json={}), 409, "consent")
    assert "never re-subscribe" in body["detail"]
    with db.connect() as conn:
        sub = member_db.get_by_email(conn, "ana@example.org")
        trail = [(e["source"], e["action"]) for e in member_db.list_events(conn, sub.id)]
    assert trail == [("api:crm", "subscribe"), ("api:crm", "preferences"), ("api:crm", "preferences"),
                     ("api:crm", "preferences"), ("api:crm", "preferences"), ("api:crm", "unsubscribe")]
    assert api.delete("/api/v1/members/ana@example.org", headers=h).status_code == 204
    problem(api.get("/api/v1/members/ana@example.org", headers=h), 404, "not-found")
    assert "forgotten" in problem(api.put("/api/v1/members/ana@example.org", headers=h, json={}), 409,
                                  "consent")["detail"]


def test_two_upserts_racing_on_one_new_address_make_one_member_and_no_500(api, db, monkeypatch):
    """Both read "no such member", both insert: the loser's unique-address error is retried as an update.

    On PostgreSQL the threads meet at a barrier after their reads, so both really insert; on SQLite a write
    transaction takes the lock up front (BEGIN IMMEDIATE), so the second waits and simply updates.
    """
    from digest.web.api import members as api_members

    h = api.token("crm")
    meet, first = threading.Barrier(2, timeout=10), threading.local()
    real = member_db.get_by_email

    def read_then_meet(conn, email):
        found = real(conn, email)
        if db.dialect == "postgresql" and not getattr(first, "read", False):  # each thread's first read only
            first.read = True
            meet.wait()
        return found

    monkeypatch.setattr(api_members.member_db, "get_by_email", read_then_meet)
    answers: list = []

    def put(frequency: str) -> None:
        resp = api.put("/api/v1/members/race@example.org", headers=h, json={"frequency": frequency})
        answers.append((resp.status_code, resp.get_data(as_text=True)))

    threads = [threading.Thread(target=put, args=(f,)) for f in ("daily", "weekly")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(code for code, _ in answers) == [200, 201], answers
    with db.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM subscribers").scalar() == 1


def test_an_upsert_that_loses_the_race_twice_is_a_409_problem(api, db, monkeypatch):
    """Forced deterministically on every database: the member exists, but each read says it does not."""
    from digest.web.api import members as api_members

    h = api.token("crm")
    assert api.put("/api/v1/members/race@example.org", headers=h, json={}).status_code == 201
    monkeypatch.setattr(api_members.member_db, "get_by_email", lambda conn, email: None)
    body = problem(api.put("/api/v1/members/race@example.org", headers=h, json={"frequency": "daily"}), 409,
                   "conflict")
    assert "race@example.org" in body["detail"] and "try again" in body["detail"]


def test_an_upsert_that_loses_the_race_once_becomes_an_update(api, db, monkeypatch):
    from digest.web.api import members as api_members

    h = api.token("crm")
    assert api.put("/api/v1/members/race@example.org", headers=h, json={}).status_code == 201
    misses = [None]  # the first read misses the member (another request's insert not yet seen)
    real = member_db.get_by_email
    monkeypatch.setattr(api_members.member_db, "get_by_email",
                        lambda conn, email: misses.pop() if misses else real(conn, email))
    resp = api.put("/api/v1/members/race@example.org", headers=h, json={"frequency": "daily"})
    assert resp.status_code == 200 and resp.get_json()["frequency"] == "daily"


def test_validation_errors_are_422_problems_naming_the_field(api):
    h = api.token("crm")
    body = problem(api.put("/api/v1/members/ana@example.org", headers=h, json={"frequency": "hourly"}), 422, "invalid")
    assert body["detail"].startswith("body.frequency: ") and body["errors"][0]["loc"] == "body.frequency"
    assert "unknown topic 'nope'" in problem(api.put("/api/v1/members/ana@example.org", headers=h,
                                                     json={"topics": ["nope"]}), 422, "invalid")["detail"]
    assert problem(api.put("/api/v1/members/not-an-address", headers=h, json={}), 422, "invalid")
    assert problem(api.put("/api/v1/members/a@example.org", headers=h, json={"colour": 1}), 422, "invalid")
    assert problem(api.put("/api/v1/members/a@example.org", headers=h, data="x", content_type="text/plain"),
                   415, "unsupported-media-type")
    assert problem(api.get("/api/v1/members?limit=0", headers=h), 422, "invalid")
    assert problem(api.get("/api/v1/members?cursor=zzzz", headers=h), 422, "invalid")
    assert problem(api.get("/api/v1/nowhere", headers=h), 404, "not-found")
    resp = api.post("/api/v1/members", headers=h)
    assert problem(resp, 405, "method-not-allowed") and "GET" in resp.headers["Allow"]


def test_cursor_pagination_and_filters(api, db):
    h = api.token("crm")
    with db.begin() as conn:
        for i in range(7):
            member_db.add(conn, f"m{i}@example.org", topics=("cyber-security",) if i % 2 else (),
                          frequency="daily" if i < 3 else "weekly", now=NOW + timedelta(days=i))
    seen, cursor = [], None
    while True:
        page = api.get("/api/v1/members?limit=3" + (f"&cursor={cursor}" if cursor else ""), headers=h).get_json()
        seen += [m["email"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"m{i}@example.org" for i in range(7)]
    emails = lambda q: [m["email"] for m in api.get("/api/v1/members?" + q, headers=h).get_json()["data"]]  # noqa
    assert emails("frequency=daily") == ["m0@example.org", "m1@example.org", "m2@example.org"]
    assert emails("topic=data-protection") == ["m0@example.org", "m2@example.org", "m4@example.org", "m6@example.org"]
    assert emails("updated_since=" + (NOW + timedelta(days=5)).isoformat().replace("+", "%2B")) == [
        "m5@example.org", "m6@example.org"]
    assert emails("status=lapsed") == []


def test_subscribe_answers_the_same_for_members_and_strangers(api, db):
    h = api.token("website", "subscribe")
    with db.begin() as conn:
        member_db.add(conn, "member@example.org", now=NOW)
    answers = {api.post("/api/v1/subscribe", headers=h, json={"email": e}).get_data()
               for e in ("member@example.org", "stranger@example.org")}
    assert len(answers) == 1
    api.app_.extensions["digest"].mailer.wait_idle()
    with db.connect() as conn:
        assert member_db.get_by_email(conn, "stranger@example.org").status == "pending"  # double opt-in


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(settings, db):
    import dataclasses

    limited = dataclasses.replace(settings, extra={"web": {"api_limit": 3, "api_window": 60}})
    client = create_app(limited, db).test_client()
    h = {"Authorization": "Bearer " + issue(db, "busy", SCOPES, now=NOW)}
    assert [client.get("/api/v1/sources", headers=h).status_code for _ in range(3)] == [200, 200, 200]
    resp = client.get("/api/v1/sources", headers=h)
    problem(resp, 429, "rate-limited")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    other = {"Authorization": "Bearer " + issue(db, "other", SCOPES, now=NOW)}
    assert client.get("/api/v1/sources", headers=other).status_code == 200  # per token


def test_openapi_document_is_3_1_and_names_every_route(api):
    doc = api.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {"/members", "/members/{email}", "/members/{email}/pause",
                                 "/members/{email}/resume", "/members/{email}/unsubscribe", "/subscribe",
                                 "/preferences-link", "/editions", "/editions/{key}", "/sources"}
    assert doc["paths"]["/members"]["get"]["description"] == "Scope: `members:read`."
