"""The exactly solvable linear random-feature teacher-student pair (Bahri et al. 2021, sec. 2.3)."""

from __future__ import annotations

import numpy as np

from teacher_student.tasks import Task, TaskConfigError, _rf_features, sample_inputs

__all__ = ["RandomFeatureModel"]


class RandomFeatureModel:
    """The exactly solvable linear random-feature pair of Bahri et al. (section 2.3).

    Teacher ``y = omega . F(x)`` with ``S`` random ReLU features ``F``; the
    student is linear in ``P`` random projections of ``F`` and trained to the
    min-norm least-squares solution on ``D`` points. With ``C = E[F F^T]``
    (estimated on a pool of inputs):

    * ``L(D)`` (``P = S``) ``= (1 / 2S) Tr[(I - Pi_D) C]``, ``Pi_D`` the
      projection on the span of the ``D`` training feature vectors
      (averaged over ``omega``);
    * ``L(P)`` (``D -> inf``) ``= (1 / 2S) Tr[C - C A^T (A C A^T)^{-1} A C]``
      for a Gaussian projection ``A`` (``P x S``);
    * if ``C``'s eigenvalues fall as ``i^-(1 + alpha_K)``, both fall as
      ``D^-alpha_K`` and ``P^-alpha_K``.

    Parameters
    ----------
    task : Task
        A ``random_features`` task.
    n_pool : int, default=6000
        Inputs used to estimate ``C`` (and the ``L(D)`` expectation).
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
        self.x_pool = sample_inputs(task, n_pool, seed, split="test")
        self.features = _rf_features(task, self.x_pool)
        self.cov = self.features.T @ self.features / n_pool

    def spectrum(self) -> np.ndarray:
        """Eigenvalues of ``C``, largest first."""
        return np.sort(np.linalg.eigvalsh(self.cov))[::-1]

    def alpha_k(self, window: tuple[int, int] = (10, 100)) -> float:
        """``alpha_K`` from a least-squares line through ``log lambda_i`` vs ``log i``.

        ``window`` is the (1-based, inclusive-exclusive) index range used.
        """
        lam = self.spectrum()
        i = np.arange(1, lam.size + 1)
        lo, hi = window
        slope = np.polyfit(np.log(i[lo - 1: hi - 1]), np.log(lam[lo - 1: hi - 1]), 1)[0]
        return float(-slope - 1.0)

    def loss_d(self, n_train: np.ndarray, n_draws: int = 5, seed: int = 0) -> np.ndarray:
        """Analytic ``L(D)`` at ``P = S``, averaged over ``n_draws`` training sets."""
        rng = np.random.default_rng(seed)
        s = self.task.n_features
        tr = np.trace(self.cov)
        out = []
        for d in np.atleast_1d(n_train).astype(int):
            vals = []
            for _ in range(n_draws):
                idx = rng.choice(self.features.shape[0], size=d, replace=False)
                q, _ = np.linalg.qr(self.features[idx].T)
                vals.append((tr - np.trace(q.T @ self.cov @ q)) / (2 * s))
            out.append(np.mean(vals))
        return np.array(out)

    def loss_p(self, n_params: np.ndarray, n_draws: int = 5, seed: int = 0) -> np.ndarray:
        """Analytic ``L(P)`` at ``D -> inf`` for Gaussian projections."""
        rng = np.random.default_rng(seed)
        s = self.task.n_features
        c = self.cov
        out = []
        for p in np.atleast_1d(n_params).astype(int):
            vals = []
            for _ in range(n_draws):
                a = rng.standard_normal((p, s))
                ac = a @ c
                m = ac @ a.T
                vals.append((np.trace(c) - np.trace(ac.T @ np.linalg.solve(m, ac))) / (2 * s))
            out.append(np.mean(vals))
        return np.array(out)
