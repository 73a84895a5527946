"""The public entry points :func:`fit` and :func:`fit_groups`."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import (
    RandomStateLike,
    check_columns,
    check_int,
    check_level,
    check_positive_float,
    describe_rows,
    unknown_name,
)
from scalelaw.exceptions import (
    ConvergenceWarning,
    DataValidationError,
    IdentifiabilityWarning,
    ScaleLawError,
)
from scalelaw.fitting._data import as_frame
from scalelaw.fitting._extrapolation import calibrate as _calibrate
from scalelaw.fitting._select import fit_auto
from scalelaw.fitting._single import fit_table
from scalelaw.laws import CallableLaw, ScalingLaw, average_names, get_law
from scalelaw.optim import OBJECTIVES
from scalelaw.results import CombinedFit, FitResult, GroupedFitResult, combine

__all__ = ["fit", "fit_each_group", "fit_groups", "group_labels"]


def fit(
    law: str | ScalingLaw | Any,
    data: Any,
    *,
    x: str | Sequence[str],
    y: str,
    objective: str = "huber_log",
    delta: float = 1e-3,
    weights: str | Sequence[float] | np.ndarray | None = None,
    starts: int | np.ndarray | None = None,
    p0: Mapping[str, float] | None = None,
    bootstrap: int = 0,
    bootstrap_groups: str | None = None,
    level: float = 0.95,
    random_state: RandomStateLike = None,
    drop_invalid: bool = False,
    calibrate: bool = False,
    n_threads: int | None = None,
) -> FitResult | CombinedFit:
    """Fit a scaling law to tabular data by batched multi-start optimisation.

    All starting points are optimised together as one array problem
    (box-constrained L-BFGS), the best basins are polished with batched
    Levenberg-Marquardt to tight tolerance, and the covariance, diagnostics
    and (optionally) bootstrap replicas are computed at the optimum.

    Parameters
    ----------
    law : str, ScalingLaw, callable or lmfit.Model
        A built-in name (``"power"``, ``"saturating_power"``, ``"chinchilla"``,
        ``"kaplan"``, ``"broken_power"``, ``"m1"``..``"m4"``), ``"auto"``
        (chosen by held-out-scale validation), ``"average:a+b+..."`` (each
        law fitted alone, forecasts combined: :class:`~scalelaw.CombinedFit`),
        a formula such as
        ``"E + A * n**(-alpha)"`` (its inputs are the ``x`` columns), a
        Python function ``f(x..., params...)``, an ``lmfit.Model``, or a law
        object (e.g. :class:`~scalelaw.laws.LmfitLaw` with its parameters).
    data : pandas.DataFrame or mapping of columns
        One row per run.
    x : str or sequence of str
        Input column(s), in the order of ``law.inputs``; positive for the
        built-in laws.
    y : str
        Target column (e.g. final test loss).
    objective : {"huber_log", "mse_log", "mse"}, default="huber_log"
        Sum of Huber losses of log residuals (Hoffmann et al. 2022), of
        squared log residuals, or of squared raw residuals.
    delta : float, default=1e-3
        Huber threshold on log residuals.
    weights : str or array-like, optional
        Positive row weights (column name or values).
    starts : int or array-like, optional
        ``None``: the law's default starts (for Chinchilla the 4,500-point grid
        plus a data-driven guess); an int ``k``: the guess and ``k - 1`` starts
        drawn from the defaults; an array ``(k, n_params)``: these starts in
        natural units.
    p0 : mapping, optional
        An extra starting point (natural units), checked against the bounds;
        parameters it leaves out take the law's first guess. For a law given
        as a Python function, these are also its initial values.
    bootstrap : int, default=0
        Number of bootstrap replicas (0: none); a combination bootstraps
        each member.
    bootstrap_groups : str, optional
        Column whose groups (e.g. seeds) are resampled whole.
    level : float, default=0.95
        Default coverage of intervals.
    random_state : int, numpy.random.Generator or None, default=None
        Seed for drawn starts and the bootstrap. Without one, starts come
        from a fixed seed (the fit is deterministic) and the bootstrap from
        fresh entropy.
    drop_invalid : bool, default=False
        Exclude invalid rows (text such as ``"diverged"``, NaN, values out of
        the law's domain) with a count instead of raising.
    calibrate : bool, default=False
        Also measure the growth of extrapolation error
        (:func:`scalelaw.calibrate`; a few refits), so that prediction
        intervals beyond the domain include it. ``"auto"`` always does.
    n_threads : int, optional
        Threads for the batched optimisers (default: usable CPUs, at most 8).

    Returns
    -------
    FitResult or CombinedFit
        Estimates, uncertainty, diagnostics and the data used; a
        :class:`~scalelaw.CombinedFit` of the members' fits for an average
        (named, or chosen by ``"auto"`` when its candidates tie).

    Raises
    ------
    DataValidationError
        Bad data or arguments (see :func:`prepare_data`).
    UnknownNameError
        Unknown law or objective.
    FitError
        No start gave a finite objective.

    Warns
    -----
    ConvergenceWarning
        The best optimum did not meet its convergence test.
    IdentifiabilityWarning
        The information matrix is singular, or optima with nearly the same
        loss disagree.
    BootstrapWarning
        Fewer than 10 rows or groups to resample.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> n = np.logspace(6, 9, 20)
    >>> df = pd.DataFrame({"n_params": n, "loss": 1.5 + 40.0 * n ** -0.3})
    >>> res = sl.fit("saturating_power", df, x="n_params", y="loss")
    >>> print(f"E={res.params['E']:.3f} alpha={res.params['alpha']:.3f}")
    E=1.500 alpha=0.300

    A Python function is a law too (its parameters are named by its signature):

    >>> def decay(n, L0, a, k):
    ...     return L0 + a * np.exp(-k * np.log(n))
    >>> res = sl.fit(decay, df, x="n_params", y="loss", objective="mse_log",
    ...              p0={"L0": 1.0, "a": 10.0, "k": 0.2})
    >>> print(f"k={res.params['k']:.3f}")
    k=0.300
    """
    xs = [x] if isinstance(x, str) else list(x)
    if objective not in OBJECTIVES:
        raise unknown_name("objective", str(objective), OBJECTIVES)
    delta = check_positive_float(delta, "delta")
    level = check_level(level)
    bootstrap = check_int(bootstrap, "bootstrap", minimum=0)
    if n_threads is not None:
        n_threads = check_int(n_threads, "n_threads", minimum=1)
    keep = [bootstrap_groups] if bootstrap_groups else []
    names = average_names(law)
    result: FitResult | CombinedFit
    if ((isinstance(law, str) and law.strip() == "auto") or names) and (
            starts is not None or p0 is not None):
        raise DataValidationError(
            "starts/p0 cannot be given with law='auto' or an average (each law has its "
            "own parameters); fit the laws one by one (scalelaw.combine joins them).",
            column="starts" if starts is not None else "p0",
        )
    if isinstance(law, str) and law.strip() == "auto":
        result = fit_auto(data, x=xs, y=y, objective=objective, delta=delta, level=level,
                          weights=weights, random_state=random_state,
                          drop_invalid=drop_invalid, keep=keep, n_threads=n_threads)
    elif names:
        result = combine([
            fit_table(get_law(name, inputs=xs), data, x=xs, y=y, objective=objective,
                      delta=delta, level=level, weights=weights, starts=None, p0=None,
                      random_state=random_state, drop_invalid=drop_invalid, keep=keep,
                      n_threads=n_threads) for name in names])
        if calibrate:
            result = _calibrate(result)
    else:
        if callable(law) and not isinstance(law, ScalingLaw) and not _is_model(law):
            # a plain function: p0 sets its initial values (draws go around them)
            law_obj = CallableLaw.from_function(law, inputs=xs, p0=p0)
        else:
            law_obj = get_law(law, inputs=xs)
        result = fit_table(law_obj, data, x=xs, y=y, objective=objective, delta=delta,
                           level=level, weights=weights, starts=starts, p0=p0,
                           random_state=random_state, drop_invalid=drop_invalid,
                           keep=keep, n_threads=n_threads)
        if calibrate:
            result = _calibrate(result)
    warn_about_fit(result)
    if bootstrap:
        result = result.with_bootstrap(bootstrap, groups=bootstrap_groups,
                                       random_state=random_state)
    return result


def _is_model(obj: Any) -> bool:
    return (type(obj).__module__ or "").startswith("lmfit")


def warn_about_fit(result: FitResult | CombinedFit) -> None:
    """Warn as :func:`fit` does about a result: no convergence, an ill-conditioned optimum.

    Examples
    --------
    >>> import warnings, numpy as np, pandas as pd
    >>> n = np.logspace(6, 9, 12)
    >>> res = fit("power", pd.DataFrame({"n": n, "loss": 3 * n**-0.3}), x="n", y="loss")
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     warn_about_fit(res)
    >>> len(seen)
    0
    """
    if isinstance(result, CombinedFit):
        for member in result.members:
            warn_about_fit(member)
        return
    codes = {d.code: d for d in result.diagnostics}
    if not result.converged:
        warnings.warn(
            f"The best optimum of law {result.law.name!r} did not meet its convergence "
            f"test ({result.message}); see result.diagnostics.",
            ConvergenceWarning,
            stacklevel=3,
        )
    for code in ("ill_conditioned", "start_disagreement"):
        d = codes.get(code)
        if d is not None and (code != "ill_conditioned" or "singular" in d.message):
            warnings.warn(f"Law {result.law.name!r}: {d.message}", IdentifiabilityWarning,
                          stacklevel=3)


def group_labels(data: pd.DataFrame, group: str | Sequence[str]) -> tuple[list[str], pd.Series]:
    """Check group columns and return them and one string label per row.

    Parameters
    ----------
    data : pandas.DataFrame
        The runs.
    group : str or sequence of str
        Group column(s); a comma-separated string names several.

    Returns
    -------
    columns : list of str
        The group columns.
    labels : pandas.Series
        The group value of each row, joined by ``"/"`` for several columns.

    Examples
    --------
    >>> df = pd.DataFrame({"f": ["a", "a", "b"], "r": [1, 2, 1]})
    >>> group_labels(df, "f,r")[1].tolist()
    ['a/1', 'a/2', 'b/1']
    """
    cols = ([c.strip() for c in group.split(",") if c.strip()] if isinstance(group, str)
            else list(group))
    if not cols:
        raise DataValidationError("The 'group' parameter names no column.", column="group")
    check_columns(data, cols, role="group")
    missing = data[cols].isna().any(axis=1)
    if missing.any():
        rows = list(data.index[missing])
        raise DataValidationError(
            f"Group column(s) {cols} have {describe_rows(rows)} with no group value.",
            column=cols[0],
            rows=rows,
        )
    labels = data[cols].astype(str).agg("/".join, axis=1) if len(cols) > 1 else \
        data[cols[0]].astype(str)
    return cols, labels


def fit_groups(
    law: str | ScalingLaw | Any,
    data: Any,
    *,
    group: str | Sequence[str],
    x: str | Sequence[str],
    y: str,
    **kwargs: Any,
) -> GroupedFitResult:
    """Fit one law per group (e.g. per model family or task) in one call.

    Parameters
    ----------
    law : str, ScalingLaw, callable or lmfit.Model
        As in :func:`fit`.
    data : pandas.DataFrame
        All runs, with the group column(s).
    group : str or sequence of str
        Column(s) whose values define the groups (``"family,run"`` or
        ``["family", "run"]`` for several).
    x, y : str
        As in :func:`fit`.
    **kwargs
        Passed to :func:`fit` for every group.

    Returns
    -------
    GroupedFitResult
        The fits (each a FitResult, or a CombinedFit for an average), and the
        groups that failed with their error messages.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> n = np.logspace(6, 9, 10)
    >>> df = pd.concat([pd.DataFrame({"family": f, "n": n, "L": a * n ** -0.2})
    ...                 for f, a in [("a", 2.0), ("b", 4.0)]])
    >>> res = sl.fit_groups("power", df, group="family", x="n", y="L",
    ...                     objective="mse_log")
    >>> [f"{res[g].params['A']:.1f}" for g in ("a", "b")]
    ['2.0', '4.0']
    """
    return fit_each_group(data, group, lambda sub: fit(law, sub, x=x, y=y, **kwargs))


def fit_each_group(data: Any, group: str | Sequence[str],
                   fit_one: Callable[[pd.DataFrame], FitResult | CombinedFit]
                   ) -> GroupedFitResult:
    """Apply ``fit_one`` to every group's rows; a group that fails is listed, not fatal.

    Parameters
    ----------
    data : pandas.DataFrame or mapping
        The runs.
    group : str or sequence of str
        Group column(s).
    fit_one : callable
        ``fit_one(rows) -> FitResult``.

    Returns
    -------
    GroupedFitResult
        The fits by group label, and the failures with their messages.
    """
    data = as_frame(data)
    cols, labels = group_labels(data, group)
    results: dict[str, FitResult | CombinedFit] = {}
    failed: dict[str, str] = {}
    for key in sorted(labels.unique()):
        try:
            results[key] = fit_one(data[(labels == key).to_numpy()])
        except ScaleLawError as exc:
            failed[key] = str(exc)
    return GroupedFitResult(group=tuple(cols), results=results, failed=failed)
