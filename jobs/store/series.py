"""The series registry: (service, metric, labels) -> id."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select, tuple_
from sqlmodel import SQLModel

from jobs.store import schema  # noqa: F401  (registers the tables)
from jobs.store.transaction import writing


@dataclass(frozen=True, order=True)
class SeriesKey:
    service: str
    metric: str
    labels: str = "{}"

    @staticmethod
    def with_labels(service: str, metric: str, labels: Mapping[str, str]) -> SeriesKey:
        return SeriesKey(service, metric, json.dumps(dict(sorted(labels.items()))))


@dataclass(frozen=True)
class SeriesInfo:
    id: int
    key: SeriesKey
    unit: str = field(default="")


_TABLE = SQLModel.metadata.tables["series"]


def ensure_series(
    bind: Engine | Connection, keys: Iterable[SeriesKey], units: Mapping[str, str]
) -> dict[SeriesKey, int]:
    """Returns ids for ``keys``, creating the series that do not exist yet."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    with writing(bind) as connection:
        found = _lookup(connection, wanted)
        missing = [key for key in wanted if key not in found]
        if missing:
            connection.execute(
                _TABLE.insert(),
                [
                    {
                        "service": k.service,
                        "metric": k.metric,
                        "labels": k.labels,
                        "unit": units.get(k.metric, ""),
                    }
                    for k in missing
                ],
            )
            found.update(_lookup(connection, missing))
    return found


def _lookup(connection: Connection, keys: list[SeriesKey]) -> dict[SeriesKey, int]:
    result: dict[SeriesKey, int] = {}
    # Chunked because SQLite limits the number of bound parameters.
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        rows = connection.execute(
            select(_TABLE.c.id, _TABLE.c.service, _TABLE.c.metric, _TABLE.c.labels).where(
                tuple_(_TABLE.c.service, _TABLE.c.metric, _TABLE.c.labels).in_(
                    [(k.service, k.metric, k.labels) for k in chunk]
                )
            )
        )
        for row in rows:
            result[SeriesKey(row.service, row.metric, row.labels)] = row.id
    return result


def list_series(engine: Engine) -> list[SeriesInfo]:
    with engine.connect() as connection:
        rows = connection.execute(select(_TABLE).order_by(_TABLE.c.service, _TABLE.c.metric))
        return [
            SeriesInfo(row.id, SeriesKey(row.service, row.metric, row.labels), row.unit)
            for row in rows
        ]
