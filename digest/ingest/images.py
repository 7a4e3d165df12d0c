"""Articles' pictures: found in what a source says (pure), then measured once (I/O).

Where a picture comes from, first found wins:
  WordPress   _embedded["wp:featuredmedia"][0]: source_url, media_details (width,
              height, sizes), alt_text
  RSS/Atom    media:content / media:thumbnail (Media RSS), <enclosure type="image/*">,
              Atom <link rel="enclosure" type="image/*">
  any         else the first <img> of the teaser, then of the body

`measure()` fetches one file of each picture (the one an email would show),
bounded in size and time, and reads its real width and height with Pillow.
When it cannot, the sizes the source declares stand; without any size the
picture gets a `problem` and is left out of emails (`digest articles` says so).
"""

from __future__ import annotations

import io
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from html.parser import HTMLParser
from typing import Iterable, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

from digest.ingest.clean import html_to_text
from digest.models import ArticleImage, ImageSource
from digest.outbound import Outbound, OutboundError

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # a web picture is kilobytes to a few MB; more is not worth a fetch
FETCH_TIMEOUT = 5.0  # seconds per picture
FETCH_THREADS = 4
LEAD_WIDTH = 536  # the width an email shows a lead picture at (render.COLUMN_WIDTH)
USER_AGENT = "digest/0.1 (email news digest; measuring pictures)"
NO_SIZE = "no size: the picture could not be fetched{why} and the source declares none"


# ---- finding pictures (pure) -----------------------------------------------------


def _int(value) -> int:
    try:
        n = int(str(value).strip().removesuffix("px"))
    except (TypeError, ValueError):
        return 0
    return n if 0 < n < 20000 else 0


def _absolute(url: str | None, base: str | None) -> str | None:
    url = url.strip() if isinstance(url, str) else ""  # JSON may give a number or a list
    if not url:
        return None
    try:
        url = urljoin(base, url) if base else url
        parts = urlsplit(url)
    except ValueError:  # "http://[::1" is no URL
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _image(sources: Iterable[tuple[str | None, object, object]], alt: str = "", base: str | None = None
           ) -> ArticleImage | None:
    seen, out = set(), []
    for url, width, height in sources:
        url = _absolute(url, base)
        if url and url not in seen:
            seen.add(url)
            out.append(ImageSource(url, _int(width), _int(height)))
    if not out:
        return None
    return ArticleImage(alt=" ".join((alt or "").split()), sources=tuple(out))


def _is_image_type(kind: str | None, url: str | None) -> bool:
    kind = (kind or "").lower()
    if kind:
        return kind.startswith("image/")
    return bool(re.search(r"\.(?:jpe?g|png|gif|webp)(?:$|\?)", (url or "").lower()))


def from_feed_entry(entry: Mapping, base: str | None) -> ArticleImage | None:
    """The picture of a feedparser entry (Media RSS, enclosures), else None."""
    media = [m for m in entry.get("media_content") or []
             if (m.get("medium") == "image" or _is_image_type(m.get("type"), m.get("url")))]
    # A Media RSS caption (media:description, kept apart by feeds.py) is the picture's alt text;
    # without one alt stays empty, and the headline beside the picture says what it shows.
    caption = entry.get("media_caption")
    alt = html_to_text(caption) if isinstance(caption, str) else ""
    if media:
        thumbs = entry.get("media_thumbnail") or []
        return _image([(m.get("url"), m.get("width"), m.get("height")) for m in media]
                      + [(t.get("url"), t.get("width"), t.get("height")) for t in thumbs], alt, base)
    thumbs = entry.get("media_thumbnail") or []
    if thumbs:
        return _image([(t.get("url"), t.get("width"), t.get("height")) for t in thumbs], alt, base)
    for enc in entry.get("enclosures") or []:  # RSS <enclosure> and Atom <link rel="enclosure">
        if _is_image_type(enc.get("type"), enc.get("href") or enc.get("url")):
            return _image([(enc.get("href") or enc.get("url"), 0, 0)], alt, base)
    return None


def from_wordpress(post: Mapping, base: str | None) -> ArticleImage | None:
    """The featured image of a WordPress REST post (with ?_embed), else None."""
    embedded = post.get("_embedded") if isinstance(post.get("_embedded"), Mapping) else {}
    media = embedded.get("wp:featuredmedia")
    if not isinstance(media, list) or not media or not isinstance(media[0], Mapping):
        return None
    m = media[0]
    if m.get("media_type") not in (None, "image") or "code" in m:  # {"code": "rest_forbidden"} when private
        return None
    details = m.get("media_details") if isinstance(m.get("media_details"), Mapping) else {}
    sources = [(m.get("source_url"), details.get("width"), details.get("height"))]
    sizes = details.get("sizes") if isinstance(details.get("sizes"), Mapping) else {}
    for size in sizes.values():
        if isinstance(size, Mapping):
            sources.append((size.get("source_url"), size.get("width"), size.get("height")))
    # alt_text only: a file's title ("IMG_2041") is no description; empty alt, the headline says it.
    return _image(sources, str(m.get("alt_text") or ""), base)


class _FirstImg(HTMLParser):
    def __init__(self):
        super().__init__()  # convert_charrefs=True is the default
        self.found: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "img" and self.found is None:
            found = dict(attrs)
            if found.get("src"):
                self.found = found

    handle_startendtag = handle_starttag


def from_html(*fragments: str | None, base: str | None = None) -> ArticleImage | None:
    """The first <img> of the first fragment that has one (teaser, then body)."""
    for fragment in fragments:
        if not fragment or "<img" not in fragment:
            continue
        parser = _FirstImg()
        parser.feed(fragment)
        img = parser.found
        if img:
            return _image([(img.get("src"), img.get("width"), img.get("height"))], img.get("alt") or "", base)
    return None


# ---- measuring (I/O) ---------------------------------------------------------------


class FetchFailed(Exception):
    pass


def fetch_size(url: str, *, timeout: float = FETCH_TIMEOUT, max_bytes: int = MAX_IMAGE_BYTES,
               client: Outbound | None = None, https_only: bool = True) -> tuple[int, int, int]:
    """(width, height, bytes) of the picture at url, read by Pillow from the file itself.

    Through the outbound client (default: no internal address), over https
    only unless https_only is False (http_images, for local tests and demos),
    each read within `timeout` and the whole picture within twice that.
    FetchFailed with a short reason when the server fails, it is too big or
    slow, it is not allowed, or it is not a picture.
    """
    client = client or Outbound(user_agent=USER_AGENT)
    try:
        r = client.get(url, headers={"Accept": "image/*"}, deadline=2 * timeout, read_timeout=timeout,
                       max_bytes=max_bytes, https_only=https_only)
    except OutboundError as exc:
        raise FetchFailed(f"over {max_bytes // 1024} KB" if exc.kind == "too_big" else exc.reason) from None
    if not 200 <= r.status < 300:
        raise FetchFailed(f"HTTP {r.status}")
    kind = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if kind and not kind.startswith("image/") and kind != "application/octet-stream":
        raise FetchFailed(f"not a picture ({kind})")
    return (*picture_size(r.body), len(r.body))


def picture_size(data: bytes) -> tuple[int, int]:
    """(width, height) Pillow reads from the file's header; FetchFailed when it cannot.

    A picture declaring absurd dimensions (a decompression bomb: 74 bytes
    saying 30000 x 30000) is a picture problem, not a crash; Pillow's
    warnings are silenced here, the problem says it in one line.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
    except Image.DecompressionBombError:
        raise FetchFailed("a picture declaring more pixels than any email shows") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise FetchFailed("not a picture Pillow can read") from None
    if not (width and height):
        raise FetchFailed("a picture with no size")
    return width, height


def _measure_one(image: ArticleImage, fetch) -> ArticleImage:
    target = image.pick(LEAD_WIDTH) or image.sources[0]
    try:
        width, height, size = fetch(target.url)
    except Exception as exc:  # FetchFailed, or a reader's own bug: a picture problem, never a failed source
        if not isinstance(exc, FetchFailed):
            exc = FetchFailed(f"cannot be read ({type(exc).__name__})")
        if image.usable:
            return image  # the declared sizes stand
        return replace(image, problem=NO_SIZE.format(why=f" ({exc})"))
    measured = replace(target, width=width, height=height, bytes=size, measured=True)
    sources = tuple(measured if s.url == target.url else s for s in image.sources)
    return replace(image, sources=sources, problem="")


def measure(images: Sequence[ArticleImage | None], *, fetch=None, known: Mapping[str, ArticleImage] | None = None,
            threads: int = FETCH_THREADS) -> list[ArticleImage | None]:
    """Each picture with its real size where it can be fetched (one fetch per picture).

    known: pictures measured before, by first URL (a re-ingest fetches nothing
    it already measured). fetch(url) -> (width, height, bytes), FetchFailed
    when it cannot; default fetch_size.
    """
    fetch = fetch or fetch_size
    known = known or {}
    out: list[ArticleImage | None] = list(images)
    todo = []
    for n, image in enumerate(images):
        if image is None:
            continue
        before = known.get(image.sources[0].url)
        if before is not None and any(s.measured for s in before.sources) and \
                [s.url for s in before.sources] == [s.url for s in image.sources]:
            out[n] = replace(before, alt=image.alt)
        else:
            todo.append(n)
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(todo)))) as pool:
            for n, result in zip(todo, pool.map(lambda i: _measure_one(images[i], fetch), todo)):
                out[n] = result
    return out


def no_picture_fetch(url: str) -> tuple[int, int, int]:
    """A fetch that never fetches (ingest --no-image-fetch): declared sizes only."""
    raise FetchFailed("not fetched")
