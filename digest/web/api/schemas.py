"""The API's request and response bodies, as pydantic models.

They validate every request and, through pydantic's JSON Schema (draft
2020-12, which OpenAPI 3.1 uses as it is), make the OpenAPI document: one
definition for both, so the document cannot drift from what is enforced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

import re
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from ...models import FORMATS, FREQUENCIES, STATUSES

Status = Literal[STATUSES]  # type: ignore[valid-type]
Frequency = Literal[FREQUENCIES]  # type: ignore[valid-type]
Format = Literal[FORMATS]  # type: ignore[valid-type]
Cursor = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,40}$", description="next_cursor of the previous page")


def _rfc3339(value):
    # pydantic also reads "0.5" as a Unix time; the document says date-time, so only that is accepted.
    if isinstance(value, str) and not re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", value):
        raise ValueError("must be a date-time like 2026-12-07T09:00:00Z")
    return value


DateTimeIn = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details: type and title stay the same for one kind of problem; detail says this case."""

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str
    errors: Optional[list[dict]] = Field(default=None, description="each invalid field: loc and msg")


class Member(BaseModel):
    email: str
    name: Optional[str]
    status: Status
    topics: list[str] = Field(description="topic slugs; empty means all topics")
    frequency: Frequency
    format: Format
    paused: bool
    language: str = Field(default="", description='a tag of [organisation] languages; "": not chosen (the first)')
    attributes: dict[str, str] = Field(description="what the membership system keeps about them (region, grade...)")
    consent_source: Optional[str]
    consent_at: Optional[datetime]
    created_at: Optional[datetime]
    confirmed_at: Optional[datetime]
    left_at: Optional[datetime]
    updated_at: Optional[datetime]


class MemberPage(BaseModel):
    data: list[Member]
    next_cursor: Optional[str] = Field(description="pass as cursor for the next page; null on the last")


class MemberQuery(Strict):
    status: Optional[Status] = None
    topic: Optional[str] = Field(default=None, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100,
                                 description="members who get this topic (including those who get all topics)")
    frequency: Optional[Frequency] = None
    updated_since: Optional[DateTimeIn] = Field(default=None, description="changed at or after this time (ISO 8601)")
    cursor: Optional[str] = Cursor
    limit: int = Field(default=100, ge=1, le=500)


class MemberUpsert(Strict):
    """Create the member (active: the caller vouches for consent) or update their details."""

    name: Optional[str] = Field(default=None, max_length=200)
    topics: Optional[list[str]] = Field(default=None, max_length=100, description='slugs; [] or ["all"]: every topic')
    frequency: Optional[Frequency] = None
    format: Optional[Format] = None
    language: Optional[str] = Field(default=None, max_length=35, description='a tag of [organisation] languages '
                                    '(e.g. "cy"); "" or "default": not chosen (the first)')
    attributes: Optional[dict[str, str]] = Field(default=None, max_length=50)


class PreferencesChange(Strict):
    name: Optional[str] = Field(default=None, max_length=200)
    topics: Optional[list[str]] = Field(default=None, max_length=100)
    frequency: Optional[Frequency] = None
    format: Optional[Format] = None
    language: Optional[str] = Field(default=None, max_length=35, description='a tag of [organisation] languages '
                                    '(e.g. "cy"); "" or "default": not chosen (the first)')


class SubscribeRequest(Strict):
    """A sign-up from the organisation's own form: the member gets the same confirmation email as the public form."""

    email: str = Field(max_length=320)
    name: Optional[str] = Field(default=None, max_length=200)
    topics: list[str] = Field(default_factory=list, max_length=100, description="slugs; empty: every topic")
    frequency: Frequency = "weekly"
    format: Format = "html"
    language: Optional[str] = Field(default=None, max_length=35, description='a tag of [organisation] languages '
                                    '(e.g. "cy"); "" or "default": not chosen (the first)')


class LinkRequest(Strict):
    email: str = Field(max_length=320)


class Accepted(BaseModel):
    status: Literal["accepted"]
    detail: str


class Change(BaseModel):
    email: str
    changed: dict[str, list] = Field(description='{"field": [old, new]}')


class PageQuery(Strict):
    cursor: Optional[str] = Cursor
    limit: int = Field(default=50, ge=1, le=500)


class Edition(BaseModel):
    key: str
    frequency: Frequency
    subject: str
    window_start: datetime
    window_end: datetime
    built_at: datetime
    queued_at: Optional[datetime]
    articles: int


class EditionPage(BaseModel):
    data: list[Edition]
    next_cursor: Optional[str]


class ArticleReads(BaseModel):
    position: int
    title: str
    topics: list[str]
    reads: int
    scanner: int


class Report(BaseModel):
    deliveries: dict[str, int]
    sent: int
    failed_during_send: int
    bounced_afterwards: int
    soft_bounces_afterwards: int
    delivered: int
    complaints: int
    unsubscribes: int
    unsubscribes_by_mail: int
    auto_replies: int
    counting: bool
    reads: int
    scanner: int
    articles: list[ArticleReads]
    topics: dict[str, int]
    variants: dict[str, int]


class EditionDetail(Edition):
    report: Optional[Report] = Field(description="null until the edition is queued")


class Source(BaseModel):
    name: str
    location: str
    kind: Optional[str]
    healthy: bool = Field(description="fetched, and the last fetch did not fail")
    last_fetched_at: Optional[datetime]
    last_success_at: Optional[datetime]
    last_error: Optional[str]
    items_last_seen: Optional[int]
    newest_item_at: Optional[datetime]


class SourceList(BaseModel):
    data: list[Source]
