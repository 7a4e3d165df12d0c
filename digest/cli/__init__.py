"""The `digest` command line: one group, subcommands loaded only when used.

Each subcommand lives in a module of this package, parses its options, builds
what it needs from the App, calls one function and turns DigestError into a
clean one-line message: exit status 2 for a configuration error (ConfigError,
as for a usage error), 1 for anything else. Heavy imports (SQLAlchemy, MJML,
premailer) happen inside commands, so `digest --help` and the editor's
preview start quickly.
"""

from __future__ import annotations

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
    "subscribers": "subscribers:subscribers",
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
    "prune": "prune:prune",
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
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    @staticmethod
    def _exists(name: str) -> bool:
        module = COMMANDS[name].partition(":")[0]
        return importlib.util.find_spec(f"{__name__}.{module}") is not None


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


pass_app = click.make_pass_decorator(App)
