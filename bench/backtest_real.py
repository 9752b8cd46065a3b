"""Backtest the engine on the recorded series in /work/shared/data/real and synthetic ones.

Usage: .venv/bin/python bench/backtest_real.py [--data DIR] [--synthetic N] [--only SUBSTR]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.backtest import backtest_series, summarize, to_frame
from forecasting.prepare import prepare

# The shared data sits beside the checkout, as ../shared/data/real.
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def load_real(path: Path) -> list[tuple[str, pd.Series, tuple[float, float] | None]]:
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    df = pd.read_csv(io.StringIO(text))
    stem = path.stem
    if "date" in df.columns:  # statsmodels co2: YYYYMMDD integers
        ts = pd.to_datetime(df["date"].astype(str), format="%Y%m%d", utc=True)
    else:
        ts = pd.to_datetime(df[df.columns[0]], utc=True)
    if "cpu_avg" in df.columns:
        cols = ["cpu_avg", "cpu_max"]
    else:
        cols = [c for c in df.columns[1:] if c not in ("offset_s",)][:1]
    cpu = "cpu" in stem
    bounds: tuple[float, float] | None
    if cpu:
        bounds = (0.0, 100.0)
    elif "temp" in stem:
        bounds = None
    else:
        bounds = (0.0, float("inf"))
    out = []
    for c in cols:
        s = pd.Series(pd.to_numeric(df[c], errors="coerce").to_numpy(), index=ts)
        out.append((f"{stem}:{c}", s, bounds))
    return out


def synthetic(n: int, seed: int = 7) -> list[tuple[str, pd.Series, tuple[float, float] | None]]:
    """Daily sustained peaks with known structure: trend, weekly cycle, noise, level shifts."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, pd.Series, tuple[float, float] | None]] = []
    for i in range(n):
        days = int(rng.integers(200, 500))
        idx = pd.date_range("2023-01-01", periods=days, freq="D", tz="UTC")
        t = np.arange(days)
        level = rng.uniform(20, 50)
        growth = rng.uniform(0.0, 0.08)  # % points per day
        weekly = rng.uniform(0, 4) * np.sin(2 * np.pi * t / 7)
        ar = np.zeros(days)
        e = rng.normal(0, rng.uniform(0.5, 2.5), days)
        for k in range(1, days):
            ar[k] = 0.6 * ar[k - 1] + e[k]
        y = level + growth * t + weekly + ar
        if i % 3 == 0:
            y[int(days * rng.uniform(0.5, 0.9)) :] += rng.uniform(3, 10)
        out.append((f"synthetic_{i}", pd.Series(np.clip(y, 0, 100), index=idx), (0.0, 100.0)))
    return out


def with_width(
    summary: pd.DataFrame, part: pd.DataFrame, ends: dict[str, pd.Timestamp]
) -> pd.DataFrame:
    """Add capplan's median earliest-latest width in days (an open latest counts
    up to the backtest's horizon end, as the backtest does for a missing date)
    and its median relative to the lead time."""
    own = part[part["method"] == "capplan"]
    cutoff = pd.to_datetime(own["cutoff"])
    last = pd.to_datetime(own["series"].map(lambda n: ends[str(n)].tz_localize(None).normalize()))
    span = np.maximum(1, np.ceil((last - cutoff) / pd.Timedelta(days=1)))
    horizon_end = cutoff + pd.to_timedelta(np.maximum(7, 3 * span), unit="D")
    lo = pd.to_datetime(own["earliest"]).fillna(horizon_end)
    hi = pd.to_datetime(own["latest"]).fillna(horizon_end)
    widths = np.maximum(0, (hi - lo) / pd.Timedelta(days=1))
    w = np.asarray(widths, dtype="float64")
    out = summary.copy()
    out["median_width_days"] = np.nan
    out["median_rel_width"] = np.nan
    if w.size:
        out.loc["capplan", "median_width_days"] = float(np.median(w))
        out.loc["capplan", "median_rel_width"] = float(
            np.median(w / own["lead_days"].to_numpy(dtype="float64"))
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--synthetic", type=int, default=12)
    ap.add_argument("--only", default="")
    ap.add_argument("--rows", type=Path, default=None, help="write all rows to this CSV")
    args = ap.parse_args()
    series = []
    for path in sorted(args.data.glob("*.csv")):
        series.extend(load_real(path))
    real_names = {name for name, _, _ in series}
    series.extend(synthetic(args.synthetic))
    rows = []
    ends: dict[str, pd.Timestamp] = {}
    for name, s, bounds in series:
        if args.only and args.only not in name:
            continue
        r = backtest_series(s, name=name, bounds=bounds)
        rows.extend(r)
        ends[name] = prepare(s, s.index.max() + pd.Timedelta(seconds=1), "load").ds[-1]
        if r:
            df1 = to_frame(r)
            med = df1.groupby("method")["rel_error"].median().round(3).to_dict()
            print(f"{name:55s} events={len(r) // 3:3d} {med}", flush=True)
    df = to_frame(rows)
    if args.rows:
        df.to_csv(args.rows, index=False)
    for label, part in (
        ("real", df[df["series"].isin(real_names)]),
        ("synthetic", df[~df["series"].isin(real_names)]),
        ("all", df),
    ):
        if len(part):
            print(f"\n== {label} ==")
            print(with_width(summarize(part), part, ends).round(3).to_string())


if __name__ == "__main__":
    main()
