"""Right-sizing: CPU, memory and replica recommendations from usage history.

Model, per service and resource (CPU cores and memory GB are per replica):

1. Window: samples in ``[as_of - lookback, as_of)`` (nothing at or after as-of).
2. Two well-known recommenders set the floor:

   * VPA (Kubernetes Vertical Pod Autoscaler, recommender defaults): target =
     p90 + 15% margin, on raw samples for CPU and on daily peaks for memory
     (VPA keeps one memory peak per 24 h interval). Its bounds widen when the
     history is short: upper = p95 * 1.15 * (1 + 1/c), lower = p50 * 1.15 *
     (1 + 0.001/c) ** -2, where c is the history's confidence in days. VPA
     takes c = min(span in days, samples / 1440), which assumes one sample a
     minute; here c = min(span, samples * median interval), the same idea for
     any sampling rate (gaps lower it). VPA's exponential decay of old samples
     is not applied: the lookback window already bounds the history.
   * KRR (robusta-dev/krr, "simple" strategy): CPU request = p95, no CPU
     limit; memory request = limit = peak + 15%.

   The recommendation is never below either anchor.
3. Growth: the p95 of the window, grown by ``(1 + g) ** (review_days / 365.25)``
   for the configured scenario, must stay under the warning threshold
   (CPU 70%, memory 80%) until the next review:
   ``recommended >= p95 * growth / warning``.
4. Floors from the runbook's formulas: the database's memory is at least
   ``database(agents).memory_gb`` and Redis's at least
   ``redis_memory_gb(peak_users)``; the database's storage is raised (never
   lowered: volumes do not shrink in place) to ``database(agents).storage_gb``.
5. Rounded up to a step: CPU to 0.05 core below 1 core and 0.1 core from 1 core
   (the granularity of Docker ``cpus`` and Kubernetes millicores people
   actually write), memory to 0.25 GB (256 MiB).
6. Action: ``increase`` when the p95 is already over the warning threshold,
   when growth would take it over before the next review, or when a runbook
   formula asks for more. ``decrease`` only when the runbook's scale-down
   trigger holds (p95 below 30% of the CPU allocation, below 50% of memory),
   the allocation is above VPA's upper bound (so short histories do not shrink
   anything), and the saving is at least the dead band (10%). Otherwise
   ``keep``, with ``recommended == current``.

Replicas (services with a requests-per-second series): the runbook's backend
formula applied to the p95 RPS grown to the next review. Per-replica CPU and
memory are judged at the current replica count.

Memory is in GB of 2**30 bytes, as Docker's and Kubernetes' ``G``/``Gi`` limits
people write for these services.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from forecasting.capacity import (
    DEFAULT_CAPACITY,
    DEFAULT_ROLES,
    CapacityInputError,
    CapacitySettings,
    ServiceRoles,
    backend_instances,
    ceil_to_step,
    database,
    redis_memory_gb,
)
from forecasting.costs import Allocation, CostModel, resource_cost_delta
from forecasting.growth import DAYS_PER_YEAR, growth_factor

BYTES_PER_GB = 2**30
_DAY = pd.Timedelta(days=1)

ResourceName = Literal["cpu", "memory", "replicas", "storage"]
Unit = Literal["cores", "GB", "replicas"]
Action = Literal["increase", "decrease", "keep"]


@dataclass(frozen=True)
class RightsizingSettings:
    lookback_days: float = 30.0
    review_days: float = 30.0
    growth_scenario: str = "moderate"
    annual_growth: float = 0.5
    cpu_warning: float = 0.70
    memory_warning: float = 0.80
    cpu_scale_down: float = 0.30
    memory_scale_down: float = 0.50
    headroom_quantile: float = 0.95
    vpa_target_quantile: float = 0.90
    vpa_lower_quantile: float = 0.50
    vpa_upper_quantile: float = 0.95
    vpa_margin: float = 0.15
    krr_cpu_quantile: float = 0.95
    krr_memory_margin: float = 0.15
    dead_band: float = 0.10
    cpu_step_small: float = 0.05
    cpu_step: float = 0.1
    memory_step_gb: float = 0.25
    min_cpu_cores: float = 0.05
    min_memory_gb: float = 0.25
    min_replicas: int = 1
    min_samples: int = 12

    def __post_init__(self) -> None:
        for name in (
            "lookback_days",
            "review_days",
            "cpu_step_small",
            "cpu_step",
            "memory_step_gb",
            "min_cpu_cores",
            "min_memory_gb",
        ):
            _positive(f"rightsizing.{name}", getattr(self, name))
        for name in (
            "cpu_warning",
            "memory_warning",
            "cpu_scale_down",
            "memory_scale_down",
            "headroom_quantile",
            "vpa_target_quantile",
            "vpa_lower_quantile",
            "vpa_upper_quantile",
            "krr_cpu_quantile",
        ):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise CapacityInputError(f"rightsizing.{name}", f"must be in (0, 1], got {value!r}")
        for name in ("vpa_margin", "krr_memory_margin", "dead_band"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise CapacityInputError(f"rightsizing.{name}", f"must be in [0, 1), got {value!r}")
        if self.cpu_scale_down >= self.cpu_warning:
            raise CapacityInputError(
                "rightsizing.cpu_scale_down", "must be below rightsizing.cpu_warning"
            )
        if self.memory_scale_down >= self.memory_warning:
            raise CapacityInputError(
                "rightsizing.memory_scale_down", "must be below rightsizing.memory_warning"
            )
        if not math.isfinite(self.annual_growth) or self.annual_growth <= -1:
            raise CapacityInputError(
                "rightsizing.annual_growth", f"must be > -1, got {self.annual_growth!r}"
            )
        if self.min_replicas < 1:
            raise CapacityInputError("rightsizing.min_replicas", "must be >= 1")
        if self.min_samples < 1:
            raise CapacityInputError("rightsizing.min_samples", "must be >= 1")

    @property
    def review_growth(self) -> float:
        return growth_factor(self.annual_growth, self.review_days / DAYS_PER_YEAR)


def _positive(field: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise CapacityInputError(field, f"must be greater than 0, got {value!r}")


@dataclass(frozen=True, eq=False)
class ServiceUsage:
    """Usage history of one service, each a series indexed by tz-aware time.

    ``cpu_cores`` and ``memory_bytes`` are per replica (one container's usage);
    ``requests_per_second`` is the whole service's throughput.
    """

    service: str
    cpu_cores: pd.Series | None = None
    memory_bytes: pd.Series | None = None
    requests_per_second: pd.Series | None = None


@dataclass(frozen=True)
class FormulaDemand:
    """Current load the runbook's database and Redis formulas are sized from."""

    agents: float | None = None
    peak_users: float | None = None


@dataclass(frozen=True)
class UsagePercentiles:
    count: int
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class VpaEstimate:
    lower: float
    target: float
    upper: float
    confidence_days: float


@dataclass(frozen=True)
class Evidence:
    """The numbers behind a CPU or memory recommendation (in the resource's unit)."""

    percentiles: UsagePercentiles
    headroom: float  # the p95 the growth check uses
    vpa: VpaEstimate
    krr: float
    growth_needed: float
    formula_floor: float


@dataclass(frozen=True)
class Recommendation:
    service: str
    resource: ResourceName
    unit: Unit
    current: float
    recommended: float
    action: Action
    reason: str
    monthly_cost_delta: float
    evidence: Evidence | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``capplan rightsize --format json``."""
        return {
            "service": self.service,
            "resource": self.resource,
            "unit": self.unit,
            "current": self.current,
            "recommended": self.recommended,
            "action": self.action,
            "reason": self.reason,
            "monthly_cost_delta": self.monthly_cost_delta,
        }


# --- series handling -------------------------------------------------------------------


def _utc_index(series: pd.Series, field: str) -> pd.Series:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise CapacityInputError(field, "must be indexed by timestamps")
    if series.index.tz is None:
        raise CapacityInputError(field, "timestamps must be time-zone aware (UTC)")
    out = series.copy()
    out.index = series.index.tz_convert("UTC").as_unit("ns")
    return out.sort_index()


def _clean_values(series: pd.Series, field: str) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    if values.isna().any() and not series.isna().all():
        bad = series[values.isna() & series.notna()]
        if not bad.empty:
            raise CapacityInputError(
                field, f"non-numeric value {bad.iloc[0]!r} at {bad.index[0].isoformat()}"
            )
    values = values.dropna()
    negative = values[values < 0]
    if not negative.empty:
        raise CapacityInputError(
            field, f"negative value {negative.iloc[0]!r} at {negative.index[0].isoformat()}"
        )
    return values


def lookback_window(
    series: pd.Series, as_of: pd.Timestamp, lookback_days: float, field: str
) -> pd.Series:
    """Samples in ``[as_of - lookback, as_of)``, UTC, sorted, without NaN.

    Raises ``CapacityInputError`` naming ``field`` when nothing is left.
    """
    as_of_utc = _utc_timestamp(as_of, "as_of")
    clean = _clean_values(_utc_index(series, field), field)
    start = as_of_utc - pd.Timedelta(days=lookback_days)
    window = clean[(clean.index >= start) & (clean.index < as_of_utc)]
    if window.empty:
        raise CapacityInputError(
            field,
            f"no data in the lookback window {start.isoformat()} .. {as_of_utc.isoformat()} "
            f"({lookback_days:g} days before as-of)",
        )
    return window


def _utc_timestamp(value: pd.Timestamp, field: str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise CapacityInputError(field, "must be time-zone aware (UTC)")
    return stamp.tz_convert("UTC")


def usage_percentiles(series: pd.Series) -> UsagePercentiles:
    """Count, mean, p50/p90/p95/p99 (pandas ``quantile``, linear) and max of the values."""
    values = pd.to_numeric(series, errors="raise").astype("float64").dropna()
    if values.empty:
        raise CapacityInputError("usage", "no values to summarise")
    q = values.quantile([0.5, 0.9, 0.95, 0.99])
    return UsagePercentiles(
        count=int(values.size),
        mean=float(values.mean()),
        p50=float(q.loc[0.5]),
        p90=float(q.loc[0.9]),
        p95=float(q.loc[0.95]),
        p99=float(q.loc[0.99]),
        max=float(values.max()),
    )


def percent_to_absolute(
    percent: pd.Series, allocation_history: pd.Series, field: str = "allocation"
) -> pd.Series:
    """Absolute usage from percent-of-allocation samples.

    ``allocation_history`` holds absolute allocations (cores, bytes) indexed by
    the instant each took effect; every sample uses the allocation in force at
    its timestamp (the latest effective at or before it). A sample before the
    first effective date is an error naming ``field``.
    """
    samples = _utc_index(percent, "percent")
    history = _utc_index(allocation_history, field)
    if history.empty:
        raise CapacityInputError(field, "no allocation given")
    if history.index.has_duplicates:
        dup = history.index[history.index.duplicated()][0]
        raise CapacityInputError(field, f"two allocations take effect at {dup.isoformat()}")
    _clean_values(history, field)
    left = pd.DataFrame({"ts": samples.index, "percent": samples.to_numpy(dtype="float64")})
    right = pd.DataFrame({"ts": history.index, "allocation": history.to_numpy(dtype="float64")})
    merged = pd.merge_asof(left, right, on="ts", direction="backward")
    missing = merged["allocation"].isna()
    if missing.any():
        first = pd.Timestamp(merged.loc[missing, "ts"].iloc[0])
        raise CapacityInputError(
            field,
            f"no allocation in force at {first.isoformat()} "
            f"(the first takes effect at {history.index[0].isoformat()})",
        )
    absolute = merged["percent"].to_numpy() / 100.0 * merged["allocation"].to_numpy()
    return pd.Series(absolute, index=samples.index, name=percent.name)


def history_confidence_days(index: pd.DatetimeIndex) -> float:
    """How many days of history the samples amount to (see the module docstring)."""
    if len(index) < 2:
        return 0.0
    span = (index[-1] - index[0]) / _DAY
    interval = pd.Series(index).diff().dropna().median() / _DAY
    return float(min(span, len(index) * interval))


def vpa_estimate(
    samples: pd.Series, settings: RightsizingSettings, *, daily_peaks: bool
) -> VpaEstimate:
    """VPA's lower bound, target and upper bound for ``samples`` (see the module docstring)."""
    confidence = history_confidence_days(pd.DatetimeIndex(samples.index))
    basis = samples.resample("1D").max().dropna() if daily_peaks else samples
    margin = 1.0 + settings.vpa_margin
    q = basis.quantile(
        [settings.vpa_lower_quantile, settings.vpa_target_quantile, settings.vpa_upper_quantile]
    )
    lower_q, target_q, upper_q = (float(v) for v in q.to_numpy())
    if confidence > 0:
        upper_mult = 1.0 + 1.0 / confidence
        lower_mult = (1.0 + 0.001 / confidence) ** -2
    else:
        upper_mult, lower_mult = math.inf, 0.0
    return VpaEstimate(
        lower=lower_q * margin * lower_mult,
        target=target_q * margin,
        upper=upper_q * margin * upper_mult,
        confidence_days=confidence,
    )


# --- recommendations -------------------------------------------------------------------


def _cpu_step_up(cores: float, settings: RightsizingSettings) -> float:
    small = ceil_to_step(cores, settings.cpu_step_small)
    return small if small < 1 else ceil_to_step(cores, settings.cpu_step)


def _fmt(value: float, unit: str) -> str:
    if unit == "cores":
        text = f"{value:.2f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.1f}"
        return f"{text} {'core' if text == '1' else 'cores'}"
    return f"{value:.2f}".rstrip("0").rstrip(".") + " GB"


@dataclass(frozen=True)
class _ResourceSpec:
    resource: Literal["cpu", "memory"]
    unit: Literal["cores", "GB"]
    label: str
    warning: float
    scale_down: float


def _size_resource(
    service: str,
    spec: _ResourceSpec,
    window: pd.Series,
    allocation: Allocation,
    costs: CostModel,
    settings: RightsizingSettings,
    formula_floor: float,
    formula_note: str,
) -> Recommendation:
    current = allocation.cores if spec.resource == "cpu" else allocation.memory_gb
    if current <= 0:
        raise CapacityInputError(
            f"allocations.{service}.{'cpu_cores' if spec.resource == 'cpu' else 'memory_gb'}",
            "must be greater than 0 to right-size it",
        )
    stats = usage_percentiles(window)
    headroom = float(window.quantile(settings.headroom_quantile))
    if spec.resource == "cpu":
        vpa = vpa_estimate(window, settings, daily_peaks=False)
        krr = float(window.quantile(settings.krr_cpu_quantile))
        minimum = settings.min_cpu_cores
    else:
        vpa = vpa_estimate(window, settings, daily_peaks=True)
        krr = stats.max * (1.0 + settings.krr_memory_margin)
        minimum = settings.min_memory_gb
    growth_needed = headroom * settings.review_growth / spec.warning
    needed = max(vpa.target, krr, growth_needed, formula_floor, minimum)
    if spec.resource == "cpu":
        target = _cpu_step_up(needed, settings)
    else:
        target = ceil_to_step(needed, settings.memory_step_gb)

    share = headroom / current
    days = f"{settings.lookback_days:g} days"
    observed = (
        f"p95 {spec.label} {_fmt(headroom, spec.unit)} ({share:.0%} of "
        f"{_fmt(current, spec.unit)}) over {days}"
    )
    growth_words = (
        f"{settings.growth_scenario} growth ({settings.annual_growth:.0%}/yr) keeps it under "
        f"{spec.warning:.0%} until the next review in {settings.review_days:g} days"
    )
    anchors = f"VPA target {_fmt(vpa.target, spec.unit)}, " + (
        f"KRR p95 {_fmt(krr, spec.unit)}"
        if spec.resource == "cpu"
        else f"KRR peak +15% {_fmt(krr, spec.unit)}"
    )

    action: Action
    if share > spec.warning:
        action = "increase"
        reason = f"{observed}, above the {spec.warning:.0%} warning; {growth_words} at " + _fmt(
            target, spec.unit
        )
    elif growth_needed > current:
        action = "increase"
        reason = (
            f"{observed}; with {settings.growth_scenario} growth "
            f"({settings.annual_growth:.0%}/yr) it would pass {spec.warning:.0%} before the next "
            f"review in {settings.review_days:g} days; {_fmt(target, spec.unit)} keeps it under"
        )
    elif formula_floor > current:
        action = "increase"
        reason = f"{observed}; {formula_note} needs {_fmt(formula_floor, spec.unit)}"
    elif needed > current and target >= current * (1.0 + settings.dead_band):
        action = "increase"
        reason = f"{observed}; below the anchors' floor ({anchors}), raised to " + _fmt(
            target, spec.unit
        )
    elif (
        share < spec.scale_down
        and current > vpa.upper
        and target <= current * (1.0 - settings.dead_band)
    ):
        action = "decrease"
        reason = (
            f"{observed}, below the {spec.scale_down:.0%} scale-down trigger; "
            f"{_fmt(target, spec.unit)} covers {anchors} and {growth_words}"
        )
    else:
        action = "keep"
        if share < spec.scale_down and current <= vpa.upper:
            why = (
                f"under the scale-down trigger, but {vpa.confidence_days:.1f} days of history "
                f"leave VPA's upper bound at {_fmt(vpa.upper, spec.unit)}"
            )
        elif share < spec.scale_down:
            why = (
                f"a cut to {_fmt(target, spec.unit)} is within the "
                f"{settings.dead_band:.0%} dead band"
            )
        else:
            why = (
                f"between the {spec.scale_down:.0%} scale-down trigger and the "
                f"{spec.warning:.0%} warning"
            )
        reason = f"{observed}; {why}"
        target = current

    delta = (
        resource_cost_delta(allocation, spec.resource, target, costs) if target != current else 0.0
    )
    return Recommendation(
        service=service,
        resource=spec.resource,
        unit=spec.unit,
        current=float(current),
        recommended=float(target),
        action=action,
        reason=reason,
        monthly_cost_delta=delta,
        evidence=Evidence(
            percentiles=stats,
            headroom=headroom,
            vpa=vpa,
            krr=krr,
            growth_needed=growth_needed,
            formula_floor=formula_floor,
        ),
    )


def rightsize_cpu(
    service: str,
    cpu_cores: pd.Series,
    allocation: Allocation,
    costs: CostModel,
    as_of: pd.Timestamp,
    settings: RightsizingSettings = RightsizingSettings(),
) -> Recommendation:
    """CPU cores per replica for ``service`` from its per-replica usage in cores."""
    window = _enough(
        lookback_window(cpu_cores, as_of, settings.lookback_days, f"usage.{service}.cpu_cores"),
        f"usage.{service}.cpu_cores",
        settings,
    )
    spec = _ResourceSpec("cpu", "cores", "CPU", settings.cpu_warning, settings.cpu_scale_down)
    return _size_resource(service, spec, window, allocation, costs, settings, 0.0, "")


def rightsize_memory(
    service: str,
    memory_bytes: pd.Series,
    allocation: Allocation,
    costs: CostModel,
    as_of: pd.Timestamp,
    settings: RightsizingSettings = RightsizingSettings(),
    *,
    formula_floor_gb: float = 0.0,
    formula_note: str = "the runbook formula",
) -> Recommendation:
    """Memory GB per replica for ``service`` from its per-replica usage in bytes."""
    field = f"usage.{service}.memory_bytes"
    window = _enough(
        lookback_window(memory_bytes, as_of, settings.lookback_days, field), field, settings
    )
    spec = _ResourceSpec(
        "memory", "GB", "memory", settings.memory_warning, settings.memory_scale_down
    )
    return _size_resource(
        service,
        spec,
        window / BYTES_PER_GB,
        allocation,
        costs,
        settings,
        formula_floor_gb,
        formula_note,
    )


def rightsize_replicas(
    service: str,
    requests_per_second: pd.Series,
    allocation: Allocation,
    costs: CostModel,
    as_of: pd.Timestamp,
    settings: RightsizingSettings = RightsizingSettings(),
    capacity: CapacitySettings = DEFAULT_CAPACITY,
) -> Recommendation:
    """Replica count from the runbook's backend formula on p95 RPS grown to the next review."""
    field = f"usage.{service}.requests_per_second"
    window = _enough(
        lookback_window(requests_per_second, as_of, settings.lookback_days, field), field, settings
    )
    p95 = float(window.quantile(settings.headroom_quantile))
    projected = p95 * settings.review_growth
    needed = max(settings.min_replicas, backend_instances(projected, capacity))
    current = allocation.replicas
    action: Action = "increase" if needed > current else "decrease" if needed < current else "keep"
    base = math.ceil(projected / capacity.rps_per_instance - 1e-12)
    reason = (
        f"p95 {p95:.0f} RPS over {settings.lookback_days:g} days, {projected:.0f} RPS with "
        f"{settings.growth_scenario} growth by the next review in {settings.review_days:g} days; "
        f"the runbook formula gives {base} + {needed - base} buffer = {needed} replicas "
        f"(at {capacity.rps_per_instance:g} RPS each), now {current}"
    )
    delta = resource_cost_delta(allocation, "replicas", needed, costs) if needed != current else 0.0
    return Recommendation(
        service=service,
        resource="replicas",
        unit="replicas",
        current=float(current),
        recommended=float(needed),
        action=action,
        reason=reason,
        monthly_cost_delta=delta,
    )


def rightsize_database_storage(
    service: str,
    agents: float,
    allocation: Allocation,
    costs: CostModel,
    capacity: CapacitySettings = DEFAULT_CAPACITY,
) -> Recommendation:
    """Database storage from the runbook formula; only ever an increase (volumes do not shrink)."""
    needed = database(agents, capacity).storage_gb
    current = allocation.storage_gb
    if needed > current:
        target = ceil_to_step(needed, 1.0)
        action: Action = "increase"
        reason = (
            f"the runbook formula for {agents:g} agents needs {needed:g} GB of storage, "
            f"more than the {current:g} GB allocated"
        )
    else:
        target = current
        action = "keep"
        reason = (
            f"the runbook formula for {agents:g} agents needs {needed:g} GB of storage; "
            f"{current:g} GB are allocated (volumes are not shrunk)"
        )
    delta = resource_cost_delta(allocation, "storage", target, costs) if target != current else 0.0
    return Recommendation(
        service, "storage", "GB", float(current), float(target), action, reason, delta
    )


def _enough(window: pd.Series, field: str, settings: RightsizingSettings) -> pd.Series:
    if window.size < settings.min_samples:
        raise CapacityInputError(
            field,
            f"only {window.size} sample(s) in the lookback window, "
            f"need at least {settings.min_samples}",
        )
    return window


def rightsize(
    usage: Sequence[ServiceUsage],
    allocations: Mapping[str, Allocation],
    costs: CostModel,
    as_of: pd.Timestamp,
    settings: RightsizingSettings = RightsizingSettings(),
    *,
    capacity: CapacitySettings = DEFAULT_CAPACITY,
    roles: ServiceRoles = DEFAULT_ROLES,
    demand: FormulaDemand = FormulaDemand(),
) -> tuple[Recommendation, ...]:
    """Recommendations for every service in ``usage``, in input order: cpu, memory, replicas.

    The database's storage is added when ``demand.agents`` is known. Every
    service in ``usage`` needs an allocation.
    """
    out: list[Recommendation] = []
    for item in usage:
        service = item.service
        if service not in allocations:
            raise CapacityInputError(
                f"allocations.{service}", "no allocation for this service; cannot right-size it"
            )
        allocation = allocations[service]
        if item.cpu_cores is not None:
            out.append(rightsize_cpu(service, item.cpu_cores, allocation, costs, as_of, settings))
        if item.memory_bytes is not None:
            floor, note = 0.0, "the runbook formula"
            if service == roles.database and demand.agents is not None:
                floor = database(demand.agents, capacity).memory_gb
                note = f"the runbook's database formula for {demand.agents:g} agents"
            elif service == roles.cache and demand.peak_users is not None:
                floor = redis_memory_gb(demand.peak_users, capacity)
                note = f"the runbook's Redis formula for {demand.peak_users:g} peak users"
            out.append(
                rightsize_memory(
                    service,
                    item.memory_bytes,
                    allocation,
                    costs,
                    as_of,
                    settings,
                    formula_floor_gb=floor,
                    formula_note=note,
                )
            )
        if item.requests_per_second is not None:
            out.append(
                rightsize_replicas(
                    service, item.requests_per_second, allocation, costs, as_of, settings, capacity
                )
            )
    if demand.agents is not None and roles.database in allocations:
        out.append(
            rightsize_database_storage(
                roles.database, demand.agents, allocations[roles.database], costs, capacity
            )
        )
    return tuple(out)
