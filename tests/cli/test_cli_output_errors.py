"""Output paths and years a user can get wrong: exit 2 and one line, before any work."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import Capplan


def one_line(result_stderr: str) -> str:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    return lines[0]


def test_budget_into_a_missing_folder(capplan: Capplan, tmp_path: Path) -> None:
    result = capplan(
        "budget", "--year", str(dt.date.today().year + 1), "--out", "missing/dir/b.csv", expect=2
    )
    assert one_line(result.stderr) == (
        "Error: --out missing/dir/b.csv: folder missing/dir does not exist"
    )
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_budget_onto_a_full_device(capplan: Capplan, fmt: str) -> None:
    year = str(dt.date.today().year + 1)
    result = capplan("budget", "--year", year, "--format", fmt, "--out", "/dev/full", expect=2)
    assert one_line(result.stderr) == "Error: cannot write --out /dev/full: No space left on device"


@pytest.mark.parametrize("year", ["99999", "10000", "2100"])
def test_budget_year_beyond_the_planning_horizon(capplan: Capplan, year: str) -> None:
    last = dt.date.today().year + 3
    result = capplan("budget", "--year", year, expect=2)
    assert one_line(result.stderr) == (
        f"Error: year: {year} is beyond the planning horizon of 3 years "
        f"(forecast.horizon_years): budget a year up to {last}"
    )
    assert result.stdout == ""


def test_budget_of_the_last_year_in_the_horizon(capplan: Capplan) -> None:
    year = dt.date.today().year + 3
    assert f"{year},conservative" in capplan("budget", "--year", str(year)).stdout


def test_a_failed_budget_writes_nothing(capplan: Capplan, tmp_path: Path) -> None:
    capplan("budget", "--year", "99999", "--format", "xlsx", "--out", "b.xlsx", expect=2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", ["a-file", "a-file/sub"])
def test_report_out_that_is_not_a_folder_is_refused_before_rendering(
    capplan: Capplan, tmp_path: Path, out: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    # The store is empty: rendering would fail with "no stored series", so the
    # --out error proves the folder was checked first.
    result = capplan("report", "monthly", "--period", "2026-01", "--out", out, expect=2)
    assert one_line(result.stderr) == f"Error: --out {out}: a-file is not a folder"
    assert result.stdout == ""
