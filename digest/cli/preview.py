"""`digest preview`: the editor's look at an edition before anyone else sees it."""

from __future__ import annotations

from pathlib import Path

import click

from ..editorial.preview import PreviewRequest, make_preview
from ..editorial.screenshot import screenshot_views
from ..errors import DigestError
from . import fail, pass_app
from .options import console, now_utc, parse_topics

HTML_WARN_BYTES = 80_000


@click.command()
@click.argument("key", required=False)
@click.option("--week", metavar="YYYY-Www", help="ISO week, e.g. 2017-W25.")
@click.option("--day", metavar="YYYY-MM-DD", help="One day (a daily edition).")
@click.option("--month", metavar="YYYY-MM", help="One month (a monthly edition).")
@click.option("--since", metavar="DATE", help="Start of a custom window (with --until).")
@click.option("--until", metavar="DATE", help="Last day of a custom window (inclusive).")
@click.option("--topics", metavar="a,b", help="Only these topics (slugs, comma-separated).")
@click.option("--member", metavar="EMAIL", help="Show exactly the variant this member will get.")
@click.option("--subscriber", "subscriber", metavar="EMAIL", hidden=True)  # the old name of --member
@click.option("--language", metavar="TAG", help="In this language of [organisation] languages (e.g. cy), or "
                                                  "bilingual (language_mode = \"bilingual\"); default: the "
                                                  "member's, else the first.")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True),
              help="Write the email here (default: preview.html; with --text, standard output; - for standard output).")
@click.option("--text", "as_text", is_flag=True, help="The plain-text part instead of the HTML (printed unless --out).")
@click.option("--open", "open_it", is_flag=True, help="Open the result in a browser.")
@click.option("--screenshot", metavar="DIR", type=click.Path(file_okay=False),
              help="Also write PNGs of the email at 375 px and 600 px wide (headless Chromium): light and dark, "
                   "images on and off, and with every <style> removed (as Gmail's apps show it to some accounts).")
@click.option("--images-from", metavar="DIR", type=click.Path(file_okay=False, exists=True),
              help="For --screenshot: answer picture requests from files of the same name in DIR "
                   "(Chromium fetches nothing from other hosts).")
@pass_app
def preview(app, key, week, day, month, since, until, topics, member, subscriber, language, out, as_text, open_it,
            screenshot, images_from) -> None:
    """Write the email of an edition exactly as it will be sent, and list its articles.

    The edition is a KEY (2017-W25, 2017-06-21, 2017-06) or one of --week,
    --day, --month, or --since/--until. Without any, the week that `digest
    weekly` would send next (the last complete week). A built edition is shown
    as frozen; otherwise the articles are chosen now, as `edition build` would.

    \b
    Example:
      digest preview --week 2017-W25 --out preview.html
      digest preview 2017-W25 --member sian.jones@example.org --text
      digest preview --week 2017-W25 --language cy --out preview-cy.html
    """
    s = app.settings
    request = PreviewRequest(
        key=key, week=week, day=day, month=month, since=since, until=until,
        topics=parse_topics(topics, s.topic_slugs), member=member or subscriber,
        fmt="text" if as_text else "html", language=language,
    )
    try:
        result = make_preview(app.db, s, request, now=now_utc())
    except DigestError as exc:
        raise fail(exc) from None

    as_text = result.fmt == "text"
    to_stdout = out == "-" or (as_text and not out)
    if to_stdout:  # the email is the output; everything else goes to stderr
        click.echo(result.body, nl=False)
    path = None if to_stdout else Path(out or "preview.html")
    if path is not None:
        path.write_text(result.body, encoding="utf-8")
    _print_table(result, s, stderr=to_stdout)
    warnings = list(result.warnings)
    size = len(result.rendered.html.encode("utf-8"))
    if not as_text and size > HTML_WARN_BYTES:
        warnings.append(f"the HTML is {size / 1000:.0f} KB: over {HTML_WARN_BYTES // 1000} KB, "
                        "close to Gmail's 102 KB clipping limit")
    for w in warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    click.echo(f"wrote {path or 'standard output'} ({len(result.body.encode('utf-8')):,} bytes; "
               f"subject: {result.rendered.subject})", err=to_stdout)
    if screenshot:
        _screenshots(result, Path(screenshot), Path(images_from) if images_from else None, to_stdout=to_stdout)
    if open_it and path is not None:
        click.launch(str(path.resolve()))


def _screenshots(result, folder: Path, image_dir: Path | None, *, to_stdout: bool) -> None:
    """--screenshot: the PNGs written, and a warning for each width at which the email scrolls sideways."""
    html = result.body if result.fmt != "text" else result.html_filled
    try:
        shots = screenshot_views(html, folder, name=result.edition.key, image_dir=image_dir)
    except DigestError as exc:
        raise fail(exc) from None
    for suffix, shot in shots:
        click.echo(f"wrote {shot.path}", err=to_stdout)
        if shot.scrolls_sideways:
            how = " without its <style> (as Gmail's apps show it to non-Google accounts)" \
                if suffix == "-nostyle" else ""
            click.secho(f"warning: at {shot.width} px the email{how} is {shot.scroll_width} px wide: "
                        "readers would scroll sideways", fg="yellow", err=True)


def _print_table(result, settings, *, stderr: bool = False) -> None:
    from rich.markup import escape
    from rich.table import Table

    labels = {t.slug: t.label for t in settings.topics}
    e = result.edition
    table = Table(title=f"{e.key}: {len(result.items)} article(s)"
                        + (f" for {result.member}" if result.member else ""))
    for col in ("#", "date", "title", "topics", "words"):
        table.add_column(col, justify="right" if col in ("#", "words") else "left")
    for n, item in enumerate(result.items, 1):
        title = item.title + (" [pinned]" if item.pinned else "")
        table.add_row(str(n), item.published_at.astimezone(result.tz).strftime("%d %b"), escape(title),
                      ", ".join(labels.get(t, t) for t in item.topics) or "-", str(len(item.summary.split())))
    console(stderr=stderr).print(table)
