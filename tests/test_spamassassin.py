"""SpamAssassin (offline rules) scores every variant of a realistic, DKIM-signed edition well under 1.0."""

from __future__ import annotations

import os
import quopri
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from dataclasses import replace
from pathlib import Path

import pytest

from digest.editorial.preview import samples_for_key
from digest.config import load_settings
from digest.message.dkim import dkim_record, verify

from test_dkim import write_key

pytestmark = [
    pytest.mark.spamassassin,
    pytest.mark.skipif(shutil.which("spamassassin") is None, reason="spamassassin is not installed "
                                                                   "(apt-get install spamassassin)"),
]

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2017, 6, 26, 9, 0, tzinfo=timezone.utc)
MAX_SCORE = 1.0
FORBIDDEN = re.compile(r"^(MISSING_\w+|MIME_HTML_ONLY|MPART_ALT_DIFF\w*|HTML_IMAGE_ONLY_\w+)$")
# Members beyond the sample list, so that text variants and single topics are scored too.
EXTRA_MEMBERS = [(("cyber-security",), "text"), (("data-protection", "cyber-security"), "text"),
                 (("member-news",), "html"), (("smart-places",), "text")]
_HEAD = b"From: someone@example.org\r\nTo: you@example.net\r\nSubject: hello\r\nMIME-Version: 1.0\r\n"
CONTROLS = [
    _HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello there</p></body></html>\r\n",
    _HEAD + (b"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body style=\"background:#ffffff\">"
             b"<p>Hello there</p><p style=\"color:#fefefe\">cheap pills</p></body></html>\r\n"),
]


def spamassassin(messages: list[bytes], workdir: Path) -> list[tuple[float, list[str], str]]:
    """(score, rule names, X-Spam-Status) of each message, local tests only (no network, no Bayes).

    Loading the rules takes most of a second, so each process scores a batch
    of files (given in order; it reports them in order), one batch per core.
    """
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    paths = []
    for n, message in enumerate(messages):
        paths.append(workdir / f"{n:03d}.eml")
        paths[-1].write_bytes(message)
    workers = min(len(paths), max(2, os.cpu_count() or 2))
    batches = [paths[i::workers] for i in range(workers)]

    def run(batch: list[Path]) -> list[tuple[Path, tuple[float, list[str], str]]]:
        proc = subprocess.run(
            ["spamassassin", "-t", "-L", "-x", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0", *map(str, batch)],
            capture_output=True, timeout=300, env={**os.environ, "HOME": str(home)},
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        out = proc.stdout.decode("utf-8", "replace")
        statuses = re.findall(r"^X-Spam-Status: (.*(?:\n[ \t].*)*)", out, re.M)
        assert len(statuses) == len(batch), out[:2000]
        return list(zip(batch, map(_parse_status, statuses)))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = dict(pair for batch in pool.map(run, batches) for pair in batch)
    return [results[p] for p in paths]


def _parse_status(status: str) -> tuple[float, list[str], str]:
    text = " ".join(status.split())
    score = float(re.search(r"score=(-?[\d.]+)", text).group(1))
    rules = re.search(r"tests=(\S*)", text).group(1)
    return score, [r for r in rules.split(",") if r and r != "none"], text


# The text-to-image ratio rules see a picture or several; Welsh text must not trip language rules.
@pytest.mark.parametrize("images,languages,mode", [("lead", ("en-GB",), "per_member"), ("all", ("en-GB",), "per_member"),
                                                   ("lead", ("en-GB", "cy"), "bilingual")])
def test_every_variant_scores_low(db, env, tmp_path, images, languages, mode):
    from digest.db import members as member_db
    from digest.editorial.build import build_edition
    from digest.edition.periods import parse_period
    from digest.ingest.store import ingest_sources
    from digest.members import parse_members_csv

    key = write_key(tmp_path / "dkim.pem")
    settings = load_settings(None, environ={**env, "DIGEST_DKIM_DOMAIN": "example.org",
                                            "DIGEST_DKIM_SELECTOR": "digest1", "DIGEST_DKIM_KEY_FILE": str(key)})
    settings = replace(settings, images=images, languages=languages, language_mode=mode,
                       bilingual_order=tuple(reversed(languages)))
    ingest_sources(db, settings, [str(ROOT / "samples" / "news.xml")], now=NOW)
    rows, problems = parse_members_csv((ROOT / "samples" / "members.csv").read_text(), settings.topic_slugs)
    assert not problems
    with db.begin() as conn:
        member_db.import_members(conn, rows, now=NOW)
        for n, (topics, fmt) in enumerate(EXTRA_MEMBERS):
            member_db.add(conn, f"extra{n}@example.org", f"Extra Member {n}", topics, "weekly", fmt, now=NOW)
    build_edition(db, settings, parse_period("2017-W25", settings.timezone), now=NOW)

    samples = samples_for_key(db, settings, "2017-W25", now=NOW)
    members_variant = "cyber-security:text" + (":cy+en-GB" if mode == "bilingual" else "")  # nobody chose
    assert {"*:html", "*:text", members_variant} <= set(samples) and len(samples) >= 8
    if "cy" in languages:  # checks/edition samples every language's all-topics variants, and the bilingual one
        assert {"*:html:cy", "*:text:cy", "*:html:cy+en-GB", "*:text:cy+en-GB"} <= set(samples)
    pictures = sum(quopri.decodestring(s.message).count(b"<img ") for s in samples.values())
    print(f"{images}: {pictures} pictures in {len(samples)} variants")
    assert pictures >= (3 if images == "lead" else 12), pictures  # the pictures are really in the messages
    record = dkim_record(settings)
    for name, sample in samples.items():
        assert not sample.error, (name, sample.error)
        assert verify(sample.message, record), name

    # Two controls in the same run show the scorer can fail a message, and that
    # results are matched to the right message.
    *results, html_only, hidden = spamassassin([s.message for s in samples.values()] + CONTROLS, tmp_path)
    assert "MIME_HTML_ONLY" in html_only[1] and "HTML_FONT_LOW_CONTRAST" not in html_only[1]
    assert "HTML_FONT_LOW_CONTRAST" in hidden[1]
    scored = dict(zip(samples, results))
    print("\n".join(f"{name}: {status}" for name, (_, _, status) in scored.items()))
    problems = [f"{name}: {status}" for name, (score, rules, status) in scored.items()
                if score >= MAX_SCORE or any(FORBIDDEN.match(r) for r in rules)]
    assert not problems, "\n".join(problems)
