"""Pull metric history from Prometheus' ``query_range`` API.

Query templates
---------------
Every capplan metric maps to one PromQL expression that returns one series per
service, each carrying the service label, for example::

    avg by ({service_label}) (rate(container_cpu_usage_seconds_total[5m])) * 100

The only substitution is the literal token ``{service_label}``, replaced by
``PrometheusSettings.service_label``. All other braces are left alone, so label
matchers such as ``up{job="api"}`` need no escaping (``str.format`` would reject
them). A template may also spell the label out instead of using the token.

Time grid
---------
Evaluation instants are multiples of ``step_seconds`` since the Unix epoch: the
requested start is rounded up and the end rounded down to that grid, and both
ends are inclusive. A resumed or repeated run therefore asks for exactly the
same instants as the first one, so upserting its rows is idempotent.

Nothing here prints, reads configuration or touches a database; callers pass
everything in and get ``pandas`` frames back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from jobs.ingest.sources import SourceError
from jobs.ingest.sources.base import ChunkCallback

__all__ = [
    "COLUMNS",
    "MAX_POINTS_PER_SERIES",
    "SERVICE_LABEL_TOKEN",
    "ChunkCallback",
    "FetchStats",
    "PrometheusError",
    "PrometheusQueryError",
    "PrometheusSettings",
    "PrometheusUnavailableError",
    "fetch_range",
    "plan_chunks",
    "render_query",
]

log = logging.getLogger(__name__)

#: Prometheus refuses a range query whose series would exceed this many points.
MAX_POINTS_PER_SERIES: Final = 11_000
SERVICE_LABEL_TOKEN: Final = "{service_label}"
COLUMNS: Final = ("timestamp", "service", "metric", "value")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
# Error types Prometheus uses for a query it cannot run (400 bad_data, 422
# execution), as opposed to a server that is overloaded or unreachable. The same
# query fails the same way every time, so these are never retried.
_QUERY_ERROR_TYPES: Final = frozenset({"bad_data", "execution"})

# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class PrometheusSettings:
    """Where and how to query Prometheus. See the module docstring for ``queries``."""

    base_url: str
    service_label: str = "service"
    step_seconds: int = 300
    timeout_seconds: float = 30.0
    max_attempts: int = 4
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 8.0
    queries: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url: expected an http(s) URL, got {self.base_url!r}")
        if not self.service_label:
            raise ValueError("service_label: must not be empty")
        if self.step_seconds < 1:
            raise ValueError(f"step_seconds: must be >= 1, got {self.step_seconds}")
        if not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds: must be > 0, got {self.timeout_seconds}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: must be >= 1, got {self.max_attempts}")
        if self.backoff_initial_seconds < 0 or self.backoff_max_seconds < 0:
            raise ValueError("backoff_initial_seconds, backoff_max_seconds: must be >= 0")
        for metric, template in self.queries.items():
            if not template.strip():
                raise ValueError(f"queries.{metric}: empty PromQL template")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        # A read-only view keeps the frozen promise for the mapping too.
        object.__setattr__(self, "queries", MappingProxyType(dict(self.queries)))

    @property
    def query_range_url(self) -> str:
        return f"{self.base_url}/api/v1/query_range"


@dataclass
class FetchStats:
    """Counters a caller may pass to ``fetch_range`` and read afterwards."""

    chunks: int = 0
    #: HTTP requests sent, retries included.
    requests: int = 0
    rows: int = 0
    #: Samples whose value was NaN or +/-Inf; they are not returned.
    dropped_non_finite: int = 0


# --------------------------------------------------------------------------- errors


class PrometheusError(SourceError):
    """Base of the Prometheus errors; the attributes say what was being fetched."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        metric: str,
        promql: str,
        start: datetime,
        end: datetime,
        attempts: int,
        last_error: str,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.metric = metric
        self.promql = promql
        self.start = start
        self.end = end
        self.attempts = attempts
        self.last_error = last_error


class PrometheusUnavailableError(PrometheusError):
    """Prometheus was unreachable, too slow or failing after every allowed attempt."""


class PrometheusQueryError(PrometheusError):
    """Prometheus rejected the query, or its answer does not fit capplan's model."""


@dataclass(frozen=True)
class _Request:
    url: str
    metric: str
    promql: str
    start: datetime
    end: datetime
    step_seconds: int

    def error(
        self,
        kind: type[PrometheusError],
        problem: str,
        *,
        attempts: int,
        last_error: str,
    ) -> PrometheusError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        message = (
            f"{problem} for metric {self.metric!r} from {self.url} "
            f"(range {self.start.isoformat()} to {self.end.isoformat()}, "
            f"step {self.step_seconds}s){tries}: {last_error}; PromQL: {self.promql}"
        )
        return kind(
            message,
            url=self.url,
            metric=self.metric,
            promql=self.promql,
            start=self.start,
            end=self.end,
            attempts=attempts,
            last_error=last_error,
        )


class _RetryableError(Exception):
    """A transient failure that tenacity may retry; ends as ``PrometheusUnavailableError``."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


# --------------------------------------------------------------------------- planning


def render_query(settings: PrometheusSettings, metric: str) -> str:
    """The PromQL for ``metric`` with the service label filled in."""
    try:
        template = settings.queries[metric]
    except KeyError:
        known = ", ".join(sorted(settings.queries)) or "none"
        raise ValueError(
            f"no Prometheus query configured for metric {metric!r} (configured: {known})"
        ) from None
    return template.replace(SERVICE_LABEL_TOKEN, settings.service_label)


def _as_utc(value: datetime) -> datetime:
    # The project's convention: a naive timestamp is UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _epoch_micros(value: datetime) -> int:
    return (_as_utc(value) - _EPOCH) // _MICROSECOND


def plan_chunks(
    start: datetime,
    end: datetime,
    step_seconds: int,
    max_points: int = MAX_POINTS_PER_SERIES,
) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end]`` into ``query_range`` windows of at most ``max_points`` instants.

    ``start`` is rounded up and ``end`` down to multiples of ``step_seconds``
    since the epoch (naive values are UTC). Windows are inclusive at both ends
    and the next one starts one step after the previous end, so every instant
    of the grid is asked for exactly once. Returns ``[]`` when no grid instant
    lies in the range. The returned datetimes are UTC.
    """
    if step_seconds < 1:
        raise ValueError(f"step_seconds must be >= 1, got {step_seconds}")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    step_us = step_seconds * 1_000_000
    first = -(-_epoch_micros(start) // step_us)
    last = _epoch_micros(end) // step_us
    chunks: list[tuple[datetime, datetime]] = []
    index = first
    while index <= last:
        chunk_last = min(index + max_points - 1, last)
        chunks.append(
            (
                _EPOCH + timedelta(seconds=index * step_seconds),
                _EPOCH + timedelta(seconds=chunk_last * step_seconds),
            )
        )
        index = chunk_last + 1
    return chunks


# --------------------------------------------------------------------------- fetching


def fetch_range(
    settings: PrometheusSettings,
    metric: str,
    start: datetime,
    end: datetime,
    *,
    on_chunk: ChunkCallback | None = None,
    stats: FetchStats | None = None,
) -> Iterator[pd.DataFrame]:
    """Fetch ``metric`` over ``[start, end]``, one long-format frame per chunk.

    Each frame has the columns ``timestamp`` (``datetime64[ns, UTC]``),
    ``service``, ``metric`` and ``value`` (float64), is sorted by timestamp then
    service, and may be empty. Non-finite values are dropped and counted in
    ``stats``. Chunks come from ``plan_chunks`` with the settings' step, in time
    order; ``on_chunk`` is called after a chunk is fetched, before it is yielded.

    An unknown metric raises ``ValueError`` at once; I/O only starts when the
    iterator is consumed. Failures raise ``PrometheusUnavailableError`` or
    ``PrometheusQueryError``; frames already yielded stay valid.
    """
    promql = render_query(settings, metric)
    chunks = plan_chunks(start, end, settings.step_seconds)
    counters = stats if stats is not None else FetchStats()
    return _fetch_chunks(settings, metric, promql, chunks, on_chunk, counters)


def _fetch_chunks(
    settings: PrometheusSettings,
    metric: str,
    promql: str,
    chunks: Sequence[tuple[datetime, datetime]],
    on_chunk: ChunkCallback | None,
    stats: FetchStats,
) -> Iterator[pd.DataFrame]:
    with requests.Session() as session:
        for chunk_start, chunk_end in chunks:
            request = _Request(
                url=settings.query_range_url,
                metric=metric,
                promql=promql,
                start=chunk_start,
                end=chunk_end,
                step_seconds=settings.step_seconds,
            )
            result = _query_with_retries(session, settings, request, stats)
            frame = _to_frame(result, settings.service_label, request, stats)
            stats.chunks += 1
            stats.rows += len(frame)
            if on_chunk is not None:
                on_chunk(metric, chunk_start, chunk_end, len(frame))
            yield frame


def _wait_strategy(settings: PrometheusSettings) -> Callable[[RetryCallState], float]:
    exponential = wait_exponential(
        multiplier=settings.backoff_initial_seconds, max=settings.backoff_max_seconds
    )

    def wait(retry_state: RetryCallState) -> float:
        # Honour the server's Retry-After, but never wait longer than our own cap.
        outcome = retry_state.outcome
        if outcome is not None and outcome.failed:
            failure = outcome.exception()
            if isinstance(failure, _RetryableError) and failure.retry_after is not None:
                return min(failure.retry_after, settings.backoff_max_seconds)
        return float(exponential(retry_state))

    return wait


def _log_retry(request: _Request, max_attempts: int) -> Callable[[RetryCallState], None]:
    def before_sleep(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning(
            "Prometheus query for metric %r (%s to %s) failed on attempt %d of %d: %s; "
            "retrying in %.2fs",
            request.metric,
            request.start.isoformat(),
            request.end.isoformat(),
            retry_state.attempt_number,
            max_attempts,
            failure,
            delay,
        )

    return before_sleep


def _query_with_retries(
    session: requests.Session,
    settings: PrometheusSettings,
    request: _Request,
    stats: FetchStats,
) -> list[Any]:
    retrying = Retrying(
        stop=stop_after_attempt(settings.max_attempts),
        wait=_wait_strategy(settings),
        retry=retry_if_exception_type(_RetryableError),
        before_sleep=_log_retry(request, settings.max_attempts),
        reraise=True,
    )
    attempts = 0
    try:
        for attempt in retrying:
            with attempt:
                attempts += 1
                stats.requests += 1
                return _query_once(session, settings, request, attempts)
    except _RetryableError as failure:
        error = request.error(
            PrometheusUnavailableError,
            "Prometheus unavailable",
            attempts=attempts,
            last_error=failure.detail,
        )
        raise error from (failure.__cause__ or failure)
    raise AssertionError("tenacity ended without an outcome")  # pragma: no cover


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # the HTTP-date form; our own backoff is good enough then
    return max(seconds, 0.0)


def _snippet(response: requests.Response) -> str:
    text = " ".join(response.text.split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _query_once(
    session: requests.Session,
    settings: PrometheusSettings,
    request: _Request,
    attempt: int,
) -> list[Any]:
    form = {
        "query": request.promql,
        "start": str(_epoch_micros(request.start) // 1_000_000),
        "end": str(_epoch_micros(request.end) // 1_000_000),
        "step": str(settings.step_seconds),
        # Lets Prometheus abandon the evaluation once we have stopped waiting.
        # Plain seconds: Prometheus' duration syntax rejects fractions like "0.3s".
        "timeout": f"{settings.timeout_seconds:g}",
    }
    try:
        # POST keeps long PromQL out of URL length limits of proxies.
        response = session.post(request.url, data=form, timeout=settings.timeout_seconds)
    except requests.Timeout as exc:
        raise _RetryableError(f"no answer within {settings.timeout_seconds:g}s ({exc})") from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise _RetryableError(f"connection failed: {exc}") from exc
    except requests.RequestException as exc:
        raise request.error(
            PrometheusUnavailableError,
            "request to Prometheus failed",
            attempts=attempt,
            last_error=str(exc),
        ) from exc

    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None

    if isinstance(body, dict) and body.get("status") == "error":
        error_type = str(body.get("errorType", ""))
        detail = f"HTTP {status}, {error_type or 'error'}: {body.get('error', '')}"
        if error_type in _QUERY_ERROR_TYPES:
            raise request.error(
                PrometheusQueryError,
                "Prometheus rejected the query",
                attempts=attempt,
                last_error=detail,
            )
        if status >= 500 or status == 429 or error_type in ("timeout", "canceled"):
            raise _RetryableError(detail, _retry_after(response))
        raise request.error(
            PrometheusUnavailableError,
            "Prometheus refused the request",
            attempts=attempt,
            last_error=detail,
        )
    if status >= 500 or status == 429:
        detail = f"HTTP {status} {response.reason}: {_snippet(response)}"
        raise _RetryableError(detail, _retry_after(response))
    if status != 200:
        # Other 4xx answers (wrong path, missing credentials) will not heal on retry.
        raise request.error(
            PrometheusUnavailableError,
            "Prometheus refused the request (check the URL)",
            attempts=attempt,
            last_error=f"HTTP {status} {response.reason}: {_snippet(response)}",
        )
    if not isinstance(body, dict) or body.get("status") != "success":
        # Typically an HTML page from a proxy in front of a restarting Prometheus.
        raise _RetryableError(f"not a Prometheus API answer: {_snippet(response)}")
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        result_type = data.get("resultType") if isinstance(data, dict) else None
        raise request.error(
            PrometheusQueryError,
            "unexpected answer to query_range",
            attempts=attempt,
            last_error=f"expected a matrix result, got {result_type!r}",
        )
    result = data.get("result")
    if not isinstance(result, list):
        raise request.error(
            PrometheusQueryError,
            "unexpected answer to query_range",
            attempts=attempt,
            last_error="the matrix result is not a list",
        )
    return result


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
            "service": pd.Series([], dtype="str"),
            "metric": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype="float64"),
        }
    )


def _to_frame(
    result: list[Any], service_label: str, request: _Request, stats: FetchStats
) -> pd.DataFrame:
    times: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    values: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    services: list[str] = []
    counts: list[int] = []
    seen: dict[str, dict[str, str]] = {}
    for series in result:
        try:
            labels: dict[str, str] = dict(series["metric"])
            points: list[list[Any]] = list(series.get("values") or [])
            stamps = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
            numbers = np.fromiter(
                (float(p[1]) for p in points), dtype=np.float64, count=len(points)
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise request.error(
                PrometheusQueryError,
                "malformed series in the answer",
                attempts=1,
                last_error=f"{type(exc).__name__}: {exc}",
            ) from exc
        service = labels.get(service_label)
        if not service:
            raise request.error(
                PrometheusQueryError,
                f"a series has no {service_label!r} label",
                attempts=1,
                last_error=(
                    f"series labels {labels}; aggregate the query with "
                    f"'by ({service_label})' or fix the service_label setting"
                ),
            )
        if service in seen:
            raise request.error(
                PrometheusQueryError,
                f"several series for service {service!r}",
                attempts=1,
                last_error=(
                    f"series labels {seen[service]} and {labels}; aggregate the query "
                    f"with 'by ({service_label})' so each service yields one series"
                ),
            )
        seen[service] = labels
        finite = np.isfinite(numbers)
        stats.dropped_non_finite += int(finite.size - np.count_nonzero(finite))
        # Prometheus reports seconds with millisecond precision.
        times.append(np.rint(stamps[finite] * 1000.0).astype(np.int64))
        values.append(numbers[finite])
        services.append(service)
        counts.append(int(np.count_nonzero(finite)))
    if not services or sum(counts) == 0:
        return _empty_frame()
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(np.concatenate(times), unit="ms", utc=True).as_unit("ns"),
            "service": pd.Series(np.repeat(np.array(services, dtype=object), counts), dtype="str"),
            "metric": pd.Series([request.metric] * sum(counts), dtype="str"),
            "value": np.concatenate(values),
        }
    )
    # Time first: chunks arrive in time order, so their concatenation stays sorted.
    return frame.sort_values(["timestamp", "service"], kind="stable", ignore_index=True)
