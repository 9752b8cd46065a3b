"""`config validate` refuses what the runtime would refuse, with one line per problem."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobs.config import load_config, runbook_config_text
from jobs.config.yaml_loader import load_yaml
from jobs.errors import ConfigError
from jobs.ingest.sources.prometheus_source import PrometheusSourceSettings
from tests.conftest import Capplan

Mutation = Callable[[dict[str, Any]], None]
EMAIL = {"host": "mail.example.org", "from_address": "capplan@example.org"}


def _write(tmp_path: Path, mutate: Mutation) -> Path:
    data = yaml.safe_load(runbook_config_text())
    mutate(data)
    path = tmp_path / "capplan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def _set(*keys_and_value: Any) -> Mutation:
    *keys, value = keys_and_value

    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set("thresholds", "cpu_percent", "warning", "above", float("nan")), "warning.above"),
        (_set("thresholds", "cpu_percent", "critical", "above", float("inf")), "critical.above"),
        (_set("scale_down", "cpu_percent", "below", float("nan")), "scale_down.cpu_percent.below"),
        (_set("metrics", "cpu_percent", "upper_bound", float("inf")), "upper_bound"),
        (_set("costs", "per_core_month", float("inf")), "costs.per_core_month"),
        (_set("baseline", "users", float("nan")), "baseline.users"),
        (_set("scenarios", "moderate", float("nan")), "scenarios.moderate"),
        (_set("publish", {"email": {**EMAIL, "timeout_seconds": float("inf")}}), "timeout"),
        (_set("publish", {"email": {**EMAIL, "retry_wait_seconds": float("nan")}}), "retry"),
        (_set("publish", {"s3": {"bucket": "b-1", "read_timeout_seconds": float("inf")}}), "read"),
    ],
)
def test_nan_and_infinity_are_refused(tmp_path: Path, mutate: Mutation, field: str) -> None:
    problems = _problems(_write(tmp_path, mutate))
    assert len(problems) == 1 and field in problems[0] and "finite" in problems[0], problems


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set("scenarios", "aggressive", 1e300), "scenarios.aggressive"),
        (_set("scenarios", "aggressive", 10.5), "scenarios.aggressive"),
        (_set("thresholds", "cpu_percent", "warning", "for_minutes", 10**12), "for_minutes"),
        (_set("thresholds", "cpu_percent", "critical", "for_minutes", 1441), "for_minutes"),
        (_set("scale_down", "cpu_percent", "for_minutes", 10**12), "for_minutes"),
        (_set("storage", "raw_retention_days", 10**9), "raw_retention_days"),
        (_set("rightsizing", "lookback_days", 10**9), "lookback_days"),
        (_set("growth_alert", "window_days", 10**6), "window_days"),
        (_set("services", "backend", "cpu_cores", 1e300), "services.backend.cpu_cores"),
        (_set("formulas", "backend", "rps_per_instance", 1e-300), "rps_per_instance"),
        (_set("forecast", "seed", -1), "forecast.seed"),
        (_set("schedule", "max_catch_up", 10**9), "max_catch_up"),
        (_set("publish", {"email": {**EMAIL, "retry_wait_seconds": 1e12}}), "retry_wait"),
        (_set("publish", {"s3": {"bucket": "b-1", "connect_timeout_seconds": 1e12}}), "connect"),
    ],
)
def test_absurd_magnitudes_are_refused(tmp_path: Path, mutate: Mutation, field: str) -> None:
    problems = _problems(_write(tmp_path, mutate))
    assert len(problems) == 1 and field in problems[0], problems


def test_empty_sections_are_refused(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["services"] = {}

    problems = _problems(_write(tmp_path, mutate))
    assert problems == ["services: Dictionary should have at least 1 item after validation, not 0"]


@pytest.mark.parametrize(
    "url",
    ["prometheus:9090", "ftp://prometheus:9090", "http://", "http://prometheus:port", "/api/v1"],
)
def test_prometheus_url_must_be_http(tmp_path: Path, url: str) -> None:
    path = _write(tmp_path, _set("sources", {"prometheus": {"url": url}}))
    problems = _problems(path)
    assert len(problems) == 1 and problems[0].startswith("sources.prometheus.url:"), problems
    assert "http:// or https://" in problems[0]


def test_prometheus_url_with_a_login_is_not_echoed(tmp_path: Path) -> None:
    path = _write(tmp_path, _set("sources", {"prometheus": {"url": "ftp://me:Secret9@prom"}}))
    assert "Secret9" not in " ".join(_problems(path))


@pytest.mark.parametrize("url", ["http://prometheus:9090", "https://prom.example.org/prefix"])
def test_prometheus_http_urls_are_accepted(tmp_path: Path, url: str) -> None:
    config = load_config(_write(tmp_path, _set("sources", {"prometheus": {"url": url}})))
    prometheus = config.sources.get("prometheus")
    assert isinstance(prometheus, PrometheusSourceSettings) and prometheus.url == url


def test_duplicate_keys_are_refused_naming_key_and_line(tmp_path: Path) -> None:
    text = runbook_config_text().replace("\nhost:\n", "\nhost:\n  memory_gb: 64\n", 1)
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    problems = _problems(path)
    first = text.splitlines().index("  memory_gb: 64") + 1
    assert len(problems) == 1
    assert "duplicate key 'memory_gb'" in problems[0]
    assert f"first given on line {first}" in problems[0]
    assert problems[0].startswith(f"line {first + 2}, column 3:")


def test_a_merge_key_may_be_overridden() -> None:
    assert load_yaml("a: &d {x: 1, y: 1}\nb:\n  <<: *d\n  x: 2\n")["b"] == {"x": 2, "y": 1}


def test_non_utf8_file_is_a_clean_error(capplan: Capplan, tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(runbook_config_text().encode() + "# résumé\n".encode("latin-1"))
    result = capplan("config", "validate", str(path), expect=2)
    assert "Traceback" not in result.output
    assert str(path) in result.stderr and "not UTF-8 text (byte 0xe9" in result.stderr


@pytest.mark.parametrize("opening", ["[", "{a: ", "- "])
def test_deep_nesting_is_a_clean_error(capplan: Capplan, tmp_path: Path, opening: str) -> None:
    closing = {"[": "]", "{a: ": "}", "- ": ""}[opening]
    depth = 20_000
    if opening == "- ":
        body = "".join("  " * i + "-\n" for i in range(depth))
    else:
        body = "x: " + opening * depth + "1" + closing * depth + "\n"
    path = tmp_path / "deep.yaml"
    path.write_text(body)
    result = capplan("config", "validate", str(path), expect=2)
    assert "Traceback" not in result.output
    assert str(path) in result.stderr and "nested more than 64 levels deep" in result.stderr


def test_extreme_accepted_values_plan_and_budget(capplan: Capplan, tmp_path: Path) -> None:
    """Whatever validation lets through, plan and budget compute without crashing."""

    def mutate(data: dict[str, Any]) -> None:
        data["scenarios"] = {"conservative": -0.99, "moderate": 10.0}
        data["forecast"]["horizon_years"] = 10
        data["baseline"] = {"users": 1e9, "agents": 1e9, "requests_per_second": 1e9}
        data["costs"].update(per_core_month=1e9, per_gb_memory_month=1e9, per_gb_storage_month=1e9)
        for service in data["services"].values():
            service.update(cpu_cores=1e9, memory_gb=1e9, replicas=1000)
        data["formulas"] = {
            "backend": {"rps_per_instance": 1e-6, "buffer": 1e9},
            "database": {
                "storage_mb_per_agent": 1e9,
                "memory_mb_per_agent": 1e9,
                "min_memory_gb": 1e9,
                "connections_per_agent": 1e9,
                "min_connections": 10**9,
                "growth_factor": 1e9,
            },
            "redis": {"session_size_kb": 1e9, "buffer": 1e9, "min_memory_gb": 1e9},
        }

    path = _write(tmp_path, mutate)
    capplan("config", "validate", str(path))
    capplan("plan", "--format", "json", config=path)
    year = dt.datetime.now(dt.UTC).year + 10
    capplan("budget", "--year", str(year), config=path)
    capplan("budget", "--year", str(year), "--format", "xlsx", "--out", "b.xlsx", config=path)
