"""Value types of the forecasting engine (frozen, picklable, JSON-friendly)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime
from typing import Any, Literal

from forecasting.errors import SettingsVersionError

SETTINGS_VERSION = 4

SeasonalityMode = Literal["additive", "multiplicative"]
Transform = Literal["none", "log", "logit"]
CrossingMethod = Literal["first_passage", "mean"]


@dataclass(frozen=True)
class Threshold:
    """An alert threshold: crossed when the rolling ``duration_minutes`` mean exceeds value."""

    level: str
    value: float
    duration_minutes: int


@dataclass(frozen=True)
class ForecastScenario:
    """A growth scenario; ``annual_growth=None`` is the organic (fitted trend) forecast."""

    name: str
    annual_growth: float | None


#: The forecast of the fitted trend itself, next to the configured growth scenarios.
ORGANIC = ForecastScenario("organic", None)


@dataclass(frozen=True)
class Crossing:
    """When one scenario's forecast first goes above one threshold.

    ``expected`` is the median first-passage date (or, with the mean method, the
    date the median path crosses); ``earliest``/``latest`` bound the central
    interval (10 % and 90 % quantiles; for the organic scenario widened by the
    factor validation found the series' held-out crossings needed, so it
    covers the actual date about as often as its nominal 80 % says). ``None``
    means beyond the horizon.
    """

    scenario: str
    level: str
    threshold: float
    duration_minutes: int
    expected: date | None
    earliest: date | None
    latest: date | None
    runway_days: int | None
    already_exceeded: bool

    @classmethod
    def exceeded_now(
        cls, scenario: str, level: str, threshold: float, duration_minutes: int, today: date
    ) -> Crossing:
        """The threshold is already above at as-of: runway 0."""
        return cls(scenario, level, threshold, duration_minutes, today, today, today, 0, True)


@dataclass(frozen=True)
class ForecastCurve:
    """Per-period forecast quantiles of one scenario, for charts."""

    scenario: str
    dates: tuple[date, ...]
    median: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


@dataclass(frozen=True)
class ModelSettings:
    """Everything needed to refit the same model later (warm start).

    Persisted with ``to_dict`` and reloaded with ``from_dict``; older versions
    are migrated on load.
    """

    seasonality_mode: SeasonalityMode = "additive"
    changepoint_prior_scale: float = 0.05
    changepoint_range: float = 0.9
    transform: Transform = "none"
    crossing_method: CrossingMethod = "first_passage"
    # Number of most recent periods whose mean residual is added to the level:
    # the fitted trend lags behind a recent level shift.
    level_window: int = 0
    # Multipliers on the residual noise, on the simulated future changepoints
    # and on the standard error of the fitted final slope, calibrated on the
    # series' own history so intervals have their nominal width. (Version 3
    # added the slope term; older settings load with its default.)
    noise_scale: float = 1.0
    trend_uncertainty_scale: float = 1.0
    interval: tuple[float, float] = (0.1, 0.9)
    n_paths: int = 400
    validated: bool = False
    version: int = SETTINGS_VERSION
    slope_uncertainty_scale: float = 1.0
    # Conformal widening of the organic crossing interval in log lead time:
    # the factor that held-out crossings needed to fall inside it (1 = none).
    interval_widening: float = 1.0
    # Additive models are fitted to the data minus its minimum, so Prophet's
    # priors are relative to the data's range (version 4). Settings stored by
    # older versions load with False and refit the model they were chosen for.
    range_scaled: bool = True

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSettings:
        raw = dict(data)
        version = int(raw.get("version", 1))
        if version > SETTINGS_VERSION:
            raise SettingsVersionError(
                f"model settings version {version} is newer than supported ({SETTINGS_VERSION})"
            )
        if version == 1:
            raw = _migrate_v1(raw)
        if version < 4:
            raw.setdefault("range_scaled", False)
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in raw.items() if k in known}
        if "interval" in kwargs:
            lo, hi = kwargs["interval"]
            kwargs["interval"] = (float(lo), float(hi))
        kwargs["version"] = SETTINGS_VERSION
        return cls(**kwargs)

    def with_(self, **changes: Any) -> ModelSettings:
        return replace(self, **changes)


def _migrate_v1(raw: dict[str, Any]) -> dict[str, Any]:
    # v1 stored the Prophet arguments under their Prophet names and a boolean
    # for the crossing method; there was no calibration.
    out = dict(raw)
    if "mode" in out:
        out["seasonality_mode"] = out.pop("mode")
    if "cps" in out:
        out["changepoint_prior_scale"] = out.pop("cps")
    if "first_passage" in out:
        out["crossing_method"] = "first_passage" if out.pop("first_passage") else "mean"
    if "log_transform" in out:
        out["transform"] = "log" if out.pop("log_transform") else "none"
    return out


CombineMethod = Literal["pool", "median"]
EnsembleScope = Literal["short", "all"]


@dataclass(frozen=True)
class EnsembleOptions:
    """How the organic crossing date combines its members (see forecasting.members).

    The defaults are the choices the accuracy benchmark (bench/accuracy.py)
    validated leave-one-source-out: on long histories Prophet's decomposition
    alone was more accurate than any combination, on short histories (fewer
    than 14 report periods) the pooled members were. ``scope``: where members
    are combined ("short" histories only, or "all"). ``pool``: first passage
    over the paths of every member together (a mixture); ``median``: the
    weighted median of the members' own median first-passage dates, with the
    interval from the pooled paths. ``shrink``: how far member weights move
    from equal toward the inverse of their held-out errors. ``short_widening``
    multiplies the crossing interval's log-scale widening for short histories;
    ``widening`` every organic interval's.
    """

    members: tuple[str, ...] = ("prophet", "drift", "recent_line", "damped", "theta")
    combine: CombineMethod = "pool"
    scope: EnsembleScope = "short"
    short_widening: float = 2.0
    shrink: float = 1.0
    widening: float = 1.0


@dataclass(frozen=True)
class SeriesForecast:
    """All crossings and curves for one series, with the settings that produced them."""

    crossings: tuple[Crossing, ...]
    curves: tuple[ForecastCurve, ...]
    settings: ModelSettings
    validation: dict[str, float]
    history_end: datetime
    as_of: datetime
    grain: str = "1D"
    horizon_end: date | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
