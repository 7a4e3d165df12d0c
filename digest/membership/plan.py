"""What a sync from the membership system changes (pure: no SQL, no clock, no I/O).

    rows, problems = parse_export(text, "csv", mapping, taxonomy, source="crm.csv")
    plan = plan_sync(rows, members_by_key, suppressed_hashes, complete=True)
    plan.brake(0.05)   # a reason to refuse, or None

Consent wins: a member who unsubscribed, bounced or complained, or was
forgotten, is left alone whatever the export says. A member who joined through
the public form (consent_source "web") is not lapsed for being missing from
the export unless require_in_crm says members must be in it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

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
    added: list[SyncRow] = field(default_factory=list)
    changed: list[tuple[Subscriber, dict[str, list]]] = field(default_factory=list)  # returns: status lapsed->active
    lapsed: list[Subscriber] = field(default_factory=list)
    unchanged: list[Subscriber] = field(default_factory=list)
    kept: list[RowProblem] = field(default_factory=list)  # consent wins: in the export, left alone
    problems: list[RowProblem] = field(default_factory=list)  # rows that cannot be read
    active: int = 0  # active members before the sync: what the brake measures against

    @property
    def returned(self) -> int:
        return sum(1 for _, c in self.changed if c.get("status") == ["lapsed", "active"])

    def summary(self) -> str:
        back = f" ({self.returned} back from lapsed)" if self.returned else ""
        return (f"added {len(self.added)}, changed {len(self.changed)}{back}, lapsed {len(self.lapsed)}, "
                f"unchanged {len(self.unchanged)}, left alone {len(self.kept)}, bad rows {len(self.problems)}")

    def brake(self, max_lapse: float) -> str | None:
        """Why this sync must not go ahead (it would lapse too many members), or None."""
        if not self.lapsed:
            return None
        share = len(self.lapsed) / max(self.active, 1)
        if share <= max_lapse:
            return None
        return (f"it would lapse {len(self.lapsed)} of {self.active} active members ({share:.1%}), more than "
                f"max_lapse {max_lapse:.0%}: is the export complete? (--force to sync anyway)")


# ---------------------------------------------------------------- reading the export


def parse_export(text: str, kind: str, mapping: SyncMapping, taxonomy: Sequence[str], *, source: str
                 ) -> tuple[list[SyncRow], list[RowProblem]]:
    """Check every record of an export (kind "csv" or "json"); the good rows and one problem per bad one.

    Raises SubscriberError(source, ...) when the export as a whole cannot be
    read or lacks the email column: then nothing may be synced.
    """
    records = _csv_records(text, mapping, source) if kind == "csv" else _json_records(text, mapping, source)
    rows: list[SyncRow] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for line, cells in records:
        if not any(str(v).strip() for v in cells.values() if v is not None):
            continue
        try:
            row = _row(cells, line, mapping, taxonomy)
        except SubscriberError as exc:
            problems.append(RowProblem(line, exc.email, exc.reason))
            continue
        key = email_key(row.email)
        if key in seen:
            problems.append(RowProblem(line, row.email, f"duplicate of record {seen[key]}"))
            continue
        seen[key] = line
        rows.append(row)
    return rows, problems


def _csv_records(text: str, mapping: SyncMapping, source: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise SubscriberError(source, "the export is empty; it needs a header row naming the columns") from None
    except csv.Error as exc:
        raise SubscriberError(source, f"line 1: {exc}") from None
    _check_columns(header, mapping, source)
    out = []
    end = reader.line_num
    try:
        for record in reader:
            out.append((end + 1, dict(zip(header, record))))
            end = reader.line_num
    except csv.Error as exc:  # a broken quote: the rest of the file cannot be trusted
        raise SubscriberError(source, f"line {end + 1}: unreadable CSV ({exc})") from None
    return out


def _json_records(text: str, mapping: SyncMapping, source: str) -> list[tuple[int, dict[str, Any]]]:
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
              problems: Iterable[RowProblem] = (), *, complete: bool = False,
              require_in_crm: bool = False) -> SyncPlan:
    """Decide what a sync does. members: every member by email_key(); suppressed: email_hash() values.

    complete: the export lists every current member, so active members not in
    it are lapsed (except those who joined through the public form, unless
    require_in_crm).
    """
    plan = SyncPlan(problems=list(problems), active=sum(1 for m in members.values() if m.status == "active"))
    blocked = set(suppressed)
    # A record that cannot be read still says its member is in the export: never lapse them for a typo.
    seen: set[str] = {email_key(p.email) for p in plan.problems if p.email}
    for row in rows:
        key = email_key(row.email)
        seen.add(key)
        sub = members.get(key)
        why = refusal(sub, email_hash(row.email) in blocked)
        if why:
            plan.kept.append(RowProblem(row.line, row.email, why))
        elif sub is None:
            plan.added.append(row)
        elif changes := sync_changes(sub, row):
            plan.changed.append((sub, changes))
        else:
            plan.unchanged.append(sub)
    if complete:
        plan.lapsed = [m for key, m in members.items() if key not in seen and m.status == "active"
                       and (require_in_crm or m.consent_source != "web")]
    return plan
