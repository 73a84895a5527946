"""Per-example bias-variance decompositions over N independently trained models.

MSE (Yang et al. 2020, with the N/(N-1) variance correction) and cross-
entropy (the Bregman/KL decomposition of Pfau 2013, with the same N/(N-1)
correction that Yang et al.'s code lacks); shared science notes, Part II
section 3.2 (d), (e).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import logsumexp

from scalelaw.exceptions import DataValidationError

__all__ = ["PredictionDecomposition", "ce_decomposition", "mse_decomposition"]


@dataclass(frozen=True)
class PredictionDecomposition:
    """Risk = bias squared + variance, averaged over test points, for ``n_models`` models.

    ``variance_uncorrected`` is the plug-in value (biased low by ``(N-1)/N``) and
    ``bias2_uncorrected`` the loss of the central model (mean prediction, or
    normalised geometric mean): ``risk = bias2_uncorrected + variance_uncorrected``
    exactly.
    """

    loss: str
    n_models: int
    risk: float
    bias2: float
    variance: float
    variance_uncorrected: float
    bias2_uncorrected: float

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def mse_decomposition(predictions: np.ndarray, targets: np.ndarray) -> PredictionDecomposition:
    """Squared-error decomposition: ``V = 1/(N-1) sum_j ||f_j - f_bar||^2``, ``B^2 = R - V``.

    Parameters
    ----------
    predictions : ndarray, shape (n_models, n_points) or (n_models, n_points, n_outputs)
        Independent models' test predictions (``N >= 2``).
    targets : ndarray, shape (n_points,) or (n_points, n_outputs)
        Observed targets (bias squared then includes their noise).

    Returns
    -------
    PredictionDecomposition
        Unbiased variance and bias squared.

    Examples
    --------
    >>> f = np.array([[1.0, 2.0], [3.0, 2.0]])
    >>> d = mse_decomposition(f, np.array([2.0, 2.0]))
    >>> d.risk, d.variance, d.bias2
    (0.5, 1.0, -0.5)
    """
    f = np.asarray(predictions, dtype=float)
    y = np.asarray(targets, dtype=float)
    if f.ndim == 2:
        f = f[..., None]
    if y.ndim == 1:
        y = y[:, None]
    if f.shape[0] < 2 or f.shape[1:] != y.shape:
        raise DataValidationError(
            f"predictions must be (n_models >= 2, *targets.shape); got "
            f"{np.asarray(predictions).shape} for targets {np.asarray(targets).shape}",
            column="predictions")
    n = f.shape[0]
    risk = float(((f - y) ** 2).sum(-1).mean())
    plug = float(((f - f.mean(0)) ** 2).sum(-1).mean())
    var = plug * n / (n - 1)
    central = float(((f.mean(0) - y) ** 2).sum(-1).mean())
    return PredictionDecomposition("mse", n, risk, risk - var, var, plug, central)


def ce_decomposition(log_probs: np.ndarray, labels: np.ndarray) -> PredictionDecomposition:
    """Cross-entropy decomposition around the normalised geometric mean of the models.

    ``mean_j CE(pi_j, y) = -log pibar_y + (-log Z)`` exactly, where ``pibar`` is
    the normalised geometric mean and ``-log Z = mean_j KL(pibar || pi_j)``;
    the variance is corrected to ``N/(N-1) (-log Z)`` and bias squared is the
    mean cross-entropy minus it.

    Parameters
    ----------
    log_probs : ndarray, shape (n_models, n_points, n_classes)
        Log-probabilities (log-softmax outputs) of each model (``N >= 2``).
    labels : ndarray of int, shape (n_points,)
        Observed classes.

    Returns
    -------
    PredictionDecomposition
        ``risk`` = mean cross-entropy.

    Examples
    --------
    >>> lp = np.log(np.array([[[0.9, 0.1]], [[0.6, 0.4]]]))
    >>> d = ce_decomposition(lp, np.array([0]))
    >>> round(d.risk - d.bias2_uncorrected - d.variance_uncorrected, 12)
    0.0
    """
    lp = np.asarray(log_probs, dtype=float)
    lab = np.asarray(labels, dtype=int)
    if lp.ndim != 3 or lp.shape[0] < 2 or lab.shape != (lp.shape[1],):
        raise DataValidationError(
            f"log_probs must be (n_models >= 2, n_points, n_classes) and labels (n_points,); "
            f"got {lp.shape} and {lab.shape}", column="log_probs")
    if lab.min() < 0 or lab.max() >= lp.shape[2]:
        raise DataValidationError(f"labels must lie in [0, {lp.shape[2] - 1}]",
                                  column="labels")
    n = lp.shape[0]
    lp = lp - logsumexp(lp, axis=2, keepdims=True)  # normalise, whatever was passed
    pts = np.arange(lp.shape[1])
    risk = float(-lp[:, pts, lab].mean())
    mean_log = lp.mean(axis=0)
    log_z = logsumexp(mean_log, axis=1)  # <= 0
    plug = float(-log_z.mean())
    var = plug * n / (n - 1)
    central = float(-(mean_log[pts, lab] - log_z).mean())  # -log pibar_y
    return PredictionDecomposition("cross_entropy", n, risk, risk - var, var, plug, central)
