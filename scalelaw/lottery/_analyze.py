"""Seed-outcome distributions per model size, and their trend across scale."""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_random_state
from scalelaw.exceptions import DataValidationError, ExcludedRowsWarning
from scalelaw.lottery._best_of_k import best_of_k, extrapolate_best_of_k
from scalelaw.lottery._outliers import find_outliers, robust_scale
from scalelaw.lottery._tails import COVERAGE_NOTE, MIN_RUNS_FOR_TAIL, fit_tails, tail_ratio
from scalelaw.lottery._transforms import (
    TRANSFORMS,
    binomial_sd,
    delta_method_sd,
    transform_metric,
)

__all__ = ["LotteryGroup", "LotteryResult", "analyze_lottery"]

#: Below this many runs no tail index is estimated (the tail would hold 5 runs or fewer).
MIN_RUNS_FOR_XI = 20
#: Values of larger magnitude are refused: their squares overflow the variance.
MAX_ABS_VALUE = 1e150
#: Best-of-k sizes reported (those up to the number of runs).
BEST_OF_K = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
#: Extrapolated best-of-k sizes (beyond the runs; needs 25 runs or more).
EXTRAPOLATED_K = (100, 1000)
STATUS_FAILED = ("diverged", "failed", "nan")


@dataclass(frozen=True)
class LotteryGroup:
    """The outcome distribution at one model size.

    Spread and tails are on the analysed (transformed) scale; ``best_of_k*``,
    outliers' ``value`` and ``median_metric`` are on the metric's own scale.
    ``xi_upper`` / ``xi_lower``: moment estimates of the extreme-value index
    of each tail (bootstrap intervals); ``xi_*_gpd``: generalised Pareto fits
    (profile-likelihood intervals); ``tail_size``: runs in each tail.
    ``tail_class_*`` needs both estimators to agree (else ``undecided``);
    ``tail_reason_*`` says why. ``failures``: runs set aside by the
    failure-mixture option (their rows), with ``failure_share`` and its
    Clopper-Pearson interval. ``rows`` and ``values``: every analysed run's
    input row and transformed value.
    """

    size: float | None
    n_runs: int
    mean: float
    sd: float
    median: float
    mad: float
    tail_ratio: float
    xi_upper: float
    xi_upper_ci: tuple[float, float]
    xi_upper_gpd: float
    xi_upper_gpd_ci: tuple[float, float]
    tail_class_upper: str
    tail_reason_upper: str
    xi_lower: float
    xi_lower_ci: tuple[float, float]
    xi_lower_gpd: float
    xi_lower_gpd_ci: tuple[float, float]
    tail_class_lower: str
    tail_reason_lower: str
    outliers: list[dict]
    best_of_k: dict[int, float]
    best_of_k_plugin: dict[int, float]
    best_of_k_extrapolated: dict[int, float]
    failures: list[int] = field(default_factory=list)
    failure_share: float = 0.0
    failure_share_ci: tuple[float, float] = (0.0, 0.0)
    null_sd: float | None = None
    sd_over_null: float | None = None
    tail_size: int = 0
    rows: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``best_of_k`` keys become strings)."""
        d = asdict(self)
        for key in ("best_of_k", "best_of_k_plugin", "best_of_k_extrapolated"):
            d[key] = {str(k): v for k, v in d[key].items()}
        return d


@dataclass(frozen=True)
class LotteryResult:
    """Per-size groups, the trend across sizes and the settings that produced them."""

    groups: list[LotteryGroup]
    trend: dict[str, Any]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """``{"groups": [...], "trend": {...}, "settings": {...}}``."""
        return {"groups": [g.to_dict() for g in self.groups], "trend": self.trend,
                "settings": self.settings}

    def to_frame(self) -> pd.DataFrame:
        """One row per size: the scalar columns (the name every result table has).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"loss": rng.normal(1, 0.1, 40)})
        >>> analyze_lottery(df, "loss", n_boot=20).to_frame()[["n_runs", "n_outliers"]]
           n_runs  n_outliers
        0      40           0
        """
        keep = ("size", "n_runs", "mean", "sd", "median", "mad", "tail_ratio", "xi_upper",
                "tail_class_upper", "xi_lower", "tail_class_lower", "failure_share")
        return pd.DataFrame([{k: getattr(g, k) for k in keep} | {
            "n_outliers": len(g.outliers)} for g in self.groups])


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(map(str, rows[:6].tolist()))
    return f"row{'s' if rows.size > 1 else ''} {shown}{', ...' if rows.size > 6 else ''}"


def _validate(df: pd.DataFrame, value: str, size: str | None, seed: str | None,
              status: str | None) -> None:
    for role, col in (("value", value), ("size", size), ("seed", seed), ("status", status)):
        if col is not None and col not in df.columns:
            raise DataValidationError(f"{role} column {col!r} is not in the table (columns: "
                                      f"{', '.join(map(str, df.columns))})", column=col)
    if len(df) == 0:
        raise DataValidationError("the table has no rows", column=value)
    v = pd.to_numeric(df[value], errors="coerce")
    bad = np.flatnonzero(v.isna() & df[value].notna())
    if bad.size:
        raise DataValidationError(f"{value}: row {bad[0]} is {df[value].iloc[bad[0]]!r}, "
                                  f"expected a number ({bad.size} such rows)", column=value,
                                  rows=bad.tolist())
    vals = v.to_numpy(dtype=float)
    huge = np.flatnonzero(np.isfinite(vals) & (np.abs(vals) > MAX_ABS_VALUE))
    if huge.size:
        raise DataValidationError(
            f"{value}: {_rows_text(huge)} {'are' if huge.size > 1 else 'is'} "
            f"{vals[huge[0]]:.3g}{' ...' if huge.size > 1 else ''}; magnitudes above "
            f"{MAX_ABS_VALUE:.0e} overflow the variance: rescale the column (a unit change)",
            column=value, rows=huge.tolist())
    if size is not None:
        s = pd.to_numeric(df[size], errors="coerce")
        bad = np.flatnonzero(s.isna() | ~np.isfinite(s.to_numpy(dtype=float)))
        if bad.size:
            raise DataValidationError(f"{size}: row {bad[0]} is {df[size].iloc[bad[0]]!r}, "
                                      "expected a model size (a finite number)", column=size,
                                      rows=bad.tolist())
        bad = np.flatnonzero(s.to_numpy(dtype=float) <= 0)
        if bad.size:
            raise DataValidationError(
                f"{size}: {_rows_text(bad)} {'have' if bad.size > 1 else 'has'} size "
                f"{float(s.iloc[bad[0]]):g}; a model size must be positive", column=size,
                rows=bad.tolist())
    if seed is not None:
        keys = [size, seed] if size is not None else [seed]
        dup = np.flatnonzero(df.duplicated(keys, keep=False).to_numpy())
        if dup.size:
            raise DataValidationError(
                f"{seed}: rows {dup[:6].tolist()} repeat the same seed"
                f"{' at the same size' if size else ''}; one row per run is expected "
                "(reduce a long table to final values first)", column=seed, rows=dup.tolist())


def _check_settings(transform: str, n_test: int | None, false_flag_rate: float, n_boot: int,
                    level: float) -> None:
    if transform not in TRANSFORMS:
        raise DataValidationError(f"transform must be one of {TRANSFORMS}, got {transform!r}",
                                  column="transform")
    if n_test is not None and (isinstance(n_test, bool) or not isinstance(n_test, int | np.integer)
                               or n_test < 1):
        raise DataValidationError(f"n_test must be a positive integer (the test-set size), got "
                                  f"{n_test!r}", column="n_test")
    if not 0 < false_flag_rate < 1:
        raise DataValidationError(f"false_flag_rate must lie in (0, 1), got {false_flag_rate!r}",
                                  column="false_flag_rate")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 20:
        raise DataValidationError(f"n_boot must be an integer >= 20 (bootstrap replicas), got "
                                  f"{n_boot!r}", column="n_boot")
    if not 0 < level < 1:
        raise DataValidationError(f"level must lie in (0, 1), got {level!r}", column="level")


def _share_ci(k: int, n: int, level: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a share ``k / n``."""
    from scipy import stats  # imported here: scipy.stats is slow to import

    ci = stats.binomtest(k, n).proportion_ci(level, method="exact")
    return float(ci.low), float(ci.high)


def _tails(x: np.ndarray, rng: np.random.Generator, n_boot: int, level: float
           ) -> tuple[dict, dict]:
    """Both tails of one group (the upper tail of ``x`` and of ``-x``), fitted together."""
    nan2 = (float("nan"), float("nan"))
    if x.size < MIN_RUNS_FOR_XI or np.ptp(x) == 0:
        why = (f"{x.size} runs: a tail index needs at least {MIN_RUNS_FOR_XI}"
               if x.size < MIN_RUNS_FOR_XI else "every run has the same value")
        empty = {"xi": float("nan"), "ci": nan2, "gpd": float("nan"), "gpd_ci": nan2,
                 "cls": "undecided", "reason": why, "k": 0, "boots": np.full(n_boot, np.nan)}
        return empty, dict(empty)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fits = fit_tails(np.stack([x, -x]), level=level, n_boot=n_boot, random_state=rng)
    up, lo = ({"xi": f.xi_moment, "ci": f.xi_moment_ci, "gpd": f.xi_gpd, "gpd_ci": f.xi_gpd_ci,
               "cls": f.tail_class, "reason": f.reason, "k": f.tail_size, "boots": f.boots}
              for f in fits)
    return up, lo


def _best_of_k(raw: np.ndarray, transform: str, higher_is_better: bool
               ) -> tuple[list[int], np.ndarray, np.ndarray, list[int], np.ndarray]:
    """Best-of-k on the metric's own scale: the order statistics of the raw values (a
    monotone transform keeps their order); the extrapolated tail is fitted on the
    analysed scale and mapped back."""
    ks = [k for k in BEST_OF_K if k <= raw.size]
    ek = [k for k in EXTRAPOLATED_K if k > raw.size] if raw.size >= 25 else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        extra = (extrapolate_best_of_k(raw, ek, higher_is_better=higher_is_better,
                                       transform=transform) if ek else np.array([]))
    bok = best_of_k(raw, ks, higher_is_better=higher_is_better) if ks else np.array([])
    plug = (best_of_k(raw, ks, method="plugin", higher_is_better=higher_is_better)
            if ks else np.array([]))
    return ks, bok, plug, ek, np.asarray(extra, dtype=float)


def _group(raw: np.ndarray, rows: np.ndarray, size: float | None, *, transform: str,
           higher_is_better: bool, failures: bool, failed: np.ndarray,
           false_flag_rate: float, n_boot: int, level: float, n_test: int | None,
           rng: np.random.Generator) -> tuple[LotteryGroup, dict[str, np.ndarray]]:
    x = transform_metric(raw, transform)
    outl = find_outliers(x, false_flag_rate=false_flag_rate, rows=rows)
    fail_mask = failed.copy()
    if failures:
        bad_side = "low" if higher_is_better else "high"
        flagged = {o.row for o in outl if o.side == bad_side}
        fail_mask |= np.isin(rows, list(flagged))
    bulk = x[~fail_mask]
    n_fail = int(fail_mask.sum())
    share_ci = _share_ci(n_fail, x.size, level) if x.size else None
    up, lo = _tails(bulk, rng, n_boot, level)
    ks, bok, bok_plugin, ek, extra = _best_of_k(raw[~fail_mask], transform, higher_is_better)
    null_sd = ratio = None
    sd = float(np.std(bulk, ddof=1)) if bulk.size > 1 else float("nan")
    if n_test is not None and transform in ("none", "logit") and bulk.size:
        acc = float(np.mean(raw[~fail_mask]))
        if 0 < acc < 1:
            null_sd = delta_method_sd(acc, binomial_sd(acc, n_test), transform)
            ratio = sd / null_sd if null_sd > 0 else None
    empty = not bulk.size
    g = LotteryGroup(
        size=size, n_runs=int(x.size), mean=float("nan") if empty else float(np.mean(bulk)),
        sd=sd, median=float("nan") if empty else float(np.median(bulk)),
        mad=robust_scale(bulk) / 1.4826 if bulk.size else float("nan"),
        tail_ratio=tail_ratio(bulk) if bulk.size >= 4 else float("nan"),
        xi_upper=up["xi"], xi_upper_ci=up["ci"], xi_upper_gpd=up["gpd"],
        xi_upper_gpd_ci=up["gpd_ci"], tail_class_upper=up["cls"],
        tail_reason_upper=up["reason"],
        xi_lower=lo["xi"], xi_lower_ci=lo["ci"], xi_lower_gpd=lo["gpd"],
        xi_lower_gpd_ci=lo["gpd_ci"], tail_class_lower=lo["cls"],
        tail_reason_lower=lo["reason"],
        outliers=[o.to_dict() | {"value": float(raw[np.flatnonzero(rows == o.row)[0]])}
                  for o in outl],
        best_of_k=dict(zip(ks, bok.tolist(), strict=True)),
        best_of_k_plugin=dict(zip(ks, bok_plugin.tolist(), strict=True)),
        best_of_k_extrapolated=dict(zip(ek, extra.tolist(), strict=True)),
        failures=[int(r) for r in rows[fail_mask]], failure_share=n_fail / max(x.size, 1),
        failure_share_ci=share_ci or (0.0, 0.0),
        null_sd=null_sd, sd_over_null=ratio, tail_size=up["k"], rows=[int(r) for r in rows],
        values=[float(v) for v in x])
    return g, {"upper": up["boots"], "lower": lo["boots"], "bulk": bulk}


def analyze_lottery(
    data: pd.DataFrame | str | os.PathLike[str],
    value: str,
    *,
    size: str | None = None,
    seed: str | None = None,
    status: str | None = None,
    transform: str = "none",
    higher_is_better: bool = False,
    failures: bool = False,
    n_test: int | None = None,
    false_flag_rate: float = 0.05,
    n_boot: int = 200,
    level: float = 0.95,
    random_state: RandomStateLike = 0,
) -> LotteryResult:
    """Seed-outcome distribution per model size: spread, tails, outliers, best-of-k, trend.

    Spread and tails are computed on the transformed metric (``transform``);
    outliers' values and the expected best of ``k`` runs are reported on the
    metric's own scale (the best of ``k`` accuracies, not of their logits).

    Parameters
    ----------
    data : pandas.DataFrame or path
        One row per run (csv, parquet, json or jsonl when a path).
    value : str
        The outcome column (a loss, an accuracy, ...).
    size : str, optional
        Model-size column (positive numbers); one group per distinct size.
        Without it, one group.
    seed : str, optional
        Seed column, checked for one row per (size, seed).
    status : str, optional
        Run-status column; rows whose status is ``diverged``, ``failed`` or
        ``nan`` count as failures (with ``failures=True``) or are excluded with a
        count (otherwise).
    transform : {"none", "logit", "log"}, default="none"
        ``logit`` for accuracies, ``log`` for errors or losses.
    higher_is_better : bool, default=False
        Orientation of the metric (losses: ``False``; accuracies: ``True``) for
        best-of-k and for which side failures sit on.
    failures : bool, default=False
        Failure mixture: runs flagged as outliers on the bad side (and failed
        statuses) are set aside as failures, reported with their share, and
        the distribution is described on the remaining bulk.
    n_test : int, optional
        Test-set size, for the binomial sd of an accuracy (``transform`` none
        or logit); reported as ``null_sd`` and ``sd_over_null``.
    false_flag_rate : float, default=0.05
        Chance that the outlier rule flags any run of a clean Gaussian group.
    n_boot : int, default=200
        Bootstrap replicas of the moment estimator (at least 20).
    level : float, default=0.95
        Interval coverage.
    random_state : int or numpy.random.Generator, default=0
        Seed or generator of the bootstrap.

    Returns
    -------
    LotteryResult
        Groups sorted by size, the trend (with three or more sizes) and the
        settings (with ``xi_coverage``: what the intervals of ``xi`` cover).

    Raises
    ------
    DataValidationError
        A missing column, a non-numeric value, a value of magnitude above
        1e150, a size that is not a positive number, a repeated seed, a value
        outside the transform's domain, or a bad setting, before any work.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"acc": np.r_[rng.normal(0.9, 0.003, 9), 0.1], "seed": range(10)})
    >>> res = analyze_lottery(df, "acc", seed="seed", transform="logit", higher_is_better=True)
    >>> g = res.groups[0]
    >>> g.tail_class_upper, [o["row"] for o in g.outliers]
    ('undecided', [9])
    """
    from scalelaw.io import read_table

    df = read_table(data) if isinstance(data, (str, os.PathLike)) else data
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError("data must be a DataFrame or a path to a table",
                                  column="data")
    df = df.reset_index(drop=True)
    _check_settings(transform, n_test, false_flag_rate, n_boot, level)
    rng = check_random_state(random_state)
    _validate(df, value, size, seed, status)
    raw_all = pd.to_numeric(df[value], errors="coerce").to_numpy(dtype=float)
    transform_metric(raw_all[np.isfinite(raw_all)], transform, name=value)  # domain check
    failed = ~np.isfinite(raw_all)
    if status is not None:
        failed |= df[status].astype(str).str.lower().isin(STATUS_FAILED).to_numpy()
    if failed.any() and not failures:
        warnings.warn(f"{int(failed.sum())} of {len(df)} runs excluded (non-finite {value}"
                      f"{' or a failed ' + status if status else ''}: rows "
                      f"{np.flatnonzero(failed)[:10].tolist()}); failures=True (--failures) "
                      "reports them as a failure share instead", ExcludedRowsWarning,
                      stacklevel=2)
    sizes = (sorted(pd.to_numeric(df[size]).unique()) if size is not None else [None])
    groups, boots = [], []
    for s in sizes:
        in_group = (np.ones(len(df), bool) if s is None else
                    (pd.to_numeric(df[size]) == s).to_numpy())
        # failed runs (non-finite values included) are excluded, or kept as failures
        rows = np.flatnonzero(in_group & (~failed | failures))
        finite = np.isfinite(raw_all[rows])
        # non-finite failures are counted as failures only; their value is not analysed
        g, b = _group(raw_all[rows][finite], rows[finite], None if s is None else float(s),
                      transform=transform, higher_is_better=higher_is_better,
                      failures=failures, failed=failed[rows][finite],
                      false_flag_rate=false_flag_rate, n_boot=n_boot, level=level,
                      n_test=n_test, rng=rng)
        if failures and (~finite).any():
            n_all = rows.size
            fails = sorted(g.failures + rows[~finite].tolist())
            g = replace(g, n_runs=n_all, failures=fails, failure_share=len(fails) / n_all,
                        failure_share_ci=_share_ci(len(fails), n_all, level))
        groups.append(g)
        boots.append(b)
    from scalelaw import __version__
    from scalelaw.lottery._trend import trend_across_sizes

    settings = {"value": value, "size": size, "seed": seed, "status": status,
                "transform": transform, "higher_is_better": higher_is_better,
                "failures": failures, "n_test": n_test, "false_flag_rate": false_flag_rate,
                "n_boot": n_boot, "level": level,
                "random_state": random_state if not isinstance(
                    random_state, np.random.Generator) else "generator",
                "scalelaw": __version__, "n_rows": len(df),
                "n_excluded": 0 if failures else int(failed.sum()),
                "min_runs_for_tail_class": MIN_RUNS_FOR_TAIL, "xi_coverage": COVERAGE_NOTE,
                "best_of_k_scale": "metric"}
    return LotteryResult(groups, trend_across_sizes(groups, boots, level=level), settings)
