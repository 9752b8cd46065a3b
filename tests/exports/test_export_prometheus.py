"""capplan export prometheus: gauges promtool accepts, pushed and scraped back for real."""

from __future__ import annotations

import math
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from jobs.store import open_store
from tests.conftest import Capplan
from tests.servers.prometheus import FaultServer, _require
from tests.servers.pushgateway import PushgatewayStack

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
HOSTILE = 'back"end\\\n{evil="1"}'


def store_runway(database_url: str, service: str = "backend") -> None:
    """One stored forecast run, written as ``capplan forecast`` stores it."""
    tables = SQLModel.metadata.tables
    engine = open_store(database_url)
    with engine.begin() as connection:
        series_id = connection.execute(
            tables["series"]
            .insert()
            .values(service=service, metric="cpu_percent", labels="{}", unit="%")
        ).inserted_primary_key[0]  # type: ignore[index]
        run_id = connection.execute(
            tables["forecast_runs"]
            .insert()
            .values(
                as_of=int(AS_OF.timestamp()), created_at=int(AS_OF.timestamp()), config_hash="x"
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        rows = [
            ("warning", "moderate", 70.0, 10, "2026-09-09", "2026-08-01", "2026-10-30", 100),
            ("critical", "moderate", 85.0, 5, None, None, None, None),
        ]
        connection.execute(
            tables["forecast_crossings"].insert(),
            [
                {
                    "run_id": run_id,
                    "series_id": series_id,
                    "level": level,
                    "scenario": scenario,
                    "threshold": threshold,
                    "duration_minutes": minutes,
                    "expected": expected,
                    "earliest": earliest,
                    "latest": latest,
                    "runway_days": runway,
                    "already_exceeded": 0,
                }
                for level, scenario, threshold, minutes, expected, earliest, latest, runway in rows
            ],
        )


#: promtool's linter prefers base units; runway is kept in days on purpose (alerts and
#: dashboards read "runway < 90 days"). Any other finding, or a parse error, fails.
KNOWN_LINT = 'capplan_runway_days use base unit "seconds" instead of "days"'


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    checked = subprocess.run(
        [_require("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    findings = [line for line in (checked.stdout + checked.stderr).splitlines() if line.strip()]
    if checked.returncode == 3 and findings == [KNOWN_LINT]:  # 3: lint findings only
        return subprocess.CompletedProcess(checked.args, 0, "", "")
    return checked


def parse(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_textfile_is_written_atomically_and_accepted_by_promtool(
    capplan: Capplan, database_url: str, tmp_path: Path
) -> None:
    store_runway(database_url)
    out = tmp_path / "textfile" / "capplan.prom"
    out.parent.mkdir()
    result = capplan("export", "prometheus", "--out", str(out))
    assert f"wrote {out}" in result.output
    text = out.read_text()
    checked = promtool_check(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert [p.name for p in out.parent.iterdir()] == ["capplan.prom"]  # no temp file left
    values = parse(text)
    key = 'service="backend",metric="cpu_percent",level="warning",scenario="moderate"'
    assert values[f"capplan_runway_days{{{key}}}"] == 100
    expected = datetime(2026, 9, 9, tzinfo=UTC).timestamp()
    bound = f'capplan_threshold_crossing_timestamp_seconds{{{key},bound="expected"}}'
    assert values[bound] == expected
    never = 'service="backend",metric="cpu_percent",level="critical",scenario="moderate"'
    assert math.isinf(values[f"capplan_runway_days{{{never}}}"])
    assert values["capplan_forecast_timestamp_seconds"] == AS_OF.timestamp()
    # No usage stored: the recommendation gauges are left out, and the operator is told.
    assert "capplan_recommended_cpu_cores" not in text
    assert "no recommendation gauges" in result.output


def test_hostile_labels_are_escaped(capplan: Capplan, database_url: str) -> None:
    store_runway(database_url, service=HOSTILE)
    text = capplan("export", "prometheus").stdout
    checked = promtool_check(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert 'service="back\\"end\\\\\\n{evil=\\"1\\"}"' in text
    assert 'evil="1"}' not in text.replace('\\"', "")


def test_without_a_stored_forecast_it_says_what_to_run(capplan: Capplan, tmp_path: Path) -> None:
    out = tmp_path / "capplan.prom"
    result = capplan("export", "prometheus", "--out", str(out), expect=2)
    assert "run `capplan forecast` first" in result.output
    assert not out.exists()


def test_push_is_scraped_back_by_prometheus(
    capplan: Capplan, database_url: str, pushgateway_stack: PushgatewayStack
) -> None:
    store_runway(database_url)
    capplan("export", "prometheus", "--push", pushgateway_stack.push_url)
    found = pushgateway_stack.wait_for(
        'capplan_runway_days{service="backend",level="warning",scenario="moderate"}'
    )
    assert [float(r["value"][1]) for r in found] == [100.0]
    assert found[0]["metric"]["job"] == "capplan"


def test_unreachable_pushgateway_fails_cleanly(
    capplan: Capplan, database_url: str, closed_port_url: str
) -> None:
    store_runway(database_url)
    result = capplan("export", "prometheus", "--push", closed_port_url, expect=1)
    assert "unreachable after 3 attempt(s)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("status", [400])
def test_a_refused_push_is_not_retried(
    capplan: Capplan, database_url: str, fault_server: FaultServer, status: int
) -> None:
    from tests.servers.prometheus import Respond

    fault_server.script(Respond(status, "bad metrics"))
    store_runway(database_url)
    result = capplan("export", "prometheus", "--push", fault_server.base_url, expect=1)
    assert f"HTTP {status}" in result.output
    assert len(fault_server.requests) == 1


def test_the_scheduled_forecast_exports_its_runway(
    database_url: str, tmp_path: Path, pushgateway_stack: PushgatewayStack
) -> None:
    """run-due's forecast job writes the textfile and pushes, with ``publish.prometheus``."""
    import numpy as np
    import pandas as pd

    from jobs.config import load_config
    from jobs.ingest import store_frame
    from jobs.schedule.run_due import run_forecast
    from tests.conftest import repo_path

    textfile = tmp_path / "textfile" / "capplan.prom"
    textfile.parent.mkdir()
    text = repo_path("examples", "runbook.yaml").read_text()
    text += (
        "\npublish:\n  prometheus:\n"
        f"    textfile: {textfile}\n"
        f"    pushgateway_url: {pushgateway_stack.push_url}\n"
        "    job: capplan_scheduled\n"
    )
    config_path = tmp_path / "capplan.yaml"
    config_path.write_text(text)
    config = load_config(config_path)

    index = pd.date_range(AS_OF - pd.Timedelta(days=60), AS_OF, freq="1h", inclusive="left")
    days = np.arange(len(index)) / 24
    values = 50 + 0.2 * days + np.random.default_rng(5).normal(0, 1.0, len(index))
    frame = pd.DataFrame(
        {"timestamp": index, "service": "api", "metric": "cpu_percent", "value": values}
    )
    config = config.model_copy(update={"services": {"api": config.services["backend"]}})
    engine = open_store(database_url)
    store_frame(engine, config, frame)

    status, outputs = run_forecast(engine, config, AS_OF)
    assert status == "succeeded"
    assert outputs["prometheus"] == (f"wrote {textfile}; pushed to {pushgateway_stack.push_url}"), (
        outputs
    )
    written = parse(textfile.read_text())
    key = 'service="api",metric="cpu_percent",level="warning",scenario="moderate"'
    assert f"capplan_runway_days{{{key}}}" in written
    found = pushgateway_stack.wait_for(
        'capplan_runway_days{job="capplan_scheduled",service="api",level="warning",'
        'scenario="moderate"}'
    )
    assert [float(r["value"][1]) for r in found] == [written[f"capplan_runway_days{{{key}}}"]]
