"""The few things to act on first, drawn from every other section."""

from __future__ import annotations

from collections.abc import Sequence

from forecasting.rightsizing.fleet import Recommendation
from jobs.reports.formatting import date_text, fmt_number, money, threshold_text
from jobs.reports.model import DrRow, GrowthAlertRow, RunwayRow, TopAction
from jobs.reports.sections.traffic_lights import days_left, planning_rows

# (tier, days, service, metric or resource): the sort order; the last two also
# name what an action is about, so only the most urgent one per pair is kept.
_Rank = tuple[int, int, str, str]


def top_actions(
    runway: Sequence[RunwayRow],
    scenario: str,
    recommendations: Sequence[Recommendation],
    alerts: Sequence[GrowthAlertRow],
    dr: Sequence[DrRow],
    currency: str,
    count: int = 3,
) -> tuple[TopAction, ...]:
    """The few things to act on first, most urgent first, one per service and metric.

    Order: thresholds already exceeded or red under the planning scenario, then
    disaster-recovery shortfalls, then increases the right-sizing asks for, then
    growth alerts and amber runways, then the largest saving.
    """
    candidates: list[tuple[_Rank, TopAction]] = []
    for row in planning_rows(runway, scenario):
        light = row.light
        if light == "green":
            continue
        days = days_left(row)
        when = (
            f"Already over the {row.level} threshold ({threshold_text(row)})"
            if row.already_exceeded
            else f"Expected to cross the {row.level} threshold ({threshold_text(row)}) "
            f"around {date_text(row.expected)}, in {days} days,"
        )
        candidates.append(
            (
                (0 if light == "red" else 4, days, row.service, row.metric),
                TopAction(
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
                TopAction(
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
                TopAction(
                    f"{rec.service}: raise {rec.resource}",
                    f"{_change(rec)} ({money(rec.monthly_cost_delta, currency)} a month). "
                    f"{rec.reason}",
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
                TopAction(
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
                TopAction(
                    f"{rec.service}: reduce {rec.resource}",
                    f"{_change(rec)} saves {money(-rec.monthly_cost_delta, currency)} a month. "
                    f"{rec.reason}",
                    "green",
                ),
            )
        )
    chosen: list[TopAction] = []
    seen: set[tuple[str, str]] = set()
    for rank, action in sorted(candidates, key=lambda c: c[0]):
        subject = rank[2:]
        if subject in seen:
            continue
        seen.add(subject)
        chosen.append(action)
        if len(chosen) == count:
            break
    return tuple(chosen)


def _change(rec: Recommendation) -> str:
    return f"{fmt_number(rec.current, 2)} → {fmt_number(rec.recommended, 2)} {rec.unit}"
