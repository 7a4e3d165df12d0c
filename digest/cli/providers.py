"""`digest providers check`: what to set up on each mail provider's side, and whether its webhook has spoken."""

from __future__ import annotations

import click

from ..errors import DigestError
from . import fail, pass_app
from .options import echo_json
from ..bounces.providers.sendgrid import load_public_key
from ..bounces.providers.setup import setup_steps
from ..db import providers as providers_db


@click.group()
def providers() -> None:
    """Mail providers that report bounces and complaints by webhook ([providers.NAME] in digest.toml)."""


@providers.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print {provider: {steps, events, last_at, ...}} as JSON.")
@pass_app
def check(app, as_json) -> None:
    """Say what to set up at each configured provider and whether an event has arrived from it.

    Exit status 1 when no [providers.NAME] section is configured, 2 when one
    is wrong (a SendGrid key that is not an ECDSA P-256 key, say).

    \b
    Example:
      digest providers check
    """
    try:
        steps = setup_steps(app.settings)
        if app.settings.providers.sendgrid is not None:  # as `digest serve` will read it
            load_public_key(app.settings.providers.sendgrid.public_key, app.settings.source)
        with app.db.connect() as conn:  # first: a database that cannot be used is the error to name
            seen = {name: providers_db.summary(conn, name) for name in steps}
    except DigestError as exc:
        raise fail(exc) from None
    if not steps:
        raise click.ClickException("no [providers.NAME] section in digest.toml (ses, postmark, mailgun, "
                                   "sendgrid): see README, \"Mail providers\"")
    if as_json:
        echo_json({name: {"steps": steps[name], **seen[name]} for name in steps})
        return
    for name, lines in steps.items():
        click.echo(f"{name}:")
        for line in lines:
            click.echo(f"  - {line}")
        s = seen[name]
        if s["events"]:
            waiting = f", {s['waiting']} not yet acted on (is digest serve running?)" if s["waiting"] else ""
            click.echo(f"  events received: {s['events']}{waiting}, the last {s['last_at']:%Y-%m-%d %H:%M} UTC "
                       f"({s['last_kind']}, {s['last_outcome']})")
        else:
            click.echo("  no event received yet: send the provider's test event")
