"""capplan alerts --format prometheus-rules: promtool checks the file and tests the rules.

The configuration uses the README's own query templates (read from the README),
so the rules are the ones an operator following it would get.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.conftest import Capplan, repo_path
from tests.servers.prometheus import _require


def readme_sources() -> str:
    """The README's ``sources.prometheus`` example, verbatim."""
    readme = repo_path("README.md").read_text()
    blocks: list[str] = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    return next(block for block in blocks if block.startswith("sources:\n  prometheus:"))


def config_with_readme_queries(tmp_path: Path) -> Path:
    path = tmp_path / "capplan.yaml"
    path.write_text(repo_path("examples", "runbook.yaml").read_text() + "\n" + readme_sources())
    return path


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_require("promtool"), *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def runway_series(service: str, metric: str, scenario: str) -> str:
    labels = f'service="{service}",metric="{metric}",level="warning",scenario="{scenario}"'
    return f"capplan_runway_days{{{labels}}}"


def runway_summary(service: str, metric: str, level: str, scenario: str, days: int) -> str:
    return (
        f"{service} {metric} expected to cross its {level} threshold within 90 days "
        f"({scenario} scenario): {days} days"
    )


def test_rules_pass_promtool_check_and_fire_when_they_should(
    capplan: Capplan, tmp_path: Path
) -> None:
    config = config_with_readme_queries(tmp_path)
    rules = tmp_path / "capplan-rules.yml"
    printed = capplan("alerts", "--format", "prometheus-rules", "--out", str(rules), config=config)
    assert f"wrote {rules}" in printed.output
    checked = promtool("check", "rules", str(rules), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout

    groups = {g["name"]: g["rules"] for g in yaml.safe_load(rules.read_text())["groups"]}
    cpu_warning = next(
        r for r in groups["capplan-capacity"] if r["alert"] == "CapplanCpuPercentWarning"
    )
    assert cpu_warning["for"] == "10m"  # the runbook's "70% for 10 minutes"
    assert "rate(container_cpu_usage_seconds_total[5m])" in cpu_warning["expr"]

    gib = 1024**3
    backend_cpu = "backend cpu_percent above 70 for 10 minutes"
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                # backend: 3.2 cores of 2 replicas x 2 cores = 80 %; frontend 0.5 of 2 = 25 %.
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'container_cpu_usage_seconds_total{service="backend"}',
                        "values": "0+192x40",
                    },
                    {
                        "series": 'container_cpu_usage_seconds_total{service="frontend"}',
                        "values": "0+30x40",
                    },
                    # frontend memory: 3.8 of 2 x 2 GiB = 95 % (critical is 90 % for 5 minutes).
                    {
                        "series": 'container_memory_working_set_bytes{service="frontend"}',
                        "values": f"{int(3.8 * gib)}x40",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "8m", "alertname": "CapplanCpuPercentWarning", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "CapplanCpuPercentWarning",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "capplan_metric": "cpu_percent",
                                    "service": "backend",
                                },
                                "exp_annotations": {"summary": backend_cpu, "value": "80"},
                            }
                        ],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "CapplanCpuPercentCritical",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "CapplanMemoryPercentCritical",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "critical",
                                    "capplan_metric": "memory_percent",
                                    "service": "frontend",
                                },
                                "exp_annotations": {
                                    "summary": "frontend memory_percent above 90 for 5 minutes",
                                    "value": "95",
                                },
                            }
                        ],
                    },
                ],
            },
            {
                # Runway gauges: the planning scenario (moderate) under 90 days fires; another
                # scenario does not; latency is judged on its organic forecast.
                "interval": "1m",
                "input_series": [
                    {
                        "series": runway_series("backend", "cpu_percent", "moderate"),
                        "values": "60x5",
                    },
                    {
                        "series": runway_series("backend", "cpu_percent", "aggressive"),
                        "values": "30x5",
                    },
                    {
                        "series": runway_series("backend", "cpu_percent", "organic"),
                        "values": "20x5",
                    },
                    {
                        "series": runway_series("nginx", "response_time_p95_ms", "organic"),
                        "values": "45x5",
                    },
                    {
                        "series": runway_series("frontend", "memory_percent", "moderate"),
                        "values": "+Inf +Inf +Inf +Inf +Inf",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "2m",
                        "alertname": "CapplanRunwayWarning",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "service": service,
                                    "metric": metric,
                                    "level": "warning",
                                    "scenario": scenario,
                                },
                                "exp_annotations": {
                                    "summary": runway_summary(
                                        service, metric, "warning", scenario, days
                                    )
                                },
                            }
                            for service, metric, scenario, days in (
                                ("backend", "cpu_percent", "moderate", 60),
                                ("nginx", "response_time_p95_ms", "organic", 45),
                            )
                        ],
                    },
                    {"eval_time": "2m", "alertname": "CapplanRunwayCritical", "exp_alerts": []},
                ],
            },
        ],
    }
    # The growth rule looks back days: evaluated every 30 minutes to keep promtool quick.
    growth_tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "30m",
        "tests": [
            {
                # Growth: backend memory 1 GiB for 7 days, then 1.5 GiB (+50 %); frontend flat.
                "interval": "10m",
                "input_series": [
                    {
                        "series": 'container_memory_working_set_bytes{service="backend"}',
                        "values": f"{gib}x1008 {int(1.5 * gib)}x432",
                    },
                    {
                        "series": 'container_memory_working_set_bytes{service="frontend"}',
                        "values": f"{gib}x1440",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "6d", "alertname": "CapplanGrowthMemoryBytes", "exp_alerts": []},
                    {
                        "eval_time": "9d",
                        "alertname": "CapplanGrowthMemoryBytes",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "capplan_metric": "memory_bytes",
                                    "service": "backend",
                                },
                                "exp_annotations": {
                                    "summary": "backend memory_bytes up 20% or more over 7d"
                                },
                            }
                        ],
                    },
                ],
            },
        ],
    }
    for name, document in (("rules-test.yml", tests), ("growth-test.yml", growth_tests)):
        (tmp_path / name).write_text(yaml.safe_dump(document, sort_keys=False))
        tested = promtool("test", "rules", name, cwd=tmp_path)
        assert tested.returncode == 0, tested.stdout + tested.stderr


def test_without_a_prometheus_source_only_runway_rules(capplan: Capplan, tmp_path: Path) -> None:
    text = capplan("alerts").stdout
    groups = [g["name"] for g in yaml.safe_load(text)["groups"]]
    assert groups == ["capplan-runway"]
    assert "# no capacity rule: sources.prometheus is not configured" in text


def test_hostile_service_names_stay_inside_promql_strings(capplan: Capplan, tmp_path: Path) -> None:
    config = config_with_readme_queries(tmp_path)
    text = config.read_text().replace("  nginx:      {", '  "ng\\"inx\\\\ or vector(1)":      {')
    config.write_text(text)
    rules = tmp_path / "rules.yml"
    capplan("alerts", "--out", str(rules), config=config)
    checked = promtool("check", "rules", str(rules), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (
        '"ng\\"inx\\\\ or vector(1)"'
        in yaml.safe_load(rules.read_text())["groups"][0]["rules"][0]["expr"]
    )
