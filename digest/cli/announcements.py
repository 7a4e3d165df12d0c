"""`digest announcement create | edit | list | show | count | preview | send-test | approve | queue | schedule |
evidence | audience`.

Each command parses, calls one function of digest/editorial/announcements.py, and prints.
Exit status: 0 done; 1 a bad input or state (one line naming it: `Error: audience: ...`);
2 a bad digest.toml; 75 the database is busy.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..editorial import announcements as lib
from ..editorial.schedule import shown
from ..errors import AnnouncementError, DigestError
from ..models import ANNOUNCEMENT_KINDS, Announcement
from ..sending.transports import make_transport
from . import fail, pass_app
from .mailing import _forced_by as who_runs
from .mailing import check_at_or_withdraw
from .options import TransportChoice, echo_json, now_utc
from .printing import announcement_queued

AUDIENCE_HELP = ("Who gets it: all | topics:SLUG,SLUG | attr:KEY=VALUE[,KEY=VALUE] | saved:NAME. "
                 "Only active, unpaused members, whatever it says.")


@click.group()
def announcement() -> None:
    """One-off announcements to an audience: compose, preview, test, approve, queue.

    An announcement is sent by `digest send` like an edition, with the
    member's own links; `digest report announcement-ID` counts it.

    \b
    Example:
      digest announcement create --subject "AGM on 3 March" --body-file agm.md \\
          --audience attr:region=Wales --kind statutory
      digest announcement count 1
      digest announcement approve 1 && digest announcement queue 1 && digest send
      digest announcement schedule 1 --at "2027-06-28 07:00"   # or: `digest run` sends it then

    \b
    Exit status: 0 done; 1 a bad input or a wrong state, said in one line
    naming it; 2 a bad digest.toml; 75 the database is busy (try again).
    """


def _body(body_file: str | None) -> str | None:
    if body_file is None:
        return None
    try:
        return Path(body_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnouncementError(f"--body-file {body_file}", f"cannot be read: {getattr(exc, 'strerror', exc) or exc}") \
            from None


def _fields(subject, preheader, body_file, audience, kind, cta_label, cta_url, articles, picture, picture_alt,
            public) -> dict:
    """The options given, as announcement fields (None: not given)."""
    given = {"subject": subject, "preheader": preheader, "body": _body(body_file), "audience": audience,
             "kind": kind, "cta_label": cta_label, "cta_url": cta_url,
             "articles": tuple(articles) if articles else None, "picture_url": picture,
             "picture_alt": picture_alt, "public": public}
    return {k: v for k, v in given.items() if v is not None}


def _compose_options(f):
    for opt in reversed([
        click.option("--subject", help="The subject line (at most 200 characters)."),
        click.option("--preheader", help="Inbox preview text (default: the body's first paragraph)."),
        click.option("--body-file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="The body, Markdown-lite: paragraphs, [links](https://...), ## headings, - and 1. lists."),
        click.option("--audience", metavar="SPEC", help=AUDIENCE_HELP),
        click.option("--kind", type=click.Choice(ANNOUNCEMENT_KINDS),
                     help="news (default): members may turn these off; statutory: every member (an AGM notice)."),
        click.option("--cta-label", metavar="TEXT", help="The call-to-action button's words (with --cta-url)."),
        click.option("--cta-url", metavar="URL", help="Where the button goes (http/https)."),
        click.option("--article", "articles", type=int, multiple=True, metavar="ID",
                     help="A stored article to show after the body (repeatable, in order)."),
        click.option("--picture", metavar="URL", help="A picture above the body (https://; needs --picture-alt)."),
        click.option("--picture-alt", metavar="TEXT", help="What the picture shows."),
        click.option("--public/--not-public", default=None, help="Show it in the public archive once queued."),
    ]):
        f = opt(f)
    return f


@announcement.command("create")
@_compose_options
@pass_app
def create(app, **options) -> None:
    """Store a new draft announcement; prints its id and how many members it would reach now.

    \b
    Example:
      digest announcement create --subject "Conference early-bird ends Friday" \\
          --body-file news.md --audience topics:events --cta-label "Book now" --cta-url https://example.org/book
    """
    fields = _fields(**options)
    try:
        for required in ("subject", "body", "audience"):
            if required not in fields:
                raise AnnouncementError(f"--{required.replace('body', 'body-file')}", "is required")
        a = lib.create_announcement(app.db, app.settings, Announcement(**fields), by="cli", now=now_utc())
        count = lib.audience_count(app.db, app.settings, a.audience, a.kind)
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"created announcement {a.id} ({a.kind}, draft) for {a.audience}: {count} member(s) now")


@announcement.command("edit")
@click.argument("announcement_id", type=int)
@_compose_options
@pass_app
def edit(app, announcement_id, **options) -> None:
    """Change a draft or approved announcement (an approved one goes back to draft).

    \b
    Example:
      digest announcement edit 1 --subject "AGM moved to 10 March"
    """
    try:
        a = lib.edit_announcement(app.db, app.settings, announcement_id, _fields(**options), by="cli", now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"announcement {a.id} changed; it is a draft again")


@announcement.command("list")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@pass_app
def list_(app, as_json) -> None:
    """List announcements, newest first: id, state, kind, audience, subject.

    \b
    Example:
      digest announcement list
    """
    rows = lib.list_announcements(app.db)
    if as_json:
        echo_json([{"id": a.id, "state": a.state, "kind": a.kind, "audience": a.audience, "subject": a.subject,
                    "public": a.public, "queued_at": a.queued_at} for a in rows])
        return
    for a in rows:
        click.echo(f"{a.id:>4}  {a.state:<8}  {a.kind:<9}  {a.audience:<30}  {a.subject}")
    if not rows:
        click.echo("no announcements yet (`digest announcement create`)")


def _counted(app, announcement_id: int) -> tuple[Announcement, int]:
    """The announcement and how many members its audience is now."""
    try:
        a = lib.get_announcement(app.db, announcement_id)
        return a, lib.audience_count(app.db, app.settings, a.audience, a.kind)
    except DigestError as exc:
        raise fail(exc) from None


@announcement.command("show")
@click.argument("announcement_id", type=int)
@pass_app
def show(app, announcement_id) -> None:
    """Show an announcement's fields, state and audience count.

    \b
    Example:
      digest announcement show 1
    """
    a, count = _counted(app, announcement_id)
    for label, value in (("subject", a.subject), ("preheader", a.preheader), ("kind", a.kind),
                         ("audience", f"{a.audience} ({count} member(s) now)"), ("state", a.state),
                         ("public", "yes" if a.public else "no"),
                         ("call to action", f"{a.cta_label}: {a.cta_url}" if a.cta_url else ""),
                         ("picture", a.picture_url), ("articles", ", ".join(map(str, a.articles))),
                         ("created", f"{a.created_at:%Y-%m-%d %H:%M} UTC by {a.created_by}"),
                         ("approved", f"{a.approved_at:%Y-%m-%d %H:%M} UTC by {a.approved_by}" if a.approved_at else ""),
                         ("send time", shown(a.send_time) if a.send_time and not a.queued_at else ""),
                         ("queued", f"{a.queued_at:%Y-%m-%d %H:%M} UTC as {a.key}" if a.queued_at else "")):
        if value:
            click.echo(f"{label + ':':<16}{value}")
    click.echo("")
    click.echo(a.body.rstrip())


@announcement.command("count")
@click.argument("announcement_id", type=int)
@pass_app
def count(app, announcement_id) -> None:
    """Print how many members the announcement would reach if queued now.

    \b
    Example:
      digest announcement count 1
    """
    a, n = _counted(app, announcement_id)
    click.echo(f"{n} member(s): {a.audience} ({a.kind})")


@announcement.command("preview")
@click.argument("announcement_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="File to write.")
@click.option("--format", "fmt", type=click.Choice(["html", "text"]), default="html", show_default=True)
@click.option("--language", "lang", default="", metavar="TAG", help="Another configured language (cy).")
@pass_app
def preview(app, announcement_id, out, fmt, lang) -> None:
    """Write one variant of the announcement as a member would see it; prints the audience count.

    \b
    Example:
      digest announcement preview 1 --out agm.html
      digest announcement preview 1 --out agm.txt --format text --language cy
    """
    try:
        a = lib.get_announcement(app.db, announcement_id)
        rendered = lib.render_preview(app.db, app.settings, announcement_id, fmt=fmt, lang=lang, now=now_utc())
        n = lib.audience_count(app.db, app.settings, a.audience, a.kind)
        Path(out).write_text(rendered.html if fmt == "html" else rendered.text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write: {exc.strerror or exc}") from None
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"wrote {out} ({fmt}{', ' + lang if lang else ''}): {rendered.subject}")
    click.echo(f"{n} member(s) would get it now: {a.audience} ({a.kind})")


@announcement.command("send-test")
@click.argument("announcement_id", type=int)
@click.option("--to", "to", required=True, metavar="ADDRESS", help="Where to send the test.")
@click.option("--format", "fmt", type=click.Choice(["html", "text"]), default="html", show_default=True)
@click.option("--language", "lang", default="", metavar="TAG", help="Another configured language (cy).")
@click.option("--transport", type=TransportChoice(), default=None)
@pass_app
def send_test(app, announcement_id, to, fmt, lang, transport) -> None:
    """Mail one variant of the announcement to an editor; touches no delivery.

    \b
    Example:
      digest announcement send-test 1 --to editor@example.org
    """
    kind = transport or app.settings.transport
    try:
        to, result = lib.send_test_announcement(app.db, app.settings, announcement_id, to,
                                                make_transport(kind, app.settings), fmt=fmt, lang=lang, now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    if not result.ok:
        raise click.ClickException(" ".join(str(x) for x in (f"{to}: refused:", result.code, result.message) if x))
    click.echo(f"sent a test of announcement {announcement_id} ({fmt}) to {to} via {kind}")


@announcement.command("approve")
@click.argument("announcement_id", type=int)
@click.option("--by", default="cli", show_default=True, metavar="WHO", help="Who approves it (recorded).")
@pass_app
def approve(app, announcement_id, by) -> None:
    """Approve an announcement: it may then be queued.

    \b
    Example:
      digest announcement approve 1 --by editor@example.org
    """
    try:
        a = lib.approve_announcement(app.db, announcement_id, by=by, now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"announcement {a.id} approved by {a.approved_by}")


@announcement.command("queue")
@click.argument("announcement_id", type=int)
@pass_app
def queue(app, announcement_id) -> None:
    """Queue an approved announcement to its audience; `digest send` then sends it.

    \b
    Example:
      digest announcement queue 1 && digest send
    """
    try:
        report = lib.queue_announcement(app.db, app.settings, announcement_id, by="cli", now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(announcement_queued(report))


@announcement.command("schedule")
@click.argument("announcement_id", type=int)
@click.option("--at", metavar='"YYYY-MM-DD HH:MM"', help="When to send it, a wall time in --zone.")
@click.option("--zone", metavar="ZONE", help="An IANA time zone such as Europe/London (default [digest] timezone).")
@click.option("--withdraw", is_flag=True, help="Take back its send time (it stays approved).")
@pass_app
def schedule(app, announcement_id, at, zone, withdraw) -> None:
    """Send an approved announcement at a time: the first `digest run` after it queues and sends it.

    Never before then; give --at again to change the time, or --withdraw.
    Editing or withdrawing the announcement (back to draft) clears it too.
    The wall time stays put across a clock change; a time the clocks skip
    is refused, a time they pass twice is the first of the two.

    \b
    Example:
      digest announcement schedule 1 --at "2027-06-28 07:00" --zone Europe/London
    """
    check_at_or_withdraw(at, zone, withdraw)
    try:
        if withdraw:
            before = lib.unschedule_announcement(app.db, announcement_id, by=who_runs(), now=now_utc())
            click.echo(f"announcement {announcement_id}: withdrew the send time {shown(before)}; "
                       "it stays approved until you queue or schedule it")
            return
        send = lib.schedule_announcement(app.db, app.settings, announcement_id, at, zone=zone, by=who_runs(),
                                         now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"announcement {announcement_id}: scheduled for {shown(send)}, {send.at:%Y-%m-%d %H:%M} UTC; "
               "the first `digest run` after it queues and sends it")


@announcement.command("evidence")
@click.argument("announcement_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="CSV file to write.")
@pass_app
def evidence(app, announcement_id, out) -> None:
    """Write every delivery of a queued announcement as CSV: member, address, state, when, the relay's answer.

    For the company secretary: the evidence that a statutory notice was sent.

    \b
    Example:
      digest announcement evidence 1 --out agm-notice-evidence.csv
    """
    try:
        n = lib.write_evidence_csv(app.db, announcement_id, Path(out))
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"wrote {n} delivery(ies) to {out}")


@announcement.group("audience")
def audience() -> None:
    """Saved audiences: a name for an audience spec, used as --audience saved:NAME.

    \b
    Example:
      digest announcement audience save fellows-wales attr:region=Wales,grade=fellow
      digest announcement audience list
    """


@audience.command("save")
@click.argument("name")
@click.argument("spec")
@pass_app
def audience_save(app, name, spec) -> None:
    """Save SPEC (all, topics:..., attr:...) under NAME; prints how many members it is now.

    \b
    Example:
      digest announcement audience save fellows-wales attr:region=Wales,grade=fellow
    """
    try:
        saved = lib.save_audience(app.db, app.settings, name, spec, by="cli", now=now_utc())
        n = lib.audience_count(app.db, app.settings, saved.spec)
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"saved audience {name}: {saved.spec} ({n} member(s) now)")


@audience.command("list")
@pass_app
def audience_list(app) -> None:
    """List the saved audiences with how many members each is now (for news).

    \b
    Example:
      digest announcement audience list
    """
    try:
        rows = [(name, spec, lib.audience_count(app.db, app.settings, spec)) for name, spec in lib.saved_audiences(app.db)]
    except DigestError as exc:
        raise fail(exc) from None
    for name, spec, n in rows:
        click.echo(f"{name:<24}  {spec:<40}  {n} member(s)")
    if not rows:
        click.echo("no saved audiences (`digest announcement audience save NAME SPEC`)")
