"""Per-replica CPU and memory recommendations from usage percentiles and anchors.

The recommendation is the largest of the VPA target, the KRR anchor, what
keeps the grown p95 under the warning threshold, the runbook formula's floor
and the minimum, rounded up to a step; see ``forecasting.rightsizing.fleet`` for
when it becomes an increase, a decrease or a keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from forecasting.planning.capacity import CapacityInputError, ceil_to_step
from forecasting.planning.costs import Allocation, CostModel
from forecasting.planning.human import human_number
from forecasting.rightsizing.recommendation import Action, Evidence, Recommendation, change_cost
from forecasting.rightsizing.settings import RightsizingSettings
from forecasting.rightsizing.usage_stats import BYTES_PER_GB, sizing_window, usage_percentiles
from forecasting.rightsizing.vpa import vpa_estimate


def _cpu_step_up(cores: float, settings: RightsizingSettings) -> float:
    small = ceil_to_step(cores, settings.cpu_step_small)
    return small if small < 1 else ceil_to_step(cores, settings.cpu_step)


def _fmt(value: float, unit: str) -> str:
    text = human_number(value)
    if unit == "cores":
        return f"{text} {'core' if text == '1' else 'cores'}"
    return f"{text} GB"


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

    return Recommendation(
        service=service,
        resource=spec.resource,
        unit=spec.unit,
        current=float(current),
        recommended=float(target),
        action=action,
        reason=reason,
        monthly_cost_delta=change_cost(allocation, spec.resource, current, target, costs),
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
    settings: RightsizingSettings,
) -> Recommendation:
    """CPU cores per replica for ``service`` from its per-replica usage in cores."""
    window = sizing_window(cpu_cores, as_of, settings, f"usage.{service}.cpu_cores")
    spec = _ResourceSpec("cpu", "cores", "CPU", settings.cpu_warning, settings.cpu_scale_down)
    return _size_resource(service, spec, window, allocation, costs, settings, 0.0, "")


def rightsize_memory(
    service: str,
    memory_bytes: pd.Series,
    allocation: Allocation,
    costs: CostModel,
    as_of: pd.Timestamp,
    settings: RightsizingSettings,
    *,
    formula_floor_gb: float = 0.0,
    formula_note: str = "the runbook formula",
) -> Recommendation:
    """Memory GB per replica for ``service`` from its per-replica usage in bytes."""
    window = sizing_window(memory_bytes, as_of, settings, f"usage.{service}.memory_bytes")
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
