"""`digest members sync`: bring the members in line with the membership system's export."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from ..errors import DigestError
from . import fail, pass_app
from ..membership.sync import run_sync


def _change_line(email: str, changes: dict) -> str:
    parts = []
    for field, (old, new) in changes.items():
        if field == "attributes":
            diff = {k: v for k, v in new.items() if old.get(k) != v}
            gone = [k for k in old if k not in new]
            parts.append("attributes " + ", ".join([*(f"{k}={v}" for k, v in diff.items()),
                                                    *(f"{k} removed" for k in gone)]))
        else:
            show = lambda v: ",".join(v) or "all" if isinstance(v, list) else v  # noqa: E731
            parts.append(f"{field} {show(old)} -> {show(new)}")
    return f"  changed {email}: " + "; ".join(parts)


@click.command(epilog="\b\nExit status: 0 synced (or dry run); 1 the export cannot be read or the brake refused "
                      "(nothing changed); 2 a configuration error.")
@click.argument("source", required=False)
@click.option("--complete", is_flag=True,
              help="The export lists every current member: active members not in it become lapsed.")
@click.option("--dry-run", is_flag=True, help="Print what would change and change nothing.")
@click.option("--force", is_flag=True, help="Lapse more than [members.sync] max_lapse of the members anyway.")
@click.option("--quiet", is_flag=True, help="Only the summary line, not one line per member.")
@pass_app
def sync(app, source, complete, dry_run, force, quiet) -> None:
    """Sync members from the membership system's export (CSV, JSON, or an https URL).

    Columns are mapped in [members.sync.columns] (email, name, topics,
    frequency, format) and [members.sync.attributes] (anything else to keep,
    such as region or grade). New members become active, changed ones are
    updated, lapsed members who reappear are active again. Consent wins: who
    unsubscribed, bounced, complained or was forgotten is never brought back.
    With --complete, active members missing from the export are lapsed (not
    mailed, kept), except those who joined through the public form (unless
    require_in_crm = true); a sync that would lapse more than max_lapse (5%)
    of active members is refused unless --force. Every change is in the
    member's history, from "sync".

    \b
    Example:
      digest members sync crm-export.csv --complete --dry-run
      DIGEST_SYNC_TOKEN="Bearer abc123" digest members sync https://crm.example.org/export.json --complete
    """
    location = source or app.settings.member_sync.source
    if not location:
        raise click.UsageError("give the export to read (a file or an https URL), or set [members.sync] source")
    def notify(kind: str, what) -> None:
        if kind == "problem":
            click.echo(f"{location}:{what.line}: {what}", err=True)
        elif not quiet:
            click.echo(_member_line(kind, what))

    try:
        report = run_sync(app.db, app.settings, location, complete=complete, dry_run=dry_run, force=force,
                          now=datetime.now(timezone.utc), notify=notify)
    except DigestError as exc:
        raise fail(exc) from None
    if report.refused:
        click.echo(f"Error: {location}: sync refused, nothing changed: {report.refused}", err=True)
        raise SystemExit(1)
    click.echo(("dry run, nothing changed: would have " if dry_run else "") + report.plan.summary())


def _member_line(kind: str, what) -> str:
    if kind == "changed":
        return _change_line(what[0].email, what[1])
    if kind == "kept":
        return f"  left alone {what.email}: {what.reason}"
    return f"  {kind} {what.email}"  # added, lapsed
