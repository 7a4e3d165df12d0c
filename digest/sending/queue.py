"""Deliveries queued, set-based: one INSERT ... SELECT for every due member, in one transaction.

The variants members need are rendered before, by the build
(editorial/build.py); this module only writes the queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Mapping

from ..db import Database
from ..db import deliveries as delivery_db
from ..db import editions as edition_db
from ..errors import EditionError
from ..models import Edition, TopicSet


def load_built(db: Database, key: str) -> Edition:
    with db.connect() as conn:
        edition = edition_db.load_edition(conn, key)
    if edition is None:
        raise EditionError(key, "is not built; run `digest edition build` first")
    if edition.kind != "edition":  # queueing it as a digest would send the digest's template to every due member
        raise EditionError(key, "is an announcement: it is queued by `digest announcement queue`")
    return edition


def queue_deliveries(db: Database, edition: Edition, variant_of: Mapping[tuple[TopicSet, str, str], int], *,
                     now: datetime) -> int:
    """Queue one delivery per due member not yet queued, with the variant of their (topics, format); mark the
    edition queued. Returns how many were queued."""
    with db.begin() as conn:
        send_at = edition_db.lock_edition(conn, edition.id)  # two overlapping runs take turns
        if send_at is not None and send_at > now:  # an editor gave it a later time since the run looked
            raise EditionError(edition.key, f"was given a later send time ({send_at:%Y-%m-%d %H:%M} UTC) while "
                                            "this run was queueing it: not queued")
        queued = delivery_db.queue_members(conn, edition.id, edition.frequency, variant_of)
        edition_db.mark_queued(conn, edition.id, now=now)
    return queued
