"""Variance decomposition from a long table of per-example predictions, per model size."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError
from scalelaw.variance._anova import VarianceComponents, crossed_components, nested_components
from scalelaw.variance._peak import MIN_PEAK_SIZES, VariancePeak, variance_peak

__all__ = ["VarianceResult", "decompose_table"]


@dataclass(frozen=True)
class VarianceResult:
    """One :class:`VarianceComponents` per model size, the settings, and the variance's peak
    across sizes (crossed designs with three or more sizes; :func:`variance_peak`)."""

    sizes: list[float | None]
    results: list[VarianceComponents]
    settings: dict[str, Any]
    peak: VariancePeak | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per size: every component, ``total``, ``bias2``, ``interaction_share``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> idx = pd.MultiIndex.from_product([range(3), range(3), range(4)],
        ...                                  names=["data_seed", "init_seed", "example"])
        >>> df = idx.to_frame(index=False).assign(pred=rng.normal(size=36))
        >>> res = decompose_table(df, "pred", factors=["data_seed", "init_seed"], example="example")
        >>> list(res.to_frame().columns)[:3]
        ['size', 'data_seed', 'init_seed']
        """
        rows = []
        for s, r in zip(self.sizes, self.results, strict=True):
            rows.append({"size": s, **r.components, "total": r.total, "bias2": r.bias2,
                         "interaction_share": r.interaction_share()
                         if r.design == "crossed" else None})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """``{"groups": [{"size", ...components}], "settings": {...}}``, and ``"peak"``
        (:meth:`VariancePeak.to_dict`) when there is one."""
        pairs = zip(self.sizes, self.results, strict=True)
        out = {"groups": [{"size": s} | r.to_dict() for s, r in pairs],
               "settings": self.settings}
        return out | ({"peak": self.peak.to_dict()} if self.peak is not None else {})


def _cube(d: pd.DataFrame, prediction: str, factors: list[str], example: str,
          target: str | None, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    keys = [*factors, example]
    dup = d.duplicated(keys, keep=False)
    if dup.any():
        first = d.index[dup.to_numpy()][0]
        raise DataValidationError(
            f"{where}: rows repeat the same ({', '.join(keys)}); first at row {first}. "
            "One prediction per run and example is expected", rows=list(d.index[dup]))
    codes, uniques = zip(*(pd.factorize(d[k], sort=True) for k in keys), strict=True)
    shape = tuple(len(u) for u in uniques)
    if int(np.prod(shape)) != len(d):
        missing = int(np.prod(shape)) - len(d)
        raise DataValidationError(
            f"{where}: the design is not complete: {missing} of {int(np.prod(shape))} "
            f"({' x '.join(f'{k} {n}' for k, n in zip(keys, shape, strict=True))}) cells "
            "are missing; "
            "a crossed design needs every combination")
    cube = np.full(shape, np.nan)
    cube[codes] = pd.to_numeric(d[prediction]).to_numpy(dtype=float)
    tgt = None
    if target is not None:
        t = d.groupby(example, sort=True)[target].agg(["min", "max"])
        if not np.allclose(t["min"], t["max"]):
            bad = t.index[~np.isclose(t["min"], t["max"])][0]
            raise DataValidationError(f"{target}: example {bad!r} has different targets in "
                                      "different runs; the noiseless target is per example",
                                      column=target)
        tgt = t["min"].to_numpy(dtype=float)
    return cube, tgt


def decompose_table(
    data: pd.DataFrame | str | os.PathLike[str],
    prediction: str,
    *,
    factors: list[str],
    example: str,
    target: str | None = None,
    size: str | None = None,
    design: str = "crossed",
) -> VarianceResult:
    """Variance components (and bias squared) per model size from per-example predictions.

    Parameters
    ----------
    data : pandas.DataFrame or path
        One row per (run, test example): the factor columns (e.g.
        ``data_seed``, ``init_seed``, ``noise_seed``), the example id, the
        prediction, optionally the noiseless target and a size column.
    prediction : str
        Prediction column.
    factors : list of str
        Two or three seed columns, crossed (every combination present), or for
        ``design="nested"`` the outer then the inner one.
    example : str
        Test-example id column.
    target : str, optional
        Noiseless target column (constant per example) for the bias.
    size : str, optional
        Model-size column (e.g. width); one decomposition per size.
    design : {"crossed", "nested"}, default="crossed"
        How the seeds were combined.

    Returns
    -------
    VarianceResult
        Per size, the components averaged over examples.

    Raises
    ------
    DataValidationError
        A missing column, an incomplete or duplicated design cell, or a target
        that varies within an example.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> idx = pd.MultiIndex.from_product([range(4), range(4), range(20)],
    ...                                  names=["d", "s", "x"])
    >>> df = idx.to_frame(index=False).assign(p=rng.normal(size=320))
    >>> res = decompose_table(df, "p", factors=["d", "s"], example="x")
    >>> sorted(res.results[0].components)
    ['d', 'd:s', 's']
    """
    from scalelaw.io import read_table

    df = read_table(data) if isinstance(data, (str, os.PathLike)) else data
    df = df.reset_index(drop=True)
    cols = {"prediction": prediction, "example": example, "target": target, "size": size}
    cols |= {f"factor {i + 1}": f for i, f in enumerate(factors)}
    for role, col in cols.items():
        if col is not None and col not in df.columns:
            raise DataValidationError(f"{role} column {col!r} is not in the table (columns: "
                                      f"{', '.join(map(str, df.columns))})", column=col)
    if design not in ("crossed", "nested"):
        raise ValueError(f"design must be 'crossed' or 'nested', got {design!r}")
    if design == "crossed" and len(factors) not in (2, 3):
        raise DataValidationError(f"a crossed design needs 2 or 3 factors, got {factors}",
                                  column="factors")
    if design == "nested" and len(factors) != 2:
        raise DataValidationError(f"a nested design needs 2 factors (outer, inner), got "
                                  f"{factors}", column="factors")
    pred = pd.to_numeric(df[prediction], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(pred.to_numpy(dtype=float)))
    if bad.size:
        raise DataValidationError(f"{prediction}: row {bad[0]} is {df[prediction].iloc[bad[0]]!r}"
                                  f", expected a finite number ({bad.size} such rows)",
                                  column=prediction, rows=bad.tolist())
    sizes = sorted(df[size].unique()) if size is not None else [None]
    out, cubes = [], []
    for s in sizes:
        d = df if s is None else df[df[size] == s]
        where = "the table" if s is None else f"{size} = {s}"
        if design == "nested":
            # inner seeds are relabelled 0..b-1 within each outer draw
            d = d.assign(**{factors[1]: d.groupby(factors[0])[factors[1]].rank(method="dense")})
        cube, tgt = _cube(d, prediction, list(factors), example, target, where)
        if design == "crossed":
            cubes.append(cube)
            out.append(crossed_components(cube, factors=tuple(factors), target=tgt))
        else:
            out.append(nested_components(cube, factors=(factors[0], factors[1]), target=tgt))
    from scalelaw import __version__

    settings = {"prediction": prediction, "factors": list(factors), "example": example,
                "target": target, "size": size, "design": design, "n_rows": len(df),
                "scalelaw": __version__}
    peak = None
    if design == "crossed" and size is not None and len(sizes) >= MIN_PEAK_SIZES:
        peak = variance_peak(cubes, [float(s) for s in sizes], factors=tuple(factors))
    return VarianceResult([None if s is None else float(s) for s in sizes], out, settings,
                          peak)
