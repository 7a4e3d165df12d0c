"""`digest ingest`, `digest articles` and `digest article ...` (the editor's controls)."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import click

from ..db import articles as article_db
from ..edition.summarise import summarise
from ..errors import DigestError
from . import fail, pass_app
from .options import console, echo_json, now_utc, parse_when


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--published", metavar="DATE",
              help="Publication date for articles whose source gives none (listing exports); "
                   "default: the time they are first seen.")
@click.option("--no-image-fetch", is_flag=True,
              help="Do not fetch pictures to measure them: use the sizes the source declares.")
@pass_app
def ingest(app, sources: tuple[str, ...], published: str | None, no_image_fetch: bool) -> None:
    """Read articles from feeds, WordPress or listing exports into the database.

    A SOURCE is a path or http(s) URL of an RSS/Atom feed, WordPress REST API
    JSON (/wp-json/wp/v2/posts?_embed) or a plain-text listing export.
    Re-ingesting updates articles, never duplicates them. Each source is one
    transaction: a source that cannot be read leaves the database untouched.
    Each article's picture is fetched once (at most 5 MB, 5 s) to measure it.

    \b
    Example:
      digest ingest samples/news.xml news-export.txt --published 2017-06-21
    """
    from ..ingest.store import ingest_sources

    try:
        when = parse_when(published, app.settings.timezone, option="--published") if published else None
        fetch = None
        if no_image_fetch:
            from ..ingest.images import no_picture_fetch as fetch
        reports = ingest_sources(app.db, app.settings, sources, published=when, now=now_utc(), fetch_image=fetch)
    except DigestError as exc:
        raise fail(exc) from None
    failed = 0
    for r in reports:
        for problem in r.problems:
            click.echo(f"warning: {problem}", err=True)
        if r.error:
            failed += 1
            click.echo(f"Error: {r.line()}", err=True)
        else:
            click.echo(r.line())
    if failed:
        raise SystemExit(1)


@click.command()
@click.option("--since", metavar="DATE", help="Published on or after (date or ISO datetime).")
@click.option("--until", metavar="DATE", help="Published before (exclusive).")
@click.option("--topic", metavar="SLUG", help="Only articles with this topic.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--explain", is_flag=True, help="Show why each article has its topics.")
@pass_app
def articles(app, since, until, topic, as_json, explain) -> None:
    """List stored articles, newest first, with their topics and summaries.

    A link the source did not give is marked: [link: website] (a listing
    export's article links to its source's website, no guessed URL) or
    [link: template] (made by the source's link_template).

    \b
    Example:
      digest articles --since 2017-06-19 --until 2017-06-26 --explain
    """
    s = app.settings
    if topic and topic not in s.topic_slugs:
        raise click.BadParameter(f"unknown topic {topic!r}; known: {', '.join(s.topic_slugs)}",
                                 param_hint="--topic")
    try:
        lo = parse_when(since, s.timezone, option="--since") if since else None
        hi = parse_when(until, s.timezone, option="--until") if until else None
        with app.db.connect() as conn:
            found = article_db.list_articles(conn, since=lo, until=hi, topic=topic)
            reasons = article_db.topic_reasons(conn, [a.id for a in found]) if explain else {}
    except DigestError as exc:
        raise fail(exc) from None
    rows = [_article_row(a, s, reasons if explain else None) for a in found]
    if as_json:
        echo_json(rows)
        return
    tz = ZoneInfo(s.timezone)
    (_print_explained if explain else _print_table)(console(), found, rows, tz)


def _article_row(a, settings, reasons) -> dict:
    """What `digest articles` shows of one article (as JSON, and behind the table); reasons: with --explain."""
    return {
        "id": a.id,
        "title": a.title,
        "url": a.url,
        "author": a.author,
        "author_role": a.author_role,
        "published_at": a.published_at.isoformat() if a.published_at else None,
        "topics": a.topics,
        "summary": summarise(a, settings.summary_words),
        "link_origin": a.link_origin,  # "website": a stand-in, the source gave no link
        "language": a.language or settings.language,  # as its source or feed says
        "translation": a.translation_id,  # the article's translation (digest article translation), if any
        "pinned": a.pinned,
        "excluded": a.excluded,
        "image": _image_row(a.image, settings),
        **({"topic_reasons": {r.slug: r.reason for r in reasons.get(a.id, [])}} if reasons is not None else {}),
    }


def _print_explained(out, found, rows, tz) -> None:
    """One block per article: the reasons are too long for a table cell."""
    from rich.markup import escape  # rich only for a terminal's output, not for --json

    for a, row in zip(found, rows):
        flags = (" [pinned]" if row["pinned"] else "") + (" [excluded]" if row["excluded"] else "")
        flags += _link_flag(a)
        when = f"{a.published_at.astimezone(tz):%d %b %Y}" if a.published_at else "no date"
        out.print(f"[bold]{a.id}. {escape(a.title)}[/bold]{escape(flags)}  ({when})")
        for slug, reason in row["topic_reasons"].items():
            out.print(f"   {slug}: {escape(reason)}")
        if not row["topic_reasons"]:
            out.print("   no topic: no category alias or keyword matched")
        if row["image"]:
            out.print(f"   picture: {escape(_image_words(row['image']))}")


def _print_table(out, found, rows, tz) -> None:
    """Each article: its title (bold), what is special about it, then the summary members will read;
    topics wrap whole, never cut."""
    from rich.markup import escape  # rich only for a terminal's output, not for --json
    from rich.table import Table

    table = Table(title=f"{len(rows)} article(s)", show_lines=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("title and summary", ratio=3, overflow="fold")
    table.add_column("author", ratio=1, overflow="fold")
    table.add_column("topics", ratio=1, overflow="fold", min_width=12)
    for a, row in zip(found, rows):
        notes = [n for n in ("pinned" if row["pinned"] else "", "excluded" if row["excluded"] else "",
                             _link_flag(a).strip(" []")) if n]
        picture = row["image"]
        if picture:
            notes.append("picture left out" if picture["left_out"] else f"picture {picture['width']}×{picture['height']}")
        noted = "\n" + escape(" · ".join(f"[{n}]" for n in notes)) if notes else ""
        when = f"{a.published_at.astimezone(tz):%Y-%m-%d}" if a.published_at else "no date"
        table.add_row(str(a.id), when,
                      f"[bold]{escape(a.title)}[/bold]{noted}\n{escape(row['summary'])}",
                      escape(a.author or ""), "\n".join(row["topics"]) or "-")
    out.print(table)
    for a, row in zip(found, rows):
        if row["image"] and row["image"]["left_out"]:
            out.print(f"article {a.id}: picture left out of emails: {escape(row['image']['left_out'])}")


def _image_row(image, settings) -> dict | None:
    """What `digest articles` says about an article's picture (None: it has none)."""
    if image is None:
        return None
    best = image.pick(536)
    left_out = image.problem
    if not left_out and best is None:
        left_out = "no size known"
    if not left_out and not (best.url.startswith("https://")
                             or (settings.http_images and best.url.startswith("http://"))):
        left_out = f"not https: {best.url}"
    return {
        "url": best.url if best else image.sources[0].url,
        "width": best.width if best else 0,
        "height": best.height if best else 0,
        "measured": bool(best and best.measured),
        "alt": image.alt,
        "sizes": len(image.sources),
        "left_out": left_out,
    }


def _image_words(row: dict) -> str:
    if row["left_out"]:
        return f"left out of emails: {row['left_out']}"
    how = "measured" if row["measured"] else "as declared"
    alt = f"alt “{row['alt']}”" if row["alt"] else "no alt (the headline says it)"
    return f"{row['width']}×{row['height']} ({how}), {alt}: {row['url']}"


def _link_flag(a) -> str:
    """Marks a link the source did not give (a stand-in, or made by its link_template), an article in another
    language than the first, and one with a translation."""
    flags = f" [link: {a.link_origin}]" if a.link_origin != "source" else ""
    flags += f" [{a.language}]" if a.language else ""
    return flags + (f" [translation: {a.translation_id}]" if a.translation_id is not None else "")


@click.group()
def article() -> None:
    """Editorial controls on one article: pin, exclude, override its summary, date it.

    \b
    Example:
      digest article pin 12
      digest article summary 12 "A shorter summary for the email."
      digest article date 12 2017-06-21
    """


def _editorial(app, article_id: int, **changes) -> None:
    with app.db.begin() as conn:
        if not article_db.set_editorial(conn, article_id, now=now_utc(), **changes):
            raise click.ClickException(f"article {article_id}: no such article")
    click.echo(f"article {article_id}: " + ", ".join(f"{k}={v!r}" for k, v in changes.items()))


@article.command()
@click.argument("article_id", type=int)
@pass_app
def pin(app, article_id: int) -> None:
    """Put the article first in every edition of its window."""
    _editorial(app, article_id, pinned=True)


@article.command()
@click.argument("article_id", type=int)
@pass_app
def unpin(app, article_id: int) -> None:
    """Undo pin."""
    _editorial(app, article_id, pinned=False)


@article.command()
@click.argument("article_id", type=int)
@pass_app
def exclude(app, article_id: int) -> None:
    """Keep the article out of every edition."""
    _editorial(app, article_id, excluded=True)


@article.command()
@click.argument("article_id", type=int)
@pass_app
def include(app, article_id: int) -> None:
    """Undo exclude."""
    _editorial(app, article_id, excluded=False)


@article.command()
@click.argument("article_id", type=int)
@click.argument("text", required=False)
@click.option("--clear", is_flag=True, help="Go back to the summary made from the teaser.")
@pass_app
def summary(app, article_id: int, text: str | None, clear: bool) -> None:
    """Override the article's summary (or --clear the override)."""
    if clear == bool(text):
        raise click.UsageError("give either TEXT or --clear")
    if text is not None:
        text = " ".join(text.split())
    _editorial(app, article_id, summary_override=None if clear else text)


@article.command("date")
@click.argument("article_id", type=int)
@click.argument("day", metavar="YYYY-MM-DD")
@pass_app
def date_(app, article_id: int, day: str) -> None:
    """Give the article a publication date (noon that day, in the editions' time zone).

    For an article whose feed gave an impossible date: it is stored without
    one and is in no edition until it has one.

    \b
    Example:
      digest article date 12 2017-06-21
    """
    try:
        when = Date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date like 2017-06-21", param_hint="YYYY-MM-DD") from None
    tz = ZoneInfo(app.settings.timezone)
    published = datetime.combine(when, time(12), tzinfo=tz).astimezone(timezone.utc)
    try:
        with app.db.begin() as conn:
            if not article_db.set_published(conn, article_id, published, now=now_utc()):
                raise click.ClickException(f"article {article_id}: no such article")
    except DigestError as exc:
        raise fail(exc) from None
    click.echo(f"article {article_id}: dated {when.isoformat()}")


@article.command("translation")
@click.argument("article_id", type=int)
@click.argument("other_id", type=int, required=False)
@click.option("--clear", is_flag=True, help="Undo the article's translation link.")
@pass_app
def translation(app, article_id: int, other_id: int | None, clear: bool) -> None:
    """Link an article to its translation (the same story in another language).

    A member whose language is the other's gets the translation in its place;
    where there is none, the article as written, labelled with its language.
    Feeds that say where a translation is (WPML, Polylang) and links that differ
    by a language's path segment (/cy/) are linked when both are read.

    \b
    Example:
      digest article translation 12 31
      digest article translation 12 --clear
    """
    if clear == (other_id is not None):
        raise click.UsageError("give either OTHER_ID or --clear")
    with app.db.begin() as conn:
        if clear:
            if not article_db.unlink_translation(conn, article_id):
                raise click.ClickException(f"article {article_id}: has no translation linked")
            click.echo(f"article {article_id}: no translation")
            return
        found = article_db.languages_of(conn, [article_id, other_id])
        for wanted in (article_id, other_id):
            if wanted not in found:
                raise click.ClickException(f"article {wanted}: no such article")
        if article_id == other_id or found[article_id] == found[other_id]:
            tag = found[article_id] or app.settings.language
            raise click.ClickException(f"articles {article_id} and {other_id} are both in {tag}: a translation "
                                       "is in another language (set a source's language in [[sources]])")
        article_db.link_translations(conn, article_id, other_id)
    click.echo(f"article {article_id} ({found[article_id] or app.settings.language}) and article {other_id} "
               f"({found[other_id] or app.settings.language}) are each other's translation")
