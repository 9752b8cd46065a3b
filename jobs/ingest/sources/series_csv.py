"""One series from any CSV: a timestamp column and a value column.

Used by the ad-hoc ``capplan forecast --csv`` and ``capplan backtest --csv``.
Real exports come with old Mac line endings, rows out of order, integer dates
(YYYYMMDD) and missing values (empty, nan, null): all are accepted; what cannot be read is named.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from jobs.errors import InputFileError, shown

Aggregate = Literal["none", "daily-max", "daily-mean", "weekly-mean"]
MISSING = ("", "nan", "null")
AGGREGATES: tuple[Aggregate, ...] = ("none", "daily-max", "daily-mean", "weekly-mean")


def _timestamps(column: pd.Series) -> pd.Series:
    text = column.astype(str).str.strip()
    if text.str.fullmatch(r"\d{8}").all():
        return pd.to_datetime(text, format="%Y%m%d", utc=True, errors="coerce")
    try:
        return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    except ValueError:
        return pd.to_datetime(text, format="mixed", utc=True, errors="coerce")


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def read_series_csv(path: Path, timestamp_column: str, value_column: str) -> pd.Series:
    """Values on a sorted UTC DatetimeIndex; missing values (empty, ``nan``, ``NaN``,
    ``null``) are dropped, bad ones reported."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(str(path), [f"cannot read CSV: {exc}"]) from exc
    header = _header(path)
    twice = [c for c in dict.fromkeys((timestamp_column, value_column)) if header.count(c) > 1]
    if twice:
        # pandas would rename the second one and read only the first, silently.
        raise InputFileError(
            str(path), [f"line 1: column {shown(c)} appears {header.count(c)} times" for c in twice]
        )
    missing = [c for c in (timestamp_column, value_column) if c not in table.columns]
    if missing:
        columns = shown(", ".join(map(str, table.columns)), quote=False, limit=200)
        raise InputFileError(
            str(path), [f"line 1: no column {shown(c)} (columns: {columns})" for c in missing]
        )
    lines = np.arange(2, len(table) + 2)
    stamps = _timestamps(table[timestamp_column])
    raw = table[value_column].str.strip()
    # Exports write a missing value as an empty cell or as pandas/JSON spell it.
    empty = raw.str.lower().isin(MISSING).to_numpy()
    values = pd.to_numeric(raw.where(~empty, "nan"), errors="coerce").to_numpy(dtype=np.float64)
    problems = [
        f"line {line}: timestamp {shown(text)} is not a date or date-time"
        for line, text, bad in zip(lines, table[timestamp_column], stamps.isna(), strict=True)
        if bad
    ]
    problems += [
        f"line {line}: value {shown(text)} is not a number"
        for line, text, nan, blank in zip(lines, raw, np.isnan(values), empty, strict=True)
        if nan and not blank
    ]
    if problems:
        raise InputFileError(str(path), problems)
    series = pd.Series(values, index=pd.DatetimeIndex(stamps), name=value_column)
    series = series[~np.isnan(values)].sort_index(kind="stable")
    unique: pd.Series = series[~series.index.duplicated(keep="last")]
    return unique


def aggregate(series: pd.Series, how: Aggregate) -> pd.Series:
    if how == "none":
        return series
    if how == "weekly-mean":
        # Weeks start on Monday 00:00 UTC and are labelled by that Monday, so a
        # crossing is dated by the week it happens in, not by the week's end.
        weekly: pd.Series = series.resample("W-MON", label="left", closed="left").mean()
        return weekly.dropna()
    rule, reducer = {"daily-max": ("1D", "max"), "daily-mean": ("1D", "mean")}[how]
    resampled: pd.Series = series.resample(rule).agg(reducer)
    return resampled.dropna()
