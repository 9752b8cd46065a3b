"""capplan ingest --csv: validation, idempotence, conversion, nothing lost on bad input."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import Capplan

HEADER = "timestamp,service,metric,value\n"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def rows(database_url: str) -> list[tuple[str, str, int, float]]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        return db.execute(
            "SELECT s.service, s.metric, p.ts, p.value FROM samples p "
            "JOIN series s ON s.id = p.series_id ORDER BY 1, 2, 3"
        ).fetchall()


GOOD = (
    "2026-01-01T00:10:00Z,backend,cpu_percent,42\n"
    "2026-01-01T00:00:00Z,backend,cpu_percent,40\n"  # unsorted on purpose
    "2026-01-01T00:05:00Z,backend,cpu_percent,41.5\n"
    "2026-01-01T00:00:00,frontend,memory_percent,35\n"  # naive = UTC
)


def test_ingest_is_idempotent(capplan: Capplan, tmp_path: Path, database_url: str) -> None:
    # Naive and Z timestamps are both UTC; mixing them is allowed explicitly here.
    path = write(tmp_path, "good.csv", GOOD)
    first = capplan("ingest", "--csv", str(path), "--allow-mixed-offsets")
    assert "4 rows read, 4 inserted, 0 updated, 0 unchanged, 0 rejected" in first.output
    stored = rows(database_url)
    second = capplan("ingest", "--csv", str(path), "--allow-mixed-offsets")
    assert "4 rows read, 0 inserted, 0 updated, 4 unchanged, 0 rejected" in second.output
    assert rows(database_url) == stored
    assert stored[0] == ("backend", "cpu_percent", 1767225600, 40.0)
    assert len(stored) == 4


def test_changed_value_counts_as_update(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    capplan(
        "ingest", str(write(tmp_path, "a.csv", "2026-01-01T00:00:00Z,backend,cpu_percent,40\n"))
    )
    out = capplan(
        "ingest",
        str(
            write(
                tmp_path,
                "b.csv",
                "2026-01-01T00:00:00Z,backend,cpu_percent,45\n"
                "2026-01-01T00:05:00Z,backend,cpu_percent,46\n",
            )
        ),
    )
    assert "1 inserted, 1 updated, 0 unchanged" in out.output
    assert [r[3] for r in rows(database_url)] == [45.0, 46.0]


BAD = (
    "2026-01-01T00:00:00Z,backend,cpu_percent,40\n"  # line 2 ok
    "yesterday,backend,cpu_percent,40\n"  # line 3 timestamp
    "2026-01-01T00:05:00Z,unicorn,cpu_percent,40\n"  # line 4 service
    "2026-01-01T00:05:00Z,backend,gpu_percent,40\n"  # line 5 metric
    "2026-01-01T00:10:00Z,backend,cpu_percent,NaN\n"  # line 6 NaN
    "2026-01-01T00:15:00Z,backend,cpu_percent,-3\n"  # line 7 negative
    "2026-01-01T00:20:00Z,backend,cpu_percent,abc\n"  # line 8 non-numeric
    "2026-01-01T00:25:00Z,backend,cpu_percent,40\n"  # line 9 duplicate ...
    "2026-01-01T00:25:00Z,backend,cpu_percent,41\n"  # line 10 ... with another value
    "2026-01-01T00:30:00Z,backend,cpu_percent,40\n"  # line 11 ok
)


def test_bad_file_reports_every_problem_and_stores_nothing(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    capplan(
        "ingest", str(write(tmp_path, "old.csv", "2025-12-31T00:00:00Z,backend,cpu_percent,7\n"))
    )
    before = rows(database_url)
    path = write(tmp_path, "bad.csv", BAD)
    result = capplan("ingest", "--csv", str(path), expect=2)
    out = result.output
    assert str(path) in out and "nothing from this file was stored" in out
    for line, text in [
        (3, "not ISO 8601"),
        (4, "unknown service 'unicorn'"),
        (5, "unknown metric 'gpu_percent'"),
        (6, "'NaN' is not a finite number"),
        (7, "is negative"),
        (8, "'abc' is not a finite number"),
        (9, "duplicate timestamp"),
        (10, "first seen on line 9"),
    ]:
        assert f"line {line}: " in out and text in out, (line, text, out)
    assert "line 2:" not in out and "line 11:" not in out
    assert "Traceback" not in out
    assert rows(database_url) == before


def test_skip_invalid_stores_the_valid_rows(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    result = capplan("ingest", "--skip-invalid", str(write(tmp_path, "bad.csv", BAD)))
    assert "10 rows read, 2 inserted" in result.output and "8 rejected" in result.output
    assert [r[3] for r in rows(database_url)] == [40.0, 40.0]


def test_only_the_first_twenty_problems_are_listed(capplan: Capplan, tmp_path: Path) -> None:
    body = "".join(f"2026-01-01T00:{i:02d}:00Z,backend,cpu_percent,-1\n" for i in range(45))
    out = capplan("ingest", str(write(tmp_path, "neg.csv", body)), expect=2).output
    assert "line 21:" in out and "line 22:" not in out
    assert "... and 25 more problem(s)" in out


def test_malformed_rows_are_reported_by_line(capplan: Capplan, tmp_path: Path) -> None:
    body = (
        "2026-01-01T00:00:00Z,backend,cpu_percent,40\n"
        "2026-01-01T00:05:00Z,backend,cpu_percent,40,extra\n"
        "2026-01-01T00:10:00Z,backend\n"
    )
    out = capplan("ingest", str(write(tmp_path, "m.csv", body)), expect=2).output
    assert "line 3: expected 4 fields" in out
    assert "line 4:" in out


def test_wrong_header_is_reported(capplan: Capplan, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("time,svc,value\n2026-01-01,backend,1\n")
    out = capplan("ingest", "--skip-invalid", str(path), expect=2).output
    assert "line 1: header must name the columns timestamp,service,metric,value" in out


def test_mixed_offsets_are_rejected_unless_allowed(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    # A US DST change: local time written with its offset, which changes mid-file.
    body = (
        "2026-03-08T01:55:00-05:00,backend,cpu_percent,40\n"
        "2026-03-08T03:00:00-04:00,backend,cpu_percent,41\n"
        "2026-03-08T03:05:00-04:00,backend,cpu_percent,42\n"
    )
    path = write(tmp_path, "dst.csv", body)
    out = capplan("ingest", str(path), expect=2).output
    assert "line 2: timestamp offset -05:00 differs" in out
    capplan("ingest", "--allow-mixed-offsets", str(path))
    stamps = [r[2] for r in rows(database_url)]
    # 01:55 EST = 06:55 UTC, 03:00 EDT = 07:00 UTC: five minutes apart, in UTC.
    assert [b - a for a, b in itertools.pairwise(stamps)] == [300, 300]


def test_absolute_usage_becomes_percent_of_allocation(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    # backend: 2 cores x 2 replicas = 4 cores; 4 GB x 2 = 8 GiB.
    body = (
        "2026-01-01T00:00:00Z,backend,cpu_cores,1.0\n"
        f"2026-01-01T00:00:00Z,backend,memory_bytes,{2 * 2**30}\n"
        f"2026-01-01T00:00:00Z,postgres,disk_bytes,{50 * 2**30}\n"
    )
    capplan("ingest", str(write(tmp_path, "abs.csv", body)))
    stored = {(r[0], r[1]): r[3] for r in rows(database_url)}
    assert stored == {
        ("backend", "cpu_percent"): pytest.approx(25.0),
        ("backend", "memory_percent"): pytest.approx(25.0),
        ("postgres", "disk_percent"): pytest.approx(25.0),
    }


def test_empty_file_is_a_clear_error(capplan: Capplan, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    out = capplan("ingest", str(path), expect=2).output
    assert "empty.csv" in out and "empty" in out


def test_ingest_without_sources_is_a_usage_error(capplan: Capplan) -> None:
    assert "give --csv" in capplan("ingest", expect=2).output


def test_ledger_records_failed_and_succeeded_runs(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    capplan("ingest", str(write(tmp_path, "bad.csv", BAD)), expect=2)
    capplan("ingest", str(write(tmp_path, "ok.csv", GOOD)), "--allow-mixed-offsets")
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        runs = db.execute(
            "SELECT job, status, error IS NOT NULL FROM job_runs ORDER BY id"
        ).fetchall()
    assert runs == [("ingest", "failed", 1), ("ingest", "succeeded", 0)]


def test_values_in_one_second_are_refused_naming_both_lines(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    # Samples are stored per whole second: .1 s and .9 s would become one row.
    body = (
        "2026-01-01T00:00:00.1Z,backend,cpu_percent,10\n"
        "2026-01-01T00:00:00.9Z,backend,cpu_percent,90\n"
        "2026-01-01T00:05:00.5Z,backend,cpu_percent,30\n"
    )
    out = capplan("ingest", str(write(tmp_path, "sub.csv", body)), expect=2).output
    assert "line 2: a different value in the same second (again on line 3)" in out
    assert "line 3: a different value in the same second (first seen on line 2)" in out
    assert "line 4:" not in out
    assert rows(database_url) == []


def test_a_lone_sub_second_timestamp_is_stored_at_its_second(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    capplan(
        "ingest", str(write(tmp_path, "s.csv", "2026-01-01T00:05:00.5Z,backend,cpu_percent,3\n"))
    )
    assert rows(database_url) == [("backend", "cpu_percent", 1767225900, 3.0)]


def stored_anything(database_url: str) -> tuple[int, int, int]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        return tuple(
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("samples", "rollups", "allocations")
        )


def test_timestamps_before_1970_or_in_the_future_are_refused_before_any_write(
    capplan: Capplan, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.cli import ingest as ingest_command

    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(ingest_command, "now_utc", lambda: now)
    body = (
        "2026-06-01T12:05:00Z,backend,cpu_percent,40\n"  # within the clock tolerance
        "0001-01-01T00:00:00Z,backend,cpu_percent,41\n"
        "9999-01-01T00:00:00Z,backend,cpu_percent,42\n"
        "1969-12-31T23:59:59Z,backend,cpu_percent,43\n"
        "2026-06-01T13:00:00Z,backend,cpu_percent,44\n"  # an hour ahead: a wrong offset
    )
    out = capplan("ingest", str(write(tmp_path, "span.csv", body)), expect=2).output
    assert "line 2:" not in out
    assert "line 3: timestamp '0001-01-01T00:00:00Z' is before 1970" in out
    assert "line 4: timestamp '9999-01-01T00:00:00Z' is in the future" in out
    assert "line 5: timestamp '1969-12-31T23:59:59Z' is before 1970" in out
    assert "line 6: timestamp '2026-06-01T13:00:00Z' is in the future" in out
    assert stored_anything(database_url) == (0, 0, 0)
    # --skip-invalid stores only the valid row, with its rollups.
    capplan("ingest", "--skip-invalid", str(tmp_path / "span.csv"))
    assert [r[3] for r in rows(database_url)] == [40.0]


def test_values_beyond_the_metric_range_are_refused_naming_the_line(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    body = (
        "2026-01-01T00:00:00Z,backend,cpu_percent,100\n"  # the bound itself is fine
        "2026-01-01T00:05:00Z,backend,cpu_percent,5000\n"
        "2026-01-01T00:00:00Z,backend,requests_per_second,1e308\n"
        "2026-01-01T00:00:00Z,frontend,cpu_cores,1000\n"  # frontend: 1 core x 2 replicas
    )
    out = capplan("ingest", str(write(tmp_path, "range.csv", body)), expect=2).output
    assert "line 2:" not in out
    assert "line 3: value 5000 is above cpu_percent's upper bound 100" in out
    assert "line 4: value '1e308' is above 1e+18" in out
    assert "line 5: cpu_cores 1000 is 50,000 % of the allocation in force" in out
    assert rows(database_url) == []


def test_a_field_over_the_csv_size_limit_is_one_clear_line(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    body = (
        "2026-01-01T00:00:00Z,backend,cpu_percent,40\n"
        "2026-01-01T00:05:00Z,backend,cpu_percent,41,extra\n"
        f'2026-01-01T00:10:00Z,backend,cpu_percent,"{"9" * 200_000}"\n'
        "2026-01-01T00:15:00Z,backend,cpu_percent,42\n"
    )
    path = write(tmp_path, "wide.csv", body)
    out = capplan("ingest", str(path), expect=2).output
    assert "line 3: expected 4 fields, got 5" in out
    assert "line 4: cannot read the row (field larger than field limit" in out
    assert len(out) < 1000
    # What follows the unreadable row was never checked: --skip-invalid cannot store around it.
    capplan("ingest", "--skip-invalid", str(path), expect=2)
    assert rows(database_url) == []


def test_a_short_row_names_its_field_count(capplan: Capplan, tmp_path: Path) -> None:
    body = "2026-01-01T00:00:00Z,backend,cpu_percent,40\n2026-01-01T00:05:00Z,backend,cpu_percent\n"
    out = capplan("ingest", str(write(tmp_path, "short.csv", body)), expect=2).output
    assert "line 3: expected 4 fields, got 3" in out
    # A long first row and a short one add up to the right number of separators.
    body = (
        "2026-01-01T00:00:00Z,backend,cpu_percent,40,4\n2026-01-01T00:05:00Z,backend,cpu_percent\n"
    )
    out = capplan("ingest", str(write(tmp_path, "even.csv", body)), expect=2).output
    assert "line 2: expected 4 fields, got 5" in out and "line 3: expected 4 fields, got 3" in out


def test_a_row_without_service_and_timestamp_is_reported_not_dropped(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    body = "2026-01-01T00:00:00Z,backend,cpu_percent,40\n,,cpu_percent,\n\n,,,\n"
    out = capplan("ingest", str(write(tmp_path, "holes.csv", body)), expect=2).output
    assert "line 3: timestamp is empty" in out
    # Empty lines and rows of empty fields hold nothing to lose.
    assert "line 4:" not in out and "line 5:" not in out
    assert rows(database_url) == []


def test_a_column_given_twice_is_refused(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "two.csv"
    path.write_text("timestamp,service,metric,value,value\n2026-01-01,backend,cpu_percent,5,6\n")
    out = capplan("ingest", "--skip-invalid", str(path), expect=2).output
    assert "line 1: column 'value' appears 2 times in the header" in out
    assert rows(database_url) == []


def test_a_huge_name_is_shortened_in_the_message(capplan: Capplan, tmp_path: Path) -> None:
    name = "x" * 10_000_000
    body = f"2026-01-01T00:00:00Z,{name},cpu_percent,5\n2026-01-01T00:00:00Z,backend,{name},5\n"
    out = capplan("ingest", str(write(tmp_path, "long.csv", body)), expect=2).output
    assert "line 2: unknown service 'xxxx" in out and "(10,000,000 characters)" in out
    assert "line 3: unknown metric 'xxxx" in out
    assert len(out) < 1000


def test_one_bad_file_stores_nothing_from_the_others(
    capplan: Capplan, tmp_path: Path, database_url: str
) -> None:
    good = write(tmp_path, "good.csv", "2026-01-01T00:00:00Z,backend,cpu_percent,40\n")
    bad = write(tmp_path, "bad.csv", "2026-01-01T00:00:00Z,unicorn,cpu_percent,40\n")
    out = capplan("ingest", str(good), str(bad), expect=2).output
    assert "bad.csv" in out and "line 2: unknown service" in out
    assert stored_anything(database_url) == (0, 0, 0)
