"""Adding a source: its module, its registration and its settings model, nothing else.

``steady_source`` is such a module; registering it must be enough for the
configuration to validate its section, for the scheduled ingest to store its
samples with watermarks and resume from them, and for backfill to pull it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobs.config import Config, parse_config, runbook_config_text
from jobs.errors import ConfigError
from jobs.ingest.backfill import backfill_source
from jobs.ingest.sources import REGISTRY, UnknownSourceError, find
from jobs.schedule.run_due import run_ingest
from jobs.store import open_store
from jobs.store.watermarks import get_watermarks, series_key
from tests.conftest import Capplan
from tests.ingest.steady_source import SteadySettings, SteadySource

SERVICES = ["backend", "postgres"]
UNTIL = datetime(2026, 11, 1, 6, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _steady_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "steady", ("tests.ingest.steady_source", "SteadySource"))
    monkeypatch.setattr(SteadySource, "asked", [])


def steady_data(**section: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(runbook_config_text())
    data["sources"] = {
        "steady": {"services": SERVICES, "queries": {"cpu_percent": "41.5"}, **section}
    }
    return data


def steady_config(**section: Any) -> Config:
    return parse_config(steady_data(**section), "steady.yaml")


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "steady.yaml")
    return caught.value.problems


def stored(database_url: str) -> list[tuple[int, str, str, float]]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        return db.execute(
            "SELECT p.ts, s.service, s.metric, p.value FROM samples p "
            "JOIN series s ON s.id = p.series_id ORDER BY p.ts, s.service"
        ).fetchall()


def marks(database_url: str, namespace: str) -> dict[str, int]:
    keys = [series_key("cpu_percent", service) for service in SERVICES]
    return get_watermarks(open_store(database_url), namespace, keys)


def test_its_section_is_validated_by_its_own_settings_model() -> None:
    settings = steady_config(step_seconds=1800).sources.get("steady")
    assert isinstance(settings, SteadySettings) and settings.step_seconds == 1800
    assert problems(steady_data(step_seconds=5, colour="blue")) == [
        "sources.steady.step_seconds: Input should be greater than or equal to 60",
        "sources.steady.colour: Extra inputs are not permitted",
    ]
    assert problems(steady_data(queries={"cpu_pct": "1"})) == [
        "(top level): Value error, sources.steady.queries.cpu_pct: unknown metric"
    ]


def test_an_unregistered_section_is_refused_naming_the_registered_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(REGISTRY, "steady")
    assert problems(steady_data()) == [
        "sources.steady: unknown source; valid sources: 'prometheus'"
    ]
    with pytest.raises(UnknownSourceError, match="valid sources: 'prometheus'") as caught:
        find("steady")
    assert caught.value.exit_code == 2


def test_the_scheduled_ingest_stores_its_samples_and_resumes_from_the_watermarks(
    database_url: str,
) -> None:
    config = steady_config()
    engine = open_store(database_url)
    status, outputs = run_ingest(engine, config, UNTIL)
    # The first pull reaches back over the raw retention, one sample an hour and service.
    instants = config.storage.raw_retention_days * 24 + 1
    assert status == "succeeded", outputs
    assert outputs["summaries"] == [
        f"steady cpu_percent: {2 * instants:,} rows read, {2 * instants:,} inserted, "
        "0 updated, 0 unchanged, 0 rejected"
    ]
    rows = stored(database_url)
    assert len(rows) == 2 * instants
    assert {(service, metric, value) for _, service, metric, value in rows} == {
        (service, "cpu_percent", 41.5) for service in SERVICES
    }
    newest = int(UNTIL.timestamp())
    assert rows[-1][0] == newest
    assert marks(database_url, "steady") == {
        series_key("cpu_percent", service): newest for service in SERVICES
    }

    status, outputs = run_ingest(engine, config, UNTIL + 3 * HOUR)
    assert status == "succeeded", outputs
    # One step after the marks: only the three new hours are asked for and stored.
    assert SteadySource.asked[-1] == ("cpu_percent", UNTIL + HOUR, UNTIL + 3 * HOUR)
    assert outputs["summaries"][0].startswith("steady cpu_percent: 6 rows read, 6 inserted")
    assert [row[:2] for row in stored(database_url)[-2:]] == [
        (newest + 3 * 3600, service) for service in SERVICES
    ]
    assert set(marks(database_url, "steady").values()) == {newest + 3 * 3600}


def test_backfill_pulls_it_with_its_own_watermarks(
    capplan: Capplan, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "steady.yaml"
    path.write_text(yaml.safe_dump(steady_data()))
    result = capplan("backfill", "--from", "2026-10-01", "--to", "2026-10-03", config=path)
    assert "steady cpu_percent: 98 rows read, 98 inserted" in result.output
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC)
    assert set(marks(database_url, backfill_source("steady", start, end)).values()) == {
        int(end.timestamp())
    }
