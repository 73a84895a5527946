"""Batched box-constrained L-BFGS: many small minimisations solved as one array problem.

Every problem in the batch has its own parameters, bounds, curvature history,
step length and convergence test, and leaves the active set when it
converges. The batch is cut into chunks that run on a thread pool (NumPy
releases the GIL inside its kernels, and a chunk's arrays stay in cache), so a
2-core machine uses both cores without any extension code.

The method is the projected L-BFGS of Byrd, Lu, Nocedal & Zhu (1995) in its
simplest form: variables on a bound whose gradient points outward are frozen
for the step, the two-loop recursion gives the direction on the free
variables, and an Armijo backtracking search on the projected path picks the
step. All backtracking candidates of the problems that need them are
evaluated in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from scalelaw.optim._common import STATIONARY_RTOL, BatchResult, _dot, _safe, default_threads

__all__ = ["FunGrad", "minimize_batch"]

FunGrad = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def minimize_batch(
    fun_grad: FunGrad,
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    ftol: float = 1e-10,
    gtol: float = 1e-12,
    maxiter: int = 3000,
    history: int = 10,
    chunk_size: int = 128,
    n_threads: int | None = None,
    f_floor: float | np.ndarray = 0.0,
) -> BatchResult:
    """Minimise ``B`` independent problems ``f_b(x_b)`` subject to box bounds.

    Parameters
    ----------
    fun_grad : callable
        ``fun_grad(x, rows) -> (f, g)`` with ``x`` of shape ``(b, p)`` and
        ``rows`` the indices (into the full batch) of those ``b`` problems.
        Non-finite ``f`` counts as ``+inf``. It must be safe to call from
        several threads at once.
    x0 : ndarray of shape (B, p)
        Starting points (clipped into the bounds).
    lower, upper : ndarray of shape (p,) or (B, p)
        Bounds; ``-inf``/``inf`` for none; ``lower == upper`` fixes a variable.
    ftol : float, default=1e-10
        Stop when ``f_k - f_{k+1} <= ftol * |f_k|`` (scale-free, unlike
        L-BFGS-B's ``max(|f|, 1)`` denominator).
    gtol : float, default=1e-12
        Stop when the largest projected-gradient entry is
        ``<= gtol * max(|f|, tiny)``.
    maxiter : int, default=3000
        Iteration limit per problem.
    history : int, default=10
        Number of curvature pairs kept.
    chunk_size : int, default=128
        Problems per objective call (small enough to stay in cache); the calls of one iteration run
        concurrently on the thread pool.
    n_threads : int or None, default=None
        Worker threads (default: usable CPUs, at most 8).
    f_floor : float or ndarray of shape (B,), default=0.0
        The objective's rounding floor (what rounding of the residuals alone
        contributes), or one per problem; the first-order test of a stalled
        search allows it.

    Returns
    -------
    BatchResult
        Solutions, objective values, status codes and iteration counts.
    """
    x0 = np.array(x0, dtype=np.float64, ndmin=2)
    n_prob = x0.shape[0]
    threads = max(1, n_threads or default_threads())
    # overflow in far-off trial points is expected and handled (non-finite = +inf)
    with threadpool_limits(limits=1), np.errstate(all="ignore"):
        if n_prob <= chunk_size:
            return _lbfgs(fun_grad, x0, lower, upper, ftol, gtol, maxiter, history, f_floor)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return _lbfgs(
                _chunked(fun_grad, pool, chunk_size), x0, lower, upper, ftol, gtol,
                maxiter, history, f_floor,
            )


def _chunked(fun_grad: FunGrad, pool: ThreadPoolExecutor, chunk: int) -> FunGrad:
    """Evaluate large batches in chunks on the pool (NumPy releases the GIL)."""

    def call(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = x.shape[0]
        if n <= chunk:
            return fun_grad(x, rows)
        n_parts = -(-n // chunk)
        bounds = np.linspace(0, n, n_parts + 1).astype(int)
        parts = list(
            pool.map(lambda k: fun_grad(x[bounds[k] : bounds[k + 1]],
                                        rows[bounds[k] : bounds[k + 1]]),
                     range(n_parts))
        )
        return (np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]))

    return call


def _lbfgs(
    fun_grad: FunGrad,
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    ftol: float,
    gtol: float,
    maxiter: int,
    m: int,
    f_floor: float | np.ndarray,
) -> BatchResult:
    n_prob, p = x0.shape
    floor_all = np.broadcast_to(np.asarray(f_floor, dtype=np.float64), (n_prob,))
    lo_all = np.broadcast_to(np.asarray(lower, dtype=np.float64), (n_prob, p))
    hi_all = np.broadcast_to(np.asarray(upper, dtype=np.float64), (n_prob, p))
    x = np.clip(x0, lo_all, hi_all)
    rows_all = np.arange(n_prob)
    f, g = fun_grad(x, rows_all)
    f = _safe(f)
    g = np.where(np.isfinite(g), g, 0.0)
    n_eval = n_prob
    status = np.full(n_prob, 3, dtype=np.int64)
    n_iter = np.zeros(n_prob, dtype=np.int64)
    status[~np.isfinite(f)] = 4
    s_hist = np.zeros((n_prob, m, p))
    y_hist = np.zeros((n_prob, m, p))
    rho = np.zeros((n_prob, m))
    n_hist = np.zeros(n_prob, dtype=np.int64)
    active = np.flatnonzero(np.isfinite(f))

    for _ in range(maxiter):
        if active.size == 0:
            break
        xa, fa, ga = x[active], f[active], g[active]
        la, ha = lo_all[active], hi_all[active]
        sa, ya, ra = s_hist[active], y_hist[active], rho[active]
        # variables on a bound whose gradient points out of the box are frozen
        free = ~(((xa <= la) & (ga > 0)) | ((xa >= ha) & (ga < 0)) | (la == ha))
        gf = ga * free
        # two-loop recursion, newest pair first; empty slots have rho = 0
        q = gf.copy()
        alpha = np.empty((active.size, m))
        for j in range(m):
            alpha[:, j] = ra[:, j] * _dot(sa[:, j], q)
            q -= alpha[:, j, None] * ya[:, j]
        yy = _dot(ya[:, 0], ya[:, 0])
        gamma = np.where(yy > 0, _dot(sa[:, 0], ya[:, 0]) / np.where(yy > 0, yy, 1.0), 1.0)
        q *= gamma[:, None]
        for j in range(m - 1, -1, -1):
            beta = ra[:, j] * _dot(ya[:, j], q)
            q += sa[:, j] * (alpha[:, j] - beta)[:, None]
        d = -q * free
        uphill = ~(_dot(gf, d) < 0)
        d[uphill] = -gf[uphill]
        # a problem without curvature history takes a step of unit length
        first = n_hist[active] == 0
        gnorm = np.sqrt(_dot(gf, gf))
        t = np.where(first, np.minimum(1.0, 1.0 / np.maximum(gnorm, 1e-300)), 1.0)

        xn = np.clip(xa + t[:, None] * d, la, ha)
        fn, gn = fun_grad(xn, active)
        fn = _safe(fn)
        n_eval += active.size
        ok = fn <= fa + 1e-4 * _dot(ga, xn - xa)
        # backtracking with safeguarded quadratic interpolation, only for failures
        todo = np.flatnonzero(~ok)
        for _ in range(30):
            if todo.size == 0:
                break
            slope = _dot(ga[todo], xn[todo] - xa[todo]) / t[todo]  # directional
            curv = fn[todo] - fa[todo] - slope * t[todo]
            t_new = np.where(
                np.isfinite(curv) & (curv > 0), -slope * t[todo] ** 2 / (2 * curv), 0.1 * t[todo]
            )
            t[todo] = np.clip(t_new, 0.1 * t[todo], 0.5 * t[todo])
            xn[todo] = np.clip(xa[todo] + t[todo, None] * d[todo], la[todo], ha[todo])
            ft, gt = fun_grad(xn[todo], active[todo])
            ft = _safe(ft)
            n_eval += todo.size
            fn[todo], gn[todo] = ft, gt
            good = ft <= fa[todo] + 1e-4 * _dot(ga[todo], xn[todo] - xa[todo])
            moved = np.any(xn[todo] != xa[todo], axis=1)
            ok[todo] = good & moved
            todo = todo[~good & moved]
        # problems whose search failed keep their point
        xn[~ok], fn[~ok], gn[~ok] = xa[~ok], fa[~ok], ga[~ok]
        gn = np.where(np.isfinite(gn), gn, 0.0)
        s_new = xn - xa
        y_new = gn - ga
        sy = _dot(s_new, y_new)
        upd = ok & (sy > 1e-12 * _dot(y_new, y_new)) & (sy > 0)
        if upd.any():
            u = np.flatnonzero(upd)
            sa[u, 1:], ya[u, 1:], ra[u, 1:] = sa[u, :-1], ya[u, :-1], ra[u, :-1]
            sa[u, 0], ya[u, 0], ra[u, 0] = s_new[u], y_new[u], 1.0 / sy[u]
            s_hist[active], y_hist[active], rho[active] = sa, ya, ra
            n_hist[active[u]] += 1
        x[active], f[active], g[active] = xn, fn, gn
        n_iter[active] += 1

        out = ((xn <= la) & (gn > 0)) | ((xn >= ha) & (gn < 0)) | (la == ha)
        pg = np.abs(np.where(out, 0.0, gn)).max(axis=1)
        st = np.full(active.size, -1)
        # no acceptable step: stationary if a unit-scaled gradient step could not
        # lower f by more than rounding (|pg|^2 without curvature: conservative)
        with np.errstate(over="ignore", invalid="ignore"):
            flat = pg * pg * np.maximum(1.0, np.abs(xn).max(axis=1)) ** 2
        fl = floor_all[active]
        st[~ok] = np.where(flat[~ok] <= STATIONARY_RTOL * np.abs(fn[~ok]) + fl[~ok], 2, 5)
        st[pg <= gtol * np.maximum(np.abs(fn), 1e-300)] = 1
        st[ok & ((fa - fn) <= ftol * np.abs(fa))] = 0
        done = st >= 0
        status[active[done]] = st[done]
        active = active[~done]
    return BatchResult(x=x, fun=f, status=status, n_iter=n_iter, n_eval=n_eval)
