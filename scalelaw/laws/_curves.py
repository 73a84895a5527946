"""Single-input laws for learning curves and downstream metrics.

* :class:`BrokenPowerLaw`: Caballero et al. (2022), any number of breaks.
* :class:`M1Law` ... :class:`M4Law`: the estimators compared by Alabdulmohsin,
  Neyshabur & Zhai (2022), with M4's shape exponent fitted and an optional
  known chance-level loss.

Reparameterisations (documented because peers leave them implicit):
positive scales and break locations are optimised on the log scale (so
start grids are log-spaced, as Caballero et al.'s ``1.25**p - 1`` trick
intends), sharpnesses ``f_i`` likewise, slopes on their natural scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from scalelaw.exceptions import DataValidationError
from scalelaw.laws._base import Inputs, Param, ScalingLaw, _clip_theta, _convert, _loglinear
from scalelaw.laws._builtin import SaturatingPowerLaw

__all__ = ["BrokenPowerLaw", "M1Law", "M2Law", "M3Law", "M4Law"]


def _softplus(t: Any) -> Any:
    """``log(1 + exp(t))`` without overflow; analytic (complex-step safe)."""
    with np.errstate(over="ignore", invalid="ignore"):
        pos = np.real(t) > 0
        a = t + np.log1p(np.exp(-t))
        b = np.log1p(np.exp(t))
    return np.where(pos, a, b)


@dataclass(frozen=True)
class BrokenPowerLaw(ScalingLaw):
    r"""Broken neural scaling law (Caballero et al. 2022) with ``n_breaks`` breaks.

    .. math:: y = a + b\,x^{-c_0} \prod_{i=1}^{n} \left(1 + (x/d_i)^{1/f_i}\right)^{-c_i f_i}

    ``a`` is the limit, ``b`` and ``c_0`` the first segment; break ``i`` sits
    at ``d_i``, changes the slope by ``c_i`` and has sharpness ``f_i`` (small =
    sharp). The slope after all breaks is ``c_0 + sum c_i``. ``b``, ``d_i`` and
    ``f_i`` are optimised on the log scale. Default starts: a grid over
    ``a in {0, 0.5, 0.9} * min(y)``, ``c_0 in {0, 0.3, 0.6}``, ``d_1`` at the
    20/50/80 % quantiles of ``log x``, ``c_1 in {-0.3, 0.3, 0.8}``,
    ``f_1 in {0.1, 0.5, 2}`` (further breaks start at later quantiles with
    ``c_i = 0.3, f_i = 0.5``), ``b`` matched to the data.

    Parameters
    ----------
    n_breaks : int, default=1
        Number of breaks (0 gives the saturating power law).

    Examples
    --------
    >>> from scalelaw.laws import BrokenPowerLaw
    >>> law = BrokenPowerLaw(n_breaks=2)
    >>> law.param_names
    ('a', 'b', 'c0', 'd1', 'c1', 'f1', 'd2', 'c2', 'f2')
    """

    stackable: ClassVar[bool] = True
    name: str = "broken_power"
    formula: str = ""
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = ()
    n_breaks: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.n_breaks, int) or self.n_breaks < 0:
            raise DataValidationError(
                f"The 'n_breaks' parameter must be an int >= 0. Got {self.n_breaks!r} "
                "instead.",
                column="n_breaks",
            )
        if not self.params:
            params = [Param("a", 0.0, np.inf), Param("b", 0.0, np.inf, log=True),
                      Param("c0", -5.0, 10.0)]
            for i in range(1, self.n_breaks + 1):
                params += [Param(f"d{i}", 0.0, np.inf, log=True),
                           Param(f"c{i}", -10.0, 10.0),
                           Param(f"f{i}", 1e-3, 1e3, log=True)]
            object.__setattr__(self, "params", tuple(params))
        if not self.formula:
            terms = "".join(
                f" * (1 + (x/d{i})**(1/f{i}))**(-c{i}*f{i})"
                for i in range(1, self.n_breaks + 1)
            )
            object.__setattr__(self, "formula", f"L = a + b * x**(-c0){terms}")

    def _log_excess(self, P: list[Any], X: Inputs) -> Any:
        u = X.log(0)
        out = np.log(P[1]) - P[2] * u
        for i in range(self.n_breaks):
            d, c, f = P[3 + 3 * i], P[4 + 3 * i], P[5 + 3 * i]
            out = out - c * f * _softplus((u - np.log(d)) / f)
        return out

    def evaluate(self, P, X):
        return P[0] + np.exp(self._log_excess(P, X))

    def value_and_jacobian(self, theta, X, *, log, jac=True):
        """Closed-form derivatives (one pass instead of one complex step per parameter)."""
        P = self.param_columns(theta)
        u = X.log(0)[None, :] if X.log(0).ndim == 1 else X.log(0)
        with np.errstate(over="ignore", invalid="ignore"):
            g = np.log(P[1]) - P[2] * u
            parts = []
            for i in range(self.n_breaks):
                d, c, f = P[3 + 3 * i], P[4 + 3 * i], P[5 + 3 * i]
                s = (u - np.log(d)) / f
                sp = _softplus(s)
                g = g - c * f * sp
                parts.append((c, f, s, sp))
            ex = np.exp(g)
            value = P[0] + ex
            grads: list[np.ndarray] = []
            if jac:
                grads = [np.ones_like(value), ex, -u * ex]
                for c, f, s, sp in parts:
                    sig = np.exp(s - sp)  # logistic(s) = e^s / (1 + e^s)
                    grads += [c * sig * ex, -f * sp * ex, -c * f * (sp - s * sig) * ex]
        return _convert(value, grads, native_log=False, want_log=log)

    def start_points(self, X, y, rng):
        u = X.log(0).ravel()
        qs = np.quantile(u, [0.2, 0.5, 0.8])
        ymin = float(np.min(y))
        starts = []
        for a in (0.9 * ymin, 0.0, 0.5 * ymin):
            for c0 in (0.3, 0.0, 0.6):
                breaks_grid = [(q, c, f) for q in qs for c in (0.3, -0.3, 0.8)
                               for f in (0.5, 0.1, 2.0)] if self.n_breaks else [()]
                for first in breaks_grid:
                    theta = [a, 0.0, c0]
                    for i in range(self.n_breaks):
                        if i == 0:
                            q, c, f = first
                        else:
                            q, c, f = np.quantile(u, min(0.95, 0.5 + 0.15 * i)), 0.3, 0.5
                        theta += [q, c, np.log(f)]
                    theta_arr = np.array(theta)[None, :]
                    # b from the mean log excess at these shape parameters
                    shape = self._log_excess(self.param_columns(theta_arr), X)[0]
                    excess = np.log(np.maximum(y - a, 1e-12 * max(ymin, 1e-300)))
                    theta_arr[0, 1] = float(np.mean(excess - shape))
                    starts.append(theta_arr[0])
        return _clip_theta(self, np.array(starts))

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description (with ``n_breaks``)."""
        spec = super().to_spec()
        spec["options"] = {"n_breaks": self.n_breaks}
        return spec


@dataclass(frozen=True)
class M1Law(ScalingLaw):
    r"""M1 of Alabdulmohsin et al. (2022): :math:`\varepsilon = \beta x^{c}`.

    Examples
    --------
    >>> from scalelaw.laws import M1Law
    >>> M1Law().param_names
    ('beta', 'c')
    """

    stackable: ClassVar[bool] = True
    name: str = "m1"
    formula: str = "L = beta * x**c"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = (Param("beta", 0.0, np.inf, log=True), Param("c", -10.0, 10.0))
    native_log: ClassVar[bool] = True

    def evaluate(self, P, X):
        return np.log(P[0]) + P[1] * X.log(0)

    def start_points(self, X, y, rng):
        intercept, slope = _loglinear(X.log(0).ravel(), np.log(y))
        return _clip_theta(self, np.array([[intercept, slope]]))


@dataclass(frozen=True)
class M2Law(ScalingLaw):
    r"""M2 of Alabdulmohsin et al. (2022): :math:`\varepsilon = \varepsilon_\infty + \beta x^{c}`.

    Examples
    --------
    >>> from scalelaw.laws import M2Law
    >>> M2Law().param_names
    ('eps_inf', 'beta', 'c')
    """

    stackable: ClassVar[bool] = True
    name: str = "m2"
    formula: str = "L = eps_inf + beta * x**c"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = (
        Param("eps_inf", 0.0, np.inf),
        Param("beta", 0.0, np.inf, log=True),
        Param("c", -10.0, 0.0),
    )

    def evaluate(self, P, X):
        return P[0] + P[1] * np.exp(P[2] * X.log(0))

    def start_points(self, X, y, rng):
        theta = SaturatingPowerLaw().start_points(X, y, rng)
        theta[:, 2] = -theta[:, 2]
        return _clip_theta(self, theta)


@dataclass(frozen=True)
class M3Law(ScalingLaw):
    r"""M3 (Bansal et al. 2022): :math:`\varepsilon = \beta (x^{-1} + \gamma)^{c}`.

    Examples
    --------
    >>> from scalelaw.laws import M3Law
    >>> M3Law().param_names
    ('beta', 'gamma', 'c')
    """

    stackable: ClassVar[bool] = True
    name: str = "m3"
    formula: str = "L = beta * (1/x + gamma)**c"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = (
        Param("beta", 0.0, np.inf, log=True),
        Param("gamma", 0.0, np.inf, log=True),
        Param("c", 0.0, 10.0),
    )
    native_log: ClassVar[bool] = True

    def evaluate(self, P, X):
        # log(1/x + gamma) = logaddexp(-log x, log gamma)
        t1, t2 = -X.log(0), np.log(P[1])
        m = np.maximum(np.real(t1), np.real(t2))
        return np.log(P[0]) + P[2] * (m + np.log(np.exp(t1 - m) + np.exp(t2 - m)))

    def start_points(self, X, y, rng):
        u = X.log(0).ravel()
        ly = np.log(y)
        starts = []
        for q in (0.5, 0.0, 0.25, 0.75, 1.0, 1.5):
            log_gamma = -float(np.quantile(u, min(q, 1.0))) - (q - 1.0 if q > 1 else 0.0) * 3
            for c in (0.1, 0.3, 0.6, 1.0):
                base = np.logaddexp(-u, log_gamma)
                starts.append([float(np.mean(ly - c * base)), log_gamma, c])
        return _clip_theta(self, np.array(starts))


@dataclass(frozen=True)
class M4Law(ScalingLaw):
    r"""M4 of Alabdulmohsin et al. (2022), with its shape exponent fitted.

    .. math::

        \frac{\varepsilon - \varepsilon_\infty}
        {(\varepsilon_0 - \varepsilon)^{\alpha}} = \beta x^{c}

    ``eps_0`` is the loss of a random guess (chance level). Give it as
    ``M4Law(eps_0=...)`` when known (e.g. ``1 - 1/K`` for the error rate of a
    K-way classifier); otherwise it is fitted (bounded below by the largest
    observed loss). The prediction solves the implicit equation for
    ``eps in (eps_inf, eps_0)`` by safeguarded Newton iterations on
    ``z = (eps - eps_inf) / (eps_0 - eps_inf)``; derivatives follow from the
    implicit function theorem through complex steps.

    Parameters
    ----------
    eps_0 : float, optional
        Known chance-level loss.

    Examples
    --------
    >>> from scalelaw.laws import M4Law
    >>> M4Law().param_names
    ('eps_inf', 'eps_0', 'beta', 'c', 'alpha')
    >>> M4Law(eps_0=0.9).bounds["eps_0"]
    (0.9, 0.9)
    """

    stackable: ClassVar[bool] = True
    name: str = "m4"
    formula: str = "(L - eps_inf) / (eps_0 - L)**alpha = beta * x**c"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = ()
    eps_0: float | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.params:
            if self.eps_0 is not None:
                if not (np.isfinite(self.eps_0) and self.eps_0 > 0):
                    raise DataValidationError(
                        f"The 'eps_0' parameter must be a positive finite float. Got "
                        f"{self.eps_0!r} instead.",
                        column="eps_0",
                    )
                e0 = Param("eps_0", float(self.eps_0), float(self.eps_0), log=True)
            else:
                e0 = Param("eps_0", 0.0, np.inf, log=True)
            object.__setattr__(self, "params", (
                Param("eps_inf", 0.0, np.inf),
                e0,
                Param("beta", 0.0, np.inf, log=True),
                Param("c", -10.0, 0.0),
                Param("alpha", 0.0, 10.0),
            ))

    def evaluate(self, P, X):
        eps_inf, eps_0, beta, c, alpha = P
        span = eps_0 - eps_inf
        # z = k (1 - z)^alpha with k = beta x^c / span^(1 - alpha)
        log_k = np.log(beta) + c * X.log(0) - (1.0 - alpha) * np.log(span)
        w = _solve_m4(np.real(log_k), np.real(alpha) * np.ones_like(np.real(log_k)))
        if np.iscomplexobj(log_k):
            w = w.astype(np.complex128)
            for _ in range(2):  # Newton from the real root carries the complex step
                z = np.exp(w)
                h = w - alpha * np.log1p(-z) - log_k
                w = w - h / (1.0 + alpha * z / (1.0 - z))
        return eps_inf + span * np.exp(w)

    def value_and_jacobian(self, theta, X, *, log, jac=True):
        """Closed-form derivatives through the implicit function theorem."""
        eps_inf, eps_0, beta, c, alpha = self.param_columns(theta)
        u = X.log(0)[None, :] if X.log(0).ndim == 1 else X.log(0)
        with np.errstate(all="ignore"):
            span = eps_0 - eps_inf
            log_span = np.log(span)
            log_k = np.log(beta) + c * u - (1.0 - alpha) * log_span
            a_full = np.broadcast_to(alpha, log_k.shape)
            w = _solve_m4(log_k, np.ascontiguousarray(a_full))
            z = np.exp(w)
            value = eps_inf + span * z
            grads: list[np.ndarray] = []
            if jac:
                log1mz = np.log1p(-z)
                fw = 1.0 + alpha * z / (1.0 - z)
                sz = span * z / fw  # dL/d log_k
                d_eps_inf = (1.0 - z) + sz * (1.0 - alpha) / span
                d_eps_0 = z - sz * (1.0 - alpha) / span
                grads = [
                    d_eps_inf,
                    d_eps_0 * eps_0,  # eps_0 is optimised on the log scale
                    sz,
                    sz * u,
                    sz * (log1mz + log_span),
                ]
        return _convert(value, grads, native_log=False, want_log=log)

    def start_points(self, X, y, rng):
        u = X.log(0).ravel()
        ymax, ymin = float(np.max(y)), float(np.min(y))
        e0_fixed = self.eps_0
        starts = []
        for e0 in ([e0_fixed] if e0_fixed else [1.02 * ymax, 1.2 * ymax, 2.0 * ymax]):
            for einf in (0.0, 0.5 * ymin, 0.9 * ymin):
                for alpha in (0.0, 0.5, 1.0, 2.0):
                    zz = np.clip((y - einf) / (e0 - einf), 1e-9, 1 - 1e-9)
                    # log z - alpha log(1 - z) = log k, linear in log x
                    lhs = np.log(zz) - alpha * np.log1p(-zz)
                    intercept, slope = _loglinear(u, lhs)
                    log_beta = intercept + (1.0 - alpha) * np.log(e0 - einf)
                    starts.append([einf, np.log(e0), log_beta, min(slope, -1e-3), alpha])
        return _clip_theta(self, np.array(starts))

    def to_spec(self) -> dict[str, Any]:
        """Return a JSON-ready description (with ``eps_0`` when fixed)."""
        spec = super().to_spec()
        spec["options"] = {"eps_0": self.eps_0}
        return spec


def _solve_m4(log_k: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Solve ``w - alpha log(1 - e^w) = log_k`` for ``w = log z < 0``, elementwise.

    Four Halley steps from the asymptotic start (``z -> 0``: ``w = log_k``;
    ``z -> 1``: ``log(1 - z) = -log_k / alpha``) solve almost every element to
    rounding: the left side is smooth, increasing and convex. Elements whose
    residual is then not at the rounding level (a root within rounding of 0,
    a step out of the domain) go to the safeguarded solver
    (:func:`_solve_m4_safeguarded`). ``alpha = 0`` gives ``w = log_k``
    directly; non-finite inputs give NaN.
    """
    lk = np.asarray(log_k, dtype=np.float64)
    al = np.asarray(np.broadcast_to(alpha, lk.shape), dtype=np.float64)
    with np.errstate(all="ignore"):
        finite = np.isfinite(lk) & np.isfinite(al)
        flat = al == 0
        solve = finite & ~flat
    if solve.all():  # the common case: every element by Halley steps, no indexing
        return _halley_m4(lk, al)
    out = np.full(lk.shape, np.nan)
    out[finite & flat] = np.minimum(lk[finite & flat], -1e-13)  # the safeguarded limit
    if solve.any():
        out[solve] = _halley_m4(lk[solve], al[solve])
    return out


def _halley_m4(lka: np.ndarray, ala: np.ndarray) -> np.ndarray:
    """:func:`_solve_m4` on finite elements with ``alpha > 0``."""
    with np.errstate(all="ignore"):
        near_one = np.log1p(-np.exp(-np.maximum(lka, 0.0) / ala))
        w = np.where(lka < 0, lka - np.log1p(np.exp(lka)),
                     np.maximum(near_one, -0.6931471805599453))
        top = np.minimum(lka, -1e-300)
        w = np.minimum(w, top)
        for _ in range(4):
            omz = -np.expm1(w)
            r = np.exp(w) / omz
            h = w - ala * np.log(omz) - lka
            dh = 1.0 + ala * r
            w = np.minimum(w - (2.0 * h * dh) / (2.0 * dh * dh - h * (ala * r / omz)), top)
        h = w - ala * np.log(-np.expm1(w)) - lka
        bad = ~(np.abs(h) <= 1e-12 * np.maximum(np.abs(lka), 1.0))
    if bad.any():
        w[bad] = _solve_m4_safeguarded(lka[bad], ala[bad])
    return w


def _solve_m4_safeguarded(log_k: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """:func:`_solve_m4` by Newton steps safeguarded by bisection (robust, slower).

    The left side increases with ``w`` and the root lies below ``min(log_k, 0)``.
    Newton steps, safeguarded by bisection on that bracket, run only on the
    elements not yet converged. The start uses the two asymptotes (``z -> 0``:
    ``w = log_k``; ``z -> 1``: ``log(1 - z) = -log_k / alpha``).
    """
    shape = np.shape(log_k)
    lk = np.ravel(log_k).astype(np.float64)
    al = np.ravel(np.broadcast_to(alpha, shape)).astype(np.float64)
    with np.errstate(all="ignore"):
        hi = np.minimum(lk, 0.0)
        lo = np.full_like(lk, -800.0)
        near_one = np.log1p(-np.exp(-np.maximum(lk, 0.0) / np.maximum(al, 1e-300)))
        w = np.where(lk < 0, lk - np.log1p(np.exp(lk)), np.maximum(near_one, -0.6931471805599453))
        w = np.clip(np.nan_to_num(w, nan=-1.0), lo, hi)
        # alpha = 0: w = log_k; for log_k >= 0 there is no root below 0 and the
        # bisection used to crawl to just below it: take that limit directly
        # (1 - z = 1e-13 keeps log(1 - z) and the Jacobian finite)
        flat = (al == 0) & np.isfinite(lk)
        w = np.where(flat, np.minimum(lk, -1e-13), w)
        idx = np.flatnonzero(np.isfinite(lk) & np.isfinite(al) & ~flat)
        out = np.where(np.isfinite(lk) & np.isfinite(al), w, np.nan)
        wa, loa, hia, lka, ala = w[idx], lo[idx], hi[idx], lk[idx], al[idx]
        for _ in range(200):
            if idx.size == 0:
                break
            z = np.exp(wa)
            h = wa - ala * np.log1p(-z) - lka
            loa = np.where(h < 0, wa, loa)
            hia = np.where(h > 0, wa, hia)
            wn = wa - h / (1.0 + ala * z / (1.0 - z))
            wn = np.where((wn > loa) & (wn < hia), wn, 0.5 * (loa + hia))
            # converged: the step is below 1e-13 relative, or the residual is at the
            # rounding level (steps of ~1e-13 then bounce inside a stale bracket:
            # keep the current point, not a bisection of that bracket)
            at_floor = np.abs(h) <= 1e-12 * np.maximum(np.abs(lka), 1.0)
            wn = np.where(at_floor, wa, wn)
            done = (np.abs(wn - wa) <= 1e-13 * np.maximum(np.abs(wa), 1.0)) | at_floor
            out[idx] = wn
            keep = ~done
            idx, wa, loa, hia, lka, ala = (
                idx[keep], wn[keep], loa[keep], hia[keep], lka[keep], ala[keep]
            )
    return out.reshape(shape)
