"""Synthetic training-run tables with known truth, for simulation studies.

The published Chinchilla reference used throughout scalelaw's checks:
Besiroglu et al. (2024, arXiv:2404.10102) refit Hoffmann et al.'s Approach 3
and report ``E = 1.8172, A = 482.01, B = 2085.43, alpha = 0.3478,
beta = 0.3658`` (:data:`EPOCH_CHINCHILLA`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from scalelaw._validation import RandomStateLike, check_int, check_random_state
from scalelaw.laws import ChinchillaLaw, ScalingLaw

__all__ = ["EPOCH_CHINCHILLA", "chinchilla_design", "simulate_runs"]

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
