"""Singular learning theory: the local learning coefficient (effective parameters).

* :func:`estimate_llc`: Langevin sampling localised at trained weights,
  ``lambda_hat = n beta (E[L_n(w)] - L_n(w*))`` with ``n beta = n / log n``,
  several chains, the loss trace and diagnostics (:class:`LLCEstimate`).
* :func:`llc_stability`: the estimate over step sizes and ``n beta`` with a
  verdict (:class:`LLCStability`).
* :func:`module_loss`: the batched loss of an ``nn.Module`` on its training set.
* Known answers: :func:`normal_crossing`, :func:`reduced_rank_regression`
  (Aoyagi & Watanabe 2005), :func:`regular_model` (``d / 2``), and
  :func:`tempered_mean_loss`, the exact finite-temperature target of a
  two-parameter normal crossing.

PyTorch is imported only when a function runs (``import scalelaw`` stays light).

Examples
--------
>>> from scalelaw.slt import normal_crossing, estimate_llc
>>> m = normal_crossing([0, 1], n=100_000)
>>> est = estimate_llc(m.loss, m.w_star, m.n, n_steps=600)
>>> bool(abs(est.llc - m.llc) < 0.15)
True
"""

from scalelaw.slt._known import (
    KnownModel,
    normal_crossing,
    normal_crossing_coefficient,
    reduced_rank_regression,
    regular_model,
    rrr_learning_coefficient,
    tempered_mean_loss,
)
from scalelaw.slt._llc import (
    ACCEPT_MIN,
    RHAT_MAX,
    STEP_TOLERANCE,
    LLCEstimate,
    LLCStability,
    default_nbeta,
    estimate_llc,
    llc_stability,
    module_loss,
    split_rhat,
    steps_agree,
)

__all__ = [
    "ACCEPT_MIN",
    "RHAT_MAX",
    "STEP_TOLERANCE",
    "KnownModel",
    "LLCEstimate",
    "LLCStability",
    "default_nbeta",
    "estimate_llc",
    "llc_stability",
    "module_loss",
    "normal_crossing",
    "normal_crossing_coefficient",
    "reduced_rank_regression",
    "regular_model",
    "rrr_learning_coefficient",
    "split_rhat",
    "steps_agree",
    "tempered_mean_loss",
]
