"""`digest bounces fetch | quarantine`: read what came back after the send."""

from __future__ import annotations

import click

from ..bounces.process import Processor
from ..bounces.sources import FetchResult, fetch_files, fetch_imap, fetch_maildir, mask
from ..db import reports as reports_db
from ..errors import DigestError
from . import fail, pass_app
from .options import echo_json, now_utc
from .printing import print_bounces


@click.group()
def bounces() -> None:
    """Bounces, complaints and unsubscribes by mail that came back to digest.

    \b
    Example (crontab, every 10 minutes):
      */10 * * * *  cd /srv/digest && .venv/bin/digest bounces fetch >> digest.log 2>&1
    """


@bounces.command("fetch")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--imap", "imap_url", metavar="URL", help="imap(s)://user:pass@host/FOLDER (default: DIGEST_BOUNCE_IMAP_URL).")
@click.option("--maildir", type=click.Path(exists=True, file_okay=False), help="Read a Maildir instead.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many messages a source.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def fetch(app, files, imap_url, maildir, limit, as_json) -> None:
    """Read bounces, complaints (ARF) and unsubscribes by mail, and act on them.

    A permanent bounce (5.1.1, 5.1.10, 5.2.1) marks the member bounced; other
    failures count (3 within 30 days by default); a complaint unsubscribes
    with reason complaint. Understood messages move to the "processed"
    folder, the rest to "quarantine"; nothing is deleted. Safe to run again.

    \b
    Example:
      DIGEST_BOUNCE_IMAP_URL=imaps://bounces:secret@mail.example.org/INBOX digest bounces fetch
      digest bounces fetch returned/*.eml
    """
    settings = app.settings
    imap_url = imap_url or (settings.bounces.imap_url if not (maildir or files) else None)
    if not (imap_url or maildir or files):
        raise click.UsageError("nothing to read: give --imap URL, --maildir DIR or FILES, "
                               "or set DIGEST_BOUNCE_IMAP_URL / [bounces] imap_url")
    processor = Processor(app.db, settings, clock=now_utc)
    results: list[tuple[str, FetchResult]] = []
    try:
        if files:
            results.append(("files", fetch_files(files, processor)))
        if maildir:
            results.append((f"maildir {maildir}", fetch_maildir(maildir, processor, limit=limit)))
        if imap_url:
            results.append((mask(imap_url), fetch_imap(imap_url, processor, limit=limit)))
    except DigestError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json([{"source": s, "message": w, "report": p.key, "kind": p.kind, "outcome": p.outcome,
                    "folder": p.folder, "member": p.email, "why": p.why, "seen_before": p.duplicate}
                   for s, r in results for w, p in r.items])
        return
    print_bounces(results)


@bounces.command("quarantine")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def quarantine(app, as_json) -> None:
    """Messages that could not be read or attributed, for a person to look at.

    \b
    Example:
      digest bounces quarantine --json
    """
    with app.db.connect() as conn:
        rows = reports_db.quarantined(conn)
    if as_json:
        echo_json([dict(r, received_at=r["received_at"].isoformat()) for r in rows])
        return
    for r in rows:
        what = r.get("reason") or r["kind"]
        subject = f" {r['subject']!r}" if r.get("subject") else ""
        click.echo(f"{r['received_at']:%Y-%m-%d %H:%M} {r['report']}{subject} ({r['source']}): {what}")
    click.echo(f"{len(rows)} message(s) in quarantine")
