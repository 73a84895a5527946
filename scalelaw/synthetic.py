"""Synthetic training-run tables with known truth, for simulation studies.

The published Chinchilla reference used throughout scalelaw's checks:
Besiroglu et al. (2024, arXiv:2404.10102) refit Hoffmann et al.'s Approach 3
and report ``E = 1.8172, A = 482.01, B = 2085.43, alpha = 0.3478,
beta = 0.3658`` (:data:`EPOCH_CHINCHILLA`).

Two solvable learners whose learning curves are known in advance, to test a
fitting pipeline against a known exponent:

* :class:`ZipfMemoriser` (Hutter 2021): features drawn with probabilities
  ``theta_i ~ i^-(1 + a)``; a learner that memorises the label of every
  feature it has seen errs with probability ``sum_i theta_i (1 - theta_i)^n``
  after ``n`` samples, which falls as ``n^-a/(1 + a)``.
* :class:`GaussianDesign`: linear regression on Gaussian features with a
  power-law covariance ``lambda_k = k^-(1 + a)`` and a target whose power per
  feature is proportional to ``lambda_k`` (min-norm or ridge): its expected
  error is the kernel-regression learning curve of :mod:`scalelaw.spectral`
  (exact as sizes grow; within a few per cent of simulation from ``P = 100``
  with 4,000 features), which falls as ``P^-a``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalelaw._validation import (
    RandomStateLike,
    check_int,
    check_positive_float,
    check_random_state,
)
from scalelaw.exceptions import DataValidationError
from scalelaw.laws import ChinchillaLaw, ScalingLaw
from scalelaw.spectral import LearningCurve, learning_curve

__all__ = ["EPOCH_CHINCHILLA", "GaussianDesign", "ZipfMemoriser", "chinchilla_design",
           "simulate_runs"]

EPOCH_CHINCHILLA: dict[str, float] = {
    "E": 1.8172,
    "A": 482.01,
    "B": 2085.43,
    "alpha": 0.3478,
    "beta": 0.3658,
}


def chinchilla_design(n_runs: int = 245) -> pd.DataFrame:
    """IsoFLOP-style design like Hoffmann et al.'s: N x D pairs of ``n_runs`` runs.

    Nine compute budgets ``C = 6 N D`` log-spaced from 6e18 to 3e21 FLOP;
    on each, model sizes log-spaced over 7e7 .. 1.6e10 parameters, keeping
    token counts within 5e9 .. 5e11. The grid is refined until it holds at
    least ``n_runs`` pairs, then thinned evenly to exactly ``n_runs``.

    Parameters
    ----------
    n_runs : int, default=245
        Number of runs (Hoffmann et al.'s figure has 245 extracted points).

    Returns
    -------
    pandas.DataFrame
        Columns ``n_params``, ``n_tokens``, ``flops``.

    Examples
    --------
    >>> d = chinchilla_design()
    >>> len(d), bool(d.n_params.min() >= 7e7), bool(d.n_tokens.max() <= 5e11)
    (245, True, True)
    """
    n_runs = check_int(n_runs, "n_runs", minimum=10)
    budgets = np.logspace(np.log10(6e18), np.log10(3e21), 9)
    per = 20
    while True:
        rows = []
        for c in budgets:
            for n in np.logspace(np.log10(7e7), np.log10(1.6e10), per):
                d = c / (6.0 * n)
                if 5e9 <= d <= 5e11:
                    rows.append((n, d, c))
        if len(rows) >= n_runs:
            break
        per += 5
    keep = np.unique(np.round(np.linspace(0, len(rows) - 1, n_runs)).astype(int))
    out = pd.DataFrame([rows[i] for i in keep], columns=["n_params", "n_tokens", "flops"])
    return out.reset_index(drop=True)


def simulate_runs(
    design: pd.DataFrame,
    *,
    law: ScalingLaw | None = None,
    params: Mapping[str, float] | None = None,
    noise: float = 0.0,
    n_outliers: int = 0,
    outlier_factor: float = 1.5,
    random_state: RandomStateLike = None,
) -> pd.DataFrame:
    """Add a ``loss`` column drawn from a law with log-normal noise and outliers.

    Parameters
    ----------
    design : pandas.DataFrame
        Inputs, with columns named by ``law.inputs``.
    law : ScalingLaw, optional
        Default: the Chinchilla law.
    params : mapping, optional
        True parameters (default: :data:`EPOCH_CHINCHILLA`).
    noise : float, default=0.0
        Standard deviation of the multiplicative log-normal noise (0.02 = 2 %).
    n_outliers : int, default=0
        Rows whose loss is multiplied by ``outlier_factor`` (chosen at random);
        they are marked in the ``outlier`` column.
    outlier_factor : float, default=1.5
        Multiplier of the outlying losses.
    random_state : int, numpy.random.Generator or None, default=None
        Seed.

    Returns
    -------
    pandas.DataFrame
        ``design`` plus ``loss``, ``loss_true`` and ``outlier``.

    Examples
    --------
    >>> runs = simulate_runs(chinchilla_design(), noise=0.02, random_state=0)
    >>> sorted(runs.columns)
    ['flops', 'loss', 'loss_true', 'n_params', 'n_tokens', 'outlier']
    """
    law = law or ChinchillaLaw()
    params = dict(params or EPOCH_CHINCHILLA)
    rng = check_random_state(random_state)
    truth = law(params, **{k: design[k].to_numpy() for k in law.inputs})
    out = design.copy()
    out["loss_true"] = truth
    out["loss"] = truth * np.exp(noise * rng.standard_normal(len(design)))
    out["outlier"] = False
    if n_outliers:
        idx = rng.choice(len(design), size=n_outliers, replace=False)
        out.loc[out.index[idx], "loss"] *= outlier_factor
        out.loc[out.index[idx], "outlier"] = True
    return out


# ----------------------------------------------------------- solvable learners
def _sizes(n_train: Sequence[int] | int, name: str = "n_train") -> np.ndarray:
    n = np.atleast_1d(np.asarray(n_train))
    if n.ndim != 1 or n.size == 0 or not np.issubdtype(n.dtype, np.integer) or (n < 1).any():
        raise DataValidationError(f"{name!r} must be positive ints; got "
                                  f"{np.asarray(n_train).tolist()!r}.", column=name)
    return n.astype(np.int64)


@dataclass(frozen=True)
class ZipfMemoriser:
    """Hutter's (2021) memorising learner on Zipf-distributed features.

    Feature ``i`` (of ``n_features``) appears with probability ``theta_i``
    proportional to ``i^-(1 + a)``; its label is deterministic. After ``n``
    samples the learner knows the labels of the features it has seen and errs
    on the others, so its expected test error is exactly
    ``E_n = sum_i theta_i (1 - theta_i)^n``, which falls as ``n^-beta`` with
    ``beta = a / (1 + a)`` for ``n`` well below ``n_features^(1 + a)``.

    Parameters
    ----------
    a : float
        Zipf exponent minus one (> 0).
    n_features : int, default=1_000_000
        Features (the finite model is the exact one computed here).

    Examples
    --------
    >>> m = ZipfMemoriser(1.0)
    >>> round(m.beta, 3), [round(float(s), 2) for s in m.local_exponent([1000, 10_000])]
    (0.5, [0.5, 0.5])
    """

    a: float
    n_features: int = 1_000_000

    def __post_init__(self) -> None:
        check_positive_float(self.a, "a")
        check_int(self.n_features, "n_features", minimum=2)

    @property
    def beta(self) -> float:
        """The asymptotic exponent ``a / (1 + a)``."""
        return self.a / (1.0 + self.a)

    def probabilities(self) -> np.ndarray:
        """``theta_i``, normalised over the ``n_features`` features."""
        theta = np.arange(1, self.n_features + 1, dtype=np.float64) ** -(1.0 + self.a)
        return theta / theta.sum()

    def _sums(self, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = self.probabilities()
        log1m = np.log1p(-theta)
        err, deriv = np.empty(n.size), np.empty(n.size)
        step = max(1, 2**22 // theta.size)
        for a in range(0, n.size, step):
            w = theta * np.exp(np.outer(n[a:a + step], log1m))   # theta_i (1 - theta_i)^n
            err[a:a + step] = w.sum(axis=1)
            deriv[a:a + step] = (w * log1m).sum(axis=1)            # d E / d n
        return err, deriv

    def expected_error(self, n_train: Sequence[int] | int) -> np.ndarray:
        """The exact expected test error ``sum_i theta_i (1 - theta_i)^n``."""
        return self._sums(_sizes(n_train).astype(np.float64))[0]

    def local_exponent(self, n_train: Sequence[int] | int) -> np.ndarray:
        """``-d log E_n / d log n`` (exact, ``n`` taken as continuous)."""
        n = _sizes(n_train).astype(np.float64)
        err, deriv = self._sums(n)
        return -n * deriv / err

    def sample(self, n_train: Sequence[int], *, n_seeds: int = 1,
               random_state: RandomStateLike = None) -> pd.DataFrame:
        """Draw training samples and score the memoriser on each (nested sizes per seed).

        Parameters
        ----------
        n_train : sequence of int
            Training-set sizes; each seed draws ``max(n_train)`` features once
            and its smaller sets are prefixes.
        n_seeds : int, default=1
            Independent draws.
        random_state : int, numpy.random.Generator or None
            Seed.

        Returns
        -------
        pandas.DataFrame
            ``n_train``, ``seed``, ``loss`` (the memoriser's exact test error
            given its samples: the probability of the features it has not
            seen) and ``loss_expected``.

        Examples
        --------
        >>> t = ZipfMemoriser(1.0, n_features=10_000).sample([10, 100], random_state=0)
        >>> list(t.columns), bool((t.loss <= 1).all())
        (['n_train', 'seed', 'loss', 'loss_expected'], True)
        """
        sizes = _sizes(n_train)
        n_seeds = check_int(n_seeds, "n_seeds", minimum=1)
        rng = check_random_state(random_state)
        theta = self.probabilities()
        cdf = np.cumsum(theta)
        expected = self.expected_error(sizes)
        rows = []
        for seed in range(n_seeds):
            draws = np.minimum(np.searchsorted(cdf, rng.random(int(sizes.max())), side="right"),
                               theta.size - 1)
            feats, first = np.unique(draws, return_index=True)
            order = np.argsort(first)
            seen_at, mass = first[order], np.cumsum(theta[feats[order]])
            for n, e in zip(sizes, expected, strict=True):
                known = np.searchsorted(seen_at, n, side="left")  # features first seen < n
                rows.append((int(n), seed, float(1.0 - (mass[known - 1] if known else 0.0)),
                             float(e)))
        return pd.DataFrame(rows, columns=["n_train", "seed", "loss", "loss_expected"])


@dataclass(frozen=True)
class GaussianDesign:
    """Linear regression on Gaussian features with a power-law spectrum.

    Features ``x_k ~ N(0, lambda_k)`` with ``lambda_k = k^-(1 + a)``,
    ``k = 1 .. n_features``; target ``y = sum_k x_k + noise`` (weights 1, so the
    target's power in feature ``k`` is ``lambda_k``). The estimator is
    ``argmin_w |X w - y|^2 + ridge |w|^2`` (ridge 0: the minimum-norm
    interpolant while ``P < n_features``); its error is ``E(w) = sum_k lambda_k
    (w_k - 1)^2`` against the noiseless target.

    :meth:`expected_error` is the kernel-regression theory
    (:func:`scalelaw.spectral.learning_curve`), exact as ``P`` and
    ``n_features`` grow together; :meth:`simulate` draws and fits.

    Parameters
    ----------
    a : float, default=0.5
        Spectrum exponent minus one (> 0); the curve falls as ``P^-a``.
    n_features : int, default=4000
        Features.
    noise : float, default=0.0
        Label-noise standard deviation.
    ridge : float, default=0.0
        Ridge.

    Examples
    --------
    >>> g = GaussianDesign()
    >>> [round(float(e), 3) for e in g.expected_error([100, 400]).error]
    [0.325, 0.138]
    """

    a: float = 0.5
    n_features: int = 4000
    noise: float = 0.0
    ridge: float = 0.0

    def __post_init__(self) -> None:
        check_positive_float(self.a, "a")
        check_int(self.n_features, "n_features", minimum=2)
        check_positive_float(self.noise, "noise", allow_zero=True)
        check_positive_float(self.ridge, "ridge", allow_zero=True)

    def eigenvalues(self) -> np.ndarray:
        """``lambda_k = k^-(1 + a)``."""
        return np.arange(1, self.n_features + 1, dtype=np.float64) ** -(1.0 + self.a)

    def expected_error(self, n_train: Sequence[float] | float) -> LearningCurve:
        """The predicted error, its local exponent and the rest of the theory."""
        lam = self.eigenvalues()
        return learning_curve(lam, lam, n_train, ridge=self.ridge, noise=self.noise)

    def draw(self, n_train: int, random_state: RandomStateLike = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """One training set: features ``X`` (``n_train x n_features``) and labels ``y``."""
        n = int(_sizes(n_train)[0])
        rng = check_random_state(random_state)
        x = rng.standard_normal((n, self.n_features)) * np.sqrt(self.eigenvalues())
        return x, x.sum(axis=1) + self.noise * rng.standard_normal(n)

    def fit(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The estimator's weights (minimum-norm or ridge)."""
        from scipy.linalg import solve

        n, m = x.shape
        if n <= m:  # w = X^T (X X^T + ridge I)^-1 y
            gram = x @ x.T + self.ridge * np.eye(n)
            return x.T @ solve(gram, y, assume_a="pos")
        return solve(x.T @ x + self.ridge * np.eye(m), x.T @ y, assume_a="pos")

    def simulate(self, n_train: Sequence[int], *, n_trials: int = 10,
                 random_state: RandomStateLike = None) -> pd.DataFrame:
        """Draw training sets, fit, and measure the error of each.

        Each trial draws ``max(n_train)`` rows once; its smaller training sets
        are the first rows (nested, as the sweeps' training sets).

        Parameters
        ----------
        n_train : sequence of int
            Training-set sizes.
        n_trials : int, default=10
            Independent draws.
        random_state : int, numpy.random.Generator or None
            Seed.

        Returns
        -------
        pandas.DataFrame
            ``n_train``, ``seed`` (the trial), ``loss`` (``sum_k lambda_k
            (w_k - 1)^2``) and ``loss_expected`` (the theory).

        Examples
        --------
        >>> t = GaussianDesign(n_features=200).simulate([20, 40], n_trials=2, random_state=0)
        >>> t.shape
        (4, 4)
        """
        from scipy.linalg import solve

        sizes = _sizes(n_train)
        n_trials = check_int(n_trials, "n_trials", minimum=1)
        rng = check_random_state(random_state)
        lam = self.eigenvalues()
        expected = self.expected_error(sizes.astype(np.float64)).error
        top = int(sizes.max())
        rows = []
        for trial in range(n_trials):
            x, y = self.draw(top, rng)
            gram = x @ x.T if top <= self.n_features else None  # shared by the prefixes
            for n, e in zip(sizes, expected, strict=True):
                n = int(n)
                if n <= self.n_features and gram is not None:
                    w = x[:n].T @ solve(gram[:n, :n] + self.ridge * np.eye(n), y[:n],
                                        assume_a="pos")
                else:
                    w = self.fit(x[:n], y[:n])
                rows.append((n, trial, float(lam @ (w - 1.0) ** 2), float(e)))
        return pd.DataFrame(rows, columns=["n_train", "seed", "loss", "loss_expected"])
