"""Run Alembic migrations programmatically against an engine.

Alembic (with Mako and Pygments, which it pulls in) is imported only when a
migration actually runs: about 9 MB of resident memory and 0.25 s of start-up
that every `digest send` process paid for nothing once the schema is current
(issue 24: part of where the sender's memory had gone). engine.ensure_schema
compares the stored revision with SCHEMA_REVISION first, without Alembic.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> "Config":
    from alembic.config import Config  # heavy, needed only to migrate (see the docstring)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command  # heavy, needed only to migrate (see the docstring)

    command.upgrade(alembic_config(engine), revision)
