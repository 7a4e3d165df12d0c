"""How commands print what the library reports: a source's fetch, bounces read, a queue, a send, a mailing run.

Shared by the commands that show the same report (`digest sources fetch`
and `digest weekly` print a source's run alike), so no command module
imports another.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

import click

from ..editorial.mailing import MailingReport, Steps
from ..editorial.schedule import shown
from ..errors import DigestError
from ..i18n import Language, language
from ..outbound import redact
from .options import console

log = logging.getLogger("digest.send")


def print_run(r) -> None:
    """What one source did (its problems and error on stderr)."""
    for problem in r.problems:
        click.echo(f"warning: {problem}", err=True)
    if r.error:
        click.echo(f"Error: {r.line()}", err=True)
    else:
        click.echo(r.line())
    if r.moved_to:
        click.echo(f"warning: {moved_line(r.name, redact(r.location), redact(r.moved_to))}", err=True)

def moved_line(name: str, location: str, moved_to: str) -> str:
    """What to change in digest.toml for a source that moved permanently (it is fetched there already)."""
    return (f"source {name} moved permanently to {moved_to} (fetched there since): in digest.toml change "
            f'url = "{location}" to url = "{moved_to}"')


def print_bounces(results) -> None:
    """One line per message read ((where, FetchResult) per source), then the counts."""
    items = [(where, p) for _, r in results for where, p in r.items]
    for where, p in items:
        member = f" {p.email}" if p.email else ""
        if p.duplicate:  # acted on (or not) the first time: nothing is done now
            click.echo(f"{where}: {p.kind} -> nothing now, {p.outcome} when first read [{p.folder}] (seen before)")
        else:
            click.echo(f"{where}: {p.kind} -> {p.outcome}{member} [{p.folder}]: {p.why}")
    counts: dict[str, int] = {}
    for _, p in items:
        what = "seen before" if p.duplicate else p.outcome
        counts[what] = counts.get(what, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to read"
    click.echo(f"bounces: {len(items)} message(s): {summary}")


def print_queue(report, words: Language | None = None) -> None:
    """A queued edition, in the editors' language (words; "warning:" stays, for logs' readers and greps)."""
    w = words or language()
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    extra = w.ngettext(" (%(num)d new variant(s) rendered for members who joined since the build)",
                       " (%(num)d new variant(s) rendered for members who joined since the build)",
                       report.variants) % {"num": report.variants} if report.variants else ""
    click.echo(w.ngettext("queued %(num)d delivery(ies) of %(edition)s", "queued %(num)d delivery(ies) of %(edition)s",
                          report.queued) % {"num": report.queued, "edition": report.key} + extra)


def print_edition(report: MailingReport, words: Language | None = None) -> None:
    """One window of a mailing run: held (and who was told), or built / reused and queued."""
    w = words or language()
    _, names = w.gettext, {"edition": report.key}
    if report.held:
        for problem in report.held:
            click.echo(_("held %(edition)s: %(problem)s") % {**names, "problem": problem}, err=True)
        if report.told_before is not None:
            click.echo(_("the editors were told of this at %(at)s UTC: not again for the same reasons within 12 hours")
                       % {"at": f"{report.told_before:%Y-%m-%d %H:%M}"})
        elif report.told is None:
            click.echo("warning: " + _("no editor is told of held editions (digest editors): nobody was emailed"),
                       err=True)
        elif report.told.ok:
            click.echo(_("told the editors (%(editors)s) that %(edition)s is held")
                       % {**names, "editors": ", ".join(report.editors)})
        else:
            click.echo("Error: " + _("the editors could not be told: %(error)s") % {"error": report.told.message},
                       err=True)
        return
    if report.waiting is not None:
        click.echo(_("%(edition)s is scheduled for %(when)s: not queued before then")
                   % {**names, "when": shown(report.waiting)})
        return
    for problem in report.forced:
        click.echo("warning: " + _("sent anyway (--force): %(problem)s") % {"problem": problem}, err=True)
    if report.already_queued:
        click.echo(_("%(edition)s already built and queued; sending what is left") % names)
        return
    if report.built is not None:
        n = len(report.built.items)
        click.echo(w.ngettext("built %(edition)s: %(num)d article(s)", "built %(edition)s: %(num)d article(s)", n)
                   % {**names, "num": n})
    else:
        click.echo(_("%(edition)s already built; using it as it is") % names)
    print_queue(report.queued, w)


def print_sent(app, kind, stats) -> None:
    """The send's one-line summary in the editors' language; what the relay did below it, for the operator."""
    click.echo(app.words.gettext("sent %(sent)d, retry later %(retried)d, failed %(failed)d, skipped %(skipped)d")
               % {"sent": stats.sent, "retried": stats.retried, "failed": stats.failed, "skipped": stats.skipped}
               + f" (via {kind}" + (f": {app.settings.outbox}" if kind == "file" else "")
               + (f", {stats.processes} processes)" if stats.processes > 1 else ")"))
    if stats.busy:
        click.echo(f"  the relay said it had too many connections {stats.busy} time(s): went down to "
                   f"{stats.lowest_concurrency}; each time its message waited for another connection, "
                   f"no attempt spent", err=True)
    if stats.fallbacks:
        click.echo(f"  {stats.fallbacks} connection(s) fell back to two round trips a message: the relay answered "
                   f"pipelined commands out of step (see [smtp] round_trips)", err=True)
    if stats.timeouts:
        click.echo(f"  the relay did not answer in time {stats.timeouts} time(s) (see [smtp] in the config)", err=True)
    if stats.given_back:
        click.echo(f"  {stats.given_back} delivery(ies) given back to the queue never attempted, no attempt spent",
                   err=True)
    if stats.lost:
        click.echo(f"  {stats.lost} delivery(ies) taken over by another sender after this run stalled past its "
                   f"lease: left to it", err=True)
    for err, n in sorted(stats.errors.items(), key=lambda kv: -kv[1])[:5]:
        click.echo(f"  {n} x {err}", err=True)


def _how(s) -> str:
    """The progress line's reasons: current rate, connections in use (and the relay's limit), retries."""
    return (f"{s.rate:,.0f}/s, {s.connections} connection(s)"
            + (f" (relay allows {s.concurrency})" if s.busy else "") + f", {s.retried} retries"
            + (f", {s.requeued} handed to another connection" if s.requeued else "")
            + (f", {s.given_back} given back unattempted" if s.given_back else "")
            + (f", {s.fallbacks} connection(s) fell back to two round trips" if s.fallbacks else ""))


def progress(app, kind, limit):
    """A progress bar on a terminal, else one log line per batch: (context manager, callback)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        from ..db import deliveries as delivery_db

        with app.db.connect() as conn:
            total = delivery_db.pending_count(conn)
        total = min(total, limit) if limit else total
        bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn(), "{task.fields[how]}", console=console(stderr=True))
        task = bar.add_task(f"sending ({kind})", total=total, how="")
        return bar, (lambda s, n: bar.update(task, completed=s.done, how=_how(s)))

    last = [0.0]

    def line(s, n):
        if not s.done and not s.retried:  # nothing happened yet: a line of zeros tells the operator nothing
            return
        if time.monotonic() - last[0] >= 5:  # called a few times a second
            last[0] = time.monotonic()
            log.info("%d sent, %d retry later, %d failed, %d skipped; %s", s.sent, s.retried, s.failed,
                     s.skipped, _how(s))

    return contextlib.nullcontext(), line


def announcement_queued(report) -> str:
    """What queueing an announcement did (editorial.announcements.QueueReport), as `digest announcement queue`
    and `digest run` say it."""
    return (f"queued {report.queued} delivery(ies) of {report.key} ({report.variants} variant(s)); "
            f"the audience was {report.counted} member(s)")


class PrintedSteps(Steps):
    """A mailing run as a command shows it: each step printed as it happens."""

    def __init__(self, app):
        self.app = app

    def bounces(self, results) -> None:
        print_bounces(results)

    def bounces_failed(self, error: DigestError) -> None:
        click.echo(f"warning: bounces not read, sending anyway: {error}", err=True)

    def source(self, run) -> None:
        print_run(run)

    def edition(self, report: MailingReport) -> None:
        print_edition(report, self.app.words)

    def sending(self, kind, limit):
        return progress(self.app, kind, limit)

    def announcement(self, report) -> None:
        click.echo(announcement_queued(report))

    def nothing_due(self) -> None:
        click.echo(self.app.words.gettext("no edition is due now"))

    def webhooks(self, stats) -> None:
        for line in stats.errors:
            click.echo(f"warning: webhook not delivered yet: {line}", err=True)
        if stats.delivered:
            click.echo(f"delivered {stats.delivered} webhook event(s)")
