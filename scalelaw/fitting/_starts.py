"""Starting points of the multi-start search: the law's defaults, a subset, or the user's."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalelaw._validation import check_int, describe_rows
from scalelaw.exceptions import DataValidationError
from scalelaw.laws import Inputs, ScalingLaw

__all__ = ["starting_points"]


def starting_points(
    law: ScalingLaw,
    inputs: Inputs,
    y: np.ndarray,
    starts: int | np.ndarray | None,
    p0: Mapping[str, float] | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Starting points in the optimiser's coordinates, clipped into the bounds.

    Parameters
    ----------
    law : ScalingLaw
        The law.
    inputs : Inputs
        Input columns of the data.
    y : ndarray
        Targets.
    starts : int, array-like or None
        ``None``: the law's defaults; an int ``k``: the guess and ``k - 1``
        of the defaults (drawn with ``rng``), topped up with jittered copies
        when ``k`` exceeds them; an array ``(k, p)``: these, in natural units.
    p0 : mapping, optional
        One more start (natural units), placed first.
    rng : numpy.random.Generator
        For drawn starts.

    Returns
    -------
    ndarray of shape (k, p)
        The starts.
    """
    lo, hi = law.internal_bounds()
    extra = []
    if p0 is not None:
        given = dict(p0)
        missing = [n for n in law.param_names if n not in given]
        if missing:  # the rest from the law's own first guess
            pos = y[y > 0]
            y_pos = np.where(y > 0, y, pos.min() if pos.size else 1.0)
            with np.errstate(all="ignore"):
                guess = law.to_natural(law.start_points(inputs, y_pos, rng)[0])
            given.update({n: float(v) for n, v in zip(law.param_names, guess, strict=True)
                          if n in missing})
        vec = law._param_vector(given)
        for prm, v in zip(law.params, vec.tolist(), strict=True):
            if not prm.lower <= v <= prm.upper or (prm.log and v <= 0):
                raise DataValidationError(
                    f"Starting value {v!r} of parameter {prm.name!r} lies outside its "
                    f"bounds [{prm.lower!r}, {prm.upper!r}]"
                    + (" (and must be > 0 on the log scale)." if prm.log else "."),
                    column=prm.name,
                )
        extra.append(law.to_internal(vec))
    if starts is None or isinstance(starts, int | np.integer):
        # data-driven guesses take logs of the target: use its positive part
        pos = y[y > 0]
        y_pos = np.where(y > 0, y, pos.min() if pos.size else 1.0)
        with np.errstate(all="ignore"):
            default = law.start_points(inputs, y_pos, rng)
        default = default[np.all(np.isfinite(default), axis=1)]
        if len(default) == 0:
            raise DataValidationError(
                f"Law {law.name!r} could not derive starting points from these data; "
                "give p0= or starts=.",
                column="starts",
            )
        if starts is not None:
            k = check_int(int(starts), "starts", minimum=1)
            if k < len(default):
                pick = rng.choice(np.arange(1, len(default)), size=k - 1, replace=False)
                default = default[np.concatenate([[0], np.sort(pick)])]
            elif k > len(default):
                base = default[rng.integers(0, len(default), size=k - len(default))]
                jitter = rng.normal(0.0, 0.5, size=base.shape)
                default = np.vstack([default, np.clip(base + jitter, lo, hi)])
        points = np.vstack([*extra, default]) if extra else default
    else:
        arr = np.array(starts, dtype=np.float64, ndmin=2)
        if arr.shape[1] != len(law.params):
            raise DataValidationError(
                f"starts must have {len(law.params)} columns "
                f"({', '.join(law.param_names)}); got shape {arr.shape}.",
                column="starts",
            )
        for j, prm in enumerate(law.params):
            bad = (arr[:, j] < prm.lower) | (arr[:, j] > prm.upper) | (
                prm.log & (arr[:, j] <= 0))
            if bad.any():
                rows = describe_rows(list(np.flatnonzero(bad)), list(arr[bad, j]))
                raise DataValidationError(
                    f"starts column {prm.name!r} has {rows} outside the bounds "
                    f"[{prm.lower!r}, {prm.upper!r}].",
                    column=prm.name,
                )
        points = law.to_internal(arr)
        if extra:
            points = np.vstack([*extra, points])
    return np.clip(points, lo, hi)
