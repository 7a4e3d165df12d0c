"""A relay that does not answer, or only says 421: the run stops in time, honestly, spending no attempt.

Each step of the SMTP conversation has its own timeout ([smtp] in the
config); a step that times out gives the delivery back to the queue without
spending an attempt, and `timeouts_in_a_row` of them stop the run with one
line and exit status 1. Against real sockets on 127.0.0.1: a server that
accepts and never greets, and the aiosmtpd sink that never answers the "."
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from digest.config import SmtpSettings
from digest.db.schema import QUEUED, SENT, deliveries
from digest.errors import DeliveryError
from digest.sending.transports.pipelined import SmtpRelay
from digest.sending.worker import SendOptions, send_queue
from smtp_server import SmtpSink

QUICK = SmtpSettings(connect_timeout=2, greeting_timeout=0.5, command_timeout=0.5, data_timeout=0.5)


class Silent:
    """Accepts connections and never says a word (a tarpit, or a relay whose process is stuck)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"smtp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def attempts(db) -> Counter:
    with db.connect() as conn:
        return Counter(conn.execute(select(deliveries.c.status, deliveries.c.attempts)).all())


def test_a_relay_that_never_greets_stops_the_run_in_seconds(queue_members, db, settings):
    queue_members(20)
    silent = Silent()
    try:
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"timed out 3 times in a row: .* did not answer with its greeting"):
            send_queue(db, dataclasses.replace(settings, smtp=QUICK), SmtpRelay.from_url(silent.url, timeouts=QUICK),
                       SendOptions(connections=2))
        assert time.monotonic() - started < 10
    finally:
        silent.close()
    assert attempts(db) == {(QUEUED, 0): 20}  # every claim given back, nobody's attempt spent


def test_a_relay_that_never_answers_the_final_dot_stops_the_run(queue_members, db, settings):
    queue_members(10)
    with SmtpSink(pipelining=True, data_delay=3600) as sink:
        with pytest.raises(DeliveryError, match=r'did not answer to the final "\." of a message within 0\.5 s'):
            send_queue(db, dataclasses.replace(settings, smtp=QUICK), SmtpRelay.from_url(sink.url, timeouts=QUICK),
                       SendOptions(connections=1))
        assert sink.mails == 3  # three messages tried, one at a time: then the run stopped
    assert attempts(db) == {(QUEUED, 0): 10}


@pytest.mark.parametrize("processes", [1, 2])
def test_the_timeouts_come_from_the_config_and_the_stop_is_one_line(queue_members, env, db, tmp_path, processes):
    queue_members(5)
    config = tmp_path / "digest.toml"
    config.write_text("[smtp]\ngreeting_timeout = 0.3\ntimeouts_in_a_row = 2\n", encoding="utf-8")
    silent = Silent()
    try:
        done = subprocess.run([sys.executable, "-m", "digest", "send", "--transport", "smtp", "--connections", "2",
                               "--processes", str(processes), "--batch", "2"],
                              env={**os.environ, **env, "DIGEST_SMTP_URL": silent.url, "DIGEST_CONFIG": str(config)},
                              capture_output=True, text=True, timeout=120)
    finally:
        silent.close()
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert errors == [f"Error: stopped sending: the relay timed out 2 times in a row: {silent.url} did not answer "
                      "with its greeting (or to EHLO, STARTTLS, AUTH) within 0.3 s"], done.stderr
    assert "Traceback" not in done.stderr
    assert "sent 0, retry later 0, failed 0, skipped 0" in done.stdout  # the summary of what was done first
    assert attempts(db) == {(QUEUED, 0): 5}


def test_an_smtp_timeout_out_of_range_is_a_config_error(env, run_cli, tmp_path, monkeypatch):
    config = tmp_path / "digest.toml"
    config.write_text("[smtp]\ndata_timeout = 0\n", encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    result = run_cli("status")
    assert result.exit_code == 2
    assert "smtp.data_timeout" in result.output and "must be a number of seconds" in result.output


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_421_to_mail_from_lowers_the_concurrency_and_spends_no_attempt(queue_members, db, settings, pipelining):
    queue_members(40)
    with SmtpSink(pipelining=pipelining) as sink:  # no limit on connections: only MAIL FROM says 421
        sink.busy_at_mail(5)
        sink.busy_at_mail(6)
        stats = send_queue(db, settings, SmtpRelay.from_url(sink.url), SendOptions(connections=4))
        got = Counter(r for m in sink.messages for r in m.rcpt_tos)
        busy = sink.busy_replies
    assert busy == 2 and stats.busy == 2 and stats.requeued == 2  # heard, and the messages went elsewhere
    assert stats.lowest_concurrency == 2  # 4 halved once: two 421s at once are one signal
    assert stats.sent == 40 and len(got) == 40 and set(got.values()) == {1}
    assert attempts(db) == {(SENT, 1): 40}  # nobody's attempt spent on a 421


def test_a_relay_that_only_says_421_is_summed_up_honestly(queue_members, env, db):
    queue_members(30)
    with SmtpSink(pipelining=True, max_connections=0) as sink:
        done = subprocess.run([sys.executable, "-m", "digest", "send", "--transport", "smtp", "--connections", "4",
                               "--processes", "1"], env={**os.environ, **env, "DIGEST_SMTP_URL": sink.url},
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "sent 0, retry later 0, failed 0, skipped 0 (via smtp)" in done.stdout  # nothing was attempted...
    given_back = sum(n for s, n in attempts(db).items() if s == (QUEUED, 0))
    assert given_back == 30  # ...and everyone is still queued, no attempt spent
    assert "given back to the queue never attempted, no attempt spent" in done.stderr
    assert "Error: stopped sending: the relay keeps refusing connections" in done.stderr
    assert set(re.findall(r"([\d,.]+)/s", done.stderr)) <= {"0"}  # no rate made of deliveries nobody sent
