"""Publishing the runway gauges: a textfile for node_exporter, or a Pushgateway push."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import requests
from sqlalchemy import Engine
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from jobs.config import Config
from jobs.errors import CapplanError, NoDataError
from jobs.exports.prometheus_metrics import exposition
from jobs.exports.sizing import ServiceSizing, per_service
from jobs.files import atomic_write
from jobs.forecast.fleet import latest_runway

log = logging.getLogger(__name__)


class MetricsPushError(CapplanError):
    """The Pushgateway did not take the metrics after every attempt."""


class _TransientError(Exception):
    pass


def runway_exposition(engine: Engine, config: Config, before: datetime) -> tuple[str, list[str]]:
    """The gauges of the latest stored forecast before ``before``, and notes for the operator."""
    from jobs.planning import run_rightsize
    from jobs.planning.usage import load_usage

    stored = latest_runway(engine, before)
    if stored is None:
        raise NoDataError(
            f"no forecast stored before {before.isoformat()}: run `capplan forecast` first"
        )
    notes: list[str] = []
    sizings: list[ServiceSizing] = []
    try:
        usage = load_usage(engine, config, stored.as_of, float(config.rightsizing.lookback_days))
        sizings = per_service(run_rightsize(config, usage, stored.as_of), config.costs.currency)
    except NoDataError as exc:
        notes.append(f"no recommendation gauges: {exc}")
    return exposition(stored.rows, sizings, stored.as_of), notes


def write_textfile(path: Path, text: str) -> None:
    """Atomically, as the textfile collector needs: it must never read half a file."""
    atomic_write(path, text.encode())


def push(url: str, job: str, text: str, *, timeout: float, max_attempts: int) -> None:
    """PUT the metrics as the group ``job``: a retry replaces the group, never adds to it."""
    target = f"{url.rstrip('/')}/metrics/job/{job}"

    def attempt() -> None:
        try:
            answer = requests.put(
                target,
                data=text.encode(),
                headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
                timeout=timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _TransientError(f"{type(exc).__name__}") from exc
        if answer.status_code >= 500:
            raise _TransientError(f"HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise MetricsPushError(
                f"Pushgateway {target} refused the metrics: HTTP {answer.status_code} "
                f"{answer.text.strip()[:300]}"
            )

    retrying = Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=wait_exponential(multiplier=0.2, max=5),
        retry=retry_if_exception_type(_TransientError),
        reraise=True,
    )
    try:
        for round_ in retrying:
            with round_:
                attempt()
    except _TransientError as exc:
        raise MetricsPushError(
            f"Pushgateway {target} unreachable after {max_attempts} attempt(s): {exc}"
        ) from exc
