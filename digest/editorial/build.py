"""Build an edition: choose, summarise and freeze a window's selection."""

from __future__ import annotations

from datetime import datetime

from ..config import Settings
from ..db import Database
from ..db import editions as edition_db
from ..edition.render import subject_for
from ..errors import EditionError, RenderError
from ..models import Edition, Window
from ..sending.queue import ensure_variants
from .candidates import plan_edition


def build_edition(db: Database, settings: Settings, window: Window, *, now: datetime) -> Edition:
    """Choose, summarise and freeze the edition of a window (again, until it is queued).

    The variants today's members need are rendered here too, so queueing is
    pure set-based SQL and what is queued is exactly what was built. When a
    template fails (RenderError), the build is undone: the edition as it was
    before (or none) is what stays, never a half-made one.
    """
    with db.connect() as conn:
        existing = edition_db.load_edition(conn, window.key)
    if existing is not None and existing.queued_at is not None:
        raise EditionError(window.key, f"was queued at {existing.queued_at:%Y-%m-%d %H:%M} UTC and cannot "
                                       "change any more")
    edition = plan_edition(db, settings, window)
    edition.subject = subject_for(edition, settings)
    with db.begin() as conn:
        edition_db.save_edition(conn, edition, now=now)
    if edition.items:
        try:
            ensure_variants(db, settings, edition, now=now)
        except RenderError:
            _undo_build(db, edition, existing, now=now)
            raise
    return edition


def _undo_build(db: Database, edition: Edition, before: Edition | None, *, now: datetime) -> None:
    """Put back the edition as it was before this build (its variants render again when it is queued)."""
    with db.begin() as conn:
        if before is None:
            edition_db.discard_edition(conn, edition.id)
        else:
            edition_db.save_edition(conn, before, now=before.built_at or now)
