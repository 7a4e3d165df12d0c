"""`digest members ...`: add, import, sync, list, show, change, export and forget members.

`digest subscribers` is the same group under its old name, hidden from the
help, so existing cron lines keep working.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from .. import members as rules
from ..db import member_batches
from ..db import members as member_db
from ..errors import DigestError
from ..membership.sync import open_text
from ..models import FORMATS, FREQUENCIES, STATUSES
from ..sending.transports import make_transport
from ..sending.transports.file import remove_addressed_to
from . import fail, pass_app
from .options import TransportChoice
from .sync import sync


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _topics_label(topics) -> str:
    return ", ".join(topics) if topics else "all"


def _change_text(changes: dict) -> str:
    """{"topics": [old, new], "status": "active"} as "topics all -> cyber-security; status active"."""
    def show(v):
        if isinstance(v, dict):  # attributes from the membership system
            return ", ".join(f"{k}={x}" for k, x in v.items()) or "(none)"
        if isinstance(v, list):
            return _topics_label(v)
        return "(none)" if v is None else str(v).lower() if isinstance(v, bool) else str(v)

    def pair(k, v):
        # [old, new] is a change; a topics value is itself a list of slugs.
        if isinstance(v, list) and len(v) == 2 and (k != "topics" or isinstance(v[0], list)):
            return f"{k} {show(v[0])} -> {show(v[1])}"
        return f"{k} {show(v)}"

    return "; ".join(pair(k, v) for k, v in changes.items())


@click.group()
def members() -> None:
    """Manage the members who get the digest by email.

    \b
    Example:
      digest members add ana@example.org --name "Ana Lopez" --topics cyber-security --frequency daily
      digest members import members.csv
      digest members sync crm-export.csv --complete --dry-run
      digest members list --status active
    """


@members.command()
@click.argument("email")
@click.option("--name", help="The member's name, as used in greetings.")
@click.option("--topics", help="Comma-separated topic slugs (default: all topics).")
@click.option("--frequency", type=click.Choice(FREQUENCIES), default="weekly", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option("--pending", is_flag=True,
              help="Add as pending instead of active; `digest subscribers ask-confirm` emails them a link.")
@click.option("--transport", type=TransportChoice(), default=None,
              help="For the welcome email ([members] welcome = true): smtp or file. Default: config.")
@pass_app
def add(app, email, name, topics, frequency, fmt, pending, transport) -> None:
    """Add one member (active, with consent recorded as given via the CLI).

    Never re-subscribes someone who unsubscribed, bounced, complained or was
    forgotten: that fails with an error. With [members] welcome = true an
    active member gets the welcome email (a pending one on confirming).

    \b
    Example:
      digest subscribers add sian.jones@example.org --name "Siân Jones" --topics data-protection,cyber-security
    """
    try:
        taxonomy = app.settings.topic_slugs
        addr = rules.normalise_email(email)
        clean = rules.clean_name(name, email=addr)
        chosen = rules.parse_topics(topics, taxonomy, email=addr)
        with app.db.begin() as conn:
            sub = member_db.add(conn, addr, clean, chosen, frequency, fmt, pending=pending, source="cli", now=_now())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"added {sub.email} ({sub.status}; {sub.frequency}, {sub.format}; topics: {_topics_label(sub.topics)})")
    if sub.status == "active" and app.settings.member_welcome:  # after the commit, as the API and the form do
        _welcome(app, sub, transport)


def _web(app, transport: str | None):
    """The web app, for the emails it makes (confirm, welcome) sent from the command line."""
    from ..web import create_app  # Flask: only the commands that send those emails need it

    kind = transport or app.settings.transport
    return create_app(app.settings, app.db, transport_factory=lambda: make_transport(kind, app.settings))


def _welcome(app, sub, transport: str | None) -> None:
    from ..web.subscribe import welcome_outside_a_request

    welcome_outside_a_request(_web(app, transport), sub)


@members.command("import")
@click.argument("file", metavar="FILE.csv")
@click.option("--pending", is_flag=True,
              help="New members start pending, not active; `digest subscribers ask-confirm` emails them a link.")
@pass_app
def import_(app, file, pending) -> None:
    """Add and update members from a CSV file (UTF-8, header row first).

    Columns: email (required), name, topics (slugs separated by ';', or
    "all"), frequency (daily, weekly, monthly), format (html, text), in any
    order. An empty cell leaves that detail as it is for an existing member
    (new members get all topics, weekly, html). Re-importing a file updates
    members, never duplicates them, and never re-subscribes anyone who left
    or was forgotten.

    Every bad row is reported on stderr as FILE:LINE: reason and skipped; the
    good rows are imported in one transaction. The file is read in batches of
    5,000 rows, so memory stays flat for a list of millions. Exit status 0 when the file
    could be read (even with bad rows), 1 when the file is unreadable or has
    no valid header row (then nothing is imported).

    \b
    Example:
      digest subscribers import samples/members.csv
      # added 12, updated 0, unchanged 0, skipped 0
    """
    try:
        with app.db.begin() as conn, open_text(file, "file", "; save it as CSV UTF-8") as lines:
            items = rules.read_members_csv(lines, app.settings.topic_slugs, source=file,
                                           languages=app.settings.languages)
            counts = member_batches.import_stream(
                conn, items, pending=pending, source="import", now=_now(),
                on_skip=lambda p: click.echo(f"{file}:{p.line}: {p}", err=True))
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(counts.summary())


@members.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only members with this status.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of members.")
@pass_app
def list_(app, status, as_json) -> None:
    """List members: a table on a terminal, tab-separated lines in a pipe.

    \b
    Example:
      digest subscribers list --status active --json
    """
    try:
        with app.db.connect() as conn:
            subs = member_db.each_member(conn, status)  # read a page at a time, printed as it comes
            if as_json:
                _echo_json_list(rules.as_json(s) for s in subs)
            elif not sys.stdout.isatty():
                click.echo("\t".join(LIST_HEADER))
                for sub in subs:
                    click.echo("\t".join(_list_line(sub)))
            else:
                total = sum(member_db.count_by_status(conn).get(s, 0) for s in ([status] if status else STATUSES))
                _print_tables(subs, f"{total} member(s)" + (f" ({status})" if status else ""))
    except DigestError as exc:
        raise fail(exc) from None


LIST_HEADER = ("email", "name", "status", "topics", "frequency", "format")


def _list_line(s) -> tuple[str, ...]:
    return (s.email, s.name or "", s.status + (" (paused)" if s.paused else ""), _topics_label(s.topics),
            s.frequency, s.format)


def _echo_json_list(items) -> None:
    """What _echo_json(list(items)) prints, an item at a time (the list is never held whole)."""
    first = True
    for item in items:
        click.echo(("[\n  " if first else ",\n  ") + json.dumps(item, indent=2, ensure_ascii=False)
                   .replace("\n", "\n  "), nl=False)
        first = False
    click.echo("[]" if first else "\n]")


def _print_tables(subs, title: str, rows_per_table: int = 5_000) -> None:
    """A table on a terminal: one per rows_per_table members, so a long list is never held whole."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    shown = False
    for chunk in member_batches.batches(subs, rows_per_table):
        table = Table(*LIST_HEADER, title=None if shown else title, show_header=not shown)
        for sub in chunk:
            table.add_row(*_list_line(sub))
        console.print(table)
        shown = True
    if not shown:
        console.print(Table(*LIST_HEADER, title=title))


@members.command()
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print the member as a JSON object.")
@pass_app
def show(app, email, as_json) -> None:
    """Show one member's details and history.

    \b
    Example:
      digest subscribers show sian.jones@example.org
    """
    try:
        with app.db.connect() as conn:
            sub = member_db.require(conn, email)
            history = member_db.list_events(conn, sub.id)
    except DigestError as exc:
        raise fail(exc) from None
    if as_json:
        _echo_json(rules.as_json(sub))
        return
    when = lambda t: f"{t:%Y-%m-%d %H:%M} UTC" if t else "-"  # noqa: E731
    fields = [
        ("email", sub.email), ("name", sub.name or "-"),
        ("status", sub.status + (" (paused)" if sub.paused else "")),
        ("topics", _topics_label(sub.topics)), ("frequency", sub.frequency), ("format", sub.format),
        ("consent", f"{sub.consent_source or '-'}, {when(sub.consent_at)}"),
        ("joined", when(sub.created_at)), ("confirmed", when(sub.confirmed_at)), ("left", when(sub.left_at)),
        ("links", f"version {sub.token_version}"),
        *([("attributes", ", ".join(f"{k}={v}" for k, v in sub.attributes.items()))] if sub.attributes else []),
    ]
    for label, value in fields:
        click.echo(f"{label + ':':<11}{value}")
    click.echo("history:")
    for e in history:
        detail = f" ({_change_text(e['detail'])})" if e["detail"] else ""
        click.echo(f"  {when(e['at'])}  {e['source']:<9} {e['action']}{detail}")


@members.command("set")
@click.argument("email")
@click.option("--name", help='New name ("" to remove it).')
@click.option("--topics", help='Comma-separated topic slugs, or "all".')
@click.option("--frequency", type=click.Choice(FREQUENCIES))
@click.option("--format", "fmt", type=click.Choice(FORMATS))
@click.option("--status", type=click.Choice(STATUSES),
              help="active re-subscribes someone who left (only when they asked to come back).")
@click.option("--pause/--resume", "paused", default=None, help="Stop or restart sending without leaving.")
@click.option("--language", help='A language of [organisation] languages (e.g. cy), or "default".')
@click.option("--revoke-links", is_flag=True, help="Invalidate every preference and unsubscribe link sent so far.")
@pass_app
def set_(app, email, name, topics, frequency, fmt, status, paused, language, revoke_links) -> None:
    """Change one member's details; every change is recorded in their history.

    \b
    Example:
      digest subscribers set sian.jones@example.org --frequency monthly --format text
      digest subscribers set ana@example.org --status active   # she asked to come back
      digest subscribers set sian.jones@example.org --language cy
    """
    if all(v is None for v in (name, topics, frequency, fmt, status, paused, language)) and not revoke_links:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    try:
        with app.db.begin() as conn:
            now = _now()
            sub = member_db.require(conn, email)
            clean = rules.clean_name(name, email=sub.email) if name is not None else None
            chosen = rules.parse_topics(topics, app.settings.topic_slugs, email=sub.email) if topics is not None else None
            tag = None if language is None else rules.check_language(language, app.settings.languages, email=sub.email)
            changes = {}
            if status is not None:
                changes.update(member_db.set_status(conn, sub.id, status, source="cli", now=now))
            changes.update(member_db.update_preferences(
                conn, sub.id, topics=chosen, frequency=frequency, format=fmt, paused=paused, language=tag,
                **({"name": clean} if name is not None else {}), source="cli", now=now))
            if revoke_links:
                changes["token_version"] = [sub.token_version, member_db.revoke_links(conn, sub.id, source="cli", now=now)]
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"{sub.email}: {_change_text(changes) if changes else 'no change'}")


@members.command()
@click.argument("email")
@pass_app
def unsubscribe(app, email) -> None:
    """Unsubscribe a member (they keep their record, with the date they left).

    \b
    Example:
      digest subscribers unsubscribe ana@example.org
    """
    try:
        with app.db.begin() as conn:
            sub = member_db.require(conn, email)
            changed = member_db.unsubscribe(conn, sub.id, source="cli", now=_now())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"unsubscribed {sub.email}" if changed else f"{sub.email} had already left ({sub.status})")


@members.command()
@click.argument("email")
@pass_app
def export(app, email) -> None:
    """Print everything held about a member as JSON (details, history, deliveries).

    \b
    Example, for a subject access request:
      digest subscribers export ana@example.org > ana.json
    """
    try:
        with app.db.connect() as conn:
            data = member_db.export(conn, member_db.require(conn, email).id)
    except DigestError as exc:
        raise fail(exc) from None
    _echo_json(data)


@members.command()
@click.argument("email")
@click.confirmation_option(prompt="Erase everything held about this member? It cannot be undone.",
                           help="Do not ask for confirmation.")
@pass_app
def forget(app, email) -> None:
    """Erase a member's personal data: their record and history go.

    Only a one-way hash of the address is kept, so that no import can add
    them again. Past deliveries stay as anonymous counts. Messages to them
    that the file transport left in the outbox folder are deleted too (mail
    already handed to a relay is beyond digest's reach).

    \b
    Example:
      digest subscribers forget ana@example.org --yes
    """
    try:
        with app.db.begin() as conn:
            sub = member_db.require(conn, email)
            member_db.forget(conn, sub.id, now=_now())
    except DigestError as exc:
        raise fail(exc) from None
    outbox = Path(app.settings.outbox)
    removed = remove_addressed_to(outbox, sub.email) if outbox.is_dir() else 0
    click.echo(f"forgot {email.strip()}" + (f" and deleted {removed} message(s) to them in {outbox}" if removed else ""))


@members.command("ask-confirm")
@click.option("--transport", type=TransportChoice(), default=None,
              help="smtp (DIGEST_SMTP_URL) or file (DIGEST_OUTBOX). Default: config.")
@pass_app
def ask_confirm(app, transport) -> None:
    """Email every pending member a link to confirm their subscription (double opt-in).

    The same email the web subscribe form sends; members asked in the last
    few minutes are not asked again. Confirming makes them active.

    \b
    Example:
      digest subscribers import members.csv --pending
      digest subscribers ask-confirm
    """
    from ..web.subscribe import ask_confirmations

    asked, skipped = ask_confirmations(_web(app, transport), source="cli")
    click.echo(f"asked {asked} pending member(s) to confirm" + (f"; {skipped} asked recently, not again" if skipped else ""))


members.add_command(sync)
# The old name of the group (cron lines written before it was `members`): same commands, not in --help.
subscribers = click.Group("subscribers", commands=members.commands, help=members.help, hidden=True)
