"""The [bounces] policy during the send: a permanent refusal in the SMTP conversation bounces at once."""

from __future__ import annotations

from sqlalchemy import select

from digest.db.schema import subscribers
from conftest import ok



def test_refused_during_the_send_with_a_permanent_code_is_bounced_at_once(run_cli, seed_path, smtp_sink,
                                                                         monkeypatch, db):
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_sink.url)
    smtp_sink.reply_for["gone@example.net"] = "550 5.1.1 <gone@example.net>: Recipient address rejected"
    smtp_sink.reply_for["policy@example.net"] = "550 5.7.1 Message rejected as spam"
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    for m in ("gone", "policy", "fine"):
        ok(run_cli("subscribers", "add", f"{m}@example.net"))
    sent = run_cli("weekly", "--week", "2017-W25", "--transport", "smtp")
    assert sent.exit_code == 1 and "sent 1, retry later 0, failed 2" in sent.output  # 1: some deliveries failed
    with db.connect() as conn:
        rows = {e: (st, n) for e, st, n in conn.execute(
            select(subscribers.c.email, subscribers.c.status, subscribers.c.hard_bounces))}
    assert rows == {"gone@example.net": ("bounced", 1), "policy@example.net": ("active", 1),
                    "fine@example.net": ("active", 0)}
