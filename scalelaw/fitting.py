"""Fit scaling laws to tables of runs: validation, multi-start search, inference."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._objective import OBJECTIVES, Objective, is_log
from scalelaw._optimize import (
    CONVERGED_STATUSES,
    levenberg_marquardt_batch,
    minimize_batch,
)
from scalelaw._validation import (
    RandomStateLike,
    check_columns,
    check_int,
    check_level,
    check_positive_float,
    check_random_state,
    describe_rows,
    numeric_column,
    unknown_name,
)
from scalelaw.exceptions import (
    ConvergenceWarning,
    DataValidationError,
    DuplicateRowsWarning,
    ExcludedRowsWarning,
    FitError,
)
from scalelaw.laws import Inputs, ScalingLaw, get_law
from scalelaw.results import Diagnostic, FitResult, GroupedFitResult
from scalelaw.uncertainty import (
    bootstrap_weights,
    run_bootstrap,
    scale_terms,
    wald_covariance,
)

__all__ = ["fit", "fit_groups", "prepare_data"]

MAX_WARM_STARTS = 8  # distinct optima used as warm starts for bootstrap replicas
STAGE1_FTOL = 1e-7  # multi-start search: locate basins (polished afterwards)
AT_BEST_RTOL = 1e-4  # a start "reached the best optimum" within this relative loss


def _versions() -> dict[str, str]:
    from importlib import metadata

    import scipy

    try:
        own = metadata.version("scalelaw")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        own = "0+unknown"
    return {
        "scalelaw": own,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


def _fit_auto(data: Any, *, x: list[str], y: str, **kwargs: Any) -> FitResult:
    """``law="auto"``: choose by held-out-scale validation, then fit the choice."""
    from scalelaw.backtest import AUTO_CANDIDATES, select_law
    from scalelaw.forecast import calibration_from_errors

    if kwargs.get("starts") is not None or kwargs.get("p0") is not None:
        raise DataValidationError(
            "starts/p0 cannot be given with law='auto' (each candidate has its own "
            "parameters); name the law instead.",
            column="law",
        )
    if len(x) not in AUTO_CANDIDATES:
        raise DataValidationError(
            f"Law 'auto' chooses among laws of 1 or 2 inputs; got x={x!r}. Name a law "
            "instead.",
            column="law",
        )
    probe = get_law(AUTO_CANDIDATES[len(x)][0], inputs=x)
    frame, _ = prepare_data(
        data, probe, x=x, y=y, objective=kwargs["objective"], weights=kwargs["weights"],
        drop_invalid=kwargs["drop_invalid"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select_law(frame, x=x, y=y, objective=kwargs["objective"],
                         delta=kwargs["delta"], weights="weight")  # the user's weights
    res = fit(sel.chosen, data, x=x, y=y, **kwargs)
    settings = dict(res.settings)
    settings["auto"] = sel.to_dict()
    out = res._replace(settings=settings)
    # all candidates' backtest errors calibrate the intervals (see select_law)
    pooled = pd.concat([e for e in sel.errors.values() if len(e)], ignore_index=True)
    calibration_from_errors(out, pooled, sel.cuts,
                            [f"pooled backtests of {len(sel.errors)} candidate laws"])
    return out


# --------------------------------------------------------------------- data
def prepare_data(
    data: Any,
    law: ScalingLaw,
    *,
    x: str | Sequence[str],
    y: str,
    objective: str = "huber_log",
    weights: str | Sequence[float] | np.ndarray | None = None,
    keep: Sequence[str] = (),
    drop_invalid: bool = False,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Validate and extract the rows a fit will use.

    Parameters
    ----------
    data : pandas.DataFrame or mapping of columns
        The runs.
    law : ScalingLaw
        The law (its number of inputs and whether inputs must be positive).
    x : str or sequence of str
        Input column(s), matched in order to ``law.inputs``.
    y : str
        Target column.
    objective : str, default="huber_log"
        Log objectives need a positive target.
    weights : str or array-like, optional
        Column name or values of positive row weights.
    keep : sequence of str, default=()
        Extra columns to carry along (e.g. a bootstrap group column).
    drop_invalid : bool, default=False
        Exclude rows with missing, non-finite or out-of-domain values (counted
        and warned) instead of raising.

    Returns
    -------
    frame : pandas.DataFrame
        Columns ``x..., y, weight, keep...``, one row per run used.
    excluded : dict
        Number of rows excluded per reason.

    Raises
    ------
    DataValidationError
        Missing column (with a suggestion), non-numeric values, NaN/inf, values
        <= 0 where a logarithm is taken, too few distinct points, a constant
        input column.

    Warns
    -----
    DuplicateRowsWarning
        Identical rows are kept and counted.
    ExcludedRowsWarning
        With ``drop_invalid=True``, how many rows were excluded and why.
    """
    if isinstance(data, Mapping) and not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(dict(data))
    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(
            f"Data must be a pandas DataFrame or a mapping of columns. Got "
            f"{type(data).__name__} instead.",
            column="data",
        )
    xs = [x] if isinstance(x, str) else list(x)
    if len(xs) != len(law.inputs):
        raise DataValidationError(
            f"Law {law.name!r} takes {len(law.inputs)} input column(s) "
            f"({', '.join(law.inputs)}); got x={xs!r}.",
            column="x",
        )
    if len(set(xs)) != len(xs) or y in xs:
        raise DataValidationError(
            f"Input and target columns must be distinct; got x={xs!r}, y={y!r}.",
            column="x",
        )
    check_columns(data, xs, role="x")
    check_columns(data, [y], role="y")
    if isinstance(weights, str):
        check_columns(data, [weights], role="weights")
    check_columns(data, list(keep), role="group")
    if len(data) == 0:
        raise DataValidationError("The data have no rows.", column=None)

    cols = {c: numeric_column(data, c) for c in [*xs, y]}
    if weights is None:
        w = np.ones(len(data))
        wname = "weights"
    elif isinstance(weights, str):
        w = numeric_column(data, weights)
        wname = weights
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        wname = "weights"
        if w.size != len(data):
            raise DataValidationError(
                f"weights has {w.size} values for {len(data)} rows.", column="weights"
            )
    index = data.index
    problems: list[tuple[str, str, np.ndarray]] = []
    for c in xs:
        v = cols[c]
        problems.append((c, "missing or non-finite (NaN/inf)", ~np.isfinite(v)))
        if law.positive_inputs:
            problems.append((c, "<= 0 (inputs enter through logarithms)",
                             np.isfinite(v) & (v <= 0)))
    v = cols[y]
    problems.append((y, "missing or non-finite (NaN/inf)", ~np.isfinite(v)))
    if is_log(objective):
        problems.append(
            (y, f"<= 0 (objective {objective!r} takes log of the target)",
             np.isfinite(v) & (v <= 0))
        )
    problems.append((wname, "not a finite positive weight", ~(np.isfinite(w) & (w > 0))))
    bad_any = np.zeros(len(data), dtype=bool)
    excluded: dict[str, int] = {}
    for col, why, mask in problems:
        if not mask.any():
            continue
        rows = list(index[mask])
        if not drop_invalid:
            shown = data[col].to_numpy()[mask] if col in data.columns else w[mask]
            raise DataValidationError(
                f"Column {col!r} has {describe_rows(rows, list(shown))} that are {why}. "
                "Correct or remove them, or pass drop_invalid=True (--drop-invalid) to "
                "exclude them with a count.",
                column=col,
                rows=rows,
            )
        new = mask & ~bad_any
        excluded[f"{col}: {why}"] = int(new.sum())
        bad_any |= mask
    if bad_any.any():
        warnings.warn(
            f"Excluded {int(bad_any.sum())} of {len(data)} rows: "
            + "; ".join(f"{k} ({v})" for k, v in excluded.items() if v),
            ExcludedRowsWarning,
            stacklevel=3,
        )
    keep_mask = ~bad_any
    frame = pd.DataFrame({c: cols[c][keep_mask] for c in [*xs, y]})
    frame["weight"] = w[keep_mask]
    for k in keep:
        frame[k] = data[k].to_numpy()[keep_mask]
    if len(frame) == 0:
        raise DataValidationError("No rows left after excluding invalid ones.")
    for c in xs:
        if np.ptp(frame[c].to_numpy()) == 0:
            raise DataValidationError(
                f"Input column {c!r} is constant ({frame[c].iloc[0]!r} in all "
                f"{len(frame)} rows); its exponent cannot be estimated. Vary it or "
                "use a law without this input.",
                column=c,
            )
    n_distinct = len(frame[xs].drop_duplicates())
    n_par = len(law.params)
    if n_distinct < n_par:
        raise DataValidationError(
            f"Only {n_distinct} distinct input point(s) for {n_par} parameters of law "
            f"{law.name!r} ({', '.join(law.param_names)}); at least {n_par} are "
            "needed.",
            column=xs[0],
        )
    dup = frame.duplicated(subset=[*xs, y], keep="first")
    if dup.any():
        rows = list(np.asarray(index[keep_mask])[dup.to_numpy()])
        warnings.warn(
            f"{int(dup.sum())} duplicate row(s) (same inputs and target) are kept; "
            f"{describe_rows(rows)}. Remove them if they are the same run logged twice.",
            DuplicateRowsWarning,
            stacklevel=3,
        )
    return frame.reset_index(drop=True), excluded


# ---------------------------------------------------------------- the fit
def fit(
    law: str | ScalingLaw,
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
    n_threads: int | None = None,
) -> FitResult:
    """Fit a scaling law to tabular data by batched multi-start optimisation.

    All starting points are optimised together as one array problem
    (box-constrained L-BFGS), the best basins are polished with batched
    Levenberg-Marquardt to tight tolerance, and the covariance, diagnostics
    and (optionally) bootstrap replicas are computed at the optimum.

    Parameters
    ----------
    law : str or ScalingLaw
        A built-in name (``"power"``, ``"saturating_power"``, ``"chinchilla"``,
        ``"kaplan"``), a formula such as ``"E + A * n**(-alpha)"`` (its inputs
        are the ``x`` columns), or a law object.
    data : pandas.DataFrame or mapping of columns
        One row per run.
    x : str or sequence of str
        Input column(s), in the order of ``law.inputs``; positive.
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
        An extra starting point (natural units), checked against the bounds.
    bootstrap : int, default=0
        Number of bootstrap replicas (0: none).
    bootstrap_groups : str, optional
        Column whose groups (e.g. seeds) are resampled whole.
    level : float, default=0.95
        Default coverage of intervals.
    random_state : int, numpy.random.Generator or None, default=None
        Seed for drawn starts and the bootstrap.
    drop_invalid : bool, default=False
        Exclude invalid rows with a count instead of raising.
    n_threads : int, optional
        Threads for the batched optimisers (default: usable CPUs, at most 8).

    Returns
    -------
    FitResult
        Estimates, uncertainty, diagnostics and the data used.

    Raises
    ------
    DataValidationError
        Bad data or arguments (see :func:`prepare_data`).
    UnknownNameError
        Unknown law or objective.
    FitError
        No start gave a finite objective.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> n = np.logspace(6, 9, 20)
    >>> df = pd.DataFrame({"n_params": n, "loss": 1.5 + 40.0 * n ** -0.3})
    >>> res = sl.fit("saturating_power", df, x="n_params", y="loss")
    >>> print(f"E={res.params['E']:.3f} alpha={res.params['alpha']:.3f}")
    E=1.500 alpha=0.300
    """
    xs = [x] if isinstance(x, str) else list(x)
    if isinstance(law, str) and law.strip() == "auto":
        return _fit_auto(
            data, x=xs, y=y, objective=objective, delta=delta, weights=weights,
            starts=starts, p0=p0, bootstrap=bootstrap, bootstrap_groups=bootstrap_groups,
            level=level, random_state=random_state, drop_invalid=drop_invalid,
            n_threads=n_threads,
        )
    law = get_law(law, inputs=xs)
    if objective not in OBJECTIVES:
        raise unknown_name("objective", str(objective), OBJECTIVES)
    delta = check_positive_float(delta, "delta")
    level = check_level(level)
    bootstrap = check_int(bootstrap, "bootstrap", minimum=0)
    if n_threads is not None:
        n_threads = check_int(n_threads, "n_threads", minimum=1)
    seed = random_state if isinstance(random_state, int) else None
    rng = check_random_state(random_state)
    keep = [bootstrap_groups] if bootstrap_groups else []
    frame, excluded = prepare_data(
        data, law, x=xs, y=y, objective=objective, weights=weights, keep=keep,
        drop_invalid=drop_invalid,
    )
    x_arrays = [frame[c].to_numpy() for c in xs]
    yv = frame[y].to_numpy()
    w = frame["weight"].to_numpy()
    inputs = Inputs(x_arrays)
    start_points = _starting_points(law, inputs, yv, starts, p0, rng)

    obj = Objective(law, inputs, yv, objective, delta,
                    weights=None if np.all(w == 1.0) else w)
    lo, hi = law.internal_bounds()
    stage1 = minimize_batch(obj, start_points, lo, hi, ftol=STAGE1_FTOL, maxiter=300,
                            n_threads=n_threads)
    finite = np.isfinite(stage1.fun)
    if not finite.any():
        raise FitError(
            f"No starting point gave a finite objective for law {law.name!r} "
            f"({len(start_points)} tried). Check that the law can produce positive "
            "predictions on these inputs, or give p0=.",
            attempts={"n_starts": len(start_points)},
        )
    optima_theta, optima_loss, best_status = _polish(obj, law, stage1, n_threads)
    theta = optima_theta[0]
    loss = float(optima_loss[0])
    atol = 1e-12 * len(yv)
    at_best = stage1.fun <= loss * (1.0 + AT_BEST_RTOL) + atol

    result = _inference(
        law=law, frame=frame, xs=xs, y=y, obj=obj, theta=theta, loss=loss,
        objective=objective, delta=delta, level=level, excluded=excluded,
        optima_theta=optima_theta, optima_loss=optima_loss,
        converged=bool(best_status in CONVERGED_STATUSES),
        n_starts=len(start_points),
        n_converged=int(stage1.converged.sum()),
        n_at_best=int(at_best.sum()),
        settings={
            "starts": "default" if starts is None else (
                starts if isinstance(starts, int) else "array"),
            "p0": None if p0 is None else dict(p0),
            "random_state": seed,
            "stage1_ftol": STAGE1_FTOL,
            "polish_ftol": 1e-13,
            "n_threads": n_threads,
            "weights": None if weights is None else (
                weights if isinstance(weights, str) else "array"),
        },
    )
    if not result.converged:
        warnings.warn(
            f"The best optimum of law {law.name!r} did not meet its convergence test; "
            "see result.diagnostics.",
            ConvergenceWarning,
            stacklevel=2,
        )
    if bootstrap:
        result = _add_bootstrap(result, bootstrap, groups=bootstrap_groups,
                                random_state=rng, seed=seed)
    return result


def _starting_points(
    law: ScalingLaw,
    inputs: Inputs,
    y: np.ndarray,
    starts: int | np.ndarray | None,
    p0: Mapping[str, float] | None,
    rng: np.random.Generator,
) -> np.ndarray:
    lo, hi = law.internal_bounds()
    extra = []
    if p0 is not None:
        vec = law._param_vector(p0)
        for prm, v in zip(law.params, vec.tolist(), strict=True):
            if not prm.lower <= v <= prm.upper or (prm.log and v <= 0):
                raise DataValidationError(
                    f"Starting value {v!r} of parameter {prm.name!r} lies outside its "
                    f"bounds [{prm.lower!r}, {prm.upper!r}]"
                    + (" (and must be > 0 on the log scale)." if prm.log else "."),
                    column=prm.name,
                )
        extra.append(law.to_internal(vec))
    if starts is None or isinstance(starts, int | np.integer):
        # data-driven guesses take logs of the target: use its positive part
        pos = y[y > 0]
        y_pos = np.where(y > 0, y, pos.min() if pos.size else 1.0)
        with np.errstate(all="ignore"):
            default = law._start_points(inputs, y_pos, rng)
        default = default[np.all(np.isfinite(default), axis=1)]
        if len(default) == 0:
            raise DataValidationError(
                f"Law {law.name!r} could not derive starting points from these data; "
                "give p0= or starts=.",
                column="starts",
            )
        if starts is not None:
            k = check_int(int(starts), "starts", minimum=1)
            if k < len(default):
                pick = rng.choice(np.arange(1, len(default)), size=k - 1, replace=False)
                default = default[np.concatenate([[0], np.sort(pick)])]
            elif k > len(default):
                base = default[rng.integers(0, len(default), size=k - len(default))]
                jitter = rng.normal(0.0, 0.5, size=base.shape)
                default = np.vstack([default, np.clip(base + jitter, lo, hi)])
        points = np.vstack([*extra, default]) if extra else default
    else:
        arr = np.array(starts, dtype=np.float64, ndmin=2)
        if arr.shape[1] != len(law.params):
            raise DataValidationError(
                f"starts must have {len(law.params)} columns "
                f"({', '.join(law.param_names)}); got shape {arr.shape}.",
                column="starts",
            )
        for j, prm in enumerate(law.params):
            bad = (arr[:, j] < prm.lower) | (arr[:, j] > prm.upper) | (
                prm.log & (arr[:, j] <= 0))
            if bad.any():
                rows = describe_rows(list(np.flatnonzero(bad)), list(arr[bad, j]))
                raise DataValidationError(
                    f"starts column {prm.name!r} has {rows} outside the bounds "
                    f"[{prm.lower!r}, {prm.upper!r}].",
                    column=prm.name,
                )
        points = law.to_internal(arr)
        if extra:
            points = np.vstack([*extra, points])
    return np.clip(points, lo, hi)


def _polish(
    obj: Objective, law: ScalingLaw, stage1: Any, n_threads: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Polish the best basins to tight tolerance and return the distinct optima.

    Returns the distinct optima sorted by loss (at most ``MAX_WARM_STARTS``),
    their losses and the status of the best one.
    """
    lo, hi = law.internal_bounds()
    order = np.argsort(stage1.fun, kind="stable")
    order = order[np.isfinite(stage1.fun[order])]
    xs = stage1.x[order]
    # representatives of coarse clusters, so that distinct basins are polished
    reps: list[int] = []
    scale = 1.0 + np.abs(xs)
    for i in range(len(xs)):
        if len(reps) >= 2 * MAX_WARM_STARTS:
            break
        if not reps or np.all(
            np.max(np.abs(xs[reps] - xs[i]) / scale[reps], axis=1) > 0.05
        ):
            reps.append(i)
    cand = np.unique(np.concatenate([np.arange(min(len(xs), MAX_WARM_STARTS)), reps]))
    pol = levenberg_marquardt_batch(
        obj.fun_grad_hess, obj.value, xs[cand], lo, hi, ftol=1e-13, n_threads=n_threads
    )
    # keep the stage-1 point if polishing did not improve it
    better = pol.fun <= stage1.fun[order][cand]
    px = np.where(better[:, None], pol.x, xs[cand])
    pf = np.where(better, pol.fun, stage1.fun[order][cand])
    pstat = np.where(better, pol.status, stage1.status[order][cand])
    idx = np.argsort(pf, kind="stable")
    distinct: list[int] = []
    for i in idx:
        same = [
            j for j in distinct
            if np.max(np.abs(px[i] - px[j]) / (1.0 + np.abs(px[j]))) < 1e-4
        ]
        if not same:
            distinct.append(i)
        if len(distinct) >= MAX_WARM_STARTS:
            break
    return px[distinct], pf[distinct], int(pstat[distinct[0]])


def _free_mask(law: ScalingLaw, theta: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Parameters not held at a bound, and the names of those that are."""
    lo, hi = law.internal_bounds()
    tol = 1e-8 * (1.0 + np.abs(theta))
    fixed = lo == hi  # held fixed by the user (e.g. a known chance level): not a finding
    at = (np.isfinite(lo) & (theta - lo <= tol)) | (np.isfinite(hi) & (hi - theta <= tol))
    at &= ~fixed
    # a log-scale parameter with lower bound 0 that has collapsed towards 0
    for j, prm in enumerate(law.params):
        if prm.log and prm.lower == 0 and theta[j] < np.log(1e-12):
            at[j] = True
    return ~(at | fixed), [law.params[j].name for j in np.flatnonzero(at)]


def _inference(
    *,
    law: ScalingLaw,
    frame: pd.DataFrame,
    xs: list[str],
    y: str,
    obj: Objective,
    theta: np.ndarray,
    loss: float,
    objective: str,
    delta: float,
    level: float,
    excluded: dict[str, int],
    optima_theta: np.ndarray,
    optima_loss: np.ndarray,
    converged: bool,
    n_starts: int,
    n_converged: int,
    n_at_best: int,
    settings: dict[str, Any],
) -> FitResult:
    names = list(law.param_names)
    w = frame["weight"].to_numpy()
    r, grads = obj.residuals(theta[None, :])
    r = r[0]
    jac = np.stack([np.broadcast_to(g, (1, r.size))[0] for g in grads], axis=1)
    free, bound_names = _free_mask(law, theta)
    n_obs = len(frame)
    n_free = int(free.sum())
    dof = n_obs - n_free
    terms = scale_terms(r, w, objective, delta, n_free)
    cov_int, cond = wald_covariance(jac, w, terms, free)
    natural = law.to_natural(theta)
    dmap = np.where(law._log_mask, natural, 1.0)  # d natural / d internal
    cov_nat = cov_int * np.outer(dmap, dmap)
    stderr = np.sqrt(np.diag(cov_nat))
    # Gaussian log-likelihood of the residuals on the fitted scale
    wn = w / w.mean()
    sigma2 = float(np.sum(wn * r**2) / n_obs)
    loglik = -0.5 * n_obs * (np.log(2 * np.pi * max(sigma2, 1e-300)) + 1.0)
    k = n_free + 1
    aic = 2 * k - 2 * loglik
    bic = k * np.log(n_obs) - 2 * loglik

    diags: list[Diagnostic] = []
    if not converged:
        diags.append(Diagnostic(
            "not_converged",
            "the best optimum did not meet the convergence test; results may be "
            "inaccurate (try more starts or rescale the data).",
        ))
    if bound_names:
        diags.append(Diagnostic(
            "at_bound",
            f"{', '.join(bound_names)} at a bound ("
            + ", ".join(f"{n}={natural[names.index(n)]:.4g}" for n in bound_names)
            + "); held fixed for the covariance. The data do not constrain "
            "this parameter inside its range: widen the range of the data, fix the "
            "parameter, or use a simpler law.",
            tuple(bound_names),
        ))
    if not np.isfinite(cond) or cond > 1e14:
        diags.append(Diagnostic(
            "ill_conditioned",
            "the information matrix is singular (condition number "
            f"{cond:.3g}): some parameter combination is not identified; standard "
            "errors are unavailable. Use profile or bootstrap intervals, or a "
            "simpler law.",
            tuple(n for n, f in zip(names, free, strict=True) if f),
        ))
    elif cond > 1e10:
        diags.append(Diagnostic(
            "ill_conditioned",
            f"the information matrix is ill-conditioned (condition number "
            f"{cond:.3g}); Wald standard errors may be inaccurate.",
        ))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov_int / np.sqrt(np.outer(np.diag(cov_int), np.diag(cov_int)))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            c = corr[i, j]
            if np.isfinite(c) and abs(c) > 0.95:
                diags.append(Diagnostic(
                    "high_correlation",
                    f"corr({names[i]}, {names[j]}) = {c:+.3f} (|corr| > 0.95): they "
                    "are hard to separate on this domain; intervals of each are "
                    "wide, predictions inside the domain are not.",
                    (names[i], names[j]),
                ))
    se_int = np.sqrt(np.diag(cov_int))
    for t, f_alt in zip(optima_theta[1:], optima_loss[1:], strict=True):
        close = f_alt <= loss * (1.0 + 1e-3) + 1e-12 * n_obs
        if not close:
            continue
        dist = np.abs(t - theta) / np.where(np.isfinite(se_int) & (se_int > 0), se_int,
                                             1.0 + np.abs(theta))
        if np.nanmax(dist) > 1.0:
            j = int(np.nanargmax(dist))
            diags.append(Diagnostic(
                "start_disagreement",
                f"another optimum has nearly the same loss ({f_alt:.10g} vs "
                f"{loss:.10g}) but {names[j]} = {law.to_natural(t)[j]:.4g} instead "
                f"of {natural[j]:.4g} ({dist[j]:.1f} standard errors away): the "
                "optimum is not unique on this data.",
                (names[j],),
            ))
            break
    if objective == "huber_log" and terms.n_inside < n_free:
        diags.append(Diagnostic(
            "few_inside",
            f"only {terms.n_inside} residual(s) lie inside +-delta={delta:g} for "
            f"{n_free} free parameters: the fit behaves like least absolute "
            "deviations and Wald/profile intervals are rough; prefer the bootstrap.",
        ))
    if dof < 2:
        diags.append(Diagnostic(
            "low_dof",
            f"{dof} residual degree(s) of freedom: intervals are not meaningful.",
        ))
    optima = pd.DataFrame(law.to_natural(optima_theta), columns=names)
    optima["loss"] = optima_loss
    domain = {c: (float(frame[c].min()), float(frame[c].max())) for c in xs}
    return FitResult(
        law=law,
        x=tuple(xs),
        y=y,
        params=pd.Series(natural, index=names, dtype=np.float64),
        stderr=pd.Series(stderr, index=names, dtype=np.float64),
        cov=pd.DataFrame(cov_nat, index=names, columns=names),
        theta=theta.copy(),
        cov_internal=cov_int,
        objective=objective,
        delta=delta,
        loss=loss,
        n_obs=n_obs,
        dof_resid=dof,
        aic=float(aic),
        bic=float(bic),
        converged=converged,
        message="converged" if converged else "best optimum not converged",
        n_starts=n_starts,
        n_starts_converged=n_converged,
        n_starts_at_best=n_at_best,
        optima=optima,
        data=frame,
        domain=domain,
        excluded=excluded,
        diagnostics=tuple(diags),
        scale=terms.to_dict(),
        level=level,
        bootstrap=None,
        bootstrap_info={},
        settings=settings,
        versions=_versions(),
    )


def _add_bootstrap(
    result: FitResult,
    n_boot: int,
    *,
    groups: str | None = None,
    random_state: RandomStateLike = None,
    seed: int | None = None,
) -> FitResult:
    n_boot = check_int(n_boot, "n_boot", minimum=2)
    if seed is None and isinstance(random_state, int):
        seed = random_state
    rng = check_random_state(random_state)
    group_values = None
    if groups is not None:
        if groups not in result.data.columns:
            raise DataValidationError(
                f"Bootstrap group column {groups!r} is not in the fitted data; pass "
                "it as bootstrap_groups= to fit() so that it is kept.",
                column=groups,
            )
        group_values = result.data[groups].to_numpy()
        if len(np.unique(group_values)) < 2:
            raise DataValidationError(
                f"Bootstrap group column {groups!r} has a single group; at least 2 "
                "are needed.",
                column=groups,
            )
    mult = bootstrap_weights(len(result.data), n_boot, rng, group_values)
    starts = result.law.to_internal(result.optima[list(result.law.param_names)].to_numpy())
    theta_b, loss_b, ok = run_bootstrap(
        lambda wts, idx: result._objective(wts, idx), result.law, starts, mult,
        n_threads=result.settings.get("n_threads"),
    )
    natural = result.law.to_natural(theta_b)
    failed = ~ok | ~np.all(np.isfinite(natural), axis=1)
    natural[failed] = np.nan
    frame = pd.DataFrame(natural, columns=list(result.law.param_names))
    frame["loss"] = np.where(failed, np.nan, loss_b)
    info = {
        "n_boot": n_boot,
        "unit": f"groups of {groups!r}" if groups else "rows",
        "n_starts": len(starts),
        "random_state": seed,
        "n_failed": int(failed.sum()),
    }
    diags = [d for d in result.diagnostics if d.code != "bootstrap_failures"]
    if failed.any():
        diags.append(Diagnostic(
            "bootstrap_failures",
            f"{int(failed.sum())} of {n_boot} bootstrap replicas did not converge; "
            "they are left out of the bootstrap intervals.",
        ))
    return result._replace(bootstrap=frame, bootstrap_info=info,
                           diagnostics=tuple(diags))


def fit_groups(
    law: str | ScalingLaw,
    data: Any,
    *,
    group: str,
    x: str | Sequence[str],
    y: str,
    **kwargs: Any,
) -> GroupedFitResult:
    """Fit one law per group (e.g. per model family or task) in one call.

    Parameters
    ----------
    law : str or ScalingLaw
        As in :func:`fit`.
    data : pandas.DataFrame
        All runs, with a group column.
    group : str
        Column whose values define the groups.
    x, y : str
        As in :func:`fit`.
    **kwargs
        Passed to :func:`fit` for every group.

    Returns
    -------
    GroupedFitResult
        The fits, and the groups that failed with their error messages.

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
    from scalelaw.exceptions import ScaleLawError

    if not isinstance(data, pd.DataFrame):
        raise DataValidationError("fit_groups needs a pandas DataFrame.", column="data")
    check_columns(data, [group], role="group")
    missing = data[group].isna()
    if missing.any():
        raise DataValidationError(
            f"Group column {group!r} has {describe_rows(list(data.index[missing]))} "
            "with no group value.",
            column=group,
            rows=list(data.index[missing]),
        )
    results: dict[str, FitResult] = {}
    failed: dict[str, str] = {}
    for key, sub in data.groupby(group, sort=True):
        name = str(key)
        try:
            results[name] = fit(law, sub, x=x, y=y, **kwargs)
        except ScaleLawError as exc:
            failed[name] = str(exc)
    return GroupedFitResult(group=group, results=results, failed=failed)
