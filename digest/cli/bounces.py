"""`digest bounces fetch | quarantine`: read what came back after the send."""

from __future__ import annotations

import click

from . import fail, pass_app
from .options import echo_json, now_utc
from ..errors import DigestError


@click.group()
def bounces() -> None:
    """Bounces, complaints and unsubscribes by mail that came back to digest.

    \b
    Example (crontab, every 10 minutes):
      */10 * * * *  cd /srv/digest && .venv/bin/digest bounces fetch >> digest.log 2>&1
    """


def fetch_and_report(app, *, imap_url=None, maildir=None, files=(), limit=None, as_json=False) -> None:
    """Read every source given (the configured IMAP folder when none is), print what happened."""
    from ..bounces.process import Processor
    from ..bounces.sources import FetchResult, fetch_files, fetch_imap, fetch_maildir, mask

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
    items = [(source, where, p) for source, r in results for where, p in r.items]
    if as_json:
        echo_json([{"source": s, "message": w, "report": p.key, "kind": p.kind, "outcome": p.outcome,
                    "folder": p.folder, "member": p.email, "why": p.why, "seen_before": p.duplicate}
                   for s, w, p in items])
        return
    for source, where, p in items:
        member = f" {p.email}" if p.email else ""
        if p.duplicate:  # acted on (or not) the first time: nothing is done now
            click.echo(f"{where}: {p.kind} -> nothing now, {p.outcome} when first read [{p.folder}] (seen before)")
        else:
            click.echo(f"{where}: {p.kind} -> {p.outcome}{member} [{p.folder}]: {p.why}")
    counts: dict[str, int] = {}
    for _, _, p in items:
        what = "seen before" if p.duplicate else p.outcome
        counts[what] = counts.get(what, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to read"
    click.echo(f"bounces: {len(items)} message(s): {summary}")


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
    fetch_and_report(app, imap_url=imap_url, maildir=maildir, files=files, limit=limit, as_json=as_json)


@bounces.command("quarantine")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def quarantine(app, as_json) -> None:
    """Messages that could not be read or attributed, for a person to look at.

    \b
    Example:
      digest bounces quarantine --json
    """
    from ..db import reports as reports_db

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
