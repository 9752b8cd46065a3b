"""Long-format CSV source: ``timestamp,service,metric,value``.

The whole file is checked before anything is stored; every problem carries its
line number (the header is line 1).
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.errors import shown

REQUIRED_COLUMNS = ("timestamp", "service", "metric", "value")
# Clocks of the exporting host and this one may differ a little; more is a wrong offset.
FUTURE_TOLERANCE = timedelta(minutes=10)
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
# Far above any real usage (an exabyte), far below where sums and squares overflow.
MAX_VALUE = 1e18
_OFFSET = re.compile(r"(Z|z|[+-]\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    fatal: bool = False  # the file cannot be read past it: --skip-invalid cannot help

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ParsedCsv:
    """Valid rows (timestamp UTC, service, metric, value, line) and the problems found."""

    path: str
    rows_read: int
    frame: pd.DataFrame
    problems: tuple[Problem, ...]


def _read_table(path: Path) -> tuple[pd.DataFrame, list[Problem]]:
    """The table (index: line numbers) and the problems found in its structure.

    Well-formed files (no quotes, every line as wide as the header) are parsed by
    pandas' fast parser. The fast parser pads short rows silently and takes a
    first row with one field too many as an index, so any other file is read
    with the csv module, which sees every row's field count.
    """
    data = path.read_bytes()
    header = _header(data)
    if not header:
        raise pd.errors.EmptyDataError("no header")
    problems = _header_problems(header)
    if b'"' in data or not _every_line_has(data, len(header)):
        return _read_slowly(data, len(header), problems)
    try:
        with warnings.catch_warnings():
            # With index_col=False, a first row with extra fields is a warning and lost data.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.BytesIO(data),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                index_col=False,
                engine="c",
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        return _read_slowly(data, len(header), problems)
    table.index = np.arange(2, len(table) + 2)
    return table, problems


def _header(data: bytes) -> list[str]:
    end = min((i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0), default=len(data))
    first = data[:end].decode("utf-8-sig")
    return next(csv.reader([first]), [])


def _header_problems(header: list[str]) -> list[Problem]:
    names = [name.strip() for name in header]
    twice = sorted({name for name in names if names.count(name) > 1})
    return [
        Problem(
            1,
            f"column {shown(name)} appears {names.count(name)} times in the header; "
            "give each column once",
            fatal=True,
        )
        for name in twice
    ]


def _every_line_has(data: bytes, width: int) -> bool:
    """True when every non-empty line holds ``width - 1`` separators (no quotes assumed)."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    if b"\n\n" not in data and not data.startswith(b"\n"):
        # The usual file, checked at memchr speed: once the first data row is as wide as
        # the header, the fast parser refuses longer rows, so the right total means no
        # row is short either.
        start = data.find(b"\n") + 1
        end = data.find(b"\n", start) if start else -1
        first_row = data[start : end if end >= 0 else len(data)] if start else b""
        first_row_fits = first_row == b"" or first_row.count(b",") == width - 1
        return first_row_fits and data.count(b",") == (width - 1) * lines
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if not len(ends) or ends[-1] != len(raw) - 1:
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.flatnonzero(raw == ord(","))
    per_line = np.searchsorted(commas, ends) - np.searchsorted(commas, starts)
    return bool(np.all((per_line == width - 1) | (ends == starts)))


def _read_slowly(
    data: bytes, width: int, problems: list[Problem]
) -> tuple[pd.DataFrame, list[Problem]]:
    table, more = _read_table_slowly(data, width)
    return table, problems + more


def _read_table_slowly(data: bytes, width: int) -> tuple[pd.DataFrame, list[Problem]]:
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    records: list[list[str]] = []
    lines: list[int] = []
    problems: list[Problem] = []
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The reader cannot resynchronise after this; the rest of the file is unread,
            # so even --skip-invalid must not store the part before it.
            problems.append(
                Problem(line, f"cannot read the row ({exc}); the file was not read further", True)
            )
            break
        if len(record) != width and any(record):
            problems.append(Problem(line, f"expected {width} fields, got {len(record)}"))
            record = []
        records.append([*record[:width], *([""] * (width - len(record)))])
        lines.append(line)
        line = reader.line_num + 1
    table = pd.DataFrame(records, columns=_header(data), index=lines, dtype=object)
    if records:
        table = table.astype(str)
    table["__malformed__"] = np.where(np.isin(lines, [p.line for p in problems]), "x", "")
    return table, problems


def parse_samples_csv(
    path: Path,
    *,
    services: Collection[str],
    metrics: Collection[str],
    allow_mixed_offsets: bool = False,
    now: datetime | None = None,
) -> ParsedCsv:
    """Reads and validates one file; never raises for row-level problems.

    Timestamps after ``now`` (plus FUTURE_TOLERANCE) or before 1970 are refused.
    """
    try:
        table, problems = _read_table(path)
    except (OSError, UnicodeDecodeError) as exc:
        return ParsedCsv(str(path), 0, _empty(), (Problem(1, f"cannot read file: {exc}", True),))
    except pd.errors.EmptyDataError:
        return ParsedCsv(
            str(path), 0, _empty(), (Problem(1, "file is empty, expected a header", True),)
        )
    if problems and problems[0].line == 1:
        return ParsedCsv(str(path), len(table), _empty(), tuple(problems))
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        found = ",".join(shown(str(c), quote=False) for c in table.columns if c != "__malformed__")
        message = (
            f"header must name the columns {','.join(REQUIRED_COLUMNS)}; "
            f"missing {', '.join(missing)} (found {shown(found, quote=False)})"
        )
        return ParsedCsv(str(path), len(table), _empty(), (Problem(1, message, True),))

    # Only a row with nothing in any field is skipped: it holds no value to lose.
    blank = (table["timestamp"] == "").to_numpy().copy()
    if blank.any():
        for column in table.columns[1:] if table.columns[0] == "timestamp" else table.columns:
            blank[blank] = (table[column][blank] == "").to_numpy()
        table = table[~blank]
    bad = np.zeros(len(table), dtype=bool)
    lines = table.index.to_numpy()
    if "__malformed__" in table.columns:
        bad |= table["__malformed__"].to_numpy() != ""

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

    raw_ts = table["timestamp"]
    exact, offset_of = _parse_timestamps(raw_ts, allow_mixed_offsets)
    flag(
        exact.isna().to_numpy(),
        lambda rows: [_bad("timestamp", raw_ts.iat[r], "is not ISO 8601") for r in rows],
    )
    if offset_of is not None and (~bad).any():
        usual = offset_of[~bad].value_counts().index[0]
        flag(
            (offset_of != usual).to_numpy() & ~bad,
            lambda rows: [
                f"timestamp offset {shown(offset_of.iat[r], quote=False)} differs from the "
                f"file's usual offset {usual} (use --allow-mixed-offsets to convert each to UTC)"
                for r in rows
            ],
        )
    latest = pd.Timestamp(now or datetime.now(UTC)) + FUTURE_TOLERANCE
    with np.errstate(invalid="ignore"):
        flag(
            (exact < EPOCH).to_numpy(),
            lambda rows: [f"timestamp {shown(raw_ts.iat[r])} is before 1970" for r in rows],
        )
        flag(
            (exact > latest).to_numpy(),
            lambda rows: [
                f"timestamp {shown(raw_ts.iat[r])} is in the future "
                f"(now is {latest - FUTURE_TOLERANCE:%Y-%m-%dT%H:%M:%SZ})"
                for r in rows
            ],
        )
    # Samples are stored per whole second.
    timestamps = exact.dt.floor("s")

    service = _stripped(table["service"])
    flag(
        ~service.isin(list(services)).to_numpy(),
        lambda rows: [_unknown("service", service.iat[r]) for r in rows],
    )
    metric = _stripped(table["metric"])
    flag(
        ~metric.isin(list(metrics)).to_numpy(),
        lambda rows: [_unknown("metric", metric.iat[r]) for r in rows],
    )

    raw_value = table["value"]
    values = pd.to_numeric(raw_value, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    unparsed = np.isnan(values)
    if unparsed.any():
        values[unparsed] = pd.to_numeric(raw_value[unparsed].str.strip(), errors="coerce")
    flag(
        ~np.isfinite(values),
        lambda rows: [_bad("value", raw_value.iat[r], "is not a finite number") for r in rows],
    )
    with np.errstate(invalid="ignore"):
        flag(
            values < 0,
            lambda rows: [f"value {shown(raw_value.iat[r])} is negative" for r in rows],
        )
        flag(
            values > MAX_VALUE,
            lambda rows: [
                f"value {shown(raw_value.iat[r])} is above {MAX_VALUE:g}, the largest accepted"
                for r in rows
            ],
        )

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
        dupes = valid[duplicated].assign(exact=exact.array[~bad][duplicated])
        groups = dupes.groupby(keys)
        conflicting = (groups["value"].transform("nunique") > 1).to_numpy()
        first_line = groups["line"].transform("first").to_numpy()
        second_line = groups["line"].transform(lambda g: g.iat[1]).to_numpy()
        same_instant = (groups["exact"].transform("nunique") == 1).to_numpy()
        position_of = {int(p): n for n, p in enumerate(dupes.index)}
        mask = np.zeros(len(frame), dtype=bool)
        mask[dupes.index[conflicting]] = True

        def describe(rows: np.ndarray) -> list[str]:
            out = []
            for r in rows:
                n = position_of[int(r)]
                first = int(lines[r]) == first_line[n]
                other = (
                    f"again on line {second_line[n]}"
                    if first
                    else (f"first seen on line {first_line[n]}")
                )
                if same_instant[n]:
                    out.append(f"duplicate timestamp with a different value ({other})")
                else:
                    out.append(
                        f"a different value in the same second ({other}); "
                        "samples are stored to the whole second"
                    )
            return out

        flag(mask, describe)
        valid = frame[~bad].drop_duplicates(keys, keep="first")
    problems.sort(key=lambda p: p.line)
    return ParsedCsv(str(path), len(table), valid.reset_index(drop=True), tuple(problems))


def _bad(field: str, value: object, why: str) -> str:
    return f"{field} is empty" if value == "" else f"{field} {shown(value)} {why}"


def _unknown(field: str, value: object) -> str:
    return f"{field} is empty" if value == "" else f"unknown {field} {shown(value)}"


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
