"""The knobs of right-sizing, validated once (the model: ``forecasting.rightsizing.fleet``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from forecasting.planning.capacity import CapacityInputError
from forecasting.planning.growth import DAYS_PER_YEAR, growth_factor


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


DEFAULT_RIGHTSIZING = RightsizingSettings()
