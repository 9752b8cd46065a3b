"""The latest forecast as Prometheus gauges, in the text exposition format.

Written for node_exporter's textfile collector (atomically, ``*.prom``) or
pushed to a Pushgateway. A runway with no crossing within the horizon is
``+Inf``, so ``capplan_runway_days < 90`` is simply false for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time

from jobs.exports.quantities import MIB_PER_GB
from jobs.exports.sizing import ServiceSizing
from jobs.forecast.fleet import ForecastRow

BYTES_PER_GB = MIB_PER_GB * 1024 * 1024
DEFAULT_FILENAME = "capplan.prom"

_FAMILIES: dict[str, str] = {
    "capplan_forecast_timestamp_seconds": "As-of instant of the forecast these gauges come from.",
    "capplan_runway_days": (
        "Days from the forecast's as-of until the threshold is expected to be crossed "
        "(+Inf: not within the horizon; 0: exceeded now)."
    ),
    "capplan_threshold_crossing_timestamp_seconds": (
        "Start of the day the threshold is crossed: expected, earliest (10 %) and latest (90 %)."
    ),
    "capplan_recommended_cpu_cores": "Recommended CPU cores per replica.",
    "capplan_recommended_memory_bytes": "Recommended memory per replica, in bytes.",
    "capplan_recommended_replicas": "Recommended replicas of a horizontally scaled service.",
}


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    inner = ",".join(f'{key}="{escape_label_value(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _day_start(day: date) -> float:
    return datetime.combine(day, time(), UTC).timestamp()


def _samples(
    rows: Sequence[ForecastRow], sizings: Sequence[ServiceSizing], as_of: datetime
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {name: [] for name in _FAMILIES}
    out["capplan_forecast_timestamp_seconds"].append(_number(as_of.timestamp()))
    for row in rows:
        key = {
            "service": row.service,
            "metric": row.metric,
            "level": row.level,
            "scenario": row.scenario,
        }
        runway = math.inf if row.runway_days is None else float(row.runway_days)
        out["capplan_runway_days"].append(f"{_labels(**key)} {_number(runway)}")
        for bound, day in (
            ("expected", row.expected),
            ("earliest", row.earliest),
            ("latest", row.latest),
        ):
            if day is not None:
                out["capplan_threshold_crossing_timestamp_seconds"].append(
                    f"{_labels(**key, bound=bound)} {_number(_day_start(day))}"
                )
    for s in sizings:
        for name, value in (
            ("capplan_recommended_cpu_cores", s.cpu_cores),
            (
                "capplan_recommended_memory_bytes",
                None if s.memory_gb is None else s.memory_gb * BYTES_PER_GB,
            ),
            ("capplan_recommended_replicas", s.replicas),
        ):
            if value is not None:
                out[name].append(f"{_labels(service=s.service)} {_number(float(value))}")
    return out


def exposition(
    rows: Sequence[ForecastRow], sizings: Sequence[ServiceSizing], as_of: datetime
) -> str:
    """Every family with its HELP and TYPE, samples sorted, ending in a newline."""
    lines: list[str] = []
    for name, samples in _samples(rows, sizings, as_of).items():
        if not samples:
            continue
        lines.append(f"# HELP {name} {_FAMILIES[name]}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(_with_name(name, sorted(set(samples))))
    return "\n".join(lines) + "\n"


def _with_name(name: str, samples: Iterable[str]) -> list[str]:
    return [
        f"{name}{sample}" if sample.startswith("{") else f"{name} {sample}" for sample in samples
    ]
