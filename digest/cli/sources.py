"""`digest sources list` and `digest sources fetch`: the configured [[sources]] and their health."""

from __future__ import annotations

import click

from . import fail, pass_app
from .options import console, echo_json, now_utc
from .printing import moved_line, print_run
from ..errors import DigestError
from ..outbound import redact


@click.group()
def sources() -> None:
    """The sources configured in digest.toml ([[sources]]) and their health.

    \b
    Example:
      digest sources fetch
      digest sources list --json
    """


def _when(value) -> str | None:
    return value.isoformat() if value else None


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def list_sources(app, as_json) -> None:
    """Each configured source with its health: last fetched, last success, last error,
    items last seen, newest item, and a permanent redirect to act on.

    \b
    Example:
      digest sources list --json
    """
    from ..db import sources as source_db

    s = app.settings
    with app.db.connect() as conn:
        health = source_db.load_all(conn)
    rows = []
    for src in s.sources:
        h = health.get(src.name)
        if h is not None and h.location != src.location:
            h = None  # recorded for where the source used to be
        rows.append({
            "name": src.name,
            "location": redact(src.location),  # a password in the URL is never shown
            "kind": src.kind or (h.kind if h else None),
            "topics": list(src.topics),
            "link_template": src.link_template,
            "max_age_days": src.max_age_days,
            "last_fetched_at": _when(h and h.last_fetched_at),
            "last_success_at": _when(h and h.last_success_at),
            "last_error": h.last_error if h else None,
            "items_last_seen": h.items_last_seen if h else None,
            "newest_item_at": _when(h and h.newest_item_at),
            "moved_to": redact(h.moved_to) if h and h.moved_to else None,
            "etag": h.etag if h else None,
            "last_modified": h.last_modified if h else None,
        })
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no sources configured: add [[sources]] to digest.toml (see the README)")
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(rows)} source(s)")
    for col in ("name", "kind", "last fetched", "last success", "items", "newest item", "last error"):
        table.add_column(col)
    for r in rows:
        table.add_row(escape(r["name"]), r["kind"] or "-", (r["last_fetched_at"] or "never")[:16],
                      (r["last_success_at"] or "never")[:16], str(r["items_last_seen"] or 0),
                      (r["newest_item_at"] or "-")[:10], escape(r["last_error"] or ""))
    console().print(table)
    for r in rows:
        if r["moved_to"]:
            click.echo(moved_line(r["name"], r["location"], r["moved_to"]))



@sources.command("fetch")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@pass_app
def fetch(app, names) -> None:
    """Fetch configured sources (all, or those NAMEd) into the database.

    Polite: a conditional GET (an unchanged feed costs a 304), gzip, a
    User-Agent naming digest and the organisation's website. Each source is
    one transaction; one that fails is reported by name and reason (exit
    status 1), and the others still land.

    \b
    Example:
      digest sources fetch
      digest sources fetch news events
    """
    from ..ingest.store import refresh_sources

    s = app.settings
    known = [src.name for src in s.sources]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.BadParameter(f"no source named {unknown[0]!r}; configured: {', '.join(known) or 'none'}",
                                 param_hint="NAME")
    if not s.sources:
        click.echo("no sources configured: add [[sources]] to digest.toml (see the README)", err=True)
        return
    try:
        runs = refresh_sources(app.db, s, list(names) or None, now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    if report_runs(runs):
        raise SystemExit(1)


def report_runs(runs) -> int:
    """Print what each source did; return how many failed."""
    for r in runs:
        print_run(r)
    return sum(1 for r in runs if r.error)
