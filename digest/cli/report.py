"""`digest report KEY`: what happened to a sent edition, as text, JSON or a PNG chart."""

from __future__ import annotations

import click

from ..editorial.report import edition_report, report_png
from ..errors import DigestError
from . import fail, pass_app
from .options import echo_json


@click.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--png", "png", type=click.Path(dir_okay=False, writable=True),
              help="Also draw the report as a chart into this PNG (headless Chromium).")
@pass_app
def report(app, key, as_json, png) -> None:
    """Delivered, failed, bounced, complaints, unsubscribes and reads of a sent edition.

    Bounces and complaints that came back after the send are counted once
    `digest bounces fetch` has read them; reads when [tracking] clicks =
    "aggregate" (per article, never per member).

    \b
    Example:
      digest report 2017-W25 --png w25.png
    """
    try:
        r = edition_report(app.db, app.settings, key)
        if png:
            report_png(r, app.settings, png)
    except DigestError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json(r.as_dict())
        return
    click.echo(f"{r.key}: {r.subject}")
    click.echo(f"  sent {r.sent}, delivered {r.delivered}, bounced afterwards {r.bounced_afterwards}, "
               f"failed during the send {r.failed_during_send}, still queued {r.deliveries.get('queued', 0)}")
    click.echo(f"  complaints {r.complaints}, unsubscribed by its links {r.unsubscribes}, "
               f"by mail {r.unsubscribes_by_mail}; delayed {r.soft_bounces_afterwards}, "
               f"auto-replies {r.auto_replies}")
    if r.counting:
        click.echo(f"  reads {r.reads} (link scanners not counted: {r.scanner})")
        for i, a in enumerate(r.articles, 1):
            click.echo(f"  {i:>3}. {a.reads:>6}  {a.title}")
    else:
        click.echo("  reads: click counting is off ([tracking] clicks)")
    if png:
        click.echo(f"wrote {png}")
