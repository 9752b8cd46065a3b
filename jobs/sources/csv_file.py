"""Long-format CSV source: ``timestamp,service,metric,value``.

The whole file is checked before anything is stored; every problem carries its
line number (the header is line 1).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("timestamp", "service", "metric", "value")
_OFFSET = re.compile(r"(Z|z|[+-]\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ParsedCsv:
    """Valid rows (timestamp UTC, service, metric, value, line) and the problems found."""

    path: str
    rows_read: int
    frame: pd.DataFrame
    problems: tuple[Problem, ...]


def _read_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.ParserError:
        # The fast parser stops at the first row with extra fields; the csv module
        # reads the rest so every malformed row can be reported at once.
        return _read_table_slowly(path)
    table.index = np.arange(2, len(table) + 2)
    return table


def _read_table_slowly(path: Path) -> pd.DataFrame:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        width = len(header)
        records, lines = [], []
        for line, record in enumerate(reader, start=2):
            if len(record) != width and any(record):
                record = [*record[:width], *([""] * (width - len(record)))]
                record.append("\x00malformed")
            records.append(record[: width + 1])
            lines.append(line)
    columns = [*header, "__malformed__"]
    padded = [r + [""] * (len(columns) - len(r)) for r in records]
    return pd.DataFrame(padded, columns=columns, index=lines)


def parse_samples_csv(
    path: Path,
    *,
    services: Collection[str],
    metrics: Collection[str],
    allow_mixed_offsets: bool = False,
) -> ParsedCsv:
    """Reads and validates one file; never raises for row-level problems."""
    try:
        table = _read_table(path)
    except (OSError, UnicodeDecodeError) as exc:
        return ParsedCsv(str(path), 0, _empty(), (Problem(1, f"cannot read file: {exc}"),))
    except pd.errors.EmptyDataError:
        return ParsedCsv(str(path), 0, _empty(), (Problem(1, "file is empty, expected a header"),))
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        found = ",".join(str(c) for c in table.columns if c != "__malformed__")
        message = (
            f"header must name the columns {','.join(REQUIRED_COLUMNS)}; "
            f"missing {', '.join(missing)} (found {found})"
        )
        return ParsedCsv(str(path), len(table), _empty(), (Problem(1, message),))

    blank = (table["timestamp"] == "") & (table["service"] == "") & (table["value"] == "")
    if blank.any():
        table = table[~blank]
    problems: list[Problem] = []
    bad = np.zeros(len(table), dtype=bool)
    lines = table.index.to_numpy()

    def flag(mask: np.ndarray, describe: Callable[[np.ndarray], list[str]]) -> None:
        # Messages are built only for the flagged rows: a clean million-row file
        # must not pay for a million strings.
        nonlocal bad
        new = mask & ~bad
        if new.any():
            positions = np.flatnonzero(new)
            for position, message in zip(positions, describe(positions), strict=True):
                problems.append(Problem(int(lines[position]), message))
        bad = bad | mask

    if "__malformed__" in table.columns:
        width = len(REQUIRED_COLUMNS)
        flag(
            table["__malformed__"].to_numpy() != "",
            lambda rows: [f"expected {width} fields"] * len(rows),
        )

    raw_ts = table["timestamp"]
    timestamps, offset_of = _parse_timestamps(raw_ts, allow_mixed_offsets)
    ts_missing = timestamps.isna().to_numpy()
    flag(ts_missing, lambda rows: [f"timestamp {raw_ts.iat[r]!r} is not ISO 8601" for r in rows])
    if offset_of is not None:
        usual = offset_of[~bad].value_counts().index[0]
        flag(
            (offset_of != usual).to_numpy() & ~bad,
            lambda rows: [
                f"timestamp offset {offset_of.iat[r]} differs from the file's usual offset {usual} "
                "(use --allow-mixed-offsets to convert each to UTC)"
                for r in rows
            ],
        )

    service = _stripped(table["service"])
    flag(
        ~service.isin(list(services)).to_numpy(),
        lambda rows: [f"unknown service {service.iat[r]!r}" for r in rows],
    )
    metric = _stripped(table["metric"])
    flag(
        ~metric.isin(list(metrics)).to_numpy(),
        lambda rows: [f"unknown metric {metric.iat[r]!r}" for r in rows],
    )

    raw_value = table["value"]
    values = pd.to_numeric(raw_value, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    unparsed = np.isnan(values)
    if unparsed.any():
        values[unparsed] = pd.to_numeric(raw_value[unparsed].str.strip(), errors="coerce")
    flag(
        ~np.isfinite(values),
        lambda rows: [f"value {raw_value.iat[r]!r} is not a finite number" for r in rows],
    )
    with np.errstate(invalid="ignore"):
        flag(values < 0, lambda rows: [f"value {raw_value.iat[r]!r} is negative" for r in rows])

    frame = pd.DataFrame(
        {
            "timestamp": timestamps.array,
            "service": service.to_numpy(),
            "metric": metric.to_numpy(),
            "value": values,
            "line": lines,
        },
    )
    valid = frame[~bad]
    keys = ["service", "metric", "timestamp"]
    duplicated = valid.duplicated(keys, keep=False).to_numpy()
    if duplicated.any():
        dupes = valid[duplicated]
        conflicting = (dupes.groupby(keys)["value"].transform("nunique") > 1).to_numpy()
        first_line = dupes.groupby(keys)["line"].transform("min").to_numpy()
        position_of = {int(p): n for n, p in enumerate(dupes.index)}
        mask = np.zeros(len(frame), dtype=bool)
        mask[dupes.index[conflicting]] = True
        flag(
            mask,
            lambda rows: [
                "duplicate timestamp with a different value "
                f"(first seen on line {first_line[position_of[int(r)]]})"
                for r in rows
            ],
        )
        valid = frame[~bad].drop_duplicates(keys, keep="first")
    problems.sort(key=lambda p: p.line)
    return ParsedCsv(str(path), len(table), valid.reset_index(drop=True), tuple(problems))


def _stripped(column: pd.Series) -> pd.Series:
    """Strips surrounding spaces; done on the few distinct values, not on every row."""
    codes, uniques = pd.factorize(column)
    cleaned = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    return pd.Series(cleaned[codes], index=column.index)


def _parse_timestamps(raw: pd.Series, allow_mixed: bool) -> tuple[pd.Series, pd.Series | None]:
    """UTC timestamps (NaT where unparseable) and, when offsets are mixed, each row's offset.

    A file with one consistent offset (or none: naive is UTC) parses in one
    vectorised call; the per-row offset scan only runs on mixed files.
    """
    try:
        parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        mixed = False
    except ValueError:
        parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=True)
        mixed = True
    if parsed.isna().any():
        # Surrounding spaces are tolerated; only rows that failed pay for stripping.
        retry = parsed.isna()
        again = pd.to_datetime(raw[retry].str.strip(), format="ISO8601", errors="coerce", utc=True)
        parsed = pd.to_datetime(parsed, utc=True)
        parsed[retry] = again
    parsed = parsed.dt.tz_localize("UTC") if parsed.dt.tz is None else parsed.dt.tz_convert("UTC")
    if not mixed or allow_mixed:
        return parsed, None
    offsets = raw.str.strip().str.extract(_OFFSET, expand=False).fillna("naive")
    offsets = offsets.replace({"Z": "+00:00", "z": "+00:00", "+0000": "+00:00", "+00": "+00:00"})
    return parsed, offsets


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
            "service": pd.Series([], dtype=str),
            "metric": pd.Series([], dtype=str),
            "value": pd.Series([], dtype="float64"),
            "line": pd.Series([], dtype="int64"),
        }
    )
