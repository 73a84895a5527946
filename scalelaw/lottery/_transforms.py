"""Transforms of bounded metrics before tail analysis, and the light-tailed null for accuracy.

Raw accuracy is bounded, which forces a bounded (Weibull) tail whatever the
training does; the shared science notes (Part II, section 1.5) analyse
``logit(accuracy)`` or ``log(error)`` instead. Standard errors carry through
the delta method.
"""

from __future__ import annotations

import numpy as np

from scalelaw.exceptions import DataValidationError

__all__ = ["TRANSFORMS", "binomial_sd", "delta_method_sd", "independent_errors_sd",
           "inverse_transform", "transform_metric"]

#: The transforms, chosen explicitly by the caller and recorded in results.
TRANSFORMS = ("none", "logit", "log")


def _check(kind: str) -> None:
    if kind not in TRANSFORMS:
        raise DataValidationError(f"transform must be one of {TRANSFORMS}, got {kind!r}",
                                  column="transform")


def transform_metric(values: np.ndarray, kind: str = "none", *, name: str = "value"
                     ) -> np.ndarray:
    """Apply ``none``, ``logit`` (``log(a / (1 - a))``, for accuracies in (0, 1))
    or ``log`` (for positive errors or losses).

    Parameters
    ----------
    values : array_like
        The metric, one value per run.
    kind : {"none", "logit", "log"}, default="none"
        The transform.
    name : str, default="value"
        Column name used in error messages.

    Returns
    -------
    ndarray
        The transformed values.

    Raises
    ------
    DataValidationError
        A value outside the transform's domain, naming the first offending row.

    Examples
    --------
    >>> transform_metric([0.5, 0.9], "logit").round(4).tolist()
    [0.0, 2.1972]
    """
    _check(kind)
    x = np.asarray(values, dtype=float)
    if kind == "none":
        return x
    if kind == "logit":
        bad = np.flatnonzero(~((x > 0) & (x < 1)))
        if bad.size:
            raise DataValidationError(
                f"{name}: logit needs values strictly between 0 and 1 (an accuracy as a "
                f"fraction); row {bad[0]} is {float(x[bad[0]])} ({bad.size} such rows)",
                column=name, rows=bad.tolist())
        return np.log(x / (1 - x))
    bad = np.flatnonzero(~(x > 0))
    if bad.size:
        raise DataValidationError(
            f"{name}: log needs positive values (an error rate or a loss); row {bad[0]} is "
            f"{float(x[bad[0]])} ({bad.size} such rows)", column=name, rows=bad.tolist())
    return np.log(x)


def inverse_transform(values: np.ndarray, kind: str = "none") -> np.ndarray:
    """Map values of the analysis scale back to the metric's own scale (``expit`` for
    ``logit``, ``exp`` for ``log``).

    Examples
    --------
    >>> inverse_transform(transform_metric([0.2, 0.9], "logit"), "logit").round(6).tolist()
    [0.2, 0.9]
    """
    from scipy.special import expit

    _check(kind)
    x = np.asarray(values, dtype=float)
    if kind == "logit":
        return expit(x)
    if kind == "log":
        with np.errstate(over="ignore"):
            return np.exp(x)
    return x


def delta_method_sd(mean: float, sd: float, kind: str) -> float:
    """Standard deviation of the transformed metric by the delta method.

    ``logit``: ``sd / (a (1 - a))``; ``log``: ``sd / x``.

    Examples
    --------
    >>> round(delta_method_sd(0.94, 0.0015, "logit"), 4)  # science notes Part II 1.5
    0.0266
    """
    _check(kind)
    if kind == "none":
        return float(sd)
    if kind == "logit":
        return float(sd / (mean * (1 - mean)))
    return float(sd / mean)


def binomial_sd(accuracy: float, n_test: int) -> float:
    """Sd of a test accuracy when every example is an independent coin of the same bias:
    ``sqrt(p (1 - p) / n_test)``.

    Examples
    --------
    >>> round(100 * binomial_sd(0.94, 10_000), 3)  # percentage points
    0.237
    """
    if not n_test > 0:
        raise DataValidationError(f"n_test must be a positive test-set size, got {n_test!r}",
                                  column="n_test")
    return float(np.sqrt(accuracy * (1 - accuracy) / n_test))


def independent_errors_sd(per_example_accuracy: np.ndarray) -> float:
    """Sd of the test accuracy under independent errors: ``sqrt(sum p_i (1 - p_i)) / n``,
    where ``p_i`` is the share of runs that get example ``i`` right. Never above
    :func:`binomial_sd` at the same mean.

    Examples
    --------
    >>> round(independent_errors_sd(np.array([1.0, 1.0, 0.5, 0.5])), 4)
    0.1768
    """
    p = np.asarray(per_example_accuracy, dtype=float)
    return float(np.sqrt(np.sum(p * (1 - p))) / p.size)
