"""Parameter draws from a fit's Wald distribution: Gaussian or Student t."""

from __future__ import annotations

import numpy as np

from scalelaw._validation import RandomStateLike, check_random_state
from scalelaw.exceptions import DataValidationError

__all__ = ["wald_draws"]


def wald_draws(
    estimate: np.ndarray,
    cov: np.ndarray,
    n_draws: int,
    random_state: RandomStateLike = None,
    *,
    vary: np.ndarray | None = None,
    dof: float | None = None,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    what: str = "the fit",
    missing: str = "raise",
) -> np.ndarray:
    """Draw parameter vectors around an estimate from its covariance.

    Parameters that do not vary (``vary`` False: fixed by their bounds, or
    held at a bound where the covariance is not defined) stay at their
    estimate. The varying parameters are drawn from ``N(estimate, cov)``, or
    from the multivariate Student t with ``dof`` degrees of freedom when the
    covariance carries a residual scale estimated from ``dof`` residual
    degrees of freedom (each draw's Gaussian deviation divided by
    ``sqrt(chi2_dof / dof)``), which is the small-sample predictive
    distribution of the estimate. Draws are clipped to ``[lower, upper]``.

    A varying parameter without a finite covariance has no interval, so no
    honest draw exists: that is refused (or every draw is NaN, so that every
    interval computed from them is NaN), never replaced by zero variance.

    Parameters
    ----------
    estimate : ndarray of shape (p,)
        The estimate.
    cov : ndarray of shape (p, p)
        Its covariance (NaN rows and columns allowed for parameters that do
        not vary).
    n_draws : int
        Number of draws (>= 1).
    random_state : int, numpy.random.Generator or None
        Seed or generator of the draws.
    vary : ndarray of bool, shape (p,), optional
        Which parameters vary (default: all).
    dof : float, optional
        Residual degrees of freedom of the scale: Student-t draws (None:
        Gaussian).
    lower, upper : ndarray of shape (p,), optional
        Bounds the draws are clipped to.
    what : str, default="the fit"
        Named in the error when the covariance is not finite.
    missing : {"raise", "nan"}, default="raise"
        A varying parameter without a finite covariance: raise, or return
        draws that are all NaN.

    Returns
    -------
    numpy.ndarray of shape (n_draws, p)
        The draws.

    Raises
    ------
    DataValidationError
        A varying parameter's covariance is not finite, or ``dof`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[0.04, 0.0], [0.0, np.nan]])
    >>> d = wald_draws(np.array([1.0, 2.0]), cov, 20000, 0, vary=np.array([True, False]))
    >>> round(float(d[:, 0].std()), 2), float(d[:, 1].std())
    (0.2, 0.0)
    """
    theta = np.asarray(estimate, dtype=np.float64).ravel()
    cov = np.asarray(cov, dtype=np.float64)
    p = theta.size
    if not (isinstance(n_draws, int | np.integer) and n_draws >= 1):
        raise DataValidationError(f"The 'n_draws' parameter must be an int >= 1. Got "
                                  f"{n_draws!r} instead.", column="n_draws")
    if cov.shape != (p, p):
        raise DataValidationError(f"The covariance of {what} has shape {cov.shape}; "
                                  f"({p}, {p}) was expected.", column="cov")
    mask = np.ones(p, dtype=bool) if vary is None else np.asarray(vary, dtype=bool).ravel()
    sub = cov[np.ix_(mask, mask)]
    if missing not in ("raise", "nan"):
        raise DataValidationError(f"The 'missing' parameter must be 'raise' or 'nan'. Got "
                                  f"{missing!r} instead.", column="missing")
    if not np.all(np.isfinite(sub)) and missing == "nan":
        return np.full((n_draws, p), np.nan)
    name = f"{what[:1].upper()}{what[1:]}"
    if not np.all(np.isfinite(sub)):
        bad = sorted({int(i) for i in np.flatnonzero(mask)[np.flatnonzero(
            ~np.isfinite(sub).all(axis=1))]})
        raise DataValidationError(
            f"{name} has no interval: the covariance of its parameter(s) at position(s) "
            f"{bad} is not finite (no residual degrees of freedom, or a singular "
            "information matrix), so its uncertainty cannot be drawn.",
            column="cov",
        )
    if dof is not None and not (np.isfinite(dof) and dof >= 1):
        raise DataValidationError(f"{name} has {dof!r} residual degrees of freedom; "
                                  "Student-t draws need at least 1.", column="dof")
    rng = check_random_state(random_state)
    sub = 0.5 * (sub + sub.T)
    vals, vecs = np.linalg.eigh(sub) if sub.size else (np.zeros(0), np.zeros((0, 0)))
    root = vecs * np.sqrt(np.maximum(vals, 0.0))
    dev = rng.standard_normal((n_draws, int(mask.sum()))) @ root.T
    if dof is not None:
        dev = dev / np.sqrt(rng.chisquare(dof, size=(n_draws, 1)) / dof)
    draws = np.repeat(theta[None, :], n_draws, axis=0)
    draws[:, mask] += dev
    if lower is not None or upper is not None:
        lo = np.full(p, -np.inf) if lower is None else np.asarray(lower, dtype=np.float64)
        hi = np.full(p, np.inf) if upper is None else np.asarray(upper, dtype=np.float64)
        draws = np.clip(draws, lo, hi)
    return draws
