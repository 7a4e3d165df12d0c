"""`digest serve`: the members' pages (and the edition desk) under waitress."""

from __future__ import annotations

import click

from ..errors import DigestError
from ..web import create_app
from ..web.hooks import server_options
from ..web.serving import make_server
from . import fail, pass_app

MIN_SECRET = 16  # characters; shorter keys are guessable enough to forge links offline


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Requests handled at once.")
@click.option("--trusted-proxy", metavar="ADDRESS",
              help="A reverse proxy whose X-Forwarded-For/-Proto headers to believe (for rate limits per client).")
@click.option("--demo", "--insecure-demo", "insecure_demo", is_flag=True,
              help="For the demo's emails (scripts/demo): run with the built-in demo key, so the links in "
                   "outbox/*.eml open; anyone could forge links with it, so never on a public address.")
@pass_app
def serve(app, host, port, threads, trusted_proxy, insecure_demo) -> None:
    """Serve the preference, unsubscribe, subscribe and web-version pages.

    Needs DIGEST_SECRET_KEY (a long random value: it signs every link in every
    email) and DIGEST_BASE_URL (the address members reach these pages at).
    Put a TLS-terminating proxy in front of it for the public internet
    (README, "Security": bodies over 64 KiB are refused, 2 MiB on a mail
    provider's /hooks/*; silent connections closed after 20 s).

    \b
    Example:
      DIGEST_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \\
        digest serve --host 127.0.0.1 --port 8000
      digest serve --demo      # open the links in the demo's outbox/*.eml
    """
    try:
        settings = app.settings
        weak = settings.insecure_secret or len(settings.secret_key) < MIN_SECRET
        if weak and not insecure_demo:
            raise click.ClickException(
                f"DIGEST_SECRET_KEY is missing, the demo key, or shorter than {MIN_SECRET} characters: set a long "
                "random one (or pass --demo for a local try-out of the demo's emails)")
        wsgi = create_app(settings, app.db)
        # A provider's batch is larger than any form; the app still refuses more than 64 KiB elsewhere.
        server = make_server(wsgi, host=host, port=port, threads=threads, trusted_proxy=trusted_proxy,
                             **server_options(settings))
        wsgi.extensions["digest"].mailer.notify(urgent=True)  # requests a stopped server left behind
        if settings.providers.configured:
            wsgi.extensions["digest-hooks"].worker.notify(urgent=True)  # providers' events it left untaken
    except DigestError as exc:
        raise fail(exc) from None
    if weak:
        click.secho("warning: insecure demo mode: anyone can forge links with the demo key", fg="yellow", err=True)
    # One socket: the address it got (port 0 picks one); several (a name with IPv4 and IPv6): as given.
    bound_host = getattr(server, "effective_host", host)
    bound_port = getattr(server, "effective_port", port)
    click.echo(f"serving {settings.organisation} on http://{bound_host}:{bound_port} "
               f"(links in emails point at {settings.base_url}); Ctrl+C to stop")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
