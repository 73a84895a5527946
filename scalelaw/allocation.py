"""Compute-optimal allocation, isoFLOP profiles, run proposals and target losses.

For a two-input law ``L(N, D)`` (first input = parameters, second = data) and
a compute budget ``C = k N D`` (``k = 6`` by default; any monotone FLOP
formula can be given), the compute-optimal frontier minimises ``L`` along
each isoFLOP curve. For the Chinchilla law the minimiser has the closed form
of Hoffmann et al. (2022, eq. 4):

.. math::

    N^*(C) = G (C/k)^{\\beta/(\\alpha+\\beta)},\\quad
    D^*(C) = G^{-1} (C/k)^{\\alpha/(\\alpha+\\beta)},\\quad
    G = \\left(\\frac{\\alpha A}{\\beta B}\\right)^{1/(\\alpha+\\beta)}.

Other laws are minimised numerically (a log-spaced grid over the split of
``log(C/k)`` between ``N`` and ``D``, refined by golden-section search).
Intervals are percentiles over parameter draws: the bootstrap replicas when
the fit has them, else draws from the Wald covariance (seeded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_level
from scalelaw.exceptions import DataValidationError, ExtrapolationError
from scalelaw.forecast import extrapolation_distance, parameter_draws
from scalelaw.laws import ChinchillaLaw, Inputs
from scalelaw.stats import percentile_interval, percentile_intervals

if TYPE_CHECKING:
    from scalelaw.results import FitResult

__all__ = ["compute_optimal", "isoflop_profile", "propose_runs", "solve_for_loss"]

FlopsFormula = Callable[[np.ndarray, np.ndarray], np.ndarray]
_GOLD = 0.5 * (np.sqrt(5.0) - 1.0)


class _PairInputs(Inputs):
    """Inputs laid out as ``(m, 1)`` columns: row ``i`` goes with parameter row ``i``."""

    def __init__(self, columns: Sequence[np.ndarray]) -> None:
        self.cols = [np.asarray(c, dtype=np.float64).reshape(-1, 1) for c in columns]
        self._logs = [None] * len(self.cols)
        self.n = 1


def _log_loss_pairs(result: FitResult, theta: np.ndarray, log_n: np.ndarray,
                    log_d: np.ndarray) -> np.ndarray:
    """log L at row-matched (theta_i, N_i, D_i); theta (m, p), log_n/log_d (m,)."""
    X = _PairInputs([np.exp(log_n), np.exp(log_d)])
    with np.errstate(all="ignore"):
        value, _ = result.law.value_and_jacobian(theta, X, log=True, jac=False)
    return np.where(np.isfinite(value[:, 0]), value[:, 0], np.inf)


def _check_two_inputs(result: FitResult) -> None:
    if len(result.x) != 2:
        raise DataValidationError(
            f"Compute-optimal allocation needs a law of two inputs (parameters, data); "
            f"this fit has {len(result.x)}: {list(result.x)}.",
            column="law",
        )


def _check_compute(compute: Any, name: str = "compute") -> np.ndarray:
    c = np.atleast_1d(np.asarray(compute, dtype=np.float64)).ravel()
    if c.size == 0 or not np.all(np.isfinite(c) & (c > 0)):
        raise DataValidationError(
            f"The {name!r} parameter must hold finite positive FLOP counts. Got "
            f"{np.asarray(compute).ravel()[:5].tolist()} instead.",
            column=name,
        )
    return c


def _log_tokens(log_n: np.ndarray, log_c: np.ndarray, k: float,
                flops: FlopsFormula | None) -> np.ndarray:
    """log D such that flops(N, D) = C (closed form for C = k N D, else bisection)."""
    if flops is None:
        return log_c - np.log(k) - log_n
    lo = np.full_like(log_n, -5.0)
    hi = log_c.copy() + 5.0
    n = np.exp(log_n)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        over = np.asarray(flops(n, np.exp(mid)), dtype=np.float64) > np.exp(log_c)
        hi = np.where(over, mid, hi)
        lo = np.where(over, lo, mid)
    return 0.5 * (lo + hi)


def _frontier(result: FitResult, theta: np.ndarray, log_c: np.ndarray, k: float,
              flops: FlopsFormula | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute-optimal log N, log D, log L for each draw x budget: arrays (b, m)."""
    b, m = theta.shape[0], log_c.size
    out = _frontier_pairs(result, np.repeat(theta, m, axis=0), np.tile(log_c, b), k, flops)
    return tuple(o.reshape(b, m) for o in out)  # type: ignore[return-value]


def _frontier_pairs(result: FitResult, th: np.ndarray, lc: np.ndarray, k: float,
                    flops: FlopsFormula | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute-optimal log N, log D, log L for row-matched draws and budgets (M,)."""
    if isinstance(result.law, ChinchillaLaw) and flops is None:
        E, A, B, a, bt = (np.exp(th[:, 0]), np.exp(th[:, 1]), np.exp(th[:, 2]),
                          th[:, 3], th[:, 4])
        with np.errstate(all="ignore"):
            log_g = (np.log(a * A) - np.log(bt * B)) / (a + bt)
            base = lc - np.log(k)
            log_n = log_g + bt / (a + bt) * base
            log_d = -log_g + a / (a + bt) * base
            loss = E + A * np.exp(-a * log_n) + B * np.exp(-bt * log_d)
        return log_n, log_d, np.log(loss)
    # numeric: t in (0, 1) splits log(C/k) between N and D
    total = lc - np.log(k)
    grid = np.linspace(0.02, 0.98, 97)

    def objective(t: np.ndarray) -> np.ndarray:
        log_n = t * total
        return _log_loss_pairs(result, th, log_n, _log_tokens(log_n, lc, k, flops))

    vals = np.stack([objective(np.full_like(lc, t)) for t in grid], axis=1)
    i = np.clip(np.argmin(vals, axis=1), 1, grid.size - 2)
    lo, hi = grid[i - 1], grid[i + 1]
    x1, x2 = hi - _GOLD * (hi - lo), lo + _GOLD * (hi - lo)
    f1, f2 = objective(x1), objective(x2)
    for _ in range(40):  # golden-section search, vectorised over all pairs
        left = f1 < f2  # the minimum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        x1n = np.where(left, hi - _GOLD * (hi - lo), x2)
        x2n = np.where(left, x1, lo + _GOLD * (hi - lo))
        f_new = objective(np.where(left, x1n, x2n))
        f1, f2 = np.where(left, f_new, f2), np.where(left, f1, f_new)
        x1, x2 = x1n, x2n
    t = 0.5 * (lo + hi)
    log_n = t * total
    log_d = _log_tokens(log_n, lc, k, flops)
    return log_n, log_d, _log_loss_pairs(result, th, log_n, log_d)


def _interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over draws (axis 0); never widened to hold the estimate.

    NaN draws are left out (any number of them); infinite ones count as values.
    """
    with np.errstate(all="ignore"):
        lo, hi, _ = percentile_intervals(draws, level, max_failed_fraction=1.0,
                                         keep_infinite=True)
    return lo, hi


def _bracket_note(name: str, est: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  level: float, where: np.ndarray) -> list[str]:
    """A diagnostic for rows whose percentile interval does not contain the estimate."""
    out = ~((lo <= est) & (est <= hi))
    if not np.any(out):
        return []
    return [f"the {level:.0%} interval of {name} does not contain its estimate at "
            f"{int(out.sum())} point(s) (first at {where[np.argmax(out)]:.4g}): the "
            "parameter draws are skewed or the estimate sits at the edge of their "
            "distribution; treat that interval with care."]


def compute_optimal(
    result: FitResult,
    compute: float | Sequence[float] | np.ndarray,
    *,
    flops_per_param_token: float = 6.0,
    flops: FlopsFormula | None = None,
    level: float | None = None,
    n_draws: int = 1000,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Compute-optimal model size, data size and loss for given budgets.

    Parameters
    ----------
    result : FitResult
        A fit of a two-input law (parameters first, data second).
    compute : float or array_like
        Budgets in FLOPs.
    flops_per_param_token : float, default=6.0
        ``k`` in ``C = k N D`` (6 for dense transformers: forward plus backward).
    flops : callable, optional
        A custom FLOP formula ``flops(N, D) -> C``, increasing in ``D``; replaces
        ``k N D``.
    level : float, optional
        Interval coverage (default: the fit's level).
    n_draws : int, default=1000
        Parameter draws when the fit has no bootstrap replicas.
    random_state : int, numpy.random.Generator or None, default=0
        Seed for those draws.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``compute``, the two input columns with
        ``_ci_lower``/``_ci_upper``, ``tokens_per_param`` (D*/N*), ``loss``
        with ``loss_ci_lower``/``loss_ci_upper`` (interval of the frontier) and
        ``extrapolation_factor`` of the optimum.

    Examples
    --------
    >>> import scalelaw as sl
    >>> from scalelaw.synthetic import chinchilla_design, simulate_runs
    >>> runs = simulate_runs(chinchilla_design())
    >>> res = sl.fit("chinchilla", runs, x=["n_params", "n_tokens"], y="loss")
    >>> opt = compute_optimal(res, 5.76e23)
    >>> print(f"{opt.n_params[0]:.3g} {opt.n_tokens[0]:.3g}")
    7.22e+10 1.33e+12
    """
    _check_two_inputs(result)
    level = result.level if level is None else check_level(level)
    c = _check_compute(compute)
    k = float(flops_per_param_token)
    if not (np.isfinite(k) and k > 0):
        raise DataValidationError(
            f"The 'flops_per_param_token' parameter must be a positive float. Got {k!r} "
            "instead.",
            column="flops_per_param_token",
        )
    log_c = np.log(c)
    ln, ld, ll = _frontier(result, result.theta[None, :], log_c, k, flops)
    theta_b = parameter_draws(result, n_draws, random_state)
    bn, bd, bl = _frontier(result, theta_b, log_c, k, flops)
    n_col, d_col = result.x
    out: dict[str, Any] = {"compute": c}
    notes: list[str] = []
    for name, est, draws in ((n_col, ln[0], bn), (d_col, ld[0], bd), ("loss", ll[0], bl)):
        lo, hi = _interval(draws, level)
        notes += _bracket_note(name, est, lo, hi, level, c)
        out[name] = np.exp(est)
        out[f"{name}_ci_lower"] = np.exp(lo)
        out[f"{name}_ci_upper"] = np.exp(hi)
    out["tokens_per_param"] = np.exp(ld[0] - ln[0])
    out["extrapolation_factor"] = extrapolation_distance(result, [np.exp(ln[0]),
                                                                  np.exp(ld[0])])[0]
    frame = pd.DataFrame(out)
    frame.attrs.update(level=level, n_draws=int(theta_b.shape[0]),
                       draws="bootstrap" if result.bootstrap is not None else "wald",
                       diagnostics=notes)
    return frame


def isoflop_profile(
    result: FitResult,
    compute: float | Sequence[float] | np.ndarray,
    *,
    n_params: Sequence[float] | np.ndarray | None = None,
    n_points: int = 41,
    span: float = 100.0,
    flops_per_param_token: float = 6.0,
    flops: FlopsFormula | None = None,
    level: float | None = None,
    n_draws: int = 1000,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Predicted loss along isoFLOP curves (Hoffmann et al. Approach 2 profiles).

    Parameters
    ----------
    result : FitResult
        A fit of a two-input law.
    compute : float or array_like
        Budgets in FLOPs; one profile each.
    n_params : array_like, optional
        Model sizes to evaluate; default ``n_points`` log-spaced sizes from
        ``N*/sqrt(span)`` to ``N* sqrt(span)`` around each budget's optimum.
    n_points : int, default=41
        Points per profile when ``n_params`` is not given.
    span : float, default=100.0
        Ratio of the largest to the smallest default model size.
    flops_per_param_token, flops, level, n_draws, random_state
        As in :func:`compute_optimal`.

    Returns
    -------
    pandas.DataFrame
        ``compute``, the two input columns, ``loss``, ``loss_ci_lower``,
        ``loss_ci_upper`` and ``is_optimum`` (the grid point nearest N*).

    Examples
    --------
    >>> import scalelaw as sl
    >>> from scalelaw.synthetic import chinchilla_design, simulate_runs
    >>> runs = simulate_runs(chinchilla_design())
    >>> res = sl.fit("chinchilla", runs, x=["n_params", "n_tokens"], y="loss")
    >>> prof = isoflop_profile(res, 1e21, n_points=5)
    >>> prof.loss.idxmin() == prof.index[prof.is_optimum][0]
    True
    """
    _check_two_inputs(result)
    level = result.level if level is None else check_level(level)
    c = _check_compute(compute)
    if not (isinstance(n_points, int) and n_points >= 2):
        raise DataValidationError(
            f"The 'n_points' parameter must be an int >= 2. Got {n_points!r} instead.",
            column="n_points",
        )
    opt = compute_optimal(result, c, flops_per_param_token=flops_per_param_token,
                          flops=flops, level=level, n_draws=8, random_state=random_state)
    n_col, d_col = result.x
    theta_b = parameter_draws(result, n_draws, random_state)
    frames = []
    notes: list[str] = []
    for j, cj in enumerate(c):
        if n_params is None:
            nstar = float(opt[n_col].iloc[j])
            grid = nstar * np.logspace(-0.5, 0.5, n_points) ** np.log10(span)
            grid = np.unique(np.append(grid, nstar))
        else:
            grid = _check_compute(n_params, "n_params")
        log_n = np.log(grid)
        log_c = np.full_like(log_n, np.log(cj))
        log_d = _log_tokens(log_n, log_c, float(flops_per_param_token), flops)
        est = _log_loss_pairs(result, np.repeat(result.theta[None, :], grid.size, 0),
                              log_n, log_d)
        b = theta_b.shape[0]
        draws = _log_loss_pairs(result, np.repeat(theta_b, grid.size, axis=0),
                                np.tile(log_n, b), np.tile(log_d, b)).reshape(b, -1)
        lo, hi = _interval(draws, level)
        notes += _bracket_note(f"loss at compute {cj:.3g}", est, lo, hi, level, grid)
        nearest = np.argmin(np.abs(log_n - np.log(float(opt[n_col].iloc[j]))))
        frames.append(pd.DataFrame({
            "compute": cj, n_col: grid, d_col: np.exp(log_d), "loss": np.exp(est),
            "loss_ci_lower": np.exp(lo), "loss_ci_upper": np.exp(hi),
            "is_optimum": np.arange(grid.size) == nearest,
        }))
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs.update(level=level, diagnostics=notes)
    return frame


def propose_runs(
    result: FitResult,
    budget: float,
    *,
    n_runs: int = 5,
    spread: float = 4.0,
    flops_per_param_token: float = 6.0,
    level: float | None = None,
) -> pd.DataFrame:
    """Propose the next runs for a total compute budget.

    The budget is split evenly over ``n_runs`` runs on one isoFLOP curve at
    ``C = budget / n_runs``, with model sizes log-spaced from ``N*/spread`` to
    ``N* spread`` around the forecast optimum ``N*(C)``: the largest scale
    affordable, bracketing the optimum so that the new runs test where it is
    (an Approach 2 profile) and shrink the extrapolation of the next forecast.

    Parameters
    ----------
    result : FitResult
        A fit of a two-input law.
    budget : float
        Total FLOPs for all proposed runs together.
    n_runs : int, default=5
        Number of runs (>= 1; one run goes to the optimum itself).
    spread : float, default=4.0
        Ratio of the largest proposed model size to ``N*`` (>= 1).
    flops_per_param_token : float, default=6.0
        ``k`` in ``C = k N D``.
    level : float, optional
        Coverage of the predicted-loss interval (default: the fit's level).

    Returns
    -------
    pandas.DataFrame
        ``run``, ``compute``, the two input columns, the forecast ``mean`` with
        ``obs_ci_lower``/``obs_ci_upper`` for a new run and
        ``extrapolation_factor``.

    Examples
    --------
    >>> import scalelaw as sl
    >>> from scalelaw.synthetic import chinchilla_design, simulate_runs
    >>> runs = simulate_runs(chinchilla_design())
    >>> res = sl.fit("chinchilla", runs, x=["n_params", "n_tokens"], y="loss")
    >>> import warnings
    >>> with warnings.catch_warnings():  # the proposals lie beyond the data, by design
    ...     warnings.simplefilter("ignore", sl.ExtrapolationWarning)
    ...     plan = propose_runs(res, 5e22, n_runs=5)
    >>> f"{plan.compute.sum():.3g}", len(plan)
    ('5e+22', 5)
    """
    _check_two_inputs(result)
    budget = float(_check_compute(budget, "budget")[0])
    if not (isinstance(n_runs, int) and n_runs >= 1):
        raise DataValidationError(
            f"The 'n_runs' parameter must be an int >= 1. Got {n_runs!r} instead.",
            column="n_runs",
        )
    if not (np.isfinite(spread) and spread >= 1.0):
        raise DataValidationError(
            f"The 'spread' parameter must be a float >= 1. Got {spread!r} instead.",
            column="spread",
        )
    k = float(flops_per_param_token)
    c_run = budget / n_runs
    n_col, d_col = result.x
    nstar = float(compute_optimal(result, c_run, flops_per_param_token=k,
                                  n_draws=8)[n_col].iloc[0])
    factors = spread ** np.linspace(-1.0, 1.0, n_runs) if n_runs > 1 else np.ones(1)
    n = nstar * factors
    d = c_run / (k * n)
    pred = result.get_prediction(level, extrapolate=True, **{n_col: n, d_col: d})
    return pd.DataFrame({
        "run": np.arange(1, n_runs + 1), "compute": np.full(n_runs, c_run),
        n_col: n, d_col: d, "mean": pred["mean"].to_numpy(),
        "obs_ci_lower": pred["obs_ci_lower"].to_numpy(),
        "obs_ci_upper": pred["obs_ci_upper"].to_numpy(),
        "extrapolation_factor": pred["extrapolation_factor"].to_numpy(),
    })


def solve_for_loss(
    result: FitResult,
    target: float,
    *,
    flops_per_param_token: float = 6.0,
    level: float | None = None,
    n_draws: int = 1000,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Scale at which the fitted law reaches a target loss, with an interval.

    One-input laws: the input value ``x`` with ``L(x) = target``. Two-input
    laws: the compute ``C`` at which the compute-optimal frontier reaches the
    target, with the optimal ``N*`` and ``D*`` there. The interval is the
    percentile interval over parameter draws; draws whose asymptote lies above
    the target never reach it and count as infinitely far (``share_reachable``
    reports how many reach it).

    Parameters
    ----------
    result : FitResult
        A fit of a law decreasing in its input(s).
    target : float
        The loss to reach.
    flops_per_param_token : float, default=6.0
        ``k`` in ``C = k N D`` (two-input laws).
    level, n_draws, random_state
        As in :func:`compute_optimal`.

    Returns
    -------
    pandas.DataFrame
        One row per solved quantity (the input, or ``compute`` and the two
        inputs): ``quantity``, ``estimate``, ``ci_lower``, ``ci_upper``,
        ``share_reachable``; the target in ``attrs``.

    Raises
    ------
    ExtrapolationError
        The fitted curve itself never reaches the target.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalelaw as sl
    >>> x = np.logspace(6, 9, 20)
    >>> res = sl.fit("saturating_power", pd.DataFrame({"n": x, "L": 1 + 10 * x ** -0.2}),
    ...              x="n", y="L")
    >>> tab = solve_for_loss(res, 1.05)   # 10 n^-0.2 = 0.05  =>  n = 200^5
    >>> print(f"{tab.estimate[0]:.4g}")
    3.2e+11
    """
    level = result.level if level is None else check_level(level)
    target = float(target)
    if not (np.isfinite(target) and target > 0):
        raise DataValidationError(
            f"The 'target' parameter must be a positive finite loss. Got {target!r} "
            "instead.",
            column="target",
        )
    theta_b = parameter_draws(result, n_draws, random_state)
    thetas = np.vstack([result.theta[None, :], theta_b])
    lt = np.log(target)
    k = float(flops_per_param_token)
    if len(result.x) == 1:
        def curve(th: np.ndarray, u: np.ndarray) -> np.ndarray:
            X = _PairInputs([np.exp(u)])
            with np.errstate(all="ignore"):
                v, _ = result.law.value_and_jacobian(th, X, log=True, jac=False)
            return v[:, 0]
        names = [result.x[0]]
    else:
        _check_two_inputs(result)

        def curve(th: np.ndarray, u: np.ndarray) -> np.ndarray:
            return _frontier_pairs(result, th, u, k, None)[2]
        names = ["compute", *result.x]
    lo_dom = min(np.log(v[0]) for v in result.domain.values())
    hi_dom = max(np.log(v[1]) for v in result.domain.values())
    if len(result.x) == 2:
        lo_dom, hi_dom = np.log(k) + 2 * lo_dom, np.log(k) + 2 * hi_dom
    lo = np.full(thetas.shape[0], lo_dom - 30.0)
    hi = np.full(thetas.shape[0], hi_dom + 120.0)
    if isinstance(result.law, ChinchillaLaw):
        solved = _chinchilla_compute_for_loss(thetas, lt, k)
    else:
        f_hi = curve(thetas, hi) - lt
        reach = f_hi < 0
        for _ in range(70):
            mid = 0.5 * (lo + hi)
            above = curve(thetas, mid) - lt > 0
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        solved = np.where(reach, 0.5 * (lo + hi), np.inf)
    if not np.isfinite(solved[0]):
        raise ExtrapolationError(
            f"The fitted curve never reaches loss {target:g} (its asymptote is above it); "
            f"fitted parameters: {result.params.round(6).to_dict()}."
        )
    draws = solved[1:]
    share = float(np.mean(np.isfinite(draws)))
    rows = []
    notes: list[str] = []
    ests = [solved[0]]
    samples = [draws]
    if len(result.x) == 2:
        fin = np.isfinite(draws)
        ln0, ld0, _ = _frontier(result, thetas[:1], solved[:1], k, None)
        ln_b = np.full(draws.size, np.inf)
        ld_b = np.full(draws.size, np.inf)
        if fin.any():
            idx = np.flatnonzero(fin)
            ln_f, ld_f, _ = _frontier_pairs(result, theta_b[idx], draws[idx], k, None)
            ln_b[idx], ld_b[idx] = ln_f, ld_f
        ests += [ln0[0, 0], ld0[0, 0]]
        samples += [ln_b, ld_b]
    for name, est, smp in zip(names, ests, samples, strict=True):
        # unreachable draws are infinitely far (values, not failures); a NaN one fails all
        (q_lo, q_hi), _ = percentile_interval(smp, level, max_failed_fraction=0.0,
                                              keep_infinite=True)
        notes += _bracket_note(name, np.array([est]), np.array([q_lo]), np.array([q_hi]),
                               level, np.array([target]))
        rows.append({"quantity": name, "estimate": np.exp(est),
                     "ci_lower": np.exp(q_lo), "ci_upper": np.exp(q_hi),
                     "share_reachable": share})
    frame = pd.DataFrame(rows)
    frame.attrs.update(target=target, level=level, diagnostics=notes)
    return frame


def _chinchilla_compute_for_loss(thetas: np.ndarray, log_target: float, k: float) -> np.ndarray:
    """log C where the Chinchilla frontier reaches the target (inf if never)."""
    E, A, B = np.exp(thetas[:, 0]), np.exp(thetas[:, 1]), np.exp(thetas[:, 2])
    a, b = thetas[:, 3], thetas[:, 4]
    with np.errstate(all="ignore"):
        log_g = (np.log(a * A) - np.log(b * B)) / (a + b)
        # L* - E = K (C/k)^(-ab/(a+b)) with K = A G^-a + B G^b
        log_kk = np.logaddexp(np.log(A) - a * log_g, np.log(B) + b * log_g)
        gap = np.exp(log_target) - E
        out = np.log(k) + (log_kk - np.log(gap)) * (a + b) / (a * b)
    return np.where(gap > 0, out, np.inf)
