"""Rolling-origin selection of model settings on the series' own history.

Stage 1 picks the shape (transform x seasonality mode) by the error of the
forecast over two held-out windows, stage 2 the changepoint flexibility by the
error over the most recent one (its fits start from the stage-1 optimum). On
the best model's held-out fits, cheap post-processing choices are then made:
the recent-level correction (by held-out error), the noise and
trend-uncertainty scales (by the interval score of simulated held-out peaks,
so intervals are as wide as the series' own forecast errors say), the crossing
method (first passage or mean, by held-out crossing error) and a conformal
widening of the crossing interval (by how far held-out crossings fell outside
it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from forecasting import model, transforms
from forecasting.core import (
    block_length,
    fit_series,
    level_offset,
    level_window_steps,
    rng_for,
    run_scenario,
    slope_unit,
)
from forecasting.crossing import MAX_WIDENING, crossing_periods, widening_score
from forecasting.prepare import MIN_POINTS, Prepared
from forecasting.simulate import block_noise, make_grid, quantiles
from forecasting.types import CrossingMethod, ModelSettings

_TREND_SCALES = (1.0, 3.0, 10.0, 30.0)
_SLOPE_SCALES = (1.0, 2.0, 4.0, 8.0)
_NOISE_SCALES = (1.0, 1.25, 1.5)
_CPS_STAGE2 = (0.01, 0.5)
_VALIDATION_PATHS = 200
# Held-out crossing thresholds, as fractions of the way from the recent peak
# to the held-out peak: several per window, read from the same simulation.
_CROSSING_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Held-out crossings of one window are read off one realisation of the data
# and so are strongly correlated; the conformal rank counts this many
# independent crossings per window.
_CROSSINGS_PER_WINDOW = 3


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
    best_err, fits = scored[best]
    # Changepoint flexibility on the most recent window only (the longest
    # training history), each fit started from the shape's optimum; the
    # winner is then fitted on the other folds for calibration.
    recent_err = folds[0].error(fits[0], bounds, best, 0)
    winner: tuple[ModelSettings, model.Fit] | None = None
    for cps in _CPS_STAGE2:
        cand = replace(best, changepoint_prior_scale=cps)
        fit0 = folds[0].fit(cand, bounds, fits[0].params)
        err0 = folds[0].error(fit0, bounds, cand, 0)
        if err0 < recent_err:
            recent_err, winner = err0, (cand, fit0)
    if winner is not None:
        best = winner[0]
        fits = [winner[1]] + [
            f.fit(best, bounds, fit.params) for f, fit in zip(folds[1:], fits[1:], strict=True)
        ]
        best_err = float(
            np.mean([f.error(fit, bounds, best, 0) for f, fit in zip(folds, fits, strict=True)])
        )

    # Recent-level correction: keep it only if it helps the held-out error.
    w = level_window_steps(p)
    pairs = zip(folds, fits, strict=True)
    err_w = float(np.mean([f.error(fit, bounds, best, w) for f, fit in pairs]))
    if err_w < best_err:
        best, best_err = replace(best, level_window=w), err_w

    # Uncertainty scales: the simulated held-out paths must bracket the
    # held-out period peaks as the nominal interval says (interval score).
    best = _calibrate(best, folds, fits, bounds, seed)

    # Crossing method, from held-out crossings of the calibrated simulation;
    # the widening from crossings over all the held-out data each fold's
    # simulation spans, whose lead times are closer to a forecast's.
    stats: dict[str, list[tuple[float, bool, float]]] = {}
    long: dict[str, list[float]] = {}
    windows = 0
    for fold, fit in zip(folds, fits, strict=True):
        in_window, spanned = fold.crossings(fit, best, kind, bounds, seed)
        for name, err, covered, score in in_window:
            stats.setdefault(name, []).append((err, covered, score))
        for name, _, _, score in spanned:
            long.setdefault(name, []).append(score)
        windows += bool(spanned)
    out = {
        "cutoffs": float(len(cuts)),
        "holdout_periods": float(h),
        "rel_mae": best_err,
        "noise_scale": best.noise_scale,
        "trend_uncertainty_scale": best.trend_uncertainty_scale,
        "slope_uncertainty_scale": best.slope_uncertainty_scale,
    }
    if not stats or not long:
        # No held-out crossing to measure the interval against: widest.
        out["interval_widening"] = MAX_WIDENING
        return replace(best, interval_widening=MAX_WIDENING, validated=True), out
    fp_err = float(np.median([e for e, _, _ in stats["first_passage"]]))
    mean_err = float(np.median([e for e, _, _ in stats["mean"]]))
    method: CrossingMethod = "mean" if mean_err < fp_err else "first_passage"
    # Conformal widening: the ceil((n + 1) * nominal)-th smallest of n
    # exchangeable held-out scores would cover a new crossing with at least
    # the nominal probability. The crossings of one window are correlated, so
    # n counts a few per window and the rank becomes a quantile of all the
    # window's scores. Too few for that quantile: the cap.
    scores = np.asarray(long[method])
    n_ev = windows * _CROSSINGS_PER_WINDOW
    nominal = best.interval[1] - best.interval[0]
    k = int(np.ceil((n_ev + 1) * nominal))
    widening = (
        float(min(MAX_WIDENING, np.quantile(scores, k / n_ev, method="higher")))
        if k <= n_ev
        else MAX_WIDENING
    )
    out.update(
        {
            "crossing_events": float(len(scores)),
            "crossing_median_rel_error": min(fp_err, mean_err),
            "interval_coverage": float(np.mean([c for _, c, _ in stats[method]])),
            "interval_widening": widening,
        }
    )
    chosen = replace(best, crossing_method=method, interval_widening=widening, validated=True)
    return chosen, out


def _calibrate(
    s: ModelSettings,
    folds: list[_Fold],
    fits: list[model.Fit],
    bounds: tuple[float, float] | None,
    seed: int,
) -> ModelSettings:
    """Pick noise, changepoint and slope-error scales by the mean interval score
    of the simulated period peaks against the held-out ones (Gneiting and
    Raftery 2007: a proper score, so it rewards calibrated *and* narrow
    intervals). Every candidate reuses the same random draws, which are linear
    in the scales, so the whole grid costs one simulation per fold."""
    lo_q, hi_q = s.interval
    alpha = 1.0 - (hi_q - lo_q)
    combos = [(c, a, b) for c in _NOISE_SCALES for a in _TREND_SCALES for b in _SLOPE_SCALES]
    scores = np.zeros(len(combos))
    used = 0
    for fold, fit in zip(folds, fits, strict=True):
        parts = fold.draws(fit, s, rng_for(seed, f"calibrate{fold.cut}"))
        if parts is None:
            continue
        used += 1
        base, cp_dev, slope_dev, noise, mult, add, target = parts
        scale = float(np.mean(np.abs(fold.train_y))) or 1.0
        for i, (c, a, b) in enumerate(combos):
            z = (base + a * cp_dev + b * slope_dev) * (1.0 + mult) + add + c * noise
            x = transforms.inverse(z, s.transform, bounds)
            peaks = fold.period_peaks(x)
            lo, hi = quantiles(peaks, [lo_q, hi_q])
            width = hi - lo
            miss = np.maximum(lo - target, 0.0) + np.maximum(target - hi, 0.0)
            scores[i] += float(np.mean(width + (2.0 / alpha) * miss)) / scale
    if not used:
        return s
    c, a, b = combos[int(np.argmin(scores))]
    return replace(s, noise_scale=c, trend_uncertainty_scale=a, slope_uncertainty_scale=b)


_Event = tuple[str, float, bool, float]


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
        # Crossings are read over the whole simulated window: an older fold
        # has held-out data beyond its first h periods, and lead times up to
        # 2h are closer to those of the forecasts the interval is for.
        later = p.ds[cut : cut + n_future]
        cpos = np.searchsorted(self.future, later)
        ckeep = cpos < len(self.future)
        ckeep[ckeep] = self.future[cpos[ckeep]] == later[ckeep]
        self.cross_pos = cpos[ckeep]
        self.cross_y = p.y[cut : cut + n_future][ckeep]
        self.grid = make_grid(self.future, self.future[0], p.per_day)
        # Held-out report periods observed in full, and their actual peaks.
        starts = self.grid.report_starts
        period = np.searchsorted(starts, self.test_pos, side="right") - 1
        n_per = int(period[-1]) + 1 if period.size else 0
        sizes = np.diff(np.append(starts, len(self.future)))[:n_per]
        counts = np.bincount(period, minlength=n_per)
        full = np.flatnonzero((counts == sizes) & (counts > 0))
        target = np.full(n_per, -np.inf)
        np.maximum.at(target, period, self.test_y)
        self.sim_steps = int(starts[n_per]) if n_per < len(starts) else len(self.future)
        self.peak_starts = starts[:n_per]
        self.peak_keep = full
        self.peak_target = target[full]

    def period_peaks(self, x: np.ndarray) -> np.ndarray:
        """Simulated maxima of the held-out report periods: (paths, periods)."""
        return np.asarray(np.maximum.reduceat(x, self.peak_starts, axis=1)[:, self.peak_keep])

    def draws(
        self, fit: model.Fit, s: ModelSettings, rng: np.random.Generator
    ) -> tuple[np.ndarray, ...] | None:
        """Unit-scale random parts of the organic simulation over the held-out window."""
        if not self.peak_target.size:
            return None
        n = self.sim_steps
        p = _VALIDATION_PATHS
        block = block_length(self.p)
        base = fit.trend_fut[:n] + level_offset(fit, s.level_window)
        k = np.arange(1, n + 1, dtype="float64")
        slope_dev = rng.normal(0.0, slope_unit(fit.residuals, block), (p, 1)) * k
        cp_dev = np.zeros((p, n))
        if fit.cp_prob > 0 and fit.cp_scale > 0:
            jumps = rng.random((p, n)) < fit.cp_prob
            dslope = np.where(jumps, rng.laplace(0.0, fit.cp_scale, (p, n)), 0.0)
            cp_dev = np.cumsum(np.cumsum(dslope, axis=1), axis=1)
        noise = block_noise(fit.residuals, p, n, block, rng)
        return (base, cp_dev, slope_dev, noise, fit.mult_fut[:n], fit.add_fut[:n], self.peak_target)

    def fit(
        self,
        s: ModelSettings,
        bounds: tuple[float, float] | None,
        start: dict[str, np.ndarray] | None = None,
    ) -> model.Fit:
        return fit_series(
            self.train_y, self.train_ds, self.future, s, self.p.step, bounds, start, quick=True
        )

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
    ) -> tuple[list[_Event], list[_Event]]:
        """Held-out crossings (method, relative error, covered, conformal score)
        within the held-out window, and within all data the simulation spans
        (longer lead times, for the interval widening)."""
        # Thresholds the held-out data does cross, above everything recent.
        recent = float(np.max(self.train_y[-level_window_steps(self.p) :]))
        if self.cross_y.size == 0 or float(np.max(self.cross_y)) <= recent:
            return [], []
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
        cap = float(len(self.grid.report_starts))

        def events(pos: np.ndarray, y: np.ndarray) -> list[_Event]:
            top = float(np.max(y)) if y.size else recent
            if top <= recent:
                return []
            period = np.searchsorted(self.grid.report_starts, pos, side="right") - 1
            out: list[_Event] = []
            for frac in _CROSSING_FRACTIONS:
                thr = recent + frac * (top - recent)
                actual = float(period[np.flatnonzero(y > thr)[0]])
                for method in ("first_passage", "mean"):
                    pc = crossing_periods(sim, thr, method, s.interval)
                    exp = min(pc.expected, cap)
                    err = abs(exp - actual) / (actual + 1.0)
                    covered = pc.earliest <= actual <= pc.latest
                    out.append((method, err, bool(covered), widening_score(pc, actual)))
            return out

        in_window = events(self.test_pos, self.test_y)
        if len(self.cross_y) == len(self.test_y):
            return in_window, in_window
        return in_window, events(self.cross_pos, self.cross_y)


def _score(
    s: ModelSettings, folds: list[_Fold], bounds: tuple[float, float] | None
) -> tuple[float, list[model.Fit]]:
    fits = [f.fit(s, bounds) for f in folds]
    err = float(np.mean([f.error(fit, bounds, s, 0) for f, fit in zip(folds, fits, strict=True)]))
    return err, fits
