"""What a sync from the membership system changes (pure: no SQL, no clock, no I/O).

    for item in check_records(csv_records(lines, mapping, "crm.csv"), mapping, taxonomy): ...
    plan = plan_sync(batch_rows, their_members_by_key, suppressed_hashes, problems)
    tally.count(plan); tally.brake(0.05)   # a reason to refuse, or None

Consent wins: a member who unsubscribed, bounced or complained, or was
forgotten, is left alone whatever the export says. A member who joined through
the public form (consent_source "web") is not lapsed for being missing from
the export unless require_in_crm says members must be in it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import SubscriberError
from ..members import (
    MemberRow,
    RowProblem,
    changes_for,
    check_format,
    check_frequency,
    clean_name,
    email_hash,
    email_key,
    normalise_email,
    parse_topics,
    refusal,
)
from ..models import Subscriber

FIELDS = ("email", "name", "topics", "frequency", "format")
ATTRIBUTE_MAX = 200  # characters of one attribute value


@dataclass(frozen=True)
class SyncMapping:
    """[members.sync]: which column of the export holds each of our fields, and which to keep as attributes."""

    columns: Mapping[str, str] = field(default_factory=lambda: {f: f for f in FIELDS})  # field -> column
    attributes: Mapping[str, str] = field(default_factory=dict)  # attribute name -> column
    topics_separator: str = ";"


@dataclass(frozen=True)
class SyncRow(MemberRow):
    """One good row of an export; attributes None: the export names no attribute columns."""

    attributes: tuple[tuple[str, str], ...] | None = None


@dataclass
class SyncPlan:
    """What a sync does to one batch of the export's rows (and, in apply_sync, whom it lapses)."""

    added: list[SyncRow] = field(default_factory=list)
    changed: list[tuple[Subscriber, dict[str, list]]] = field(default_factory=list)  # returns: status lapsed->active
    lapsed: list[Subscriber] = field(default_factory=list)
    unchanged: list[Subscriber] = field(default_factory=list)
    kept: list[RowProblem] = field(default_factory=list)  # consent wins: in the export, left alone
    problems: list[RowProblem] = field(default_factory=list)  # rows that cannot be read


@dataclass
class SyncTally:
    """What a whole sync did, counted batch by batch (the members themselves are not kept)."""

    active: int = 0  # active members before the sync: what the brake measures against
    added: int = 0
    changed: int = 0
    returned: int = 0  # of the changed: back from lapsed
    lapsed: int = 0
    unchanged: int = 0
    kept: int = 0
    problems: int = 0

    def count(self, plan: SyncPlan) -> None:
        self.added += len(plan.added)
        self.changed += len(plan.changed)
        self.returned += sum(1 for _, c in plan.changed if c.get("status") == ["lapsed", "active"])
        self.lapsed += len(plan.lapsed)
        self.unchanged += len(plan.unchanged)
        self.kept += len(plan.kept)
        self.problems += len(plan.problems)

    def summary(self) -> str:
        back = f" ({self.returned} back from lapsed)" if self.returned else ""
        return (f"added {self.added}, changed {self.changed}{back}, lapsed {self.lapsed}, "
                f"unchanged {self.unchanged}, left alone {self.kept}, bad rows {self.problems}")

    def brake(self, max_lapse: float) -> str | None:
        """Why this sync must not go ahead (it would lapse too many members), or None."""
        if not self.lapsed:
            return None
        share = self.lapsed / max(self.active, 1)
        if share <= max_lapse:
            return None
        return (f"it would lapse {self.lapsed} of {self.active} active members ({share:.1%}), more than "
                f"max_lapse {max_lapse:.0%}: is the export complete? (--force to sync anyway)")


# ---------------------------------------------------------------- reading the export


def check_records(records: Iterable[tuple[int, Mapping[str, Any]]], mapping: SyncMapping, taxonomy: Sequence[str]
                  ) -> Iterator[SyncRow | RowProblem]:
    """Check each (record number, cells) of an export: a good row, or one problem per bad record.

    Blank records are passed over; duplicates are not looked for here (the
    caller remembers addresses, in the database when the export is long).
    """
    for line, cells in records:
        if not any(str(v).strip() for v in cells.values() if v is not None):
            continue
        try:
            yield _row(cells, line, mapping, taxonomy)
        except SubscriberError as exc:
            yield RowProblem(line, exc.email, exc.reason)


def csv_records(lines: Iterable[str], mapping: SyncMapping, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, cells) of each record of a CSV export, read as it goes.

    Raises SubscriberError(source, ...) when the export as a whole cannot be
    read or lacks the email column: then nothing may be synced.
    """
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise SubscriberError(source, "the export is empty; it needs a header row naming the columns") from None
    except csv.Error as exc:
        raise SubscriberError(source, f"line 1: {exc}") from None
    _check_columns(header, mapping, source)
    end = reader.line_num
    try:
        for record in reader:
            yield end + 1, dict(zip(header, record))
            end = reader.line_num
    except csv.Error as exc:  # a broken quote: the rest of the file cannot be trusted
        raise SubscriberError(source, f"line {end + 1}: unreadable CSV ({exc})") from None


def json_records(text: str, mapping: SyncMapping, source: str) -> list[tuple[int, dict[str, Any]]]:
    """(record number, cells) of each member of a JSON export (parsed whole: kept under MAX_EXPORT)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubscriberError(source, f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(data, dict) and isinstance(data.get("members"), list):
        data = data["members"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise SubscriberError(source, 'expected a JSON list of member objects (or {"members": [...]})')
    records = [(n, {str(k).strip().lower(): v for k, v in r.items()}) for n, r in enumerate(data, 1)]
    if records:
        _check_columns(list({k for _, r in records for k in r}), mapping, source)
    return records


def _check_columns(header: Sequence[str], mapping: SyncMapping, source: str) -> None:
    email = mapping.columns["email"].lower()
    if email not in header:
        raise SubscriberError(source, f"the export has no {mapping.columns['email']!r} column for the email "
                                      "address ([members.sync.columns] email)")


def _row(cells: Mapping[str, Any], line: int, mapping: SyncMapping, taxonomy: Sequence[str]) -> SyncRow:
    def given(column: str | None):
        value = cells.get(column.lower()) if column else None
        if isinstance(value, list):
            return value or None
        return None if value is None or not str(value).strip() else str(value)

    col = mapping.columns
    email = normalise_email(str(given(col["email"]) or ""), line=line)
    topics, frequency, fmt = given(col.get("topics")), given(col.get("frequency")), given(col.get("format"))
    name = given(col.get("name"))
    attributes = None
    if mapping.attributes:
        attributes = tuple(sorted((attr, _attribute(given(column), email, line))
                                  for attr, column in mapping.attributes.items() if given(column) is not None))
    return SyncRow(
        line=line,
        email=email,
        name=clean_name(str(name), email=email, line=line) if name is not None else None,
        topics=None if topics is None else parse_topics(topics, taxonomy, email=email, line=line,
                                                        sep=mapping.topics_separator),
        frequency=None if frequency is None else check_frequency(frequency, email=email, line=line),
        format=None if fmt is None else check_format(fmt, email=email, line=line),
        attributes=attributes,
    )


def _attribute(value: Any, email: str, line: int) -> str:
    text = " ".join(str(value).split())
    if len(text) > ATTRIBUTE_MAX:
        raise SubscriberError(email, f"an attribute is longer than {ATTRIBUTE_MAX} characters", line)
    return text


# ---------------------------------------------------------------- deciding


def sync_changes(sub: Subscriber, row: SyncRow) -> dict[str, list]:
    """What a row changes on a member: the import's fields, the attributes, and a lapsed member's return."""
    out = changes_for(sub, row)
    if row.attributes is not None and dict(row.attributes) != sub.attributes:
        out["attributes"] = [dict(sub.attributes), dict(row.attributes)]
    if sub.status == "lapsed":
        out["status"] = ["lapsed", "active"]
    return out


def plan_sync(rows: Iterable[SyncRow], members: Mapping[str, Subscriber], suppressed: Iterable[str],
              problems: Iterable[RowProblem] = ()) -> SyncPlan:
    """Decide what a sync does to these rows. members: those of the rows' members there are, by
    email_key(); suppressed: email_hash() values of forgotten addresses among the rows.

    Who a complete sync lapses (active members the export does not list) is
    decided in the database: digest.db.member_batches.Seen.missing.
    """
    plan = SyncPlan(problems=sorted(problems, key=lambda p: p.line))
    blocked = set(suppressed)
    for row in rows:
        sub = members.get(email_key(row.email))
        why = refusal(sub, email_hash(row.email) in blocked)
        if why:
            plan.kept.append(RowProblem(row.line, row.email, why))
        elif sub is None:
            plan.added.append(row)
        elif changes := sync_changes(sub, row):
            plan.changed.append((sub, changes))
        else:
            plan.unchanged.append(sub)
    return plan
