"""`digest webhooks add | list | remove | test | deliver`: events out to the membership system."""

from __future__ import annotations

import click

from ..errors import DigestError
from . import fail, pass_app
from .options import echo_json, now_utc
from ..db import webhooks as webhook_db
from ..membership.webhooks import add_endpoint, check_events, deliver_due, send_test


@click.group()
def webhooks() -> None:
    """Webhooks out: tell the membership system when members join, leave, bounce or change.

    Each event is signed as Standard Webhooks says (webhook-id,
    webhook-timestamp, webhook-signature), written in the same transaction as
    the change, and delivered in order per member by `digest serve`'s worker
    or by `digest run` / `digest webhooks deliver`; retried with backoff for
    25 hours, then failed (shown by `digest webhooks list`).

    \b
    Example:
      digest webhooks add https://crm.example.org/hooks/digest --events member.unsubscribed,member.bounced
      digest webhooks list
    """


@webhooks.command()
@click.argument("url")
@click.option("--events", required=True, metavar="EVENTS",
              help="Comma-separated: member.subscribed, member.unsubscribed, member.bounced, member.complained, "
                   "member.preferences_changed, member.lapsed, edition.sent.")
@pass_app
def add(app, url, events) -> None:
    """Add a receiver and print its signing secret (once: keep it with the receiver).

    \b
    Example:
      digest webhooks add https://crm.example.org/hooks/digest --events member.subscribed,member.unsubscribed
    """
    try:
        endpoint, secret = add_endpoint(app.db, url, check_events(events), now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(secret)
    click.echo(f"webhook {endpoint.id}: {endpoint.url} ({', '.join(endpoint.events)}); the secret above signs "
               "every delivery: copy it now, it is not shown again", err=True)


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_(app, as_json) -> None:
    """Receivers with their events delivered, waiting and failed, and the last error."""
    try:
        with app.db.connect() as conn:
            found = webhook_db.endpoints(conn)
            counts = webhook_db.summary(conn)
            failed = {ep.id: webhook_db.failed_events(conn, ep.id) for ep in found}
    except DigestError as exc:
        raise fail(exc) from None
    zero = {"pending": 0, "delivered": 0, "failed": 0, "last_error": None}
    if as_json:
        echo_json([{"id": ep.id, "url": ep.url, "events": list(ep.events), **counts.get(ep.id, zero),
                    "failed_events": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in f.items()}
                                      for f in failed[ep.id]]} for ep in found])
        return
    if not found:
        click.echo("no webhooks (digest webhooks add URL --events ...)")
    for ep in found:
        c = counts.get(ep.id, zero)
        click.echo(f"{ep.id}  {ep.url}  {','.join(ep.events)}")
        click.echo(f"   delivered {c['delivered']}, waiting {c['pending']}, failed {c['failed']}"
                   + (f"; last error: {c['last_error']}" if c["last_error"] else ""))
        for f in failed[ep.id]:
            click.echo(f"   failed {f['event']} {f['msg_id']} after {f['attempts']} attempt(s): {f['last_error']}")


@webhooks.command()
@click.argument("webhook_id", type=int)
@pass_app
def remove(app, webhook_id) -> None:
    """Remove a receiver (its undelivered events go with it)."""
    try:
        with app.db.begin() as conn:
            gone = webhook_db.remove_endpoint(conn, webhook_id)
    except DigestError as exc:
        raise fail(exc) from None
    if not gone:
        raise click.ClickException(f"webhook {webhook_id}: no such webhook")
    click.echo(f"removed webhook {webhook_id}")


@webhooks.command()
@click.argument("webhook_id", type=int)
@pass_app
def test(app, webhook_id) -> None:
    """Send a signed webhook.test event to one receiver now, and say how it answered."""
    try:
        if not send_test(app.db, webhook_id, now=now_utc()):
            raise click.ClickException(f"webhook {webhook_id}: no such webhook")
        stats = deliver_due(app.db, app.settings, now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    for line in stats.errors:
        click.echo(line, err=True)
    click.echo(f"delivered {stats.delivered}, will retry {stats.retried}, failed {stats.failed}")
    if stats.errors:
        raise SystemExit(1)


@webhooks.command()
@click.option("--lease-seconds", type=click.FloatRange(1, 3600), default=60, show_default=True,
              help="How long a claimed event is held before another worker may take it over.")
@pass_app
def deliver(app, lease_seconds) -> None:
    """Deliver the events that are due (for installs without `digest serve`; `digest run` does it too).

    \b
    Example (crontab, every minute):
      * * * * *  cd /srv/digest && .venv/bin/digest webhooks deliver >> webhooks.log 2>&1
    """
    try:
        stats = deliver_due(app.db, app.settings, now=now_utc(), lease_seconds=lease_seconds)
    except DigestError as exc:
        raise fail(exc) from None
    for line in stats.errors:
        click.echo(line, err=True)
    click.echo(f"delivered {stats.delivered}, will retry {stats.retried}, failed {stats.failed}")
