"""Law selection by held-out-scale validation inside the training data (``law="auto"``).

Each candidate is fitted on the smaller runs (rolling-origin cuts) and scored
by how well it predicts the larger ones: in-sample fit rewards flexibility,
extrapolation punishes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalelaw.exceptions import DataValidationError, ScaleLawError
from scalelaw.fitting._data import prepare_data
from scalelaw.fitting._extrapolation import DEFAULT_CUTS, backtest_errors, check_cuts
from scalelaw.fitting._single import fit_table
from scalelaw.forecast import calibration_from_errors, log_residual_sd
from scalelaw.laws import average_names, get_law
from scalelaw.results import CombinedFit, FitResult, combine

__all__ = ["AUTO_CANDIDATES", "AVERAGE_TIES", "CUT_RATIO", "DEFAULT_LAW", "MARGIN_RATIO",
           "MARGIN_Z",
           "NEVER_COMBINED", "SCORE_CUTS", "SOLO_RATIO",
           "LawSelection", "fit_auto", "select_law"]

#: Cuts whose backtests score the candidates (the later ones: their fits see
#: most of the data, like the final fit); the earlier cuts only feed the
#: extrapolation calibration.
SCORE_CUTS = (0.65, 0.8)

#: Candidate laws of ``"auto"`` by number of inputs.
AUTO_CANDIDATES: dict[int, tuple[str, ...]] = {
    1: ("saturating_power", "m3", "m4", "broken_power"),
    2: ("chinchilla", "kaplan"),
}
#: Two inputs: the law ``"auto"`` keeps unless another beats it clearly (Chinchilla).
DEFAULT_LAW: dict[int, str] = {2: "chinchilla"}
#: One input: ``"auto"`` averages (geometric mean, equal weights) the candidates that
#: the best does not beat clearly; a clear winner is chosen alone.
AVERAGE_TIES: dict[int, bool] = {1: True, 2: False}
#: One input: candidates chosen only alone, as a clear winner, and never combined with
#: tied ones. A broken power law's fit to all the rows can place its break at the end
#: of the data, where none of the inner backtest fits put it, and extrapolate wildly:
#: as a member of a tie (no evidence that it is better) it cost 0.13 vs 0.10 mean
#: RMSLE against M4 out of sample (bench/RESULTS.md, bench/auto_one_input_rules.py).
NEVER_COMBINED: dict[int, tuple[str, ...]] = {1: ("broken_power",)}
#: ... and chosen alone only when its inner score is also at most this fraction of the
#: best other candidate's (else the choice is made among the others), as
#: :data:`MARGIN_RATIO` guards the two-input default: chosen alone on smaller inner
#: leads it forecast worse than M4 out of sample (bench/RESULTS.md).
SOLO_RATIO = 0.5
#: "Clearly": a held-out score exceeds the best one's by more than this many
#: standard errors of the paired difference (one-sided 95 %).
MARGIN_Z = 1.645
#: Two inputs: another law replaces the default only when its inner score is also at
#: most this fraction of the default's. Out of sample on public ladders (OLMo,
#: Gadre et al. 2024) a lower inner score did not carry to the larger runs: choosing
#: by the margin alone read 1.74-1.97x the default's error (bench/RESULTS.md).
MARGIN_RATIO = 0.25
#: Two inputs: ... and at every scoring cut on its own at most this fraction of the
#: default's (the score averages the cuts, so one cut where the default's refit
#: extrapolated badly could carry the lead alone). On synthetic ladders where neither
#: law is right (their geometric mean) the one departure from Chinchilla in 440 went
#: beyond 1.1x Chinchilla's held-out error: a lead to 0.21x on the average but 0.57x
#: at the last cut; where Kaplan is right (0.1 % noise) the leads it was chosen on
#: were at most 0.50x at every cut on 173 of 174 ladders. Chosen on those seeds; on
#: 500 fresh ladders it made the same choices as the rule without it (all within
#: 1.1x), so its gain is shown in-sample only (bench/RESULTS.md).
CUT_RATIO = 0.5
#: Paired bootstrap replicas (over held-out points within each cut) for that error.
MARGIN_BOOT = 300
#: A combination's members are calibrated on their own backtest errors ("own") or,
#: as a single chosen law, on those of every candidate ("pooled").
MEMBER_CALIBRATION = "own"


@dataclass(frozen=True)
class LawSelection:
    """Outcome of :func:`select_law`.

    Attributes
    ----------
    chosen : str
        Name of the chosen law (``"average:a+b"`` for the combination of the
        tied candidates, see :class:`~scalelaw.CombinedFit`).
    table : pandas.DataFrame
        One row per candidate: ``law``, ``score`` (held-out RMSLE averaged
        over cuts; lower is better), ``n_params``, ``n_points``, ``n_cuts``,
        ``status`` (skipped or failed cuts) and ``warnings`` (what the
        backtest refits warned about, by kind and count).
    reason : str
        One sentence saying why.
    cuts : tuple of float
        Cut positions on the normalised log scale.
    margin : dict
        The choice's margin. Two inputs: ``default`` (the default law),
        ``best`` (lowest score), ``difference`` (default's score minus
        best's), ``se`` (its paired-bootstrap standard error), ``z``
        (``difference / se``), ``threshold`` (:data:`MARGIN_Z`), ``max_ratio``
        (:data:`MARGIN_RATIO`), ``cut_ratios`` (the best's score over the
        default's at each scoring cut) and ``max_cut_ratio`` (:data:`CUT_RATIO`). One input:
        ``best``, ``tied`` (the candidates not clearly worse than the best),
        ``combined`` (those averaged, or the one chosen: ``tied`` less
        :data:`NEVER_COMBINED`), ``solo`` (where a clear winner of
        :data:`NEVER_COMBINED` was set aside by :data:`SOLO_RATIO`), ``z`` (per other
        candidate, its score's distance above the best in standard errors;
        NaN where the two were scored on different held-out points, as when
        a cut was skipped for one: no evidence, so it counts as tied) and
        ``threshold``. Empty when no rule applies (two inputs, candidates
        without the default).
    """

    chosen: str
    table: pd.DataFrame
    reason: str
    cuts: tuple[float, ...]
    errors: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    margin: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {
            "chosen": self.chosen,
            "reason": self.reason,
            "margin": dict(self.margin),
            "cuts": list(self.cuts),
            "table": self.table.replace({np.nan: None}).to_dict(orient="records"),
        }


def select_law(
    data: pd.DataFrame,
    *,
    x: str | Sequence[str],
    y: str,
    candidates: Sequence[str] | None = None,
    cuts: Sequence[float] = DEFAULT_CUTS,
    score_cuts: Sequence[float] | None = SCORE_CUTS,
    objective: str = "huber_log",
    delta: float = 1e-3,
    weights: str | None = None,
    n_threads: int | None = None,
) -> LawSelection:
    """Choose a law by held-out-scale validation inside the training data.

    Each candidate is fitted on the rows below each cut of the normalised log
    scale (0 = smallest run, 1 = largest, by the product of the inputs) and
    scored by the RMSLE of its forecast of the rows above; the score is the
    mean over ``score_cuts``. A candidate that fails at a scoring cut scores
    infinity there. Ties (within 1 % + 1e-4) go to the law with fewer parameters.

    Inner backtests are noisy (a few held-out points per cut), so a lower
    score alone does not decide. A score is "clearly" worse than the best when
    it exceeds it by more than :data:`MARGIN_Z` standard errors of the
    difference (a paired bootstrap over the held-out points of each cut, its
    variance inflated by the lag-1 autocorrelation of the paired errors, since
    forecast errors along a curve are smooth). Two inputs: the default law
    (:data:`DEFAULT_LAW`, Chinchilla) is kept unless the best beats it
    clearly, by more than :data:`MARGIN_Z` standard errors, to at most
    :data:`MARGIN_RATIO` of its score, and to at most :data:`CUT_RATIO` of
    its score at every scoring cut on its own. One input: the candidates not clearly
    worse than the best are combined (:class:`~scalelaw.CombinedFit`, the geometric mean of their
    forecasts, each law fitted alone); a clear winner is chosen alone. A law in
    :data:`NEVER_COMBINED` (the broken power law) is chosen only as a clear
    winner and never combined: tied, it is left out; a clear winner, it is
    chosen only when its score is also at most :data:`SOLO_RATIO` of the best
    other's (else the choice is made among the others).
    ``margin`` records the numbers. With ``candidates`` that do not include
    the default (two inputs), the lowest score wins.
    The backtest errors of all candidates at all cuts are kept (``errors``)
    to calibrate the prediction intervals of the chosen law: pooling them
    keeps the intervals from inheriting the optimism of picking the law with
    the smallest backtest errors, and carries the disagreement between
    plausible laws into the forecast.

    Parameters
    ----------
    data : pandas.DataFrame
        Runs (already cleaned: positive, finite).
    x : str or sequence of str
        Input column(s).
    y : str
        Target column.
    candidates : sequence of str, optional
        Law names (options allowed, e.g. ``"broken_power:n_breaks=2"``);
        default :data:`AUTO_CANDIDATES` for the number of inputs.
    cuts : sequence of float, default=(0.5, 0.65, 0.8)
        Cut positions of the backtests.
    score_cuts : sequence of float or None, default=(0.65, 0.8)
        The cuts that score (a subset of ``cuts``); None = all.
    objective, delta
        Fitting objective, as in :func:`scalelaw.fit`.
    weights : str, optional
        Column of row weights used by every backtest fit.
    n_threads : int, optional
        Optimiser threads.

    Returns
    -------
    LawSelection
        The chosen law, the score table and the reason.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> n = np.logspace(3, 7, 40)
    >>> df = pd.DataFrame({"n": n, "L": 0.5 + 20 * n ** -0.4})
    >>> sel = select_law(df, x="n", y="L", candidates=["power", "saturating_power"])
    >>> sel.chosen
    'saturating_power'
    """
    xs = [x] if isinstance(x, str) else list(x)
    if candidates is None:
        if len(xs) not in AUTO_CANDIDATES:
            raise DataValidationError(
                f"Law 'auto' chooses among laws of 1 or 2 inputs; got x={xs!r}. Name a "
                "law instead.",
                column="law",
            )
        candidates = AUTO_CANDIDATES[len(xs)]
    if not candidates:
        raise DataValidationError("The 'candidates' parameter is empty.", column="candidates")
    cuts = check_cuts(cuts)
    score_cuts = cuts if score_cuts is None else tuple(float(c) for c in score_cuts)
    if not set(score_cuts) <= set(cuts):
        raise DataValidationError(
            f"The 'score_cuts' parameter must be a subset of cuts {list(cuts)}. Got "
            f"{list(score_cuts)!r} instead.",
            column="score_cuts",
        )
    errors, notes = {}, {}
    for name in candidates:
        errors[name], notes[name] = backtest_errors(
            get_law(name, inputs=xs), data, xs, y, cuts,
            {"objective": objective, "delta": delta, "weights": weights,
             "n_threads": n_threads})
    return decide(list(candidates), errors, notes, xs, cuts, score_cuts)


def decide(candidates: list[str], errors: dict[str, pd.DataFrame],
           notes: dict[str, list[str]], xs: list[str], cuts: tuple[float, ...],
           score_cuts: Sequence[float]) -> LawSelection:
    """The choice from each candidate's backtest errors and notes (see :func:`select_law`)."""
    rows, cut_scores = [], {}
    for name in candidates:
        law_obj = get_law(name, inputs=xs)
        err = errors[name]
        cut_scores[name] = {}
        for cut in score_cuts:
            e = err.loc[err["cut"] == cut, "log_error"].to_numpy()
            if e.size:
                cut_scores[name][cut] = (float(np.sqrt(np.mean(e**2))) if np.all(np.isfinite(e))
                                         else np.inf)
        per_cut = list(cut_scores[name].values())
        score = float(np.mean(per_cut)) if per_cut else np.inf
        warned = [n for n in notes[name] if "warned" in n]
        failed = [n for n in notes[name] if "warned" not in n]
        rows.append({"law": name, "score": score, "n_params": len(law_obj.params),
                     "n_points": len(err), "n_cuts": len(per_cut),
                     "status": "; ".join(failed) or "ok",
                     "warnings": "; ".join(warned)})
    table = pd.DataFrame(rows)
    finite = table[np.isfinite(table["score"])]
    if finite.empty:
        raise ScaleLawError(
            "Law 'auto': no candidate could be validated (too few rows below the cuts "
            f"{list(cuts)}?). Details: "
            + " | ".join(f"{r.law}: {r.status}" for r in table.itertuples())
        )
    best = float(finite["score"].min())
    near = finite[finite["score"] <= best * 1.01 + 1e-4]  # 1e-4: far below any noise
    chosen = str(near.sort_values(["n_params", "score"]).iloc[0]["law"])
    if AVERAGE_TIES.get(len(xs)) and len(finite) > 1:
        solo = NEVER_COMBINED.get(len(xs), ())
        sel = _average_ties(chosen, finite, table, errors, cuts, score_cuts, solo)
        return _solo_guard(sel, candidates, errors, notes, xs, score_cuts, solo)
    margin = _margin(chosen, table, errors, score_cuts, xs, cut_scores)
    departs = bool(margin) and chosen != margin["default"]
    small = departs and not margin["best_score"] <= MARGIN_RATIO * margin["default_score"]
    uneven = departs and not all(r <= CUT_RATIO for r in margin["cut_ratios"].values())
    kept = departs and (not margin["z"] >= MARGIN_Z or small or uneven)
    if kept:
        chosen = margin["default"]
    ranked = finite.sort_values("score")
    others = ", ".join(f"{r.law} {r.score:.4g}" for r in ranked.itertuples()
                       if r.law != chosen)
    others = f"; others: {others}" if others else ""
    score_of = float(table.set_index("law").loc[chosen, "score"])
    if kept and not margin["z"] >= MARGIN_Z:
        reason = (f"kept the default {chosen} ({score_of:.4g} held-out RMSLE): "
                  f"{margin['best']} scored lower ({margin['best_score']:.4g}) but by "
                  f"{margin['z']:.2f} standard errors of the difference, below "
                  f"{MARGIN_Z}{others}")
    elif kept and small:
        reason = (f"kept the default {chosen} ({score_of:.4g} held-out RMSLE): "
                  f"{margin['best']} scored lower ({margin['best_score']:.4g}, "
                  f"{margin['z']:.2f} standard errors) but not below {MARGIN_RATIO} x the "
                  "default's score; on public ladders smaller inner-score leads did not "
                  f"carry to larger runs{others}")
    elif kept:
        worst = max(margin["cut_ratios"], key=margin["cut_ratios"].get)
        reason = (f"kept the default {chosen} ({score_of:.4g} held-out RMSLE): "
                  f"{margin['best']} scored lower ({margin['best_score']:.4g}, "
                  f"{margin['z']:.2f} standard errors) but not below {CUT_RATIO} x the "
                  f"default's score at every cut ({margin['cut_ratios'][worst]:.2f} x at "
                  f"cut {worst}); a lead carried by one cut did not carry to larger "
                  f"runs{others}")
    else:
        reason = (
            f"chose {chosen}: lowest held-out RMSLE when fitted below cuts "
            f"{list(score_cuts)} of the log-scale range and asked to predict the larger "
            f"runs ({score_of:.4g}"
            + (f", {margin['z']:.2f} standard errors better than the default "
               f"{margin['default']}" if margin and chosen != margin["default"] else "")
            + others + ")"
        )
    return LawSelection(chosen, table, reason, cuts, errors, margin)


def _average_ties(best: str, finite: pd.DataFrame, table: pd.DataFrame,
                  errors: dict[str, pd.DataFrame], cuts: tuple[float, ...],
                  score_cuts: Sequence[float], solo: Sequence[str] = ()) -> LawSelection:
    """One input: average the candidates the best does not beat clearly.

    Candidates in ``solo`` (:data:`NEVER_COMBINED`) are chosen only as a clear
    winner: tied, they are left out of the combination (when the best is one
    of them, the tied others are combined, or the one left is chosen alone).
    """
    scores = finite.set_index("law")["score"]
    z = {}
    for name in scores.index:
        if name != best:
            se, z[name] = _paired_se(name, best, float(scores[name] - scores[best]), errors,
                                     score_cuts)
            if not np.isfinite(se):  # scored on other points (a cut skipped): no evidence
                z[name] = float("nan")
    # tied: not clearly worse (NaN: no paired comparison, so no evidence either way)
    tied = [n for n in table["law"]
            if n == best or (n in z and not z[n] >= MARGIN_Z)]
    combined = [n for n in tied if n not in solo] if len(tied) > 1 else tied
    combined = combined or [best]  # every tied candidate in solo: the best alone
    left_out = [n for n in tied if n not in combined]
    margin = {"best": best, "best_score": float(scores[best]), "tied": tied,
              "combined": combined, "z": {n: float(v) for n, v in z.items()},
              "threshold": MARGIN_Z}
    others = ", ".join(f"{n} {scores[n]:.4g} ("
                       + (f"{z[n]:.2f} SE above" if np.isfinite(z[n])
                          else "scored on other points") + ")" for n in z)
    solo_note = (f"; {', '.join(left_out)} tied but left out (chosen only as a clear "
                 "winner: its fit to all the rows can extrapolate far from its inner fits)"
                 if left_out else "")
    if len(tied) == 1:
        reason = (f"chose {best}: lowest held-out RMSLE when fitted below cuts "
                  f"{list(score_cuts)} of the log-scale range and asked to predict the "
                  f"larger runs ({scores[best]:.4g}), every other more than {MARGIN_Z} "
                  f"standard errors worse: {others}")
        return LawSelection(best, table, reason, cuts, errors, margin)
    if len(combined) == 1:
        reason = (f"chose {combined[0]} ({scores[combined[0]]:.4g} held-out RMSLE): not "
                  f"more than {MARGIN_Z} standard errors worse than the best, {best} "
                  f"{scores[best]:.4g}{solo_note}; the other candidates: {others}")
        return LawSelection(combined[0], table, reason, cuts, errors, margin)
    chosen = "average:" + "+".join(combined)
    reason = (f"averaged {', '.join(combined)} (geometric mean of their forecasts): none is "
              f"more than {MARGIN_Z} standard errors worse than the best held-out RMSLE, "
              f"{best} {scores[best]:.4g}{solo_note}; the other candidates: {others}")
    return LawSelection(chosen, table, reason, cuts, errors, margin)


def _solo_guard(sel: LawSelection, candidates: list[str], errors: dict[str, pd.DataFrame],
                notes: dict[str, list[str]], xs: list[str], score_cuts: Sequence[float],
                solo: Sequence[str]) -> LawSelection:
    """A law of ``solo`` chosen alone keeps the choice only at :data:`SOLO_RATIO` x the
    best other's score; otherwise the choice is made among the others (the table and
    the errors, which calibrate the intervals, keep every candidate)."""
    scores = sel.table.set_index("law")["score"]
    others = [n for n in candidates if n not in solo]
    best_other = min((float(scores[n]) for n in others), default=np.inf)
    if sel.chosen not in solo or not np.isfinite(best_other) or (
            scores[sel.chosen] <= SOLO_RATIO * best_other):
        return sel
    sub = decide(others, {n: errors[n] for n in others}, {n: notes[n] for n in others}, xs,
                 sel.cuts, score_cuts)
    reason = (f"{sub.reason}; {sel.chosen} scored lower ({scores[sel.chosen]:.4g}) and "
              f"clearly so, but not at most {SOLO_RATIO} x the best other's "
              f"({best_other:.4g}): alone on smaller leads it extrapolated worse")
    margin = {**sub.margin, "solo": {"law": sel.chosen, "score": float(scores[sel.chosen]),
                                     "best_other": best_other, "max_ratio": SOLO_RATIO}}
    return LawSelection(sub.chosen, sel.table, reason, sel.cuts, errors, margin)


def _margin(best: str, table: pd.DataFrame, errors: dict[str, pd.DataFrame],
            score_cuts: Sequence[float], xs: list[str],
            cut_scores: dict[str, dict[float, float]]) -> dict[str, Any]:
    """Paired bootstrap of the score difference between the default law and the best,
    and the best's score over the default's at each scoring cut (where both scored)."""
    default = DEFAULT_LAW.get(len(xs))
    scores = table.set_index("law")["score"]
    if default is None or default not in errors or not np.isfinite(scores.get(default, np.inf)):
        return {}
    ratios = {}
    for cut in score_cuts:
        b, d = cut_scores[best].get(cut), cut_scores[default].get(cut)
        if b is not None and d is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios[float(cut)] = float(np.float64(b) / d) if b != d else 1.0
        elif d is not None:  # the best has no score where the default has: no lead there
            ratios[float(cut)] = float("inf")
    out = {"default": default, "best": best, "best_score": float(scores[best]),
           "default_score": float(scores[default]),
           "difference": float(scores[default] - scores[best]), "threshold": MARGIN_Z,
           "max_ratio": MARGIN_RATIO, "cut_ratios": ratios, "max_cut_ratio": CUT_RATIO}
    if best == default:
        return out | {"se": 0.0, "z": float("inf")}
    se, z = _paired_se(default, best, out["difference"], errors, score_cuts)
    if not np.isfinite(se):  # scored on other points (a cut skipped): no evidence of a lead
        z = float("nan")
    return out | {"se": se, "z": z}


def _paired_se(worse: str, best: str, difference: float, errors: dict[str, pd.DataFrame],
               score_cuts: Sequence[float]) -> tuple[float, float]:
    """Standard error of a score difference (paired bootstrap) and the difference in SEs.

    Not paired (different held-out points): NaN and an infinite distance.
    """
    rng = np.random.default_rng(0)
    diffs = np.zeros(MARGIN_BOOT)
    inflation = []
    for cut in score_cuts:
        fd = errors[worse][errors[worse]["cut"] == cut].sort_values("distance")
        fb = errors[best][errors[best]["cut"] == cut].sort_values("distance")
        ed, eb = fd["log_error"].to_numpy(), fb["log_error"].to_numpy()
        if ed.size != eb.size or ed.size == 0:  # not paired: no margin can be computed
            return float("nan"), float("inf")
        idx = rng.integers(0, ed.size, (MARGIN_BOOT, ed.size))
        diffs += np.sqrt(np.mean(ed[idx] ** 2, axis=1)) - np.sqrt(np.mean(eb[idx] ** 2, axis=1))
        inflation.append(_ar1_inflation(ed**2 - eb**2))
    # forecast errors along a curve are smooth, not independent: the bootstrap's
    # variance is inflated by the AR(1) factor (1 + rho) / (1 - rho) of the paired
    # differences (rho of neighbouring held-out points, clipped to [0, 0.95])
    se = float(np.std(diffs / len(score_cuts), ddof=1) * np.sqrt(max(inflation)))
    return se, float(difference / se) if se > 0 else float("inf")


def _ar1_inflation(u: np.ndarray) -> float:
    """Variance inflation ``(1 + rho) / (1 - rho)`` of a mean of AR(1)-correlated values."""
    if u.size < 3 or np.std(u) == 0:
        return 1.0
    c = u - u.mean()
    rho = float(np.clip(np.sum(c[1:] * c[:-1]) / np.sum(c * c), 0.0, 0.95))
    return (1 + rho) / (1 - rho)


def fit_auto(data: Any, *, x: list[str], y: str, objective: str, delta: float, level: float,
             weights: Any, random_state: Any, drop_invalid: bool, keep: list[str],
             n_threads: int | None) -> FitResult | CombinedFit:
    """``law="auto"``: choose by held-out-scale validation, fit the choice, calibrate.

    Returns
    -------
    FitResult or CombinedFit
        The chosen law's fit, or the combination of the tied candidates'
        fits; ``settings["auto"]`` holds the selection. See
        :func:`auto_result` for the calibration.
    """
    if len(x) not in AUTO_CANDIDATES:
        raise DataValidationError(
            f"Law 'auto' chooses among laws of 1 or 2 inputs; got x={x!r}. Name a law "
            "instead.",
            column="law",
        )
    probe = get_law(AUTO_CANDIDATES[len(x)][0], inputs=x)
    frame, _ = prepare_data(data, probe, x=x, y=y, objective=objective, weights=weights,
                            drop_invalid=drop_invalid)
    sel = select_law(frame, x=x, y=y, objective=objective, delta=delta,
                     weights="weight", n_threads=n_threads)  # the user's weights
    fits = [fit_table(get_law(name, inputs=x), data, x=x, y=y, objective=objective,
                      delta=delta, level=level, weights=weights, starts=None, p0=None,
                      random_state=random_state, drop_invalid=drop_invalid, keep=keep,
                      n_threads=n_threads) for name in chosen_names(sel)]
    return auto_result(fits, sel)


def chosen_names(sel: LawSelection) -> list[str]:
    """The laws a selection fits: the chosen one, or the members of a combination."""
    return average_names(sel.chosen) or [sel.chosen]


def auto_result(fits: list[FitResult], sel: LawSelection) -> FitResult | CombinedFit:
    """The chosen law's fit, or the tied candidates' combination, with its calibration.

    One law: its calibration pools the backtest errors of all candidates, so
    its prediction intervals carry the disagreement between plausible laws
    (and not the optimism of picking the law with the smallest backtest
    errors). A combination: each member is calibrated on its own backtest
    errors (those that scored it); the disagreement between members enters
    the combination's intervals directly.
    """
    if len(fits) == 1:
        frames = [e for e in sel.errors.values() if len(e)]
        pooled = (pd.concat(frames, ignore_index=True) if frames
                  else pd.DataFrame(columns=["cut", "distance", "log_error"], dtype=float))
        cal = calibration_from_errors(log_residual_sd(fits[0]), pooled, sel.cuts,
                                      source=f"pooled backtests of {len(sel.errors)} "
                                      "candidate laws")
        return replace(fits[0], settings={**fits[0].settings, "auto": sel.to_dict()},
                       calibration=cal)
    members = []
    frames = [e for e in sel.errors.values() if len(e)]
    for name, res in zip(chosen_names(sel), fits, strict=True):
        if MEMBER_CALIBRATION == "pooled" and frames:
            err, source = (pd.concat(frames, ignore_index=True),
                           f"pooled backtests of {len(sel.errors)} candidate laws")
        else:
            err = sel.errors.get(name, pd.DataFrame(columns=["cut", "distance", "log_error"],
                                                    dtype=float))
            source = "own backtests while choosing the law"
        cal = calibration_from_errors(log_residual_sd(res), err, sel.cuts, source=source)
        members.append(replace(res, calibration=cal))
    return combine(members, settings={"auto": sel.to_dict()})
