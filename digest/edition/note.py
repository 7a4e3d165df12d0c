"""The editor's note: a short intro paragraph or two, in Markdown-lite (pure).

Paragraphs are separated by a blank line; `[text](https://...)` is a link and
a bare https:// address is a link to itself. Nothing else is markup: the text
is escaped wherever it is shown, so a note cannot inject HTML into the email.

    parse_note("Welcome back.\\n\\nRead [our report](https://example.org/r).")
    -> [[("Welcome back.", None)], [("Read ", None), ("our report", "https://example.org/r"), (".", None)]]
"""

from __future__ import annotations

import re

NOTE_MAX = 2000  # characters: an intro, not an article
_LINK = re.compile(r"\[([^\[\]\n]+)\]\((https?://[^\s()<>]+)\)|(https?://[^\s()<>]+[^\s()<>.,;:!?'\"])")

Segment = tuple[str, "str | None"]  # (text, link or None)


def clean_note(note: str | None) -> str:
    """The note as stored: line ends normalised, blank lines collapsed, spaces trimmed."""
    if not note:
        return ""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", note.replace("\r\n", "\n"))]
    return "\n\n".join(p for p in paragraphs if p)


def note_problem(note: str) -> str | None:
    """Why a note cannot be used, or None."""
    if len(note) > NOTE_MAX:
        return f"is {len(note)} characters; an editor's note may have at most {NOTE_MAX}"
    return link_problem(note)


def link_problem(text: str) -> str | None:
    """The first `[text](address)` whose address is not http(s), said as a problem; None if all are."""
    for m in re.finditer(r"\[([^\[\]\n]+)\]\(([^)\s]*)\)", text):
        if not re.match(r"https?://", m.group(2)):
            return f"link {m.group(0)!r}: only http(s) addresses can be linked"
    return None


def parse_note(note: str | None) -> list[list[Segment]]:
    """Paragraphs of (text, link) segments."""
    return [link_segments(para) for para in clean_note(note).split("\n\n") if para]


def link_segments(para: str) -> list[Segment]:
    """One line of Markdown-lite as (text, link) segments (an announcement's body uses it too)."""
    segments: list[Segment] = []
    at = 0
    for m in _LINK.finditer(para):
        if m.start() > at:
            segments.append((para[at:m.start()], None))
        if m.group(1):
            segments.append((m.group(1), m.group(2)))
        else:
            segments.append((m.group(3), m.group(3)))
        at = m.end()
    if at < len(para):
        segments.append((para[at:], None))
    return segments


def segments_as_text(segments: list[Segment]) -> str:
    """Segments for a plain-text part: a link is `text (address)` unless the text is the address."""
    return "".join(text if not link or link == text else f"{text} ({link})" for text, link in segments)


def note_as_text(note: str | None) -> list[str]:
    """Paragraphs for the plain-text part: a link is `text (address)` unless the text is the address."""
    return [segments_as_text(para) for para in parse_note(note)]
