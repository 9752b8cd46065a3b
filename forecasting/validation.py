"""Rolling-origin selection of model settings on the series' own history.

Stage 1 picks the shape (transform x seasonality mode) and stage 2 the
changepoint flexibility, both by the error of the forecast over held-out
windows. On the best model's held-out fits, cheap post-processing choices are
then made by simulation: the recent-level correction, the crossing method
(first passage or mean) and the trend-uncertainty scale, the latter so the
interval covers held-out crossings about as often as its nominal width says.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from forecasting import model, transforms
from forecasting.core import (
    crossing_periods,
    fit_series,
    level_offset,
    level_window_steps,
    rng_for,
    run_scenario,
)
from forecasting.prepare import MIN_POINTS, Prepared
from forecasting.simulate import make_grid
from forecasting.types import CrossingMethod, ModelSettings

_TREND_SCALES = (1.0, 3.0, 10.0, 30.0)
_CPS_STAGE2 = (0.01, 0.5)
_VALIDATION_PATHS = 200


def default_settings(kind: str) -> ModelSettings:
    return ModelSettings()


def _cutoffs(n: int) -> tuple[int, list[int]]:
    h = int(np.clip(n // 4, 3, 120))
    cuts = [c for c in (n - h, n - 2 * h) if c >= MIN_POINTS]
    return h, cuts


def select_settings(
    p: Prepared,
    kind: Literal["load", "cumulative"],
    bounds: tuple[float, float] | None,
    seed: int,
) -> tuple[ModelSettings, dict[str, float]]:
    base = default_settings(kind)
    n = len(p.y)
    h, cuts = _cutoffs(n)
    if not cuts:
        return base, {"cutoffs": 0.0}
    folds = [_Fold(p, c, h) for c in cuts]
    shapes: list[ModelSettings] = [base]
    has_seasonality = bool(model.seasonalities(p.step, p.ds[-1] - p.ds[0]))
    if has_seasonality and float(np.min(p.y)) > 0:
        shapes.append(replace(base, seasonality_mode="multiplicative"))
    if kind == "load":
        for t in transforms.allowed(bounds, p.y):
            if t != "none":
                shapes.append(replace(base, transform=t))
    scored: dict[ModelSettings, tuple[float, list[model.Fit]]] = {}
    for cand in shapes:
        scored[cand] = _score(cand, folds, bounds)
    best = min(scored, key=lambda s: scored[s][0])
    for cps in _CPS_STAGE2:
        cand = replace(best, changepoint_prior_scale=cps)
        scored[cand] = _score(cand, folds, bounds)
    best = min(scored, key=lambda s: scored[s][0])
    best_err, fits = scored[best]

    # Recent-level correction: keep it only if it helps the held-out error.
    w = level_window_steps(p)
    pairs = zip(folds, fits, strict=True)
    err_w = float(np.mean([f.error(fit, bounds, best, w) for f, fit in pairs]))
    if err_w < best_err:
        best, best_err = replace(best, level_window=w), err_w

    # Crossing method and trend-uncertainty scale, from held-out crossings.
    stats: dict[tuple[str, float], list[tuple[float, bool]]] = {}
    for scale in _TREND_SCALES:
        cand = replace(best, trend_uncertainty_scale=scale)
        for fold, fit in zip(folds, fits, strict=True):
            for name, err, covered in fold.crossings(fit, cand, kind, bounds, seed):
                stats.setdefault((name, scale), []).append((err, covered))
    out = {"cutoffs": float(len(cuts)), "holdout_periods": float(h), "rel_mae": best_err}
    if not stats or not any(stats.values()):
        return replace(best, validated=True), out
    nominal = best.interval[1] - best.interval[0]

    def calib(key: tuple[str, float]) -> tuple[float, float]:
        cov = float(np.mean([c for _, c in stats[key]]))
        return (abs(cov - nominal) if cov < nominal else 0.5 * (cov - nominal), key[1])

    fp_scale = min((k for k in stats if k[0] == "first_passage"), key=calib)[1]
    fp_err = float(np.median([e for e, _ in stats[("first_passage", fp_scale)]]))
    mean_err = float(np.median([e for e, _ in stats[("mean", fp_scale)]]))
    method: CrossingMethod = "mean" if mean_err < fp_err else "first_passage"
    chosen = replace(best, trend_uncertainty_scale=fp_scale, crossing_method=method, validated=True)
    out.update(
        {
            "crossing_events": float(len(stats[("first_passage", fp_scale)])),
            "crossing_median_rel_error": min(fp_err, mean_err),
            "interval_coverage": float(np.mean([c for _, c in stats[(method, fp_scale)]])),
        }
    )
    return chosen, out


class _Fold:
    def __init__(self, p: Prepared, cut: int, h: int) -> None:
        self.p = p
        self.cut = cut
        self.train_y = p.y[:cut]
        self.train_ds = p.ds[:cut]
        test_y = p.y[cut : cut + h]
        # Predict past the held-out window so late crossings are not censored.
        n_future = 2 * h
        last = p.ds[cut - 1]
        if p.monthly:
            months = int(p.grain[:-2])
            self.future = pd.DatetimeIndex(
                [last + pd.DateOffset(months=months * k) for k in range(1, n_future + 1)]
            )
        else:
            self.future = pd.date_range(last + p.step, periods=n_future, freq=p.step)
        pos = np.searchsorted(self.future, p.ds[cut : cut + h])
        # Gaps can push held-out points past the simulated window; drop those.
        keep = pos < len(self.future)
        keep[keep] = self.future[pos[keep]] == p.ds[cut : cut + h][keep]
        self.test_pos = pos[keep]
        self.test_y = test_y[keep]
        self.grid = make_grid(self.future, self.future[0], p.per_day)

    def fit(self, s: ModelSettings, bounds: tuple[float, float] | None) -> model.Fit:
        return fit_series(self.train_y, self.train_ds, self.future, s, self.p.step, bounds)

    def error(
        self, fit: model.Fit, bounds: tuple[float, float] | None, s: ModelSettings, window: int
    ) -> float:
        z = fit.mean_fut + level_offset(fit, window)
        if self.test_y.size == 0:
            return 0.0
        pred = transforms.inverse(z, s.transform, bounds)[self.test_pos]
        scale = float(np.mean(np.abs(self.train_y))) or 1.0
        return float(np.mean(np.abs(pred - self.test_y)) / scale)

    def crossings(
        self,
        fit: model.Fit,
        s: ModelSettings,
        kind: Literal["load", "cumulative"],
        bounds: tuple[float, float] | None,
        seed: int,
    ) -> list[tuple[str, float, bool]]:
        # Thresholds the held-out data does cross, above everything recent.
        recent = float(np.max(self.train_y[-level_window_steps(self.p) :]))
        top = float(np.max(self.test_y)) if self.test_y.size else recent
        if self.test_y.size == 0 or top <= recent:
            return []
        sim = run_scenario(
            fit,
            self.grid,
            self.p,
            s,
            None,
            kind,
            bounds,
            rng_for(seed, f"validate{self.cut}"),
            n_paths=_VALIDATION_PATHS,
        )
        out: list[tuple[str, float, bool]] = []
        pos_to_period = np.searchsorted(self.grid.report_starts, self.test_pos, side="right") - 1
        for frac in (0.3, 0.6, 0.9):
            thr = recent + frac * (top - recent)
            hit = np.flatnonzero(self.test_y > thr)
            actual = float(pos_to_period[hit[0]])
            for method in ("first_passage", "mean"):
                pc = crossing_periods(sim, thr, method, s.interval)
                cap = float(len(self.grid.report_starts))
                exp = min(pc.expected, cap)
                err = abs(exp - actual) / (actual + 1.0)
                covered = pc.earliest <= actual <= pc.latest
                out.append((method, err, bool(covered)))
        return out


def _score(
    s: ModelSettings, folds: list[_Fold], bounds: tuple[float, float] | None
) -> tuple[float, list[model.Fit]]:
    fits = [f.fit(s, bounds) for f in folds]
    err = float(np.mean([f.error(fit, bounds, s, 0) for f, fit in zip(folds, fits, strict=True)]))
    return err, fits
