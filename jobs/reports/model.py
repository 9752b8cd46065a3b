"""The report context: plain, frozen values that the renderer turns into a PDF.

Everything here is already read from the store and computed; rendering needs
nothing else. Labels (service, metric, scenario names) are kept as given and
escaped by the templates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from forecasting.planning.budget import Budget, Plan
from forecasting.planning.growth import Discrepancy
from forecasting.rightsizing.fleet import Recommendation
from forecasting.types import ForecastCurve
from jobs.forecast.fleet import ForecastRow
from jobs.periods import ReportPeriod

Light = Literal["red", "amber", "green"]

RED_DAYS = 90
AMBER_DAYS = 180


def runway_light(runway_days: int | None, already_exceeded: bool = False) -> Light:
    """Red under 90 days (or already over), amber under 180, green otherwise."""
    if already_exceeded or (runway_days is not None and runway_days < RED_DAYS):
        return "red"
    if runway_days is not None and runway_days < AMBER_DAYS:
        return "amber"
    return "green"


@dataclass(frozen=True)
class RunwayRow(ForecastRow):
    """A runway-table row with the metric's unit, for display."""

    unit: str = ""

    @property
    def light(self) -> Light:
        return runway_light(self.runway_days, self.already_exceeded)


@dataclass(frozen=True)
class LightCell:
    """The shortest runway of one service and metric under the planning scenario."""

    runway_days: int | None
    already_exceeded: bool
    level: str

    @property
    def light(self) -> Light:
        return runway_light(self.runway_days, self.already_exceeded)


@dataclass(frozen=True)
class LightGrid:
    metrics: tuple[str, ...]
    rows: tuple[tuple[str, tuple[LightCell | None, ...]], ...]


@dataclass(frozen=True)
class ChartSeries:
    """What one forecast chart shows: history, forecast curves and threshold lines."""

    service: str
    metric: str
    unit: str
    duration_minutes: int
    history_dates: tuple[date, ...]
    history_values: tuple[float, ...]
    curves: tuple[ForecastCurve, ...]
    thresholds: tuple[tuple[str, float], ...]
    as_of: date


@dataclass(frozen=True, order=True)
class Failure:
    service: str
    metric: str
    duration_minutes: int
    error: str


@dataclass(frozen=True)
class GrowthAlertRow:
    kind: Literal["increase", "threshold"]
    service: str
    metric: str
    detail: str
    light: Light
    sort_days: int


@dataclass(frozen=True)
class AccuracyRow:
    service: str
    metric: str
    scenario: str
    points: int
    projected: float
    actual: float
    error_percent: float
    within_band: int
    projected_growth_percent: float | None
    actual_growth_percent: float | None
    #: Highest projected median and highest daily sustained peak within the period.
    projected_peak: float = math.nan
    actual_peak: float = math.nan
    duration_minutes: int = 0


@dataclass(frozen=True)
class CrossingCheck:
    """A threshold crossing forecast for the period, or one that happened in it."""

    service: str
    metric: str
    level: str
    threshold: float
    scenario: str
    forecast: date | None
    actual: date | None

    @property
    def verdict(self) -> str:
        if self.actual is None:
            return "forecast, did not cross"
        if self.forecast is None:
            return "crossed, not forecast within the horizon"
        days = (self.actual - self.forecast).days
        if days == 0:
            return "on the forecast day"
        count = f"{abs(days)} day{'s' if abs(days) != 1 else ''}"
        return f"{count} {'earlier' if days < 0 else 'later'} than forecast"


@dataclass(frozen=True)
class Accuracy:
    run_as_of: datetime | None
    rows: tuple[AccuracyRow, ...]
    crossings: tuple[CrossingCheck, ...] = ()


@dataclass(frozen=True)
class ProfileRow:
    service: str
    metric: str
    unit: str
    hourly: tuple[float, ...]  # 24 means, hour of day (UTC)
    weekly: tuple[float, ...]  # 7 means, Monday first
    peak_hour: int
    trough_hour: int
    daily_swing_percent: float
    busiest_day: int
    weekend_percent: float  # weekend mean relative to weekdays, in percent


@dataclass(frozen=True)
class ThresholdReviewRow:
    service: str
    metric: str
    unit: str
    level: str
    threshold: float
    duration_minutes: int
    hours_observed: int
    hours_over: int
    breaches: int
    longest_hours: int
    peak: float

    @property
    def percent_over(self) -> float:
        return 100.0 * self.hours_over / self.hours_observed if self.hours_observed else 0.0


@dataclass(frozen=True)
class DrRow:
    service: str
    metric: str
    replicas: int
    peak: float
    after_loss: float | None  # None: a single replica, losing it is an outage
    critical: float

    @property
    def ok(self) -> bool:
        return self.after_loss is not None and self.after_loss < self.critical


@dataclass(frozen=True)
class PerfCheck:
    name: str
    measured: str
    limit: str
    ok: bool


@dataclass(frozen=True)
class PerformanceResults:
    source: str
    configuration: tuple[tuple[str, str], ...]
    results: tuple[tuple[str, str], ...]
    resources: tuple[tuple[str, str], ...]
    bottlenecks: tuple[str, ...]
    checks: tuple[PerfCheck, ...]


@dataclass(frozen=True)
class TopAction:
    title: str
    detail: str
    light: Light


@dataclass(frozen=True)
class ReportContext:
    period: ReportPeriod
    title: str
    currency: str
    planning_scenario: str
    scenarios: tuple[str, ...]
    config_yaml: str
    config_fingerprint: str
    services: tuple[tuple[str, str, int, str], ...]  # name, description, replicas, scaling
    runway: tuple[RunwayRow, ...]
    lights: LightGrid
    charts: tuple[ChartSeries, ...]
    failures: tuple[Failure, ...]
    recommendations: tuple[Recommendation, ...]
    rightsizing_note: str
    accuracy: Accuracy
    profiles: tuple[ProfileRow, ...]
    alerts: tuple[GrowthAlertRow, ...]
    actions: tuple[TopAction, ...]
    calendar: tuple[str, ...]
    discrepancies: tuple[Discrepancy, ...]
    growth_alert_percent: float
    growth_alert_days: int
    lookback_days: int
    threshold_review: tuple[ThresholdReviewRow, ...] = ()
    dr: tuple[DrRow, ...] = ()
    performance: PerformanceResults | None = None
    plan: Plan | None = None
    budget: Budget | None = None
    attachments: tuple[tuple[str, bytes, str], ...] = field(default=())
    # What the reader must know first (series not forecast, partial data): page 1.
    caveats: tuple[str, ...] = ()
    # Series (service and metric) with a forecast that failed.
    unforecast: int = 0

    @property
    def kind(self) -> str:
        return self.period.kind

    @property
    def quarterly_sections(self) -> bool:
        return self.period.kind in ("quarterly", "annual")
