"""`digest check` (deliverability checks) and `digest dkim-record` (the DNS record to publish)."""

from __future__ import annotations

from pathlib import Path

import click

from ..checks.edition import check_edition
from ..checks.links import links_not_from_sources
from ..checks.message import check_message
from ..editorial.preview import edition_for_key
from ..errors import DigestError
from ..message.dkim import dkim_record as record
from ..message.feedback import missing_headers, settings_warnings
from . import fail, pass_app
from .options import echo_json, now_utc


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="FILE.eml|KEY...")
@click.option("--json", "as_json", is_flag=True, help="Print {target: [{code, message}]} as JSON.")
@pass_app
def check(app, targets, as_json) -> None:
    """Check messages or every variant of an edition for what mailbox providers and readers need.

    A FILE is a complete message (.eml, as `send --transport file` writes
    them); a KEY is an edition (2017-W25, 2017-06-21, 2017-06): each of its
    variants is assembled for a sample member, DKIM-signed if configured, and
    checked. Exit status 1 and one line per failure if any check fails.
    An edition whose articles link to pages their sources did not give (a
    listing export's stand-in website link, or its link_template) gets a
    warning per article.

    \b
    Example:
      digest check 2017-W25
      digest check outbox/*.eml --json
    """
    s = app.settings
    results: dict[str, list] = {}
    warnings: list[str] = settings_warnings(s)
    try:
        for target in targets:
            path = Path(target)
            if path.is_file():
                raw = path.read_bytes()
                results[target] = check_message(raw, s)
                warnings += [f"{target}: {w}" for w in missing_headers(raw, s)]
            elif path.suffix.lower() == ".eml" or "/" in target:
                raise click.ClickException(f"{target}: no such file")
            else:
                edition = edition_for_key(app.db, s, target, now=now_utc())
                for variant, failures in check_edition(app.db, s, edition, now=now_utc()).items():
                    results[f"{target} {variant}"] = failures
                warnings += links_not_from_sources(app.db, edition)
    except DigestError as exc:
        raise fail(exc) from None
    failed = {t: f for t, f in results.items() if f}
    for w in warnings:  # worth an editor's look, not a reason to refuse the edition
        click.secho(f"warning: {w}", fg="yellow", err=True)
    if as_json:
        echo_json({t: [{"code": x.code, "message": x.message} for x in f] for t, f in results.items()})
    else:
        for target, failures in failed.items():
            for f in failures:
                click.echo(f"{target}: {f.code}: {f.message}")
        if not failed:
            click.echo(f"OK: {len(results)} message(s) pass every check"
                       + (" (DKIM signature verified)" if s.dkim else ""))
    if failed:
        raise SystemExit(1)


@click.command("dkim-record")
@pass_app
def dkim_record(app) -> None:
    """Print the DNS TXT record that publishes the DKIM key of the [dkim] settings.

    Add it to the zone of the DKIM domain; receivers look the key up there to
    verify each message's DKIM-Signature.

    \b
    Example:
      DIGEST_DKIM_DOMAIN=example.org DIGEST_DKIM_SELECTOR=digest2024 \\
      DIGEST_DKIM_KEY_FILE=dkim.pem digest dkim-record
    """
    try:
        click.echo(record(app.settings))
    except DigestError as exc:
        raise fail(exc) from None
