"""The pure code's settings as the built-in runbook configuration gives them.

Tests of the pure code take their settings from here rather than from
defaults of their own, so the runbook's numbers live only in
``jobs/config/runbook.yaml``.
"""

from __future__ import annotations

from forecasting.planning.capacity import CapacitySettings
from forecasting.planning.costs import CostModel
from forecasting.planning.growth import GrowthSettings
from forecasting.rightsizing.settings import RightsizingSettings
from forecasting.types import ForecastScenario
from jobs.config import runbook_config
from jobs.config.adapters import (
    capacity_settings,
    cost_model,
    forecast_scenarios,
    growth_settings,
    rightsizing_settings,
)

RUNBOOK = runbook_config()
CAPACITY: CapacitySettings = capacity_settings(RUNBOOK)
GROWTH: GrowthSettings = growth_settings(RUNBOOK)
RIGHTSIZING: RightsizingSettings = rightsizing_settings(RUNBOOK)
PRICES: CostModel = cost_model(RUNBOOK)
#: The organic forecast, then the runbook's conservative, moderate and aggressive growth.
SCENARIOS: tuple[ForecastScenario, ...] = forecast_scenarios(RUNBOOK)
