"""`digest prune [--dry-run]`: fold and delete what is past its [retention] period."""

from __future__ import annotations

import click

from . import fail, pass_app
from .options import console, echo_json, now_utc
from ..errors import DigestError
from ..editorial.retention import KINDS, prune_due
from ..editorial.retention import prune as run_prune


@click.command()
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@pass_app
def prune(app, dry_run, as_json) -> None:
    """Fold old delivery rows into edition totals and delete what is past its period.

    Periods come from [retention] in digest.toml (README "Retention"):
    delivery rows of editions older than deliveries_months are counted into
    per-edition, per-variant totals (`digest report` shows the same figures)
    and deleted; old clicks likewise; processed and quarantined reports,
    member events other than consent and the editors' trail go after their
    periods; members who left long ago are forgotten, only a hash of the
    address stays. Works in short batches, so sending and the web pages go
    on meanwhile. `digest run` prunes once a week by itself. Exit status 0,
    or 1 on a database error (what was done so far stays done and adds up).

    \b
    Example:
      digest prune --dry-run
    """
    try:
        report = run_prune(app.db, app.settings, now=now_utc(), dry_run=dry_run)
    except DigestError as exc:
        raise fail(exc) from None
    if as_json:
        echo_json({"dry_run": report.dry_run, "removed": report.removed, "editions_folded": report.editions,
                   "size_before": report.size_before, "size_after": report.size_after,
                   "free_before": report.free_before, "free_after": report.free_after})
        return
    print_prune(report, app.db.dialect)


def print_prune(report, dialect: str) -> None:
    from rich.table import Table

    verb = "would remove" if report.dry_run else "removed"
    table = Table(title=f"digest prune{' --dry-run' if report.dry_run else ''}: {verb} {report.total:,} row(s)")
    table.add_column("what")
    table.add_column("rows", justify="right")
    for kind, label in KINDS.items():
        table.add_row(label, f"{report.removed.get(kind, 0):,}")
    console().print(table)
    if report.editions:
        shown = ", ".join(report.editions[:8]) + (" ..." if len(report.editions) > 8 else "")
        click.echo(f"editions folded{' (would be)' if report.dry_run else ''}: {len(report.editions)} ({shown})")
    if report.dry_run:
        click.echo(f"database: {_mb(report.size_before)} now")
        return
    click.echo(f"database: {_mb(report.size_before)} before, {_mb(report.size_after)} after")
    if report.free_after is not None:
        click.echo(f"space given back for reuse inside the file: {_mb(report.free_after - (report.free_before or 0))} "
                   "(VACUUM shrinks the file itself; README \"Retention\")")
    elif dialect == "postgresql" and report.total:
        click.echo("PostgreSQL reuses the space once (auto)vacuum has run; README \"Retention\"")


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB"


def weekly_prune(app) -> None:
    """For `digest run`: prune when the last prune is a week old. A failure is a warning: the mailing went."""
    try:
        if not prune_due(app.db, now=now_utc()):
            return
        report = run_prune(app.db, app.settings, now=now_utc())
    except DigestError as exc:
        click.echo(f"warning: the weekly prune did not run: {exc}", err=True)
        return
    if report.total:  # quiet when there was nothing to do
        click.echo(f"pruned {report.total:,} row(s) past their [retention] period (see `digest prune --help`)")
