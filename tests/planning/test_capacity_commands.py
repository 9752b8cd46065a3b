from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from click.testing import CliRunner

from forecasting.rightsizing.fleet import BYTES_PER_GB, ServiceUsage
from jobs.cli import cli
from jobs.cli.budget import budget_command
from jobs.cli.context import AppContext
from jobs.cli.plan import plan_command
from jobs.cli.rightsize import make_rightsize_command

RUNBOOK_APP = AppContext(config_path=None, database_url=None, verbose=False)


def test_plan_json_from_the_runbook_config() -> None:
    result = CliRunner().invoke(plan_command, ["--format", "json"], obj=RUNBOOK_APP)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["baseline"] == {"users": 50, "agents": 500, "requests_per_second": 100}
    aggressive = next(s for s in data["scenarios"] if s["name"] == "aggressive")
    year2 = aggressive["years"][1]
    assert year2["database"] == {"storage_gb": 3.0, "memory_gb": 6.0, "max_connections": 300}
    assert year2["redis_memory_gb"] == 1.0
    conservative = next(s for s in data["scenarios"] if s["name"] == "conservative")
    assert conservative["years"][2]["agents"] == 864


def test_budget_xlsx_and_csv_files(tmp_path: Path) -> None:
    year = dt.datetime.now(dt.UTC).year + 1
    runner = CliRunner()
    result = runner.invoke(
        budget_command,
        ["--year", str(year), "--format", "xlsx", "--out", str(tmp_path)],
        obj=RUNBOOK_APP,
    )
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(tmp_path / f"capacity-budget-{year}.xlsx")
    assert wb.sheetnames[0] == "Summary"
    csv_run = runner.invoke(budget_command, ["--year", str(year)], obj=RUNBOOK_APP)
    assert csv_run.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(csv_run.output)))) == 3 * (6 * 4 + 5)


def test_budget_past_year_is_a_clean_error() -> None:
    result = CliRunner().invoke(cli, ["budget", "--year", "2000"])
    assert result.exit_code == 2
    assert "Error: year: 2000 is in the past" in result.output
    assert "Traceback" not in result.output


def test_rightsize_json_with_a_loader() -> None:
    as_of = pd.Timestamp("2026-03-01", tz="UTC")

    def load(app: AppContext, instant: dt.datetime, days: float) -> list[ServiceUsage]:
        index = pd.date_range(as_of - pd.Timedelta(days=days), as_of, freq="1h", tz="UTC")
        rng = np.random.default_rng(1)
        memory = 0.35 * 2 * BYTES_PER_GB * (1 + rng.normal(0, 0.01, len(index)))
        return [ServiceUsage("frontend", memory_bytes=pd.Series(memory, index=index))]

    command = make_rightsize_command(load)
    result = CliRunner().invoke(
        command, ["--as-of", "2026-03-01", "--format", "json"], obj=RUNBOOK_APP
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["as_of"].startswith("2026-03-01")
    [rec] = data["recommendations"]
    assert (rec["service"], rec["resource"], rec["action"]) == ("frontend", "memory", "decrease")
    assert rec["recommended"] <= 1.0
    assert rec["monthly_cost_delta"] < 0
