"""`digest editors add | list | remove | link`: who may use the edition desk (/desk/)."""

from __future__ import annotations

import click

from ..db import editors as editor_db
from ..editorial.editors import NOTICES, editor_name, issue_link, normalise_editor_email, parse_notify, seed_editors
from ..errors import DigestError
from ..sending.transports import make_transport
from . import fail, pass_app
from .options import console, echo_json, now_utc


@click.group()
def editors() -> None:
    """Editors of the edition desk: the people who sign in at /desk/.

    An editor sets a password through a one-time link that is emailed to
    them (printed here when it cannot be sent, or with --print-link).

    \b
    Example:
      digest editors add editor@example.org --name "Eda Editor"
      digest editors list
    """


def _send_link(app, editor, purpose: str, print_link: bool, transport_kind: str | None) -> None:
    """Email the editor a new one-time link; print it instead when asked, or when it cannot be sent."""
    kind = transport_kind or app.settings.transport
    transport, problem = None, None
    if not print_link:
        try:
            transport = make_transport(kind, app.settings)
        except DigestError as exc:
            problem = str(exc)
    url, outcome = issue_link(app.db, app.settings, editor.id, purpose, transport, now=now_utc())
    if getattr(outcome, "ok", False):
        click.echo(f"emailed a {purpose} link to {editor.email} via {kind}")
        return
    if not print_link:
        problem = problem or getattr(outcome, "message", None) or f"{type(outcome).__name__}: {outcome}"
        click.secho(f"warning: the email could not be sent ({problem}); give {editor.email} this link yourself",
                    fg="yellow", err=True)
    click.echo(f"link for {editor.email} (works once): {url}")


@editors.command("add")
@click.argument("email")
@click.option("--name", help="How the desk greets them.")
@click.option("--print-link", is_flag=True, help="Print the set-password link instead of emailing it.")
@click.option("--transport", type=click.Choice(["smtp", "file"]), default=None,
              help="How to email the link (default: the configured transport).")
@click.option("--notify", default="held", show_default=True, metavar="NOTICES",
              help=f"The notices they get by email ({', '.join(NOTICES)}; none for none).")
@pass_app
def add(app, email, name, print_link, transport, notify) -> None:
    """Make EMAIL an editor and send them a link to set their password.

    \b
    Example:
      digest editors add editor@example.org --name "Eda Editor"
    """
    try:
        address = normalise_editor_email(email)
        clean = editor_name(name, address)
        kinds = parse_notify(notify)
        with app.db.begin() as conn:
            editor = editor_db.add(conn, address, clean, now=now_utc(), notify=kinds)
            editor_db.audit(conn, "cli", "editor-add", address, {"name": clean, "notify": list(kinds)}, now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"added editor {editor.email}" + (f" ({editor.name})" if editor.name else ""))
    _send_link(app, editor, "set-password", print_link, transport)


@editors.command("link")
@click.argument("email")
@click.option("--print-link", is_flag=True, help="Print the link instead of emailing it.")
@click.option("--transport", type=click.Choice(["smtp", "file"]), default=None)
@pass_app
def link(app, email, print_link, transport) -> None:
    """Send EMAIL a new set-password link (a forgotten password; the old link stops working)."""
    with app.db.begin() as conn:
        editor = editor_db.get_by_email(conn, email)
        if editor is None:
            raise click.ClickException(f"editor {email}: no such editor")
        editor_db.audit(conn, "cli", "editor-link", editor.email, {}, now=now_utc())
    _send_link(app, editor, "set-password", print_link, transport)


@editors.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_(app, as_json) -> None:
    """List editors: address, name, the notices they get, whether a password is set, last sign-in.

    This is the one list of editors: [organisation] editors in digest.toml
    only seeds it (an address there that is not listed is added, told of
    held editions).
    """
    seed_editors(app.db, app.settings, now=now_utc())
    with app.db.connect() as conn:
        rows = [{"email": e.email, "name": e.name, "notify": list(e.notify), "password": e.has_password,
                 "created_at": e.created_at.isoformat(),
                 "last_sign_in_at": e.last_sign_in_at.isoformat() if e.last_sign_in_at else None}
                for e in editor_db.list_editors(conn)]
    if as_json:
        echo_json(rows)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(rows)} editor(s)")
    for col in ("email", "name", "told of", "password", "last sign-in"):
        table.add_column(col)
    for r in rows:
        table.add_row(escape(r["email"]), escape(r["name"] or ""), ", ".join(r["notify"]) or "nothing",
                      "set" if r["password"] else "not yet",
                      (r["last_sign_in_at"] or "never")[:16])
    console().print(table)


@editors.command("remove")
@click.argument("email")
@pass_app
def remove(app, email) -> None:
    """Take EMAIL's access to the desk away (their sessions end at once; the audit trail stays)."""
    with app.db.begin() as conn:
        editor = editor_db.get_by_email(conn, email)
        if editor is None:
            raise click.ClickException(f"editor {email}: no such editor")
        editor_db.remove(conn, editor.id)
        editor_db.audit(conn, "cli", "editor-remove", editor.email, {}, now=now_utc())
    click.echo(f"removed editor {editor.email}")
    if editor.email.lower() in {a.lower() for a in app.settings.editors}:
        click.secho(f"warning: {editor.email} is still in [organisation] editors: remove it there too, or it is "
                    "added back", fg="yellow", err=True)


@editors.command("notify")
@click.argument("email")
@click.argument("notices")
@pass_app
def notify(app, email, notices) -> None:
    """Choose which notices EMAIL gets by email: held (an edition the gate held), or none.

    \b
    Example:
      digest editors notify chief@example.org none
    """
    try:
        kinds = parse_notify(notices)
    except DigestError as exc:
        raise fail(exc) from None
    with app.db.begin() as conn:
        editor = editor_db.get_by_email(conn, email)
        if editor is None:
            raise click.ClickException(f"editor {email}: no such editor")
        editor_db.set_notify(conn, editor.id, kinds)
        editor_db.audit(conn, "cli", "editor-notify", editor.email, {"notify": list(kinds)}, now=now_utc())
    click.echo(f"{editor.email} is told of: {', '.join(kinds) or 'nothing'}")


@editors.command("audit")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def audit(app, limit, as_json) -> None:
    """What editors did, newest first (who pinned, edited, built, sent a test)."""
    with app.db.connect() as conn:
        rows = editor_db.list_audit(conn, limit=limit)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        detail = ", ".join(f"{k}={v!r}" for k, v in r["detail"].items())
        click.echo(f"{r['at']:%Y-%m-%d %H:%M} {r['editor']} {r['action']} {r['target']} {detail}".rstrip())
