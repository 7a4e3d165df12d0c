"""Deliverability checks: `message` checks one message's bytes, `edition` every variant of an edition.

This module holds what both share: a Failure and two string helpers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    """One failed check: a stable code (for scripts) and a message (for people)."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def collapse(s: str) -> str:
    """s with every run of white space as one space, stripped."""
    return " ".join(s.split())


def short(s: str, n: int = 60) -> str:
    """s cut to n characters for a one-line message."""
    return s if len(s) <= n else s[: n - 1] + "…"
