"""Per-source progress markers, so an interrupted ingest or backfill resumes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from jobs.store import schema  # noqa: F401  (registers the tables)

_TABLE = SQLModel.metadata.tables["watermarks"]


def series_key(metric: str, service: str) -> str:
    """The watermark key of one series a source query returns."""
    return f"{metric}/{service}"


def get_watermarks(engine: Engine, source: str, keys: Iterable[str]) -> dict[str, int]:
    """The marks of ``keys`` that exist (a key without a mark is left out)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(
            select(_TABLE.c.key, _TABLE.c.ts).where(
                _TABLE.c.source == source, _TABLE.c.key.in_(wanted)
            )
        ).all()
    return {str(key): int(ts) for key, ts in rows}


def advance_watermarks(engine: Engine, source: str, marks: Mapping[str, int]) -> None:
    """Moves each mark forward to its new instant; a mark never moves back.

    Re-reading an older range (``--since``) therefore leaves the marks where they are.
    """
    if not marks:
        return
    with engine.begin() as connection:
        known = dict(
            connection.execute(
                select(_TABLE.c.key, _TABLE.c.ts).where(
                    _TABLE.c.source == source, _TABLE.c.key.in_(sorted(marks))
                )
            ).all()
        )
        for key, ts in sorted(marks.items()):
            if key not in known:
                connection.execute(_TABLE.insert().values(source=source, key=key, ts=ts))
            elif int(known[key]) < ts:
                connection.execute(
                    _TABLE.update()
                    .where(_TABLE.c.source == source, _TABLE.c.key == key)
                    .values(ts=ts)
                )
