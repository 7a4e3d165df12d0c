"""Checks of an email's HTML part: Gmail's limits, accessibility basics, links, preheader, footer."""

from __future__ import annotations

import re
from typing import Mapping

from lxml import html as lxml_html

from ..config import Settings
from . import Failure, collapse, short

GMAIL_CSS_BYTES = 16 * 1024  # Gmail ignores <style> beyond this
PREHEADER_MIN, PREHEADER_MAX = 40, 130
# Characters emails pad the hidden preheader with; not part of its text.
PREHEADER_FILLER = "\u034f\u200b\u200c\u200d\u2007\u00ad\u00a0\ufeff"
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def link_ok(url: str, settings: Settings) -> bool:
    """An absolute https: URL, or one under the configured base URL (http://127.0.0.1 in the demo)."""
    base = settings.base_url.rstrip("/")
    return bool(re.match(r"https://[^/\s?#]", url)) or url == base or url.startswith(base + "/")


def _hidden(el) -> bool:
    """el or an ancestor is display:none / visibility:hidden / hidden."""
    while el is not None:
        if isinstance(el.tag, str) and (el.get("hidden") is not None or _HIDDEN.search(el.get("style") or "")):
            return True
        el = el.getparent()
    return False


def _text(el) -> str:
    return collapse(el.text_content())


def check_html(html: str, settings: Settings, unsubscribe: str | None, out: list[Failure],
               image_bytes: Mapping[str, int] | None = None) -> None:
    """Append the HTML part's failures to out; unsubscribe: the List-Unsubscribe https URI, if any.

    image_bytes: what each picture weighs (by URL, as measured at ingest), for the weight check.
    """
    if not re.match(r"\s*<!doctype html", html, re.I):
        out.append(Failure("doctype", "the HTML does not start with <!DOCTYPE html>"))
    try:
        doc = lxml_html.document_fromstring(html)
    except Exception as exc:  # lxml's ParserError and friends
        out.append(Failure("html", f"the HTML cannot be parsed: {exc}"))
        return
    if not (doc.get("lang") or "").strip():
        out.append(Failure("lang", "<html> has no lang attribute (screen readers need the language)"))

    css = sum(len((s.text or "").encode("utf-8")) for s in doc.iter("style"))
    if css >= GMAIL_CSS_BYTES:
        out.append(Failure("css-size", f"<style> holds {css:,} bytes of CSS; Gmail ignores it beyond "
                                       f"{GMAIL_CSS_BYTES:,}"))

    no_alt = [img.get("src") or "?" for img in doc.iter("img") if img.get("alt") is None]
    if no_alt:
        out.append(Failure("missing-alt", f"{len(no_alt)} image(s) without alt, e.g. {short(no_alt[0])}"))
    _check_images(doc, settings, image_bytes or {}, out)

    layout = [t for t in doc.iter("table") if (t.get("role") or "").lower() != "presentation"
              and t.find(".//th") is None and t.find("caption") is None]
    if layout:
        out.append(Failure("layout-table", f"{len(layout)} layout table(s) without role=\"presentation\""))

    if not any(_text(h) for h in doc.iter(*_HEADINGS)):
        out.append(Failure("headings", "the HTML has no headings (screen-reader users navigate by them)"))

    empty, bad_urls = 0, []
    for a in doc.iter("a"):
        href = a.get("href")
        if href is None:
            continue
        label = _text(a) or (a.get("aria-label") or "").strip() or (a.get("title") or "").strip()
        if not label and not any((img.get("alt") or "").strip() for img in a.iter("img")):
            empty += 1
    if empty:
        out.append(Failure("empty-link", f"{empty} link(s) with no text, alt or aria-label"))
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("href", "src"):
            url = (el.get(attr) or "").strip()
            if attr == "src" and el.tag == "img":
                continue  # pictures: _check_images
            if attr in el.attrib and not (link_ok(url, settings) or (el.tag == "a" and url.startswith("mailto:"))):
                bad_urls.append(url or "(empty)")
    if bad_urls:
        out.append(Failure("link-url", f"{len(bad_urls)} URL(s) in href/src not absolute https: (nor under "
                                       f"{settings.base_url}), "
                                       f"e.g. {short(bad_urls[0])!r}"))

    _check_preheader(doc, out)
    _check_footer(doc, settings, unsubscribe, out)


def _check_images(doc, settings: Settings, image_bytes: Mapping[str, int], out: list[Failure]) -> None:
    """Pictures: https only, a width and height each, and not too heavy together."""
    srcs = [(img.get("src") or "").strip() for img in doc.iter("img")]
    ok_scheme = ("https://", "http://") if settings.http_images else ("https://",)
    insecure = [src or "(empty)" for src in srcs if not (src.startswith(ok_scheme) and len(src) > 8)]
    if insecure:
        out.append(Failure("image-https", f"{len(insecure)} image(s) not on https (mail clients block or warn), "
                                          f"e.g. {short(insecure[0])!r}"))
    unsized = [img.get("src") or "?" for img in doc.iter("img")
               if not ((img.get("width") or "").isdigit() and (img.get("height") or "").isdigit())]
    if unsized:
        out.append(Failure("image-size", f"{len(unsized)} image(s) without a pixel width and height "
                                         f"(Outlook shows them at full size), e.g. {short(unsized[0])}"))
    total = sum(image_bytes.get(src, 0) for src in set(srcs))
    limit = settings.image_weight_kb * 1024
    if total > limit:
        out.append(Failure("image-weight", f"the images weigh {total // 1024:,} KB together; keep them under "
                                           f"{settings.image_weight_kb:,} KB (image_weight_kb): slow on phones"))


def _check_preheader(doc, out: list[Failure]) -> None:
    body = doc.find("body")
    hidden = next((el for el in (body.iter() if body is not None else ()) if isinstance(el.tag, str)
                   and _HIDDEN.search(el.get("style") or "")), None)
    if hidden is None:
        out.append(Failure("preheader", "no hidden preheader at the top of the body"))
        return
    text = collapse("".join(c for c in hidden.text_content() if c not in PREHEADER_FILLER))
    if not PREHEADER_MIN <= len(text) <= PREHEADER_MAX:
        out.append(Failure("preheader", f"the preheader is {len(text)} characters; inboxes show "
                                        f"{PREHEADER_MIN} to {PREHEADER_MAX} well: {short(text)!r}"))


def _check_footer(doc, settings: Settings, unsubscribe: str | None, out: list[Failure]) -> None:
    links = [a for a in doc.iter("a") if (a.get("href") or "").strip()
             and ((a.get("href") or "").strip() == unsubscribe if unsubscribe else "unsubscribe" in a.get("href", ""))]
    if not any(_text(a) and not _hidden(a) for a in links):
        what = "the List-Unsubscribe URL" if unsubscribe else "an unsubscribe page"
        out.append(Failure("unsubscribe-link", f"the HTML shows no visible link to {what}"))
    address = collapse(settings.address)
    if not address:
        return  # reported once for the message
    for el in list(doc.iter("head", "style", "script")):
        el.drop_tree()
    for el in [e for e in doc.iter() if isinstance(e.tag, str) and _HIDDEN.search(e.get("style") or "")]:
        if el.getparent() is not None:
            el.drop_tree()
    if address not in _text(doc):
        out.append(Failure("postal-address", f"the HTML does not show the postal address {short(address)!r}"))
