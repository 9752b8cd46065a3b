"""Allocations with effective dates. Right-sizing changes them; history keeps the old ones."""

from __future__ import annotations

import math
from dataclasses import asdict, astuple, dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Connection, Engine, select
from sqlmodel import SQLModel

from jobs.config import Config
from jobs.store import schema  # noqa: F401  (registers the tables)
from jobs.store.transaction import writing

_TABLE = SQLModel.metadata.tables["allocations"]

RESOURCES = ("cpu_cores", "memory_gb", "storage_gb", "replicas")
CONFIG_SOURCE = "config"
_COLUMNS = ("service", "resource", "value", "effective_from", "source")


@dataclass(frozen=True)
class AllocationRecord:
    service: str
    resource: str
    value: float
    effective_from: int
    source: str


def configured_values(config: Config) -> dict[tuple[str, str], float]:
    """(service, resource) -> value, as the configuration gives them now."""
    values: dict[tuple[str, str], float] = {}
    for name, service in config.services.items():
        for resource, value in (
            ("cpu_cores", service.cpu_cores),
            ("memory_gb", service.memory_gb),
            ("storage_gb", service.storage_gb),
            ("replicas", float(service.replicas)),
        ):
            if value is not None:
                values[(name, resource)] = float(value)
    return values


def pending_changes(connection: Connection, config: Config, now: int) -> list[AllocationRecord]:
    """What the configuration says that the history does not record yet.

    A resource never recorded is in force since forever (effective 0): nothing
    is known about an earlier value. A value that differs from the last one
    recorded from the configuration is a change, in force from ``now``.
    Allocations recorded by other means (right-sizing, by hand) are not
    overridden by a configuration that did not change.
    """
    rows = connection.execute(
        select(
            _TABLE.c.service,
            _TABLE.c.resource,
            _TABLE.c.value,
            _TABLE.c.effective_from,
            _TABLE.c.source,
        ).order_by(_TABLE.c.effective_from, _TABLE.c.id)
    ).fetchall()
    last_configured: dict[tuple[str, str], float] = {}
    at_zero: set[tuple[str, str]] = set()
    for service, resource, value, effective_from, source in rows:
        if source == CONFIG_SOURCE:
            last_configured[(service, resource)] = float(value)
        if effective_from == 0:
            at_zero.add((service, resource))
    changes = []
    for (service, resource), value in configured_values(config).items():
        key = (service, resource)
        if key not in last_configured:
            if key in at_zero:
                continue
            effective = 0
        elif math.isclose(last_configured[key], value, rel_tol=1e-12, abs_tol=0.0):
            continue
        else:
            effective = now
        changes.append(AllocationRecord(service, resource, value, effective, CONFIG_SOURCE))
    return changes


def sync_from_config(bind: Engine | Connection, config: Config, now: datetime | None = None) -> int:
    """Records every allocation the configuration changed (see ``pending_changes``)."""
    instant = _epoch(now)
    with writing(bind) as connection:
        changes = pending_changes(connection, config, instant)
        for change in changes:
            # Two edits within one second: the later one is what was in force.
            connection.execute(
                _TABLE.delete().where(
                    (_TABLE.c.service == change.service)
                    & (_TABLE.c.resource == change.resource)
                    & (_TABLE.c.effective_from == change.effective_from)
                )
            )
        if changes:
            connection.execute(_TABLE.insert(), [asdict(change) for change in changes])
    return len(changes)


def _epoch(now: datetime | None) -> int:
    return int((now or datetime.now(UTC)).timestamp())


def allocation_history(
    bind: Engine | Connection,
    service: str | None = None,
    *,
    config: Config | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Columns service, resource, value, effective_from (UTC datetime), source; sorted by time.

    With ``config``, the changes it makes that are not recorded yet are included
    as if recorded at ``now``, so a check before any write sees what the write
    will use.
    """
    query = select(
        _TABLE.c.service,
        _TABLE.c.resource,
        _TABLE.c.value,
        _TABLE.c.effective_from,
        _TABLE.c.source,
    ).order_by(_TABLE.c.effective_from, _TABLE.c.id)
    if service is not None:
        query = query.where(_TABLE.c.service == service)
    with writing(bind) as connection:
        records = [tuple(row) for row in connection.execute(query).fetchall()]
        if config is not None:
            records += [
                astuple(change)
                for change in pending_changes(connection, config, _epoch(now))
                if service is None or change.service == service
            ]
    frame = pd.DataFrame(records, columns=list(_COLUMNS))
    frame = frame.sort_values("effective_from", kind="stable", ignore_index=True)
    frame["value"] = frame["value"].astype("float64")
    frame["effective_from"] = pd.to_datetime(
        frame["effective_from"].astype("int64"), unit="s", utc=True
    )
    return frame


def allocation_records(engine: Engine, service: str | None = None) -> list[AllocationRecord]:
    """The stored history in the order it took effect."""
    query = select(*(_TABLE.c[name] for name in _COLUMNS)).order_by(
        _TABLE.c.effective_from, _TABLE.c.id
    )
    if service is not None:
        query = query.where(_TABLE.c.service == service)
    with engine.connect() as connection:
        return [
            AllocationRecord(str(s), str(r), float(v), int(e), str(src))
            for s, r, v, e, src in connection.execute(query)
        ]
