"""An announcement's body: the editor's note's Markdown-lite, plus headings and lists (pure).

Blocks are separated by a blank line. A block whose line starts "## " (or
"# ") is a heading; a block of lines each starting "- " or "* " is a bulleted
list, "1. " (any number) a numbered one; anything else is a paragraph, its
lines joined. Within a block, `[text](https://...)` and bare https://
addresses are links (edition.note). Nothing else is markup: every word is
escaped where it is shown, so a body cannot inject HTML into the email.

    parse_body("## AGM\\n\\nCome along.\\n\\n- Votes\\n- Tea")
    -> [Block("heading", [[("AGM", None)]]), Block("paragraph", [[("Come along.", None)]]),
        Block("bullets", [[("Votes", None)], [("Tea", None)]])]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .note import Segment, link_problem, link_segments, segments_as_text

BODY_MAX = 20000  # characters: a notice, not a report
_HEADING = re.compile(r"^#{1,3}\s+")
_BULLET = re.compile(r"^[-*]\s+")
_NUMBER = re.compile(r"^\d{1,3}[.)]\s+")


@dataclass(frozen=True)
class Block:
    kind: str  # heading, paragraph, bullets, numbers
    lines: list[list[Segment]]  # one entry for a heading or paragraph; one per item for a list


def _block(lines: list[str]) -> Block:
    if len(lines) == 1 and _HEADING.match(lines[0]):
        return Block("heading", [link_segments(_HEADING.sub("", lines[0]).strip())])
    for kind, mark in (("bullets", _BULLET), ("numbers", _NUMBER)):
        if all(mark.match(line) for line in lines):
            return Block(kind, [link_segments(" ".join(mark.sub("", line).split())) for line in lines])
    return Block("paragraph", [link_segments(" ".join(" ".join(lines).split()))])


def parse_body(body: str | None) -> list[Block]:
    """The body's blocks, in order."""
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    blocks = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        if lines:
            blocks.append(_block(lines))
    return blocks


def body_problem(body: str) -> str | None:
    """Why a body cannot be used, or None."""
    if not body.strip():
        return "is empty; write what the announcement says"
    if len(body) > BODY_MAX:
        return f"is {len(body)} characters; an announcement's body may have at most {BODY_MAX}"
    return link_problem(body)


def body_as_text(body: str | None) -> list[str]:
    """The body for a plain-text part: one string per block, lists as "- item" / "1. item" lines."""
    out = []
    for block in parse_body(body):
        if block.kind == "bullets":
            out.append("\n".join("- " + segments_as_text(s) for s in block.lines))
        elif block.kind == "numbers":
            out.append("\n".join(f"{n}. " + segments_as_text(s) for n, s in enumerate(block.lines, 1)))
        elif block.kind == "heading":
            title = segments_as_text(block.lines[0])
            out.append(title.upper())
        else:
            out.append(segments_as_text(block.lines[0]))
    return out
