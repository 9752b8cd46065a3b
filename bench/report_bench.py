"""Report benchmark: a monthly review PDF for 25 services x 6 metrics.

The report is built from a store holding 40 days of 5-minute samples per
series (rollups included) and from forecasts computed beforehand: the forecast
job is benchmarked on its own (bench/forecast_bench.py), so the fleet forecast
passed in here is a synthetic one of the same shape (every series, both
threshold windows, four scenarios, a three-year daily curve).

Measured in one process, after the store is built by another:
  total      reading the store for the report, charts, HTML and PDF;
  weasyprint WeasyPrint alone turning the final HTML into the PDF.
Targets: total at most 2 x weasyprint; peak memory (max RSS) under 1 GB.

    .venv/bin/python bench/report_bench.py [--services N] [--days D]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from jobs.config import Config, parse_config, runbook_config_text

END = datetime(2026, 2, 1, tzinfo=UTC)
PERIOD = "2026-01"
METRICS = (
    "cpu_percent",
    "memory_percent",
    "disk_percent",
    "db_connections_percent",
    "response_time_p95_ms",
    "error_rate_percent",
)
LEVELS = {
    "cpu_percent": 45.0,
    "memory_percent": 60.0,
    "disk_percent": 50.0,
    "db_connections_percent": 35.0,
    "response_time_p95_ms": 450.0,
    "error_rate_percent": 0.4,
}
MAX_RATIO = 2.0
MAX_RSS_BYTES = 1 << 30


def bench_config(services: int) -> Config:
    data = yaml.safe_load(runbook_config_text())
    data["services"] = {
        f"service-{n:02d}": {
            "cpu_cores": 2,
            "memory_gb": 4,
            "storage_gb": 100,
            "replicas": 2 + n % 3,
            "scaling": "horizontal" if n % 2 else "vertical",
            "description": f"benchmark service {n}",
        }
        for n in range(1, services + 1)
    }
    return parse_config(data, "report benchmark")


def samples(services: int, days: int) -> pd.DataFrame:
    index = pd.date_range(end=END - timedelta(minutes=5), periods=days * 288, freq="5min")
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60
    rng = np.random.default_rng(0)
    frames = []
    for n in range(1, services + 1):
        for k, metric in enumerate(METRICS):
            level = LEVELS[metric] * (0.8 + 0.4 * ((n * 7 + k) % 10) / 10)
            trend = np.linspace(0.93, 1.0, len(index))
            daily = 1 + 0.25 * np.sin((hours - 9) / 24 * 2 * math.pi)
            values = level * trend * daily + rng.normal(0, level * 0.03, len(index))
            upper = 100.0 if metric.endswith("percent") else np.inf
            frames.append(
                pd.DataFrame(
                    {
                        "timestamp": index,
                        "service": f"service-{n:02d}",
                        "metric": metric,
                        "value": np.clip(values, 0, upper).round(3),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def build_store(url: str, services: int, days: int) -> None:
    from jobs.ingest import store_frame
    from jobs.store import open_store

    store_frame(open_store(url), bench_config(services), samples(services, days))


def synthetic_fleet(engine: Any, config: Config, as_of: datetime) -> Any:
    """A fleet forecast of the real shape: straight-line growth with a widening band."""
    from forecasting.types import Crossing, ForecastCurve, ModelSettings, SeriesForecast
    from jobs.forecast.fleet import (
        FleetForecast,
        ForecastRow,
        SeriesResult,
        scenarios_for,
        thresholds_by_window,
    )
    from jobs.store.rollups import read_peaks
    from jobs.store.series import list_series

    cutoff = int(as_of.timestamp()) // 86_400 * 86_400
    horizon = round(config.forecast.horizon_years * 365.25)
    days = tuple(as_of.date() + timedelta(days=i) for i in range(horizon + 1))
    results: list[SeriesResult] = []
    rows: list[ForecastRow] = []
    for series in list_series(engine):
        metric = series.key.metric
        if metric not in config.thresholds:
            continue
        for window, thresholds in thresholds_by_window(config, metric).items():
            history = read_peaks(engine, series.id, "day", window, 0, cutoff)
            last = float(history.iloc[-1])
            curves, crossings = [], []
            for scenario in scenarios_for(config, metric):
                growth = scenario.annual_growth if scenario.annual_growth is not None else 0.15
                t = np.arange(len(days)) / 365.25
                median = last * (1 + growth) ** t
                spread = 0.05 * last * np.sqrt(t + 0.01)
                curves.append(
                    ForecastCurve(
                        scenario.name,
                        days,
                        tuple(median.tolist()),
                        tuple((median - spread).tolist()),
                        tuple((median + spread).tolist()),
                    )
                )
                for threshold in thresholds:
                    above = np.nonzero(median > threshold.value)[0]
                    when = days[int(above[0])] if len(above) else None
                    runway = None if when is None else (when - as_of.date()).days
                    crossings.append(
                        Crossing(
                            scenario.name,
                            threshold.level,
                            threshold.value,
                            window,
                            when,
                            when,
                            when,
                            runway,
                            False,
                        )
                    )
            forecast = SeriesForecast(
                tuple(crossings),
                tuple(curves),
                ModelSettings(),
                {},
                as_of - timedelta(days=1),
                as_of,
                horizon_end=days[-1],
            )
            results.append(
                SeriesResult(series.key.service, metric, window, history, forecast, series.id)
            )
            rows.extend(ForecastRow.of(series.key.service, metric, c) for c in crossings)
    return FleetForecast(as_of, None, tuple(rows), tuple(results), ())


def measure(url: str, services: int, out: Path) -> dict[str, float]:
    from jobs.periods import parse_period
    from jobs.reports.context import build_context
    from jobs.reports.render import RenderTimings, render_pdf
    from jobs.store import open_store

    config = bench_config(services)
    engine = open_store(url)
    period = parse_period("monthly", PERIOD)
    fleet = synthetic_fleet(engine, config, period.end)

    started = time.perf_counter()
    context = build_context(engine, config, period, fleet=fleet)
    read = time.perf_counter() - started
    timings = RenderTimings()
    pdf = render_pdf(context, timings=timings)
    total = time.perf_counter() - started
    (out / period.pdf_filename).write_bytes(pdf)
    return {
        "total": total,
        "read": read,
        "charts": timings.charts,
        "html": timings.html,
        "weasyprint": timings.weasyprint,
        "bytes": float(len(pdf)),
        "max_rss": float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        "series": float(len(context.charts)),
        "rows": float(len(context.runway)),
    }


def child(args: argparse.Namespace) -> None:
    if args.child == "store":
        build_store(args.url, args.services, args.days)
        return
    print(json.dumps(measure(args.url, args.services, Path(args.out))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=25)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--child", choices=["store", "report"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="capplan-report-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        common = [sys.executable, __file__, "--services", str(args.services), "--url", url]
        print(
            f"store: {args.services} services x {len(METRICS)} metrics, {args.days} days of "
            "5-minute samples ...",
            flush=True,
        )
        started = time.perf_counter()
        subprocess.run([*common, "--days", str(args.days), "--child", "store"], check=True)
        print(f"store built in {time.perf_counter() - started:.1f} s (not measured)")
        done = subprocess.run(
            [*common, "--child", "report", "--out", folder],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
    ratio = result["total"] / result["weasyprint"]
    rss_mb = result["max_rss"] / 2**20
    print(
        f"monthly report {PERIOD}: {int(result['series'])} forecast charts, "
        f"{int(result['rows'])} runway rows, {result['bytes'] / 1e6:.1f} MB PDF"
    )
    print("forecasts: precomputed (synthetic fleet of the real shape), not part of the timing")
    print(
        f"total (reads + charts + HTML + PDF): {result['total']:.2f} s  "
        f"[reads {result['read']:.2f} s, charts {result['charts']:.2f} s, "
        f"HTML {result['html']:.2f} s]"
    )
    print(f"WeasyPrint alone (final HTML -> PDF): {result['weasyprint']:.2f} s")
    print(f"ratio total / WeasyPrint: {ratio:.2f} (target <= {MAX_RATIO:.1f})")
    print(f"peak memory (max RSS of the report process): {rss_mb:.0f} MB (target < 1024 MB)")
    ok = ratio <= MAX_RATIO and result["max_rss"] < MAX_RSS_BYTES
    print("PASS" if ok else "FAIL")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
