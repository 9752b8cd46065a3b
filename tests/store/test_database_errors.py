"""A database error inside a scheduled job: its SQL and parameters stay out of logs and ledger."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from jobs.config import Config
from jobs.schedule.run_due import Outcome, Runners, run_due
from jobs.store import ledger, open_store

NOW = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
PARAMETER = "Secret-Param-42"


def failing_ingest(engine: Engine, config: Config, moment: datetime) -> Outcome:
    with engine.connect() as connection:
        connection.execute(text("SELECT :p AS v FROM no_such_table"), {"p": PARAMETER})
    raise AssertionError("unreachable")


def test_database_error_in_run_due_is_one_line_without_sql(
    database_url: str, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_store(database_url)
    caplog.set_level(logging.DEBUG)
    report = run_due(engine, config, now=NOW, env={}, runners=Runners(ingest=failing_ingest))
    [failed] = [o for o in report.outcomes if o.job == "ingest"]
    assert failed.status == "failed"
    assert failed.message == "database error: no such table: no_such_table"
    [run] = ledger.runs(engine, "ingest")
    assert (run.status, run.error) == (ledger.FAILED, failed.message)
    for text_seen in (caplog.text, str(run.error)):
        assert PARAMETER not in text_seen and "SELECT" not in text_seen
        assert "Traceback" not in text_seen
    engine.dispose()
