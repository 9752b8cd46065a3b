"""Configuration: the runbook defaults, validation messages, precedence."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from jobs.config import load_config, parse_config_text, runbook_config, runbook_config_text
from jobs.errors import ConfigError
from tests.conftest import Capplan, repo_path


def test_example_is_the_built_in_runbook_configuration() -> None:
    assert repo_path("examples", "runbook.yaml").read_text() == runbook_config_text()


def test_runbook_services_and_host() -> None:
    config = runbook_config()
    expected = {
        "backend": (2, 4, None, 2),
        "frontend": (1, 2, None, 2),
        "postgres": (2, 4, 200, 1),
        "redis": (0.5, 2, 10, 1),
        "nginx": (0.5, 1, None, 1),
        "monitoring": (1, 3, 50, 1),
    }
    actual = {
        name: (s.cpu_cores, s.memory_gb, s.storage_gb, s.replicas)
        for name, s in config.services.items()
    }
    assert actual == expected
    assert (config.host.cpu_cores, config.host.memory_gb, config.host.storage_gb) == (8, 16, 500)


def test_runbook_thresholds() -> None:
    config = runbook_config()
    pairs = {
        metric: (p.warning.above, p.warning.for_minutes, p.critical.above, p.critical.for_minutes)
        for metric, p in config.thresholds.items()
    }
    assert pairs == {
        "cpu_percent": (70, 10, 85, 5),
        "memory_percent": (80, 10, 90, 5),
        "disk_percent": (80, 0, 90, 0),
        "db_connections_percent": (70, 0, 85, 0),
        "response_time_p95_ms": (1000, 0, 3000, 0),
        "error_rate_percent": (2, 5, 5, 2),
    }
    scale_down = {m: (t.below, t.for_minutes) for m, t in config.scale_down.items()}
    assert scale_down == {
        "cpu_percent": (30, 30),
        "memory_percent": (50, 30),
        "network_percent": (20, 30),
        "response_time_p95_ms": (200, 60),
        "error_rate_percent": (0.5, 60),
        "queue_depth": (10, 60),
    }
    assert (config.growth_alert.increase_percent, config.growth_alert.window_days) == (20, 7)


def test_runbook_scenarios_baseline_and_formulas() -> None:
    config = runbook_config()
    assert config.scenarios == {"conservative": 0.2, "moderate": 0.5, "aggressive": 1.0}
    assert (config.baseline.users, config.baseline.agents, config.baseline.requests_per_second) == (
        50,
        500,
        100,
    )
    assert config.forecast.horizon_years == 3
    f = config.formulas
    assert (f.backend.rps_per_instance, f.backend.buffer) == (50, 0.2)
    assert (f.database.storage_mb_per_agent, f.database.memory_mb_per_agent) == (1, 2)
    assert (f.database.min_memory_gb, f.database.connections_per_agent) == (4, 0.1)
    assert (f.database.min_connections, f.database.growth_factor) == (20, 1.5)
    assert (f.redis.session_size_kb, f.redis.buffer, f.redis.min_memory_gb) == (100, 1.5, 1)
    assert set(config.calendar.model_dump()) == {"monthly", "quarterly", "annual"}


def test_metric_catalogue_has_every_documented_name() -> None:
    assert set(runbook_config().metrics) == {
        "cpu_percent",
        "memory_percent",
        "disk_percent",
        "network_percent",
        "cpu_cores",
        "memory_bytes",
        "disk_bytes",
        "db_connections_percent",
        "response_time_p95_ms",
        "error_rate_percent",
        "requests_per_second",
        "active_users",
        "active_agents",
        "queue_depth",
    }


def _broken(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(runbook_config_text())
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_problem_is_reported_with_file_and_field(tmp_path: Path) -> None:
    def mutate(data: dict) -> None:  # type: ignore[type-arg]
        data["services"]["backend"]["cpu_cores"] = -1
        data["thresholds"]["cpu_percent"]["warning"]["above"] = "lots"
        data["schedule"]["monthly"] = "every month"
        data["services"]["nginx"]["colour"] = "blue"

    path = _broken(tmp_path, mutate)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "services.backend.cpu_cores" in message
    assert "thresholds.cpu_percent.warning.above" in message
    assert "schedule.monthly" in message and "cron" in message
    assert "services.nginx.colour" in message
    assert len(caught.value.problems) == 4


def test_cross_references_are_checked(tmp_path: Path) -> None:
    def mutate(data: dict) -> None:  # type: ignore[type-arg]
        data["thresholds"]["gpu_percent"] = {"warning": {"above": 1}, "critical": {"above": 2}}
        data["rightsizing"]["growth_scenario"] = "explosive"

    with pytest.raises(ConfigError) as caught:
        load_config(_broken(tmp_path, mutate))
    assert "thresholds.gpu_percent: unknown metric" in str(caught.value)
    assert "rightsizing.growth_scenario" in str(caught.value)


def test_critical_below_warning_is_rejected() -> None:
    text = runbook_config_text().replace(
        "critical: {above: 85, for_minutes: 5}", "critical: {above: 60, for_minutes: 5}"
    )
    with pytest.raises(ConfigError, match=r"thresholds\.cpu_percent"):
        parse_config_text(text, "x.yaml")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("host:\n  cpu_cores: [8\n")
    with pytest.raises(ConfigError, match=r"(?s)bad.yaml.*line \d+, column \d+: invalid YAML"):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.yaml")


def test_fingerprint_changes_with_content() -> None:
    base = runbook_config()
    other = parse_config_text(
        runbook_config_text().replace("per_core_month: 30.0", "per_core_month: 31.0"), "x"
    )
    assert base.fingerprint() == runbook_config().fingerprint()
    assert base.fingerprint() != other.fingerprint()


def test_cli_validate_reports_errors_with_exit_code_2(capplan: Capplan, tmp_path: Path) -> None:
    path = _broken(tmp_path, lambda d: d["costs"].update(per_core_month=0))
    result = capplan("config", "validate", str(path), expect=2)
    assert "costs.per_core_month" in result.output and "Traceback" not in result.output
    ok = capplan("config", "validate", str(repo_path("examples", "runbook.yaml")))
    assert "valid" in ok.output


def test_config_show_precedence(
    capplan: Capplan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = capplan("config", "show")
    assert "built-in runbook configuration" in shown.output
    assert yaml.safe_load(shown.output)["host"]["cpu_cores"] == 8

    local = tmp_path / "capplan.yaml"
    local.write_text(runbook_config_text().replace("cpu_cores: 8", "cpu_cores: 12"))
    assert yaml.safe_load(capplan("config", "show").output)["host"]["cpu_cores"] == 12

    env_file = tmp_path / "env.yaml"
    env_file.write_text(runbook_config_text().replace("cpu_cores: 8", "cpu_cores: 16"))
    monkeypatch.setenv("CAPPLAN_CONFIG", str(env_file))
    assert yaml.safe_load(capplan("config", "show").output)["host"]["cpu_cores"] == 16

    explicit = tmp_path / "explicit.yaml"
    explicit.write_text(runbook_config_text().replace("cpu_cores: 8", "cpu_cores: 32"))
    shown = capplan("config", "show", config=explicit)
    assert yaml.safe_load(shown.output)["host"]["cpu_cores"] == 32


def test_moderate_growth_check_value() -> None:
    # The runbook's moderate year-2 user count only comes out as 113 with
    # round-half-up; this guards the configured inputs of that computation.
    config = runbook_config()
    assert math.isclose(config.baseline.users * (1 + config.scenarios["moderate"]) ** 2, 112.5)


def test_config_show_of_a_missing_file_prints_only_the_error(
    capplan: Capplan, tmp_path: Path
) -> None:
    result = capplan("config", "show", config=tmp_path / "missing.yaml", expect=2)
    assert result.stdout == ""
    assert "cannot read file" in result.stderr
