"""Crossing-date accuracy on real series never tuned on, scored by the corpus protocol.

    .venv/bin/python bench/accuracy.py [--quick] [--cases N] [--jobs 2] [--sets corpus,real,cpu]

Case sets (all real recorded data):
  corpus  ../shared/corpus/cases.json (its own fixed rule, make_cases.py);
  real    the same rule applied to ../shared/data/real;
  cpu     weeks-long 5-minute CPU traces (azure_v1_vm_*, NAB CPU files) with a daily-mean
          threshold: the same rule with a history of at least 5 days and a lead of a day.
Protocol (../shared/corpus/README.md): forecast from the history strictly before the
cutoff at the case's aggregation, horizon 3 x the remaining span; error = |expected -
actual| / lead capped at 1 (no crossing, beyond the horizon or a refusal: 1); coverage =
actual within earliest..latest (open latest counts as open-ended).

capplan runs through ``jobs.forecast.adhoc.forecast_csv``, the library behind ``capplan forecast
--csv``. Baselines, in the same run: naive drift, the last-30 % line, Prophet defaults
(the corpus' own baselines.py), statsforecast's AutoETS and AutoTheta (run by
bench/statsforecast_baselines.py in the bench-only .venv-statsforecast, ``make bench-venv``,
all cases in one process). Baseline results are cached by case in --cache.

Every method choice (the engine's ``EnsembleOptions`` and the history needed for yearly
seasonality, given as --variants) is validated leave-one-source-out: for each source the
candidate with the lowest mean error on the other sources is scored on it; that LOSO
figure is capplan's row. Variants of one case share its model fits (the engine is
deterministic), each charged the fits' time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = Path(os.environ.get("CAPPLAN_CORPUS", str(ROOT.parent / "shared" / "corpus")))
REAL = Path(os.environ.get("CAPPLAN_REAL_DATA", str(ROOT.parent / "shared" / "data" / "real")))
DEFAULT_CACHE = ROOT / "bench" / "results" / "accuracy-cache"
DAY = pd.Timedelta(days=1)
BASELINES = ("drift", "linear30", "prophet", "ets", "theta")
# Run in one batch by bench/statsforecast_baselines.py, in its own virtualenv: statsforecast
# requires a pandas older than the project's.
STATSFORECAST = ("ets", "theta")
SF_PYTHON = ROOT / ".venv-statsforecast" / "bin" / "python"
SF_SCRIPT = ROOT / "bench" / "statsforecast_baselines.py"
LABELS = {"ets": "AutoETS (statsforecast)", "theta": "Theta (statsforecast)"}
CPU_FILES = ("azure_v1_vm_", "nab_ec2_cpu", "nab_rds_cpu", "nab_cpu_utilization", "nab_grok")
# Bump a baseline's version when it changes: its cached results are then recomputed
# (3: ets and theta became statsforecast's, from statsmodels').
BASELINE_VERSION = {"drift": 2, "linear30": 2, "prophet": 2, "ets": 3, "theta": 3}
TARGETS = {"all": 0.74, "trend": 0.71}


def naive(t: object) -> pd.Timestamp:
    """A UTC instant without its zone (the corpus' convention)."""
    ts = pd.Timestamp(t)  # type: ignore[arg-type]
    return ts.tz_convert(None) if ts.tzinfo is not None else ts


@dataclass(frozen=True)
class Case:
    id: str
    set: str
    source: str
    domain: str
    kind: str
    path: str
    how: str  # corpus spelling: none, daily_max, daily_mean, weekly_mean
    cutoff: str
    threshold: float
    actual: str
    series_end: str

    @property
    def lead_days(self) -> float:
        return float((naive(self.actual) - naive(self.cutoff)) / DAY)

    @property
    def horizon_end(self) -> pd.Timestamp:
        cut = naive(self.cutoff)
        return cut + 3 * (naive(self.series_end) - cut)

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Result:
    expected: str | None = None
    earliest: str | None = None
    latest: str | None = None
    seconds: float = 0.0
    refused: str | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- cases


def _make_cases_module() -> Any:
    sys.path.insert(0, str(CORPUS))
    import make_cases  # type: ignore[import-not-found]

    return make_cases


def corpus_cases() -> list[Case]:
    data = json.loads((CORPUS / "cases.json").read_text())["cases"]
    return [
        Case(
            c["id"],
            "corpus",
            c["source"],
            c["domain"],
            c["kind"],
            str(CORPUS / "data" / c["file"]),
            c["aggregation"],
            c["cutoff"],
            float(c["threshold"]),
            c["actual_first_crossing"],
            c["series_end"],
        )
        for c in data
    ]


def _real_table(path: Path) -> tuple[pd.Series, str, str]:
    """(values, source, domain) of one file in the real-data folder (first value column)."""
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    df = pd.read_csv(io.StringIO(text))
    stem = path.stem
    if "date" in df.columns:
        ts = pd.to_datetime(df["date"].astype(str), format="%Y%m%d", utc=True)
    else:
        ts = pd.to_datetime(df[df.columns[0]], utc=True)
    col = (
        "cpu_avg" if "cpu_avg" in df.columns else next(c for c in df.columns[1:] if c != "offset_s")
    )
    values = pd.Series(pd.to_numeric(df[col], errors="coerce").to_numpy(), index=ts)
    source = stem.split("_")[0]
    domain = "cpu" if "cpu" in stem or stem.startswith("azure") else source
    return values, source, domain


def _write_real(cache: Path) -> list[tuple[str, Path, str, str]]:
    """Real files as timestamp,value CSVs (the corpus layout): (id, path, source, domain)."""
    out = []
    folder = cache / "real-data"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(REAL.glob("*.csv")):
        values, source, domain = _real_table(path)
        target = folder / path.name
        if not target.exists():
            frame = pd.DataFrame(
                {
                    "timestamp": pd.DatetimeIndex(values.index).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "value": values.to_numpy(),
                }
            )
            frame.to_csv(target, index=False)
        out.append((path.stem, target, source, domain))
    return out


def _step(s: pd.Series) -> pd.Timedelta:
    return pd.Timedelta(pd.Series(s.index).diff().median())


def _aggregation(s: pd.Series) -> str:
    step = _step(s)
    if step < pd.Timedelta(hours=20):
        return "daily_max"
    if step < pd.Timedelta(days=2):
        return "weekly_mean"  # daily counts (page views): the rule's other daily data
    return "none"


def real_cases(cache: Path) -> list[Case]:
    mc = _make_cases_module()
    cases = []
    for sid, path, source, domain in _write_real(cache):
        s = mc.load(str(path))
        for c in mc.cases_for(sid, str(path), _aggregation(s)):
            cases.append(_from_rule(c, "real", source, domain, path))
    return cases


def cpu_cases(cache: Path) -> list[Case]:
    """Short CPU traces: daily-mean thresholds from 5 days of history, leads of a day or more."""
    mc = _make_cases_module()
    saved = (mc.MIN_LEAD_DAYS, mc.MIN_HIST_POINTS)
    mc.MIN_LEAD_DAYS, mc.MIN_HIST_POINTS = 1, 5
    cases = []
    try:
        for sid, path, source, _ in _write_real(cache):
            if not sid.startswith(CPU_FILES):
                continue
            for c in mc.cases_for(sid, str(path), "daily_mean"):
                cases.append(_from_rule(c, "cpu", source, "cpu", path))
    finally:
        mc.MIN_LEAD_DAYS, mc.MIN_HIST_POINTS = saved
    return cases


def _from_rule(c: dict[str, Any], set_name: str, source: str, domain: str, path: Path) -> Case:
    return Case(
        f"{set_name}:{c['id']}",
        set_name,
        source,
        domain,
        c["kind"],
        str(path),
        c["aggregation"],
        c["cutoff"],
        float(c["threshold"]),
        c["actual_first_crossing"],
        c["series_end"],
    )


# ---------------------------------------------------------------- methods


def _history(case: Case) -> tuple[pd.Series, pd.Timestamp]:
    mc = _make_cases_module()
    s = mc.load(case.path)
    a = mc.aggregate(s, case.how)
    cut = naive(case.cutoff)
    return a[a.index < cut], cut


def _stamp(t: pd.Timestamp | None) -> str | None:
    return None if t is None else pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%S")


def _steps(h: pd.Series, end: pd.Timestamp) -> int:
    return max(1, math.ceil(float((end - pd.Timestamp(h.index[-1])) / _step(h))))


def _season(h: pd.Series) -> int:
    step = _step(h)
    if step <= DAY:
        return 7
    if step <= pd.Timedelta(days=8):
        return 52
    return 12


def run_statsforecast(cases: Sequence[Case]) -> dict[str, dict[str, Result]]:
    """statsforecast's baselines for every case, in one subprocess: {case id: {method: result}}."""
    histories: dict[str, tuple[pd.Series, pd.Timestamp]] = {}
    batch: dict[str, dict[str, Any]] = {}
    for c in cases:
        h, cut = _history(c)
        histories[c.id] = (h, cut)
        batch[c.id] = {
            "values": h.to_numpy(dtype="float64").tolist(),
            "steps": _steps(h, c.horizon_end),
            "season": _season(h),
            "threshold": c.threshold,
        }
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.json", Path(tmp) / "out.json"
        source.write_text(json.dumps(batch))
        subprocess.run([str(SF_PYTHON), str(SF_SCRIPT), str(source), str(target)], check=True)
        rows: dict[str, dict[str, dict[str, Any]]] = json.loads(target.read_text())
    out: dict[str, dict[str, Result]] = {}
    for cid, by_model in rows.items():
        h, cut = histories[cid]
        out[cid] = {}
        for method in STATSFORECAST:
            row = by_model[method]
            t = None if row["step"] is None else h.index[-1] + int(row["step"]) * _step(h)
            if t is not None and t < cut:
                t = cut
            out[cid][method] = Result(
                expected=_stamp(t), seconds=float(row["seconds"]), refused=row.get("refused")
            )
    return out


def run_baseline(case: Case, method: str) -> Result:
    sys.path.insert(0, str(CORPUS))
    import baselines as cb  # type: ignore[import-not-found]

    h, cut = _history(case)
    end = case.horizon_end
    thr = case.threshold
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            t: pd.Timestamp | None
            if method == "drift":
                t = cb.drift(h, cut, thr)
            elif method == "linear30":
                t = cb.linear30(h, cut, thr)
            elif method == "prophet":
                t = cb.prophet_cross(h, cut, end, thr, case.how)
            else:
                raise ValueError(f"unknown baseline {method}")
        except Exception as exc:
            return Result(seconds=time.perf_counter() - start, refused=str(exc)[:200])
    if t is not None and t < cut:
        t = cut
    return Result(expected=_stamp(t), seconds=time.perf_counter() - start)


def _ensemble(variant: dict[str, Any]) -> Any:
    from forecasting import model
    from forecasting.types import EnsembleOptions

    options = dict(variant)
    # Not an ensemble option: the history needed before yearly seasonality is
    # modelled, a module default set for every task (workers are reused).
    model.YEARLY_MIN_SPAN = pd.Timedelta(days=options.pop("yearly_min_days", 365))
    if "members" in options:
        options["members"] = tuple(options["members"])
    return EnsembleOptions(**options)


def run_capplan(case: Case, variant: dict[str, Any]) -> Result:
    from forecasting.errors import ForecastInputError
    from jobs.config import runbook_config
    from jobs.errors import NoDataError
    from jobs.forecast.adhoc import forecast_csv

    config = runbook_config()
    cut = naive(case.cutoff).tz_localize("UTC")
    horizon = math.ceil((case.horizon_end.tz_localize("UTC") - cut) / DAY)
    start = time.perf_counter()
    try:
        out = forecast_csv(
            Path(case.path),
            timestamp_column="timestamp",
            value_column="value",
            threshold=case.threshold,
            how=case.how.replace("_", "-"),  # type: ignore[arg-type]
            as_of=cut.to_pydatetime(),
            horizon_days=horizon,
            upper_bound=None,
            config=config,
            ensemble=_ensemble(variant),
        )
    except (ForecastInputError, NoDataError) as exc:
        return Result(seconds=time.perf_counter() - start, refused=str(exc))
    organic = next(c for c in out["crossings"] if c["scenario"] == "organic")
    return Result(
        organic["expected"],
        organic["earliest"],
        organic["latest"],
        time.perf_counter() - start,
        None,
        list(out.get("notes", [])),
    )


# ---------------------------------------------------------------- scoring


def error(case: Case, r: Result) -> float:
    if r.expected is None:
        return 1.0
    t = naive(r.expected)
    if t > case.horizon_end:
        return 1.0
    actual = naive(case.actual)
    return min(1.0, abs((t - actual) / DAY) / case.lead_days)


def covered(case: Case, r: Result) -> bool:
    if r.earliest is None:
        return False
    actual = naive(case.actual).normalize()
    if actual < naive(r.earliest).normalize():
        return False
    return r.latest is None or bool(actual <= naive(r.latest).normalize())


def rel_width(case: Case, r: Result) -> float:
    if r.earliest is None:
        return math.nan
    if r.latest is None:
        return math.inf
    days = (naive(r.latest) - naive(r.earliest)) / DAY
    return float(days) / case.lead_days


# ---------------------------------------------------------------- running


_MEMO: dict[str, tuple[Any, float]] = {}
_REUSED = [0.0]


def _memoised(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The engine's model fit and settings selection, computed once per input.

    Engine variants that differ only in how members are combined fit the same
    models; the first computes them, the others reuse the result (the engine
    is deterministic, so the output is the same) and are charged its time.
    """
    from forecasting import model

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        h = hashlib.sha256(str(model.YEARLY_MIN_SPAN).encode())
        for a in (*args, *kwargs.values()):
            if isinstance(a, np.ndarray):
                h.update(a.tobytes())
            elif isinstance(a, pd.Index):
                h.update(pd.Index(a).to_numpy().tobytes())
            elif hasattr(a, "y") and hasattr(a, "ds"):
                h.update(np.asarray(a.y).tobytes() + np.asarray(a.ds.asi8).tobytes())
                h.update(repr((a.as_of, a.grain, a.period_stat)).encode())
            else:
                h.update(repr(a).encode())
        key = f"{fn.__name__}:{h.hexdigest()}"
        if key in _MEMO:
            value, cost = _MEMO[key]
            _REUSED[0] += cost
            return value
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        _MEMO[key] = (value, time.perf_counter() - start)
        return value

    return wrapper


def _install_memo() -> None:
    from forecasting import engine

    if not getattr(engine, "_bench_memo", False):
        for name in ("select_settings", "fit_series"):
            setattr(engine, name, _memoised(getattr(engine, name)))
        setattr(engine, "_bench_memo", True)  # noqa: B010


def _task(args: tuple[Case, str, list[dict[str, Any]]]) -> list[Result]:
    case, method, variants = args
    if not method.startswith("capplan"):
        return [run_baseline(case, method)]
    _install_memo()
    _MEMO.clear()
    out = []
    for variant in variants:
        _REUSED[0] = 0.0
        r = run_capplan(case, variant)
        r.seconds += _REUSED[0]
        out.append(r)
    _MEMO.clear()
    return out


def run_all(
    cases: Sequence[Case],
    methods: Sequence[str],
    variants: dict[str, dict[str, Any]],
    jobs: int,
    cache: Path,
    progress: Callable[[str], None],
) -> dict[str, dict[str, Result]]:
    """Results by case id and method ("capplan:<variant>" for each engine variant)."""
    store = cache / "baselines.json"
    saved: dict[str, dict[str, Any]] = json.loads(store.read_text()) if store.exists() else {}
    results: dict[str, dict[str, Result]] = {c.id: {} for c in cases}
    todo: list[tuple[Case, str, list[dict[str, Any]]]] = []
    batch: dict[str, Case] = {}
    for c in cases:
        for m in methods:
            hit = saved.get(f"{c.key()}:{m}:{BASELINE_VERSION[m]}")
            if hit is not None:
                results[c.id][m] = Result(**hit)
            elif m in STATSFORECAST:
                batch[c.id] = c
            else:
                todo.append((c, m, []))
        # All engine variants of a case in one task, so they share its fits.
        todo.append((c, "capplan", list(variants.values())))
    if batch:
        for cid, by_method in run_statsforecast(list(batch.values())).items():
            c = batch[cid]
            for m, r in by_method.items():
                if m in methods and m not in results[cid]:
                    results[cid][m] = r
                    saved[f"{c.key()}:{m}:{BASELINE_VERSION[m]}"] = asdict(r)
                    progress(f"{cid:<60} {m:<18} err={error(c, r):.2f} {r.seconds:6.1f}s")
    # Slow tasks first, so the pool's tail is short.
    todo.sort(key=lambda t: (not t[1].startswith(("capplan", "prophet")), t[0].id))
    with ProcessPoolExecutor(max_workers=max(1, min(2, jobs))) as pool:
        for (c, m, _), rs in zip(todo, pool.map(_task, todo), strict=True):
            names = [f"capplan:{v}" for v in variants] if m == "capplan" else [m]
            for name, r in zip(names, rs, strict=True):
                results[c.id][name] = r
                if m != "capplan":
                    saved[f"{c.key()}:{m}:{BASELINE_VERSION[m]}"] = asdict(r)
                progress(f"{c.id:<60} {name:<18} err={error(c, r):.2f} {r.seconds:6.1f}s")
    cache.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(saved))
    return results


def loso(
    cases: Sequence[Case], results: dict[str, dict[str, Result]], variants: Sequence[str]
) -> tuple[dict[str, str], dict[str, Result]]:
    """Per source, the variant with the lowest mean error on every other source;
    returns that choice per source and the resulting held-out result per case."""
    sources = sorted({c.source for c in cases})
    chosen: dict[str, str] = {}
    held: dict[str, Result] = {}
    for s in sources:
        train = [c for c in cases if c.source != s]

        def mean_err(v: str, train: list[Case] = train) -> float:
            return float(np.mean([error(c, results[c.id][f"capplan:{v}"]) for c in train]))

        chosen[s] = min(variants, key=mean_err) if train else variants[0]
        for c in cases:
            if c.source == s:
                held[c.id] = results[c.id][f"capplan:{chosen[s]}"]
    return chosen, held


def table(title: str, cases: Sequence[Case], by_method: dict[str, dict[str, Result]]) -> str:
    domains = sorted({c.domain for c in cases})
    trend = [c for c in cases if c.kind == "trend"]
    head = f"{'method':<24} {'all':>5} {'trend':>5} " + " ".join(f"{d[:9]:>9}" for d in domains)
    head += f" {'cover':>5} {'width':>6} {'open':>5} {'refuse':>6} {'s/case':>7}"
    lines = [
        f"-- {title}: {len(cases)} cases, {len(trend)} trend, domains "
        + ", ".join(f"{d}={sum(c.domain == d for c in cases)}" for d in domains)
    ]
    lines.append(head)
    for name, res in by_method.items():

        def mean(cs: Sequence[Case], res: dict[str, Result] = res) -> str:
            return f"{np.mean([error(c, res[c.id]) for c in cs]):.3f}" if cs else "-"

        cov = np.mean([covered(c, res[c.id]) for c in cases])
        # An interval whose latest date lies beyond the horizon is open-ended:
        # its width is reported as a share ("open"), the median over the rest.
        widths = [rel_width(c, res[c.id]) for c in cases]
        widths = [w for w in widths if not math.isnan(w)]
        bounded = [w for w in widths if math.isfinite(w)]
        open_share = (len(widths) - len(bounded)) / len(widths) if widths else math.nan
        has_interval = any(res[c.id].earliest is not None for c in cases)
        row = f"{name:<24} {mean(cases):>5} {mean(trend):>5} "
        row += " ".join(f"{mean([c for c in cases if c.domain == d]):>9}" for d in domains)
        row += f" {cov:>5.2f}" if has_interval else f" {'-':>5}"
        row += f" {np.median(bounded):>6.2f}" if bounded and has_interval else f" {'-':>6}"
        row += f" {open_share:>5.2f}" if widths and has_interval else f" {'-':>5}"
        row += f" {sum(res[c.id].refused is not None for c in cases):>6}"
        row += f" {np.mean([res[c.id].seconds for c in cases]):>7.2f}"
        lines.append(row)
    return "\n".join(lines)


# The engine options validated here (EnsembleOptions, yearly seasonality):
# the shipped defaults first, then the alternatives they were chosen over.
DEFAULT_VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "prophet_only": {"members": ["prophet"]},
    "median": {"combine": "median"},
    "members_always": {"scope": "all"},
}


def variants_from(arg: str) -> dict[str, dict[str, Any]]:
    if not arg:
        return DEFAULT_VARIANTS
    data: dict[str, dict[str, Any]] = json.loads(
        Path(arg).read_text() if os.path.exists(arg) else arg
    )
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="a seeded sample of 24 cases")
    ap.add_argument("--cases", type=int, default=0, help="a seeded sample of N cases")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2)")
    ap.add_argument("--sets", default="corpus,real,cpu")
    ap.add_argument("--only", default="", help="only case ids containing this text")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument(
        "--variants",
        default="",
        help="JSON (or a file of it) {name: EnsembleOptions fields, or yearly_min_days}: "
        "the candidates chosen among leave-one-source-out (default: the shipped options "
        "and their alternatives)",
    )
    ap.add_argument("--rows", type=Path, help="write every case's results to this JSON")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not SF_PYTHON.exists():
        sys.exit(
            f"accuracy: {SF_PYTHON.relative_to(ROOT)} is missing; create it with "
            f"`make -C {ROOT} bench-venv`"
        )
    sets = set(args.sets.split(","))
    cases: list[Case] = []
    if "corpus" in sets:
        cases += corpus_cases()
    if "real" in sets:
        cases += real_cases(args.cache)
    if "cpu" in sets:
        cases += cpu_cases(args.cache)
    if args.only:
        cases = [c for c in cases if args.only in c.id]
    n = 24 if args.quick and not args.cases else args.cases
    if n and n < len(cases):
        idx = sorted(np.random.RandomState(7).choice(len(cases), n, replace=False))
        cases = [cases[i] for i in idx]
    variants = variants_from(args.variants)
    start = time.perf_counter()
    results = run_all(
        cases,
        BASELINES,
        variants,
        args.jobs,
        args.cache,
        (lambda m: print(m, flush=True)) if args.verbose else (lambda m: None),
    )
    names = list(variants)
    chosen, held = loso(cases, results, names)
    print(
        f"accuracy: {len(cases)} cases in {time.perf_counter() - start:.0f} s "
        f"({args.jobs} processes); capplan = leave-one-source-out choice among {names}"
    )
    if len(names) > 1:
        print(
            "LOSO choice per held-out source: " + ", ".join(f"{s}={v}" for s, v in chosen.items())
        )
    for set_name in ("corpus", "real", "cpu"):
        part = [c for c in cases if c.set == set_name]
        if not part:
            continue
        by_method: dict[str, dict[str, Result]] = {"capplan (LOSO)": held}
        if len(names) > 1:
            for v in names:
                by_method[f"capplan:{v}"] = {c.id: results[c.id][f"capplan:{v}"] for c in cases}
        for m in BASELINES:
            by_method[LABELS.get(m, m)] = {c.id: results[c.id][m] for c in cases}
        print(table(set_name, part, by_method))
    corpus = [c for c in cases if c.set == "corpus"]
    if corpus:
        all_err = float(np.mean([error(c, held[c.id]) for c in corpus]))
        trend = [c for c in corpus if c.kind == "trend"]
        tr_err = float(np.mean([error(c, held[c.id]) for c in trend])) if trend else math.nan
        cov = float(np.mean([covered(c, held[c.id]) for c in corpus]))
        print(
            f"targets (corpus, LOSO): all {all_err:.3f} <= {TARGETS['all']}: "
            f"{'met' if all_err <= TARGETS['all'] else 'NOT met'}; trend {tr_err:.3f} <= "
            f"{TARGETS['trend']}: {'met' if tr_err <= TARGETS['trend'] else 'NOT met'}; "
            f"coverage {cov:.2f} in 0.70-0.90: {'met' if 0.7 <= cov <= 0.9 else 'NOT met'}"
        )
    cpu = [c for c in cases if c.set == "cpu"]
    if cpu:
        mine = float(np.mean([error(c, held[c.id]) for c in cpu]))
        drift = float(np.mean([error(c, results[c.id]["drift"]) for c in cpu]))
        cov = float(np.mean([covered(c, held[c.id]) for c in cpu]))
        print(
            f"targets (cpu traces, LOSO): {mine:.3f} <= drift {drift:.3f}: "
            f"{'met' if mine <= drift else 'NOT met'}; coverage {cov:.2f} >= 0.6: "
            f"{'met' if cov >= 0.6 else 'NOT met'}"
        )
    refused = [(c.id, held[c.id].refused) for c in cases if held[c.id].refused]
    for cid, why in refused:
        print(f"refused {cid}: {why}")
    if args.rows:
        args.rows.write_text(
            json.dumps(
                {
                    c.id: {"case": asdict(c), **{m: asdict(r) for m, r in results[c.id].items()}}
                    for c in cases
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
