"""Numbers a person reads are rounded for people; JSON and CSV keep full precision."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from forecasting.planning.costs import Allocation
from forecasting.planning.human import human_number
from forecasting.rightsizing.recommendation import Recommendation
from forecasting.rightsizing.replicas_storage import rightsize_database_storage
from jobs.planning import render_recommendations
from tests.runbook_settings import CAPACITY, PRICES


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (493.259, "493"),
        (0.739888, "0.74"),
        (1125.0, "1,125"),
        (12.345, "12.3"),
        (2.0, "2"),
        (-0.0001, "0"),
    ],
)
def test_human_number(value: float, text: str) -> None:
    assert human_number(value) == text


def storage_recommendation() -> Recommendation:
    return rightsize_database_storage(
        "postgres",
        493.259,
        Allocation(cores=2, memory_gb=4, storage_gb=0.5),
        PRICES,
        CAPACITY,
    )


def test_reasons_read_as_people_write() -> None:
    rec = storage_recommendation()
    reason = rec.reason
    assert "493 agents" in reason and "0.74 GB of storage" in reason
    assert "493.259" not in reason and "0.739888" not in reason


def test_table_is_rounded_json_and_csv_keep_full_precision() -> None:
    rec = storage_recommendation()
    as_of = pd.Timestamp("2026-06-01", tz="UTC").to_pydatetime()
    table = render_recommendations([rec], as_of, "table")
    assert "0.739888" not in table
    payload = json.loads(render_recommendations([rec], as_of, "json"))
    rows = list(csv.DictReader(io.StringIO(render_recommendations([rec], as_of, "csv"))))
    assert payload["recommendations"][0]["current"] == 0.5
    assert float(rows[0]["recommended"]) == payload["recommendations"][0]["recommended"]
