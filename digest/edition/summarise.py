"""Summaries from teasers: the short text members read under each headline.

Pure: takes an Article, returns a string. The source text is the editor's
override, else the teaser, else the body up to its "more" marker, else the
body's first paragraph. Cleaning removes bylines, "Continue reading" style
markers, HTML tags and entities; trimming keeps within a word budget without
ever cutting a word in half.
"""

from __future__ import annotations

import html
import re

from ..models import Article

ELLIPSIS = "\u2026"

# Block-level tags become line breaks so that a byline in its own <p> is a line.
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/blockquote|/tr|hr)\b[^>]*>", re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Inline tags vanish ("<b>noon</b>…" stays "noon…"); any other tag separates words.
_INLINE_TAG = re.compile(r"<\s*/?\s*(?:a|b|i|u|s|em|strong|span|abbr|code|sup|sub|small|mark|q|cite|font)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2007\u202f\u2009\u200a\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")

# Where a body's excerpt ends (WordPress and blog conventions).
_BODY_MARKER = re.compile(
    r"<!--\s*more\b.*?-->|<span[^>]*\bid=[\"']more-\d+[\"'][^>]*>|\bContinue reading\b|\b(?:Read more|Read More|READ MORE)\b",
    re.S,
)

# Markers to remove from a teaser. "Continue reading ..." runs to the end of its
# line (WordPress appends the title and an arrow); "Read more" only counts at the
# end of a line, so "Read more about GDPR in our guide" is left alone. Both are
# matched with their capitals: "we should all read more" is a sentence.
_MARKERS = (
    re.compile(r"\bContinue reading\b[^\n]{0,300}$", re.M),
    re.compile(r"\b(?:Read more|Read More|READ MORE)\b\s*(?:[.:!\u2026\u2192\u00bb>]+)?\s*$", re.M),
    re.compile(r"\[\s*(?:\u2026|\.\.\.|&hellip;)\s*\]"),
)

# "By NAME, ROLE" or "By NAME": a short line, a capitalised name of a few words.
_NAME_WORD = r"(?:[A-Z][\w'\u2019\-]*\.?|[a-z]{1,3})"  # "Dr", "O'Neil", "van", "de"
_BYLINE = re.compile(rf"^by\s+(?:Dr\.?\s+|Prof\.?\s+)?[A-Z][\w'\u2019\-]*\.?(?:\s+{_NAME_WORD}){{0,4}}\s*(?:[,\u2013\u2014|-]\s*[^\n]*)?$")

# Sentence ends that are not: "Dr." in the middle of a summary is not a full stop.
_ABBREVIATIONS = {"dr.", "mr.", "mrs.", "ms.", "prof.", "st.", "e.g.", "i.e.", "etc.", "vs.", "no.", "cllr.", "rev."}
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*$")
_TRAILING_JOINERS = re.compile(r"[,;:]+$")


def _fold(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split()).casefold()


def to_text(fragment: str) -> str:
    """HTML or plain text to plain text with line breaks between blocks."""
    text = _COMMENT.sub(" ", fragment)
    text = _BLOCK_TAG.sub("\n", text)
    text = _INLINE_TAG.sub("", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _ZERO_WIDTH.sub("", text)
    text = _SPACES.sub(" ", text)
    return "\n".join(line.strip() for line in text.splitlines())


def _is_byline(line: str, article: Article | None) -> bool:
    if len(line.split()) > 16 or not line:
        return False
    if line[:3].casefold() == "by " and _BYLINE.match("by" + line[2:]):
        # "By 2020, all councils..." fails the name test; a sentence ends with a full stop.
        return not line.rstrip().endswith((".", "!", "?")) or line.rstrip().endswith((" Ltd.", " Inc."))
    if article is not None and article.author:
        folded, author = _fold(line), _fold(article.author)
        forms = {author, _fold(f"by {article.author}")}
        if article.author_role:
            forms |= {_fold(f"{article.author}, {article.author_role}"), _fold(f"by {article.author}, {article.author_role}")}
        if folded in forms:
            return True
        if not article.author_role and folded.startswith(author + ",") and not folded.endswith("."):
            return True
    return False


_CREDIT = re.compile(rf"^(?:Dr\.?\s+|Prof\.?\s+)?[A-Z][\w'\u2019\-]*(?:\s+{_NAME_WORD}){{1,3}},\s+[^\n]+$")


def _looks_like_credit(lines: list[str]) -> bool:
    """A first line "Name Surname, Role" standing alone above the text (no author known)."""
    first = lines[0]
    return (
        len(lines) > 2
        and lines[1] == ""
        and len(first.split()) <= 14
        and not first.endswith((".", "!", "?", ":"))
        and bool(_CREDIT.match(first))
    )


def clean(fragment: str | None, article: Article | None = None) -> str:
    """Plain one-paragraph text: tags, entities, leading bylines and "more" markers removed."""
    if not fragment:
        return ""
    text = to_text(fragment)
    for pattern in _MARKERS:
        text = pattern.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    for _ in range(2):  # a name line and a "By ..." line may both be there
        if lines and (_is_byline(lines[0], article) or _looks_like_credit(lines)):
            lines.pop(0)
            while lines and not lines[0]:
                lines.pop(0)
    return " ".join(" ".join(lines).split())


def trim_words(text: str, words: int) -> str:
    """At most `words` words of `text` (whitespace normalised), never cutting a word.

    Longer text is cut at the last sentence end that falls within the last third
    of the budget, or else after the last whole word that fits, followed by "…"
    (trailing ",;:" dropped). The ellipsis is not a word and appears only when
    the text was cut.
    """
    if words < 1:
        raise ValueError(f"a summary needs at least one word, not {words}")
    tokens = text.split()
    if len(tokens) <= words:
        return " ".join(tokens)
    earliest = words - words // 3
    for count in range(words, max(earliest, 1) - 1, -1):
        last = tokens[count - 1]
        if _SENTENCE_END.search(last) and last.casefold() not in _ABBREVIATIONS:
            return " ".join(tokens[:count])
    kept = tokens[:words]
    # A lone dash or bullet at the end reads badly before "…"; drop it.
    while len(kept) > 1 and not any(ch.isalnum() for ch in kept[-1]):
        kept.pop()
    last = _TRAILING_JOINERS.sub("", kept[-1]) or kept[-1]
    if last.endswith((ELLIPSIS, "...")):
        return " ".join(kept[:-1] + [last])
    return " ".join(kept[:-1] + [last + ELLIPSIS])


def _body_excerpt(body: str) -> str:
    """The body up to its "more" marker, else its first paragraph."""
    m = _BODY_MARKER.search(body)
    if m and m.start() > 0:
        return body[: m.start()]
    paragraphs = re.findall(r"<p\b[^>]*>(.*?)</p\s*>", body, re.I | re.S)
    for p in paragraphs:
        if to_text(p).strip():
            return p
    for block in re.split(r"\n\s*\n", to_text(body)):
        if block.strip():
            return block
    return ""


def summarise(article: Article, words: int = 50) -> str:
    """The summary members read: override as written, else a trimmed teaser or body excerpt."""
    if article.summary_override and article.summary_override.strip():
        return " ".join(to_text(article.summary_override).split())
    text = clean(article.teaser, article)
    if not text and article.body:
        excerpt = _body_excerpt(article.body)
        text = clean(excerpt, article)
        if not text:  # the excerpt was only a byline: take the next paragraph
            text = clean(_first_paragraph_after_byline(article.body, article), article)
    return trim_words(text, words) if text else ""


def _first_paragraph_after_byline(body: str, article: Article) -> str:
    blocks = [b for b in re.split(r"\n\s*\n|\n", to_text(body)) if b.strip()]
    while blocks and _is_byline(blocks[0].strip(), article):
        blocks.pop(0)
    return blocks[0] if blocks else ""
