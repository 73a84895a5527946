"""Built-in laws: pure and saturating power laws, Chinchilla and Kaplan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scalelaw.laws._base import Inputs, Param, ScalingLaw, _clip_theta, _convert, _loglinear

__all__ = ["ChinchillaLaw", "GadreLaw", "KaplanLaw", "PowerLaw", "SaturatingPowerLaw"]


@dataclass(frozen=True)
class PowerLaw(ScalingLaw):
    r"""Pure power law :math:`L = A\,x^{-\alpha}`.

    Examples
    --------
    >>> from scalelaw.laws import PowerLaw
    >>> law = PowerLaw()
    >>> law.param_names
    ('A', 'alpha')
    """

    stackable: ClassVar[bool] = True
    name: str = "power"
    formula: str = "L = A * x**(-alpha)"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = (
        Param("A", 0.0, np.inf, log=True),
        Param("alpha", 0.0, 10.0),
    )
    native_log: ClassVar[bool] = True

    def evaluate(self, P, X):
        a, alpha = P
        return np.log(a) - alpha * X.log(0)

    def value_and_jacobian(self, theta, X, *, log, jac=True):
        u = X.log(0)
        value = theta[:, 0:1] - theta[:, 1:2] * u
        grads = [np.ones_like(value), np.broadcast_to(-u, value.shape)] if jac else []
        return _convert(value, grads, native_log=True, want_log=log)

    def start_points(self, X, y, rng):
        intercept, slope = _loglinear(X.log(0).ravel(), np.log(y))
        guess = np.array([intercept, -slope])
        alt = [guess]
        for f in (0.5, 2.0):
            alt.append(np.array([intercept, -slope * f]))
        return _clip_theta(self, np.array(alt))


@dataclass(frozen=True)
class SaturatingPowerLaw(ScalingLaw):
    r"""Power law with an irreducible floor :math:`L = E + A\,x^{-\alpha}`.

    ``E`` is optimised on its natural scale with the bound ``E >= 0``, so a
    fit with no visible floor ends exactly on the bound (and says so).

    Examples
    --------
    >>> from scalelaw.laws import SaturatingPowerLaw
    >>> SaturatingPowerLaw().param_names
    ('E', 'A', 'alpha')
    """

    stackable: ClassVar[bool] = True
    name: str = "saturating_power"
    formula: str = "L = E + A * x**(-alpha)"
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = (
        Param("E", 0.0, np.inf),
        Param("A", 0.0, np.inf, log=True),
        Param("alpha", 0.0, 10.0),
    )

    def evaluate(self, P, X):
        e, a, alpha = P
        return e + a * np.exp(-alpha * X.log(0))

    def value_and_jacobian(self, theta, X, *, log, jac=True):
        u = X.log(0)
        term = np.exp(theta[:, 1:2] - theta[:, 2:3] * u)
        value = theta[:, 0:1] + term
        grads = [np.ones_like(value), term, -term * u] if jac else []
        return _convert(value, grads, native_log=False, want_log=log)

    def start_points(self, X, y, rng):
        u = X.log(0).ravel()
        ymin = float(np.min(y))
        starts = []
        # the guess comes first: a floor at 0.9 min(y) and the log-log slope above it
        for frac in (0.9, 0.0, 0.5, 0.8, 0.95, 0.99):
            e = frac * ymin
            excess = y - e
            intercept, slope = _loglinear(u, np.log(excess))
            starts.append([e, intercept, max(-slope, 1e-3)])
            for alpha in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6):
                # log A that matches the mean of log(y - E) at this alpha
                starts.append([e, float(np.mean(np.log(excess) + alpha * u)), alpha])
        return _clip_theta(self, np.array(starts, dtype=np.float64))


@dataclass(frozen=True)
class ChinchillaLaw(ScalingLaw):
    r"""Two-input law of Hoffmann et al. (2022), :math:`L = E + A N^{-\alpha} + B D^{-\beta}`.

    Inputs are the parameter count ``n_params`` (N) and the number of training
    tokens ``n_tokens`` (D). ``E``, ``A`` and ``B`` are optimised on the log
    scale; the default starts are the 4,500-point grid of Hoffmann et al. and
    Besiroglu et al. (2024): ``alpha, beta in {0, 0.5, ..., 2}``, ``log E in
    {-1, -0.5, ..., 1}``, ``log A, log B in {0, 5, ..., 25}``, plus the
    data-driven guess.

    Examples
    --------
    >>> from scalelaw.laws import ChinchillaLaw
    >>> law = ChinchillaLaw()
    >>> p = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
    >>> print(f"{float(law(p, n_params=1e9, n_tokens=2e10)[0]):.4f}")
    2.5301
    """

    stackable: ClassVar[bool] = True
    name: str = "chinchilla"
    formula: str = "L = E + A * N**(-alpha) + B * D**(-beta)"
    inputs: tuple[str, ...] = ("n_params", "n_tokens")
    params: tuple[Param, ...] = (
        Param("E", 0.0, np.inf, log=True),
        Param("A", 0.0, np.inf, log=True),
        Param("B", 0.0, np.inf, log=True),
        Param("alpha", 0.0, 10.0),
        Param("beta", 0.0, 10.0),
    )
    native_log: ClassVar[bool] = True

    def evaluate(self, P, X):
        e, a, b, alpha, beta = P
        return np.log(e + a * np.exp(-alpha * X.log(0)) + b * np.exp(-beta * X.log(1)))

    def value_and_jacobian(self, theta, X, *, log, jac=True):
        # log L = logsumexp(e, a - alpha u, b - beta v), written out by hand: on a
        # CPU this kernel is memory-bound and every temporary array costs time.
        u, v = X.log(0), X.log(1)
        e = theta[:, 0:1]
        t1 = theta[:, 1:2] - theta[:, 3:4] * u
        t2 = theta[:, 2:3] - theta[:, 4:5] * v
        m = np.maximum(np.maximum(t1, t2), e)
        w1 = np.exp(t1 - m)
        w2 = np.exp(t2 - m)
        w0 = np.exp(e - m)
        s = w1 + w2
        s += w0
        value = np.log(s)
        value += m
        grads: list[np.ndarray] = []
        if jac:
            inv = 1.0 / s
            p1 = w1 * inv
            p2 = w2 * inv
            grads = [w0 * inv, p1, p2, -p1 * u, -p2 * v]
        return _convert(value, grads, native_log=True, want_log=log)

    def value_and_vjp(self, theta, X, *, log):
        if not log:
            return super().value_and_vjp(theta, X, log=log)
        u, v = X.log(0), X.log(1)
        e = theta[:, 0:1]
        t1 = theta[:, 1:2] - theta[:, 3:4] * u
        t2 = theta[:, 2:3] - theta[:, 4:5] * v
        # exponentials without the max shift when they cannot overflow or all vanish
        big = max(float(t1.max()), float(t2.max()), float(e.max()))
        m = 0.0 if big < 600 else np.maximum(np.maximum(t1, t2), e)
        if m is not None and big < 600:
            w1 = np.exp(t1)
            w2 = np.exp(t2)
            w0 = np.exp(e)
        else:
            w1, w2, w0 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
        s = w1 + w2
        s += w0
        value = np.log(s)
        value += m
        if not np.all(np.isfinite(value)):
            # total underflow somewhere: redo those rows with the shift
            m = np.maximum(np.maximum(t1, t2), e)
            w1, w2, w0 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
            s = w1 + w2 + w0
            value = np.log(s) + m

        def vjp(w: np.ndarray) -> np.ndarray:
            c = w / s
            q1 = c * w1
            q2 = c * w2
            out = np.empty((w.shape[0], 5))
            out[:, 0] = (c * w0).sum(axis=1) if w0.shape[1] > 1 else c.sum(axis=1) * w0[:, 0]
            out[:, 1] = q1.sum(axis=1)
            out[:, 2] = q2.sum(axis=1)
            out[:, 3] = -(q1 @ u[0])
            out[:, 4] = -(q2 @ v[0])
            return out

        return value, vjp

    def start_points(self, X, y, rng):
        grid = np.meshgrid(
            np.arange(-1.0, 1.01, 0.5),  # log E
            np.arange(0.0, 25.1, 5.0),  # log A
            np.arange(0.0, 25.1, 5.0),  # log B
            np.arange(0.0, 2.01, 0.5),  # alpha
            np.arange(0.0, 2.01, 0.5),  # beta
            indexing="ij",
        )
        grid = np.stack([g.ravel() for g in grid], axis=1)
        return _clip_theta(self, np.vstack([self._guess_internal(X, y), grid]))

    def _guess_internal(self, X: Inputs, y: np.ndarray) -> np.ndarray:
        """Guess: E just below the smallest loss, the rest split evenly."""
        e = 0.9 * float(np.min(y))
        excess = np.maximum(y - e, 1e-12 * float(np.min(y)))
        alpha = beta = 0.3
        log_a = float(np.mean(np.log(0.5 * excess) + alpha * X.log(0).ravel()))
        log_b = float(np.mean(np.log(0.5 * excess) + beta * X.log(1).ravel()))
        return np.array([np.log(e), log_a, log_b, alpha, beta])


@dataclass(frozen=True)
class KaplanLaw(ScalingLaw):
    r"""Joint law of Kaplan et al. (2020).

    .. math:: L = ((N_c/N)^{\alpha_N/\alpha_D} + D_c/D)^{\alpha_D}

    Examples
    --------
    >>> from scalelaw.laws import KaplanLaw
    >>> KaplanLaw().param_names
    ('N_c', 'D_c', 'alpha_N', 'alpha_D')
    """

    stackable: ClassVar[bool] = True
    name: str = "kaplan"
    formula: str = "L = ((N_c / N)**(alpha_N / alpha_D) + D_c / D)**alpha_D"
    inputs: tuple[str, ...] = ("n_params", "n_tokens")
    params: tuple[Param, ...] = (
        Param("N_c", 0.0, np.inf, log=True),
        Param("D_c", 0.0, np.inf, log=True),
        Param("alpha_N", 1e-4, 10.0),
        Param("alpha_D", 1e-4, 10.0),
    )
    native_log: ClassVar[bool] = True

    def evaluate(self, P, X):
        n_c, d_c, alpha_n, alpha_d = P
        t1 = (alpha_n / alpha_d) * (np.log(n_c) - X.log(0))
        t2 = np.log(d_c) - X.log(1)
        m = np.maximum(np.real(t1), np.real(t2))  # shift by a real constant: exact
        return alpha_d * (m + np.log(np.exp(t1 - m) + np.exp(t2 - m)))

    def start_points(self, X, y, rng):
        u, v, ly = X.log(0).ravel(), X.log(1).ravel(), np.log(y)
        starts = []
        for alpha_n in (0.05, 0.076, 0.15, 0.3, 0.6):
            for alpha_d in (0.05, 0.095, 0.2, 0.4, 0.8):
                # each term alone reproduces the mean loss
                log_nc = float(np.mean(u + ly / alpha_n))
                log_dc = float(np.mean(v + ly / alpha_d))
                starts.append([log_nc, log_dc, alpha_n, alpha_d])
        starts.insert(0, starts[6])  # (0.076, 0.095): Kaplan et al.'s exponents
        return _clip_theta(self, np.array(starts))




@dataclass(frozen=True)
class GadreLaw(ScalingLaw):
    r"""Loss law with a token multiplier of Gadre et al. (2024), in ``N`` and ``D``.

    :math:`L = E + A N^{-\alpha} + B D^{-\alpha}`: Chinchilla with one
    exponent for parameters and data. Gadre et al. write it in compute
    ``C = 6 N D`` and the token multiplier ``M = D / N``:
    :math:`L(C, M) = E + (a M^{\eta} + b M^{-\eta}) C^{-\alpha_C}` with
    :math:`\eta = \alpha_C = \alpha / 2`, :math:`a = A\,6^{\alpha/2}`,
    :math:`b = B\,6^{\alpha/2}` (substitute ``N = sqrt(C / 6M)``,
    ``D = sqrt(C M / 6)``); their released fit uses ``N`` and ``M N`` as here.
    Starts: a grid over ``alpha`` and ``E`` with ``A``, ``B`` from
    non-negative least squares at each.

    Examples
    --------
    >>> from scalelaw.laws import GadreLaw
    >>> law = GadreLaw()
    >>> law.param_names
    ('E', 'A', 'B', 'alpha')
    >>> p = {"E": 1.84, "A": 166.2, "B": 287.2, "alpha": 0.2729}
    >>> print(f"{float(law(p, n_params=6.89e9, n_tokens=1.378e11)[0]):.3f}")
    2.445
    """

    stackable: ClassVar[bool] = True
    name: str = "gadre"
    formula: str = "L = E + A * N**(-alpha) + B * D**(-alpha)"
    inputs: tuple[str, ...] = ("n_params", "n_tokens")
    params: tuple[Param, ...] = (
        Param("E", 0.0, np.inf),
        Param("A", 0.0, np.inf, log=True),
        Param("B", 0.0, np.inf, log=True),
        Param("alpha", 0.0, 10.0),
    )

    def evaluate(self, P, X):
        e, a, b, alpha = P
        return e + a * np.exp(-alpha * X.log(0)) + b * np.exp(-alpha * X.log(1))

    def start_points(self, X, y, rng):
        from scipy.optimize import nnls

        u, v = X.log(0).ravel(), X.log(1).ravel()
        starts = []
        for alpha in (0.05, 0.1, 0.2, 0.3, 0.45, 0.7, 1.0):
            basis = np.stack([np.exp(-alpha * u), np.exp(-alpha * v)], axis=1)
            for frac in (0.0, 0.5, 0.8, 0.9, 0.95):
                e = frac * float(np.min(y))
                coef, _ = nnls(basis, y - e)
                coef = np.maximum(coef, 1e-6 * max(float(np.mean(y - e)), 1e-12))
                starts.append([e, np.log(coef[0]), np.log(coef[1]), alpha])
        return _clip_theta(self, np.array(starts, dtype=np.float64))
