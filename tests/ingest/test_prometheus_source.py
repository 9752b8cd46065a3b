"""The Prometheus source against a real Prometheus and a fault-injecting stand-in."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest

from jobs.ingest.sources import SourceError
from jobs.ingest.sources.prometheus import (
    MAX_POINTS_PER_SERIES,
    FetchStats,
    PrometheusQueryError,
    PrometheusSettings,
    PrometheusUnavailableError,
    fetch_range,
    plan_chunks,
    render_query,
)
from tests.servers.prometheus import (
    FaultServer,
    Forward,
    Hang,
    PrometheusServer,
    Respond,
    bad_data,
    prometheus_timeout,
    unavailable,
)

STEP = 300


def settings_for(base_url: str, queries: dict[str, str], **overrides: Any) -> PrometheusSettings:
    options: dict[str, Any] = {
        "base_url": base_url,
        "queries": queries,
        "step_seconds": STEP,
        "timeout_seconds": 10.0,
        "max_attempts": 3,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.02,
    }
    options.update(overrides)
    return PrometheusSettings(**options)


def fetch_all(
    settings: PrometheusSettings,
    metric: str,
    start: datetime,
    end: datetime,
    stats: FetchStats | None = None,
) -> pd.DataFrame:
    frames = list(fetch_range(settings, metric, start, end, stats=stats))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- planning


def test_plan_chunks_covers_every_instant_once_within_the_point_limit() -> None:
    start = datetime(2024, 10, 1, tzinfo=UTC)
    end = start + timedelta(days=90)
    chunks = plan_chunks(start, end, STEP)

    total = 90 * 86400 // STEP + 1
    assert len(chunks) == -(-total // MAX_POINTS_PER_SERIES) == 3
    assert chunks[0][0] == start
    assert chunks[-1][1] == end
    for chunk_start, chunk_end in chunks:
        assert (chunk_end - chunk_start) / timedelta(seconds=STEP) + 1 <= MAX_POINTS_PER_SERIES
    for (_, previous_end), (next_start, _) in itertools.pairwise(chunks):
        assert next_start == previous_end + timedelta(seconds=STEP)
    points = sum((e - s) // timedelta(seconds=STEP) + 1 for s, e in chunks)
    assert points == total


def test_plan_chunks_rounds_to_the_step_grid_and_treats_naive_as_utc() -> None:
    chunks = plan_chunks(
        datetime(2024, 1, 1, 0, 7, 30), datetime(2024, 1, 1, 1, 4, 59), STEP, max_points=5
    )
    assert chunks == [
        (datetime(2024, 1, 1, 0, 10, tzinfo=UTC), datetime(2024, 1, 1, 0, 30, tzinfo=UTC)),
        (datetime(2024, 1, 1, 0, 35, tzinfo=UTC), datetime(2024, 1, 1, 0, 55, tzinfo=UTC)),
        (datetime(2024, 1, 1, 1, 0, tzinfo=UTC), datetime(2024, 1, 1, 1, 0, tzinfo=UTC)),
    ]
    offset = datetime(2024, 1, 1, 4, 10, tzinfo=timezone(timedelta(hours=2)))
    assert plan_chunks(offset, offset, STEP) == [
        (datetime(2024, 1, 1, 2, 10, tzinfo=UTC), datetime(2024, 1, 1, 2, 10, tzinfo=UTC))
    ]


def test_plan_chunks_is_empty_when_no_instant_falls_in_the_range() -> None:
    start = datetime(2024, 1, 1, 0, 1, tzinfo=UTC)
    assert plan_chunks(start, start + timedelta(minutes=3), STEP) == []
    assert plan_chunks(start, start - timedelta(days=1), STEP) == []


def test_render_query_substitutes_only_the_service_label_token() -> None:
    settings = settings_for(
        "http://127.0.0.1:9",
        {"cpu_percent": 'avg by ({service_label}) (rate(cpu{job="api"}[5m]))'},
        service_label="app",
    )
    assert render_query(settings, "cpu_percent") == 'avg by (app) (rate(cpu{job="api"}[5m]))'


def test_unknown_metric_is_rejected_before_any_request(fault_server: FaultServer) -> None:
    settings = settings_for(fault_server.base_url, {"cpu_percent": "up"})
    with pytest.raises(ValueError, match=r"'disk_percent'.*configured: cpu_percent"):
        fetch_range(settings, "disk_percent", datetime(2024, 1, 1), datetime(2024, 1, 2))
    assert fault_server.requests == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"base_url": "127.0.0.1:9090"}, "base_url"),
        ({"step_seconds": 0}, "step_seconds"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"queries": {"cpu_percent": "  "}}, "queries.cpu_percent"),
    ],
)
def test_invalid_settings_name_the_field(overrides: dict[str, Any], field: str) -> None:
    options: dict[str, Any] = {"base_url": "http://127.0.0.1:9", "queries": {"cpu_percent": "up"}}
    with pytest.raises(ValueError, match=f"^{field}"):
        PrometheusSettings(**(options | overrides))


# --------------------------------------------------------------------------- real Prometheus


@pytest.mark.parametrize("metric", ["cpu_percent", "memory_percent"])
def test_fetches_the_whole_history_exactly(
    prometheus_server: PrometheusServer, metric: str
) -> None:
    settings = settings_for(prometheus_server.base_url, prometheus_server.queries)
    stats = FetchStats()
    assert prometheus_server.end - prometheus_server.start >= timedelta(days=90)

    fetched = fetch_all(settings, metric, prometheus_server.start, prometheus_server.end, stats)

    expected = prometheus_server.expected(metric)
    assert not fetched.duplicated(["service", "timestamp"]).any()
    pd.testing.assert_frame_equal(fetched, expected, check_exact=True)
    chunks = plan_chunks(prometheus_server.start, prometheus_server.end, STEP)
    assert len(chunks) > 1  # chunk boundaries are exercised
    assert stats.requests == stats.chunks == len(chunks)
    assert stats.rows == len(expected)
    dropped = prometheus_server.non_finite["metric"] == metric
    assert stats.dropped_non_finite == int(dropped.sum()) > 0


def test_requests_on_the_wire_respect_the_point_limit(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(then=Forward(prometheus_server.base_url))
    settings = settings_for(fault_server.base_url, prometheus_server.queries)
    seen: list[tuple[str, datetime, datetime, int]] = []

    frames = fetch_range(
        settings,
        "cpu_percent",
        prometheus_server.start,
        prometheus_server.end,
        on_chunk=lambda *args: seen.append(args),
    )
    fetched = pd.concat(list(frames), ignore_index=True)

    pd.testing.assert_frame_equal(fetched, prometheus_server.expected("cpu_percent"))
    sent = fault_server.requests
    assert len(sent) == len(seen) >= 3
    for request, (metric, chunk_start, chunk_end, _) in zip(sent, seen, strict=True):
        assert request.path == "/api/v1/query_range"
        assert request.form["query"] == "max by (service) (capplan_cpu_percent)"
        start, end, step = (int(request.form[key]) for key in ("start", "end", "step"))
        assert (end - start) / step + 1 <= MAX_POINTS_PER_SERIES
        assert (start, end) == (int(chunk_start.timestamp()), int(chunk_end.timestamp()))
        assert metric == "cpu_percent"
    starts = [int(r.form["start"]) for r in sent]
    ends = [int(r.form["end"]) for r in sent]
    assert all(s == e + STEP for e, s in zip(ends, starts[1:], strict=False))
    assert sum(rows for *_, rows in seen) == len(fetched)


def test_resumed_fetch_from_an_off_grid_instant_continues_without_overlap(
    prometheus_server: PrometheusServer,
) -> None:
    settings = settings_for(prometheus_server.base_url, prometheus_server.queries)
    watermark = prometheus_server.start + timedelta(days=40)
    first = fetch_all(settings, "memory_percent", prometheus_server.start, watermark)
    # A resume asks from "just after the watermark", which is off the step grid.
    rest = fetch_all(
        settings, "memory_percent", watermark + timedelta(seconds=1), prometheus_server.end
    )

    combined = pd.concat([first, rest], ignore_index=True)
    assert not combined.duplicated(["service", "timestamp"]).any()
    pd.testing.assert_frame_equal(combined, prometheus_server.expected("memory_percent"))


def test_series_without_the_service_label_is_an_error_naming_metric_and_query(
    prometheus_server: PrometheusServer,
) -> None:
    settings = settings_for(prometheus_server.base_url, {"cpu_percent": "sum(capplan_cpu_percent)"})
    with pytest.raises(PrometheusQueryError) as caught:
        fetch_all(settings, "cpu_percent", prometheus_server.start, prometheus_server.end)
    message = str(caught.value)
    assert "'cpu_percent'" in message
    assert "sum(capplan_cpu_percent)" in message
    assert "no 'service' label" in message


def test_several_series_for_one_service_is_an_error(prometheus_server: PrometheusServer) -> None:
    query = (
        'label_replace(label_replace(capplan_cpu_percent, "orig", "$1", "service", "(.*)"),'
        ' "service", "all", "", "")'
    )
    settings = settings_for(prometheus_server.base_url, {"cpu_percent": query})
    with pytest.raises(PrometheusQueryError, match="several series for service 'all'"):
        fetch_all(settings, "cpu_percent", prometheus_server.start, prometheus_server.end)


def test_invalid_promql_from_real_prometheus_is_a_query_error_without_retries(
    prometheus_server: PrometheusServer,
) -> None:
    promql = "max by (service) (capplan_cpu_percent"
    settings = settings_for(prometheus_server.base_url, {"cpu_percent": promql})
    stats = FetchStats()
    with pytest.raises(PrometheusQueryError) as caught:
        fetch_all(settings, "cpu_percent", prometheus_server.start, prometheus_server.end, stats)
    error = caught.value
    assert isinstance(error, SourceError)
    # HTTP 400 bad_data: the same query fails the same way on every attempt.
    assert settings.max_attempts > 1
    assert stats.requests == error.attempts == 1
    assert error.promql == promql
    assert promql in str(error)
    assert "bad_data" in str(error)
    assert "parse error" in error.last_error


# --------------------------------------------------------------------------- faults

DAY_QUERIES = {"cpu_percent": "max by ({service_label}) (capplan_cpu_percent)"}


def one_day(server: PrometheusServer) -> tuple[datetime, datetime]:
    return server.start, server.start + timedelta(days=1)


def test_503_then_ok_is_retried_and_succeeds(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(unavailable(), unavailable(), then=Forward(prometheus_server.base_url))
    settings = settings_for(fault_server.base_url, DAY_QUERIES, max_attempts=3)
    stats = FetchStats()
    start, end = one_day(prometheus_server)

    fetched = fetch_all(settings, "cpu_percent", start, end, stats)

    expected = prometheus_server.expected("cpu_percent")
    expected = expected[expected["timestamp"] <= end].reset_index(drop=True)
    pd.testing.assert_frame_equal(fetched, expected)
    assert stats.requests == 3
    assert len(fault_server.requests) == 3


def test_persistent_503_raises_unavailable_after_max_attempts(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    settings = settings_for(fault_server.base_url, DAY_QUERIES, max_attempts=4)
    start, end = one_day(prometheus_server)
    with pytest.raises(PrometheusUnavailableError) as caught:
        fetch_all(settings, "cpu_percent", start, end)
    error = caught.value
    message = str(error)
    assert len(fault_server.requests) == 4 == error.attempts
    assert f"{fault_server.base_url}/api/v1/query_range" in message
    assert "'cpu_percent'" in message
    assert start.isoformat() in message
    assert "HTTP 503" in message
    assert "after 4 attempts" in message


def test_prometheus_timeout_answer_is_retried_then_unavailable(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(then=prometheus_timeout())
    settings = settings_for(fault_server.base_url, DAY_QUERIES, max_attempts=2)
    with pytest.raises(PrometheusUnavailableError, match="timeout: query timed out"):
        fetch_all(settings, "cpu_percent", *one_day(prometheus_server))
    assert len(fault_server.requests) == 2


def test_hanging_server_is_bounded_by_the_timeout(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(then=Hang(30))
    settings = settings_for(fault_server.base_url, DAY_QUERIES, timeout_seconds=0.3, max_attempts=2)
    began = time.monotonic()
    with pytest.raises(PrometheusUnavailableError, match=r"no answer within 0\.3s") as caught:
        fetch_all(settings, "cpu_percent", *one_day(prometheus_server))
    assert time.monotonic() - began < 5
    assert len(fault_server.requests) == 2
    assert caught.value.__cause__ is not None
    assert fault_server.requests[0].form["timeout"] == "0.3"


def test_hang_then_ok_recovers(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(Hang(30), then=Forward(prometheus_server.base_url))
    settings = settings_for(fault_server.base_url, DAY_QUERIES, timeout_seconds=0.3)
    fetched = fetch_all(settings, "cpu_percent", *one_day(prometheus_server))
    assert len(fetched) == 3 * 289


def test_bad_data_is_a_query_error_with_the_promql_and_prometheus_message(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(then=bad_data('1:5: parse error: unexpected "}"'))
    settings = settings_for(fault_server.base_url, DAY_QUERIES, max_attempts=2)
    with pytest.raises(PrometheusQueryError) as caught:
        fetch_all(settings, "cpu_percent", *one_day(prometheus_server))
    message = str(caught.value)
    assert "max by (service) (capplan_cpu_percent)" in message
    assert '1:5: parse error: unexpected "}"' in message
    assert "'cpu_percent'" in message
    assert len(fault_server.requests) == 1  # never retried: it cannot succeed


def test_execution_error_is_not_retried(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(
        then=Respond(
            422,
            {
                "status": "error",
                "errorType": "execution",
                "error": "found duplicate series for the match group",
            },
        )
    )
    settings = settings_for(fault_server.base_url, DAY_QUERIES, max_attempts=4)
    with pytest.raises(PrometheusQueryError, match="duplicate series"):
        fetch_all(settings, "cpu_percent", *one_day(prometheus_server))
    assert len(fault_server.requests) == 1


def test_429_honours_retry_after_within_the_backoff_cap(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(
        Respond(429, "slow down", headers=(("Retry-After", "3600"),)),
        then=Forward(prometheus_server.base_url),
    )
    settings = settings_for(fault_server.base_url, DAY_QUERIES)
    began = time.monotonic()
    fetched = fetch_all(settings, "cpu_percent", *one_day(prometheus_server))
    assert time.monotonic() - began < 5
    assert len(fetched) == 3 * 289
    assert len(fault_server.requests) == 2


def test_client_errors_other_than_429_are_not_retried(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(then=Respond(404, "404 page not found"))
    settings = settings_for(fault_server.base_url, DAY_QUERIES)
    with pytest.raises(PrometheusUnavailableError, match="HTTP 404"):
        fetch_all(settings, "cpu_percent", *one_day(prometheus_server))
    assert len(fault_server.requests) == 1


def test_non_api_answer_is_retried(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(
        Respond(200, "<html>starting up</html>"), then=Forward(prometheus_server.base_url)
    )
    settings = settings_for(fault_server.base_url, DAY_QUERIES)
    assert len(fetch_all(settings, "cpu_percent", *one_day(prometheus_server))) == 3 * 289
    assert len(fault_server.requests) == 2


def test_server_down_raises_unavailable(closed_port_url: str) -> None:
    settings = settings_for(closed_port_url, DAY_QUERIES, max_attempts=2)
    start = datetime(2024, 10, 1, tzinfo=UTC)
    with pytest.raises(PrometheusUnavailableError) as caught:
        fetch_all(settings, "cpu_percent", start, start + timedelta(hours=1))
    message = str(caught.value)
    assert closed_port_url in message
    assert "'cpu_percent'" in message
    assert "connection failed" in message
    assert caught.value.attempts == 2
    assert caught.value.__cause__ is not None


def test_frames_already_yielded_survive_a_later_failure(
    prometheus_server: PrometheusServer, fault_server: FaultServer
) -> None:
    fault_server.script(Forward(prometheus_server.base_url), then=unavailable())
    settings = settings_for(fault_server.base_url, prometheus_server.queries, max_attempts=2)
    frames = fetch_range(settings, "cpu_percent", prometheus_server.start, prometheus_server.end)
    first = next(frames)
    assert len(first) == 3 * MAX_POINTS_PER_SERIES
    with pytest.raises(PrometheusUnavailableError):
        next(frames)
