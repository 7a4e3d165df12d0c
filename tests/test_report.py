"""digest report KEY: a seeded edition's figures, as text, JSON and a PNG drawn by Chromium."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select

import bounce_samples as s
from digest.db.schema import deliveries, subscribers
from digest.editorial.screenshot import CHROMIUM
from digest.message.verp import ReturnPath
from conftest import ok

BOUNCE = "bounces@news.example.org"
R_LINK = re.compile(r'href="https://news\.example\.org(/r/[^"]+)"')
UNSUB = re.compile(r"List-Unsubscribe: <https://news\.example\.org(/unsubscribe/[^>]+)>")



@pytest.fixture
def env(env):
    return {**env, "DIGEST_TRACKING_CLICKS": "aggregate", "DIGEST_BOUNCE_ADDRESS": BOUNCE}


@pytest.fixture
def seeded(run_cli, seed_path, tmp_path, smtp_sink, monkeypatch, settings, db):
    """2017-W25 to six members: one refused by the relay, two bounce later, one complains, one leaves
    by the link in the message; four reads of two articles and a scanner's HEAD."""
    from digest.web import create_app

    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    smtp_sink.reply_for["fred@example.net"] = "550 5.1.1 No such user here"
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    for m in ("ada", "bob", "dee", "eve", "fay", "fred"):
        ok(run_cli("subscribers", "add", f"{m}@example.net"))
    sent = run_cli("weekly", "--week", "2017-W25", "--transport", "smtp")
    assert sent.exit_code == 1 and "failed 1" in sent.output, sent.output  # 1: fred@ was refused
    got = {m.rcpt_tos[0].split("@")[0]: m for m in smtp_sink.messages}
    assert sorted(got) == ["ada", "bob", "dee", "eve", "fay"]

    returned = tmp_path / "returned"
    returned.mkdir()
    (returned / "1.eml").write_bytes(s.postfix_dsn(to=got["ada"].mail_from, recipient="ada@example.net",
                                                   original=got["ada"].data))
    (returned / "2.eml").write_bytes(s.gmail_plain(to=got["bob"].mail_from, recipient="bob@example.net",
                                                   original=got["bob"].data))
    (returned / "3.eml").write_bytes(s.arf_complaint(recipient="dee@example.net", original=got["dee"].data,
                                                     envelope_from=got["dee"].mail_from))
    ok(run_cli("bounces", "fetch", *sorted(returned.glob("*.eml"))))

    client = create_app(settings, db).test_client()
    eve = got["eve"].data.decode()
    assert client.post(UNSUB.search(eve).group(1), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    html = got["fay"].message.get_body(preferencelist=("html",)).get_content()
    links = list(dict.fromkeys(R_LINK.findall(html)))  # positions 0..4 in order
    for n, position in enumerate([2, 2, 0, 2]):
        ua = {"User-Agent": f"Mozilla/5.0 (reader {n})"}
        assert client.get(links[position], headers=ua).status_code == 302
    assert client.head(links[4], headers={"User-Agent": "Mozilla/5.0"}).status_code == 302
    return run_cli


def test_report_text_and_json(seeded):
    data = json.loads(ok(seeded("report", "2017-W25", "--json")).output)
    assert {k: data[k] for k in ("sent", "delivered", "bounced_afterwards", "failed_during_send", "complaints",
                                 "unsubscribes", "reads", "scanner")} == {
        "sent": 5, "delivered": 3, "bounced_afterwards": 2, "failed_during_send": 1, "complaints": 1,
        "unsubscribes": 1, "reads": 4, "scanner": 1}
    assert [(a["position"], a["reads"]) for a in data["articles"]][:2] == [(2, 3), (0, 1)]
    assert data["variants"] == {"*:html": 4}
    text = ok(seeded("report", "2017-W25")).output
    assert "sent 5, delivered 3, bounced afterwards 2, failed during the send 1" in text
    assert "complaints 1, unsubscribed by its links 1" in text
    first = text.split("reads 4")[1].splitlines()
    assert first[1].split()[:2] == ["1.", "3"]


def test_report_of_an_unknown_or_unsent_edition_is_one_line(run_cli):
    r = run_cli("report", "2017-W30")
    assert r.exit_code == 1 and "2017-W30" in r.output and "no such edition" in r.output


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_report_png(seeded, tmp_path):
    from digest.config import load_settings
    from digest.db import Database
    from digest.editorial.report import edition_report, report_html

    out = Path(os.environ.get("DIGEST_SCREENSHOTS") or tmp_path) / "report-2017-W25.png"
    ok(seeded("report", "2017-W25", "--png", out))
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == 800 and 300 < height < 800  # as tall as the chart, not a screenful of white
    # The chart says what the figures say: bar widths proportional, numbers printed.
    settings = load_settings(None)
    db = Database(settings.database_url)
    page = report_html(edition_report(db, settings, "2017-W25"), settings)
    db.dispose()
    rows = re.findall(r'<div class="label">([^<]*)</div><div class="track"><div class="bar" style="width:([\d.]+)%'
                      r'[^"]*"></div></div><div class="value">([\d,]+)</div>', page)
    delivery = {label: (float(w), int(v)) for label, w, v in rows[:6]}
    assert delivery["Delivered"] == (60.0, 3) and delivery["Bounced afterwards"] == (40.0, 2)
    assert delivery["Failed during the send"] == (20.0, 1) and delivery["Complaints"] == (20.0, 1)
    reads = [(w, v) for _, w, v in rows[6:]]
    assert reads[:3] == [("100.0", "3"), ("33.3", "1"), ("0.0", "0")]
