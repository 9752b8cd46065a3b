"""Every setting the planner's formulas read is bounded here, once.

The pure code trusts the settings it is given, so each bound it relies on
(finite, positive, a growth above -100 %, a scale-down level below the warning
level) is refused by ``config validate`` with exit code 2, naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jobs.config import runbook_config_text
from tests.conftest import Capplan

NAN = float("nan")


def _with(path: str, value: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(runbook_config_text())
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[leaf] = value
    return data


def _refused(capplan: Capplan, tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "capplan.yaml"
    path.write_text(yaml.safe_dump(data))
    result = capplan("config", "validate", str(path), expect=2)
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("formulas.backend.rps_per_instance", 0),
        ("formulas.backend.rps_per_instance", -50),
        ("formulas.backend.rps_per_instance", NAN),
        ("formulas.backend.rps_per_instance", 1e300),
        ("formulas.backend.buffer", -0.2),
        ("formulas.backend.buffer", NAN),
        ("formulas.database.storage_mb_per_agent", 0),
        ("formulas.database.memory_mb_per_agent", NAN),
        ("formulas.database.min_memory_gb", -4),
        ("formulas.database.connections_per_agent", 1e300),
        ("formulas.database.min_connections", 0),
        ("formulas.database.growth_factor", 0),
        ("formulas.redis.session_size_kb", NAN),
        ("formulas.redis.buffer", 0),
        ("formulas.redis.min_memory_gb", -1),
        ("costs.per_core_month", 0),
        ("costs.per_gb_memory_month", -4),
        ("costs.per_gb_storage_month", NAN),
        ("costs.per_gb_storage_month", 1e300),
        ("scenarios.moderate", -1),
        ("scenarios.moderate", NAN),
        ("scenarios.moderate", 1e300),
        ("baseline.users", 0),
        ("baseline.agents", -500),
        ("baseline.requests_per_second", NAN),
        ("baseline.requests_per_second", 1e300),
        ("forecast.horizon_years", 0),
        ("rightsizing.lookback_days", 0),
        ("rightsizing.review_days", -30),
        ("thresholds.cpu_percent.warning.above", 0),
        ("thresholds.cpu_percent.warning.above", -70),
        ("thresholds.cpu_percent.warning.above", NAN),
        ("scale_down.cpu_percent.below", 0),
        ("scale_down.memory_percent.below", -50),
        ("scale_down.memory_percent.below", 1e300),
    ],
)
def test_an_absurd_setting_is_refused_by_name(
    capplan: Capplan, tmp_path: Path, field: str, value: float
) -> None:
    output = _refused(capplan, tmp_path, _with(field, value))
    assert f"{field}:" in output, output


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scale_down.cpu_percent.below", 70),  # the warning level itself
        ("scale_down.memory_percent.below", 85),  # above the warning level of 80
    ],
)
def test_a_scale_down_level_at_or_above_the_warning_level_is_refused(
    capplan: Capplan, tmp_path: Path, field: str, value: float
) -> None:
    output = _refused(capplan, tmp_path, _with(field, value))
    assert f"{field}: the scale-down level ({value:g}) must be below the warning level" in output


def test_the_runbook_level_counts_where_only_one_level_is_set(
    capplan: Capplan, tmp_path: Path
) -> None:
    data = _with("thresholds.cpu_percent.warning.above", 25)
    del data["scale_down"]["cpu_percent"]  # the runbook's 30 % applies
    output = _refused(capplan, tmp_path, data)
    assert (
        "thresholds.cpu_percent.warning.above: the scale-down level (30) must be below "
        "the warning level (25; the runbook's where only one of them is set)"
    ) in output


def test_a_percentage_above_100_is_refused_for_the_sized_metrics(
    capplan: Capplan, tmp_path: Path
) -> None:
    for above in (150, 1e300):
        data = _with("thresholds.memory_percent.warning.above", above)
        data["thresholds"]["memory_percent"]["critical"]["above"] = above
        output = _refused(capplan, tmp_path, data)
        assert "thresholds.memory_percent.warning.above: must be above 0 and at most 100" in output
