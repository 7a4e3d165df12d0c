"""digest's benchmark: every figure and its ceiling measured in one run, on this machine.

    scripts/bench [--subscribers N ...] [--json FILE] [--database-url URL] [--relay-latency-ms MS ...]
                  [--connections N] [--processes N] [--saturate N] [--languages en-GB,cy]

For each N (default 100,000) it makes a scratch database of N members with
random topics (any subset of the 8), frequencies and formats, 12 articles over
the 8 topics in week 2017-W25, then measures:

  build      the edition built and its variants rendered (MJML compiles == html variants)
  queue      `queue_edition` in a process of its own: deliveries per second, against
             a raw executemany of as many delivery-sized rows into a fresh table
  assembly   median µs to build one member's complete message from a variant, against
             the naive per-member path (Jinja -> MJML -> premailer -> email.message)
  send       `digest send`'s worker (--connections 50, --processes = cores) into a minimal
             sink in its own process (scripts/bench_sink.py) answering at once, against a raw
             smtplib loop over 4 connections sending the same bytes; then into the sink
             answering every command 20 ms and 80 ms late (--relay-latency-ms), against the
             ceiling connections / (round trips per message x latency), each with one round
             trip a message (the default), two ([smtp] round_trips = 2), and DKIM on;
             then DKIM off and on with 256 connections (--saturate), where the CPU is the limit
  memory     peak resident memory (VmHWM) of the queueing and sending processes
  storage    database bytes per delivery (table and indexes)
  preview    `digest preview --week` with 10,000 articles in the database, whole command

Targets are ratios within the run, never absolute times (see README), except
where the issue sets one (preview < 0.5 s, --help < 0.2 s, a sender < 64 MB).

    scripts/bench --years N [--subscribers N]

measures a mailing on a database with N years of weekly editions against a
fresh one (years_run below; README "Years of editions, millions of members").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
WEEK = "2017-W25"
TARGETS = {  # metric: (description, check)
    "queue_ratio": ("queue_rate / insert_ceiling_rate >= 0.5", lambda r: r["queue_ratio"] >= 0.5),
    "naive_ratio": ("naive_us / assembly_us >= 300", lambda r: r["naive_ratio"] >= 300),
    "send_ratio": ("send_rate / send_ceiling_rate >= 0.7", lambda r: r["send_ratio"] >= 0.7),
    "latency_ratio": ("send at each latency / min(50 / latency, 0 ms rate) >= 0.8 (one round trip a message)",
                      lambda r: all(v >= 0.8 for k, v in r.items() if k.startswith("latency_ratio_"))),
    "dkim_ratio": ("send_rate_dkim / send_rate (DKIM off, at the last latency) >= 0.8",
                   lambda r: r["dkim_ratio"] >= 0.8),
    "dkim_latency_ratio": ("with DKIM at each latency / min(50 / latency, 0 ms rate with DKIM) >= 0.8",
                           lambda r: all(v >= 0.8 for k, v in r.items() if k.startswith("dkim_latency_ratio_"))),
    "db_bytes_per_delivery": ("<= 300 bytes", lambda r: r["db_bytes_per_delivery"] <= 300),
    "preview": ("digest preview --week with 10k articles < 0.5 s", lambda r: r.get("preview_seconds", 0) < 0.5),
    "help": ("digest --help < 0.2 s", lambda r: r.get("help_seconds", 0) < 0.2),
    "send_rss": ("peak RSS of every sender process < 64 MB", lambda r: r["peak_send_rss_mb"] < 64),
    "renders": ("renders == variants, MJML compiles == html variants",
                lambda r: r["renders"] == r["variants"] and r["mjml_compiles"] == r["html_variants"]),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scratch:
    """A scratch database (SQLite file, or a PostgreSQL schema of its own) and settings."""

    def __init__(self, n: int, base_url: str | None, keep: bool, languages: tuple[str, ...] = ()):
        self.dir = Path(tempfile.mkdtemp(prefix=f"digest-bench-{n}-"))
        self.languages = languages  # --languages: members split evenly between them
        self.keep, self.schema = keep, None
        if base_url:
            import sqlalchemy as sa

            self.schema = f"bench_{n}_{os.getpid()}"
            self.admin = sa.create_engine(base_url)
            with self.admin.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE; CREATE SCHEMA "{self.schema}"'))
            sep = "&" if "?" in base_url else "?"
            self.url = f"{base_url}{sep}options=-csearch_path%3D{self.schema}"
        else:
            self.url = f"sqlite:///{self.dir / 'bench.db'}"
        self.env = {**os.environ, "DIGEST_DATABASE_URL": self.url, "DIGEST_CONFIG": "",
                    "DIGEST_SECRET_KEY": "bench-secret-key-0123456789", "DIGEST_BASE_URL": "https://news.example.org",
                    "DIGEST_OUTBOX": str(self.dir / "outbox"), "PYTHONPATH": str(ROOT)}
        if languages:  # every process of the run (queue, send) reads the same [organisation] languages
            config = self.dir / "digest.toml"
            config.write_text(f"[organisation]\nlanguages = {json.dumps(list(languages))}\n", encoding="utf-8")
            self.env["DIGEST_CONFIG"] = str(config)
        from digest.config import load_settings
        from digest.db import Database

        self.settings = load_settings(None, environ=self.env)
        self.db = Database(self.url)

    def close(self) -> None:
        self.db.dispose()
        if self.schema and not self.keep:
            import sqlalchemy as sa

            with self.admin.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            self.admin.dispose()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def make_articles(sc: Scratch, count: int = 12, *, spread_days: int = 0, start: int = 0) -> None:
    """`count` articles over the 8 topics; in week 2017-W25, or spread over `spread_days` before it."""
    from digest.db import articles as article_db
    from digest.models import Article, TopicReason

    slugs = sc.settings.topic_slugs
    monday = datetime(2017, 6, 19, 8, tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    with sc.db.begin() as conn:
        article_db.sync_topics(conn, sc.settings.topics)
        for i in range(start, start + count):
            when = (monday - timedelta(days=1 + (i * 7919) % spread_days, minutes=i % 1440) if spread_days
                    else monday + timedelta(hours=11 * (i % 12)))
            topics = [slugs[i % len(slugs)]] + ([slugs[(i + 3) % len(slugs)]] if i % 3 == 0 else [])
            a = Article(title=f"Article {i}: what councils should know about {topics[0].replace('-', ' ')}",
                        url=f"https://www.example.org/news/{i}/", guid=f"bench-{i}", author="Bench Writer",
                        author_role="Head of Research", published_at=when,
                        teaser=("Councils across the country are asking what this means for their services. "
                                "We set out the main points, what to do next and where to find help. ") * 2)
            article_db.upsert_article(conn, a, [TopicReason(t, "bench") for t in topics], now=now)


def make_subscribers(sc: Scratch, n: int, seed: int = 25) -> None:
    from digest.db.schema import subscribers

    rng = random.Random(seed)
    slugs = sc.settings.topic_slugs
    now = datetime.now(timezone.utc)
    for lo in range(0, n, 20_000):
        rows = []
        for i in range(lo, min(n, lo + 20_000)):
            mask = rng.getrandbits(len(slugs))
            rows.append({
                "email": f"member{i:07d}@example.org", "email_key": f"member{i:07d}@example.org",
                "name": f"Member {i}", "status": "active",
                "topics": ",".join(s for b, s in enumerate(slugs) if mask >> b & 1),
                "frequency": rng.choice(("daily", "weekly", "monthly")),
                "format": "text" if rng.random() < 0.2 else "html", "paused": False,
                "consent_source": "import", "consent_at": now, "created_at": now, "updated_at": now,
                "token_version": 1, "hard_bounces": 0,
                "language": sc.languages[i % len(sc.languages)] if sc.languages else "",
            })
        with sc.db.begin() as conn:
            conn.execute(subscribers.insert(), rows)


def settle(sc: Scratch) -> None:
    """PostgreSQL: VACUUM ANALYZE now, so autovacuum does not do it in the middle of a measurement."""
    if sc.db.dialect != "postgresql":
        return
    with sc.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def child(sc: Scratch, *args: str) -> dict:
    out = subprocess.run([PY, str(ROOT / "scripts" / "bench_child.py"), *args], env=sc.env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"bench step {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def deliveries_storage(sc: Scratch) -> int:
    """Bytes the deliveries table and its indexes take."""
    from sqlalchemy import text

    with sc.db.connect() as conn:
        if sc.db.dialect == "postgresql":
            return conn.execute(text("SELECT pg_total_relation_size('deliveries')")).scalar()
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return (conn.exec_driver_sql("PRAGMA page_count").scalar()
                * conn.exec_driver_sql("PRAGMA page_size").scalar())


def insert_ceiling(sc: Scratch, rows: int) -> tuple[float, float]:
    """Rows a second for a raw DB-API executemany of delivery rows into a fresh table.

    Two figures: into a table shaped like `deliveries` (same columns, keys and
    indexes, the ceiling queueing is held to), and into a bare table with no
    index at all (for reference).
    """
    pk = "INTEGER PRIMARY KEY" if sc.db.dialect == "sqlite" else "SERIAL PRIMARY KEY"
    shaped = [  # deliveries' columns, keys and indexes (see digest/db/schema.py)
        f"CREATE TABLE bench_ceiling (id {pk}, "
        "edition_id INTEGER NOT NULL, subscriber_id INTEGER, variant_id INTEGER NOT NULL, "
        "status SMALLINT NOT NULL, attempts SMALLINT NOT NULL, not_before TIMESTAMP, lease_until TIMESTAMP, "
        "sent_at TIMESTAMP, last_error VARCHAR(500), UNIQUE (edition_id, subscriber_id))",
        "CREATE INDEX ix_bench_ceiling_status ON bench_ceiling (status, id)",
    ]
    data = [(1, i + 1, 1 + i % 500, 0, 0) for i in range(rows)]
    mark = "?" if sc.db.dialect == "sqlite" else "%s"
    rates = []
    for table in ("bench_ceiling", "bench_bare"):
        with sc.db.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            for ddl in (shaped if table == "bench_ceiling" else [
                    "CREATE TABLE bench_bare (edition_id integer, subscriber_id integer, "
                    "variant_id integer, status smallint, attempts smallint)"]):
                conn.exec_driver_sql(ddl)
        raw = sc.db.engine.raw_connection()
        try:
            cur = raw.cursor()
            t0 = time.perf_counter()
            if sc.db.dialect == "sqlite":
                cur.execute("BEGIN")
            cur.executemany(f"INSERT INTO {table} (edition_id, subscriber_id, variant_id, status, attempts) "
                            f"VALUES ({', '.join([mark] * 5)})", data)
            raw.commit()
            rates.append(rows / (time.perf_counter() - t0))
            cur.execute(f"DROP TABLE {table}")
            raw.commit()
        finally:
            raw.close()
    return rates[0], rates[1]


def assembly_and_naive(sc: Scratch, samples: int = 3000, naive_samples: int = 40) -> tuple[float, float, int]:
    from digest.db.editions import list_variants, load_edition
    from digest.message.assemble import MessageTemplate, Recipient, build_reference
    from digest.edition.render import render_variant
    from digest.message.links import Links

    s = sc.settings
    links = Links(s.secret_key, s.base_url)
    with sc.db.connect() as conn:
        edition = load_edition(conn, WEEK)
        variant = max((v for v in list_variants(conn, edition.id) if v.format == "html"), key=lambda v: v.item_count)
    tpl = MessageTemplate.compile(variant.rendered, settings=s, edition_key=WEEK, fmt="html", links=links)
    now = datetime.now(timezone.utc)
    people = [Recipient(i, i, f"member{i:07d}@example.org", f"Member {i}", 1) for i in range(samples)]
    timings = []
    for r in people:
        t0 = time.perf_counter_ns()
        tpl.assemble(r, date=now)
        timings.append(time.perf_counter_ns() - t0)
    assembly_us = statistics.median(timings) / 1000
    size = len(tpl.assemble(people[0], date=now))
    naive = []
    for r in people[:naive_samples]:
        t0 = time.perf_counter_ns()
        rendered = render_variant(edition, s, items=list(edition.items), fmt="html")
        build_reference(rendered, settings=s, edition_key=WEEK, fmt="html", links=links, recipient=r, date=now)
        naive.append(time.perf_counter_ns() - t0)
    return assembly_us, statistics.median(naive) / 1000, size, tpl.assemble(people[0], date=now)


def dkim_timings(message: bytes, samples: int = 200) -> tuple[float, float]:
    """Median µs to DKIM-sign one message: digest's signer (OpenSSL RSA) and dkimpy's own."""
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from digest.message.dkim import DkimSigner

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    signer = DkimSigner.from_pem("example.org", "bench", pem)
    ours, theirs = [], []
    for i in range(samples):
        t0 = time.perf_counter_ns()
        signer.sign(message)
        ours.append(time.perf_counter_ns() - t0)
        if i < samples // 10:
            t0 = time.perf_counter_ns()
            dkim.sign(message, b"bench", b"example.org", pem, include_headers=[b"From", b"To", b"Subject"])
            theirs.append(time.perf_counter_ns() - t0)
    return statistics.median(ours) / 1000, statistics.median(theirs) / 1000


def start_sink(latency_ms: float) -> tuple[subprocess.Popen, int]:
    port = free_port()
    sink = subprocess.Popen([PY, str(ROOT / "scripts" / "bench_sink.py"), str(port), str(latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready"
    return sink, port


def stop_sink(sink: subprocess.Popen) -> int:
    """Stop it; return how many messages it received."""
    sink.terminate()
    out, _ = sink.communicate(timeout=20)
    return int(out.split()[-1]) if out.strip() else -1


def requeue_sent(sc: Scratch) -> None:
    """The deliveries just sent, queued again: the next measurement sends the same messages."""
    from sqlalchemy import update

    from digest.db.schema import QUEUED, deliveries

    with sc.db.begin() as conn:
        conn.execute(update(deliveries).values(status=QUEUED, attempts=0, sent_at=None, lease_until=None,
                                               not_before=None, last_error=None))
    settle(sc)


def dkim_env(sc: Scratch) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = sc.dir / "dkim.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return {"DIGEST_DKIM_DOMAIN": "example.org", "DIGEST_DKIM_SELECTOR": "bench", "DIGEST_DKIM_KEY_FILE": str(path)}


def send_measurements(sc: Scratch, limit: int, args) -> dict:
    """digest send at each relay latency (and with DKIM at the last), and the raw smtplib ceiling at 0 ms."""
    from sqlalchemy import select

    from digest.db.editions import load_variant
    from digest.db.schema import deliveries, subscribers
    from digest.message.assemble import MessageTemplate, Recipient
    from digest.message.links import Links

    conns, procs = str(args.connections), str(args.processes)
    out: dict = {"send_connections": args.connections, "send_processes": args.processes}
    # The bytes the ceiling sends: the same deliveries, assembled the same way, before digest sends them.
    s = sc.settings
    links = Links(s.secret_key, s.base_url)
    with sc.db.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.id, deliveries.c.variant_id, subscribers.c.id.label("sid"), subscribers.c.email,
                   subscribers.c.name).join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .order_by(deliveries.c.id).limit(limit)).all()
        templates = {}
        for r in rows:
            if r.variant_id not in templates:
                v = load_variant(conn, r.variant_id)
                templates[r.variant_id] = MessageTemplate.compile(v.rendered, settings=s, edition_key=WEEK,
                                                                  fmt=v.format, links=links)
    now = datetime.now(timezone.utc)
    messages = [(r.email, templates[r.variant_id].assemble(Recipient(r.id, r.sid, r.email, r.name, 1), date=now))
                for r in rows]
    del templates
    latencies = sorted(set(args.relay_latency_ms or [0, 20, 80]))
    if 0 not in latencies:
        latencies.insert(0, 0)
    for ms in latencies:
        sink, port = start_sink(ms)
        sc.env["DIGEST_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        try:
            if ms == 0:
                # The ceiling is measured just before and just after digest sends, and
                # averaged: on 2 shared cores one measurement alone swings by ~20%.
                before = smtplib_ceiling(port, messages, s.sender_address, connections=4)
            sent = child(sc, "send", str(limit), conns, procs)
            if ms == 0:
                after = smtplib_ceiling(port, messages, s.sender_address, connections=4)
                out["send_ceiling_rate"] = round((before + after) / 2)
        finally:
            received = stop_sink(sink)
        requeue_sent(sc)
        key = "send" if ms == 0 else f"send_{ms:g}ms"
        out[f"{key}_rate"] = round(sent["sent"] / sent["seconds"])
        out[f"{key}_seconds"] = round(sent["seconds"], 3)
        out[f"{key}_received"] = received  # counted at the sink: every message once (requeued ones included)
        out[f"{key}_rss_mb"] = round(sent["vmhwm_kb"] / 1024, 1)
        out[f"{key}_cpu_us"] = round(sent["cpu_seconds"] / sent["sent"] * 1e6)
        if ms == 0:
            out["sent"] = sent["sent"]
    worst = latencies[-1]
    dkim = dkim_env(sc)
    # With DKIM the CPU caps the rate well below the round trips' ceiling: this is that cap.
    out["send_0ms_dkim_rate"], out["send_0ms_dkim_cpu_us"] = send_into_sink(sc, 0, limit, conns, procs, dkim)
    for ms in latencies[1:]:
        out.update(latency_measurements(sc, ms, limit, conns, procs, dkim, args.connections, out))
    if worst:
        out["relay_latency_ms"] = worst
        out["round_trips_per_message"] = ONE_TRIP
        out["latency_ceiling_rate"] = out[f"latency_ceiling_{worst:g}ms_rate"]
        out["latency_ratio"] = out[f"latency_ratio_{worst:g}ms"]
        out["send_rate_dkim"], out["send_dkim_cpu_us"] = out[f"send_{worst:g}ms_dkim_rate"], out[
            f"send_{worst:g}ms_dkim_cpu_us"]
    else:
        out["send_rate_dkim"], out["send_dkim_cpu_us"] = out["send_0ms_dkim_rate"], out["send_0ms_dkim_cpu_us"]
    if args.saturate:
        # The same at a concurrency where the CPU is the limit: what DKIM costs there is
        # its CPU against the rest of a message's (reported, no target: see README).
        for key, extra in (("saturated", {}), ("saturated_dkim", dkim)):
            out[f"{key}_rate"], out[f"{key}_cpu_us"] = send_into_sink(sc, worst, limit, str(args.saturate), procs,
                                                                      extra)
        out["saturated_connections"] = args.saturate
        out["saturated_pair"] = f"{out['saturated_dkim_rate']:,} / {out['saturated_rate']:,}"
        out["saturated_dkim_ratio"] = round(out["saturated_dkim_rate"] / out["saturated_rate"], 3)
        out["saturated_cpu_pair"] = f"{out['saturated_cpu_us']:,} / {out['saturated_dkim_cpu_us']:,}"
        out["saturated_cpu_ratio"] = round(out["saturated_cpu_us"] / out["saturated_dkim_cpu_us"], 3)
    base = out["send_rate"] if worst == 0 else out[f"send_{worst:g}ms_rate"]
    out["dkim_ratio"] = round(out["send_rate_dkim"] / base, 3)
    base_cpu = out["send_cpu_us"] if worst == 0 else out[f"send_{worst:g}ms_cpu_us"]
    out["dkim_cpu_pair"] = f"{base_cpu:,} / {out['send_dkim_cpu_us']:,}"
    return out


# A message's round trips to a relay with PIPELINING: its "." travels with the next message's commands
# (one), and a session's greeting, EHLO and first group every max_per_connection (100) messages.
ONE_TRIP, TWO_TRIPS = 1 + 3 / 100, 2 + 3 / 100


def latency_measurements(sc: Scratch, ms: float, limit: int, conns: str, procs: str, dkim: dict,
                         connections: int, out: dict) -> dict:
    """At one relay latency: two round trips a message and DKIM, beside the one-round-trip rate measured."""
    key = f"send_{ms:g}ms"
    two, two_cpu = send_into_sink(sc, ms, limit, conns, procs, {"DIGEST_SMTP_ROUND_TRIPS": "2"})
    signed, signed_cpu = send_into_sink(sc, ms, limit, conns, procs, dkim)
    ceiling = connections / (ONE_TRIP * ms / 1000)  # connections / (round trips x latency)
    one = out[f"{key}_rate"]
    return {
        f"{key}_two_trip_rate": two, f"{key}_two_trip_cpu_us": two_cpu,
        f"{key}_dkim_rate": signed, f"{key}_dkim_cpu_us": signed_cpu,
        f"latency_ceiling_{ms:g}ms_rate": round(ceiling),
        f"latency_ratio_{ms:g}ms": round(one / min(ceiling, out["send_rate"]), 3),
        f"one_trip_ratio_{ms:g}ms": round(one / two, 3),
        f"dkim_ratio_{ms:g}ms": round(signed / one, 3),
        f"dkim_latency_ratio_{ms:g}ms": round(signed / min(ceiling, out["send_0ms_dkim_rate"]), 3),
    }


def send_into_sink(sc: Scratch, latency_ms: float, limit: int, conns: str, procs: str,
                   extra_env: dict) -> tuple[int, int]:
    """(messages a second, sender CPU µs a message) of one `digest send` into a fresh sink; requeued after."""
    sink, port = start_sink(latency_ms)
    saved = dict(sc.env)
    sc.env.update(extra_env, DIGEST_SMTP_URL=f"smtp://127.0.0.1:{port}")
    try:
        sent = child(sc, "send", str(limit), conns, procs)
    finally:
        sc.env = saved
        stop_sink(sink)
    requeue_sent(sc)
    return round(sent["sent"] / sent["seconds"]), round(sent["cpu_seconds"] / sent["sent"] * 1e6)


def smtplib_ceiling(port: int, messages: list[tuple[str, bytes]], sender: str, connections: int) -> float:
    shares = [messages[i::connections] for i in range(connections)]

    def worker(share):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.ehlo()
            for rcpt, data in share:
                smtp.sendmail(sender, [rcpt], data)

    threads = [threading.Thread(target=worker, args=(sh,)) for sh in shares]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(messages) / (time.perf_counter() - t0)


def preview_seconds(sc: Scratch, articles: int) -> float:
    make_articles(sc, articles, spread_days=4 * 365, start=1000)
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "digest", "preview", "--week", WEEK, "--out", str(sc.dir / "preview.html")],
                   env=sc.env, capture_output=True, check=True)
    return time.perf_counter() - t0


def help_seconds(sc: Scratch, samples: int = 3) -> float:
    """`digest --help`, whole command (the interpreter's start-up included): the fastest of a few."""
    best = float("inf")
    for _ in range(samples):
        t0 = time.perf_counter()
        subprocess.run([PY, "-m", "digest", "--help"], env=sc.env, capture_output=True, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def run(n: int, args) -> dict:
    from sqlalchemy import func, select

    from digest.db.schema import deliveries, variants
    from digest.editorial.build import build_edition
    from digest.edition.periods import parse_period
    from digest.edition.render import RENDER_STATS

    say = lambda msg: print(f"[{n:,}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    sc = Scratch(n, args.database_url, args.keep, tuple(args.languages.split(",")) if args.languages else ())
    try:
        say(f"making {n:,} members and 12 articles in {sc.db.dialect}")
        make_articles(sc)
        make_subscribers(sc, n)
        say("building the edition (rendering its variants)")
        RENDER_STATS.reset()
        t0 = time.perf_counter()
        build_edition(sc.db, sc.settings, parse_period(WEEK, sc.settings.timezone), now=datetime.now(timezone.utc))
        build_seconds = time.perf_counter() - t0
        with sc.db.connect() as conn:
            n_variants = conn.execute(select(func.count()).select_from(variants)).scalar()
            html_variants = conn.execute(select(func.count()).where(variants.c.format == "html")).scalar()
        # Every variant is rendered once (render_variant); html ones also compile MJML once.
        renders, compiles = RENDER_STATS.text_renders, RENDER_STATS.compiles
        settle(sc)
        before = deliveries_storage(sc)
        say("queueing")
        q = child(sc, "queue", WEEK)
        settle(sc)
        with sc.db.connect() as conn:
            queued = conn.execute(select(func.count()).select_from(deliveries)).scalar()
        per_delivery = (deliveries_storage(sc) - before) / max(1, queued)
        say(f"insert ceiling over {queued:,} rows")
        ceiling, bare = insert_ceiling(sc, queued)
        say("assembly and naive render")
        assembly_us, naive_us, message_bytes, sample = assembly_and_naive(sc)
        say("DKIM signing")
        dkim_us, dkimpy_us = dkim_timings(sample)
        limit = min(queued, args.send_count)
        say(f"sending {limit:,} messages over {args.connections} connections in {args.processes} process(es) "
            f"at relay latencies {args.relay_latency_ms or [0, 20, 80]} ms (one and two round trips a message, DKIM); "
            "the smtplib ceiling")
        sends = send_measurements(sc, limit, args)
        result = {
            "subscribers": n, "database": sc.db.dialect, "variants": n_variants, "renders": renders,
            "languages": list(sc.languages) or [sc.settings.language],
            "mjml_compiles": compiles, "html_variants": html_variants,
            "build_seconds": round(build_seconds, 3),
            "queued": queued, "queue_seconds": round(q["seconds"], 3), "queue_rate": round(queued / q["seconds"]),
            "insert_ceiling_rate": round(ceiling), "insert_bare_rate": round(bare),
            "assembly_us": round(assembly_us, 2), "naive_us": round(naive_us, 1), "message_bytes": message_bytes,
            "dkim_us": round(dkim_us, 1), "dkimpy_us": round(dkimpy_us, 1),
            **sends,
            "queue_rss_mb": round(q["vmhwm_kb"] / 1024, 1),
            "peak_rss_mb": round(max(q["vmhwm_kb"] / 1024, *(v for k, v in sends.items() if k.endswith("rss_mb"))),
                                 1),
            "db_bytes_per_delivery": round(per_delivery, 1),
        }
        result["peak_send_rss_mb"] = max(v for k, v in sends.items() if k.endswith("rss_mb"))
        result["queue_ratio"] = round(result["queue_rate"] / result["insert_ceiling_rate"], 3)
        result["naive_ratio"] = round(naive_us / assembly_us, 1)
        result["send_ratio"] = round(result["send_rate"] / result["send_ceiling_rate"], 3)
        if args.preview_articles:
            say(f"preview with {args.preview_articles:,} articles")
            result["preview_articles"] = args.preview_articles
            result["preview_seconds"] = round(preview_seconds(sc, args.preview_articles), 3)
        result["help_seconds"] = round(help_seconds(sc), 3)
        result["targets_met"] = {k: bool(check(result)) for k, (_, check) in TARGETS.items()}
        return result
    finally:
        sc.close()


def latency_rows(results: list[dict]) -> list[tuple[str, str, str]]:
    """The rows of each relay latency measured: one and two round trips a message, DKIM, the ceiling."""
    latencies = sorted({float(k[len("latency_ratio_"):-2]) for r in results for k in r if k.startswith("latency_ratio_")})
    rows, conns = [], results[0].get("send_connections", 50)
    for ms in latencies:
        k = f"{ms:g}ms"
        rows += [
            (f"send rate at {ms:g} ms, one round trip a message, /s", f"send_{k}_rate", "{:,}"),
            ("  two round trips a message (same run), /s", f"send_{k}_two_trip_rate", "{:,}"),
            ("  one / two round trips", f"one_trip_ratio_{k}", "{:.2f}"),
            (f"  ceiling {conns} / ({ONE_TRIP:.2f} round trips x {ms:g} ms), /s", f"latency_ceiling_{k}_rate", "{:,}"),
            ("  / min(ceiling, 0 ms rate) (>= 0.8)", f"latency_ratio_{k}", "{:.2f}"),
            ("  with DKIM, /s", f"send_{k}_dkim_rate", "{:,}"),
            ("  DKIM on / off (>= 0.8)", f"dkim_ratio_{k}", "{:.2f}"),
            ("  DKIM / min(ceiling, 0 ms rate with DKIM) (>= 0.8)", f"dkim_latency_ratio_{k}", "{:.2f}"),
        ]
    return rows


# ---------------------------------------------------------------- --years N (issue 24)
# Three years of weekly editions, bulk-built with set-based SQL, measured
# against a fresh database in the same run. Kept apart from the one-week run above.

YEARS_RATIO = 0.9  # every rate on the old database at least this share of the fresh one's
PAGE_SECONDS = 1.0  # every report and page under this
RETAINED_WEEKS = 13 * 52 / 12  # 13 months of weekly editions: what [retention] keeps by default


def db_used_bytes(sc: Scratch) -> int:
    """Bytes the database's tables and indexes use (SQLite: pages in use; PostgreSQL: the scratch schema)."""
    from sqlalchemy import text

    with sc.db.connect() as conn:
        if sc.db.dialect == "postgresql":
            return int(conn.execute(text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm', 't')")).scalar())
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar() - conn.exec_driver_sql("PRAGMA freelist_count").scalar()
        return pages * conn.exec_driver_sql("PRAGMA page_size").scalar()


def history_keys(weeks: int) -> list[tuple[str, datetime]]:
    """(ISO week key, its Monday) of the `weeks` weeks before WEEK, oldest first."""
    monday = datetime(2017, 6, 19, tzinfo=timezone.utc)
    out = []
    for w in range(weeks, 0, -1):
        day = monday - timedelta(weeks=w)
        year, week, _ = day.isocalendar()
        out.append((f"{year}-W{week:02d}", day))
    return out


def make_history(sc: Scratch, weeks: int, say) -> int:
    """`weeks` sent weekly editions before WEEK, with WEEK's variants and a sent delivery per member each.

    Set-based: WEEK is built and queued once (the real code), its variants are
    copied to every old edition in one INSERT ... SELECT and its deliveries in
    one more per edition, then WEEK's own deliveries are removed so that it is
    queued again by the measurement. Returns the delivery rows made.
    """
    from sqlalchemy import and_, delete, func, insert, literal, select, update

    from digest.db.schema import SENT, deliveries, editions, variants
    from digest.editorial.build import queue_edition

    queue_edition(sc.db, sc.settings, WEEK, now=datetime.now(timezone.utc))
    keys = history_keys(weeks)
    with sc.db.begin() as conn:
        week = conn.execute(select(editions).where(editions.c.key == WEEK)).one()
        conn.execute(insert(editions), [
            {"key": key, "frequency": "weekly", "window_start": day, "window_end": day + timedelta(days=7),
             "subject": week.subject, "built_at": day + timedelta(days=7), "queued_at": day + timedelta(days=7, hours=7),
             "preheader": "", "note": ""} for key, day in keys])
        old = select(editions.c.id).where(editions.c.key != WEEK)
        v = variants.alias("v")
        conn.execute(insert(variants).from_select(
            ["edition_id", "topics", "format", "subject", "preheader", "html", "text", "item_count", "rendered_at",
             "language"],
            select(editions.c.id, v.c.topics, v.c.format, v.c.subject, v.c.preheader, v.c.html, v.c.text,
                   v.c.item_count, editions.c.built_at, v.c.language)
            .select_from(editions.join(v, v.c.edition_id == week.id)).where(editions.c.id.in_(old))))
        ids = conn.execute(select(editions.c.id, editions.c.queued_at).where(editions.c.key != WEEK)
                           .order_by(editions.c.id)).all()
    made = 0
    for i, (edition_id, queued_at) in enumerate(ids):
        mine, theirs = variants.alias("mine"), variants.alias("theirs")
        source = (select(literal(edition_id), deliveries.c.subscriber_id, mine.c.id, literal(SENT), literal(1),
                         literal(queued_at + timedelta(minutes=30)))
                  .select_from(deliveries.join(theirs, theirs.c.id == deliveries.c.variant_id).join(
                      mine, and_(mine.c.edition_id == edition_id, mine.c.topics == theirs.c.topics,
                                 mine.c.format == theirs.c.format, mine.c.language == theirs.c.language)))
                  .where(deliveries.c.edition_id == week.id).order_by(mine.c.id, deliveries.c.subscriber_id))
        with sc.db.begin() as conn:
            made += conn.execute(insert(deliveries).from_select(
                ["edition_id", "subscriber_id", "variant_id", "status", "attempts", "sent_at"], source)
                .execution_options(preserve_rowcount=True)).rowcount
        if i % 26 == 25:
            say(f"  {i + 1} of {len(ids)} old editions, {made:,} deliveries")
    with sc.db.begin() as conn:
        conn.execute(delete(deliveries).where(deliveries.c.edition_id == week.id))
        conn.execute(update(editions).where(editions.c.id == week.id).values(queued_at=None))
        assert conn.execute(select(func.count()).select_from(deliveries)
                            .where(deliveries.c.edition_id == week.id)).scalar() == 0
    return made


def requeue_week(sc: Scratch) -> None:
    """WEEK's deliveries queued again (claims given back): only WEEK's, the old editions' stay sent."""
    from sqlalchemy import select, update

    from digest.db.schema import QUEUED, deliveries, editions

    with sc.db.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.edition_id == select(editions.c.id).where(
            editions.c.key == WEEK).scalar_subquery()).values(
            status=QUEUED, attempts=0, sent_at=None, lease_until=None, not_before=None, last_error=None,
            claimed_by=None))
    settle(sc)


def mailing_measures(sc: Scratch, args, old_key: str | None, say) -> dict:
    """Queue WEEK, claim, send into a sink at 0 ms; report, status and the desk page; the size."""
    out = {"size_bytes": db_used_bytes(sc)}
    settle(sc)
    q = child(sc, "queue", WEEK)
    out["queued"], out["queue_rate"] = q["queued"], round(q["queued"] / q["seconds"])
    limit = min(q["queued"], args.send_count)
    c = child(sc, "claim", str(limit))
    out["claim_rate"] = round(c["claimed"] / c["seconds"])
    requeue_week(sc)
    sink, port = start_sink(0)
    sc.env["DIGEST_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    try:
        sent = child(sc, "send", str(limit), str(args.connections), str(args.processes))
    finally:
        stop_sink(sink)
    out["send_rate"] = round(sent["sent"] / sent["seconds"])
    out["send_rss_mb"] = round(sent["vmhwm_kb"] / 1024, 1)
    say("  report, status and the desk's week page")
    out.update(page_measures(sc, old_key))
    return out


def page_measures(sc: Scratch, old_key: str | None) -> dict:
    p = child(sc, "pages", WEEK, *([old_key] if old_key else []))
    out = {"report_seconds": round(p["report_0_seconds"], 3), "status_seconds": round(p["status_seconds"], 3),
           "desk_seconds": round(p["desk_seconds"], 3)}
    if old_key:
        out["old_report_seconds"] = round(p["report_1_seconds"], 3)
    return out


def years_run(n: int, args) -> dict:
    """The same mailing on a fresh database and on one with `args.years` years of weekly editions."""
    from digest.edition.periods import parse_period
    from digest.editorial.build import build_edition
    from digest.editorial.retention import prune

    say = lambda msg: print(f"[{n:,} x {args.years} years] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    weeks = 52 * args.years
    result: dict = {"subscribers": n, "weeks": weeks}
    for label in ("fresh", "old"):
        sc = Scratch(n, args.database_url, args.keep)
        try:
            result["database"] = sc.db.dialect
            say(f"{label}: {n:,} members, WEEK's articles, the edition built")
            make_articles(sc)
            make_subscribers(sc, n)
            build_edition(sc.db, sc.settings, parse_period(WEEK, sc.settings.timezone),
                          now=datetime.now(timezone.utc))
            old_key = None
            if label == "old":
                say(f"old: {weeks} weekly editions before {WEEK}, set-based")
                t0 = time.perf_counter()
                result["history_deliveries"] = make_history(sc, weeks, say)
                result["history_seconds"] = round(time.perf_counter() - t0, 1)
                old_key = history_keys(weeks)[0][0]
            say(f"{label}: queue, claim, send, pages")
            result[label] = mailing_measures(sc, args, old_key, say)
            if label == "old":
                say("old: digest prune (as of the Monday after the week)")
                t0 = time.perf_counter()
                pruned = prune(sc.db, sc.settings, now=datetime(2017, 6, 26, 9, tzinfo=timezone.utc))
                result["prune_seconds"] = round(time.perf_counter() - t0, 1)
                result["pruned_rows"] = pruned.total
                if sc.db.dialect == "postgresql":  # the space comes back to the files only with VACUUM FULL
                    with sc.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        conn.exec_driver_sql("VACUUM FULL")
                result["size_after_prune_bytes"] = db_used_bytes(sc)
                result["after_prune"] = page_measures(sc, old_key)
        finally:
            sc.close()
    fresh, old = result["fresh"], result["old"]
    # 13 months' worth: the fresh database plus 13 months' share of what the years added.
    result["retained_bytes"] = round(fresh["size_bytes"] + (old["size_bytes"] - fresh["size_bytes"])
                                     * RETAINED_WEEKS / weeks)
    result["ratios"] = {k: round(old[k] / fresh[k], 3) for k in ("queue_rate", "claim_rate", "send_rate")}
    result["size_ratio"] = round(result["size_after_prune_bytes"] / result["retained_bytes"], 3)
    return result


def years_report(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    fresh, old, after = r["fresh"], r["old"], r["after_prune"]
    table = Table(title=f"digest after {r['weeks']} weekly editions ({r['database']}, {r['subscribers']:,} members, "
                        f"{os.cpu_count()} cores)")
    for col, justify in (("measure", "left"), ("fresh", "right"), ("after the years", "right"),
                         ("ratio", "right"), ("target", "left")):
        table.add_column(col, justify=justify)
    missed = "[red]MISSED[/red]"
    for label, key in (("queue rate, /s", "queue_rate"), ("claim rate, /s", "claim_rate"),
                       ("send rate at 0 ms, /s", "send_rate")):
        ratio = r["ratios"][key]
        table.add_row(label, f"{fresh[key]:,}", f"{old[key]:,}", f"{ratio:.2f}",
                      "met" if ratio >= YEARS_RATIO else missed)
    for label, key, src in (("digest report (this week), s", "report_seconds", old),
                            ("digest report (the oldest edition), s", "old_report_seconds", old),
                            ("  after prune (folded), s", "old_report_seconds", after),
                            ("digest status (all editions), s", "status_seconds", old),
                            ("  after prune, s", "status_seconds", after),
                            ("desk week page, s", "desk_seconds", old),
                            ("  after prune, s", "desk_seconds", after)):
        f = fresh.get(key)
        table.add_row(label, "-" if f is None else f"{f:.3f}", f"{src[key]:.3f}", "",
                      "met" if src[key] < PAGE_SECONDS else missed)
    table.add_row("peak RSS send, MB", f"{fresh['send_rss_mb']:.1f}", f"{old['send_rss_mb']:.1f}", "", "")
    mb = lambda b: f"{b / 1e6:,.0f}"  # noqa: E731
    table.add_row("database, MB", mb(fresh["size_bytes"]), mb(old["size_bytes"]),
                  f"{old['size_bytes'] / fresh['size_bytes']:.1f}", "")
    table.add_row(f"  after prune ({r['pruned_rows']:,} rows, {r['prune_seconds']} s), MB", "",
                  mb(r["size_after_prune_bytes"]), "", "")
    table.add_row("  13 months' worth (estimated), MB", "", mb(r["retained_bytes"]), f"{r['size_ratio']:.2f}",
                  "met" if r["size_ratio"] <= 2 else missed)
    table.add_row(f"history built ({r['history_deliveries']:,} deliveries), s", "", f"{r['history_seconds']}", "", "")
    Console().print(table)


def report(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = [
        ("members", "subscribers", "{:,}"), ("variants (rendered once each)", "variants", "{:,}"),
        ("renders", "renders", "{:,}"), ("  of which MJML compiles", "mjml_compiles", "{:,}"),
        ("build (select + render), s", "build_seconds", "{:.2f}"),
        ("deliveries queued", "queued", "{:,}"), ("queue, s", "queue_seconds", "{:.3f}"),
        ("queue rate, /s", "queue_rate", "{:,}"), ("insert ceiling (deliveries-shaped table), /s", "insert_ceiling_rate", "{:,}"),
        ("  into a bare table (no index), /s", "insert_bare_rate", "{:,}"),
        ("  queue / ceiling (>= 0.5)", "queue_ratio", "{:.2f}"),
        ("assembly, µs/message", "assembly_us", "{:.1f}"), ("naive render, µs/message", "naive_us", "{:,.0f}"),
        ("  naive / assembly (>= 300)", "naive_ratio", "{:,.0f}"), ("message size, bytes", "message_bytes", "{:,}"),
        ("DKIM signing (OpenSSL RSA), µs/message", "dkim_us", "{:,.0f}"),
        ("  dkimpy's own signing, µs/message", "dkimpy_us", "{:,.0f}"),
        ("sent (each measurement)", "sent", "{:,}"),
        ("  connections", "send_connections", "{:,}"), ("  processes", "send_processes", "{:,}"),
        ("send rate at 0 ms, /s", "send_rate", "{:,}"),
        ("smtplib ceiling (4 connections, 0 ms), /s", "send_ceiling_rate", "{:,}"),
        ("  send / ceiling (>= 0.7)", "send_ratio", "{:.2f}"),
        *latency_rows(results),
        ("  sender CPU at 0 ms, µs/message", "send_cpu_us", "{:,}"),
        ("send rate at 0 ms with DKIM (the CPU's cap), /s", "send_0ms_dkim_rate", "{:,}"),
        ("send rate with DKIM (at the last latency), /s", "send_rate_dkim", "{:,}"),
        ("  sender CPU without / with DKIM, µs/message", "dkim_cpu_pair", "{}"),
        ("  DKIM on / off (>= 0.8)", "dkim_ratio", "{:.2f}"),
        ("with the CPU as the limit (--saturate connections)", "saturated_connections", "{:,}"),
        ("  send rate DKIM on / off, /s", "saturated_pair", "{}"),
        ("  DKIM on / off (no target)", "saturated_dkim_ratio", "{:.2f}"),
        ("  sender CPU without / with DKIM, µs/message", "saturated_cpu_pair", "{}"),
        ("  CPU without / with (the most the ratio can be)", "saturated_cpu_ratio", "{:.2f}"),
        ("peak RSS queue, MB", "queue_rss_mb", "{:.1f}"), ("peak RSS send, MB", "send_rss_mb", "{:.1f}"),
        ("peak RSS of any send (every measurement), MB (< 64)", "peak_send_rss_mb", "{:.1f}"),
        ("DB bytes per delivery (<= 300)", "db_bytes_per_delivery", "{:.0f}"),
        ("preview with 10k articles, s (< 0.5)", "preview_seconds", "{:.2f}"),
        ("digest --help, s (< 0.2)", "help_seconds", "{:.2f}"),
    ]
    table = Table(title=f"digest benchmark ({results[0]['database']}, {os.cpu_count()} cores)")
    table.add_column("measure")
    for r in results:
        table.add_column(f"{r['subscribers']:,}", justify="right")
    for label, key, fmt in rows:
        if any(key in r for r in results):
            table.add_row(label, *(fmt.format(r[key]) if key in r else "-" for r in results))
    for key, (desc, _) in TARGETS.items():
        table.add_row(f"target: {desc}", *("met" if r["targets_met"][key] else "[red]MISSED[/red]" for r in results))
    if len(results) > 1:
        lo, hi = results[0], results[-1]
        ratio = hi["peak_rss_mb"] / lo["peak_rss_mb"]
        table.add_row(f"peak RSS {hi['subscribers']:,} / {lo['subscribers']:,} (flat: <= 1.25)",
                      *([""] * (len(results) - 1)), f"{ratio:.2f}")
    Console().print(table)


def main() -> None:
    if sys.argv[1:2] == ["preview"]:  # `scripts/bench preview [--runs N] [--tree DIR]`: issue 24's preview and --help
        return __import__("bench_preview").main(sys.argv[2:])  # alone, interleaved medians (scripts/bench_preview.py)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subscribers", type=int, action="append", help="members (repeat for several; default 100000)")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--database-url", help="a PostgreSQL URL to measure on (a scratch schema is used); default SQLite")
    p.add_argument("--send-count", type=int, default=20_000,
                   help="messages sent in the send measurement (each variant is compiled once per sender: "
                        "too few messages per variant would measure compiling rather than sending)")
    p.add_argument("--preview-articles", type=int, default=10_000, help="articles for the preview timing (0: skip)")
    p.add_argument("--keep", action="store_true", help="keep the scratch database")
    p.add_argument("--languages", metavar="TAGS", help="[organisation] languages, comma-separated (en-GB,cy): "
                                                        "members split evenly between them")
    p.add_argument("--relay-latency-ms", type=float, action="append",
                   help="the sink answers every command this late (repeat for several; 0 is always measured; "
                        "default: 0, 20 and 80); at each, one and two round trips a message and DKIM")
    p.add_argument("--connections", type=int, default=50,
                   help="digest send --connections (default 50: what a Postfix relay allows one client by "
                        "default; at 20 ms, about 1,200 messages a second by round trips)")
    p.add_argument("--saturate", type=int, default=256, metavar="CONNECTIONS",
                   help="also send at the last latency with this many connections, DKIM off and on, so that "
                        "the CPU and not the round trips is the limit (default 256; 0: skip)")
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="digest send --processes (default: the number of cores)")
    p.add_argument("--years", type=int, default=0,
                   help="measure a mailing on a database with this many years of weekly editions against a "
                        "fresh one (issue 24; 3 for the README's figures)")
    scale_options(p)
    args = p.parse_args()
    if args.scale:
        scale_main(args)
        return
    if args.years:
        years_main(args)
        return
    results = [run(n, args) for n in (args.subscribers or [100_000])]
    report(results)
    if args.json:
        payload = results[0] if len(results) == 1 else results
        if len(results) > 1:
            payload = {"runs": results, "peak_rss_ratio": round(results[-1]["peak_rss_mb"] / results[0]["peak_rss_mb"], 3)}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


def years_main(args) -> None:
    results = [years_run(n, args) for n in (args.subscribers or [100_000])]
    for r in results:
        years_report(r)
    if args.json:
        args.json.write_text(json.dumps(results[0] if len(results) == 1 else results, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


# ---------------------------------------------------------------- --scale (issue 24: ten million members)
# What grows with the members: importing them, building and queueing an edition,
# the bytes a delivery takes, and every process's memory, measured at each size
# with the same code and compared with the first size (or an earlier run's JSON).
# Never a list of all members in this process: the rows are generated as they
# are written (COPY on PostgreSQL, batches on SQLite, a CSV file on disk).

SCALE_RSS_MB = 100  # every process's peak resident memory under this, at any size
SCALE_QUEUE_RATIO = 2.0  # queueing's time per delivery at most this multiple of the first size's
SCALE_FLAT = 1.25  # a process's peak memory at the largest size at most this multiple of the first's
SCALE_PREVIEW_SECONDS = 0.5  # digest preview --week with 10,000 articles, the whole command
SCALE_PROCESSES = ("import", "build", "queue", "send", "senders", "preview")
_NOW = "2017-06-01 09:00:00"


def member_stream(n: int, slugs: list[str], languages: tuple[str, ...], seed: int = 25):
    """(i, email, name, topics, frequency, format, language) of members 0..n-1, made as they are read."""
    rng = random.Random(seed)
    for i in range(n):
        mask = rng.getrandbits(len(slugs))
        yield (i, f"member{i:07d}@example.org", f"Member {i}", [s for b, s in enumerate(slugs) if mask >> b & 1],
               rng.choice(("daily", "weekly", "monthly")), "text" if rng.random() < 0.2 else "html",
               languages[i % len(languages)] if languages else "")


def load_members(db, stream, count: int, batch: int = 50_000) -> None:
    """The next `count` members of the stream straight into the table: COPY (PostgreSQL) or batches (SQLite)."""
    import itertools

    cols = ("email", "email_key", "name", "status", "topics", "frequency", "format", "paused", "consent_source",
            "consent_at", "created_at", "updated_at", "token_version", "hard_bounces", "language")
    rows = ((email, email, name, "active", ",".join(topics), freq, fmt, False, "import", _NOW, _NOW, _NOW, 1, 0,
             lang) for _, email, name, topics, freq, fmt, lang in itertools.islice(stream, count))
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.dialect == "postgresql":
            with cur.copy(f"COPY subscribers ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO subscribers ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            while chunk := list(itertools.islice(rows, batch)):
                cur.executemany(sql, chunk)
        raw.commit()
    finally:
        raw.close()


def write_members_csv(path: Path, stream, count: int, languages: tuple[str, ...]) -> None:
    """The next `count` members of the stream as a member list for `digest members import`, written as made."""
    import csv
    import itertools

    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["email", "name", "topics", "frequency", "format"] + (["language"] if languages else []))
        for _, email, name, topics, freq, fmt, lang in itertools.islice(stream, count):
            out.writerow([email, name, ";".join(topics) or "all", freq, fmt] + ([lang] if languages else []))


def measured_command(sc: Scratch, args: list[str], name: str) -> tuple[float, float, str]:
    """(seconds, peak RSS MB, stdout) of `digest ARGS...` run whole, as an operator runs it (start-up included).

    The peak is the command's own VmHWM, written at its exit (bench_child.py command).
    """
    out_path, err_path, peak_path = sc.dir / f"{name}.out", sc.dir / f"{name}.err", sc.dir / f"{name}.peak"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        code = subprocess.run([PY, str(ROOT / "scripts" / "bench_child.py"), "command", str(peak_path), *args],
                              env=sc.env, stdout=out, stderr=err, check=False).returncode
        seconds = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"bench step {name} exited {code}:\n{err_path.read_text()[-3000:]}")
    return seconds, int(peak_path.read_text()) / 1024, out_path.read_text()


def scale_members(sc: Scratch, n: int, imported: int, say) -> dict:
    """n members: the first n - imported loaded directly, the rest by `digest members import` of a CSV."""
    stream = member_stream(n, sc.settings.topic_slugs, sc.languages)
    out: dict = {"subscribers": n, "imported": imported, "loaded": n - imported}
    if n - imported:
        say(f"loading {n - imported:,} members directly ({'COPY' if sc.db.dialect == 'postgresql' else 'batches'})")
        t0 = time.perf_counter()
        load_members(sc.db, stream, n - imported)
        out["load_seconds"] = round(time.perf_counter() - t0, 1)
    if imported:
        csv_path = sc.dir / "members.csv"
        say(f"writing {imported:,} members to {csv_path}")
        write_members_csv(csv_path, stream, imported, sc.languages)
        out["csv_bytes"] = csv_path.stat().st_size
        say(f"digest members import of {imported:,} members")
        seconds, rss, text = measured_command(sc, ["members", "import", str(csv_path)], "import")
        csv_path.unlink()
        out.update(import_seconds=round(seconds, 1), import_rate=round(imported / seconds),
                   import_rss_mb=round(rss, 1), import_summary=text.strip().splitlines()[-1])
    return out


def scale_run(n: int, args) -> dict:
    """One size: members, build, queue, bytes per delivery, a bounded send at 0 ms, preview; every peak RSS."""
    say = lambda msg: print(f"[scale {n:,}] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)  # noqa: E731
    sc = Scratch(n, args.database_url, args.keep, tuple(args.languages.split(",")) if args.languages else ())
    try:
        make_articles(sc)
        result = {"database": sc.db.dialect, **scale_members(sc, n, min(n, args.import_members), say)}
        settle(sc)
        say("building the edition (child process)")
        b = child(sc, "build", WEEK)
        result.update(build_seconds=round(b["seconds"], 2), build_rss_mb=round(b["vmhwm_kb"] / 1024, 1))
        settle(sc)
        before = deliveries_storage(sc)
        say("queueing (child process)")
        q = child(sc, "queue", WEEK)
        result.update(queued=q["queued"], queue_seconds=round(q["seconds"], 2), queue_rss_mb=round(q["vmhwm_kb"] / 1024, 1),
                      queue_us_per_delivery=round(q["seconds"] / max(1, q["queued"]) * 1e6, 3))
        settle(sc)
        result["db_bytes_per_delivery"] = round((deliveries_storage(sc) - before) / max(1, q["queued"]), 1)
        result["database_bytes"] = db_used_bytes(sc)
        limit = min(q["queued"], args.send_count)
        say(f"sending {limit:,} of the {q['queued']:,} deliveries at 0 ms ({args.connections} connections, "
            f"{args.processes} processes)")
        sink, port = start_sink(0)
        sc.env["DIGEST_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        try:
            s = child(sc, "send", str(limit), str(args.connections), str(args.processes))
        finally:
            result["sink_received"] = stop_sink(sink)
        result.update(sent=s["sent"], send_rate=round(s["sent"] / s["seconds"]),
                      send_rss_mb=round(s["own_kb"] / 1024, 1), senders_rss_mb=round(s["children_kb"] / 1024, 1))
        if args.preview_articles:
            say(f"digest preview --week with {args.preview_articles:,} articles")
            make_articles(sc, args.preview_articles, spread_days=4 * 365, start=1000)
            seconds, rss, _ = measured_command(
                sc, ["preview", "--week", WEEK, "--out", str(sc.dir / "preview.html")], "preview")
            result.update(preview_articles=args.preview_articles, preview_seconds=round(seconds, 2),
                          preview_rss_mb=round(rss, 1))
        say("done")
        return result
    finally:
        sc.close()


def scale_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", action="store_true",
                   help="only what grows with the members (issue 24, 10,000,000): import, build, queue, bytes per "
                        "delivery, --send-count messages at 0 ms, preview, and every process's peak memory, "
                        "each size compared with the first")
    p.add_argument("--import-members", type=int, default=1_000_000, metavar="N",
                   help="--scale: this many of the members come in by `digest members import` of a CSV file, "
                        "after the others are loaded directly (default 1,000,000)")
    p.add_argument("--compare", type=Path, metavar="FILE",
                   help="--scale: compare with the runs in this earlier --scale --json file (the first size)")


def scale_targets(results: list[dict]) -> None:
    """Each result's targets (met or not), against the first: memory under the bar and flat, queueing's time."""
    first = results[0]
    for r in results:
        peaks = {p: r[f"{p}_rss_mb"] for p in SCALE_PROCESSES if f"{p}_rss_mb" in r}
        met = {"rss": max(peaks.values()) < SCALE_RSS_MB}
        if "preview_seconds" in r:
            met["preview"] = r["preview_seconds"] < SCALE_PREVIEW_SECONDS
        if r is not first:
            r["queue_time_ratio"] = round(r["queue_us_per_delivery"] / first["queue_us_per_delivery"], 2)
            r["rss_ratios"] = {p: round(v / first[f"{p}_rss_mb"], 2) for p, v in peaks.items()
                               if first.get(f"{p}_rss_mb")}
            met["queue"] = r["queue_time_ratio"] <= SCALE_QUEUE_RATIO
            met["flat"] = all(v <= SCALE_FLAT for v in r["rss_ratios"].values())
        r["peak_rss_mb"] = max(peaks.values())
        r["targets_met"] = met


def scale_report(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = [
        ("members", "subscribers", "{:,}"), ("  loaded directly (COPY / batches)", "loaded", "{:,}"),
        ("  loaded in, s", "load_seconds", "{:,}"), ("  by `digest members import` of a CSV", "imported", "{:,}"),
        ("  import, s", "import_seconds", "{:,}"), ("  import rate, members/s", "import_rate", "{:,}"),
        ("build (select + render), s", "build_seconds", "{:.2f}"), ("deliveries queued", "queued", "{:,}"),
        ("queue, s", "queue_seconds", "{:.2f}"), ("queue, µs per delivery", "queue_us_per_delivery", "{:.2f}"),
        ("  / the first size's (<= 2)", "queue_time_ratio", "{:.2f}"),
        ("DB bytes per delivery", "db_bytes_per_delivery", "{:.0f}"),
        ("database (tables + indexes), MB", "database_bytes", "{:,.0f}", 1e6),
        ("sent at 0 ms (a bounded sample)", "sent", "{:,}"), ("send rate at 0 ms, /s", "send_rate", "{:,}"),
        ("digest preview --week, s", "preview_seconds", "{:.2f}"),
        *((f"peak RSS {p}, MB (< {SCALE_RSS_MB})", f"{p}_rss_mb", "{:.1f}") for p in SCALE_PROCESSES),
    ]
    title = f"digest at scale ({results[0]['database']}, {os.cpu_count()} cores)"
    table = Table(title=title)
    table.add_column("measure")
    for r in results:
        table.add_column(f"{r['subscribers']:,}" + (" (earlier run)" if r.get("earlier") else ""), justify="right")
    for label, key, fmt, *div in rows:
        if any(key in r for r in results):
            table.add_row(label, *(fmt.format(r[key] / div[0] if div else r[key]) if key in r else "-" for r in results))
    missed = "[red]MISSED[/red]"
    for label, key in ((f"target: every process's peak RSS < {SCALE_RSS_MB} MB", "rss"),
                       (f"target: queue time per delivery <= {SCALE_QUEUE_RATIO:g}x the first size's", "queue"),
                       (f"target: every process's peak RSS <= {SCALE_FLAT}x the first size's (flat)", "flat"),
                       (f"target: digest preview --week < {SCALE_PREVIEW_SECONDS} s", "preview")):
        table.add_row(label, *(("met" if r["targets_met"][key] else missed) if key in r["targets_met"] else "-"
                               for r in results))
    Console().print(table)
    for r in results[1:]:
        print(f"peak RSS {r['subscribers']:,} / {results[0]['subscribers']:,}: "
              + ", ".join(f"{p} {v:.2f}" for p, v in r["rss_ratios"].items()))


def scale_main(args) -> None:
    """--scale: each --subscribers size in turn, compared with the first (or with --compare FILE's runs)."""
    earlier = []
    if args.compare:
        earlier = [dict(r, earlier=True) for r in json.loads(args.compare.read_text())["runs"]]
    results = earlier + [scale_run(n, args) for n in (args.subscribers or [1_000_000])]
    scale_targets(results)
    scale_report(results)
    if args.json:
        fresh = [r for r in results if not r.get("earlier")]
        args.json.write_text(json.dumps({"runs": fresh, "compared_with": earlier}, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
