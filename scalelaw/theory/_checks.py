"""Fitted exponents against the theory's predictions: equivalence tests with stated margins.

Each check answers stated questions (:mod:`scalelaw.theory._verdicts`), each
with a margin (``tolerance``, relative to the prediction; defaults
:data:`~scalelaw.theory._verdicts.DEFAULT_TOLERANCE`):

* variance-limited: ``alpha = 1`` within ``+-0.15``;
* resolution-limited with a ``d``: the bound ``alpha >= 4/d`` (``4/alpha`` at
  most ``1.2 d``) and the estimate ``4/alpha ~ d`` (within 20 %); the check's
  ``verdict`` is the bound's, the theorem;
* resolution-limited with an exact exponent (``exponent=``, e.g. the
  random-feature model's ``alpha_K``): ``alpha = alpha_K`` within 20 %.

*consistent*: the interval lies inside the band; *inconsistent*: entirely
outside; *inconclusive*: it straddles an end (the verdict says which), or the
slice is in the crossover, has fewer than 4 sizes in its window, or its fit
did not converge.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_level
from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.theory._engine import MIN_WINDOW
from scalelaw.theory._exponent import ExponentFit, fit_exponent
from scalelaw.theory._intervals import INTERVALS
from scalelaw.theory._regimes import slice_regime
from scalelaw.theory._runs import REPLICATE_COLUMNS
from scalelaw.theory._screen import screen_runs
from scalelaw.theory._verdicts import (
    DEFAULT_TOLERANCE,
    DimensionEstimate,
    Verdict,
    bound_question,
    estimate_question,
    exact_question,
    undecided,
    variance_question,
)
from scalelaw.theory._window import PLAUSIBLE_LEVEL

__all__ = ["MODELS", "TheoryCheck", "check_scaling", "with_dimension"]

#: What produced the table: a trained network, or a model linear in its parameters.
MODELS = ("trained", "linear")


def _num(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else float(v)


@dataclass(frozen=True)
class TheoryCheck:
    """One slice's exponent against the prediction.

    Attributes
    ----------
    group : Any
        The slice (group value), or None.
    regime : str
        ``"resolution"``, ``"variance"``, ``"crossover"`` or ``"unknown"``.
    alpha : float
        The fitted exponent used by the questions (NaN when none could be fitted).
    alpha_ci : tuple of float
        Its interval.
    predicted_alpha : float or None
        ``4/d``, the exact exponent, or 1.
    dimension : float or None
        The ``d`` used (nominal or measured).
    verdict : str
        The main question's verdict: ``"consistent"``, ``"inconsistent"`` or
        ``"inconclusive"`` (variance-limited: ``alpha = 1``; resolution-limited:
        the bound, or the exact exponent when one was given).
    window : tuple of float
        Smallest and largest size fitted.
    reason : str
        The main question's numbers, then the other questions'.
    details : dict
        Annotations added by callers (sweep names, ...); the check's own
        numbers are in the typed attributes below.
    questions : tuple of Verdict
        Every question asked, with its margin, band, interval and verdict.
    tolerance : float or None
        The margin used.
    fit : ExponentFit or None
        The fit (raw and corrected exponents, window candidates, diagnostics,
        bootstrap failures).
    dimension_estimate : DimensionEstimate or None
        The ``d`` with its interval and bias allowance.
    regime_reason : str
        Why the slice is in its regime.
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
    questions: tuple[Verdict, ...] = ()
    tolerance: float | None = None
    fit: ExponentFit | None = None
    dimension_estimate: DimensionEstimate | None = None
    regime_reason: str = ""

    def question(self, kind: str) -> Verdict | None:
        """The question of this kind (``"variance"``, ``"bound"``, ``"estimate"``,
        ``"exact"``, ``"equal"``), or None.

        Parameters
        ----------
        kind : str
            The question's kind.

        Returns
        -------
        Verdict or None
            The question.
        """
        return next((q for q in self.questions if q.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the headline numbers, every question, the fit and the ``d`` used.

        Returns
        -------
        dict
            ``group, regime, alpha, alpha_ci, alpha_raw, alpha_corrected,
            correction, predicted_alpha, dimension, dimension_interval, verdict,
            window, window_rule, tolerance, reason, questions, fit,
            n_boot_failed, regime_reason, details``.
        """
        g = self.group.item() if isinstance(self.group, np.generic) else self.group
        f = self.fit
        d = self.dimension_estimate
        return {
            "group": g, "regime": self.regime, "alpha": _num(self.alpha),
            "alpha_ci": [_num(self.alpha_ci[0]), _num(self.alpha_ci[1])],
            "alpha_raw": None if f is None else _num(f.alpha_raw),
            "alpha_corrected": None if f is None else _num(f.alpha_corrected),
            "correction": None if f is None else {
                "abscissa": f.correction, "applied": f.correction_applied,
                "reason": f.correction_reason},
            "predicted_alpha": _num(self.predicted_alpha), "dimension": _num(self.dimension),
            "dimension_interval": None if d is None else [_num(v) for v in d.plausible],
            "verdict": self.verdict,
            "window": [_num(self.window[0]), _num(self.window[1])],
            "window_rule": None if f is None else f.rule,
            "tolerance": self.tolerance, "reason": self.reason,
            "questions": [q.to_dict() for q in self.questions],
            "fit": None if f is None else f.to_dict(),
            "n_boot_failed": 0 if f is None else f.n_boot_failed,
            "dimension_estimate": None if d is None else d.to_dict(),
            "regime_reason": self.regime_reason, "details": _plain(self.details)}


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return obj.to_dict()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _check_tolerance(tolerance: float | None) -> float | None:
    if tolerance is None:
        return None
    try:
        t = float(tolerance)
    except (TypeError, ValueError):
        t = float("nan")
    if not 0.0 < t < 1.0:
        raise DataValidationError(
            f"The 'tolerance' parameter (the margin relative to the prediction) must be a "
            f"float in the range (0, 1). Got {tolerance!r} instead.", column="tolerance")
    return t


def check_scaling(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    group: str | None = None,
    regime: str = "auto",
    dimension: Any = None,
    dimension_column: str | None = "intrinsic_dim",
    exponent: float | None = None,
    train: str | None = None,
    l_inf: str | float | None = None,
    n_params: str | None = "n_params",
    n_train: str | None = "n_train",
    window: str | tuple[float, float] = "auto",
    model: str = "trained",
    correct_finite_sample: bool | None = None,
    tolerance: float | None = None,
    level: float = 0.95,
    interval: str = "auto",
    n_boot: int = 1000,
    random_state: RandomStateLike = 0,
    drop_invalid: bool = False,
) -> list[TheoryCheck]:
    """Fit the scaling exponent of every slice and test it against the theory.

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
        (:func:`classify_regime`; with ``x="width"`` from ``n_params / n_train``).
    dimension : float, IDResult or DimensionEstimate, optional
        ``d`` of the resolution-limited prediction: a number (exact), or a
        measurement (:func:`scalelaw.intrinsic_dim.estimate_intrinsic_dim`)
        whose interval, known bias and lower-bound flag are carried into the
        questions. Default: the ``dimension_column`` of the data, if any.
    dimension_column : str or None, default="intrinsic_dim"
        Column holding a nominal ``d`` per slice.
    exponent : float, optional
        Resolution-limited: an exponent the theory predicts exactly (the
        random-feature model's ``alpha_K``); asked instead of the ``4/d``
        questions.
    train : str, optional
        Training-loss column (resolution-limited window: the sizes where the
        model interpolates); default ``"train_loss"`` when present.
    l_inf : str or float, optional
        Variance-limited limit ``L_inf``: a column (e.g. the linearised model's
        loss from the same initialisation), subtracted run by run, or a value;
        default: fitted as a free offset.
    n_params, n_train : str or None
        Size columns for the regime and the finite-sample correction.
    window : {"auto", "all"} or (lo, hi), default="auto"
        See :func:`fit_exponent`.
    model : {"trained", "linear"}, default="trained"
        What produced the table. ``"linear"``: a model linear in its parameters
        (random features, a linearised network), whose variance-limited excess
        carries least squares' finite-sample factor ``P / (D - P - 1)``.
    correct_finite_sample : bool, optional
        Variance-limited: judge the exponent against ``D - P - 1`` (data) or
        ``P - D - 1`` (parameters) instead of ``D`` or ``P``. Default: on for
        ``model="linear"``, off for trained networks (for which the factor is
        not derived: applied to a true ``1/D`` table it reads 0.93-0.97). Both
        exponents are always reported.
    tolerance : float, optional
        The margin, relative to the prediction, in (0, 1). Default 0.15
        (variance-limited) and 0.2 (resolution-limited); see the README.
    level : float, default=0.95
        Interval coverage.
    interval : {"auto", "t", "cluster", "bootstrap"}, default="auto"
        Interval method (:func:`fit_exponent`): cluster-robust over replicates
        when the table identifies 3 or more shared across sizes, else Student-t.
    n_boot : int, default=1000
        Bootstrap draws (``interval="bootstrap"``).
    random_state : int, Generator or None, default=0
        Seed of the bootstrap.
    drop_invalid : bool, default=False
        Exclude runs whose size or loss is text (such as ``"diverged"``),
        missing, infinite or not positive, counted (a warning and a note in
        each check), instead of raising. Runs whose ``status`` column says
        ``"diverged"`` are always excluded and counted.

    Returns
    -------
    list of TheoryCheck
        One per slice.

    Raises
    ------
    DataValidationError
        A missing column, an invalid setting, or (without ``drop_invalid``) a
        run whose size or loss is text, missing, infinite or not positive,
        naming the column and rows.

    Warns
    -----
    ExcludedRowsWarning
        Runs were excluded (diverged, or invalid with ``drop_invalid``).
    DuplicateRowsWarning
        Identical runs (same size, loss, replicate and group) are kept and
        counted.

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
    >>> [(q.kind, q.verdict) for q in c.questions]
    [('bound', 'consistent'), ('estimate', 'consistent')]
    """
    if regime not in ("auto", "resolution", "variance"):
        raise DataValidationError(f"regime must be 'auto', 'resolution' or 'variance'; got "
                                  f"{regime!r}.", column="regime")
    if model not in MODELS:
        raise DataValidationError(f"model must be one of {list(MODELS)}; got {model!r}.",
                                  column="model")
    if interval not in INTERVALS:
        raise DataValidationError(f"interval must be one of {list(INTERVALS)}; got "
                                  f"{interval!r}.", column="interval")
    tol = _check_tolerance(tolerance)
    level = check_level(level)
    if exponent is not None and not (np.isfinite(float(exponent)) and float(exponent) > 0):
        raise DataValidationError(f"exponent must be positive; got {exponent!r}.",
                                  column="exponent")
    dim = None if dimension is None else DimensionEstimate.coerce(dimension)
    missing = [c for c in (x, y) if c not in data.columns]
    if missing:
        raise DataValidationError(f"Column(s) {missing} are not in the data; columns "
                                  f"present: {[str(c) for c in data.columns]}.",
                                  column=missing[0])
    if group is not None and group not in data.columns:
        raise DataValidationError(f"Group column {group!r} is not in the data.", column=group)
    if isinstance(l_inf, str) and l_inf not in data.columns:
        raise DataValidationError(f"l_inf column {l_inf!r} is not in the data.",
                                  column="l_inf")
    if train is None and "train_loss" in data.columns and y != "train_loss":
        train = "train_loss"
    data, excluded = screen_runs(
        data, x, y, sizes=[c for c in (n_params, n_train) if c is not None],
        l_inf=l_inf if isinstance(l_inf, str) else None, replicates=REPLICATE_COLUMNS,
        group=group, drop_invalid=drop_invalid)
    if len(data) == 0:
        raise DataValidationError("No runs left after excluding invalid ones.", column=y)
    opts = {"dimension": dim, "dim_col": dimension_column, "exponent": exponent,
            "train": train, "l_inf": l_inf, "n_params": n_params, "n_train": n_train,
            "window": window, "model": model, "correct": correct_finite_sample,
            "tolerance": tol, "level": level, "interval": interval, "n_boot": n_boot,
            "random_state": random_state,
            "excluded": "; ".join(f"{k} ({v})" for k, v in excluded.items())}
    slices = [(None, data)] if group is None else list(data.groupby(group, sort=True))
    return [_check_slice(key, sub, x, y, regime, opts) for key, sub in slices]


def _correction(x: str, kind: str, sub: pd.DataFrame, o: dict[str, Any]
                ) -> tuple[str | None, bool, str]:
    """The correction column, whether it is applied, and why."""
    other = o["n_params"] if x == o["n_train"] else (o["n_train"] if x == o["n_params"]
                                                    else None)
    if kind != "variance":
        return None, False, ""
    if other is None or other not in sub.columns:
        return None, False, (f"not computed: the factor is defined against "
                             f"{o['n_train']!r} or {o['n_params']!r}, not {x!r}")
    if o["correct"] is True:
        return other, True, "applied: asked for (correct_finite_sample=True)"
    if o["correct"] is False:
        return other, False, "not applied: turned off (correct_finite_sample=False)"
    if o["model"] == "linear":
        return other, True, ("applied: a model linear in its parameters (model='linear'), "
                             "whose excess carries least squares' finite-sample factor")
    return other, False, ("not applied: a trained network (model='trained'); the factor "
                          "is exact for least squares on a Gaussian design only and reads a "
                          "true 1/D law low")


def _check_slice(key: Any, sub: pd.DataFrame, x: str, y: str, regime: str,
                 o: dict[str, Any]) -> TheoryCheck:
    if regime == "auto":
        kind, why, sub = slice_regime(sub, x, y, o["train"], o["n_params"], o["n_train"])
    else:
        kind, why = regime, "regime given"
    nan2 = (float("nan"), float("nan"))
    if kind in ("crossover", "unknown"):
        return TheoryCheck(key, kind, float("nan"), nan2, None, None, "inconclusive", nan2,
                           why, regime_reason=why)
    correction, applied, reason = _correction(x, kind, sub, o)
    try:
        fit = fit_exponent(sub, x, y, regime=kind, window=o["window"],
                           train=o["train"] if kind == "resolution" else None,
                           l_inf=o["l_inf"] if kind == "variance" else None,
                           correction=correction, apply_correction=applied,
                           level=o["level"], interval=o["interval"], n_boot=o["n_boot"],
                           random_state=o["random_state"])
    except ScaleLawError as exc:
        if isinstance(exc, DataValidationError) and exc.column in ("interval", "n_boot"):
            raise  # a setting, not this slice's data: every slice would fail alike
        return TheoryCheck(key, kind, float("nan"), nan2, None, None, "inconclusive", nan2,
                           f"no exponent could be fitted: {exc}", regime_reason=why)
    fit = replace(fit, correction_reason=reason)
    if o["excluded"]:
        fit = replace(fit, notes=(*fit.notes, f"runs excluded from the table before the "
                                  f"check: {o['excluded']}"))
    dim = o["dimension"]
    if kind == "resolution" and dim is None and o["dim_col"] and o["dim_col"] in sub.columns:
        vals = pd.to_numeric(sub[o["dim_col"]], errors="coerce").dropna().unique()
        if len(vals) == 1:
            dim = DimensionEstimate.coerce(float(vals[0]), f"column {o['dim_col']!r}")
    return judge(key, kind, fit, dim=dim, exponent=o["exponent"], tolerance=o["tolerance"],
                 regime_reason=why)


def cut_to_minimum(fit: ExponentFit) -> bool:
    """The window rule cut down to the shortest window and every longer one is ruled out
    (the next one's straightness p-value below the plausibility level)."""
    nxt = [c for c in fit.candidates if c.n_points == MIN_WINDOW + 1]
    return (fit.n_points == MIN_WINDOW and bool(nxt) and nxt[0].pvalue is not None
            and nxt[0].pvalue < PLAUSIBLE_LEVEL)


def _doubt(fit: ExponentFit) -> str | None:
    lo, hi = fit.ci
    if not fit.converged:
        return "the fit did not converge"
    if fit.n_points < MIN_WINDOW:
        return f"only {fit.n_points} sizes in the window; {MIN_WINDOW} are needed"
    if cut_to_minimum(fit):
        return (f"the straightness test rules out every window longer than {MIN_WINDOW} "
                f"sizes (p < {PLAUSIBLE_LEVEL:g}): no range where a power law is established")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        extra = (f" ({fit.n_boot_failed} of {fit.n_boot} bootstrap draws failed)"
                 if fit.n_boot_failed else "")
        return f"the exponent has no interval{extra}"
    return None


def judge(key: Any, kind: str, fit: ExponentFit, *, dim: DimensionEstimate | None = None,
          exponent: float | None = None, tolerance: float | None = None,
          regime_reason: str = "", details: dict[str, Any] | None = None) -> TheoryCheck:
    """The questions of one fitted slice and the check that holds them."""
    tol = DEFAULT_TOLERANCE[kind] if tolerance is None else tolerance
    a, ci = fit.alpha, fit.ci
    doubt = _doubt(fit)
    where = f"window {fit.window[0]:g}-{fit.window[1]:g} ({fit.n_points} sizes)"
    pred, d_value = None, None
    if kind == "variance":
        questions = (variance_question(a, ci, tol, doubt),)
        pred = 1.0
        extra = f"; L_inf {fit.l_inf_source}"
        if fit.alpha_corrected is not None:
            other = fit.alpha_raw if fit.correction_applied else fit.alpha_corrected
            label = "uncorrected" if fit.correction_applied else f"against {fit.correction}"
            extra += f"; {label}: {other:.3g} (correction {fit.correction_reason})"
        where += extra
    elif exponent is not None:
        questions = (exact_question(a, ci, float(exponent), tol, "alpha_K", doubt),)
        pred = float(exponent)
    elif dim is None:
        questions = (undecided("bound", "alpha >= 4/d", "no intrinsic dimension given "
                               "(dimension= or --dimension / --id-data)"),)
    else:
        questions = (bound_question(a, ci, dim, tol, doubt),
                     estimate_question(a, ci, dim, tol, doubt))
        pred, d_value = 4.0 / dim.value, dim.value
    main = questions[0]
    others = "; ".join(f"{q.kind}: {q.verdict}: {q.reason}" for q in questions[1:])
    reason = f"{main.reason}; {where}" + (f" | {others}" if others else "")
    return TheoryCheck(key, kind, a, ci, pred, d_value, main.verdict, fit.window, reason,
                       dict(details or {}), questions, tol, fit, dim, regime_reason)


def with_dimension(check: TheoryCheck, dimension: Any, *,
                   tolerance: float | None = None) -> TheoryCheck:
    """The same resolution-limited exponent judged against another ``d``.

    No refit: the fit (its interval, level, window and convergence) is kept;
    the questions and the verdict follow the new dimension.

    Parameters
    ----------
    check : TheoryCheck
        A resolution-limited check with a fit.
    dimension : float, IDResult or DimensionEstimate
        The other ``d``.
    tolerance : float, optional
        The margin (default: the check's).

    Returns
    -------
    TheoryCheck
        The check against ``dimension``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> D = 2.0 ** np.arange(5, 12)
    >>> df = pd.DataFrame({"n_train": D, "n_params": 4e4, "test_loss": 3 * D ** -0.5})
    >>> c = check_scaling(df, "n_train", "test_loss", dimension=8)[0]
    >>> c.verdict, with_dimension(c, 2).verdict
    ('consistent', 'inconsistent')
    """
    if check.regime != "resolution" or check.fit is None:
        raise DataValidationError("with_dimension needs a resolution-limited check with a "
                                  "fitted exponent.", column="check")
    tol = _check_tolerance(tolerance) if tolerance is not None else check.tolerance
    return judge(check.group, "resolution", check.fit,
                 dim=DimensionEstimate.coerce(dimension), tolerance=tol,
                 regime_reason=check.regime_reason, details=check.details)
