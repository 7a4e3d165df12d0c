"""The `digest` group: commands loaded on first use, the App they share, DigestError as one line and an exit status."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sys
from functools import cached_property

import click

from ..errors import ConfigError, DigestError

# command name -> "module:function"; loaded on first use.
COMMANDS = {
    "ingest": "articles:ingest",
    "articles": "articles:articles",
    "article": "articles:article",
    "preview": "preview:preview",
    "members": "subscribers:members",
    "subscribers": "subscribers:subscribers",  # hidden: the old name of `members`
    "edition": "mailing:edition",
    "queue": "mailing:queue",
    "send": "mailing:send",
    "send-test": "mailing:send_test",
    "weekly": "mailing:weekly",
    "run": "mailing:run",
    "status": "mailing:status",
    "serve": "web:serve",
    "check": "check:check",
    "sources": "sources:sources",
    "dkim-record": "check:dkim_record",
    "bounces": "bounces:bounces",
    "report": "report:report",
    "editors": "editors:editors",
    "providers": "providers:providers",
    "tokens": "tokens:tokens",
    "webhooks": "webhooks:webhooks",
    "prune": "prune:prune",
    "announcement": "announcements:announcement",
}
# Old names kept working for cron lines written before, left out of `digest --help`.
HIDDEN = {"subscribers"}

# command name -> its one-line help, so `digest --help` lists the commands
# without loading them (each module imports what its commands need, from
# SQLAlchemy to Flask). tests/test_cli_help.py checks each line against the
# command's docstring; a command missing here is loaded to ask it.
SHORT_HELP = {
    "announcement": "One-off announcements to an audience: compose, preview, test, approve, queue.",
    "article": "Editorial controls on one article: pin, exclude, override its summary, date it.",
    "articles": "List stored articles, newest first, with their topics and summaries.",
    "bounces": "Bounces, complaints and unsubscribes by mail that came back to digest.",
    "check": "Check messages or every variant of an edition for what mailbox providers and readers need.",
    "dkim-record": "Print the DNS TXT record that publishes the DKIM key of the [dkim] settings.",
    "edition": "Build and inspect editions (the frozen selection members will get).",
    "editors": "Editors of the edition desk: the people who sign in at /desk/.",
    "members": "Manage the members who get the digest by email.",
    "ingest": "Read articles from feeds, WordPress or listing exports into the database.",
    "preview": "Write the email of an edition exactly as it will be sent, and list its articles.",
    "providers": "Mail providers that report bounces and complaints by webhook ([providers.NAME] in digest.toml).",
    "prune": "Fold old delivery rows into edition totals and delete what is past its period.",
    "queue": "Queue one delivery per due member of a built edition.",
    "report": "Delivered, failed, bounced, complaints, unsubscribes and reads of a sent edition.",
    "run": "Cron job for any frequency: fetch the sources, build, queue and send what is due.",
    "send": "Send every queued delivery that is due, over SMTP or into the outbox folder.",
    "send-test": "Mail one variant of an edition to the editor; touches no delivery.",
    "serve": "Serve the preference, unsubscribe, subscribe and web-version pages.",
    "sources": "The sources configured in digest.toml ([[sources]]) and their health.",
    "status": "Deliveries by state, for one edition or all.",
    "subscribers": "Manage the members who get the digest by email.",
    "tokens": "API tokens for the HTTP API under /api/v1/ (`Authorization: Bearer TOKEN`).",
    "webhooks": "Webhooks out: tell the membership system when members join, leave, bounce or change.",
    "weekly": "Cron job: fetch the sources, then build, queue and send the edition of the week that just ended.",
}


class App:
    """What commands share: settings and the database, made on first use."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path

    @cached_property
    def settings(self):
        from ..config import load_settings

        return load_settings(self.config_path)

    @cached_property
    def words(self):
        """The editors' language (Settings.editor_language): what a command says to an editor is in it."""
        from ..i18n import language

        return language(self.settings.editor_language)

    @cached_property
    def db(self):
        from ..db import Database

        return Database(self.settings.database_url, busy_timeout=self.settings.busy_timeout)


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context):
        # Any DigestError a command lets through (a bad digest.toml met when
        # settings are first read, say) is still one line and exit status 1.
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            raise fail(exc) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if self._exists(n))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not self._exists(name):
            return None
        module, _, attr = COMMANDS[name].partition(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands in `digest --help`, from SHORT_HELP: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            if name in HIDDEN:
                continue
            if name in SHORT_HELP:
                rows.append((name, click.Command(name, help=SHORT_HELP[name]).get_short_help_str(limit)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    @staticmethod
    def _exists(name: str) -> bool:
        module = COMMANDS[name].partition(":")[0]
        return importlib.util.find_spec(f"{__package__}.{module}") is not None


@click.group(cls=LazyGroup)
@click.option("--config", "config_path", envvar="DIGEST_CONFIG", type=click.Path(dir_okay=False),
              help="digest.toml to use (default: ./digest.toml if present, else built-in defaults).")
@click.version_option(package_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Email digests of your organisation's news for its members.

    \b
    Example, the editor's week:
      digest ingest https://example.org/feed/ --published 2017-06-21
      digest preview --week 2017-W25 --out preview.html
    """
    ctx.obj = App(config_path)


def fail(exc: DigestError) -> click.ClickException:
    """Turn a DigestError into click's one-line 'Error: ...': exit status 2 for a
    configuration error (cron and systemd tell it from a failed mailing), 75 for a
    busy database (EX_TEMPFAIL: try again), else 1."""
    error = click.ClickException(str(exc))
    error.exit_code = exit_status(exc)
    return error


def exit_status(exc: DigestError) -> int:
    return getattr(exc, "exit_code", None) or (2 if isinstance(exc, ConfigError) else 1)


def main() -> None:
    try:
        cli.main(prog_name="digest", standalone_mode=True)
    except DigestError as exc:  # a command that forgot to convert
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exit_status(exc))
    finally:
        # The process ends here: its objects (SQLAlchemy's, Jinja2's, ...) need no
        # cycle collection on the way out, which would walk them all once more (a
        # quarter of a `digest preview`'s CPU). Files, connections and atexit
        # handlers are closed and run as before.
        gc.freeze()


pass_app = click.make_pass_decorator(App)
