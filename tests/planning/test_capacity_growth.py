from __future__ import annotations

import pytest

from forecasting.planning.capacity import CapacityInputError
from forecasting.planning.growth import (
    RUNBOOK_PRINTED_TABLES,
    Discrepancy,
    GrowthScenario,
    growth_factor,
    project_all,
    project_scenario,
    runbook_discrepancies,
)
from tests.runbook_settings import GROWTH

EXPECTED = {
    "conservative": [(60, 600, 120), (72, 720, 144), (86, 864, 173)],
    "moderate": [(75, 750, 150), (113, 1125, 225), (169, 1688, 338)],
    "aggressive": [(100, 1000, 200), (200, 2000, 400), (400, 4000, 800)],
}


def test_projections_follow_the_rule_round_half_up() -> None:
    for projection in project_all(GROWTH):
        rows = [(y.users, y.agents, y.requests_per_second) for y in projection.years]
        assert rows == EXPECTED[projection.scenario.name]


def test_half_values_round_up() -> None:
    moderate = project_scenario(GrowthScenario("moderate", 0.5), GROWTH.baseline, 3)
    assert moderate.years[1].users == 113  # 112.5
    assert moderate.years[2].agents == 1688  # 1687.5
    assert moderate.years[2].requests_per_second == 338  # 337.5


def test_the_only_discrepancy_is_conservative_year_3_agents() -> None:
    assert runbook_discrepancies(GROWTH) == (
        Discrepancy("conservative", 3, "agents", printed=860, computed=864, exact="864"),
    )


def test_every_other_printed_cell_matches() -> None:
    computed = {p.scenario.name: p for p in project_all(GROWTH)}
    mismatches = 0
    for name, table in RUNBOOK_PRINTED_TABLES.items():
        for year, row in table.items():
            got = computed[name].years[year - 1]
            for metric, printed in row.items():
                mismatches += getattr(got, metric) != printed
    assert mismatches == 1


def test_discrepancy_detection_reports_a_changed_cell() -> None:
    printed = {"aggressive": {1: {"users": 101, "agents": 1000, "requests_per_second": 200}}}
    found = runbook_discrepancies(GROWTH, printed)  # type: ignore[arg-type]
    assert [(d.metric, d.printed, d.computed) for d in found] == [("users", 101, 100)]
    assert "printed 101" in found[0].describe()


def test_growth_factor_fractional_years() -> None:
    assert growth_factor(0.5, 0.5) == pytest.approx(1.5**0.5)
    assert growth_factor(1.0, 0) == 1.0


def test_an_unknown_scenario_is_named() -> None:
    with pytest.raises(CapacityInputError, match="growth_scenario: unknown scenario 'wild'"):
        GROWTH.scenario("wild")
