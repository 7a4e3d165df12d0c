"""The database boundary: engine, transactions and migrations.

Only this package (and digest/migrations) imports SQLAlchemy. The engine and
its transactions are in engine.py; query functions live in the submodules
(articles, editions, members, deliveries, sources, reports, requests,
editors) and take a Connection, so a caller decides what one transaction
covers; schema.py holds the tables.
"""

from .engine import BUSY_MESSAGE, Database, current_revision, ensure_schema, is_busy

__all__ = ["BUSY_MESSAGE", "Database", "current_revision", "ensure_schema", "is_busy"]
