"""Growth alerts: fast-rising metrics and thresholds exceeded or near under the scenario."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from jobs.reports.formatting import fmt_number, threshold_text
from jobs.reports.model import AMBER_DAYS, GrowthAlertRow, RunwayRow
from jobs.reports.sections.traffic_lights import days_left, planning_rows


def increase_alerts(
    daily: Mapping[tuple[str, str], pd.Series],
    start: pd.Timestamp,
    end: pd.Timestamp,
    percent: float,
    window_days: int,
) -> list[GrowthAlertRow]:
    """A metric whose ``window_days`` mean rose by ``percent`` or more against the window before.

    ``daily`` holds daily means (history may reach before ``start`` so the first
    windows of the period have something to compare with); the largest rise
    ending inside [start, end) is reported per series.
    """
    alerts: list[GrowthAlertRow] = []
    for (service, metric), values in sorted(daily.items()):
        if values.empty:
            continue
        full = values.asfreq("1D")
        rolling = full.rolling(window_days, min_periods=window_days).mean()
        before = rolling.shift(window_days)
        change = (rolling / before - 1.0) * 100.0
        inside = change[(change.index >= start) & (change.index < end)]
        inside = inside[np.isfinite(inside) & (before[inside.index] > 0)]
        if inside.empty:
            continue
        day = inside.idxmax()
        worst = float(inside.loc[day])
        if worst >= percent:
            ending = pd.Timestamp(day).date()
            alerts.append(
                GrowthAlertRow(
                    "increase",
                    service,
                    metric,
                    f"{window_days}-day mean up {fmt_number(worst)} % "
                    f"({fmt_number(float(before[day]))} → {fmt_number(float(rolling[day]))}) "
                    f"in the {window_days} days to {ending.isoformat()}",
                    "amber" if worst < 2 * percent else "red",
                    AMBER_DAYS,
                )
            )
    return alerts


def threshold_alerts(rows: Sequence[RunwayRow], scenario: str) -> list[GrowthAlertRow]:
    """Thresholds already exceeded or expected within the amber runway under ``scenario``.

    A metric without rows of ``scenario`` (one growth does not apply to) is judged
    by its organic rows, as in the traffic lights.
    """
    alerts = []
    for row in planning_rows(rows, scenario):
        if not row.already_exceeded and (row.runway_days is None or row.runway_days >= AMBER_DAYS):
            continue
        what = f"{row.level} threshold ({threshold_text(row)})"
        if row.already_exceeded:
            detail = f"{what} already exceeded"
        else:
            assert row.expected is not None
            detail = (
                f"{what} expected {row.expected.isoformat()}, in {row.runway_days} days "
                f"({row.scenario} scenario)"
            )
        alerts.append(
            GrowthAlertRow(
                "threshold",
                row.service,
                row.metric,
                detail,
                row.light,
                days_left(row),
            )
        )
    return alerts


def sort_alerts(alerts: Iterable[GrowthAlertRow]) -> tuple[GrowthAlertRow, ...]:
    rank = {"red": 0, "amber": 1, "green": 2}
    return tuple(
        sorted(alerts, key=lambda a: (rank[a.light], a.sort_days, a.service, a.metric, a.kind))
    )
