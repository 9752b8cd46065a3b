"""The knobs of right-sizing (the model: ``forecasting.rightsizing.fleet``)."""

from __future__ import annotations

from dataclasses import dataclass

from forecasting.planning.growth import DAYS_PER_YEAR, growth_factor


@dataclass(frozen=True)
class RightsizingSettings:
    """The configured knobs (``rightsizing.*``, the scenario's growth and the CPU and
    memory warning and scale-down levels as fractions; the configuration validates
    them), then the sizing rules' own constants, which are not configurable."""

    lookback_days: float
    review_days: float
    growth_scenario: str
    annual_growth: float
    cpu_warning: float
    memory_warning: float
    cpu_scale_down: float
    memory_scale_down: float
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

    @property
    def review_growth(self) -> float:
        return growth_factor(self.annual_growth, self.review_days / DAYS_PER_YEAR)
