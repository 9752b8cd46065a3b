"""Per-source progress markers, so an interrupted ingest or backfill resumes."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from jobs.store import schema  # noqa: F401  (registers the tables)

_TABLE = SQLModel.metadata.tables["watermarks"]


def get_watermark(engine: Engine, source: str, key: str) -> int | None:
    with engine.connect() as connection:
        value = connection.execute(
            select(_TABLE.c.ts).where(_TABLE.c.source == source, _TABLE.c.key == key)
        ).scalar_one_or_none()
    return None if value is None else int(value)


def set_watermark(engine: Engine, source: str, key: str, ts: int) -> None:
    with engine.begin() as connection:
        updated = connection.execute(
            _TABLE.update().where(_TABLE.c.source == source, _TABLE.c.key == key).values(ts=ts)
        ).rowcount
        if not updated:
            connection.execute(_TABLE.insert().values(source=source, key=key, ts=ts))


def clear_watermarks(engine: Engine, source: str) -> None:
    with engine.begin() as connection:
        connection.execute(_TABLE.delete().where(_TABLE.c.source == source))
