"""Compute inputs: the token count from training compute, ``D = C / (k N)``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelaw._validation import check_columns, check_positive_float, numeric_column
from scalelaw.exceptions import DataValidationError

__all__ = ["looks_like_compute", "tokens_from_compute"]

#: Column names read as training compute when given as the second input of a
#: two-input law (``--x n_params,flops``): case-insensitive.
_COMPUTE_NAMES = ("flops", "flop", "compute", "c", "train_flops", "training_flops",
                  "training_compute", "compute_flops")


def looks_like_compute(name: str) -> bool:
    """Whether a column name says it holds training compute (FLOP).

    Examples
    --------
    >>> looks_like_compute("Training FLOPs"), looks_like_compute("n_tokens")
    (True, False)
    """
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    return key in _COMPUTE_NAMES or "flop" in key


def tokens_from_compute(
    data: pd.DataFrame,
    *,
    n_params: str,
    flops: str,
    name: str = "n_tokens",
    flops_per_param_token: float = 6.0,
) -> pd.DataFrame:
    """Add the token count derived from training compute, ``D = C / (k N)``.

    Dense transformers spend ``C = 6 N D`` FLOP on ``D`` tokens with ``N``
    parameters (forward and backward passes), so a table of runs that gives
    compute and parameters gives tokens. The rule is recorded in
    ``attrs["derived"]``.

    Parameters
    ----------
    data : pandas.DataFrame
        The runs.
    n_params : str
        Parameter-count column (``N``).
    flops : str
        Training-compute column (``C``, FLOP).
    name : str, default="n_tokens"
        The new column (refused if it exists already).
    flops_per_param_token : float, default=6.0
        ``k`` in ``C = k N D``.

    Returns
    -------
    pandas.DataFrame
        A copy with the new column.

    Raises
    ------
    DataValidationError
        A missing or non-numeric column, non-positive values, an existing
        ``name`` column.

    Examples
    --------
    >>> df = pd.DataFrame({"N": [1e8, 1e9], "C": [1.2e18, 1.2e20]})
    >>> out = tokens_from_compute(df, n_params="N", flops="C")
    >>> out.n_tokens.tolist(), out.attrs["derived"]
    ([2000000000.0, 20000000000.0], 'n_tokens = C / (6 N) (C = 6ND)')
    """
    check_columns(data, [n_params], role="parameters")
    check_columns(data, [flops], role="compute")
    k = check_positive_float(flops_per_param_token, "flops_per_param_token")
    if name in data.columns:
        raise DataValidationError(
            f"Column {name!r} exists already; tokens derived from {flops!r} need a new "
            "name (rename or drop it first).", column=name)
    n = numeric_column(data, n_params)
    c = numeric_column(data, flops)
    for col, v in ((n_params, n), (flops, c)):
        bad = np.flatnonzero(~(v > 0))
        if bad.size:
            rows = data.index[bad][:5].tolist()
            raise DataValidationError(
                f"Column {col!r} must be positive to derive tokens from compute; rows {rows} "
                f"hold {v[bad[:3]].tolist()}.", column=col, rows=rows)
    out = data.copy()
    out[name] = c / (k * n)
    out.attrs["derived"] = f"{name} = {flops} / ({k:g} {n_params}) (C = {k:g}ND)"
    return out
