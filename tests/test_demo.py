"""capplan demo: the main job end to end on the embedded default, no server needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from jobs.cli import cli
from tests.report_support import pdfinfo, pdftotext

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow


def test_demo_runs_every_stage_into_a_local_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["demo", "--out", str(out), "--days", "45", "--end", "2026-11-01"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "rows read" in text and "0 rejected" in text
    assert "backend      cpu_percent" in text  # runway table
    assert "right-sizing as of 2026-11-01" in text
    assert "frontend     memory" in text and "decrease" in text
    assert (out / "demo.db").is_file()
    budget = load_workbook(out / "capacity-budget-2027.xlsx")
    assert "Summary" in budget.sheetnames
    assert (out / "capacity-budget-2027.csv").read_text().startswith("year,scenario")
    # The three review PDFs it promises, and the apply-ready files beside them.
    pdfs = sorted(p.name for p in out.glob("*.pdf"))
    assert pdfs == [
        "capacity-annual-2025.pdf",
        "capacity-monthly-2026-10.pdf",
        "capacity-quarterly-2026-Q3.pdf",
    ], pdfs
    # Each is a real PDF poppler reads back: its title, and its period on every page.
    for name, title, label in (
        ("capacity-monthly-2026-10.pdf", "Monthly capacity review – October 2026", "2026-10"),
        (
            "capacity-quarterly-2026-Q3.pdf",
            "Quarterly capacity review – Q3 2026 (July – September)",
            "2026-Q3",
        ),
        ("capacity-annual-2025.pdf", "Annual capacity review – 2025", "2025"),
    ):
        info = pdfinfo(out / name)
        assert info["Title"] == title, name
        assert int(info["Pages"]) > 1, name
        header = title.split(" – ")[0] + f" · {label}"
        assert header in pdftotext(out / name, first=2, last=2), name
    override = yaml.safe_load((out / "docker-compose.capplan.yml").read_text())
    assert "frontend" in override["services"]
    metrics = (out / "capplan.prom").read_text()
    assert 'capplan_runway_days{service="backend",metric="cpu_percent"' in metrics
    rules = yaml.safe_load((out / "capplan-rules.yml").read_text())
    assert [g["name"] for g in rules["groups"]] == ["capplan-runway"]
    assert "Apply-ready: " in text
    # Growth versus projections is filled in from the first report: the demo stored
    # the forecast as of the month's start.
    monthly = pdftotext(out / "capacity-monthly-2026-10.pdf")
    assert "No forecast was stored before this period began" not in monthly
    assert "The forecast stored as of 2026-10-01 00:00 UTC" in monthly
