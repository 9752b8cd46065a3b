"""Performance-test results in the runbook's "Benchmark Results Format", read and checked."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from jobs.reports.formatting import fmt_number
from jobs.reports.model import PerfCheck, PerformanceResults

_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z%/]*)\s*$")


class PerformanceFormatError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _value(data: Mapping[str, Any], path: str, problems: list[str]) -> tuple[float, str] | None:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            problems.append(f"{path}: missing")
            return None
        node = node[part]
    match = _NUMBER.match(str(node))
    if match is None:
        problems.append(f"{path}: not a number with a unit: {node!r}")
        return None
    return float(match.group(1)), match.group(2)


def _ms(value: tuple[float, str], path: str, problems: list[str]) -> float:
    number, unit = value
    if unit in ("ms", ""):
        return number
    if unit == "s":
        return number * 1000.0
    problems.append(f"{path}: unit {unit!r} is not ms or s")
    return number


def parse_performance(
    data: Any, source: str, thresholds: Mapping[str, tuple[float, float]]
) -> PerformanceResults:
    """Reads the runbook's benchmark results YAML (already parsed) and checks it.

    ``thresholds`` maps metric names to (warning, critical) values; the checks
    compare the test's resource usage, p95 latency and error rate with the
    warnings, and the achieved with the target requests per second.
    """
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise PerformanceFormatError(["(top level): expected the runbook's results mapping"])
    paths = {
        "duration": "Test Configuration.Duration",
        "users": "Test Configuration.Concurrent Users",
        "target": "Test Configuration.Target RPS",
        "rps": "Results.Actual RPS",
        "p50": "Results.Response Times.50th",
        "p95": "Results.Response Times.95th",
        "p99": "Results.Response Times.99th",
        "errors": "Results.Error Rate",
        "cpu": "Resource Usage.CPU",
        "memory": "Resource Usage.Memory",
        "network": "Resource Usage.Network",
    }
    got = {key: _value(data, path, problems) for key, path in paths.items()}
    raw_bottlenecks = data.get("Bottlenecks", [])
    if raw_bottlenecks is None:
        raw_bottlenecks = []
    if not isinstance(raw_bottlenecks, list):
        problems.append("Bottlenecks: expected a list")
        raw_bottlenecks = []
    if problems:
        raise PerformanceFormatError(problems)
    v = {key: value for key, value in got.items() if value is not None}
    p50 = _ms(v["p50"], paths["p50"], problems)
    p95 = _ms(v["p95"], paths["p95"], problems)
    p99 = _ms(v["p99"], paths["p99"], problems)
    if problems:
        raise PerformanceFormatError(problems)

    def shown(key: str) -> str:
        number, unit = v[key]
        return f"{fmt_number(number, 2)}{'' if unit in ('%', '') else ' '}{unit}"

    checks: list[PerfCheck] = []
    target = v["target"][0]
    rps = v["rps"][0]
    checks.append(
        PerfCheck(
            "Throughput (share of target)",
            f"{fmt_number(100 * rps / target if target else math.nan)} %",
            "≥ 95 %",
            target > 0 and rps >= 0.95 * target,
        )
    )
    for label, key, metric, measured in (
        ("CPU", "cpu", "cpu_percent", v["cpu"][0]),
        ("Memory", "memory", "memory_percent", v["memory"][0]),
        ("Response time p95", "p95", "response_time_p95_ms", p95),
        ("Error rate", "errors", "error_rate_percent", v["errors"][0]),
    ):
        if metric not in thresholds:
            continue
        warning = thresholds[metric][0]
        unit = " ms" if key == "p95" else " %"
        checks.append(
            PerfCheck(
                f"{label} under the warning threshold",
                f"{fmt_number(measured)}{unit}",
                f"< {fmt_number(warning)}{unit}",
                measured < warning,
            )
        )
    return PerformanceResults(
        source=source,
        configuration=(
            ("Duration", shown("duration")),
            ("Concurrent users", shown("users")),
            ("Target requests/s", shown("target")),
        ),
        results=(
            ("Actual requests/s", shown("rps")),
            ("Response time p50", f"{fmt_number(p50)} ms"),
            ("Response time p95", f"{fmt_number(p95)} ms"),
            ("Response time p99", f"{fmt_number(p99)} ms"),
            ("Error rate", shown("errors")),
        ),
        resources=(
            ("CPU", shown("cpu")),
            ("Memory", shown("memory")),
            ("Network", shown("network")),
        ),
        bottlenecks=tuple(str(item) for item in raw_bottlenecks),
        checks=tuple(checks),
    )
