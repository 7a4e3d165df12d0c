"""The revision the code expects is the newest migration, and there is only one newest.

ensure_schema skips Alembic when the database is at SCHEMA_REVISION: a stale
value makes every command run the migrations (slow), a wrong one skips them.
"""
from alembic.script import ScriptDirectory

from digest.db.migrate import MIGRATIONS, alembic_config
from digest.db.schema import SCHEMA_REVISION
from sqlalchemy import create_engine


def test_schema_revision_is_the_single_head():
    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    heads = script.get_heads()
    assert heads == [SCHEMA_REVISION], f"migration heads {heads}, SCHEMA_REVISION {SCHEMA_REVISION!r}"
    assert (MIGRATIONS / "versions").is_dir()
