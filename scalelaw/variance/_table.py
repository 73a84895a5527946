"""Variance decomposition from a long table of per-example predictions, per model size.

Runs are the combinations of the factor columns (within a size). A run with
a non-finite prediction (a diverged run) is excluded, with a warning and a
count in the result; its hole in a crossed design is closed by dropping the
fewest factor levels that leave a complete design (each dropped level and
the finished runs it takes with it are reported). Classifier outputs
(``softmax=True``): one row per run, example and class (``output``); the
logits of each run and example become probabilities before the
decomposition (a softmax ignores a common shift of the logits, which a
decomposition of raw logits would count as variance), and the components
are summed over classes (the squared Euclidean norm of the probability
vector's deviations).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError, ExcludedRowsWarning
from scalelaw.variance._anova import VarianceComponents, crossed_components, nested_components
from scalelaw.variance._peak import MIN_PEAK_SIZES, VariancePeak, variance_peak

__all__ = ["VarianceResult", "decompose_table"]

#: Predictions of larger magnitude are refused: their squares overflow the variance.
MAX_ABS_PREDICTION = 1e150


@dataclass(frozen=True)
class VarianceResult:
    """One :class:`VarianceComponents` per model size, the runs excluded, the settings, and
    the variance's peak across sizes (crossed designs with three or more sizes;
    :func:`variance_peak`).

    ``exclusions`` has one entry per size: ``diverged_runs`` (the factor
    levels of runs with a non-finite prediction), ``dropped_levels`` (levels
    removed to keep the design complete) and ``n_runs_dropped`` (finished runs
    removed with them).
    """

    sizes: list[float | None]
    results: list[VarianceComponents]
    settings: dict[str, Any]
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    peak: VariancePeak | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per size: every component, ``total``, ``bias2``, ``interaction_share``
        (from the clipped components, in [0, 1]; NaN when there is no variance) and the
        number of diverged runs excluded.

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
        excl = self.exclusions or [{}] * len(self.sizes)
        for s, r, e in zip(self.sizes, self.results, excl, strict=True):
            rows.append({"size": s, **r.components, "total": r.total, "bias2": r.bias2,
                         "interaction_share": r.interaction_share()
                         if r.design == "crossed" else None,
                         "diverged_runs": len(e.get("diverged_runs", []))})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """``{"groups": [{"size", ...components, "exclusions"}], "settings": {...}}``, and
        ``"peak"`` (:meth:`VariancePeak.to_dict`) when there is one."""
        excl = self.exclusions or [{}] * len(self.sizes)
        pairs = zip(self.sizes, self.results, excl, strict=True)
        out = {"groups": [{"size": s} | r.to_dict() | {"exclusions": e} for s, r, e in pairs],
               "settings": self.settings}
        return out | ({"peak": self.peak.to_dict()} if self.peak is not None else {})


def _check_columns(df: pd.DataFrame, prediction: str, factors: list[str], example: str,
                   target: str | None, size: str | None, output: str | None) -> None:
    cols = {"prediction": prediction, "example": example, "target": target, "size": size,
            "output": output}
    cols |= {f"factor {i + 1}": f for i, f in enumerate(factors)}
    for role, col in cols.items():
        if col is not None and col not in df.columns:
            raise DataValidationError(f"{role} column {col!r} is not in the table (columns: "
                                      f"{', '.join(map(str, df.columns))})", column=col)
    seen: dict[str, str] = {}
    for role, col in cols.items():
        if col is None:
            continue
        if col in seen:
            what = (f"factor {col!r} is given twice" if role.startswith("factor")
                    and seen[col].startswith("factor") else
                    f"column {col!r} is given as both the {seen[col]} and the {role}")
            raise DataValidationError(f"{what}; each role needs its own column", column=col)
        seen[col] = role


def _levels_check(df: pd.DataFrame, factors: list[str], size: str | None,
                  design: str) -> None:
    groups = [(None, df)] if size is None else list(df.groupby(size, sort=True))
    for s, d in groups:
        for f in factors:
            n = d[f].nunique(dropna=False)
            if n < 2:
                where = "" if s is None else f" at {size} = {_plain(s)}"
                only = f" ({_plain(d[f].iloc[0])!r})" if n == 1 else ""
                raise DataValidationError(
                    f"factor {f!r} has {n} level{'' if n == 1 else 's'}{only}{where}; a "
                    f"{design} design needs at least 2 levels of every factor", column=f)


def _softmax_rows(d: pd.DataFrame, prediction: str, keys: list[str], output: str
                  ) -> pd.Series:
    """Softmax of the logits over ``output`` within each (run, example)."""
    from scipy.special import logsumexp

    logits = d[prediction].to_numpy(dtype=float)
    group = d.groupby(keys, sort=False).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    lse = np.empty(starts.size)
    for i, (a, b) in enumerate(zip(starts, np.r_[starts[1:], order.size], strict=True)):
        lse[i] = logsumexp(logits[order[a:b]])
    norm = np.empty(group.max() + 1 if group.size else 0)
    norm[group[order[starts]]] = lse
    return pd.Series(np.exp(logits - norm[group]), index=d.index)


def _complete_design(present: np.ndarray, names: list[str], uniques: list[Any]
                     ) -> tuple[list[np.ndarray], dict[str, list[Any]], int]:
    """Drop the fewest factor levels that leave a complete crossed design.

    ``present``: run-level mask over the factor levels. Greedy: repeatedly drop
    the level holding most missing runs (ties: fewest finished runs lost).
    Returns the kept level indices per factor, the dropped levels and the
    number of finished runs dropped with them.
    """
    keep = [np.arange(n) for n in present.shape]
    dropped: dict[str, list[Any]] = {}
    lost = 0
    sub = present
    while not sub.all():
        best = None
        for ax in range(sub.ndim):
            if sub.shape[ax] <= 2:
                continue
            other = tuple(i for i in range(sub.ndim) if i != ax)
            missing = (~sub).sum(axis=other)
            finished = sub.sum(axis=other)
            for j in range(sub.shape[ax]):
                cand = (-int(missing[j]), int(finished[j]))
                if missing[j] and (best is None or cand < best[0]):
                    best = (cand, ax, j)
        if best is None:
            raise DataValidationError(
                "the runs left after excluding diverged ones do not make a complete design "
                "with at least 2 levels of every factor", column=names[0])
        _, ax, j = best
        dropped.setdefault(names[ax], []).append(uniques[ax][keep[ax][j]])
        lost += best[0][1]
        keep[ax] = np.delete(keep[ax], j)
        sub = np.delete(sub, j, axis=ax)
    return keep, dropped, lost


def _cube(d: pd.DataFrame, prediction: str, factors: list[str], example: str,
          target: str | None, output: str | None, where: str
          ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    keys = [*factors, example] + ([output] if output else [])
    dup = d.duplicated(keys, keep=False)
    if dup.any():
        first = d.index[dup.to_numpy()][0]
        raise DataValidationError(
            f"{where}: rows repeat the same ({', '.join(keys)}); first at row {first}. "
            "One prediction per run and example is expected", rows=list(d.index[dup]))
    codes, uniques = zip(*(pd.factorize(d[k], sort=True) for k in keys), strict=True)
    shape = tuple(len(u) for u in uniques)
    n_f = len(factors)
    values = d["_value"].to_numpy(dtype=float)
    # runs with any non-finite prediction diverged
    run_code = np.ravel_multi_index(codes[:n_f], shape[:n_f])
    bad_runs = np.unique(run_code[~np.isfinite(values)])
    present = np.zeros(shape[:n_f], bool)
    present.flat[np.unique(run_code)] = True
    cells = np.zeros(shape, bool)
    cells[codes] = True
    # a run present in the table must hold every example (and output)
    partial = present & ~cells.reshape(*shape[:n_f], -1).all(axis=-1)
    if partial.any() or not present.all():
        missing = int(np.prod(shape)) - len(d)
        raise DataValidationError(
            f"{where}: the design is not complete: {missing} of {int(np.prod(shape))} "
            f"({' x '.join(f'{k} {n}' for k, n in zip(keys, shape, strict=True))}) cells "
            "are missing; a crossed design needs every combination")
    info: dict[str, Any] = {"diverged_runs": [], "dropped_levels": {}, "n_runs_dropped": 0}
    cube = np.full(shape, np.nan)
    cube[codes] = values
    if bad_runs.size:
        idx = np.unravel_index(bad_runs, shape[:n_f])
        info["diverged_runs"] = [
            {f: _plain(uniques[i][idx[i][r]]) for i, f in enumerate(factors)}
            for r in range(bad_runs.size)]
        present.flat[bad_runs] = False
        keep, dropped, lost = _complete_design(present, factors, list(uniques[:n_f]))
        info["dropped_levels"] = {k: [_plain(v) for v in vs] for k, vs in dropped.items()}
        info["n_runs_dropped"] = lost
        cube = cube[np.ix_(*keep, *[np.arange(n) for n in shape[n_f:]])]
    tgt = None
    if target is not None:
        tkeys = [example] + ([output] if output else [])
        t = d.groupby(tkeys, sort=True)[target].agg(["min", "max"])
        if not np.allclose(t["min"], t["max"]):
            bad = t.index[~np.isclose(t["min"], t["max"])][0]
            raise DataValidationError(f"{target}: example {bad!r} has different targets in "
                                      "different runs; the noiseless target is per example",
                                      column=target)
        tgt = t["min"].to_numpy(dtype=float).reshape(shape[n_f:])
    return cube, tgt, info


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _decompose(cube: np.ndarray, tgt: np.ndarray | None, factors: list[str], design: str,
               has_output: bool) -> VarianceComponents:
    if has_output:  # sum over outputs: fold them into the points, then scale back up
        n_out = cube.shape[-1]
        cube = cube.reshape(*cube.shape[:-2], -1)
        tgt = None if tgt is None else tgt.reshape(-1)
    if design == "crossed":
        vc = crossed_components(cube, factors=tuple(factors), target=tgt)
    else:
        vc = nested_components(cube, factors=(factors[0], factors[1]), target=tgt)
    if not has_output:
        return vc
    comps = {k: v * n_out for k, v in vc.components.items()}
    return VarianceComponents(vc.factors, vc.levels, comps,
                              {k: max(v, 0.0) for k, v in comps.items()}, vc.total * n_out,
                              None if vc.bias2 is None else vc.bias2 * n_out, vc.design)


def decompose_table(
    data: pd.DataFrame | str | os.PathLike[str],
    prediction: str,
    *,
    factors: list[str],
    example: str,
    target: str | None = None,
    size: str | None = None,
    design: str = "crossed",
    output: str | None = None,
    softmax: bool = False,
) -> VarianceResult:
    """Variance components (and bias squared) per model size from per-example predictions.

    Parameters
    ----------
    data : pandas.DataFrame or path
        One row per (run, test example[, output]): the factor columns (e.g.
        ``data_seed``, ``init_seed``, ``noise_seed``), the example id, the
        prediction, optionally the noiseless target and a size column.
    prediction : str
        Prediction column (logits with ``softmax=True``).
    factors : list of str
        Two or three seed columns, crossed (every combination present), or for
        ``design="nested"`` the outer then the inner one; each with at least 2
        levels.
    example : str
        Test-example id column.
    target : str, optional
        Noiseless target column (constant per example and output; a
        probability with ``softmax=True``) for the bias.
    size : str, optional
        Model-size column (e.g. width); one decomposition per size.
    design : {"crossed", "nested"}, default="crossed"
        How the seeds were combined.
    output : str, optional
        Output (class) column for multi-output predictions: components are
        summed over outputs (squared Euclidean norm).
    softmax : bool, default=False
        The predictions are a classifier's logits: decompose the softmax
        probabilities over ``output`` instead (required for cross-entropy
        runs, whose logits are defined only up to a common shift).

    Returns
    -------
    VarianceResult
        Per size, the components averaged over examples, and the runs
        excluded. Runs with a non-finite prediction (diverged) are excluded
        with an :class:`~scalelaw.exceptions.ExcludedRowsWarning` that counts
        them.

    Raises
    ------
    DataValidationError
        A missing or repeated column, a factor with one level, an incomplete
        or duplicated design cell, a non-numeric prediction, a target that
        varies within an example, or components beyond the floating-point
        range, before any work where possible.

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
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError("data must be a DataFrame or a path to a table",
                                  column="data")
    df = df.reset_index(drop=True)
    factors = list(factors)
    if design not in ("crossed", "nested"):
        raise DataValidationError(f"design must be 'crossed' or 'nested', got {design!r}",
                                  column="design")
    if design == "crossed" and len(factors) not in (2, 3):
        raise DataValidationError(f"a crossed design needs 2 or 3 factors, got {factors}",
                                  column="factors")
    if design == "nested" and len(factors) != 2:
        raise DataValidationError(f"a nested design needs 2 factors (outer, inner), got "
                                  f"{factors}", column="factors")
    if softmax and output is None:
        raise DataValidationError("softmax needs the output (class) column: one row per run, "
                                  "example and class", column="output")
    _check_columns(df, prediction, factors, example, target, size, output)
    if len(df) == 0:
        raise DataValidationError("the table has no rows", column=prediction)
    pred = pd.to_numeric(df[prediction], errors="coerce")
    bad = np.flatnonzero(pred.isna().to_numpy() & df[prediction].notna().to_numpy())
    if bad.size:
        raise DataValidationError(f"{prediction}: row {bad[0]} is {df[prediction].iloc[bad[0]]!r}"
                                  f", expected a number ({bad.size} such rows)",
                                  column=prediction, rows=bad.tolist())
    if size is not None:
        s_num = pd.to_numeric(df[size], errors="coerce")
        bad = np.flatnonzero(s_num.isna().to_numpy())
        if bad.size:
            raise DataValidationError(f"{size}: row {bad[0]} is {df[size].iloc[bad[0]]!r}, "
                                      "expected a model size (a number)", column=size,
                                      rows=bad.tolist())
    vals = pred.to_numpy(dtype=float)
    huge = np.flatnonzero(np.isfinite(vals) & (np.abs(vals) > MAX_ABS_PREDICTION))
    if huge.size:
        raise DataValidationError(
            f"{prediction}: row {huge[0]} is {vals[huge[0]]:.3g} ({huge.size} such rows); "
            f"magnitudes above {MAX_ABS_PREDICTION:.0e} overflow the variance: rescale the "
            "column (a unit change)", column=prediction, rows=huge.tolist())
    _levels_check(df, factors, size, design)
    df = df.assign(_value=pred.to_numpy(dtype=float))
    sizes = sorted(df[size].unique()) if size is not None else [None]
    out, exclusions, cubes = [], [], []
    for s in sizes:
        d = df if s is None else df[df[size] == s]
        where = "the table" if s is None else f"{size} = {s}"
        if design == "nested":
            # inner seeds are relabelled 0..b-1 within each outer draw
            d = d.assign(**{factors[1]: d.groupby(factors[0])[factors[1]].rank(method="dense")})
        if softmax:  # a non-finite logit makes its run's probabilities NaN: diverged
            with np.errstate(invalid="ignore"):
                d = d.assign(_value=_softmax_rows(d, "_value", [*factors, example], output))
        cube, tgt, info = _cube(d, "_value", factors, example, target, output, where)
        if info["diverged_runs"]:
            n_div = len(info["diverged_runs"])
            warnings.warn(
                f"{where}: {n_div} diverged run{'s' if n_div > 1 else ''} (a non-finite "
                f"{prediction}) excluded: {info['diverged_runs'][:3]}"
                f"{' ...' if n_div > 3 else ''}; to keep the design complete, levels "
                f"{info['dropped_levels']} were dropped with {info['n_runs_dropped']} "
                "finished runs", ExcludedRowsWarning, stacklevel=2)
        exclusions.append(info)
        cubes.append(cube)
        out.append(_decompose(cube, tgt, factors, design, output is not None))
    from scalelaw import __version__

    settings = {"prediction": prediction, "factors": factors, "example": example,
                "target": target, "size": size, "design": design, "output": output,
                "softmax": softmax, "n_rows": len(df),
                "n_diverged_runs": sum(len(e["diverged_runs"]) for e in exclusions),
                "n_runs_dropped": sum(e["n_runs_dropped"] for e in exclusions),
                "scalelaw": __version__}
    peak = None
    # the peak's bootstrap pairs the same seeds at every size: one output and the same
    # levels at every size (no level dropped for a diverged run at one size only)
    same_levels = len({c.shape for c in cubes}) == 1
    if (design == "crossed" and size is not None and len(sizes) >= MIN_PEAK_SIZES
            and output is None and same_levels):
        peak = variance_peak(cubes, [float(s) for s in sizes], factors=tuple(factors))
    settings["peak_status"] = ("computed" if peak is not None else
                        "not computed: " + ("needs a crossed design with "
                                            f"{MIN_PEAK_SIZES} or more sizes"
                                            if design != "crossed" or size is None
                                            or len(sizes) < MIN_PEAK_SIZES else
                                            "one output at a time" if output is not None else
                                            "the same factor levels at every size"))
    return VarianceResult([None if s is None else float(s) for s in sizes], out, settings,
                          exclusions, peak)
