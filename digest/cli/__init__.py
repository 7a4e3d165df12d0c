"""The `digest` command line: one group, subcommands loaded only when used.

Each subcommand lives in a module of this package, parses its options, builds
what it needs from the App, calls one function and turns DigestError into a
clean one-line message: exit status 2 for a configuration error (ConfigError,
as for a usage error), 1 for anything else. Heavy imports (SQLAlchemy, MJML,
premailer) happen in the command modules, loaded only for their command, so
`digest --help` and the editor's preview start quickly.

The group, the App and the error handling are in app.py; this package
re-exports what commands and entry points use.
"""

from .app import COMMANDS, App, LazyGroup, cli, exit_status, fail, main, pass_app

__all__ = ["COMMANDS", "App", "LazyGroup", "cli", "exit_status", "fail", "main", "pass_app"]
