"""A Prometheus rules file generated from the configuration.

- capacity: each threshold ("above X for D minutes") on the same query
  templates ingest uses; absolute usage is divided by each service's total
  allocation (per replica x replicas, GB as GiB), as ingest does;
- growth: the 1-day mean up ``growth_alert.increase_percent`` on the 1-day
  mean ``window_days`` before;
- runway: a threshold expected within 90 days (the report's red light) under
  the planning scenario, from the gauges of ``capplan export prometheus``;
  metrics that only get the organic forecast are judged on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from jobs.config import Config
from jobs.ingest.sources.prometheus_source import PrometheusSourceSettings
from jobs.reports.model import RED_DAYS

GIB = 1024**3
RULES_FILENAME = "capplan-rules.yml"
_ALLOCATION_UNITS = {"cpu_cores": 1.0, "memory_gb": float(GIB), "storage_gb": float(GIB)}


@dataclass(frozen=True)
class AlertRules:
    text: str
    #: Why a threshold got no capacity rule (no query template for it).
    skipped: tuple[str, ...]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _string(value: str) -> str:
    """A PromQL string literal (Go-style escapes, which JSON's are a subset of)."""
    return json.dumps(value)


def _duration(minutes: int) -> str:
    return f"{minutes}m"


def _prometheus(config: Config) -> PrometheusSourceSettings | None:
    source = config.sources.get("prometheus")
    return source if isinstance(source, PrometheusSourceSettings) else None


def _query(source: PrometheusSourceSettings, metric: str) -> str:
    return source.queries[metric].replace("{service_label}", source.service_label)


def _allocation_vector(config: Config, resource: str, label: str) -> str | None:
    parts = []
    for name, service in config.services.items():
        per_replica = getattr(service, resource)
        if per_replica is None:
            continue
        total = per_replica * service.replicas * _ALLOCATION_UNITS[resource]
        parts.append(
            f'label_replace(vector({total:.17g}), {_string(label)}, {_string(name)}, "", "")'
        )
    return " or ".join(parts) if parts else None


def percent_expression(config: Config, metric: str) -> str | None:
    """PromQL for ``metric`` in percent per service, or None without a query for it."""
    source = _prometheus(config)
    if source is None:
        return None
    if metric in source.queries:
        return f"({_query(source, metric)})"
    for name, spec in config.metrics.items():
        if spec.percent_metric == metric and spec.percent_of and name in source.queries:
            allocation = _allocation_vector(config, spec.percent_of, source.service_label)
            if allocation is None:
                return None
            label = source.service_label
            return f"(100 * ({_query(source, name)}) / on({label}) ({allocation}))"
    return None


def _capacity_rules(config: Config) -> tuple[list[dict[str, Any]], list[str]]:
    rules: list[dict[str, Any]] = []
    source = _prometheus(config)
    if source is None:
        return rules, ["sources.prometheus is not configured, so only the runway rules"]
    skipped = []
    label = source.service_label
    for metric, pair in config.thresholds.items():
        expression = percent_expression(config, metric)
        if expression is None:
            skipped.append(f"{metric}: sources.prometheus.queries has no query for it")
            continue
        for level, trigger in (("warning", pair.warning), ("critical", pair.critical)):
            held = f" for {trigger.for_minutes} minutes" if trigger.for_minutes else ""
            rule: dict[str, Any] = {
                "alert": f"Capplan{_camel(metric)}{level.capitalize()}",
                "expr": f"{expression} > {trigger.above:g}",
            }
            if trigger.for_minutes:
                rule["for"] = _duration(trigger.for_minutes)
            rule["labels"] = {"severity": level, "capplan_metric": metric}
            rule["annotations"] = {
                "summary": f"{{{{ $labels.{label} }}}} {metric} above {trigger.above:g}{held}",
                "value": "{{ $value | humanize }}",
            }
            rules.append(rule)
    return rules, skipped


def _growth_rules(config: Config) -> list[dict[str, Any]]:
    source = _prometheus(config)
    if source is None:
        return []
    factor = 1 + config.growth_alert.increase_percent / 100
    window = f"{config.growth_alert.window_days}d"
    rules = []
    for metric in source.queries:
        mean = f"avg_over_time(({_query(source, metric)})[1d:5m]"
        rules.append(
            {
                "alert": f"CapplanGrowth{_camel(metric)}",
                "expr": f"{mean}) > {factor:g} * {mean} offset {window})",
                "for": "1h",
                "labels": {"severity": "warning", "capplan_metric": metric},
                "annotations": {
                    "summary": (
                        f"{{{{ $labels.{source.service_label} }}}} {metric} up "
                        f"{config.growth_alert.increase_percent:g}% or more over {window}"
                    )
                },
            }
        )
    return rules


def _runway_rules(config: Config) -> list[dict[str, Any]]:
    planning = config.rightsizing.growth_scenario
    organic_only = [
        metric for metric in config.thresholds if config.metrics[metric].growth == "none"
    ]
    rules = []
    for level in ("warning", "critical"):
        selectors = [f"capplan_runway_days{{scenario={_string(planning)},level={_string(level)}}}"]
        selectors += [
            f'capplan_runway_days{{scenario="organic",level={_string(level)},'
            f"metric={_string(metric)}}}"
            for metric in organic_only
        ]
        rules.append(
            {
                "alert": f"CapplanRunway{level.capitalize()}",
                "expr": " or ".join(f"{s} < {RED_DAYS}" for s in selectors),
                "labels": {"severity": level},
                "annotations": {
                    "summary": (
                        "{{ $labels.service }} {{ $labels.metric }} expected to cross its "
                        f"{level} threshold within {RED_DAYS} days "
                        "({{ $labels.scenario }} scenario): {{ $value }} days"
                    )
                },
            }
        )
    return rules


def alert_rules(config: Config) -> AlertRules:
    capacity, skipped = _capacity_rules(config)
    groups = [
        {"name": "capplan-capacity", "rules": capacity},
        {"name": "capplan-growth", "rules": _growth_rules(config)},
        {"name": "capplan-runway", "rules": _runway_rules(config)},
    ]
    document = {"groups": [g for g in groups if g["rules"]]}
    header = "# Prometheus alerting rules generated by capplan from its configuration.\n"
    header += "".join(f"# no capacity rule: {reason}\n" for reason in skipped)
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=10_000)
    return AlertRules(header + body, tuple(skipped))
