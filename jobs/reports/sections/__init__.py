"""Pure computations behind the report sections (no I/O).

Growth alerts, the traffic-light grid, forecast accuracy, seasonal profiles,
the threshold review, disaster-recovery capacity, the performance-test results
of the runbook's "Benchmark Results Format" and the three actions to take first.
Each lives in its own module; this one gathers them for the report's context
and templates.
"""

from __future__ import annotations

from jobs.reports.formatting import fmt_days, fmt_number, threshold_text
from jobs.reports.sections.dr_capacity import dr_row
from jobs.reports.sections.forecast_accuracy import accuracy_rows, crossing_checks
from jobs.reports.sections.growth_alerts import increase_alerts, sort_alerts, threshold_alerts
from jobs.reports.sections.performance_results import PerformanceFormatError, parse_performance
from jobs.reports.sections.seasonal_profiles import WEEKDAYS, seasonal_profile
from jobs.reports.sections.threshold_review import threshold_review_row
from jobs.reports.sections.top_actions import top_actions
from jobs.reports.sections.traffic_lights import LEVEL_ORDER, level_rank, light_grid

__all__ = [
    "LEVEL_ORDER",
    "WEEKDAYS",
    "PerformanceFormatError",
    "accuracy_rows",
    "crossing_checks",
    "dr_row",
    "fmt_days",
    "fmt_number",
    "increase_alerts",
    "level_rank",
    "light_grid",
    "parse_performance",
    "seasonal_profile",
    "sort_alerts",
    "threshold_alerts",
    "threshold_review_row",
    "threshold_text",
    "top_actions",
]
