"""Persistence: SQLite (WAL) by default, or PostgreSQL. See ``schema`` for the tables."""

from __future__ import annotations

from sqlalchemy import Engine

from jobs.store.database import DEFAULT_DATABASE_URL, check_connection, create_store_engine
from jobs.store.migrations import migrate

__all__ = ["DEFAULT_DATABASE_URL", "open_store"]


def open_store(url: str) -> Engine:
    """An engine on ``url`` with the schema brought up to date."""
    engine = create_store_engine(url)
    check_connection(engine)
    migrate(engine)
    return engine
