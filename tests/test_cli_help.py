"""`digest --help` stays fast: it lists the commands from a table, loading none of their modules.

Each command module imports what its commands need at the top (SQLAlchemy,
the mailing, Flask for `serve`), once; so the group's help must not import
them to ask for their one-line help. These tests keep the table true.
"""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from digest.cli import COMMANDS, cli
from digest.cli.app import SHORT_HELP


def test_every_command_has_its_line_and_the_line_is_its_docstrings():
    assert sorted(SHORT_HELP) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(None, name)
        for limit in (45, 200):
            listed = click.Command(name, help=SHORT_HELP[name]).get_short_help_str(limit)
            assert listed == command.get_short_help_str(limit), name


def test_help_lists_every_command_without_importing_one():
    code = ("import sys; from digest.cli import cli\n"
            "try:\n    cli.main(['--help'], prog_name='digest')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('digest.cli.') and m != 'digest.cli.app'))\n"
            "print('sqlalchemy' in sys.modules, 'flask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[-2:] == ["[]", "False False"]
    for name in COMMANDS:
        assert any(line.lstrip().startswith(name + " ") for line in lines), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_still_loads_and_helps(run_cli, name):
    result = run_cli(name, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output
