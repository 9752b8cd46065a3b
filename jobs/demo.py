"""The main job on the embedded default: sample history, local SQLite, local output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from forecasting.rightsizing.fleet import Recommendation
from jobs.config import Config
from jobs.exports import compose, prometheus_metrics
from jobs.exports.alert_rules import RULES_FILENAME, alert_rules
from jobs.exports.sizing import per_service
from jobs.files import atomic_write
from jobs.forecast.fleet import ForecastRow, ensure_forecast_at, forecast_fleet
from jobs.forecast.runway import render_runway
from jobs.ingest import IngestSummary, store_frame
from jobs.ingest.sources.sample import sample_history
from jobs.periods import KINDS, last_full_period
from jobs.planning import (
    budget_bytes,
    budget_filename,
    build_budget,
    render_recommendations,
    run_rightsize,
)
from jobs.planning.usage import formula_demand, load_usage
from jobs.reports import write_latest_reports
from jobs.store import ledger
from jobs.store.samples import prune_raw

Say = Callable[[str], None]


@dataclass
class DemoResult:
    ingest: IngestSummary
    pruned_raw_rows: int
    outputs: list[Path] = field(default_factory=list)


def run_demo(
    engine: Engine,
    config: Config,
    *,
    out_dir: Path,
    end: datetime,
    days: int = 396,
    say: Say = print,
    on_batch: Callable[[int], None] | None = None,
    on_model: Callable[[int], None] | None = None,
) -> DemoResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = ledger.start_run(engine, "demo", f"{end:%Y-%m-%d}")
    say(f"Generating {days} days of 5-minute sample history ending {end:%Y-%m-%d %H:%M} UTC ...")
    history = sample_history(end, days=days, seed=config.forecast.seed)
    say(f"Ingesting {len(history):,} samples into the store ...")
    counts = store_frame(engine, config, history, on_batch=on_batch)
    summary = IngestSummary(
        "sample history", len(history), counts.inserted, counts.updated, counts.unchanged, 0
    )
    say(summary.line())
    cutoff = end - timedelta(days=config.storage.raw_retention_days)
    pruned = prune_raw(engine, int(cutoff.timestamp()))
    say(
        f"Kept raw samples for the last {config.storage.raw_retention_days} days "
        f"({pruned:,} older rows now live on as hourly and daily rollups)."
    )
    result = DemoResult(summary, pruned)

    say("")
    say("Forecasting every series, threshold and scenario ...")
    fleet = forecast_fleet(engine, config, end, on_done=on_model)
    for failure in fleet.failures:
        say(f"warning: {failure.service}/{failure.metric}: {failure.error}")
    say(render_runway(fleet.rows))

    lookback = float(config.rightsizing.lookback_days)
    usage = load_usage(engine, config, end, lookback)
    demand = formula_demand(engine, end, lookback)
    recommendations = run_rightsize(config, usage, end, demand)
    say("")
    say(render_recommendations(recommendations, end, "table"))

    year = end.year + 1
    plan_budget = build_budget(config, year, end.date())
    for fmt in ("csv", "xlsx"):
        target = out_dir / budget_filename(year, fmt)
        target.write_bytes(budget_bytes(plan_budget, fmt))
        result.outputs.append(target)
    say("")
    say(f"Budget for {year}: " + ", ".join(str(p) for p in result.outputs[-2:]))
    applied = write_apply_ready(config, fleet.rows, recommendations, end, out_dir)
    result.outputs.extend(applied)
    say("Apply-ready: " + ", ".join(str(p) for p in applied))
    say("")
    say("Forecasting as of each period's start, to compare its projections with what happened ...")
    for kind in KINDS:
        ensure_forecast_at(engine, config, last_full_period(kind, end).start)
    say("Rendering the review reports of the last full month, quarter and year ...")
    result.outputs.extend(write_latest_reports(engine, config, out_dir, end, fleet=fleet, say=say))
    ledger.finish_run(
        engine, run_id, ledger.SUCCEEDED, outputs={"outputs": [str(p) for p in result.outputs]}
    )
    return result


def write_apply_ready(
    config: Config,
    rows: Sequence[ForecastRow],
    recommendations: Sequence[Recommendation],
    as_of: datetime,
    out_dir: Path,
) -> list[Path]:
    """The Compose override, the runway metrics and the alert rules, beside the PDFs."""
    sizings = per_service(recommendations, config.costs.currency)
    files = {
        compose.DEFAULT_FILENAME: compose.compose_override(
            sizings, as_of, config.rightsizing.limit_headroom
        ),
        prometheus_metrics.DEFAULT_FILENAME: prometheus_metrics.exposition(rows, sizings, as_of),
        RULES_FILENAME: alert_rules(config).text,
    }
    written = []
    for name, text in files.items():
        path = out_dir / name
        atomic_write(path, text.encode())
        written.append(path)
    return written
