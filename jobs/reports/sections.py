"""Pure computations behind the report sections (no I/O).

Growth alerts, the traffic-light grid, forecast accuracy, seasonal profiles,
the threshold review, disaster-recovery capacity, the performance-test results
of the runbook's "Benchmark Results Format" and the three actions to take first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from forecasting.rightsizing import Recommendation
from jobs.reports.model import (
    AMBER_DAYS,
    AccuracyRow,
    Action,
    DrRow,
    GrowthAlert,
    LightCell,
    LightGrid,
    PerfCheck,
    PerformanceResults,
    ProfileRow,
    RunwayRow,
    ThresholdReviewRow,
)

LEVEL_ORDER = {"warning": 0, "critical": 1}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def level_rank(level: str) -> int:
    return LEVEL_ORDER.get(level, len(LEVEL_ORDER))


def fmt_number(value: float, digits: int = 1) -> str:
    """A number as printed in the report: thousands separators, at most ``digits`` decimals."""
    if not math.isfinite(value):
        return "–"
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fmt_days(days: int | None, exceeded: bool = False) -> str:
    if exceeded:
        return "exceeded"
    if days is None:
        return "beyond horizon"
    return f"{days} d"


# --- traffic lights ----------------------------------------------------------------------


def light_grid(rows: Sequence[RunwayRow], scenario: str) -> LightGrid:
    """Per service and metric, the shortest runway under ``scenario`` (organic if absent)."""
    best: dict[tuple[str, str], LightCell] = {}
    by_series: dict[tuple[str, str], list[RunwayRow]] = {}
    for row in rows:
        by_series.setdefault((row.service, row.metric), []).append(row)
    for key, group in by_series.items():
        chosen = [r for r in group if r.scenario == scenario] or [
            r for r in group if r.scenario == "organic"
        ]
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


# --- growth alerts -----------------------------------------------------------------------


def increase_alerts(
    daily: Mapping[tuple[str, str], pd.Series],
    start: pd.Timestamp,
    end: pd.Timestamp,
    percent: float,
    window_days: int,
) -> list[GrowthAlert]:
    """A metric whose ``window_days`` mean rose by ``percent`` or more against the window before.

    ``daily`` holds daily means (history may reach before ``start`` so the first
    windows of the period have something to compare with); the largest rise
    ending inside [start, end) is reported per series.
    """
    alerts: list[GrowthAlert] = []
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
                GrowthAlert(
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


def threshold_alerts(rows: Sequence[RunwayRow], scenario: str) -> list[GrowthAlert]:
    """Thresholds already exceeded or expected within the amber runway under ``scenario``."""
    alerts = []
    for row in rows:
        if row.scenario != scenario:
            continue
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
            GrowthAlert(
                "threshold",
                row.service,
                row.metric,
                detail,
                row.light,
                0 if row.already_exceeded else int(row.runway_days or 0),
            )
        )
    return alerts


def threshold_text(row: RunwayRow) -> str:
    unit = "" if row.unit in ("", "%") else f" {row.unit}"
    percent = "%" if row.unit == "%" else ""
    duration = f" for {row.duration_minutes} min" if row.duration_minutes else ""
    return f"> {fmt_number(row.threshold)}{percent}{unit}{duration}"


def sort_alerts(alerts: Iterable[GrowthAlert]) -> tuple[GrowthAlert, ...]:
    rank = {"red": 0, "amber": 1, "green": 2}
    return tuple(
        sorted(alerts, key=lambda a: (rank[a.light], a.sort_days, a.service, a.metric, a.kind))
    )


# --- forecast accuracy -------------------------------------------------------------------


def accuracy_rows(
    projection: pd.DataFrame,
    actual: Mapping[tuple[str, str, int], pd.Series],
    scenario: str,
) -> tuple[AccuracyRow, ...]:
    """Previous projections against the daily sustained peaks that happened.

    ``projection`` is ``stored_projection``'s frame restricted to the period;
    ``actual`` the daily sustained peaks per (service, metric, duration).
    """
    rows: list[AccuracyRow] = []
    if projection.empty:
        return ()
    frame = projection[projection["scenario"].isin([scenario, "organic"])]
    keys = sorted(
        {
            (str(s), str(m), int(d))
            for s, m, d in frame[["service", "metric", "duration_minutes"]].itertuples(index=False)
        }
    )
    for service, metric, duration in keys:
        part = frame[
            (frame["service"] == service)
            & (frame["metric"] == metric)
            & (frame["duration_minutes"] == duration)
        ]
        chosen = scenario if (part["scenario"] == scenario).any() else "organic"
        part = part[part["scenario"] == chosen].sort_values("day")
        peaks = actual.get((service, metric, duration))
        if peaks is None or peaks.empty:
            continue
        days = pd.DatetimeIndex(part["day"]).normalize()
        matched = peaks.reindex(days)
        ok = matched.notna().to_numpy()
        if not ok.any():
            continue
        median = part["median"].to_numpy()[ok]
        lower = part["lower"].to_numpy()[ok]
        upper = part["upper"].to_numpy()[ok]
        seen = matched.to_numpy()[ok]
        projected = float(np.mean(median))
        observed = float(np.mean(seen))
        error = 100.0 * (observed - projected) / projected if projected else math.nan
        inside = int(np.sum((seen >= lower) & (seen <= upper)))
        rows.append(
            AccuracyRow(
                service,
                metric,
                chosen,
                int(ok.sum()),
                projected,
                observed,
                error,
                inside,
                _growth(median[0], median[-1]) if len(median) > 1 else None,
                _growth(seen[0], seen[-1]) if len(seen) > 1 else None,
            )
        )
    return tuple(rows)


def _growth(first: float, last: float) -> float | None:
    return 100.0 * (last / first - 1.0) if first else None


# --- seasonal profiles -------------------------------------------------------------------


def seasonal_profile(service: str, metric: str, unit: str, hourly: pd.Series) -> ProfileRow | None:
    """Daily (hour of day) and weekly (day of week) profiles of hourly means, in UTC."""
    values = hourly.dropna()
    if len(values) < 48:
        return None
    index = pd.DatetimeIndex(values.index)
    by_hour = values.groupby(index.hour).mean().reindex(range(24))
    by_day = values.groupby(index.day_of_week).mean().reindex(range(7))
    hours = tuple(float(v) for v in by_hour.to_numpy())
    days = tuple(float(v) for v in by_day.to_numpy())
    finite_hours = [(v, h) for h, v in enumerate(hours) if math.isfinite(v)]
    peak_value, peak_hour = max(finite_hours)
    trough_value, trough_hour = min(finite_hours)
    finite_days = [(v, d) for d, v in enumerate(days) if math.isfinite(v)]
    busiest = max(finite_days)[1]
    weekday = np.nanmean(days[:5]) if any(math.isfinite(v) for v in days[:5]) else math.nan
    weekend = np.nanmean(days[5:]) if any(math.isfinite(v) for v in days[5:]) else math.nan
    swing = 100.0 * (peak_value / trough_value - 1.0) if trough_value > 0 else math.nan
    weekend_percent = (
        100.0 * (float(weekend) / float(weekday) - 1.0)
        if math.isfinite(weekday) and math.isfinite(weekend) and weekday > 0
        else math.nan
    )
    return ProfileRow(
        service,
        metric,
        unit,
        hours,
        days,
        peak_hour,
        trough_hour,
        swing,
        busiest,
        weekend_percent,
    )


# --- threshold review --------------------------------------------------------------------


def threshold_review_row(
    service: str,
    metric: str,
    unit: str,
    level: str,
    threshold: float,
    duration: int,
    hourly_peaks: pd.Series,
) -> ThresholdReviewRow:
    """Hours whose sustained ``duration``-minute peak went over, and breaches (runs of them)."""
    values = hourly_peaks.dropna()
    over = (values > threshold).to_numpy()
    index = pd.DatetimeIndex(values.index)
    breaches = 0
    longest = 0
    run = 0
    previous: pd.Timestamp | None = None
    for stamp, flag in zip(index, over, strict=True):
        contiguous = previous is not None and stamp - previous == pd.Timedelta(hours=1)
        if flag:
            run = run + 1 if (contiguous and run > 0) else 1
            if run == 1:
                breaches += 1
            longest = max(longest, run)
        else:
            run = 0
        previous = stamp
    return ThresholdReviewRow(
        service,
        metric,
        unit,
        level,
        threshold,
        duration,
        len(values),
        int(over.sum()),
        breaches,
        longest,
        float(values.max()) if len(values) else math.nan,
    )


# --- disaster recovery -------------------------------------------------------------------


def dr_row(service: str, metric: str, replicas: int, peak: float, critical: float) -> DrRow:
    """Utilisation with one replica lost: the same load on n - 1 replicas."""
    after = peak * replicas / (replicas - 1) if replicas > 1 else None
    return DrRow(service, metric, replicas, peak, after, critical)


# --- performance-test results ------------------------------------------------------------

_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z%/]*)\s*$")


class PerformanceFormatError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _value(data: Mapping[str, Any], path: str, problems: list[str]) -> tuple[float, str] | None:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            problems.append(f"{path}: missing")
            return None
        node = node[part]
    match = _NUMBER.match(str(node))
    if match is None:
        problems.append(f"{path}: not a number with a unit: {node!r}")
        return None
    return float(match.group(1)), match.group(2)


def _ms(value: tuple[float, str], path: str, problems: list[str]) -> float:
    number, unit = value
    if unit in ("ms", ""):
        return number
    if unit == "s":
        return number * 1000.0
    problems.append(f"{path}: unit {unit!r} is not ms or s")
    return number


def parse_performance(
    data: Any, source: str, thresholds: Mapping[str, tuple[float, float]]
) -> PerformanceResults:
    """Reads the runbook's benchmark results YAML (already parsed) and checks it.

    ``thresholds`` maps metric names to (warning, critical) values; the checks
    compare the test's resource usage, p95 latency and error rate with the
    warnings, and the achieved with the target requests per second.
    """
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise PerformanceFormatError(["(top level): expected the runbook's results mapping"])
    paths = {
        "duration": "Test Configuration.Duration",
        "users": "Test Configuration.Concurrent Users",
        "target": "Test Configuration.Target RPS",
        "rps": "Results.Actual RPS",
        "p50": "Results.Response Times.50th",
        "p95": "Results.Response Times.95th",
        "p99": "Results.Response Times.99th",
        "errors": "Results.Error Rate",
        "cpu": "Resource Usage.CPU",
        "memory": "Resource Usage.Memory",
        "network": "Resource Usage.Network",
    }
    got = {key: _value(data, path, problems) for key, path in paths.items()}
    raw_bottlenecks = data.get("Bottlenecks", [])
    if raw_bottlenecks is None:
        raw_bottlenecks = []
    if not isinstance(raw_bottlenecks, list):
        problems.append("Bottlenecks: expected a list")
        raw_bottlenecks = []
    if problems:
        raise PerformanceFormatError(problems)
    v = {key: value for key, value in got.items() if value is not None}
    p50 = _ms(v["p50"], paths["p50"], problems)
    p95 = _ms(v["p95"], paths["p95"], problems)
    p99 = _ms(v["p99"], paths["p99"], problems)
    if problems:
        raise PerformanceFormatError(problems)

    def shown(key: str) -> str:
        number, unit = v[key]
        return f"{fmt_number(number, 2)}{'' if unit in ('%', '') else ' '}{unit}"

    checks: list[PerfCheck] = []
    target = v["target"][0]
    rps = v["rps"][0]
    checks.append(
        PerfCheck(
            "Throughput (share of target)",
            f"{fmt_number(100 * rps / target if target else math.nan)} %",
            "≥ 95 %",
            target > 0 and rps >= 0.95 * target,
        )
    )
    for label, key, metric, measured in (
        ("CPU", "cpu", "cpu_percent", v["cpu"][0]),
        ("Memory", "memory", "memory_percent", v["memory"][0]),
        ("Response time p95", "p95", "response_time_p95_ms", p95),
        ("Error rate", "errors", "error_rate_percent", v["errors"][0]),
    ):
        if metric not in thresholds:
            continue
        warning = thresholds[metric][0]
        unit = " ms" if key == "p95" else " %"
        checks.append(
            PerfCheck(
                f"{label} under the warning threshold",
                f"{fmt_number(measured)}{unit}",
                f"< {fmt_number(warning)}{unit}",
                measured < warning,
            )
        )
    return PerformanceResults(
        source=source,
        configuration=(
            ("Duration", shown("duration")),
            ("Concurrent users", shown("users")),
            ("Target requests/s", shown("target")),
        ),
        results=(
            ("Actual requests/s", shown("rps")),
            ("Response time p50", f"{fmt_number(p50)} ms"),
            ("Response time p95", f"{fmt_number(p95)} ms"),
            ("Response time p99", f"{fmt_number(p99)} ms"),
            ("Error rate", shown("errors")),
        ),
        resources=(
            ("CPU", shown("cpu")),
            ("Memory", shown("memory")),
            ("Network", shown("network")),
        ),
        bottlenecks=tuple(str(item) for item in raw_bottlenecks),
        checks=tuple(checks),
    )


# --- what to act on first ----------------------------------------------------------------


def top_actions(
    runway: Sequence[RunwayRow],
    scenario: str,
    recommendations: Sequence[Recommendation],
    alerts: Sequence[GrowthAlert],
    dr: Sequence[DrRow],
    currency: str,
    count: int = 3,
) -> tuple[Action, ...]:
    """The few things to act on first, most urgent first, one per service and metric.

    Order: thresholds already exceeded or red under the planning scenario, then
    disaster-recovery shortfalls, then increases the right-sizing asks for, then
    growth alerts and amber runways, then the largest saving.
    """
    candidates: list[tuple[tuple[int, int, str, str], str, str, Action]] = []
    planning = [r for r in runway if r.scenario == scenario] or [
        r for r in runway if r.scenario == "organic"
    ]
    for row in planning:
        light = row.light
        if light == "green":
            continue
        days = 0 if row.already_exceeded else int(row.runway_days or 0)
        tier = 0 if light == "red" else 4
        when = (
            f"Already over the {row.level} threshold ({threshold_text(row)})"
            if row.already_exceeded
            else f"Expected to cross the {row.level} threshold ({threshold_text(row)}) "
            f"around {_date(row.expected)}, in {days} days,"
        )
        candidates.append(
            (
                (tier, days, row.service, row.metric),
                row.service,
                row.metric,
                Action(
                    f"{row.service}: {row.metric} {row.level} threshold",
                    f"{when} under the {row.scenario} scenario. "
                    "Add capacity or scale out before then.",
                    light,
                ),
            )
        )
    for item in dr:
        if item.ok:
            continue
        after = (
            "would be an outage (single replica)"
            if item.after_loss is None
            else f"would reach {fmt_number(item.after_loss)} % "
            f"(critical {fmt_number(item.critical)} %)"
        )
        candidates.append(
            (
                (1, 0, item.service, item.metric),
                item.service,
                item.metric,
                Action(
                    f"{item.service}: disaster-recovery headroom",
                    f"Losing one of {item.replicas} replicas, {item.metric} {after}; "
                    "add a replica or headroom.",
                    "red",
                ),
            )
        )
    for rec in recommendations:
        if rec.action != "increase":
            continue
        candidates.append(
            (
                (2, 0, rec.service, rec.resource),
                rec.service,
                rec.resource,
                Action(
                    f"{rec.service}: raise {rec.resource}",
                    f"{fmt_number(rec.current, 2)} → {fmt_number(rec.recommended, 2)} {rec.unit} "
                    f"({_money(rec.monthly_cost_delta, currency)} a month). {rec.reason}",
                    "amber",
                ),
            )
        )
    for alert in alerts:
        if alert.kind != "increase":
            continue
        candidates.append(
            (
                (3, alert.sort_days, alert.service, alert.metric),
                alert.service,
                alert.metric,
                Action(
                    f"{alert.service}: {alert.metric} growing fast",
                    f"{alert.detail}; check what drives it and whether the forecast holds.",
                    alert.light,
                ),
            )
        )
    savings = sorted(
        (r for r in recommendations if r.action == "decrease" and r.monthly_cost_delta < 0),
        key=lambda r: (r.monthly_cost_delta, r.service, r.resource),
    )
    for rec in savings[:1]:
        candidates.append(
            (
                (5, 0, rec.service, rec.resource),
                rec.service,
                rec.resource,
                Action(
                    f"{rec.service}: reduce {rec.resource}",
                    f"{fmt_number(rec.current, 2)} → {fmt_number(rec.recommended, 2)} {rec.unit} "
                    f"saves {_money(-rec.monthly_cost_delta, currency)} a month. {rec.reason}",
                    "green",
                ),
            )
        )
    chosen: list[Action] = []
    seen: set[tuple[str, str]] = set()
    for _, service, what, action in sorted(candidates, key=lambda c: c[0]):
        if (service, what) in seen:
            continue
        seen.add((service, what))
        chosen.append(action)
        if len(chosen) == count:
            break
    return tuple(chosen)


def _date(value: date | None) -> str:
    return value.isoformat() if value else "–"


def _money(value: float, currency: str) -> str:
    sign = "+" if value > 0 else ("−" if value < 0 else "")
    return f"{sign}{abs(value):,.2f} {currency}"
