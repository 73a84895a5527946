"""The text report of a fit (:meth:`FitResult.summary`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scalelaw.inference import Diagnostic

__all__ = ["fit_summary"]


def fit_summary(result: Any) -> str:
    """Header, parameter table with intervals, and diagnostics of a fit."""
    method = result.default_interval_method
    notes: list[str] = []
    if method == "profile":
        lo_i, hi_i, notes = result._profile(result.level)
        b_lo, b_hi = result.law.internal_bounds()
        with np.errstate(over="ignore", invalid="ignore"):
            ci = pd.DataFrame({"lower": result.law.to_natural(np.clip(lo_i, b_lo, b_hi)),
                               "upper": result.law.to_natural(np.clip(hi_i, b_lo, b_hi))},
                              index=result.params.index)
    else:
        ci = result.conf_int(method=method)
    dom = "  ".join(
        f"{c}=[{lo:.4g}, {hi:.4g}]" for c, (lo, hi) in result.domain.items()
    )
    bound = ", ".join(
        f"{a} <- {c!r}" for a, c in zip(result.law.inputs, result.x, strict=True)
    )
    crit = ("AIC/BIC n/a (huber_log is not a likelihood)" if result.objective == "huber_log"
            else f"Gaussian AIC={result.aic:.4g}  BIC={result.bic:.4g}")
    lines = [
        f"Scaling-law fit: {result.law.name}    {result.law.formula}",
        f"inputs: {bound}    target: {result.y!r}",
        f"objective={result.objective}"
        + (f" (delta={result.delta:g})" if result.objective == "huber_log" else "")
        + f"  n_obs={result.n_obs}  dof_resid={result.dof_resid}  loss={result.loss:.10g}",
        f"starts={result.n_starts} (converged {result.n_starts_converged}, "
        f"at best optimum {result.n_starts_at_best})  converged={result.converged}  {crit}",
        f"optimiser: {result.message}",
        f"domain: {dom}",
    ]
    if "auto" in result.settings:
        lines.append(f"law: {result.settings['auto']['reason']}")
    if result.calibration is not None:
        cal = result.calibration
        lines.append(f"extrapolation calibration: kappa={cal.kappa:.4g} from "
                     f"{cal.n_points} backtest point(s) ({cal.source})")
    if any(result.excluded.values()):
        lines.append(
            "excluded rows: "
            + ", ".join(f"{k}={v}" for k, v in result.excluded.items() if v)
        )
    if result.bootstrap is not None:
        info = result.bootstrap_info
        lines.append(
            f"bootstrap: {info['n_boot']} replicas resampling "
            f"{info['unit']}, {info['n_starts']} warm start(s), seed "
            f"{info['random_state']}, {info['n_failed']} failed"
        )
    head = f"{'':10s}{'estimate':>14s}{'std err':>12s}   {result.level:.0%} {method} interval"
    lines += ["", head]
    at_bound = {p for d in result.diagnostics if d.code == "at_bound" for p in d.params}
    for name in result.params.index:
        est, se = result.params[name], result.stderr[name]
        lo, hi = ci.loc[name, "lower"], ci.loc[name, "upper"]
        note = "  at bound" if name in at_bound else ""
        lines.append(
            f"{name:10s}{est:>14.6g}{se:>12.4g}   [{lo:.6g}, {hi:.6g}]{note}"
        )
    diags = list(result.diagnostics) + [Diagnostic("profile_open", n) for n in notes]
    lines.append("")
    if diags:
        lines.append("Diagnostics:")
        lines += [f"  - {d}" for d in diags]
    else:
        lines.append("Diagnostics: none")
    return "\n".join(lines)
