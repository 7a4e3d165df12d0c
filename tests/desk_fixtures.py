"""Fixtures and helpers the desk's tests share: an app on a real database, a signed-in client, W25's articles."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.db import editors as editor_db
from digest.editorial.editors import hash_password
from digest.sending.transports import MemoryTransport

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "news.xml"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
PASSWORD = "a long enough passphrase"
EMAIL = "eda@example.org"


@pytest.fixture
def outbox():
    return MemoryTransport()


@pytest.fixture
def app(settings, db, outbox):
    from digest.web import create_app

    return create_app(settings, db, transport_factory=lambda: outbox)


@pytest.fixture
def editor(db):
    with db.begin() as conn:
        e = editor_db.add(conn, EMAIL, "Eda Editor", now=NOW)
        editor_db.set_password(conn, e.id, hash_password(PASSWORD))
        return editor_db.get(conn, e.id)


@pytest.fixture
def week25(db, settings):
    from digest.ingest.store import ingest_sources

    ingest_sources(db, settings, [str(SAMPLES)], now=NOW)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, email=EMAIL, password=PASSWORD):
    page = client.get("/desk/sign-in")
    return client.post("/desk/sign-in", data={"csrf": csrf_of(page.text), "email": email, "password": password})


@pytest.fixture
def desk(app, editor):
    """A signed-in test client and its CSRF token."""
    client = app.test_client()
    resp = sign_in(client)
    assert resp.status_code == 303 and resp.headers["Location"] == "/desk/"
    return client, csrf_of(client.get("/desk/?period=2017-W25").text)


def desk_rules(app):
    """Every desk URL (with sample values for its arguments) and its methods."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/desk"):
            continue
        url = re.sub(r"<int(\([^)]*\))?:article_id>", "1", rule.rule).replace("<action>", "pin").replace("<token>", "x")
        yield url, rule.methods - {"HEAD", "OPTIONS"}
