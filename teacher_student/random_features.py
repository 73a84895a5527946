"""The exactly solvable linear random-feature teacher-student pair (Bahri et al. 2021, sec. 2.3).

Teacher ``y = omega . F(x)`` with ``S`` random ReLU features ``F`` of inputs
uniform on a cube and ``omega ~ N(0, I / S)``; the student is linear in ``P``
random Gaussian projections of ``F`` and trained to the min-norm
least-squares solution on ``D`` points (optionally with Gaussian label noise
of standard deviation ``sigma``). Its test loss, averaged over ``omega`` and
the noise, is exact given ``C = E[F F^T]`` (estimated on a pool of inputs):
with ``B = A^T pinv(F_D A^T)`` and ``M = B F_D``,

.. math::

    L(D, P) = \\frac{1}{2S} \\mathrm{Tr}[(I - M)^T C (I - M)]
              + \\frac{\\sigma^2}{2} \\mathrm{Tr}[B^T C B].

Its four regimes (Bahri et al., Fig. 2): resolution-limited ``L(D, inf)
~ D^-alpha_K`` (``D << S``) and ``L(inf, P) ~ P^-alpha_K`` (``P << S``), with
``alpha_K`` the decay of ``C``'s spectrum (``lambda_i ~ i^-(1 + alpha_K)``);
variance-limited ``L(D, P) - L(inf, P) ~ 1/D`` (``D >> P``) and
``L(D, P) - L(D, inf) ~ 1/P`` (``P >> D``). At finite ``D/P`` the
variance-limited excess carries the finite-sample factor of least squares,
``P / (D - P - 1)`` (Gaussian design): fitted against ``D`` alone it reads
an exponent of 1.07-1.20 over ``D = 10P .. 500P``, against ``D - P`` it reads 1.
:meth:`RandomFeatureModel.regime_tables` produces all four tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from teacher_student.tasks import Task, TaskConfigError, random_feature_map, sample_inputs

__all__ = ["RandomFeatureModel"]


class RandomFeatureModel:
    """The exactly solvable linear random-feature pair (see the module docstring).

    Parameters
    ----------
    task : Task
        A ``random_features`` task.
    n_pool : int, default=6000
        Inputs whose empirical distribution is the task's input distribution
        here: ``C`` is their feature covariance and training sets are drawn
        from them (with replacement), so the limits ``D -> inf`` are exact.
    seed : int, default=0
        Seed of the pool.

    Examples
    --------
    >>> from teacher_student.suite import get_task
    >>> rf = RandomFeatureModel(get_task("random-features"), n_pool=2000)
    >>> lam = rf.spectrum()
    >>> bool(lam[0] > lam[10] > lam[100] > 0)
    True
    """

    def __init__(self, task: Task, n_pool: int = 6000, seed: int = 0) -> None:
        if task.family != "random_features":
            raise TaskConfigError(f"Task {task.name!r} is not a random_features task.")
        self.task = task
        self.n_features = task.n_features
        self.x_pool = sample_inputs(task, n_pool, seed, split="test")
        self.pool_features = self.feature_map(self.x_pool)
        self.cov = self.pool_features.T @ self.pool_features / n_pool

    def feature_map(self, x: np.ndarray) -> np.ndarray:
        """The teacher's features ``F(x)`` (``(n, S)``), the student's raw material.

        Parameters
        ----------
        x : ndarray of shape (n, d)
            Inputs.

        Returns
        -------
        ndarray of shape (n, S)
            ``ReLU(W x + b) / sqrt(S)``.
        """
        return random_feature_map(self.task, np.asarray(x, dtype=np.float64))

    def spectrum(self) -> np.ndarray:
        """Eigenvalues of ``C``, largest first.

        Returns
        -------
        ndarray
            The eigenvalues.
        """
        return np.sort(np.linalg.eigvalsh(self.cov))[::-1]

    def alpha_k(self, window: tuple[int, int] = (10, 100)) -> float:
        """``alpha_K`` from a least-squares line through ``log lambda_i`` vs ``log i``.

        Parameters
        ----------
        window : tuple of int, default=(10, 100)
            The (1-based, inclusive-exclusive) index range used.

        Returns
        -------
        float
            ``-slope - 1``.
        """
        lam = self.spectrum()
        i = np.arange(1, lam.size + 1)
        lo, hi = window
        slope = np.polyfit(np.log(i[lo - 1: hi - 1]), np.log(lam[lo - 1: hi - 1]), 1)[0]
        return float(-slope - 1.0)

    # ------------------------------------------------------------------ losses
    def _loss_given(self, f: np.ndarray | None, a: np.ndarray | None, noise: float) -> float:
        """Exact test loss for training features ``f`` (None: D = inf) and projection ``a``.

        ``a`` None means every feature (P = inf). The traces are arranged so that
        no S x S product with P or D is formed (P up to 10^4, D up to 10^4).
        """
        s, c = self.n_features, self.cov
        tr_c = float(np.trace(c))
        if f is None:  # D -> inf: the best fit within the projection's span
            ac = a @ c
            return (tr_c - float(np.trace(ac.T @ np.linalg.solve(ac @ a.T, ac)))) / (2 * s)
        if a is None:  # ridgeless kernel regression: M projects on the span of the rows of f
            q, r = np.linalg.qr(f.T)
            qcq = q.T @ c @ q
            var = 0.0
            if noise:
                rinv = np.linalg.pinv(r)
                var = 0.5 * noise**2 * float(np.trace(rinv @ rinv.T @ qcq))
            return (tr_c - float(np.trace(qcq))) / (2 * s) + var
        d, p = f.shape[0], a.shape[0]
        if p >= d:  # over-parameterised: B = A^T A F^T K^-1, K = F A^T A F^T
            v = a.T @ (a @ f.T)  # (S, D)
            k = f @ v
            kinv = np.linalg.pinv(k, hermitian=True)
            cv = c @ v
            vcv = v.T @ cv
            tr_cm = float(np.trace(f @ cv @ kinv))
            tr_mcm = float(np.trace(vcv @ kinv @ (f @ f.T) @ kinv))
            var = 0.5 * noise**2 * float(np.trace(kinv @ vcv @ kinv)) if noise else 0.0
        else:  # under-parameterised: B = A^T pinv(F A^T), G = pinv(F A^T) F
            phi = f @ a.T  # (D, P)
            g = np.linalg.lstsq(phi, f, rcond=None)[0]  # (P, S)
            aca = a @ c @ a.T
            tr_cm = float(np.trace(g @ c @ a.T))
            tr_mcm = float(np.trace(aca @ (g @ g.T)))
            var = (0.5 * noise**2 * float(np.trace(aca @ np.linalg.pinv(phi.T @ phi)))
                   if noise else 0.0)
        return (tr_c - 2.0 * tr_cm + tr_mcm) / (2 * s) + var

    def _draws(self, n_train: int | None, n_params: int | None, n_draws: int, seed: int):
        rng = np.random.default_rng(seed)
        for _k in range(n_draws):
            a = (None if n_params is None
                 else rng.standard_normal((int(n_params), self.n_features)))
            f = None
            if n_train is not None:  # from the pool that defines C: exact limits
                rows = rng.integers(0, self.pool_features.shape[0], int(n_train))
                f = self.pool_features[rows]
            yield f, a

    def loss(self, n_train: int | None, n_params: int | None, *, noise: float = 0.0,
             n_draws: int = 5, seed: int = 0) -> float:
        """Exact ``L(D, P)`` averaged over ``n_draws`` training sets and projections.

        Parameters
        ----------
        n_train : int or None
            ``D``; None = infinitely many training points (``L(inf, P)``).
        n_params : int or None
            ``P``; None = every feature with no projection, the infinite-width
            limit (``L(D, inf)``: ridgeless kernel regression).
        noise : float, default=0.0
            Label-noise standard deviation ``sigma``.
        n_draws : int, default=5
            Training sets (and projections) averaged over.
        seed : int, default=0
            Seed of the draws.

        Returns
        -------
        float
            The expected test loss (half the mean squared error).

        Examples
        --------
        >>> from teacher_student.suite import get_task
        >>> rf = RandomFeatureModel(get_task("random-features"), n_pool=2000)
        >>> big, small = rf.loss(200, None, n_draws=1), rf.loss(20, None, n_draws=1)
        >>> bool(big < small)
        True
        """
        if n_train is None and n_params is None:
            return 0.0
        return float(np.mean([self._loss_given(f, a, noise)
                              for f, a in self._draws(n_train, n_params, n_draws, seed)]))

    def excess(self, n_train: int, n_params: int, *, limit: str, noise: float = 0.0,
               n_draws: int = 5, seed: int = 0) -> tuple[float, float]:
        """The variance-limited excess, paired draw by draw.

        Parameters
        ----------
        n_train, n_params : int
            ``D`` and ``P``.
        limit : {"data", "width"}
            ``"data"``: ``L(D, P) - L(inf, P)`` with the same projection (the
            limit of infinitely many training points); ``"width"``:
            ``L(D, P) - L(D, inf)`` with the same training set (the limit of
            infinitely many features: the linearised, kernel model).
        noise, n_draws, seed
            As in :meth:`loss`.

        Returns
        -------
        tuple of float
            The mean excess and the mean limit ``L_inf``.
        """
        if limit not in ("data", "width"):
            raise TaskConfigError(f"limit must be 'data' or 'width'; got {limit!r}.")
        ex, lim = [], []
        for f, a in self._draws(n_train, n_params, n_draws, seed):
            base = (self._loss_given(None, a, 0.0) if limit == "data"
                    else self._loss_given(f, None, noise))
            lim.append(base)
            ex.append(self._loss_given(f, a, noise) - base)
        return float(np.mean(ex)), float(np.mean(lim))

    def loss_d(self, n_train: Sequence[int], n_draws: int = 5, seed: int = 0) -> np.ndarray:
        """``L(D, inf)`` (every feature, ridgeless regression) for each ``D``."""
        return np.array([self.loss(int(d), None, n_draws=n_draws, seed=seed)
                         for d in np.atleast_1d(n_train)])

    def loss_p(self, n_params: Sequence[int], n_draws: int = 5, seed: int = 0) -> np.ndarray:
        """``L(inf, P)`` (infinitely many training points) for each ``P``."""
        return np.array([self.loss(None, int(p), n_draws=n_draws, seed=seed)
                         for p in np.atleast_1d(n_params)])

    def regime_tables(self, *, n_draws: int = 4, noise: float = 0.0, seed: int = 0,
                      d_res: Sequence[int] = (10, 16, 25, 40, 63, 100, 160, 250),
                      p_res: Sequence[int] = (10, 16, 25, 40, 63, 100, 160, 250),
                      p_var: int = 20, d_var: Sequence[int] = (200, 400, 800, 1600, 3200),
                      d_fixed: int = 20, p_wide: Sequence[int] = (200, 400, 800, 1600, 3200),
                      ) -> dict[str, pd.DataFrame]:
        """The four regimes as tables ready for :func:`scalelaw.theory.check_scaling`.

        Parameters
        ----------
        n_draws : int, default=4
            Draws averaged per point.
        noise : float, default=0.0
            Label-noise standard deviation.
        seed : int, default=0
            Seed.
        d_res, p_res : sequence of int
            ``D`` (with every feature) and ``P`` (with infinite data) of the
            resolution-limited tables (keep them well below ``S``).
        p_var, d_var : int, sequence of int
            ``P`` and the ``D >> P`` of the variance-limited table in data.
        d_fixed, p_wide : int, sequence of int
            ``D`` and the ``P >> D`` of the variance-limited table in width.

        Returns
        -------
        dict
            ``{"resolution_D", "resolution_P", "variance_D", "variance_P"}`` ->
            tables with ``n_train``, ``n_params`` (``inf`` for the limits) and
            ``loss``; the variance-limited ones also hold ``loss_inf`` (the exact
            limit, paired with each draw) and ``excess`` (``loss - loss_inf``).

        Examples
        --------
        >>> from teacher_student.suite import get_task
        >>> rf = RandomFeatureModel(get_task("random-features"), n_pool=2000)
        >>> tabs = rf.regime_tables(n_draws=1, d_res=(10, 40), p_res=(10, 40),
        ...                         d_var=(200, 400), p_wide=(200, 400))
        >>> sorted(tabs)
        ['resolution_D', 'resolution_P', 'variance_D', 'variance_P']
        >>> list(tabs["variance_D"].columns)
        ['n_train', 'n_params', 'loss', 'loss_inf', 'excess']
        """
        inf = np.inf
        out = {
            "resolution_D": pd.DataFrame(
                [{"n_train": d, "n_params": inf,
                  "loss": self.loss(d, None, noise=noise, n_draws=n_draws, seed=seed)}
                 for d in d_res]),
            "resolution_P": pd.DataFrame(
                [{"n_train": inf, "n_params": p,
                  "loss": self.loss(None, p, n_draws=n_draws, seed=seed)} for p in p_res]),
        }
        for key, limit, pairs in (("variance_D", "data", [(d, p_var) for d in d_var]),
                                  ("variance_P", "width", [(d_fixed, p) for p in p_wide])):
            rows = []
            for d, p in pairs:
                ex, lim = self.excess(d, p, limit=limit, noise=noise, n_draws=n_draws,
                                      seed=seed)
                rows.append({"n_train": d, "n_params": p, "loss": lim + ex, "loss_inf": lim,
                             "excess": ex})
            out[key] = pd.DataFrame(rows)
        return out
