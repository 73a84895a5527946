"""Ridge regression on Haar-orthogonal random features: variance components with known answers.

The model of Lin & Dobriban (2021, "What causes the test error? Going beyond
bias-variance via ANOVA", JMLR 22(155)), in their two-layer linear form.
Inputs ``x ~ N(0, I_d)``; a fixed target ``y = x . theta + eps`` with
``|theta|^2 = alpha^2`` and label noise ``eps ~ N(0, sigma^2)``; ``p <= d``
random features ``W x`` with ``W`` (``p x d``) Haar-distributed with
orthonormal rows; ridge regression on ``n`` training points,

.. math::

    \\hat\\beta = (W \\hat\\Sigma W^T + \\lambda I_p)^{-1} W X^T Y / n,
    \\qquad \\hat f(x) = x^T W^T \\hat\\beta, \\qquad \\hat\\Sigma = X^T X / n.

Three independent sources make the prediction random: the training inputs
``X`` (factor ``"data"``), the features ``W`` (``"init"``) and the label noise
``eps`` (``"noise"``). With ``pi = p/d``, ``delta = d/n`` and
``gamma = p/n = pi delta`` held fixed as ``n -> inf``, the test error against
the noiseless target, its squared bias, its variance and every term of the
symmetric (ANOVA) split of the variance converge to the limits computed by
:func:`ridge_variance_limits`. Derivation (written for this module from the
model's definition; the reference's code is not used):

* The prediction is linear in ``x``, so every quantity averaged over the
  test input is a trace: with ``v = W^T beta_hat``, ``E_x (f(x) - x.theta)^2
  = |v - theta|^2`` and a variance component is the trace of a covariance of
  ``v``. ``v = M Sigma_hat theta + M X^T eps / n`` with
  ``M = W^T (W Sigma_hat W^T + lambda)^{-1} W``.
* ``E_eps v`` does not depend on the noise and the noise part is odd in
  ``X``, so ``V_noise = V_init:noise = 0``; the other five terms are not zero.
* Given ``W``, the features ``F = X W^T`` are an ``n x p`` Gaussian matrix,
  so ``S = F^T F / n`` follows the Marchenko-Pastur law of ratio ``gamma``
  and ``E tr(M Sigma_hat) / d = pi (1 - lambda m_gamma(-lambda)) =: c``
  (``m_gamma`` its Stieltjes transform): the mean prediction is
  ``c theta``, so ``bias^2 = alpha^2 (1 - c)^2``. Averaging over ``X`` alone
  leaves ``(c / pi) W^T W theta``, so ``V_init = alpha^2 c^2 (1 - pi) / pi``.
  Splitting ``X`` into its parts along and across the rows of ``W`` gives the
  whole variance from ``S`` alone:
  ``E|v - c theta|^2 = alpha^2 (pi E_S[s^2/(s+lambda)^2]
  + pi (delta - gamma) E_S[s/(s+lambda)^2] - c^2)
  + sigma^2 gamma E_S[s/(s+lambda)^2]``.
* Averaging over ``W`` alone is a free compression: by multiplicative free
  subordination ``E_W[M | X] = (Sigma_hat + mu I)^{-1}`` with ``mu`` the root
  of ``(mu - lambda) m_delta(-mu) = 1 - pi``. Hence, with
  ``s ~ Marchenko-Pastur(delta)`` (the spectrum of ``Sigma_hat``, with its
  atom at 0 when ``delta > 1``), ``V_data = alpha^2 (E[(s/(s+mu))^2] - c^2)``
  and ``V_data:noise = sigma^2 delta E[s/(s+mu)^2]``; ``V_data:init`` and
  ``V_data:init:noise`` are what is left of the noise-free and the noise
  parts. The identity ``E[s/(s+mu)] = c`` holds to machine precision, a
  check of the subordination.

Every expectation over the Marchenko-Pastur law is a closed form in its
Stieltjes transform and derivative at a negative real point. The limits
reproduce the reference table for ``pi = 0.8``, ``alpha^2 = 1``,
``sigma = 0.3`` to four decimals (e.g. optimal ridge, ``delta = 1``: MSE
0.4954, bias^2 0.2454, variance 0.2500; ridge 0.01: the variance peaks at
1.4742 at ``delta = 1.25``, where ``p = n``).

:class:`OrthogonalFeaturesRidge` samples the model with every source under
its own seed, for fully crossed designs that :mod:`scalelaw.variance`
decomposes. Its default test set is ``sqrt(d)`` times the coordinate basis:
for a prediction linear in ``x`` the average over these ``d`` points of any
product of two predictions equals its expectation over ``x ~ N(0, I_d)``
exactly, so the components carry no test-point sampling error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw._validation import check_int, check_positive_float
from scalelaw.exceptions import DataValidationError

__all__ = ["COMPONENTS", "OrthogonalFeaturesRidge", "RidgeVarianceLimits", "optimal_ridge",
           "ridge_variance_limits"]

#: The seven ANOVA terms, named as :func:`scalelaw.variance.crossed_components` names them.
COMPONENTS = ("data", "init", "noise", "data:init", "data:noise", "init:noise",
              "data:init:noise")


@dataclass(frozen=True)
class RidgeVarianceLimits:
    """Limits of the test error and its parts for one design point.

    Attributes
    ----------
    pi, delta, ridge, signal, noise : float
        The design: ``p/d``, ``d/n``, the ridge ``lambda``, ``alpha`` and ``sigma``.
    mse : float
        Test error against the noiseless target, ``bias2 + variance``.
    bias2 : float
        Squared bias.
    variance : float
        Variance of the prediction (averaged over the test input).
    components : dict
        The seven ANOVA terms (:data:`COMPONENTS`); they sum to ``variance``.
    """

    pi: float
    delta: float
    ridge: float
    signal: float
    noise: float
    mse: float
    bias2: float
    variance: float
    components: dict[str, float]

    @property
    def gamma(self) -> float:
        """Features per training point, ``p/n = pi delta``."""
        return self.pi * self.delta

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``gamma`` included)."""
        return asdict(self) | {"gamma": self.gamma}


def _mp_stieltjes(ratio: float, lam: float) -> tuple[float, float]:
    """``E[1/(s+lam)]`` and ``E[1/(s+lam)^2]`` for ``s ~ Marchenko-Pastur(ratio)``, ``lam > 0``.

    The law of the eigenvalues of ``G^T G / n`` for an ``n x k`` standard
    Gaussian ``G``, ``k/n -> ratio`` (with an atom at 0 of mass ``1 - 1/ratio``
    when ``ratio > 1``). ``m`` is the positive root of
    ``ratio lam m^2 + (1 + lam - ratio) m - 1 = 0``.
    """
    b = 1.0 + lam - ratio
    root = np.sqrt(b * b + 4.0 * ratio * lam)
    # two algebraically equal forms; each is free of cancellation on its side of b = 0
    m = 2.0 / (b + root) if b > 0 else (root - b) / (2.0 * ratio * lam)
    z = -lam
    dm = -(ratio * m * m + m) / (2.0 * ratio * z * m + z + ratio - 1.0)
    return float(m), float(dm)


def _check_design(pi: float, delta: float, ridge: float, signal: float, noise: float) -> None:
    if not (np.isfinite(pi) and 0 < pi <= 1):
        raise DataValidationError(f"pi (features per input dimension, p/d) must be in (0, 1] "
                                  f"(orthonormal features need p <= d), got {pi!r}",
                                  column="pi")
    check_positive_float(delta, "delta")
    check_positive_float(ridge, "ridge")
    check_positive_float(signal, "signal")
    check_positive_float(noise, "noise", allow_zero=True)


def optimal_ridge(pi: float, delta: float, *, signal: float = 1.0, noise: float = 0.3
                  ) -> float:
    """The ridge that minimises the test error, ``delta (1 - pi + sigma^2 / alpha^2)``.

    Given the features, the directions of ``theta`` they miss act as extra
    label noise of variance ``alpha^2 (1 - pi)``; the Bayes ridge for the
    remaining isotropic problem is this value.

    Parameters
    ----------
    pi : float
        Features per input dimension, ``p/d`` in (0, 1].
    delta : float
        Input dimension per training point, ``d/n``.
    signal : float, default=1.0
        ``alpha``, the norm of the target's coefficient vector.
    noise : float, default=0.3
        ``sigma``, the label-noise standard deviation.

    Returns
    -------
    float

    Examples
    --------
    >>> round(optimal_ridge(0.8, 1.0), 4)
    0.29
    """
    _check_design(pi, delta, 1.0, signal, noise)
    return float(delta * (1.0 - pi + noise**2 / signal**2))


def ridge_variance_limits(pi: float, delta: float, ridge: float | str = "optimal", *,
                          signal: float = 1.0, noise: float = 0.3) -> RidgeVarianceLimits:
    """Closed-form test error, squared bias, variance and ANOVA terms of the model.

    See the module docstring for the model and the derivation.

    Parameters
    ----------
    pi : float
        Features per input dimension, ``p/d`` in (0, 1].
    delta : float
        Input dimension per training point, ``d/n`` (> 0).
    ridge : float or "optimal", default="optimal"
        ``lambda`` (> 0), or :func:`optimal_ridge`.
    signal : float, default=1.0
        ``alpha``: the target's coefficient vector has squared norm ``alpha^2``.
    noise : float, default=0.3
        ``sigma``, label-noise standard deviation.

    Returns
    -------
    RidgeVarianceLimits

    Raises
    ------
    DataValidationError
        A parameter outside its range (named in the message).

    Examples
    --------
    >>> lim = ridge_variance_limits(0.8, 1.0)
    >>> round(lim.mse, 4), round(lim.bias2, 4), round(lim.variance, 4)
    (0.4954, 0.2454, 0.25)
    >>> round(ridge_variance_limits(0.8, 1.25, 0.01).variance, 4)
    1.4742
    """
    if isinstance(ridge, str):
        if ridge != "optimal":
            raise DataValidationError(f"ridge must be a positive number or 'optimal', got "
                                      f"{ridge!r}", column="ridge")
        ridge = optimal_ridge(pi, delta, signal=signal, noise=noise)
    _check_design(pi, delta, ridge, signal, noise)
    from scipy.optimize import brentq

    lam, a2, s2 = float(ridge), float(signal) ** 2, float(noise) ** 2
    gamma = pi * delta
    m_g, dm_g = _mp_stieltjes(gamma, lam)
    c = pi * (1.0 - lam * m_g)                      # E v = c theta
    s_sl2 = m_g - lam * dm_g                        # E_S[s / (s + lam)^2]
    s2_sl2 = 1.0 - 2.0 * lam * m_g + lam**2 * dm_g  # E_S[s^2 / (s + lam)^2]
    signal_total = a2 * (pi * s2_sl2 + pi * (delta - gamma) * s_sl2 - c * c)
    noise_total = s2 * gamma * s_sl2
    if pi < 1:  # the subordination point of the compression, (mu - lam) m_delta(-mu) = 1 - pi
        def gap(mu: float) -> float:
            return (mu - lam) * _mp_stieltjes(delta, mu)[0] - (1.0 - pi)

        hi = 2.0 * lam + 1.0
        while gap(hi) <= 0:
            hi *= 4.0
        mu = brentq(gap, lam, hi, xtol=1e-15, rtol=1e-14)
    else:
        mu = lam
    m_d, dm_d = _mp_stieltjes(delta, mu)
    v_data = a2 * (1.0 - 2.0 * mu * m_d + mu**2 * dm_d - c * c)
    v_data_noise = s2 * delta * (m_d - mu * dm_d)
    v_init = a2 * c * c * (1.0 - pi) / pi
    comp = {"data": v_data, "init": v_init, "noise": 0.0,
            "data:init": signal_total - v_data - v_init, "data:noise": v_data_noise,
            "init:noise": 0.0, "data:init:noise": noise_total - v_data_noise}
    bias2 = a2 * (1.0 - c) ** 2
    variance = signal_total + noise_total
    return RidgeVarianceLimits(float(pi), float(delta), lam, float(signal), float(noise),
                               float(bias2 + variance), float(bias2), float(variance),
                               {k: float(v) for k, v in comp.items()})


class OrthogonalFeaturesRidge:
    """Sample the model of :func:`ridge_variance_limits` with separately seeded sources.

    The training inputs depend only on ``data_seed``, the features only on
    ``init_seed`` (the first ``n_features`` rows of one Haar-orthogonal
    ``d x d`` matrix, so nested across sizes) and the label noise only on
    ``noise_seed``: designs over the three seeds are fully crossed, and the
    same seed gives the same draw at every size.

    Parameters
    ----------
    n_train : int
        Training points ``n`` per data draw.
    dim : int
        Input dimension ``d``.
    ridge : float or "optimal", default=0.01
        ``lambda`` (> 0), or :func:`optimal_ridge` at each size's ``pi``.
    signal : float, default=1.0
        ``alpha``: ``theta`` is drawn once (from ``seed``) and scaled to this norm.
    noise : float, default=0.3
        Label-noise standard deviation ``sigma``.
    n_test : int, optional
        Test inputs drawn from ``N(0, I_d)``. Default: the ``d`` points
        ``sqrt(d) e_j``, which average any product of two (linear) predictions
        exactly as ``x ~ N(0, I_d)`` does.
    seed : int, default=0
        Seeds ``theta``, the test inputs and (with the source seeds) every draw.

    Examples
    --------
    >>> model = OrthogonalFeaturesRidge(n_train=40, dim=50, ridge=0.5)
    >>> model.crossed_predictions(30, n_data=3, n_init=3, n_noise=2).shape
    (3, 3, 2, 50)
    >>> round(model.limits(30).pi, 2), round(model.limits(30).delta, 2)
    (0.6, 1.25)
    """

    def __init__(self, n_train: int, dim: int, *, ridge: float | str = 0.01,
                 signal: float = 1.0, noise: float = 0.3, n_test: int | None = None,
                 seed: int = 0) -> None:
        self.n_train = check_int(n_train, "n_train", minimum=2)
        self.dim = check_int(dim, "dim", minimum=2)
        if not (isinstance(ridge, str) and ridge == "optimal"):
            if isinstance(ridge, str):
                raise DataValidationError(f"ridge must be a positive number or 'optimal', "
                                          f"got {ridge!r}", column="ridge")
            ridge = check_positive_float(ridge, "ridge")
        self.ridge = ridge
        self.signal = check_positive_float(signal, "signal")
        self.noise = check_positive_float(noise, "noise", allow_zero=True)
        self.seed = check_int(seed, "seed")
        rng = np.random.default_rng([self.seed, 0])
        theta = rng.standard_normal(self.dim)
        self.theta = theta * (self.signal / np.linalg.norm(theta))
        if n_test is None:
            self.x_test = np.sqrt(self.dim) * np.eye(self.dim)
        else:
            self.x_test = rng.standard_normal((check_int(n_test, "n_test", minimum=1),
                                               self.dim))
        #: Noiseless test targets ``x . theta``.
        self.target = self.x_test @ self.theta
        self._w_cache: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ draws
    def _x(self, data_seed: int) -> np.ndarray:
        return np.random.default_rng([self.seed, 1, int(data_seed)]).standard_normal(
            (self.n_train, self.dim))

    def _haar(self, init_seed: int) -> np.ndarray:
        q = self._w_cache.get(int(init_seed))
        if q is None:
            g = np.random.default_rng([self.seed, 2, int(init_seed)]).standard_normal(
                (self.dim, self.dim))
            q, r = np.linalg.qr(g)
            q = (q * np.sign(np.diag(r))).T  # sign fix: Haar-distributed rows
            if len(self._w_cache) > 64:
                self._w_cache.clear()
            self._w_cache[int(init_seed)] = q
        return q

    def _eps(self, noise_seed: int) -> np.ndarray:
        return self.noise * np.random.default_rng([self.seed, 3, int(noise_seed)]
                                                  ).standard_normal(self.n_train)

    def ridge_for(self, n_features: int) -> float:
        """The ridge used at ``n_features`` (the optimal one depends on ``p/d``)."""
        p = self._check_size(n_features)
        if isinstance(self.ridge, str):
            return optimal_ridge(p / self.dim, self.dim / self.n_train, signal=self.signal,
                                 noise=self.noise)
        return float(self.ridge)

    def _check_size(self, n_features: Any) -> int:
        p = check_int(n_features, "n_features", minimum=1)
        if p > self.dim:
            raise DataValidationError(f"n_features must be at most dim = {self.dim} "
                                      f"(orthonormal features), got {p}",
                                      column="n_features")
        return p

    def predict(self, n_features: int, data_seed: int, init_seed: int,
                noise_seed: int | Sequence[int]) -> np.ndarray:
        """Test predictions of one fit; several noise seeds share one solve.

        Returns
        -------
        ndarray
            Shape ``(n_test,)``, or ``(len(noise_seed), n_test)`` for a sequence.
        """
        p = self._check_size(n_features)
        lam, n = self.ridge_for(p), self.n_train
        x = self._x(data_seed)
        w = self._haar(init_seed)[:p]
        seeds = np.atleast_1d(noise_seed)
        y = (x @ self.theta)[:, None] + np.stack([self._eps(s) for s in seeds], axis=1)
        f = x @ w.T
        if p <= n:
            coef = np.linalg.solve(f.T @ f / n + lam * np.eye(p), f.T @ y / n)
        else:  # the same solution through the n x n system
            coef = f.T @ np.linalg.solve(f @ f.T / n + lam * np.eye(n), y / n)
        pred = (self.x_test @ (w.T @ coef)).T
        return pred if np.ndim(noise_seed) else pred[0]

    def crossed_predictions(self, n_features: int, *, n_data: int = 6, n_init: int = 6,
                            n_noise: int = 4, first_seed: int = 0) -> np.ndarray:
        """Fully crossed predictions: seeds ``first_seed, first_seed + 1, ...`` per source.

        Returns
        -------
        ndarray, shape (n_data, n_init, n_noise, n_test)
            What :func:`scalelaw.variance.crossed_components` takes (with
            ``target=self.target``).
        """
        levels = [check_int(v, k, minimum=2) for k, v in
                  (("n_data", n_data), ("n_init", n_init), ("n_noise", n_noise))]
        s0 = check_int(first_seed, "first_seed")
        noise_seeds = list(range(s0, s0 + levels[2]))
        cube = np.empty((*levels, len(self.target)))
        from threadpoolctl import threadpool_limits

        # many small solves: one BLAS thread is faster and leaves the other cores alone
        with threadpool_limits(limits=1):
            for a in range(levels[0]):
                for b in range(levels[1]):
                    cube[a, b] = self.predict(n_features, s0 + a, s0 + b, noise_seeds)
        return cube

    def crossed_table(self, sizes: Sequence[int], *, n_data: int = 6, n_init: int = 6,
                      n_noise: int = 4, first_seed: int = 0) -> pd.DataFrame:
        """Crossed predictions at several sizes as the long table ``scalelaw variance`` reads.

        Returns
        -------
        pandas.DataFrame
            ``n_features, data_seed, init_seed, noise_seed, example, prediction,
            target``; the same seeds at every size.
        """
        sizes = [self._check_size(p) for p in sizes]
        cubes = np.stack([self.crossed_predictions(p, n_data=n_data, n_init=n_init,
                                                   n_noise=n_noise, first_seed=first_seed)
                          for p in sizes])
        seeds = [range(first_seed, first_seed + k) for k in (n_data, n_init, n_noise)]
        idx = pd.MultiIndex.from_product([sizes, *seeds, range(len(self.target))],
                                         names=["n_features", "data_seed", "init_seed",
                                                "noise_seed", "example"])
        table = idx.to_frame(index=False)
        table["prediction"] = cubes.reshape(-1)
        table["target"] = np.tile(self.target, cubes.size // len(self.target))
        return table

    def limits(self, n_features: int) -> RidgeVarianceLimits:
        """:func:`ridge_variance_limits` at this size (``pi = p/d``, ``delta = d/n``)."""
        p = self._check_size(n_features)
        return ridge_variance_limits(p / self.dim, self.dim / self.n_train, self.ridge_for(p),
                                     signal=self.signal, noise=self.noise)
