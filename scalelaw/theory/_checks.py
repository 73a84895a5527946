"""Fitted exponents against the theory's predictions, with a verdict and its reasons.

Verdict rules (stated; ``[a_lo, a_hi]`` is the exponent's interval):

* resolution-limited, ``alpha >= 4/d``: the prediction is the range
  ``[4/d_hi, 4/d_lo]`` (``d`` nominal, or measured with its interval).
  *consistent* when ``a_hi >= 4/d_hi`` (the bound holds within uncertainty);
  *inconsistent* when ``a_hi < 4/d_hi``, except that a measured ``d`` flagged
  as a lower bound (high dimension, where estimators read low) makes it
  *inconclusive*. ``ratio`` (``alpha / (4/d)``) says how close to equality.
* variance-limited, ``alpha = 1``: *consistent* when the interval contains 1,
  *inconsistent* when it does not.
* With ``regime="auto"`` a slice whose sizes cross from one regime to the
  other is restricted to its sizes in one regime (the larger part, when it has
  4 or more sizes); the reason says so.
* *inconclusive* in either regime when the slice is in the crossover, has fewer
  than 4 sizes in its window, its interval is wider than 1.0 (variance) or
  than the exponent itself (resolution), the fit did not converge, or no
  dimension was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.intrinsic_dim import IDResult
from scalelaw.theory._exponent import ExponentFit, aggregate, fit_exponent
from scalelaw.theory._regimes import FAR, classify_regime
from scalelaw.theory._window import INTERPOLATION_RATIO, MIN_WINDOW

__all__ = ["TheoryCheck", "check_scaling", "with_dimension"]

MAX_VARIANCE_CI_WIDTH = 1.0


@dataclass(frozen=True)
class TheoryCheck:
    """One slice's exponent against the prediction.

    Attributes
    ----------
    group : Any
        The slice (group value), or None.
    regime : str
        ``"resolution"``, ``"variance"`` or ``"crossover"``.
    alpha : float
        The fitted exponent (NaN when none could be fitted).
    alpha_ci : tuple of float
        Its interval.
    predicted_alpha : float or None
        ``4/d`` (resolution) or 1 (variance).
    dimension : float or None
        The ``d`` used (nominal or measured).
    verdict : str
        ``"consistent"``, ``"inconsistent"`` or ``"inconclusive"``.
    window : tuple of float
        Smallest and largest size fitted.
    reason : str
        The numbers behind the verdict.
    details : dict
        Interval of ``d``, the predicted range, window rule and sensitivity,
        the exponent before the finite-sample correction, notes.
    """

    group: Any
    regime: str
    alpha: float
    alpha_ci: tuple[float, float]
    predicted_alpha: float | None
    dimension: float | None
    verdict: str
    window: tuple[float, float]
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``group, regime, alpha, alpha_ci, predicted_alpha, dimension,
        verdict, window, reason`` plus ``details``.

        Returns
        -------
        dict
            The check.
        """
        def num(v: Any) -> Any:
            return None if v is None or (isinstance(v, float) and not np.isfinite(v)) \
                else float(v)

        g = self.group.item() if isinstance(self.group, np.generic) else self.group
        return {"group": g, "regime": self.regime, "alpha": num(self.alpha),
                "alpha_ci": [num(self.alpha_ci[0]), num(self.alpha_ci[1])],
                "predicted_alpha": num(self.predicted_alpha), "dimension": num(self.dimension),
                "verdict": self.verdict, "window": [num(self.window[0]), num(self.window[1])],
                "reason": self.reason, "details": _plain(self.details)}


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _dimension(dimension: float | IDResult | None, sub: pd.DataFrame,
               dim_col: str | None) -> tuple[float | None, tuple[float, float] | None, bool,
                                            str]:
    """``(d, (d_lo, d_hi), lower_bound, source)``."""
    if isinstance(dimension, IDResult):
        return dimension.dimension, dimension.ci, dimension.lower_bound, \
            f"measured ({dimension.method})"
    if dimension is not None:
        d = float(dimension)
        return d, (d, d), False, "nominal"
    if dim_col and dim_col in sub.columns:
        vals = pd.to_numeric(sub[dim_col], errors="coerce").dropna().unique()
        if len(vals) == 1:
            return float(vals[0]), (float(vals[0]), float(vals[0])), False, \
                f"column {dim_col!r}"
    return None, None, False, "none"


def check_scaling(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    group: str | None = None,
    regime: str = "auto",
    dimension: float | IDResult | None = None,
    dimension_column: str | None = "intrinsic_dim",
    train: str | None = None,
    l_inf: str | float | None = None,
    n_params: str | None = "n_params",
    n_train: str | None = "n_train",
    window: str | tuple[float, float] = "auto",
    correct_finite_sample: bool = True,
    level: float = 0.95,
) -> list[TheoryCheck]:
    """Fit the scaling exponent of every slice and compare it with the theory.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per run (seeds as separate rows).
    x, y : str
        The varied size (``n_train``, ``n_params`` or ``width``) and the loss.
    group : str, optional
        One check per value (e.g. ``"width"`` when ``x`` is ``n_train``).
    regime : {"auto", "resolution", "variance"}, default="auto"
        ``"auto"`` classifies each slice from ``n_train`` and ``n_params``
        (:func:`classify_regime`).
    dimension : float or IDResult, optional
        ``d`` of the resolution-limited prediction: nominal, or measured
        (:func:`scalelaw.intrinsic_dim.estimate_intrinsic_dim`, whose interval
        and lower-bound flag the verdict uses). Default: the
        ``dimension_column`` of the data, if any.
    dimension_column : str or None, default="intrinsic_dim"
        Column holding a nominal ``d`` per slice.
    train : str, optional
        Training-loss column: the resolution-limited window is then the sizes
        where the model interpolates; default ``"train_loss"`` when present.
    l_inf : str or float, optional
        Variance-limited limit ``L_inf`` (column or value; e.g. the linearised
        model's loss); default: fitted as a free offset.
    n_params, n_train : str or None
        Size columns for the regime and the finite-sample correction.
    window : {"auto", "all"} or (lo, hi), default="auto"
        See :func:`fit_exponent`.
    correct_finite_sample : bool, default=True
        Variance-limited: fit the excess against ``D - P - 1`` (data) or
        ``P - D - 1`` (parameters) instead of ``D`` or ``P``: least squares'
        finite-sample factor, which makes even the exact random-feature model
        read 1.07-1.20 at ``D = 10P .. 500P``. The raw exponent is in
        ``details["alpha_raw"]``.
    level : float, default=0.95
        Interval coverage.

    Returns
    -------
    list of TheoryCheck
        One per slice.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> D = np.repeat(2.0 ** np.arange(5, 12), 2)
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"n_train": D, "n_params": 38000.0, "test_loss": 3 * D ** -1.0
    ...                    * np.exp(0.02 * rng.standard_normal(D.size))})
    >>> c = check_scaling(df, "n_train", "test_loss", dimension=4)[0]
    >>> c.regime, c.verdict, f"{c.alpha:.2f}"
    ('resolution', 'consistent', '1.01')
    """
    if regime not in ("auto", "resolution", "variance"):
        raise DataValidationError(f"regime must be 'auto', 'resolution' or 'variance'; got "
                                  f"{regime!r}.", column="regime")
    if x not in data.columns or y not in data.columns:
        missing = [c for c in (x, y) if c not in data.columns]
        raise DataValidationError(f"Column(s) {missing} are not in the data; columns "
                                  f"present: {[str(c) for c in data.columns]}.",
                                  column=missing[0])
    if group is not None and group not in data.columns:
        raise DataValidationError(f"Group column {group!r} is not in the data.", column=group)
    if train is None and "train_loss" in data.columns and y != "train_loss":
        train = "train_loss"
    slices = [(None, data)] if group is None else list(data.groupby(group, sort=True))
    return [_check_slice(key, sub, x, y, regime, dimension, dimension_column, train, l_inf,
                         n_params, n_train, window, correct_finite_sample, level)
            for key, sub in slices]


def _slice_regime(sub: pd.DataFrame, x: str, y: str, train: str | None,
                  n_params: str | None, n_train: str | None
                  ) -> tuple[str, str, pd.DataFrame]:
    """The slice's regime, why, and its rows: a crossover slice whose sizes reach one
    regime at 4 or more sizes is restricted to those sizes."""
    varies = "data" if x == n_train else "model"
    fixed_col = n_params if varies == "data" else n_train
    if fixed_col is None or fixed_col not in sub.columns or x not in sub.columns:
        return "unknown", (f"no {fixed_col!r} column to compare the sizes with: give the "
                           "regime (--regime resolution|variance)"), sub
    agg = aggregate(sub, x, y, train=train, correction=fixed_col)
    sizes, fixed = agg["x"].to_numpy(), agg["correction"].to_numpy()
    ratio = (agg["train"] / agg["y"]).to_numpy() if "train" in agg else None
    kind, why = classify_regime(sizes, fixed, varies=varies, train_over_test=ratio)
    if kind != "crossover":
        return kind, why, sub
    parts = []
    for part in (sizes / fixed >= FAR, sizes / fixed <= 1 / FAR if ratio is None
                 else (sizes / fixed <= 1 / FAR) | (ratio < INTERPOLATION_RATIO)):
        if part.sum() >= MIN_WINDOW:
            k, w = classify_regime(sizes[part], fixed[part], varies=varies,
                                   train_over_test=None if ratio is None else ratio[part])
            if k != "crossover":
                parts.append((int(part.sum()), k, w, set(sizes[part])))
    if not parts:
        return kind, why, sub
    n, kind, part_why, keep = max(parts, key=lambda t: t[0])
    rows = sub[pd.to_numeric(sub[x], errors="coerce").isin(keep)]
    return kind, (f"the slice spans the crossover ({why.split(':')[0]}); its {n} of "
                  f"{len(sizes)} sizes in one regime are used: {part_why}"), rows


def _check_slice(key: Any, sub: pd.DataFrame, x: str, y: str, regime: str,
                 dimension: Any, dim_col: str | None, train: str | None, l_inf: Any,
                 n_params: str | None, n_train: str | None, window: Any,
                 correct: bool, level: float) -> TheoryCheck:
    details: dict[str, Any] = {}
    if regime == "auto":
        kind, why, sub = _slice_regime(sub, x, y, train, n_params, n_train)
        details["regime_reason"] = why
    else:
        kind, why = regime, "regime given"
    nan2 = (float("nan"), float("nan"))
    if kind in ("crossover", "unknown"):
        return TheoryCheck(key, kind, float("nan"), nan2, None, None, "inconclusive", nan2,
                           why, details)
    correction = None
    if kind == "variance" and correct:
        other = n_params if x == n_train else (n_train if x == n_params else None)
        if other is not None and other in sub.columns:
            correction = other
    try:
        fit = fit_exponent(sub, x, y, regime=kind, window=window,
                           train=train if kind == "resolution" else None,
                           l_inf=l_inf if kind == "variance" else None,
                           correction=correction, level=level)
    except ScaleLawError as exc:
        return TheoryCheck(key, kind, float("nan"), nan2, None, None, "inconclusive", nan2,
                           f"no exponent could be fitted: {exc}", details)
    details.update(window_rule=fit.rule, n_points=fit.n_points, ci_method=fit.ci_method,
                   sensitivity=list(fit.sensitivity), l_inf=fit.l_inf, notes=list(fit.notes),
                   points=fit.extra["points"],
                   curve={"x": fit.extra["sizes"], "y": fit.extra["fitted"]})
    if fit.alpha_raw is not None:
        details.update(alpha_raw=fit.alpha_raw, correction=f"{x} - {correction} - 1")
    if kind == "resolution":
        return _resolution_verdict(key, fit, dimension, sub, dim_col, details)
    return _variance_verdict(key, fit, details)


def with_dimension(check: TheoryCheck, dimension: float | IDResult) -> TheoryCheck:
    """The same resolution-limited exponent judged against another ``d``.

    No refit: the exponent, its interval and window are kept; the prediction
    ``4/d``, the verdict and its reason follow the new dimension.

    Parameters
    ----------
    check : TheoryCheck
        A resolution-limited check with a fitted exponent.
    dimension : float or IDResult
        The other ``d`` (nominal, or measured with its interval).

    Returns
    -------
    TheoryCheck
        The check against ``dimension``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> D = np.repeat(2.0 ** np.arange(5, 12), 2)
    >>> df = pd.DataFrame({"n_train": D, "n_params": 4e4, "test_loss": 3 * D ** -0.5})
    >>> c = check_scaling(df, "n_train", "test_loss", dimension=8)[0]
    >>> c.verdict, with_dimension(c, 2).verdict
    ('consistent', 'inconsistent')
    """
    if check.regime != "resolution" or not np.isfinite(check.alpha):
        raise DataValidationError("with_dimension needs a resolution-limited check with a "
                                  "fitted exponent.", column="check")
    d = check.details
    fit = ExponentFit(alpha=check.alpha, ci=check.alpha_ci, level=0.95, window=check.window,
                      n_points=int(d.get("n_points", MIN_WINDOW)),
                      rule=str(d.get("window_rule", "")),
                      sensitivity=tuple(d.get("sensitivity", (check.alpha, check.alpha))))
    keep = {k: v for k, v in d.items() if k not in (
        "dimension_ci", "dimension_source", "dimension_lower_bound", "predicted_range",
        "ratio", "four_over_alpha")}
    return _resolution_verdict(check.group, fit, dimension, pd.DataFrame(), None, keep)


def _common_doubt(fit: ExponentFit, width_limit: float) -> str | None:
    lo, hi = fit.ci
    if not fit.converged:
        return "the fit did not converge"
    if fit.n_points < MIN_WINDOW:
        return f"only {fit.n_points} sizes in the window ({fit.rule}); 4 are needed"
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo > width_limit:
        return (f"the interval [{lo:.3g}, {hi:.3g}] is too wide to decide (wider than "
                f"{width_limit:.3g})")
    return None


def _resolution_verdict(key: Any, fit: ExponentFit, dimension: Any, sub: pd.DataFrame,
                        dim_col: str | None, details: dict[str, Any]) -> TheoryCheck:
    d, d_ci, lower, source = _dimension(dimension, sub, dim_col)
    a, (lo, hi) = fit.alpha, fit.ci
    if d is None:
        return TheoryCheck(key, "resolution", a, fit.ci, None, None, "inconclusive",
                           fit.window, "no intrinsic dimension given (--dimension or "
                           "--id-data)", details)
    pred = 4.0 / d
    p_lo, p_hi = 4.0 / d_ci[1], 4.0 / d_ci[0]
    details.update(dimension_ci=list(d_ci), dimension_source=source,
                   dimension_lower_bound=lower, predicted_range=[p_lo, p_hi],
                   ratio=a / pred, four_over_alpha=4.0 / a if a > 0 else None)
    doubt = _common_doubt(fit, max(abs(a), 1e-12))
    numbers = (f"alpha = {a:.3g} [{lo:.3g}, {hi:.3g}] over {fit.window[0]:g}-"
               f"{fit.window[1]:g}; 4/d = {pred:.3g} (d = {d:.3g}, {source}"
               + (f", interval [{d_ci[0]:.3g}, {d_ci[1]:.3g}]" if d_ci[0] != d_ci[1] else "")
               + ")" + (f"; 4/alpha = {4 / a:.3g}" if a > 0 else ""))
    if doubt:
        return TheoryCheck(key, "resolution", a, fit.ci, pred, d, "inconclusive", fit.window,
                           f"{doubt}; {numbers}", details)
    if hi >= p_lo:
        verdict = "consistent"
        why = (f"alpha >= 4/d holds within uncertainty ({hi:.3g} >= {p_lo:.3g}); "
               f"alpha / (4/d) = {a / pred:.2f}")
    elif lower:
        verdict = "inconclusive"
        why = (f"alpha is below 4/d ({hi:.3g} < {p_lo:.3g}), but d = {d:.3g} is a lower bound "
               "(estimators read low at high dimension), so 4/d may be smaller")
    else:
        verdict = "inconsistent"
        why = f"alpha is below 4/d even at the interval's ends ({hi:.3g} < {p_lo:.3g})"
    return TheoryCheck(key, "resolution", a, fit.ci, pred, d, verdict, fit.window,
                       f"{why}; {numbers}", details)


def _variance_verdict(key: Any, fit: ExponentFit, details: dict[str, Any]) -> TheoryCheck:
    a, (lo, hi) = fit.alpha, fit.ci
    numbers = (f"alpha = {a:.3g} [{lo:.3g}, {hi:.3g}] over {fit.window[0]:g}-"
               f"{fit.window[1]:g}, L_inf {fit.l_inf}"
               + (f", against {details['correction']} (uncorrected {fit.alpha_raw:.3g})"
                  if fit.alpha_raw is not None else ""))
    doubt = _common_doubt(fit, MAX_VARIANCE_CI_WIDTH)
    if doubt:
        verdict, why = "inconclusive", doubt
    elif lo <= 1.0 <= hi:
        verdict, why = "consistent", "the interval contains 1"
    else:
        verdict, why = "inconsistent", f"the interval excludes 1 ({'above' if lo > 1 else 'below'})"
    return TheoryCheck(key, "variance", a, fit.ci, 1.0, None, verdict, fit.window,
                       f"{why}; {numbers}", details)
