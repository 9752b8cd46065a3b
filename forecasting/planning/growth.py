"""Three-year growth projections of users, agents and requests per second.

Rule: ``value = baseline * (1 + g) ** year``, rounded half up (86.4 -> 86,
112.5 -> 113, 1687.5 -> 1688). The runbook's printed tables are kept here as
data (``RUNBOOK_PRINTED_TABLES``) so that ``runbook_discrepancies`` can show
where the printing disagrees with that rule; capplan always uses the computed
values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from forecasting.planning.capacity import CapacityInputError, round_half_up, to_decimal

# A Julian year: the growth exponent stays the same whichever calendar year a
# span happens to fall in.
DAYS_PER_YEAR = 365.25

Metric = Literal["users", "agents", "requests_per_second"]
METRICS: tuple[Metric, ...] = ("users", "agents", "requests_per_second")


@dataclass(frozen=True)
class GrowthScenario:
    """A named annual growth rate (``scenarios.*`` of the configuration)."""

    name: str
    annual_growth: float


@dataclass(frozen=True)
class GrowthBaseline:
    """Today's load that growth is applied to (``baseline`` of the configuration)."""

    users: float
    agents: float
    requests_per_second: float


@dataclass(frozen=True)
class GrowthSettings:
    """Baseline, scenarios and horizon, as the configuration validated them."""

    baseline: GrowthBaseline
    scenarios: tuple[GrowthScenario, ...]
    horizon_years: int

    def scenario(self, name: str) -> GrowthScenario:
        for candidate in self.scenarios:
            if candidate.name == name:
                return candidate
        known = ", ".join(s.name for s in self.scenarios)
        raise CapacityInputError("growth_scenario", f"unknown scenario {name!r} (known: {known})")


def growth_factor(annual_growth: float, years: float) -> float:
    """(1 + g) ** years for a possibly fractional number of years."""
    return float((1.0 + annual_growth) ** years)


def exact_projection(baseline: float, annual_growth: float, year: int) -> Decimal:
    """baseline * (1 + g) ** year in exact decimal arithmetic (integer years)."""
    return to_decimal(baseline) * (1 + to_decimal(annual_growth)) ** year


def projected_count(baseline: float, annual_growth: float, year: int) -> int:
    """The projection for a whole year, rounded half up as the runbook's tables are."""
    return int(round_half_up(exact_projection(baseline, annual_growth, year)))


@dataclass(frozen=True)
class YearProjection:
    year: int
    users: int
    agents: int
    requests_per_second: int


@dataclass(frozen=True)
class ScenarioProjection:
    scenario: GrowthScenario
    years: tuple[YearProjection, ...]


def project_scenario(
    scenario: GrowthScenario, baseline: GrowthBaseline, horizon_years: int
) -> ScenarioProjection:
    """Years 1..horizon of one scenario (year 0 is the baseline itself)."""
    g = scenario.annual_growth
    return ScenarioProjection(
        scenario=scenario,
        years=tuple(
            YearProjection(
                year=year,
                users=projected_count(baseline.users, g, year),
                agents=projected_count(baseline.agents, g, year),
                requests_per_second=projected_count(baseline.requests_per_second, g, year),
            )
            for year in range(1, horizon_years + 1)
        ),
    )


def project_all(settings: GrowthSettings) -> tuple[ScenarioProjection, ...]:
    return tuple(
        project_scenario(s, settings.baseline, settings.horizon_years) for s in settings.scenarios
    )


def _table(
    rows: Mapping[int, tuple[int, int, int]],
) -> Mapping[int, Mapping[Metric, int]]:
    return MappingProxyType(
        {
            year: MappingProxyType(dict(zip(METRICS, values, strict=True)))
            for year, values in rows.items()
        }
    )


# The runbook's "Growth Projections" section exactly as printed:
# scenario -> year -> (users, agents, requests/sec).
RUNBOOK_PRINTED_TABLES: Mapping[str, Mapping[int, Mapping[Metric, int]]] = MappingProxyType(
    {
        "conservative": _table({1: (60, 600, 120), 2: (72, 720, 144), 3: (86, 860, 173)}),
        "moderate": _table({1: (75, 750, 150), 2: (113, 1125, 225), 3: (169, 1688, 338)}),
        "aggressive": _table({1: (100, 1000, 200), 2: (200, 2000, 400), 3: (400, 4000, 800)}),
    }
)


@dataclass(frozen=True)
class Discrepancy:
    """A printed cell that differs from baseline * (1 + g) ** year rounded half up."""

    scenario: str
    year: int
    metric: Metric
    printed: int
    computed: int
    exact: str  # the unrounded value, e.g. "864.000"

    def describe(self) -> str:
        return (
            f"{self.scenario} year {self.year} {self.metric}: printed {self.printed}, "
            f"rule gives {self.exact} -> {self.computed}"
        )


def runbook_discrepancies(
    runbook: GrowthSettings,
    printed: Mapping[str, Mapping[int, Mapping[Metric, int]]] = RUNBOOK_PRINTED_TABLES,
) -> tuple[Discrepancy, ...]:
    """Every printed cell that contradicts the runbook's own rule, in table order.

    ``runbook`` is the runbook's own baseline and scenarios, which the printed
    tables were computed from.
    """
    baseline = runbook.baseline
    by_name = {s.name: s for s in runbook.scenarios}
    found: list[Discrepancy] = []
    for name, table in printed.items():
        if name not in by_name:
            raise CapacityInputError("scenarios", f"no scenario {name!r} for the printed table")
        g = by_name[name].annual_growth
        for year, row in table.items():
            for metric, printed_value in row.items():
                exact = exact_projection(getattr(baseline, metric), g, year)
                computed = int(round_half_up(exact))
                if computed != printed_value:
                    found.append(
                        Discrepancy(
                            name, year, metric, printed_value, computed, f"{exact.normalize():f}"
                        )
                    )
    return tuple(found)
