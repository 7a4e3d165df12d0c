"""The mailing: `digest edition`, `queue`, `send`, `send-test`, `weekly`, `run`, `status`."""

from __future__ import annotations

import functools
import getpass
import os
import socket

import click

from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..editorial.build import build_edition, queue_edition
from ..editorial.mailing import Mailing, due_windows, run_mailing, send_due
from ..editorial.preview import PreviewRequest, resolve_window
from ..editorial.schedule import schedule_send, send_time_of, shown, withdraw_send
from ..editorial.sendtest import send_test as do_send_test
from ..editorial.text import edition_text, language_name, missing_lines, missing_words, set_edition_text
from ..errors import CheckError, DigestError
from ..members import check_language
from ..sending.transports import make_transport
from ..sending.worker import SendOptions
from . import fail, pass_app
from .options import TransportChoice, console, echo_json, now_utc
from .printing import PrintedSteps, print_queue, print_sent
from .prune import weekly_prune

EXIT_STATUSES = """\b
Exit status:
  0  all done (or nothing was due)
  1  some deliveries failed or wait for a retry, or the relay could not be
     used at all (the run stopped and gave its claims back)
  2  configuration error (e.g. a malformed DIGEST_SMTP_URL), or an edition
     held by the gate (the editors were emailed)"""


def _period_options(f):
    for opt in reversed([
        click.option("--week", metavar="YYYY-Www", help="ISO week, e.g. 2017-W25 (a weekly edition)."),
        click.option("--day", metavar="YYYY-MM-DD", help="One day (a daily edition)."),
        click.option("--month", metavar="YYYY-MM", help="One month (a monthly edition)."),
    ]):
        f = opt(f)
    return f


def _send_options(f):
    """The sending options of `send`, `weekly` and `run`, given to the command as transport= and options=."""
    @functools.wraps(f)
    def command(*args, transport, connections, processes, max_per_connection, rate, limit, reclaim, lease_seconds,
                batch, **kwargs):
        options = SendOptions(connections=connections, rate=rate, limit=limit, reclaim=reclaim,
                              lease_seconds=lease_seconds, batch=batch, processes=processes or os.cpu_count() or 1,
                              max_per_connection=max_per_connection)
        return f(*args, transport=transport or None, options=options, **kwargs)

    for opt in reversed([
        click.option("--transport", type=TransportChoice(), default=None,
                     help="smtp (DIGEST_SMTP_URL) or file (.eml files in DIGEST_OUTBOX). Default: config."),
        click.option("--connections", type=click.IntRange(1, 1000), default=1, show_default=True,
                     help="SMTP connections at most, all processes together (see README: Sending to a real "
                          "relay). About the rate you want x the relay's round trip x 2, within what the "
                          "relay allows; fewer while the relay says it has too many."),
        click.option("--processes", type=click.IntRange(1, 64), default=None,
                     help="Sender processes on the same queue (default: the number of cores; never more "
                          "than connections)."),
        click.option("--max-per-connection", type=click.IntRange(1, 100_000), default=100, show_default=True,
                     help="Messages per SMTP connection, then QUIT and reconnect."),
        click.option("--rate", type=click.FloatRange(min=0, min_open=True),
                     help="At most this many messages a second, all processes together."),
        click.option("--limit", type=click.IntRange(min=1), help="Stop after this many deliveries."),
        click.option("--reclaim", is_flag=True,
                     help="After a crash: take over deliveries left 'sending' at once, not when their lease ends."),
        click.option("--lease", "lease_seconds", type=click.FloatRange(min=1), default=300, show_default=True,
                     help="Seconds a claimed delivery stays reserved for this process."),
        click.option("--batch", type=click.IntRange(1, 10_000), default=200, show_default=True,
                     help="Deliveries claimed at a time."),
    ]):
        command = opt(command)
    return command


def _window(app, key, week, day, month, default="weekly"):
    return resolve_window(app.settings, PreviewRequest(key=key, week=week, day=day, month=month),
                          now=now_utc(), default=default)


@click.group()
def edition() -> None:
    """Build and inspect editions (the frozen selection members will get).

    \b
    Example:
      digest edition build --week 2017-W25
      digest edition list
    """


@edition.command("build")
@click.argument("key", required=False)
@_period_options
@pass_app
def edition_build(app, key, week, day, month) -> None:
    """Freeze the selection and summaries of a period, so what is queued is what was previewed.

    Building again replaces the edition until it is queued; after that it is refused.

    \b
    Example:
      digest edition build --week 2017-W25
    """
    try:
        built = build_edition(app.db, app.settings, _window(app, key, week, day, month), now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    for w in built.warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    n = len(built.items)
    click.echo(app.words.ngettext("built %(edition)s (%(frequency)s): %(num)d article(s); subject: %(subject)s",
                                  "built %(edition)s (%(frequency)s): %(num)d article(s); subject: %(subject)s", n)
               % {"edition": built.key, "frequency": built.frequency, "num": n, "subject": built.subject})


@edition.command("set")
@click.argument("key")
@click.option("--language", metavar="TAG", help="Whose words these are: a tag of [organisation] languages "
              "(e.g. cy); default: the first.")
@click.option("--subject", help='The subject line ("" for the one made from the config\'s digest.subject).')
@click.option("--preheader", help='The inbox preview text ("" for the one made from the headlines).')
@click.option("--note", help="The editor's note above the articles (Markdown-lite: paragraphs, [text](https://...)).")
@click.option("--note-file", type=click.File("r", encoding="utf-8"), help="Read the note from a file (- for stdin).")
@pass_app
def edition_set(app, key, language, subject, preheader, note, note_file) -> None:
    """Set an edition's subject, preheader and editor's note, before it is built.

    The words are kept by KEY and frozen into the edition when it is built
    (build again to change a built edition; once queued it is refused). An
    empty value ("") goes back to the one made from the articles. Each
    configured language has its own words (--language cy); a member reads
    those of their language, and where one is not written, the first's.

    \b
    Example:
      digest edition set 2017-W25 --subject "GDPR in a year, and smart places" --note-file note.md
      digest edition set 2017-W25 --language cy --subject "GDPR mewn blwyddyn" --note-file nodyn.md
    """
    if note is not None and note_file is not None:
        raise click.UsageError("give --note or --note-file, not both")
    if note_file is not None:
        note = note_file.read()
    if subject is None and preheader is None and note is None:
        raise click.UsageError("nothing to set: give --subject, --preheader, --note or --note-file")
    try:
        tag = check_language(language, app.settings.languages, email="--language") if language else ""
        _window(app, key, None, None, None)  # a key that names a period, or a one-line error
        text = set_edition_text(app.db, key, subject=subject, preheader=preheader, note=note, now=now_utc(),
                                language="" if tag == app.settings.language else tag)
    except DigestError as exc:
        raise fail(exc) from None
    _print_text(text, app.settings, app.words)
    with app.db.connect() as conn:
        built = edition_db.load_edition(conn, key)
    if built is not None:
        click.echo(app.words.gettext("%(edition)s is built already: run `digest edition build %(edition)s` again "
                                     "to use these words") % {"edition": key})


def _print_text(text, settings, lang) -> None:
    """The words of each configured language (one language: as before, without a heading per language),
    each line's label in the editors' language (a translation keeps the columns)."""
    _ = lang.gettext
    click.echo(f"{text.key}:")
    first = text.in_language(settings.language, settings.language)
    many = len(settings.languages) > 1
    pad = "  " if many else ""
    instead = _("(not written: the %(language)s one is used)") % {
        "language": language_name(settings.language, lang)}
    for tag in settings.languages:
        words = text.in_language(tag, settings.language)
        if many:
            click.echo(f"  {tag} ({language_name(tag, lang)}):")

        def said(field: str, made: str) -> str:
            return getattr(words, field) or (instead if getattr(first, field) else made)

        click.echo(pad + _("  subject:   %(subject)s") % {"subject": said("subject", _("(made from digest.subject)"))})
        click.echo(pad + _("  preheader: %(preheader)s") % {
            "preheader": said("preheader", _("(made from the headlines)"))})
        if words.note:
            click.echo(pad + _("  note:"))
            for line in words.note.splitlines():
                click.echo(f"{pad}    {line}")
        else:
            click.echo(pad + _("  note:      %(note)s") % {"note": said("note", _("(none)"))})
    for line in missing_lines(text.key, missing_words(first, text.words, settings.languages), lang):
        click.secho(f"warning: {line}", fg="yellow", err=True)


@edition.command("show")
@click.argument("key")
@pass_app
def edition_show(app, key) -> None:
    """Show the subject, preheader and note set for an edition (`digest edition set`), in each language,
    and its send time.

    \b
    Example:
      digest edition show 2017-W25
    """
    _print_text(edition_text(app.db, key), app.settings, app.words)
    send = send_time_of(app.db, key)
    click.echo(f"  send at:   {shown(send) + f' (set by {send.by})' if send else '(when its period is due)'}")


@edition.command("schedule", epilog="""\b
Exit status:
  0  scheduled, changed or withdrawn
  1  refused (a time in the past or skipped by the clocks, an unknown zone,
     an edition not built or already queued): nothing changed""")
@click.argument("key")
@click.option("--at", "at", metavar="'YYYY-MM-DD HH:MM'", help="The wall time to send at, in --zone.")
@click.option("--zone", metavar="AREA/CITY", help="An IANA time zone. Default: [digest] timezone.")
@click.option("--withdraw", is_flag=True, help="Take the send time back: it goes when its period is due.")
@pass_app
def edition_schedule(app, key, at, zone, withdraw) -> None:
    """Approve a built edition for a time: `digest run` queues and sends it at the first run after it.

    Until then it is not queued or sent; give --at again to change the time,
    or --withdraw. It still passes the gate at that time (a held one tells
    the editors). The wall time stays put across a clock change (07:00
    London is 07:00 London in winter and summer); a time the clocks skip
    is refused, a time they pass twice is the first of the two.

    \b
    Example:
      digest edition schedule 2017-W25 --at "2027-06-28 07:00" --zone Europe/London
    """
    check_at_or_withdraw(at, zone, withdraw)
    try:
        if withdraw:
            before = withdraw_send(app.db, key, by=_forced_by(), now=now_utc())
            click.echo(f"{key}: withdrew the send time {shown(before)}; it goes when its period is due")
            return
        send = schedule_send(app.db, app.settings, key, at, zone=zone, by=_forced_by(), now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"{key}: scheduled for {shown(send)}, {send.at:%Y-%m-%d %H:%M} UTC; "
               "the first `digest run` after it queues and sends it")


@edition.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def edition_list(app, as_json) -> None:
    """List editions with their state and deliveries."""
    with app.db.connect() as conn:
        rows = [{
            "key": e.key, "frequency": e.frequency, "articles": len(e.items), "subject": e.subject,
            "built_at": e.built_at.isoformat() if e.built_at else None,
            "queued_at": e.queued_at.isoformat() if e.queued_at else None,
            "deliveries": delivery_db.counts(conn, e.id),
            "forced_by": e.forced_by, "forced_reason": e.forced_reason,
            "send_at": e.send_time and {"at": e.send_time.local_text, "zone": e.send_time.zone,
                                        "utc": e.send_time.at.isoformat(), "by": e.send_time.by},
        } for e in edition_db.list_editions(conn)]
    if as_json:
        echo_json(rows)
        return
    from rich.table import Table  # only for the table: --json needs none of rich

    table = Table(title=f"{len(rows)} edition(s)")
    for col in ("key", "frequency", "articles", "send at", "queued", "deliveries"):
        table.add_column(col)
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in r["deliveries"].items() if v) or "-"
        send = f'{r["send_at"]["at"]} {r["send_at"]["zone"]}' if r["send_at"] else "-"
        table.add_row(r["key"], r["frequency"], str(r["articles"]), send, (r["queued_at"] or "no")[:16], counts)
    console().print(table)


@click.command()
@click.argument("key")
@pass_app
def queue(app, key) -> None:
    """Queue one delivery per due member of a built edition.

    Due: active, not paused, of the edition's frequency, with at least one of
    the edition's articles in their topics. Rendering happens once per variant.
    Running it again adds only members not yet queued.

    \b
    Example:
      digest queue 2017-W25
    """
    try:
        report = queue_edition(app.db, app.settings, key, now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    print_queue(report, app.words)


def _fail_check(exc: DigestError) -> click.ClickException:
    """A refused edition: every failing check on stderr, then the one-line error."""
    for line in getattr(exc, "lines", ()):
        click.echo(f"{exc.target.removeprefix('edition ')} {line}", err=True)
    return fail(exc)


@click.command(epilog=EXIT_STATUSES)
@_send_options
@pass_app
def send(app, transport, options) -> None:
    """Send every queued delivery that is due, over SMTP or into the outbox folder.

    Several `digest send` processes may run at once: deliveries are claimed in
    batches under a lease and never sent twice. A 4xx reply is retried later
    with backoff; a 5xx fails the delivery (and after repeated hard failures
    marks the member bounced). After a crash, run it again: expired leases
    are taken over (at once with --reclaim).

    \b
    Example:
      DIGEST_SMTP_URL=smtp+starttls://user:pass@smtp.example.org digest send --connections 4
    """
    kind = transport or app.settings.transport
    try:
        stats = send_due(app.db, app.settings, kind, options, PrintedSteps(app))
    except CheckError as exc:
        raise _fail_check(exc) from None
    except DigestError as exc:
        raise _stopped(app, kind, exc) from None
    print_sent(app, kind, stats)
    if stats.failed or stats.retried:
        raise SystemExit(1)


@click.command("send-test")
@click.argument("key")
@click.option("--to", "to", required=True, metavar="ADDRESS", help="Where to send the test.")
@click.option("--variant", metavar="TOPICS[:FORMAT[:LANGUAGE]]", default="*",
              help="Topics (comma-separated; * for all), format (html/text) and language (a tag of [organisation] "
                   "languages, or bilingual), e.g. data-protection:text or *:html:cy.")
@click.option("--transport", type=TransportChoice(), default=None)
@pass_app
def send_test(app, key, to, variant, transport) -> None:
    """Mail one variant of an edition to the editor; touches no delivery.

    \b
    Example:
      digest send-test 2017-W25 --to editor@example.org --variant cyber-security:html
      digest send-test 2017-W25 --to editor@example.org --variant "*:html:cy"
    """
    kind = transport or app.settings.transport
    try:
        to, result = do_send_test(app.db, app.settings, key, to, variant, make_transport(kind, app.settings),
                                  now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    if not result.ok:
        refused = app.words.gettext("%(to)s: refused:") % {"to": to}
        raise click.ClickException(" ".join(str(x) for x in (refused, result.code, result.message) if x))
    click.echo(app.words.gettext("sent a test of %(edition)s (%(variant)s) to %(to)s via %(transport)s")
               % {"edition": key, "variant": variant, "to": to, "transport": kind})


def _force_options(f):
    for opt in reversed([
        click.option("--force", is_flag=True,
                     help="Send an edition the gate holds (failed or stale sources, too few articles)."),
        click.option("--reason", metavar="TEXT", help="Why it may go anyway; required with --force, recorded."),
    ]):
        f = opt(f)
    return f


def check_at_or_withdraw(at, zone, withdraw) -> None:
    """The options of a `schedule` command (an edition's, an announcement's): a usage error (exit 2) if wrong."""
    if withdraw == bool(at):
        raise click.UsageError('give --at "YYYY-MM-DD HH:MM" or --withdraw (one of them)')
    if zone and withdraw:
        raise click.UsageError("--zone goes with --at, not with --withdraw")


def _forced_by() -> str:
    """user@host of whoever runs --force (SUDO_USER when run through sudo)."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _stopped(app, kind, exc: DigestError) -> click.ClickException:
    """A send that stopped (the relay unusable, timing out): what it did before, then the one-line error."""
    if getattr(exc, "stats", None) is not None:
        print_sent(app, kind, exc.stats)
    return fail(exc)


def _mailing(app, windows, force, reason, transport, options, command, announcements: bool = False) -> None:
    """The mailing run (editorial.mailing.run_mailing), printed as it goes; exit 0, 1 or 2."""
    if force and not (reason or "").strip():
        raise click.UsageError('--force needs --reason "why it may go" (it is recorded on the edition)')
    mailing = Mailing(windows, force_reason=(reason or "").strip() if force else None, forced_by=_forced_by(),
                      command=command, send=options, transport=transport, announcements=announcements)
    try:
        result = run_mailing(app.db, app.settings, mailing, PrintedSteps(app), clock=now_utc)
    except CheckError as exc:
        raise _fail_check(exc) from None
    except DigestError as exc:
        raise _stopped(app, transport or app.settings.transport, exc) from None
    print_sent(app, transport or app.settings.transport, result.sent)
    if result.held:
        raise SystemExit(2)
    if result.sent.failed or result.sent.retried:
        raise SystemExit(1)


@click.command(epilog=EXIT_STATUSES)
@click.argument("key", required=False)
@_period_options
@_force_options
@_send_options
@pass_app
def weekly(app, key, week, day, month, force, reason, transport, options) -> None:
    """Cron job: fetch the sources, then build, queue and send the edition of the week that just ended.

    Every [[sources]] entry is fetched first (one transaction each). The
    edition is held - nothing built, queued or sent, exit status 2, the
    editors emailed - when a source failed, a source has nothing newer than
    its max_age_days before the week's end, or the edition would have fewer
    than min_articles; --force --reason "..." sends it anyway and records
    who and why. Safe to run again: an edition is built once, members are
    queued once, and nothing is sent twice. Give a KEY or --week to run
    another week.

    \b
    Example (crontab, Mondays 07:00):
      0 7 * * 1  cd /srv/digest && .venv/bin/digest weekly >> digest.log 2>&1
    """
    try:
        window = _window(app, key, week, day, month, default="weekly")
    except DigestError as exc:
        raise fail(exc) from None
    if window.frequency != "weekly":  # a usage error (exit status 2), found before anything runs
        raise click.BadParameter(f"{window.key} is a {window.frequency} period, not weekly")
    _mailing(app, [window], force, reason, transport, options, "digest weekly")


@click.command(epilog=EXIT_STATUSES)
@click.option("--frequency", type=click.Choice(["daily", "weekly", "monthly"]),
              help="Only this frequency. Default: every frequency that is due now.")
@click.argument("key", required=False)
@_period_options
@_force_options
@_send_options
@pass_app
def run(app, frequency, key, week, day, month, force, reason, transport, options) -> None:
    """Cron job for any frequency: fetch the sources, build, queue and send what is due.

    Without --frequency (and without a period): every frequency that is due
    now - for daily, weekly and monthly, the period that just ended, when
    some active member has that frequency and its edition is not queued
    yet - and every edition whose send time (`digest edition schedule`)
    has come, and every approved announcement whose send time
    (`digest announcement schedule`) has come; one with a later send time waits. So one cron line or
    systemd timer (scripts/systemd/) covers everyone (every few minutes
    when editors set send times). A KEY or --week/--day/--month runs that period. Sources and
    the gate work as for `digest weekly`. Once a week it then runs
    `digest prune` ([retention] in digest.toml).

    \b
    Example (crontab, every morning):
      30 6 * * *  cd /srv/digest && .venv/bin/digest run >> digest.log 2>&1
    """
    try:
        if frequency is None and not any((key, week, day, month)):
            windows = due_windows(app.db, app.settings, now=now_utc())  # none: said after the announcements
        else:
            window = _window(app, key, week, day, month, default=frequency or "weekly")
            if frequency is not None and window.frequency != frequency:  # a usage error (exit status 2)
                raise click.BadParameter(f"{window.key} is a {window.frequency} period, not {frequency}")
            windows = [window]
    except DigestError as exc:
        raise fail(exc) from None
    command = "digest run" + (f" --frequency {frequency}" if frequency else "")
    try:
        _mailing(app, windows, force, reason, transport, options, command, announcements=True)
    except SystemExit:  # held, or some deliveries failed: the mailing ran, so the weekly prune does too
        weekly_prune(app)
        raise
    weekly_prune(app)


@click.command()
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status(app, key, as_json) -> None:
    """Deliveries by state, for one edition or all.

    \b
    Example:
      digest status 2017-W25 --json
    """
    with app.db.connect() as conn:
        edition_id = None
        if key:
            e = edition_db.load_edition(conn, key)
            if e is None:
                raise click.ClickException(f"edition {key}: no such edition")
            edition_id = e.id
        counts = delivery_db.counts(conn, edition_id)
        retries = delivery_db.retry_summary(conn) if not as_json else []
    if as_json:
        echo_json({"edition": key, "deliveries": counts, "total": sum(counts.values())})
        return
    click.echo((f"{key}: " if key else "all editions: ") + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for did, attempts, error, not_before in retries[:10]:
        click.echo(f"  delivery {did}: {attempts} attempt(s), next after {not_before:%Y-%m-%d %H:%M}: {error}")
