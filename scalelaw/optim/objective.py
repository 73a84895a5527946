"""Fitting objectives, evaluated for a whole batch of parameter vectors.

All objectives are sums over rows, never means, so the optimiser's tolerances
do not depend on the number of rows (the scale problem Besiroglu et al. 2024
found in the original Chinchilla fit):

* ``huber_log``: ``sum_i w_i huber_delta(log yhat_i - log y_i)``
* ``mse_log``:   ``sum_i w_i (log yhat_i - log y_i)**2 / 2``
* ``mse``:       ``sum_i w_i (yhat_i - y_i)**2 / 2``

with ``huber_delta(r) = r**2 / 2`` for ``|r| <= delta`` and
``delta * (|r| - delta / 2)`` beyond.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from scalelaw.laws import Inputs, ScalingLaw

ObjectiveName = Literal["huber_log", "mse_log", "mse"]
OBJECTIVES: tuple[str, ...] = ("huber_log", "mse_log", "mse")


def is_log(objective: str) -> bool:
    """Whether the objective compares logarithms."""
    return objective.endswith("_log")


def psi(r: np.ndarray, objective: str, delta: float) -> np.ndarray:
    """Derivative of the per-row loss with respect to the residual."""
    return np.clip(r, -delta, delta) if objective == "huber_log" else r


def rho(r: np.ndarray, objective: str, delta: float) -> np.ndarray:
    """Per-row loss of the residual."""
    p = psi(r, objective, delta)
    return p * (r - 0.5 * p)


class Objective:
    """Objective and gradient of a law on one data set, for batches of problems.

    Parameters
    ----------
    law : ScalingLaw
        The law.
    X : Inputs
        Input columns.
    y : ndarray of shape (n,)
        Targets.
    objective : str
        One of :data:`OBJECTIVES`.
    delta : float
        Huber threshold (``huber_log`` only).
    weights : ndarray of shape (n,) or (R, n), optional
        Row weights; a 2-D array gives one weight vector per replica.
    weight_index : ndarray of shape (B,), optional
        For 2-D ``weights``, the replica used by each problem of the batch.
    """

    def __init__(
        self,
        law: ScalingLaw,
        X: Inputs,
        y: np.ndarray,
        objective: str,
        delta: float,
        weights: np.ndarray | None = None,
        weight_index: np.ndarray | None = None,
    ) -> None:
        self.law = law
        self.X = X
        self.log = is_log(objective)
        self.objective = objective
        self.delta = float(delta)
        y = np.asarray(y, dtype=np.float64)
        self.target = (np.log(y) if self.log else y).reshape(1, -1)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        self.weight_index = weight_index

    def rounding_floor(self) -> float:
        """What rounding errors of the residuals alone contribute to the objective.

        Residuals computed in float64 carry errors of about ``64 eps`` times the
        target's magnitude; a search that stalls below this objective level has
        nothing left to find.
        """
        scale = max(1.0, float(np.nanmax(np.abs(self.target))))
        w = 1.0 if self.weights is None else float(np.max(self.weights))
        return 0.5 * w * self.target.size * (64 * np.finfo(float).eps * scale) ** 2

    def residuals(
        self, theta: np.ndarray, *, jac: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Residuals ``(b, n)`` and their derivatives w.r.t. internal ``theta``."""
        value, grads = self.law.value_and_jacobian(theta, self.X, log=self.log, jac=jac)
        return value - self.target, grads

    def _weights_for(self, rows: np.ndarray) -> np.ndarray | None:
        if self.weights is None:
            return None
        if self.weights.ndim == 1:
            return self.weights.reshape(1, -1)
        assert self.weight_index is not None
        return self.weights[self.weight_index[rows]]

    def __call__(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective ``(b,)`` and gradient ``(b, p)`` for the problems ``rows``."""
        with np.errstate(all="ignore"):
            value, vjp = self.law.value_and_vjp(theta, self.X, log=self.log)
            r = value - self.target
            ps = psi(r, self.objective, self.delta)
            loss = ps * (r - 0.5 * ps)
            w = self._weights_for(rows)
            if w is not None:
                loss *= w
                ps = ps * w
            f = loss.sum(axis=1)
            g = vjp(ps)
        bad = ~np.isfinite(f)
        if bad.any():
            f[bad] = np.inf
            g[bad] = 0.0
        return f, g

    def value(self, theta: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Objective only (no derivatives)."""
        rows = np.arange(theta.shape[0]) if rows is None else rows
        with np.errstate(all="ignore"):
            r, _ = self.residuals(theta, jac=False)
            loss = rho(r, self.objective, self.delta)
            w = self._weights_for(rows)
            if w is not None:
                loss = loss * w
            f = loss.sum(axis=1)
        return np.where(np.isfinite(f), f, np.inf)

    def rho2(self, r: np.ndarray) -> np.ndarray:
        """Second derivative of the per-row loss (Gauss-Newton weights)."""
        if self.objective == "huber_log":
            return (np.abs(r) <= self.delta).astype(np.float64)
        return np.ones_like(r)

    @property
    def least_squares(self) -> bool:
        """Whether the objective is a (weighted) sum of squares (not Huber)."""
        return self.objective != "huber_log"

    def weighted_system(self, theta: np.ndarray, rows: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        """``(A, b)`` with ``A = sqrt(w) J`` of shape ``(k, n, p)`` and ``b = sqrt(w) r``.

        For least-squares objectives the Gauss-Newton step solves
        ``min |A s + b|``; Levenberg-Marquardt solves it by QR, which loses
        half as many digits to ill-conditioning as the normal equations.
        """
        with np.errstate(all="ignore"):
            r, grads = self.residuals(theta)
            jac = np.stack([np.broadcast_to(gj, r.shape) for gj in grads], axis=2)
            w = self._weights_for(rows)
            if w is not None:
                sw = np.sqrt(np.broadcast_to(w, r.shape))
                r = r * sw
                jac = jac * sw[:, :, None]
        bad = ~np.isfinite(jac)
        if bad.any():
            jac = np.where(bad, 0.0, jac)
        return jac, np.where(np.isfinite(r), r, 0.0)

    def fun_grad_hess(
        self, theta: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objective, gradient and Gauss-Newton Hessian ``sum w rho'' J J^T``.

        For ``huber_log`` only rows inside the quadratic zone carry curvature;
        when they are few, the Hessian is assembled from those rows alone.
        """
        b, p = theta.shape
        with np.errstate(all="ignore"):
            r, grads = self.residuals(theta)
            grads = [np.broadcast_to(gj, r.shape) for gj in grads]
            ps = psi(r, self.objective, self.delta)
            loss = ps * (r - 0.5 * ps)
            curv = self.rho2(r)
            w = self._weights_for(rows)
            if w is not None:
                loss = loss * w
                ps = ps * w
                curv = curv * w
            f = loss.sum(axis=1)
            g = np.empty((b, p))
            for j, gj in enumerate(grads):
                g[:, j] = np.einsum("bn,bn->b", gj, ps)
            h = np.zeros((b, p, p))
            nz_b, nz_n = np.nonzero(curv)
            if nz_b.size < 0.25 * curv.size:
                if nz_b.size:
                    jac = np.stack([gj[nz_b, nz_n] for gj in grads], axis=1)
                    outer = jac[:, :, None] * (jac * curv[nz_b, nz_n, None])[:, None, :]
                    owners, starts = np.unique(nz_b, return_index=True)
                    h[owners] = np.add.reduceat(outer, starts, axis=0)
            else:
                cj = [gj * curv for gj in grads]
                for i in range(p):
                    for j in range(i, p):
                        h[:, i, j] = h[:, j, i] = np.einsum("bn,bn->b", cj[i], grads[j])
        bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1)
        if bad.any():
            f[bad] = np.inf
            g[bad] = 0.0
            h[bad] = 0.0
        h = np.where(np.isfinite(h), h, 0.0)
        return f, g, h
