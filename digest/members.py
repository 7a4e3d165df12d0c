"""Members' details, checked and normalised; CSV member lists; import planning.

Pure: no SQL, no clock. digest/db/members.py stores what this module has
checked, and asks plan_import() what an import should change.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence

from .errors import SubscriberError
from .models import FORMATS, FREQUENCIES, STATUSES, Subscriber, TopicSet

NAME_MAX = 200
EMAIL_MAX = 320
CSV_COLUMNS = ("email", "name", "topics", "frequency", "format", "language")
# Statuses an import or `add` never changes: the member left, or mail to them failed.
LEFT = ("unsubscribed", "bounced", "complained")


def normalise_email(raw: str, *, line: int | None = None) -> str:
    """The address as stored: validated, domain lower-cased and IDNA-normalised."""
    from email_validator import EmailNotValidError, validate_email  # slow-ish import: only when needed

    addr = (raw or "").strip()
    if not addr:
        raise SubscriberError("", "no email address given", line)
    try:
        normalised = validate_email(addr, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise SubscriberError(addr, f"not a valid email address ({exc})", line) from None
    if len(normalised) > EMAIL_MAX:
        raise SubscriberError(addr, f"address is longer than {EMAIL_MAX} characters", line)
    return normalised


def email_key(email: str) -> str:
    """What makes two addresses the same member: the address, lower-cased."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    """sha256 of the lower-cased address, as kept in suppressions (never the address)."""
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def clean_name(raw: str | None, *, email: str = "", line: int | None = None) -> str | None:
    """One trimmed line of at most NAME_MAX characters, or None for no name."""
    if raw is None:
        return None
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") and ch != "\t" for ch in raw):
        what = "a line break" if any(ch in raw for ch in "\r\n\u2028\u2029\x85") else "a control character"
        raise SubscriberError(email, f"name contains {what}", line)
    name = " ".join(raw.split())  # tabs and runs of spaces become one space
    if len(name) > NAME_MAX:
        raise SubscriberError(email, f"name is longer than {NAME_MAX} characters", line)
    return name or None


def parse_topics(raw: str | Iterable[str] | None, taxonomy: Sequence[str], *, email: str = "",
                 line: int | None = None, sep: str = ",") -> TopicSet:
    """A member's choice of topics, the same from every door (CLI, CSV import, the web's forms, the API).

    Slugs come back in taxonomy order. Nothing, "all", or every topic of the
    taxonomy means all topics (the empty TopicSet): topics added later
    included, since a member who ticks every box wants everything. Accepts
    "a,b" (or sep-separated) text or a list of slugs; case and spaces around
    slugs do not matter. Raises SubscriberError naming an unknown slug.
    """
    if raw is None:
        return TopicSet()
    parts = raw.split(sep) if isinstance(raw, str) else list(raw)
    chosen = {p.strip().lower() for p in parts if p and p.strip()}
    if chosen == {"all"}:
        return TopicSet()
    unknown = sorted(chosen - set(taxonomy))
    if unknown:
        raise SubscriberError(email, f"unknown topic {unknown[0]!r} (known: {', '.join(taxonomy)})", line)
    if chosen >= set(taxonomy):
        return TopicSet()
    return TopicSet(slug for slug in taxonomy if slug in chosen)


def _choice(value: str | None, choices: Sequence[str], what: str, email: str, line: int | None) -> str:
    v = (value or "").strip().lower()
    if v not in choices:
        raise SubscriberError(email, f"unknown {what} {value!r} (one of: {', '.join(choices)})", line)
    return v


def check_frequency(value: str, *, email: str = "", line: int | None = None) -> str:
    return _choice(value, FREQUENCIES, "frequency", email, line)


def check_format(value: str, *, email: str = "", line: int | None = None) -> str:
    return _choice(value, FORMATS, "format", email, line)


def check_language(value: str, languages: Sequence[str], *, email: str = "", line: int | None = None) -> str:
    """A configured language tag, as configured ('en-gb' gives 'en-GB'); "" (or "default") clears the choice."""
    v = (value or "").strip()
    if v.lower() in ("", "default"):
        return ""
    for tag in languages:
        if tag.lower() == v.lower().replace("_", "-"):
            return tag
    raise SubscriberError(email, f"unknown language {value!r} (one of: {', '.join(languages)})", line)


def check_status(value: str, *, email: str = "") -> str:
    return _choice(value, STATUSES, "status", email, None)


def as_json(sub: Subscriber) -> dict:
    """A member as JSON-ready data (`list --json`, `show --json`); times in ISO 8601 UTC."""
    iso = lambda t: t.isoformat() if t else None  # noqa: E731
    return {
        "email": sub.email,
        "name": sub.name,
        "status": sub.status,
        "topics": list(sub.topics),
        "frequency": sub.frequency,
        "format": sub.format,
        "paused": sub.paused,
        "consent_source": sub.consent_source,
        "consent_at": iso(sub.consent_at),
        "created_at": iso(sub.created_at),
        "confirmed_at": iso(sub.confirmed_at),
        "left_at": iso(sub.left_at),
        "language": sub.language,  # "": not chosen (the organisation's first language)
        "updated_at": iso(sub.updated_at),
        "attributes": dict(sub.attributes),
    }


# What webhooks out can report (digest webhooks add --events ...).
WEBHOOK_EVENTS = ("member.subscribed", "member.unsubscribed", "member.bounced", "member.complained",
                  "member.preferences_changed", "member.lapsed", "edition.sent")


def webhook_event(action: str, detail: Mapping) -> str | None:
    """The webhook event a member's audit event means, or None (a bounce counted, a link revoked...)."""
    status = detail.get("status")
    new = status[1] if isinstance(status, list) and len(status) == 2 else status
    if action in ("confirm", "resubscribe", "return") or (action == "subscribe" and new == "active"):
        return "member.subscribed"
    if action == "preferences":
        return "member.preferences_changed"
    return {"unsubscribed": "member.unsubscribed", "bounced": "member.bounced", "complained": "member.complained",
            "lapsed": "member.lapsed"}.get(new) if action in ("unsubscribe", "bounce", "complaint", "lapse",
                                                               "status") else None


def refusal(existing: Subscriber | None, suppressed: bool) -> str | None:
    """Why an import or `add` must leave this address alone, or None if it may proceed.

    Forgotten addresses are suppressed; members who left keep their row. Only
    an explicit `set --status active` by an administrator brings one back.
    """
    if suppressed and existing is None:
        return "was forgotten at the member's request and cannot be added again"
    if existing is not None and existing.status in LEFT:
        when = f" on {existing.left_at:%Y-%m-%d}" if existing.left_at and existing.status == "unsubscribed" else ""
        return f"is {existing.status}{when}; imports and `add` never re-subscribe anyone"
    return None


# ---------------------------------------------------------------- CSV member lists


@dataclass(frozen=True)
class MemberRow:
    """One good row of a member list. None: the file does not say (keep it, or the default)."""

    line: int
    email: str
    name: str | None = None
    topics: tuple[str, ...] | None = None
    frequency: str | None = None
    format: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class RowProblem:
    line: int
    email: str
    reason: str

    def __str__(self) -> str:
        return f"{self.email}: {self.reason}" if self.email else self.reason


def parse_members_csv(text: str, taxonomy: Sequence[str], *, source: str = "members.csv",
                      languages: Sequence[str] = ("en-GB",)) -> tuple[list[MemberRow], list[RowProblem]]:
    """Check every row of a member list held in memory; the good rows and one problem per bad row.

    A small list (a test, a form): `digest members import` streams the file
    through read_members_csv() instead, in batches, and finds duplicates in the
    database. Raises SubscriberError(source, ...) when the file has no usable header.
    """
    rows: list[MemberRow] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for item in read_members_csv(io.StringIO(text, newline=""), taxonomy, source=source, languages=languages):
        if isinstance(item, RowProblem):
            problems.append(item)
        elif (first := seen.setdefault(email_key(item.email), item.line)) != item.line:
            problems.append(RowProblem(item.line, item.email, f"duplicate of line {first}"))
        else:
            rows.append(item)
    return rows, problems


def read_members_csv(lines: Iterable[str], taxonomy: Sequence[str], *, source: str = "members.csv",
                     languages: Sequence[str] = ("en-GB",)) -> Iterator[MemberRow | RowProblem]:
    """Check a member list row by row: each good row, or one problem per bad row, in line order.

    lines: the file opened with newline="" (read as it goes: memory stays flat
    whatever its size). The header row names the columns (email required; name,
    topics, frequency, format, language optional; any order, any case). Line
    numbers are those of the file, so a quoted field spanning lines does not
    shift later rows. Duplicates are not looked for here (the caller remembers
    addresses). Raises SubscriberError(source, ...) when the file has no usable header.
    """
    reader = csv.reader(lines)
    columns = _header(reader, source)
    end = reader.line_num
    while True:
        start = end + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowProblem(start, "", f"unreadable CSV ({exc})")
            return  # the reader cannot resynchronise after a broken quote
        end = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank line
        cells = dict(zip(columns, record))
        raw_email = cells.get("email", "").strip()
        try:
            if len(record) > len(columns):
                raise SubscriberError(raw_email, f"{len(record)} fields but the header names {len(columns)}", start)
            yield _row(cells, start, taxonomy, languages)
        except SubscriberError as exc:
            yield RowProblem(start, exc.email, exc.reason)


def _header(reader, source: str) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise SubscriberError(source, "the file is empty; it needs a header row naming the columns") from None
    except csv.Error as exc:
        raise SubscriberError(source, f"line 1: {exc}") from None
    columns = [h.strip().lower() for h in header]
    if "email" not in columns:
        raise SubscriberError(source, f"line 1: the header row has no 'email' column (columns: {', '.join(CSV_COLUMNS)})")
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if unknown:
        raise SubscriberError(source, f"line 1: unknown column {unknown[0]!r} (columns: {', '.join(CSV_COLUMNS)})")
    twice = [c for c in CSV_COLUMNS if columns.count(c) > 1]
    if twice:
        raise SubscriberError(source, f"line 1: column {twice[0]!r} appears twice")
    return columns


def _row(cells: Mapping[str, str], line: int, taxonomy: Sequence[str], languages: Sequence[str]) -> MemberRow:
    email = normalise_email(cells.get("email", ""), line=line)

    def given(column: str) -> str | None:
        value = cells.get(column)
        return value if value is not None and value.strip() else None

    topics = given("topics")
    frequency = given("frequency")
    fmt = given("format")
    lang = given("language")
    return MemberRow(
        line=line,
        email=email,
        name=clean_name(cells.get("name"), email=email, line=line),
        topics=None if topics is None else parse_topics(topics, taxonomy, email=email, line=line, sep=";"),
        frequency=None if frequency is None else check_frequency(frequency, email=email, line=line),
        format=None if fmt is None else check_format(fmt, email=email, line=line),
        language=None if lang is None else check_language(lang, languages, email=email, line=line),
    )


# ---------------------------------------------------------------- import planning


def changes_for(sub: Subscriber, row: MemberRow) -> dict[str, list]:
    """What a row would change on an existing member: {"field": [old, new]} (lists for JSON)."""
    out: dict[str, list] = {}
    if row.name is not None and row.name != sub.name:
        out["name"] = [sub.name, row.name]
    if row.topics is not None and tuple(row.topics) != tuple(sub.topics):
        out["topics"] = [list(sub.topics), list(row.topics)]
    for fld in ("frequency", "format", "language"):
        new = getattr(row, fld)
        if new is not None and new != getattr(sub, fld):
            out[fld] = [getattr(sub, fld), new]
    return out


@dataclass
class ImportPlan:
    add: list[MemberRow] = field(default_factory=list)
    update: list[tuple[Subscriber, dict[str, list]]] = field(default_factory=list)
    unchanged: list[Subscriber] = field(default_factory=list)
    skipped: list[RowProblem] = field(default_factory=list)

    def summary(self) -> str:
        counts = ImportCounts()
        counts.count(self)
        return counts.summary()


@dataclass
class ImportCounts:
    """What a streamed import did, counted (the rows themselves are not kept)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def count(self, plan: ImportPlan) -> None:
        self.added += len(plan.add)
        self.updated += len(plan.update)
        self.unchanged += len(plan.unchanged)
        self.skipped += len(plan.skipped)

    def summary(self) -> str:
        return (f"added {self.added}, updated {self.updated}, "
                f"unchanged {self.unchanged}, skipped {self.skipped}")


def plan_import(rows: Iterable[MemberRow], existing: Mapping[str, Subscriber],
                suppressed: Iterable[str], problems: Iterable[RowProblem] = ()) -> ImportPlan:
    """Decide, row by row, what an import does.

    existing maps email_key() to the stored member; suppressed holds
    email_hash() values. Bad rows (problems) and rows for members who left or
    were forgotten are skipped, in line order.
    """
    plan = ImportPlan(skipped=list(problems))
    blocked = set(suppressed)
    for row in rows:
        sub = existing.get(email_key(row.email))
        why = refusal(sub, email_hash(row.email) in blocked)
        if why:
            plan.skipped.append(RowProblem(row.line, row.email, why))
        elif sub is None:
            plan.add.append(row)
        elif changes := changes_for(sub, row):
            plan.update.append((sub, changes))
        else:
            plan.unchanged.append(sub)
    plan.skipped.sort(key=lambda p: p.line)
    return plan
