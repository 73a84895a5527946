"""Scaling exponents of a slice of runs: fitted over a stated window, with their uncertainty."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError, ScaleLawWarning
from scalelaw.fitting import fit
from scalelaw.theory._bootstrap import MIN_REPLICATES, seed_bootstrap
from scalelaw.theory._window import (
    MIN_WINDOW,
    check_window,
    curvature_window,
    interpolating_window,
    sub_windows,
)

__all__ = ["MIN_REPLICATES", "ExponentFit", "aggregate", "fit_exponent"]


@dataclass(frozen=True)
class ExponentFit:
    """An exponent ``alpha`` of ``L ~ x^-alpha`` (or of ``L - L_inf``).

    Attributes
    ----------
    alpha : float
        The exponent (with the finite-sample correction when one applies).
    ci : tuple of float
        Its interval: a bootstrap over seeds when every size has at least
        :data:`~scalelaw.theory._bootstrap.MIN_REPLICATES` runs, else from the
        fit to the per-size means (Wald with the t quantile; profile when
        ``L_inf`` is fitted). ``ci_method`` says which.
    level : float
        Coverage of ``ci``.
    window : tuple of float
        Smallest and largest size fitted.
    n_points : int
        Sizes in the window (seeds averaged in log space at each size).
    rule : str
        How the window was chosen.
    sensitivity : tuple of float
        Smallest and largest exponent over the neighbouring windows (one size
        more or fewer at either end).
    alpha_raw : float or None
        Variance-limited fits: the exponent against the size itself, before the
        finite-sample correction.
    l_inf : str
        ``"none"``, ``"given"`` or ``"fitted"``.
    correction : str or None
        Column subtracted (with 1) from the size: ``"n_params"`` gives ``D - P - 1``.
    converged : bool
        The fit converged.
    notes : tuple of str
        Excluded points and other facts.
    """

    alpha: float
    ci: tuple[float, float]
    level: float
    window: tuple[float, float]
    n_points: int
    rule: str
    sensitivity: tuple[float, float]
    alpha_raw: float | None = None
    l_inf: str = "none"
    correction: str | None = None
    converged: bool = True
    notes: tuple[str, ...] = ()
    ci_method: str = "t interval of the fit to the per-size means"
    extra: dict[str, Any] = field(default_factory=dict)
    """``sizes`` and ``fitted`` (the power term ``k x^-alpha`` at the window's sizes),
    ``points`` (every size's mean loss less ``L_inf``: the quantity that scales),
    ``l_inf_values`` (0 for resolution-limited fits), ``min_window``."""


def aggregate(data: pd.DataFrame, x: str, y: str, *, train: str | None = None,
              l_inf: str | None = None, correction: str | None = None) -> pd.DataFrame:
    """One row per size: geometric means over seeds (Bahri et al.: log-loss averaged).

    Rows with a missing or non-positive loss are dropped here and counted in
    ``attrs["n_dropped"]`` (diverged runs).

    Returns
    -------
    pandas.DataFrame
        Columns ``x``, ``y``, ``n_runs`` and, when given, ``train``, ``l_inf``,
        ``correction``; sorted by ``x``.
    """
    cols = {"x": x, "y": y}
    for k, c in (("train", train), ("l_inf", l_inf), ("correction", correction)):
        if c is not None:
            cols[k] = c
    for c in cols.values():
        if c not in data.columns:
            raise DataValidationError(
                f"Column {c!r} is not in the data; columns present: "
                f"{[str(k) for k in data.columns]}.", column=c)
    df = pd.DataFrame({k: pd.to_numeric(data[c], errors="coerce") for k, c in cols.items()})
    ok = np.isfinite(df["x"]) & np.isfinite(df["y"]) & (df["y"] > 0) & (df["x"] > 0)
    n_drop = int((~ok).sum())
    df = df[ok]
    agg: dict[str, Any] = {"y": lambda v: float(np.exp(np.mean(np.log(v))))}
    if "train" in df:
        agg["train"] = lambda v: float(np.exp(np.mean(np.log(np.maximum(v, 1e-300)))))
    for k in ("l_inf", "correction"):
        if k in df:
            agg[k] = "mean"
    out = df.groupby("x", sort=True).agg(agg)
    out["n_runs"] = df.groupby("x").size()
    out = out.reset_index()
    out.attrs["n_dropped"] = n_drop
    return out


def _power_fit(xv: np.ndarray, yv: np.ndarray, level: float, *, floor: bool) -> Any:
    """``power`` (or ``saturating_power``) fitted with mse_log: the FitResult."""
    df = pd.DataFrame({"x": xv, "y": yv})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScaleLawWarning)  # diagnostics stay on the result
        return fit("saturating_power" if floor else "power", df, x="x", y="y",
                   objective="mse_log", level=level)


def _interval(res: Any, level: float, floor: bool) -> tuple[float, float]:
    ci = res.conf_int(level, method="profile" if floor else "wald").loc["alpha"]
    return float(ci["lower"]), float(ci["upper"])


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
    level: float = 0.95,
    n_boot: int = 200,
    random_state: int = 0,
) -> ExponentFit:
    """Fit the scaling exponent of one slice (one width, or one data size).

    Parameters
    ----------
    data : pandas.DataFrame
        Runs of the slice (seeds as separate rows).
    x, y : str
        Size and loss columns.
    regime : {"resolution", "variance"}
        Resolution-limited: ``L ~ x^-alpha``. Variance-limited:
        ``L - L_inf ~ x^-alpha``.
    window : {"auto", "all"} or (lo, hi), default="auto"
        ``"auto"``: resolution-limited, the sizes where the model interpolates
        (train/test below 0.1, contiguous from the smallest) when ``train`` is
        given, else the longest straight prefix in log-log
        (:func:`~scalelaw.theory.curvature_window`); variance-limited, every size.
    train : str, optional
        Training-loss column (for the interpolation rule).
    l_inf : str or float, optional
        Variance-limited: the limit ``L_inf`` (a column, e.g. the linearised
        model's loss from the same initialisation, or a value); default: a
        free offset fitted with the law (``saturating_power``).
    correction : str, optional
        Variance-limited: a column subtracted (plus 1) from the size, the
        finite-sample factor of least squares (``"n_params"`` for data
        scaling: the excess falls as ``1 / (D - P - 1)``).
    level : float, default=0.95
        Interval coverage.
    n_boot : int, default=200
        Replicas of the seed bootstrap (used when every size in the window has
        at least 5 runs; 0 turns it off).
    random_state : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    ExponentFit
        The exponent, its interval, window and sensitivity.

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
    l_inf_col = l_inf if isinstance(l_inf, str) else None
    agg = aggregate(data, x, y, train=train, l_inf=l_inf_col, correction=correction)
    notes = []
    if agg.attrs["n_dropped"]:
        notes.append(f"{agg.attrs['n_dropped']} run(s) without a finite positive loss "
                     "excluded (diverged)")
    xv, yv = agg["x"].to_numpy(), agg["y"].to_numpy()
    lim = None
    if regime == "variance" and l_inf is not None:
        lim = agg["l_inf"].to_numpy() if l_inf_col else np.full(len(agg), float(l_inf))
    xe = xv - agg["correction"].to_numpy() - 1.0 if correction else xv
    keep = xe > 0
    if lim is not None:
        keep &= yv - lim > 0
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} size(s) with no positive excess over L_inf or "
                     "no room for the correction excluded")
    xv, yv, xe = xv[keep], yv[keep], xe[keep]
    lim = None if lim is None else lim[keep]
    tr = agg["train"].to_numpy()[keep] if "train" in agg else None
    start, stop, rule = _choose(window, regime, xv, yv if lim is None else yv - lim, tr)
    n_pts = stop - start
    if n_pts < 3:
        raise DataValidationError(
            f"Only {n_pts} size(s) in the window ({rule}); an exponent needs at least 3 "
            "(4 for an interval with two degrees of freedom).", column=x)
    floor = regime == "variance" and lim is None

    def one(a: int, b: int, axis: np.ndarray) -> Any:
        target = yv[a:b] if lim is None else (yv - lim)[a:b]
        return _power_fit(axis[a:b], target, level, floor=floor)

    res = one(start, stop, xe)
    alpha = float(res.params["alpha"])
    floor_value = float(res.params["E"]) if floor else 0.0
    power_term = np.asarray(res.predict(pd.DataFrame({"x": xe[start:stop]}))) - floor_value
    limit = lim if lim is not None else np.full(len(yv), floor_value)
    alts = [float(one(a, b, xe).params["alpha"])
            for a, b in sub_windows(start, stop, len(xv))[1:] if not floor or b - a >= 4]
    raw = (float(one(start, stop, xv).params["alpha"])
           if (regime == "variance" and correction) else None)
    boot = None
    if n_boot:
        a_coef = float(power_term[0]) * xe[start] ** alpha
        boot = seed_bootstrap(
            data, x, y, sizes=xv[start:stop], axis=xe[start:stop],
            limit=None if lim is None else lim[start:stop],
            floor_start=np.array([floor_value, np.log(a_coef), alpha]) if floor else None,
            level=level, n_boot=n_boot, random_state=random_state)
    if boot is not None:
        ci, ci_method = boot
    else:
        ci = _interval(res, level, floor)
        ci_method = "t interval of the fit to the per-size means" + (
            " (profile)" if floor else "")
    conv = bool(res.converged)
    return ExponentFit(
        alpha=alpha, ci=ci, level=level, window=(float(xv[start]), float(xv[stop - 1])),
        n_points=n_pts, rule=rule, sensitivity=(min([alpha, *alts]), max([alpha, *alts])),
        alpha_raw=raw, l_inf="none" if regime == "resolution" else (
            "fitted" if floor else "given"),
        correction=correction, converged=conv, notes=tuple(notes), ci_method=ci_method,
        extra={"sizes": xv[start:stop].tolist(), "fitted": np.asarray(power_term).tolist(),
               "points": {"x": xv.tolist(), "y": (yv - limit).tolist()},
               "l_inf_values": limit.tolist(), "min_window": MIN_WINDOW},
    )


def _choose(window: Any, regime: str, xv: np.ndarray, yv: np.ndarray,
            tr: np.ndarray | None) -> tuple[int, int, str]:
    if isinstance(window, tuple | list):
        a, b = check_window(window, xv)
        return a, b, f"given window [{window[0]:g}, {window[1]:g}]"
    if window == "all" or regime == "variance":
        return 0, len(xv), "every size"
    if window != "auto":
        raise DataValidationError(f"window must be 'auto', 'all' or (lo, hi); got "
                                  f"{window!r}.", column="window")
    if tr is not None:
        a, b = interpolating_window(xv, tr / yv)
        if b > a:
            return a, b, "sizes where the model interpolates (train/test < 0.1)"
        a, b = curvature_window(xv, yv)
        return a, b, ("no size interpolates (train/test >= 0.1: data-rich, as in model "
                      "scaling with D >> P), so the longest straight prefix in log-log "
                      "(curvature test)")
    a, b = curvature_window(xv, yv)
    return a, b, "longest straight prefix in log-log (curvature test)"
