"""What happened to a sent edition: delivered, failed, bounced, complaints, unsubscribes, reads.

    report = edition_report(db, settings, "2017-W25")
    report.as_dict()                   # for --json
    report_html(report)                # the same as a chart, for the PNG (and the editors' desk)
    report_png(report, Path("w25.png"))

Definitions (see README "After the send"):
  sent                 the relay accepted the message
  failed during send   refused in the SMTP conversation (or given up after retries)
  bounced afterwards   a bounce report came back for the delivery (VERP) after it was sent, or a
                       provider's webhook said it bounced or was suppressed
  delivered            sent and no bounce came back
  complaints           ARF reports (or a provider's complaint events) about a delivery of this edition
  unsubscribes         members who left by this edition's links (page or one-click) before their
                       next message: links name the member, not the edition
  reads                followed article links, when [tracking] clicks = "aggregate"; link scanners apart
"""

from __future__ import annotations

import html as html_lib
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import Settings
from ..db import Database
from ..db import editions as edition_db
from ..db import reports as reports_db
from ..db.schema import DELIVERY_STATES
from ..errors import EditionError
from ..i18n import language


@dataclass(frozen=True)
class ArticleReads:
    position: int
    title: str
    topics: tuple[str, ...]
    reads: int
    scanner: int


@dataclass
class EditionReport:
    key: str
    subject: str
    deliveries: dict[str, int]  # by state
    sent: int
    failed_during_send: int
    bounced_afterwards: int
    soft_bounces_afterwards: int
    delivered: int
    complaints: int
    unsubscribes: int  # by this edition's links
    unsubscribes_by_mail: int
    auto_replies: int
    counting: bool
    articles: list[ArticleReads] = field(default_factory=list)  # ranked, most read first
    topics: dict[str, int] = field(default_factory=dict)  # reads per topic
    variants: dict[str, int] = field(default_factory=dict)  # reads per variant

    @property
    def reads(self) -> int:
        return sum(a.reads for a in self.articles)

    @property
    def scanner(self) -> int:
        return sum(a.scanner for a in self.articles)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["reads"], d["scanner"] = self.reads, self.scanner
        d["articles"] = [dict(asdict(a), topics=list(a.topics)) for a in self.articles]
        return d


def edition_report(db: Database, settings: Settings, key: str) -> EditionReport:
    with db.connect() as conn:
        edition = edition_db.load_edition(conn, key)
        if edition is None:
            raise EditionError(key, "no such edition")
        if edition.queued_at is None:
            raise EditionError(key, "was never queued: there is nothing to report yet")
        outcomes = reports_db.edition_outcomes(conn, edition.id)
        unsubscribes = reports_db.unsubscribes_after(conn, edition.id)
        click_counts = reports_db.click_counts(conn, edition.id)
    states = {name: outcomes["states"].get(n, 0) for n, name in DELIVERY_STATES.items()}
    kinds, after = outcomes["kinds"], outcomes["outcomes"]
    # Returned reports are filed by what they say (bounce, delay); provider events by the bounce table's kind.
    bounced_after = sum(kinds.get(k, 0) for k in ("bounce", "permanent", "transient", "suppressed"))
    articles = []
    topics: dict[str, int] = {}
    variants: dict[str, int] = {}
    for (position, variant, kind), n in click_counts.items():
        if kind == "read":
            variants[variant] = variants.get(variant, 0) + n
    for item in edition.items:
        reads = sum(n for (p, _, k), n in click_counts.items() if p == item.position and k == "read")
        scanner = sum(n for (p, _, k), n in click_counts.items() if p == item.position and k != "read")
        articles.append(ArticleReads(item.position, item.title, tuple(item.topics), reads, scanner))
        for t in item.topics:
            topics[t] = topics.get(t, 0) + reads
    articles.sort(key=lambda a: (-a.reads, a.position))
    return EditionReport(
        key=edition.key, subject=edition.subject, deliveries=states, sent=outcomes["sent"],
        failed_during_send=outcomes["failed"], bounced_afterwards=bounced_after,
        soft_bounces_afterwards=kinds.get("delay", 0) + kinds.get("delayed", 0),
        delivered=max(0, outcomes["sent"] - bounced_after), complaints=kinds.get("complaint", 0),
        unsubscribes=unsubscribes, unsubscribes_by_mail=after.get("unsubscribed", 0),
        auto_replies=kinds.get("auto-reply", 0), counting=settings.tracking_clicks == "aggregate",
        articles=articles, topics=dict(sorted(topics.items(), key=lambda kv: -kv[1])),
        variants=dict(sorted(variants.items(), key=lambda kv: -kv[1])))


# ---------------------------------------------------------------- as a chart


def _bars(rows: list[tuple[str, int, str]], scale: int) -> str:
    out = []
    for label, value, colour in rows:
        width = 0 if scale <= 0 else round(100 * value / scale, 1)
        out.append(
            f'<div class="row"><div class="label">{html_lib.escape(label)}</div>'
            f'<div class="track"><div class="bar" style="width:{width}%;background:{colour}"></div></div>'
            f'<div class="value">{value:,}</div></div>')
    return "\n".join(out)


def report_html(report: EditionReport, settings: Settings) -> str:
    """The report as one HTML page (the PNG's source), in the editors' language."""
    brand, lang = settings.brand_colour, language(settings.editor_language)
    _ = lang.gettext
    delivery = [
        (_("Delivered"), report.delivered, brand),
        (_("Bounced afterwards"), report.bounced_afterwards, "#b45309"),
        (_("Failed during the send"), report.failed_during_send, "#b91c1c"),
        (_("Complaints"), report.complaints, "#7f1d1d"),
        (_("Unsubscribed by its links"), report.unsubscribes, "#6b7280"),
        (_("Unsubscribed by mail"), report.unsubscribes_by_mail, "#6b7280"),
    ]
    scale = max([v for _l, v, _c in delivery] + [report.sent, 1])
    heading, delivery_heading = _("Reads per article"), _("Delivery")
    if report.counting:
        top = max([a.reads for a in report.articles] + [1])
        reads = _bars([(f"{i}. {a.title}", a.reads, brand) for i, a in enumerate(report.articles, 1)], top)
        counted = _("%(reads)s reads; %(scanner)s link-scanner requests not counted") % {
            "reads": f"{report.reads:,}", "scanner": f"{report.scanner:,}"}
        reads_part = f"<h2>{heading} <small>{counted}</small></h2>\n{reads}"
    else:
        off = _("Click counting is off ([tracking] clicks).")
        reads_part = f'<h2>{heading}</h2><p class="note">{off}</p>'
    sub = _("%(sent)s sent; %(queued)s still queued;\n%(delayed)s delayed after the send; "
            "%(replies)s auto-replies ignored") % {
        "sent": f"{report.sent:,}", "queued": f'{report.deliveries.get("queued", 0):,}',
        "delayed": f"{report.soft_bounces_afterwards:,}", "replies": f"{report.auto_replies:,}"}
    return f"""<!DOCTYPE html>
<html lang="{lang.locale.language}"><head><meta charset="utf-8"><title>{html_lib.escape(report.key)}</title>
<style>
body {{ font: 15px/1.4 -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #111827;
       margin: 0; padding: 24px 28px; width: 744px; background: #fff; }}
h1 {{ font-size: 22px; margin: 0 0 2px; color: {brand}; }}
h2 {{ font-size: 17px; margin: 22px 0 8px; }} h2 small {{ font-weight: normal; color: #4b5563; font-size: 13px; }}
.sub {{ color: #4b5563; margin: 0 0 8px; }}
.row {{ display: flex; align-items: center; margin: 5px 0; }}
.label {{ width: 300px; padding-right: 10px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }}
.track {{ flex: 1; background: #f3f4f6; height: 18px; }}
.bar {{ height: 18px; }}
.value {{ width: 70px; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }}
.note {{ color: #4b5563; }}
</style></head><body>
<h1>{html_lib.escape(report.key)}: {html_lib.escape(report.subject)}</h1>
<p class="sub">{sub}</p>
<h2>{delivery_heading}</h2>
{_bars(delivery, scale)}
{reads_part}
</body></html>
"""


def report_png(report: EditionReport, settings: Settings, path: Path) -> Path:
    """The chart as a PNG, drawn by headless Chromium (editorial/screenshot.py)."""
    from .screenshot import screenshot_html

    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="digest-report-") as tmp:
        shot = screenshot_html(report_html(report, settings), Path(tmp), widths=(800,), name="report",
                              height=200)[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shot.path.read_bytes())
    return path
