"""Fitting objectives, evaluated for a whole batch of parameter vectors.

All objectives are sums over rows, never means, so the optimiser's tolerances
do not depend on the number of rows (the scale problem Besiroglu et al. 2024
found in the original Chinchilla fit):

* ``huber_log``: ``sum_i w_i huber_delta(log yhat_i - log y_i)``
* ``mse_log``:   ``sum_i w_i (log yhat_i - log y_i)**2 / 2``
* ``mse``:       ``sum_i w_i (yhat_i - y_i)**2 / 2``

with ``huber_delta(r) = r**2 / 2`` for ``|r| <= delta`` and
``delta * (|r| - delta / 2)`` beyond.

All three are sums of squares of some residual, so all three take the
trust-region least-squares path: ``huber_delta(r) = h(r)**2 / 2`` with
``h(r) = r`` inside and ``sign(r) sqrt(delta (2 |r| - delta))`` beyond
(:func:`huber_root`). Gauss-Newton on ``h`` uses the curvature
``h'(r)**2 = delta / (2 |r| - delta)`` beyond the threshold, the weight of
iteratively reweighted least squares, where the exact Huber curvature is zero.
"""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np

from scalelaw.laws import Inputs, ScalingLaw

ObjectiveName = Literal["huber_log", "mse_log", "mse"]
#: :class:`StackedObjective` pads data sets to a multiple of this many rows.
__all__ = ["HUBER_LEAST_SQUARES", "OBJECTIVES", "STACK_PAD_ROWS", "Objective", "ObjectiveName",
           "StackedObjective", "huber_root", "is_log", "padded_rows", "psi", "rho"]

STACK_PAD_ROWS = 16
OBJECTIVES: tuple[str, ...] = ("huber_log", "mse_log", "mse")
#: Fit ``huber_log`` by the trust-region least-squares path (see :func:`huber_root`).
HUBER_LEAST_SQUARES = True


def is_log(objective: str) -> bool:
    """Whether the objective compares logarithms."""
    return objective.endswith("_log")


def psi(r: np.ndarray, objective: str, delta: float) -> np.ndarray:
    """Derivative of the per-row loss with respect to the residual."""
    return np.clip(r, -delta, delta) if objective == "huber_log" else r


def huber_root(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Residuals ``h(r)`` whose halved squares are the Huber losses, and ``h'(r)``.

    ``h(r) = r`` for ``|r| <= delta`` and ``sign(r) sqrt(delta (2 |r| - delta))``
    beyond, so ``h(r)**2 / 2 = huber_delta(r)`` exactly, ``h`` is continuously
    differentiable and ``h(r) h'(r) = psi(r)``.

    Examples
    --------
    >>> r = np.array([-0.3, 0.0005, 2.0])
    >>> h, dh = huber_root(r, 1e-3)
    >>> bool(np.allclose(h**2 / 2, rho(r, "huber_log", 1e-3)))
    True
    >>> bool(np.allclose(h * dh, psi(r, "huber_log", 1e-3)))
    True
    """
    a = np.abs(r)
    inside = a <= delta
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(delta * (2.0 * a - delta))
        h = np.where(inside, r, np.sign(r) * root)
        dh = np.where(inside, 1.0, delta / root)
    return h, dh


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

    def n_rows(self, k: int = 0) -> int:
        """Rows of data set ``k`` (one data set here; see :class:`StackedObjective`)."""
        return int(self.target.size)

    def set_floor(self, k: int = 0) -> float:
        """Rounding floor of data set ``k`` (:meth:`rounding_floor` here)."""
        return self.rounding_floor()

    def on(self, owner: np.ndarray) -> Objective:
        """The objective for a batch whose problem ``i`` is on data set ``owner[i]``.

        One data set here: the objective itself.
        """
        return self

    def _data(self, rows: np.ndarray | None, b: int) -> tuple[Inputs, np.ndarray,
                                                              np.ndarray | None]:
        """Inputs, targets and weights of the problems ``rows`` (``b`` of them)."""
        return self.X, self.target, self._weights_for(rows)

    def residuals(
        self, theta: np.ndarray, rows: np.ndarray | None = None, *, jac: bool = True
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Residuals ``(b, n)`` and their derivatives w.r.t. internal ``theta``."""
        X, target, _ = self._data(rows, theta.shape[0])
        value, grads = self.law.value_and_jacobian(theta, X, log=self.log, jac=jac)
        return value - target, grads

    def _weights_for(self, rows: np.ndarray | None) -> np.ndarray | None:
        if self.weights is None:
            return None
        if self.weights.ndim == 1:
            return self.weights.reshape(1, -1)
        assert self.weight_index is not None and rows is not None
        return self.weights[self.weight_index[rows]]

    def __call__(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective ``(b,)`` and gradient ``(b, p)`` for the problems ``rows``."""
        X, target, w = self._data(rows, theta.shape[0])
        with np.errstate(all="ignore"):
            value, vjp = self.law.value_and_vjp(theta, X, log=self.log)
            r = value - target
            ps = psi(r, self.objective, self.delta)
            loss = ps * (r - 0.5 * ps)
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
            r, _ = self.residuals(theta, rows, jac=False)
            loss = rho(r, self.objective, self.delta)
            w = self._data(rows, theta.shape[0])[2]
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

    @property
    def trust_search(self) -> bool:
        """Whether the multi-start search may take the trust-region least-squares path.

        Least squares always; Huber too (its losses are halved squares of
        :func:`huber_root` residuals) unless :data:`HUBER_LEAST_SQUARES` is
        False, which restores the L-BFGS search (for comparisons).
        """
        return self.least_squares or HUBER_LEAST_SQUARES

    def _weighted(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``sqrt(w) J`` of shape ``(k, n, p)`` and ``sqrt(w) r`` (non-finite values kept).

        For ``huber_log``, ``r`` is :func:`huber_root` of the log residual and
        ``J`` its derivative, so ``|sqrt(w) r|^2 / 2`` is the Huber objective.
        """
        r, grads = self.residuals(theta, rows)
        jac = np.stack([np.broadcast_to(gj, r.shape) for gj in grads], axis=2)
        if self.objective == "huber_log":
            r, dh = huber_root(r, self.delta)
            jac = jac * dh[:, :, None]
        w = self._data(rows, theta.shape[0])[2]
        if w is not None:
            sw = np.sqrt(np.broadcast_to(w, r.shape))
            r = r * sw
            jac = jac * sw[:, :, None]
        return jac, r

    def weighted_system(self, theta: np.ndarray, rows: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        """``(A, b)`` with ``A = sqrt(w) J`` of shape ``(k, n, p)`` and ``b = sqrt(w) r``.

        For least-squares objectives the Gauss-Newton step solves
        ``min |A s + b|``; Levenberg-Marquardt solves it by QR, which loses
        half as many digits to ill-conditioning as the normal equations.
        """
        with np.errstate(all="ignore"):
            jac, r = self._weighted(theta, rows)
        bad = ~np.isfinite(jac)
        if bad.any():
            jac = np.where(bad, 0.0, jac)
        return jac, np.where(np.isfinite(r), r, 0.0)

    def model_and_system(self, theta: np.ndarray, rows: np.ndarray
                         ) -> tuple[np.ndarray, ...]:
        """:meth:`fun_grad_hess` and :meth:`weighted_system` from one evaluation.

        Least-squares objectives only: ``f = |b|^2 / 2``, ``g = A^T b``,
        ``H = A^T A`` with ``A = sqrt(w) J`` and ``b = sqrt(w) r``. A problem
        with a non-finite residual or gradient gets ``f = inf`` (as
        :meth:`fun_grad_hess`) and zeros in ``A`` and ``b`` (as
        :meth:`weighted_system`).
        """
        with np.errstate(all="ignore"):
            jac, r = self._weighted(theta, rows)
            f = 0.5 * np.einsum("bn,bn->b", r, r)
            g = np.einsum("bnp,bn->bp", jac, r)
            h = np.einsum("bnp,bnq->bpq", jac, jac)
        f, g, h = _finite_model(f, g, h)
        a = np.where(np.isfinite(jac), jac, 0.0)
        return f, g, h, a, np.where(np.isfinite(r), r, 0.0)

    def fun_grad_hess(
        self, theta: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objective, gradient and Gauss-Newton Hessian ``sum w rho'' J J^T``.

        For ``huber_log`` only rows inside the quadratic zone carry curvature;
        when they are few, the Hessian is assembled from those rows alone.
        """
        b, p = theta.shape
        with np.errstate(all="ignore"):
            r, grads = self.residuals(theta, rows)
            grads = [np.broadcast_to(gj, r.shape) for gj in grads]
            ps = psi(r, self.objective, self.delta)
            loss = ps * (r - 0.5 * ps)
            curv = self.rho2(r)
            w = self._data(rows, theta.shape[0])[2]
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
        return _finite_model(f, g, h)


def _finite_model(f: np.ndarray, g: np.ndarray, h: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A problem with a non-finite objective or gradient gets ``f = inf``, ``g = H = 0``."""
    bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1)
    if bad.any():
        f[bad] = np.inf
        g[bad] = 0.0
        h[bad] = 0.0
    return f, g, np.where(np.isfinite(h), h, 0.0)


class _RowInputs(Inputs):
    """Inputs with one row of values per problem, ``(b, n)`` (logs precomputed)."""

    def __init__(self, cols: list[np.ndarray], logs: list[np.ndarray]) -> None:
        self.cols = cols
        self._logs = list(logs)
        self.n = cols[0].shape[1] if cols else 0


class StackedObjective(Objective):
    """One law on several data sets at once, so one batch of problems spans them all.

    Each data set is padded to the next multiple of ``pad_rows`` rows at or
    above the longest one with a repeat of its first row at weight zero (a
    finite residual that adds nothing). :meth:`on` binds a batch: problem
    ``i`` is fitted to data set ``owner[i]``. A problem sees the numbers of its
    data set alone; stacks of the same padded length give bit-identical
    numbers whatever else they hold, which is why a single fit of a built-in
    law is searched as a stack of one (see :func:`scalelaw.fitting._search.search`).

    Parameters
    ----------
    objectives : list of Objective
        One per data set: the same law, objective and ``delta``; 1-D weights
        or none.
    pad_rows : int, default=16
        Row counts are padded to a multiple of this.

    Examples
    --------
    >>> from scalelaw.laws import get_law
    >>> law = get_law("power")
    >>> x = [np.array([1.0, 10.0, 100.0]), np.array([1.0, 10.0])]
    >>> objs = [Objective(law, Inputs([xk]), k * xk ** -0.5, "mse_log", 0.0)
    ...         for k, xk in zip((2.0, 3.0), x)]
    >>> stack = StackedObjective(objs)
    >>> theta = law.to_internal(np.array([[2.0, 0.5], [3.0, 0.5]]))
    >>> stack.on(np.array([0, 1])).value(theta).round(12).tolist()
    [0.0, 0.0]
    """

    def __init__(self, objectives: list[Objective], pad_rows: int = STACK_PAD_ROWS) -> None:
        first = objectives[0]
        sizes = [int(o.target.size) for o in objectives]
        n_max = -(-max(sizes) // pad_rows) * pad_rows

        def pad(a: np.ndarray, fill: float | None = None) -> np.ndarray:
            a = np.ravel(a)
            extra = np.full(n_max - a.size, a[0] if fill is None else fill)
            return np.concatenate([a, extra])

        n_in = len(first.X.cols)
        self.law, self.objective, self.delta, self.log = (first.law, first.objective,
                                                          first.delta, first.log)
        self.X = Inputs([])
        self.weights = None
        self.weight_index = None
        self.cols = [np.stack([pad(o.X.cols[j]) for o in objectives]) for j in range(n_in)]
        self.logs = [np.stack([pad(o.X.log(j)) for o in objectives]) for j in range(n_in)]
        self.target = np.stack([pad(o.target) for o in objectives])
        self.set_weights = np.stack([pad(np.ones(n) if o.weights is None else o.weights, 0.0)
                                     for o, n in zip(objectives, sizes, strict=True)])
        self.sizes = np.array(sizes)
        self.owner = np.zeros(0, dtype=np.int64)
        self._floors = [o.rounding_floor() for o in objectives]

    def n_rows(self, k: int = 0) -> int:
        return int(self.sizes[k])

    def set_floor(self, k: int = 0) -> float:
        return float(self._floors[k])

    def on(self, owner: np.ndarray) -> StackedObjective:
        view = copy.copy(self)
        view.owner = np.asarray(owner, dtype=np.int64)
        return view

    def _data(self, rows: np.ndarray | None, b: int) -> tuple[Inputs, np.ndarray,
                                                              np.ndarray | None]:
        if len(self.sizes) == 1:  # one data set: broadcast its row (the same numbers)
            return (_RowInputs(self.cols, self.logs), self.target, self.set_weights)
        idx = self.owner[np.arange(b) if rows is None else rows]
        X = _RowInputs([c[idx] for c in self.cols], [lg[idx] for lg in self.logs])
        return X, self.target[idx], self.set_weights[idx]


def padded_rows(n: int, pad_rows: int = STACK_PAD_ROWS) -> int:
    """Rows of a data set of ``n`` rows in a :class:`StackedObjective` of its own."""
    return -(-n // pad_rows) * pad_rows
