"""Initial values and default starts of user-defined laws.

Default starts are deterministic (a fixed seed unless the fit passes a
generator): the initial values, then 63 draws around them when the user gave
every value, else 255 draws: around the values given, and for the others
log-uniform magnitudes from 1e-3 to 1e4 with either sign where the bounds
allow (a quarter of them on the scale of the inputs). Parameters in which the
law is affine (amplitudes, offsets) are then set to their least-squares
values for each draw (variable projection, Golub & Pereyra 1973).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.laws._base import Inputs, Param, ScalingLaw, _clip_theta

__all__ = ["N_DRAWN_STARTS", "N_DRAWN_STARTS_GIVEN", "inside_bounds", "make_params",
           "user_starts"]

N_DRAWN_STARTS = 255  # drawn starts of a user law, besides its initial values
N_DRAWN_STARTS_GIVEN = 63  # ... when the user gave every initial value (draws nearby)



def make_params(
    names: Sequence[str],
    bounds: Mapping[str, tuple[float, float]],
    log_params: Sequence[str],
    p0: Mapping[str, float],
    what: str,
) -> tuple[tuple[Param, ...], tuple[float, ...], tuple[bool, ...]]:
    """Params, initial values (1.0 when not given) and which values were given."""
    for key in list(bounds) + list(p0) + list(log_params):
        if key not in names:
            raise unknown_name(f"parameter of {what}", key, names)
    params = []
    guess = []
    for n in names:
        default = (0.0, np.inf) if n in log_params else (-np.inf, np.inf)
        lo, hi = bounds.get(n, default)
        prm = Param(n, float(lo), float(hi), log=n in log_params)
        g = float(p0.get(n, inside_bounds(prm, 1.0)))
        if not prm.lower <= g <= prm.upper:
            raise DataValidationError(
                f"Initial value {g!r} of parameter {n!r} lies outside its bounds "
                f"[{prm.lower!r}, {prm.upper!r}].",
                column=n,
            )
        if prm.log and g <= 0:
            raise DataValidationError(
                f"Parameter {n!r} is optimised on the log scale, so its initial value "
                f"must be > 0. Got {g!r} instead.",
                column=n,
            )
        params.append(prm)
        guess.append(g)
    return tuple(params), tuple(guess), tuple(n in p0 for n in names)


def inside_bounds(prm: Param, value: float) -> float:
    """``value`` moved inside the parameter's bounds (the default initial value)."""
    if prm.lower <= value <= prm.upper:
        return value
    if np.isfinite(prm.lower) and np.isfinite(prm.upper):
        return 0.5 * (prm.lower + prm.upper)
    return prm.lower + 1.0 if np.isfinite(prm.lower) else prm.upper - 1.0


def user_starts(law: ScalingLaw, p0: Sequence[float], given: Sequence[bool],
                 X: Inputs, y: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Default starts of a user law (see the module docstring)."""
    guess = law.to_internal(np.asarray(p0, dtype=np.float64))
    rng = rng if rng is not None else np.random.default_rng(0)
    k = N_DRAWN_STARTS_GIVEN if all(given) else N_DRAWN_STARTS
    finite = np.concatenate([np.ravel(c)[np.isfinite(np.ravel(c))] for c in X.cols] or
                            [np.ones(1)])
    x_lo, x_hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    draws = np.empty((k, guess.size))
    for j, prm in enumerate(law.params):
        if given[j]:  # around the user's value
            scale = 1.0 if prm.log else 0.5 * max(abs(p0[j]), 1.0)
            draws[:, j] = guess[j] + rng.normal(0.0, 1.0, k) * scale
            continue
        mag = 10.0 ** rng.uniform(-3.0, 4.0, k)
        # a quarter of the draws sit on the scale of the inputs (a location or a
        # width in x) or its inverse (a rate)
        kind = rng.integers(0, 8, k)
        span = max(x_hi - x_lo, 1e-12)
        mag = np.where(kind == 0, np.abs(rng.uniform(x_lo, x_hi, k)) + 1e-12, mag)
        mag = np.where(kind == 1, span * 10.0 ** rng.uniform(-2.0, 0.0, k), mag)
        if prm.log:
            draws[:, j] = np.log(mag)
            continue
        can_neg, can_pos = prm.lower < 0, prm.upper > 0
        sign = np.where(rng.random(k) < 0.5, -1.0, 1.0) if (can_neg and can_pos) else (
            np.full(k, -1.0) if can_neg else np.ones(k))
        sign = np.where(kind == 0, np.sign(rng.uniform(x_lo, x_hi, k)) + (x_lo >= 0), sign)
        sign = np.where(sign == 0, 1.0, np.sign(sign))
        if not can_neg:
            sign = np.abs(sign)
        if not can_pos:
            sign = -np.abs(sign)
        base = prm.lower if (np.isfinite(prm.lower) and not can_neg) else (
            prm.upper if (np.isfinite(prm.upper) and not can_pos) else 0.0)
        draws[:, j] = base + sign * mag
    starts = _clip_theta(law, np.vstack([guess, draws]))
    return _solve_linear_params(law, starts, X, y)


def _linear_params(law: ScalingLaw, theta: np.ndarray, X: Inputs) -> list[int]:
    """Parameters in which the law is jointly affine (checked at a few points).

    Such parameters (amplitudes, offsets) have a closed-form best value for
    any value of the others: variable projection (Golub & Pereyra 1973).
    """
    if law.native_log:
        return []
    free = [j for j, p in enumerate(law.params) if p.lower < p.upper and not p.log]
    pts = theta[np.all(np.isfinite(theta), axis=1)][:3]
    if not free or len(pts) == 0:
        return []
    rng = np.random.default_rng(1)

    def affine_along(u: np.ndarray) -> bool:
        t = np.array([0.0, 1.0, -1.7, 2.3])
        th = (pts[:, None, :] + t[None, :, None] * u[None, None, :]).reshape(-1, pts.shape[1])
        with np.errstate(all="ignore"):
            v = np.real(law.evaluate(law.param_columns(th), X)).reshape(len(pts), 4, -1)
        if not np.all(np.isfinite(v)):
            return False
        d1 = v[:, 1] - v[:, 0]
        pred = v[:, :1] + t[None, 2:, None] * d1[:, None, :]
        scale = np.abs(v).max() + 1e-300
        return bool(np.max(np.abs(v[:, 2:] - pred)) <= 1e-9 * scale)

    chosen: list[int] = []
    for j in free:
        cand = [*chosen, j]
        u = np.zeros(pts.shape[1])
        u[cand] = rng.normal(0.0, 1.0, len(cand))
        e = np.zeros(pts.shape[1])
        e[j] = 1.0
        if affine_along(e) and affine_along(u):
            chosen.append(j)
    return chosen


def _solve_linear_params(law: ScalingLaw, starts: np.ndarray, X: Inputs,
                         y: np.ndarray) -> np.ndarray:
    """Replace the affine parameters of every start by their least-squares values."""
    lin = _linear_params(law, starts, X)
    if not lin:
        return starts
    k, m = starts.shape[0], len(lin)
    base = starts.copy()
    base[:, lin] = 0.0
    probes = [base]
    for j in lin:
        unit = base.copy()
        unit[:, j] = 1.0
        probes.append(unit)
    with np.errstate(all="ignore"):
        v = np.real(law.evaluate(law.param_columns(np.vstack(probes)), X)).reshape(
            m + 1, k, -1)
    phi0 = v[0]
    design = np.moveaxis(v[1:] - phi0[None], 0, 2)  # (k, n, m)
    ok = np.all(np.isfinite(design), axis=(1, 2)) & np.all(np.isfinite(phi0), axis=1)
    out = starts.copy()
    if ok.any():
        with np.errstate(all="ignore"):
            coef = np.linalg.pinv(design[ok]) @ (y[None, :, None] - phi0[ok][:, :, None])
        solved = out[ok]
        solved[:, lin] = coef[:, :, 0]
        out[ok] = solved
    out = _clip_theta(law, np.where(np.isfinite(out), out, starts))
    return np.vstack([starts[:1], out[1:], out[:1]])  # the user's start stays first


