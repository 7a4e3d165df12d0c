"""`digest tokens add | list | revoke`: API tokens for /api/v1/."""

from __future__ import annotations

import click

from ..errors import DigestError
from . import fail, pass_app
from .options import echo_json, now_utc
from ..db import tokens as token_db
from ..membership.tokens import issue, parse_scopes


@click.group()
def tokens() -> None:
    """API tokens for the HTTP API under /api/v1/ (`Authorization: Bearer TOKEN`).

    Scopes: members:read, members:write, subscribe (the site's own subscribe
    form), editions:read, sources:read. The token is printed once; only a hash
    of it is kept, so a lost token is revoked and replaced, never recovered.

    \b
    Example:
      digest tokens add crm --scope members:read,members:write,editions:read
      digest tokens list
      digest tokens revoke crm
    """


@tokens.command()
@click.argument("name")
@click.option("--scope", "scope", required=True, metavar="SCOPES",
              help="Comma-separated: members:read, members:write, subscribe, editions:read, sources:read.")
@pass_app
def add(app, name, scope) -> None:
    """Make a token NAME with these scopes and print it (once).

    \b
    Example:
      digest tokens add website --scope subscribe
    """
    try:
        scopes = parse_scopes(scope)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from None
    try:
        token = issue(app.db, name, scopes, now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(token)
    click.echo(f"API token {name} ({', '.join(scopes)}): copy it now, it is not shown again", err=True)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_(app, as_json) -> None:
    """The tokens: name, scopes, when made and last used (never the token)."""
    try:
        with app.db.connect() as conn:
            found = token_db.list_all(conn)
    except DigestError as exc:
        raise fail(exc) from None
    iso = lambda t: t.isoformat() if t else None  # noqa: E731
    if as_json:
        echo_json([{"name": t.name, "scopes": list(t.scopes), "created_at": iso(t.created_at),
                    "last_used_at": iso(t.last_used_at)} for t in found])
        return
    for t in found:
        used = f"last used {t.last_used_at:%Y-%m-%d %H:%M} UTC" if t.last_used_at else "never used"
        click.echo(f"{t.name}\t{','.join(t.scopes)}\tmade {t.created_at:%Y-%m-%d}\t{used}")
    if not found:
        click.echo("no API tokens (digest tokens add NAME --scope ...)")


@tokens.command()
@click.argument("name")
@pass_app
def revoke(app, name) -> None:
    """Revoke the token NAME: requests with it get 401 from now on."""
    try:
        with app.db.begin() as conn:
            gone = token_db.revoke(conn, name)
    except DigestError as exc:
        raise fail(exc) from None
    if not gone:
        raise click.ClickException(f"API token {name!r}: no such token")
    click.echo(f"revoked {name}")
