"""Scaling exponents of a slice of runs: fitted over a stated window, with their uncertainty."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_int, check_level
from scalelaw.exceptions import DataValidationError
from scalelaw.stats import aggregate_by_size
from scalelaw.theory._intervals import INTERVALS, AxisFit, fit_axis
from scalelaw.theory._runs import RunGrid, grid_means, run_grid
from scalelaw.theory._window import (
    PLAUSIBLE_LEVEL,
    WINDOW_TEST_LEVEL,
    check_window,
    interpolating_window,
)

__all__ = ["ExponentFit", "WindowCandidate", "aggregate", "fit_exponent"]


def _num(v: Any) -> Any:
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


def _pair(p: tuple[float, float] | None) -> list | None:
    return None if p is None else [_num(p[0]), _num(p[1])]


@dataclass(frozen=True)
class WindowCandidate:
    """One window the rule considered: the sizes ``[0, n)`` of the candidate range.

    Attributes
    ----------
    window : tuple of float
        Smallest and largest size.
    n_points : int
        Sizes in it.
    alpha : float
        Its exponent.
    ci : tuple of float
        Its own interval (before the hull over plausible windows).
    pvalue : float or None
        Straightness p-value (None when the window was given, not chosen).
    chosen : bool
        The rule's choice.
    plausible : bool
        Counted in the interval (the choice, or a longer window the
        straightness test cannot rule out).
    """

    window: tuple[float, float]
    n_points: int
    alpha: float
    ci: tuple[float, float]
    pvalue: float | None
    chosen: bool
    plausible: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields.

        Returns
        -------
        dict
            ``window, n_points, alpha, ci, pvalue, chosen, plausible``.
        """
        return {"window": _pair(self.window), "n_points": self.n_points,
                "alpha": _num(self.alpha), "ci": _pair(self.ci), "pvalue": _num(self.pvalue),
                "chosen": self.chosen, "plausible": self.plausible}


@dataclass(frozen=True)
class ExponentFit:
    """An exponent ``alpha`` of ``L ~ x^-alpha`` (or of ``L - L_inf``).

    Attributes
    ----------
    alpha : float
        The exponent used by the checks: against the size less the
        finite-sample correction when ``correction_applied``, else against the
        size itself.
    ci : tuple of float
        Its interval (``ci_method`` says how); it spans every window the
        straightness test cannot rule out.
    level : float
        Coverage of ``ci``.
    window : tuple of float
        Smallest and largest size of the chosen window.
    n_points : int
        Sizes in the window.
    rule : str
        How the window was chosen.
    sensitivity : tuple of float
        Smallest and largest exponent over the neighbouring windows (one size
        more or fewer at either end).
    alpha_raw : float or None
        The exponent against the size itself.
    l_inf_source : str
        ``"none"``, ``"given"`` (subtracted per run) or ``"fitted"``.
    correction : str or None
        The corrected abscissa (e.g. ``"n_train - n_params - 1"``) when one was
        computed.
    converged : bool
        The fit converged.
    notes : tuple of str
        Excluded runs and sizes, the window's story, the floor at its bound,
        bootstrap failures.
    ci_method : str
        How ``ci`` was computed.
    ci_raw : tuple of float or None
        Interval of ``alpha_raw``.
    alpha_corrected, ci_corrected : float, tuple or None
        The exponent against the corrected abscissa and its interval (when a
        correction column was given, applied or not).
    correction_applied : bool
        ``alpha`` is the corrected exponent.
    correction_reason : str
        Why the correction was or was not applied.
    candidates : tuple of WindowCandidate
        Every window the rule considered.
    n_boot, n_boot_failed : int
        Bootstrap draws and how many failed (0 and 0 without a bootstrap).
    curve : tuple of tuple
        ``(sizes, power term)`` over the window (for plots).
    points : tuple of tuple
        ``(sizes, per-size mean less L_inf)`` at every size (for plots).
    """

    alpha: float
    ci: tuple[float, float]
    level: float
    window: tuple[float, float]
    n_points: int
    rule: str
    sensitivity: tuple[float, float]
    alpha_raw: float | None = None
    l_inf_source: str = "none"
    correction: str | None = None
    converged: bool = True
    notes: tuple[str, ...] = ()
    ci_method: str = "t interval of the fit to the per-size means"
    ci_raw: tuple[float, float] | None = None
    alpha_corrected: float | None = None
    ci_corrected: tuple[float, float] | None = None
    correction_applied: bool = False
    correction_reason: str = ""
    candidates: tuple[WindowCandidate, ...] = ()
    n_boot: int = 0
    n_boot_failed: int = 0
    curve: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    points: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (plot data included).

        Returns
        -------
        dict
            Every attribute, candidates as dicts.
        """
        return {"alpha": _num(self.alpha), "ci": _pair(self.ci), "level": self.level,
                "window": _pair(self.window), "n_points": self.n_points, "rule": self.rule,
                "sensitivity": _pair(self.sensitivity), "alpha_raw": _num(self.alpha_raw),
                "ci_raw": _pair(self.ci_raw), "alpha_corrected": _num(self.alpha_corrected),
                "ci_corrected": _pair(self.ci_corrected),
                "correction": self.correction, "correction_applied": self.correction_applied,
                "correction_reason": self.correction_reason, "l_inf_source": self.l_inf_source,
                "converged": self.converged, "notes": list(self.notes),
                "ci_method": self.ci_method, "n_boot": self.n_boot,
                "n_boot_failed": self.n_boot_failed,
                "candidates": [c.to_dict() for c in self.candidates],
                "curve": {"x": list(self.curve[0]), "y": list(self.curve[1])},
                "points": {"x": list(self.points[0]), "y": list(self.points[1])}}


def aggregate(data: pd.DataFrame, x: str, y: str, *, train: str | None = None,
              l_inf: str | None = None, correction: str | None = None) -> pd.DataFrame:
    """One row per size: geometric means over seeds (Bahri et al.: log-loss averaged).

    Runs with a missing or non-positive loss are excluded and counted in
    ``attrs["n_dropped"]``.

    Parameters
    ----------
    data : pandas.DataFrame
        Runs.
    x, y : str
        Size and loss columns.
    train, l_inf, correction : str, optional
        More columns: ``train`` (geometric mean), ``l_inf`` and ``correction``
        (arithmetic means).

    Returns
    -------
    pandas.DataFrame
        Columns ``x``, ``y``, ``n_runs`` and, when given, ``train``, ``l_inf``,
        ``correction``; sorted by ``x``.

    Examples
    --------
    >>> df = pd.DataFrame({"n_train": [10, 10, 20], "test_loss": [1.0, 4.0, 0.5]})
    >>> aggregate(df, "n_train", "test_loss")[["x", "y", "n_runs"]].values.tolist()
    [[10.0, 2.0, 2.0], [20.0, 0.5, 1.0]]
    """
    cols = {y: "geometric"}
    names = {x: "x", y: "y"}
    if train is not None:
        tr = pd.to_numeric(data[train], errors="coerce") if train in data.columns else None
        if tr is None:
            raise DataValidationError(f"Column {train!r} is not in the data.", column=train)
        data = data.assign(**{train: np.maximum(tr, 1e-300)})
        cols[train] = "geometric"
        names[train] = "train"
    for key, c in (("l_inf", l_inf), ("correction", correction)):
        if c is not None:
            cols[c] = "arithmetic"
            names[c] = key
    out = aggregate_by_size(data, x, cols)
    n_drop = out.attrs["n_dropped"]
    out = out.rename(columns=names)
    out.attrs["n_dropped"] = n_drop
    return out


def _shared_replicates(grid: RunGrid) -> bool:
    """Replicate identities with 3 or more replicates, each at more than one size."""
    if grid.clusters is None or grid.values.shape[0] < 3:
        return False
    return bool((np.isfinite(grid.values).sum(axis=1) >= 2).all())


def _choose(window: Any, regime: str, grid: RunGrid) -> tuple[int, int, str, bool]:
    """The candidate range ``[start, stop)``, the rule, and whether to choose inside it."""
    xv = grid.sizes
    if isinstance(window, tuple | list):
        a, b = check_window(window, xv)
        return a, b, f"given window [{window[0]:g}, {window[1]:g}]", False
    if window == "all" or regime == "variance":
        if window not in ("all", "auto"):
            raise DataValidationError(f"window must be 'auto', 'all' or (lo, hi); got "
                                      f"{window!r}.", column="window")
        return 0, len(xv), "every size", False
    if window != "auto":
        raise DataValidationError(f"window must be 'auto', 'all' or (lo, hi); got "
                                  f"{window!r}.", column="window")
    step = (f"step-down straightness rule (test at {WINDOW_TEST_LEVEL:g}; interval over the "
            f"windows with p >= {PLAUSIBLE_LEVEL:g})")
    if grid.train is not None:
        a, b = interpolating_window(xv, grid.train / grid.test)
        if b > a:
            return a, b, ("sizes where the model interpolates (train/test < 0.1), then the "
                          + step), True
        return 0, len(xv), ("no size interpolates (train/test >= 0.1: data-rich, as in model "
                            f"scaling with D >> P), so the {step} over every size"), True
    return 0, len(xv), step + " over every size", True


def fit_exponent(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    regime: str,
    window: str | tuple[float, float] = "auto",
    train: str | None = None,
    l_inf: str | float | None = None,
    correction: str | None = None,
    apply_correction: bool | None = None,
    level: float = 0.95,
    interval: str = "auto",
    n_boot: int = 1000,
    random_state: RandomStateLike = 0,
) -> ExponentFit:
    """Fit the scaling exponent of one slice (one width, or one data size).

    Parameters
    ----------
    data : pandas.DataFrame
        Runs of the slice (seeds as separate rows; replicate columns ``seed``,
        ``data_seed``, ``noise_seed`` identify a replicate across sizes).
    x, y : str
        Size and loss columns.
    regime : {"resolution", "variance"}
        Resolution-limited: ``L ~ x^-alpha`` on the per-size geometric mean
        over runs (log-loss averaged). Variance-limited:
        ``L - L_inf ~ x^-alpha`` on the per-size arithmetic mean (the
        expectation the prediction is about).
    window : {"auto", "all"} or (lo, hi), default="auto"
        ``"auto"``: resolution-limited, the sizes where the model interpolates
        (train/test below 0.1, contiguous from the smallest) when ``train`` is
        given, else every size; inside that range, the step-down
        straightness rule (:func:`~scalelaw.theory.curvature_window`).
        Variance-limited: every size.
    train : str, optional
        Training-loss column (for the interpolation rule).
    l_inf : str or float, optional
        Variance-limited: the limit ``L_inf``, subtracted from each run's loss
        before averaging (a column, e.g. the linearised model's loss from the
        same initialisation, paired run by run; or a value); default: a free
        offset fitted with the law (``L_inf + A x^-alpha``, ``L_inf >= 0``).
    correction : str, optional
        Variance-limited: a column subtracted (plus 1) from the size, least
        squares' finite-sample factor (``"n_params"`` for data scaling: the
        excess of a model linear in its parameters falls as
        ``1 / (D - P - 1)``). Both exponents are computed.
    apply_correction : bool, optional
        Report the corrected exponent as ``alpha`` (default: when
        ``correction`` is given).
    level : float, default=0.95
        Interval coverage.
    interval : {"auto", "t", "cluster", "bootstrap"}, default="auto"
        ``"t"``: Student-t on the fit to the per-size means; ``"cluster"``:
        cluster-robust over replicates, Student-t with ``G - 1`` degrees of
        freedom (needs replicate columns); ``"bootstrap"``: percentile
        bootstrap of the whole procedure, the window's choice included (failed
        draws counted). ``"auto"``: ``"cluster"`` when the table identifies 3
        or more replicates shared across sizes (runs of one replicate may be
        correlated across sizes: a replicate's own slope makes the t interval
        cover 0.32-0.86 in simulation), else ``"t"``.
    n_boot : int, default=1000
        Bootstrap draws (``interval="bootstrap"``).
    random_state : int, Generator or None, default=0
        Seed of the bootstrap.

    Returns
    -------
    ExponentFit
        The exponent, its interval, window, candidates and sensitivity.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> D = np.repeat(2.0 ** np.arange(5, 12), 2)
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"n_train": D, "test_loss": 3 * D ** -0.8
    ...                    * np.exp(0.02 * rng.standard_normal(D.size))})
    >>> e = fit_exponent(df, "n_train", "test_loss", regime="resolution")
    >>> print(f"{e.alpha:.2f}", e.ci[0] < 0.8 < e.ci[1], e.n_points)
    0.81 True 7
    """
    if regime not in ("resolution", "variance"):
        raise DataValidationError(f"regime must be 'resolution' or 'variance'; got "
                                  f"{regime!r}.", column="regime")
    if interval not in INTERVALS:
        raise DataValidationError(f"interval must be one of {list(INTERVALS)}; got "
                                  f"{interval!r}.", column="interval")
    level = check_level(level)
    if interval == "bootstrap":
        check_int(n_boot, "n_boot", minimum=10)
    floor = regime == "variance" and l_inf is None
    how = "geometric" if regime == "resolution" else "arithmetic"
    grid = run_grid(data, x, y, how=how, l_inf=l_inf if regime == "variance" else None,
                    train=train, other=correction)
    shared = _shared_replicates(grid)
    if interval == "cluster" and not shared:
        raise DataValidationError(
            "interval='cluster' needs 3 or more replicates shared across sizes: one of the "
            "columns 'seed', 'data_seed', 'noise_seed', with one run per replicate and size.",
            column="interval")
    notes = []
    if interval == "auto":
        interval = "cluster" if shared else "t"
        if not shared:
            notes.append("t interval: runs treated as independent across sizes (no 3 or "
                         "more replicates identified across sizes by seed, data_seed or "
                         "noise_seed)")
    if grid.n_dropped:
        notes.append(f"{grid.n_dropped} run(s) excluded: size or loss"
                     f"{' or L_inf' if isinstance(l_inf, str) else ''} missing, not a "
                     "number, infinite or not positive")
    means = grid_means(grid.values, how)[0] if grid.sizes.size else np.array([])
    keep = np.isfinite(means) & (means > 0)
    corrected = None
    if correction is not None:
        corrected = grid.sizes - grid.other - 1.0
        keep &= corrected > 0
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} size(s) with no positive mean excess over L_inf "
                     "or no room for the correction excluded")
        grid = grid.subset(keep)
        corrected = None if corrected is None else corrected[keep]
    start, stop, rule, auto = _choose(window, regime, grid)
    if stop - start < 3:
        raise DataValidationError(
            f"Only {stop - start} size(s) in the window ({rule}); an exponent needs at least "
            "3 (4 for an interval with two degrees of freedom).", column=x)
    cut = grid.subset(np.isin(np.arange(grid.sizes.size), np.arange(start, stop)))
    _check_falls(cut, x, y, excess=regime == "variance" and l_inf is not None)
    kw = {"floor": floor, "auto": auto, "level": level, "interval": interval,
          "n_boot": n_boot, "random_state": random_state}
    raw = fit_axis(cut, cut.sizes, **kw)
    corr = None if corrected is None else fit_axis(cut, corrected[start:stop], **kw)
    applied = corr is not None and (apply_correction is None or bool(apply_correction))
    used: AxisFit = corr if applied and corr is not None else raw
    return _result(grid, cut, used, raw, corr, applied, start, rule, auto, regime, floor,
                   correction, x, level, notes)


def _check_falls(cut: RunGrid, x: str, y: str, *, excess: bool) -> None:
    """Refuse a loss that does not fall with the size over the window: no exponent to fit.

    The least-squares slope of the log per-size means against ``log x``; a
    fit of ``x^-alpha`` to a rising curve ends at its bound (``alpha = 0``) or
    at a meaningless exponent instead.
    """
    means = grid_means(cut.values, cut.how)[0]
    u, v = np.log(cut.sizes), np.log(means)
    if not (np.isfinite(u).all() and np.isfinite(v).all()) or u.size < 2:
        return
    slope = float(np.polyfit(u, v, 1)[0])
    if slope >= 0:
        what = f"{y} - L_inf" if excess else y
        raise DataValidationError(
            f"{what} does not fall with {x} over the window ({cut.sizes[0]:g} to "
            f"{cut.sizes[-1]:g}; per-size means from {means[0]:.4g} to {means[-1]:.4g}, "
            f"log-log slope {slope:+.3g}): there is no scaling exponent to fit. Check "
            "--x and --y (a loss, not an accuracy), or the window.", column=y)


def _result(grid: RunGrid, cut: RunGrid, used: AxisFit, raw: AxisFit, corr: AxisFit | None,
            applied: bool, start: int, rule: str, auto: bool, regime: str, floor: bool,
            correction: str | None, x: str, level: float, notes: list[str]) -> ExponentFit:
    sizes = cut.sizes
    stop = used.stop
    n_tested = len(used.windows)
    if auto and stop < cut.sizes.size:
        tested = [w for w in used.windows if w["n_points"] > stop]
        ps = ", ".join(f"{w['n_points']} sizes: p = {w['pvalue']:.2g}" for w in
                       sorted(tested, key=lambda w: -w["n_points"]))
        notes.append(f"straightness rejected for the longer window(s) ({ps}); the largest "
                     f"{cut.sizes.size - stop} size(s) left out")
    if not used.converged:
        notes.append("the fit did not converge")
    if used.n_failed:
        notes.append(f"{used.n_failed} of {used.n_boot} bootstrap draws failed")
    notes.extend(used.notes)
    means = grid_means(grid.values, grid.how)[0]
    limit = (np.full(grid.sizes.size, used.floor) if floor else np.zeros(grid.sizes.size))
    candidates = tuple(
        WindowCandidate(window=(float(sizes[0]), float(sizes[w["n_points"] - 1])),
                        n_points=w["n_points"], alpha=w["alpha"], ci=w["ci"],
                        pvalue=w["pvalue"], chosen=w["chosen"], plausible=w["plausible"])
        for w in used.windows) if n_tested else ()
    other = correction
    return ExponentFit(
        alpha=used.alpha, ci=used.ci, level=level,
        window=(float(sizes[0]), float(sizes[stop - 1])), n_points=stop, rule=rule,
        sensitivity=used.sensitivity, alpha_raw=raw.alpha,
        l_inf_source="none" if regime == "resolution" else ("fitted" if floor else "given"),
        correction=None if corr is None else f"{x} - {other} - 1", converged=used.converged,
        notes=tuple(notes), ci_method=used.ci_method, ci_raw=raw.ci,
        alpha_corrected=None if corr is None else corr.alpha,
        ci_corrected=None if corr is None else corr.ci, correction_applied=applied,
        candidates=candidates, n_boot=used.n_boot, n_boot_failed=used.n_failed,
        curve=(tuple(float(v) for v in sizes[:stop]),
               tuple(float(v) for v in used.power_term[:stop])),
        points=(tuple(float(v) for v in grid.sizes),
                tuple(float(v) for v in means - limit)))
