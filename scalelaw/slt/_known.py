"""Models whose learning coefficient is known: checks for any LLC estimator.

* Normal crossing ``K(w) = prod_i w_i^(2 k_i)`` at ``w = 0``:
  ``lambda = 1 / (2 max_i k_i)``, with multiplicity ``m`` the number of
  ``k_i`` equal to the maximum (Watanabe 2009, "Algebraic Geometry and
  Statistical Learning Theory", ch. 2).
* Reduced-rank regression ``y = B A x + noise`` (``A``: h x m, ``B``: n x h)
  at a true map of rank 0: Aoyagi & Watanabe (2005, "Stochastic complexities
  of reduced rank regression in Bayesian estimation", Neural Networks 18).
* A regular model with ``d`` parameters: ``lambda = d / 2``.

At a finite inverse temperature ``t = n beta`` the estimator's target,
``t E[K]`` under ``exp(-t K - gamma |w|^2 / 2)``, differs from ``lambda``;
:func:`tempered_mean_loss` computes it by quadrature for two-parameter normal
crossings, so a sampler can be checked against the exact value of what it
estimates, and the estimand's own distance from ``lambda`` stated apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelaw._validation import check_int, check_positive_float
from scalelaw.exceptions import DataValidationError

__all__ = [
    "KnownModel",
    "normal_crossing",
    "normal_crossing_coefficient",
    "reduced_rank_regression",
    "regular_model",
    "rrr_learning_coefficient",
    "tempered_mean_loss",
]


@dataclass(frozen=True)
class KnownModel:
    """A loss with a known learning coefficient, ready for :func:`estimate_llc`.

    Attributes
    ----------
    loss : callable
        Batched loss ``loss(params) -> Tensor[chains]``.
    w_star : list of torch.Tensor
        Where to localise.
    n : int
        Training-set size (sets ``n beta = n / log n``).
    llc : float
        The true learning coefficient.
    name : str
        A label.
    """

    loss: Any
    w_star: list[Any]
    n: int
    llc: float
    name: str


def normal_crossing_coefficient(powers: Sequence[int]) -> tuple[float, int]:
    """``(lambda, multiplicity)`` of ``K(w) = prod w_i^(2 k_i)``.

    Examples
    --------
    >>> normal_crossing_coefficient([0, 1]), normal_crossing_coefficient([1, 2])
    ((0.5, 1), (0.25, 1))
    """
    ks = [check_int(k, "powers", minimum=0) for k in powers]
    top = max(ks) if ks else 0
    if top < 1:
        raise DataValidationError(f"powers need at least one k_i >= 1; got {list(powers)}.",
                                  column="powers")
    return 1.0 / (2 * top), ks.count(top)


def normal_crossing(powers: Sequence[int], n: int = 10_000, *,
                    dtype: Any = None) -> KnownModel:
    """``K(w) = prod_i w_i^(2 k_i)`` localised at ``w = 0`` (no data: ``L_n = K``).

    Examples
    --------
    >>> m = normal_crossing([1, 1])
    >>> m.llc, m.name
    (0.5, 'normal crossing (1, 1)')
    """
    import torch

    lam, _ = normal_crossing_coefficient(powers)
    dt = dtype or torch.float64
    used = [i for i, k in enumerate(powers) if int(k) > 0]  # w_i^0 = 1: a free direction
    ks = torch.tensor([2 * int(powers[i]) for i in used], dtype=dt)

    def loss(params: list[Any]) -> Any:
        return torch.prod(params[0][:, used] ** ks, dim=1)

    return KnownModel(loss, [torch.zeros(len(powers), dtype=dt)], check_int(n, "n", minimum=2),
                      lam, f"normal crossing ({', '.join(str(int(k)) for k in powers)})")


def tempered_mean_loss(powers: Sequence[int], t: float, gamma: float, *,
                       half_width: float | None = None, points: int = 1201) -> float:
    """``t E[K]`` under ``exp(-t K(w) - gamma |w|^2 / 2)`` for two-parameter normal crossings.

    Computed by quadrature on a grid (``t E[K] -> lambda`` as ``t -> inf``
    with ``gamma`` fixed; ``-(m - 1) / log t`` is its leading correction).

    Examples
    --------
    >>> round(tempered_mean_loss([0, 1], 1e4, 0.0, points=1001), 3)   # Gaussian: 1/2
    0.5
    """
    if len(powers) != 2:
        raise DataValidationError("tempered_mean_loss handles two parameters.",
                                  column="powers")
    t = check_positive_float(t, "t")
    gamma = check_positive_float(gamma, "gamma", allow_zero=True)
    k1, k2 = (2 * int(k) for k in powers)
    # the integrand lives within |w| < a few / sqrt(gamma) and K < a few / t
    h = half_width or (8.0 / math.sqrt(gamma) if gamma > 0 else 4.0)
    # uniform in sinh-space: fine near 0, where the mass concentrates
    u = np.linspace(-np.arcsinh(h / 1e-4), np.arcsinh(h / 1e-4), points)
    w = 1e-4 * np.sinh(u)
    jac = 1e-4 * np.cosh(u)
    w1, w2 = np.meshgrid(w, w, indexing="ij")
    k = w1 ** k1 * w2 ** k2
    dens = np.exp(-t * k - 0.5 * gamma * (w1 ** 2 + w2 ** 2)) * np.outer(jac, jac)
    return float(t * (k * dens).sum() / dens.sum())


def rrr_learning_coefficient(m: int, h: int, n: int) -> float:
    """Aoyagi & Watanabe's (2005) coefficient of reduced-rank regression m -> h -> n, rank 0.

    Examples
    --------
    >>> [rrr_learning_coefficient(*s) for s in [(5, 3, 5), (5, 4, 5), (4, 3, 8)]]
    [6.5, 8.0, 6.0]
    """
    m, h, n = (check_int(v, name, minimum=1) for v, name in ((m, "m"), (h, "h"), (n, "n")))
    if m + h < n:
        return m * h / 2
    if n + h < m:
        return h * n / 2
    if m + n < h:
        return m * n / 2
    lam = (2 * m * n + 2 * h * n + 2 * m * h - m * m - n * n - h * h) / 8
    return lam + (0.125 if (m + h + n) % 2 else 0.0)


def reduced_rank_regression(m: int, h: int, n_out: int, n: int = 10_000, *, seed: int = 0,
                            dtype: Any = None) -> KnownModel:
    """``y = B A x + e`` with ``x ~ N(0, I_m)``, ``e ~ N(0, I_n)`` and a true map of zero.

    The loss is the Gaussian negative log-likelihood ``|y - B A x|^2 / 2``
    averaged over the ``n`` draws (its constant dropped); ``w*`` is the true
    parameter ``A = 0, B = 0``, the most singular point of the set of true
    parameters, where the local coefficient is the global one.

    Examples
    --------
    >>> m = reduced_rank_regression(5, 3, 5, n=100)
    >>> m.llc, [tuple(p.shape) for p in m.w_star]
    (6.5, [(3, 5), (5, 3)])
    """
    import torch

    lam = rrr_learning_coefficient(m, h, n_out)
    n = check_int(n, "n", minimum=2)
    g = torch.Generator().manual_seed(check_int(seed, "seed"))
    dt = dtype or torch.float64
    x = torch.randn(n, m, generator=g, dtype=torch.float64).to(dt)
    y = torch.randn(n, n_out, generator=g, dtype=torch.float64).to(dt)
    # sufficient statistics: the loss needs only x'x/n, x'y/n and y'y/n
    sxx, sxy, syy = x.T @ x / n, x.T @ y / n, float((y * y).sum() / n)

    def loss(params: list[Any]) -> Any:
        a, b = params  # [C, h, m], [C, n_out, h]
        w = b @ a       # [C, n_out, m]
        fit = torch.einsum("coi,ij,coj->c", w, sxx, w)
        cross = torch.einsum("coi,io->c", w, sxy)
        return 0.5 * (syy - 2 * cross + fit)

    w_star = [torch.zeros(h, m, dtype=dt), torch.zeros(n_out, h, dtype=dt)]
    return KnownModel(loss, w_star, n, lam, f"reduced-rank regression {m} -> {h} -> {n_out}")


def regular_model(d_in: int, d_out: int = 1, n: int = 10_000, *, seed: int = 0,
                  dtype: Any = None) -> KnownModel:
    """Linear regression with ``d_in * d_out`` weights, localised at least squares: ``d / 2``.

    Examples
    --------
    >>> regular_model(4, 2, n=100).llc
    4.0
    """
    import torch

    d_in, d_out = check_int(d_in, "d_in", minimum=1), check_int(d_out, "d_out", minimum=1)
    n = check_int(n, "n", minimum=2)
    g = torch.Generator().manual_seed(check_int(seed, "seed"))
    dt = dtype or torch.float64
    x = torch.randn(n, d_in, generator=g, dtype=torch.float64)
    w_true = torch.randn(d_out, d_in, generator=g, dtype=torch.float64)
    y = x @ w_true.T + torch.randn(n, d_out, generator=g, dtype=torch.float64)
    w_hat = torch.linalg.lstsq(x, y).solution.T.contiguous()  # [d_out, d_in]
    sxx, sxy, syy = (x.T @ x / n).to(dt), (x.T @ y / n).to(dt), float((y * y).sum() / n)

    def loss(params: list[Any]) -> Any:
        w = params[0]
        fit = torch.einsum("coi,ij,coj->c", w, sxx, w)
        return 0.5 * (syy - 2 * torch.einsum("coi,io->c", w, sxy) + fit)

    return KnownModel(loss, [w_hat.to(dt)], n, d_in * d_out / 2,
                      f"regular model, d = {d_in * d_out}")
