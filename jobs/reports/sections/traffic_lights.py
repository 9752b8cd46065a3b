"""Runway rows as traffic lights: the planning scenario's rows and how urgent each is."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.reports.model import LightCell, LightGrid, RunwayRow

LEVEL_ORDER = {"warning": 0, "critical": 1}


def level_rank(level: str) -> int:
    return LEVEL_ORDER.get(level, len(LEVEL_ORDER))


def planning_rows(rows: Sequence[RunwayRow], scenario: str) -> list[RunwayRow]:
    """Per service and metric, its rows of ``scenario``; its organic rows when it has none.

    Growth scenarios only apply to load-driven metrics, so latency and error
    rates are forecast under the organic scenario alone: the traffic lights, the
    growth alerts and the actions all take those rows in their place.
    """
    by_series: dict[tuple[str, str], list[RunwayRow]] = {}
    for row in rows:
        by_series.setdefault((row.service, row.metric), []).append(row)
    chosen: list[RunwayRow] = []
    for group in by_series.values():
        chosen.extend(
            [r for r in group if r.scenario == scenario]
            or [r for r in group if r.scenario == "organic"]
        )
    return chosen


def days_left(row: RunwayRow) -> int:
    """Days until the threshold is crossed, 0 once it is (or when no date is known)."""
    return 0 if row.already_exceeded else int(row.runway_days or 0)


def light_grid(rows: Sequence[RunwayRow], scenario: str) -> LightGrid:
    """Per service and metric, the shortest runway under ``scenario`` (organic if absent)."""
    best: dict[tuple[str, str], LightCell] = {}
    by_series: dict[tuple[str, str], list[RunwayRow]] = {}
    for row in rows:
        by_series.setdefault((row.service, row.metric), []).append(row)
    for key, group in by_series.items():
        chosen = planning_rows(group, scenario)
        if not chosen:
            continue
        worst = min(chosen, key=_urgency)
        best[key] = LightCell(worst.runway_days, worst.already_exceeded, worst.level)
    services = sorted({k[0] for k in best})
    metrics = tuple(sorted({k[1] for k in best}))
    return LightGrid(
        metrics,
        tuple((s, tuple(best.get((s, m)) for m in metrics)) for s in services),
    )


def _urgency(row: RunwayRow) -> tuple[int, int, int]:
    days = (
        0 if row.already_exceeded else (row.runway_days if row.runway_days is not None else 10**6)
    )
    return (days, level_rank(row.level), 0)
