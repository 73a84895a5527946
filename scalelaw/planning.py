"""Plan the next runs: the runs under a compute budget that most shrink the forecast interval.

Given a fit of a two-input law ``L(N, D)`` and a target (a compute budget,
forecast at its compute-optimal point, or an explicit ``(N, D)``), the next
``k`` runs are chosen from a grid of candidate ``(N, D)`` whose total cost
``C = k_f N D`` fits the budget, to make the forecast interval at the target
as narrow as possible.

The expected width after adding runs comes from the fit's covariance. The
Wald covariance is ``Sigma = tau^2 A^-1`` with ``A = J^T W J`` the
information of the fitted rows (``J``: derivatives of the fitted-scale
prediction, log for the log objectives) and ``tau^2`` the residual scale
factor. A new run at ``x_c`` adds ``j_c j_c^T`` to ``A``, so (Sherman-Morrison)

.. math::

    \\Sigma' = \\Sigma - \\frac{\\Sigma j_c j_c^T \\Sigma}{\\tau^2 + j_c^T \\Sigma j_c},

holding the residual scale and the estimate fixed (what one expects before
seeing the run). The variance of the log forecast at the target is
``g^T Sigma g`` (``g``: its gradient); the prediction interval of a new run
there adds the residual scatter and, for a calibrated fit
(:func:`scalelaw.calibrate`), the extrapolation term ``kappa^2 d``, whose
distance ``d`` (in units of the fit's observed log-ranges) shrinks as the new
runs extend the fitted domain toward the target. Runs are chosen greedily
(each the best under the budget left after keeping the cheapest candidate for
each run still to choose), then improved
by exchange passes (each run in turn replaced by the best candidate given the
others). The widths use the t quantile of the residual degrees of freedom,
which grow by one per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_int, check_level, check_positive_float
from scalelaw.allocation import compute_optimal
from scalelaw.exceptions import DataValidationError
from scalelaw.forecast import log_residual_sd, t_quantile
from scalelaw.inference import free_mask
from scalelaw.laws import Inputs
from scalelaw.optim import is_log

if TYPE_CHECKING:
    from scalelaw.results import FitResult

__all__ = ["RunPlan", "plan_runs"]


@dataclass(frozen=True)
class RunPlan:
    """The proposed runs and the expected forecast interval at the target.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per proposed run, in the order chosen: ``run``, the two input
        columns, ``compute``, ``width_after`` and ``curve_width_after`` (the
        expected prediction-interval and curve-interval widths at the target,
        loss units, once this run and those above it are added).
    target : dict
        The target's inputs and ``compute``.
    width_before, width_after : float
        Expected width of the prediction interval of a new run at the target,
        now and after all proposed runs (loss units).
    curve_width_before, curve_width_after : float
        The same for the interval of the forecast curve (parameter
        uncertainty only).
    budget, spent : float
        The compute budget and the proposed runs' total compute.
    level : float
        Interval level.
    n_candidates : int
        Candidate runs considered.
    note : str
        What the widths hold (calibrated or not).
    """

    runs: pd.DataFrame
    target: dict[str, float]
    width_before: float
    width_after: float
    curve_width_before: float
    curve_width_after: float
    budget: float
    spent: float
    level: float
    n_candidates: int
    note: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {"runs": self.runs.to_dict(orient="records"), "target": dict(self.target),
                "width_before": self.width_before, "width_after": self.width_after,
                "curve_width_before": self.curve_width_before,
                "curve_width_after": self.curve_width_after, "budget": self.budget,
                "spent": self.spent, "level": self.level,
                "n_candidates": self.n_candidates, "note": self.note}

    def summary(self) -> str:
        """A plain-text report."""
        t = ", ".join(f"{k}={v:.4g}" for k, v in self.target.items())
        lines = [f"Run plan: {len(self.runs)} run(s), {self.spent:.4g} of {self.budget:.4g} "
                 f"FLOPs, for the forecast at {t}",
                 f"{self.level:.0%} prediction interval width at the target: "
                 f"{self.width_before:.4g} -> {self.width_after:.4g} (curve "
                 f"{self.curve_width_before:.4g} -> {self.curve_width_after:.4g})",
                 self.runs.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                 self.note]
        return "\n".join(lines)


class _State:
    """The fit's information, the target's gradient and the domain, for expected widths."""

    def __init__(self, result: FitResult, target: list[float], level: float) -> None:
        law, theta = result.law, result.theta
        self.result, self.level = result, level
        self.free, _ = free_mask(law, theta)
        cov = result.cov_internal[np.ix_(self.free, self.free)]
        if result.dof_resid < 1 or not np.all(np.isfinite(cov)):
            raise DataValidationError(
                f"The fit of law {law.name!r} has no interval at the target (no residual "
                "degrees of freedom, or a singular covariance): there is no width to shrink.",
                column="fit")
        self.log_scale = is_log(result.objective)
        used = result.data[result.data["weight"] > 0]
        self.used = used[list(result.x)].to_numpy(dtype=np.float64)
        J = self.jac([used[c].to_numpy(dtype=np.float64) for c in result.x])
        w = used["weight"].to_numpy(dtype=np.float64)
        info = (J * w[:, None]).T @ J
        self.tau2 = float(np.mean(np.diag(cov @ info)))
        self.info = info
        self.cov = cov
        self.target = [np.array([v]) for v in target]
        value, grads = law.value_and_jacobian(theta[None, :], Inputs(self.target), log=True)
        self.log_mean = float(value[0, 0])
        self.g = np.array([np.broadcast_to(gr, (1, 1))[0, 0] for gr in grads])[self.free]
        self.sigma = log_residual_sd(result)
        cal = result.calibration
        self.kappa = cal.kappa if cal is not None and np.isfinite(cal.kappa) else 0.0

    def jac(self, cols: list[np.ndarray]) -> np.ndarray:
        """Derivatives of the fitted-scale prediction at rows ``cols``: ``(n, p_free)``."""
        _, grads = self.result.law.value_and_jacobian(self.result.theta[None, :], Inputs(cols),
                                                      log=self.log_scale)
        n = len(cols[0])
        return np.stack([np.broadcast_to(g, (1, n))[0] for g in grads], axis=1)[:, self.free]

    def distance(self, extra: np.ndarray) -> float:
        """The target's extrapolation distance once runs ``extra`` (m, 2) join the data.

        As :func:`scalelaw.forecast.extrapolation_distance` for positive inputs: the
        largest excess beyond the observed log-range of an input, or of their sum (the
        joint scale), in units of that range. The new runs move the edges; the unit
        stays the fit's own ranges, so runs far below the data (which widen the range
        without nearing the target) do not count as shrinking the distance.
        """
        base = np.log(self.used)
        logs = np.vstack([base, np.log(extra)]) if len(extra) else base
        u = np.log([float(t[0]) for t in self.target])
        tot, tot0 = logs.sum(axis=1), base.sum(axis=1)
        parts = [(u, logs.min(axis=0), logs.max(axis=0), np.ptp(base, axis=0)),
                 (np.array([u.sum()]), np.array([tot.min()]), np.array([tot.max()]),
                  np.array([np.ptp(tot0)]))]
        dist = 0.0
        for v, a, b, span in parts:
            excess = np.maximum(np.maximum(v - b, a - v), 0.0)
            dist = max(dist, float(np.max(excess / np.maximum(span, 1e-12))))
        return dist

    def widths(self, var_log: float, dist: float, dof: int) -> tuple[float, float]:
        """(prediction-interval width, curve width) at the target, loss units."""
        q = t_quantile(self.level, dof)
        m = np.exp(self.log_mean)
        sd_obs = np.sqrt(var_log + self.sigma**2 + self.kappa**2 * dist)
        sd_mean = np.sqrt(var_log)
        return (float(m * (np.exp(q * sd_obs) - np.exp(-q * sd_obs))),
                float(m * (np.exp(q * sd_mean) - np.exp(-q * sd_mean))))

    def var_after(self, js: np.ndarray) -> float:
        """Variance of the log forecast at the target after adding rows ``js`` (m, p_free)."""
        info = self.info + js.T @ js
        cov = self.tau2 * np.linalg.pinv(info)
        return float(self.g @ cov @ self.g)


def _candidates(result: FitResult, budget: float, k: float, target: list[float], grid: int
                ) -> np.ndarray:
    """Candidate (N, D): a log grid in N and tokens per parameter, cost within the budget."""
    used = result.data[result.data["weight"] > 0]
    n, d = (used[c].to_numpy(dtype=np.float64) for c in result.x)
    ratio = d / n
    r_lo, r_hi = float(ratio.min()) / 2.0, float(ratio.max()) * 2.0
    n_hi = min(np.sqrt(budget / (k * r_lo)), max(target[0], float(n.max())))
    n_lo = min(float(n.min()), n_hi)
    ns = np.geomspace(n_lo, n_hi, grid)
    rs = np.geomspace(r_lo, r_hi, grid)
    nn, rr = np.meshgrid(ns, rs, indexing="ij")
    cand = np.stack([nn.ravel(), (nn * rr).ravel()], axis=1)
    return cand[k * cand[:, 0] * cand[:, 1] <= budget * (1 + 1e-12)]


def plan_runs(
    result: FitResult,
    *,
    budget: float,
    target_flops: float | None = None,
    target: dict[str, float] | None = None,
    n_runs: int = 3,
    flops_per_param_token: float = 6.0,
    level: float | None = None,
    grid: int = 24,
    exchange_passes: int = 2,
) -> RunPlan:
    """Propose the next runs that most shrink the forecast interval at a target.

    See the module docstring for the expected-width model (the Fisher
    information update of the fit's covariance, residual scale held fixed).

    Parameters
    ----------
    result : FitResult
        A fit of a two-input law (parameters, then tokens), with a covariance.
    budget : float
        Total FLOPs of the proposed runs together (``C = k N D`` each).
    target_flops : float, optional
        Forecast target as a compute budget: its compute-optimal ``(N, D)``
        under the fit (:func:`scalelaw.compute_optimal`).
    target : dict, optional
        Forecast target as ``{n_col: N, d_col: D}`` (the fit's input names).
        Exactly one of ``target_flops`` and ``target``.
    n_runs : int, default=3
        Number of runs to propose.
    flops_per_param_token : float, default=6.0
        ``k`` in ``C = k N D``.
    level : float, optional
        Interval level (default: the fit's).
    grid : int, default=24
        Grid points per axis (model size, tokens per parameter from half the
        smallest to twice the largest in the data).
    exchange_passes : int, default=2
        Passes of single-run exchanges after the greedy choice.

    Returns
    -------
    RunPlan
        The runs, with the expected widths at the target before and after.

    Raises
    ------
    DataValidationError
        Not a two-input fit, no covariance, a bad target or budget, or a
        budget below the cheapest ``n_runs`` candidates.

    Examples
    --------
    >>> import scalelaw as sl
    >>> from scalelaw.synthetic import chinchilla_design, simulate_runs
    >>> runs = simulate_runs(chinchilla_design()).query("flops < 1e20")
    >>> res = sl.fit("chinchilla", runs, x=["n_params", "n_tokens"], y="loss",
    ...              objective="mse_log")
    >>> plan = plan_runs(res, budget=3e20, target_flops=1e23, n_runs=2)
    >>> len(plan.runs), plan.spent <= 3e20, plan.width_after < plan.width_before
    (2, True, True)
    """
    if len(result.x) != 2:
        raise DataValidationError(f"Run planning needs a law of two inputs (parameters, "
                                  f"tokens); this fit has {list(result.x)}.", column="law")
    budget = check_positive_float(budget, "budget")
    k = check_positive_float(flops_per_param_token, "flops_per_param_token")
    n_runs = check_int(n_runs, "n_runs", minimum=1)
    level = result.level if level is None else check_level(level)
    n_col, d_col = result.x
    if (target_flops is None) == (target is None):
        raise DataValidationError("Give exactly one of target_flops (--target-flops C) and "
                                  "target (--target N_COL=N,D_COL=D).", column="target")
    if target is not None:
        missing = [c for c in result.x if c not in target]
        if missing:
            raise DataValidationError(f"The target needs the fit's inputs {list(result.x)}; "
                                      f"missing {missing}.", column=missing[0])
        point = [check_positive_float(target[c], c) for c in result.x]
    else:
        c = check_positive_float(target_flops, "target_flops")
        opt = compute_optimal(result, c, flops_per_param_token=k, n_draws=8)
        point = [float(opt[n_col].iloc[0]), float(opt[d_col].iloc[0])]
    state = _State(result, point, level)
    cand = _candidates(result, budget, k, point, grid)
    cost = k * cand[:, 0] * cand[:, 1]
    if len(cand) < 1 or n_runs * cost.min() > budget:
        raise DataValidationError(
            f"A budget of {budget:.4g} FLOPs does not buy {n_runs} run(s) of the candidate "
            f"grid (the cheapest costs {cost.min() if len(cost) else float('nan'):.4g}).",
            column="budget")
    J = state.jac([cand[:, 0], cand[:, 1]])
    chosen = _greedy(state, J, cand, cost, budget, n_runs)
    for _ in range(exchange_passes):
        chosen, changed = _exchange(state, J, cand, cost, budget, chosen)
        if not changed:
            break
    dof = result.dof_resid
    before = state.widths(float(state.g @ state.cov @ state.g), state.distance(cand[:0]), dof)
    rows = []
    for i in range(len(chosen)):
        idx = chosen[: i + 1]
        w = state.widths(state.var_after(J[idx]), state.distance(cand[idx]), dof + i + 1)
        rows.append({"run": i + 1, n_col: cand[chosen[i], 0], d_col: cand[chosen[i], 1],
                     "compute": float(cost[chosen[i]]), "width_after": w[0],
                     "curve_width_after": w[1]})
    runs = pd.DataFrame(rows)
    note = ("widths: residual scale and estimate held fixed; the extrapolation term uses the "
            "fit's calibration" if state.kappa else
            "widths: residual scale and estimate held fixed; the fit is not calibrated, so "
            "the prediction interval holds no extrapolation error (scalelaw.calibrate)")
    return RunPlan(runs, {n_col: point[0], d_col: point[1], "compute": k * point[0] * point[1]},
                   before[0], rows[-1]["width_after"], before[1], rows[-1]["curve_width_after"],
                   budget, float(cost[chosen].sum()), level, len(cand), note)


def _objective(state: _State, js: np.ndarray, extra: np.ndarray) -> float:
    """Variance of a new run's log forecast at the target after rows ``js``."""
    if not state.kappa:  # the residual scatter is the same for every choice
        return state.var_after(js)
    return state.var_after(js) + state.kappa**2 * state.distance(extra)


def _greedy(state: _State, J: np.ndarray, cand: np.ndarray, cost: np.ndarray, budget: float,
            n_runs: int) -> list[int]:
    chosen: list[int] = []
    cheapest = float(cost.min())
    for i in range(n_runs):
        left = budget - float(cost[chosen].sum()) - (n_runs - i - 1) * cheapest
        ok = np.flatnonzero(cost <= left * (1 + 1e-12))
        scores = [_objective(state, J[[*chosen, j]], cand[[*chosen, j]]) for j in ok]
        chosen.append(int(ok[int(np.argmin(scores))]))
    return chosen


def _exchange(state: _State, J: np.ndarray, cand: np.ndarray, cost: np.ndarray, budget: float,
              chosen: list[int]) -> tuple[list[int], bool]:
    changed = False
    for i in range(len(chosen)):
        others = chosen[:i] + chosen[i + 1:]
        left = budget - float(cost[others].sum())
        ok = np.flatnonzero(cost <= left * (1 + 1e-12))
        scores = [_objective(state, J[[*others, j]], cand[[*others, j]]) for j in ok]
        best = int(ok[int(np.argmin(scores))])
        current = _objective(state, J[chosen], cand[chosen])
        if best != chosen[i] and min(scores) < current * (1 - 1e-9):
            chosen = [*others[:i], best, *others[i:]]
            changed = True
    return chosen, changed
