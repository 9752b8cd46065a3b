"""Allocations with effective dates. Right-sizing changes them; history keeps the old ones."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlmodel import SQLModel

from jobs.config import Config
from jobs.store import schema  # noqa: F401  (registers the tables)

_TABLE = SQLModel.metadata.tables["allocations"]

RESOURCES = ("cpu_cores", "memory_gb", "storage_gb", "replicas")


@dataclass(frozen=True)
class AllocationRecord:
    service: str
    resource: str
    value: float
    effective_from: int
    source: str


def seed_from_config(engine: Engine, config: Config, effective_from: int = 0) -> int:
    """Records the configured allocations for services that have none yet."""
    rows: list[dict[str, object]] = []
    with engine.begin() as connection:
        known = set(connection.execute(select(_TABLE.c.service).distinct()).scalars())
        for name, service in config.services.items():
            if name in known:
                continue
            values = {
                "cpu_cores": service.cpu_cores,
                "memory_gb": service.memory_gb,
                "storage_gb": service.storage_gb,
                "replicas": float(service.replicas),
            }
            rows.extend(
                {
                    "service": name,
                    "resource": resource,
                    "value": value,
                    "effective_from": effective_from,
                    "source": "config",
                }
                for resource, value in values.items()
                if value is not None
            )
        if rows:
            connection.execute(_TABLE.insert(), rows)
    return len(rows)


def set_allocation(
    engine: Engine,
    service: str,
    resource: str,
    value: float,
    effective_from: int,
    source: str = "manual",
) -> None:
    if resource not in RESOURCES:
        raise ValueError(f"resource must be one of {RESOURCES}, got {resource!r}")
    with engine.begin() as connection:
        connection.execute(
            _TABLE.insert().values(
                service=service,
                resource=resource,
                value=value,
                effective_from=effective_from,
                source=source,
            )
        )


def allocation_history(engine: Engine, service: str | None = None) -> pd.DataFrame:
    """Columns service, resource, value, effective_from (UTC datetime), sorted by time."""
    query = select(
        _TABLE.c.service, _TABLE.c.resource, _TABLE.c.value, _TABLE.c.effective_from
    ).order_by(_TABLE.c.effective_from, _TABLE.c.id)
    if service is not None:
        query = query.where(_TABLE.c.service == service)
    with engine.connect() as connection:
        frame = pd.DataFrame(
            connection.execute(query).fetchall(),
            columns=["service", "resource", "value", "effective_from"],
        )
    frame["effective_from"] = pd.to_datetime(
        frame["effective_from"].astype("int64"), unit="s", utc=True
    )
    return frame


def allocation_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(_TABLE)).scalar_one())
