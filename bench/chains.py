"""Loss-to-metric chains: Gadre et al.'s published numbers, and interval coverage.

1. Reproduction. Gadre et al. (2024, mlfoundations/scaling, MIT) fit their
   loss law (``gadre``: Chinchilla with one exponent) on five small RedPajama
   runs and their error law (``gadre_error``, ``Err = eps - k exp(-gamma L)``)
   on those and the 1.4B run at 20 tokens per parameter, then forecast the C4
   loss and the 17-task top-1 error of the 1.4B run at 640 tokens per parameter
   and of the 6.9B run at 20. Published (their notebook, ``scaling_explorer``):
   loss 0.7103 % and 0.7320 %, error 3.6365 % and 0.0464 % relative error.
   Here: ``backtest_chain`` on the bundled data, least squares (``mse``, as
   their ``curve_fit``), per corpus; the 46-task average beside it.
2. Coverage on synthetic designs with known truth (the 90 % prediction
   interval of held-out runs' accuracy), for the interval methods:
   ``before`` (the previous code: Gaussian parameter draws of both steps,
   a NaN covariance read as zero, the residual scales with normal
   quantiles), ``param_t`` (both steps' parameters drawn from their
   multivariate t, ``scalelaw.stats.wald_draws``, pushed through both laws),
   ``composed`` (the library: each step's own forecast distribution,
   composed), ``composed_cal_first`` (``calibrate="first"``) and
   ``composed_cal`` (``calibrate=True``). Designs:
   ``ladder`` (5 sizes x 5 token multipliers, the largest size held out, the
   truth is Chinchilla and a logit-linear accuracy with a chance floor; both
   laws right), ``small`` (8 runs, the largest held out, fitted with the
   one-exponent ``gadre`` law while the truth has two exponents).
3. Coverage on real runs: the Gadre et al. testbed as a ladder. Per corpus,
   both steps are fitted on the four small models at every token multiplier
   (32 runs), and the 1.4B and 6.9B runs (3 per corpus) are forecast, per
   task for the 17 tasks (153 held-out points) and for the two averages,
   uncalibrated (``ladder``), ``calibrate="first"`` (``ladder_cal_first``)
   and ``calibrate=True`` (``ladder_cal``). A chain that is refused (a step
   without an interval) is listed with its reason, never dropped silently.
   The uncalibrated part also scores the metric step's own interval at the
   actual loss (where the under-coverage comes from). The calibration is
   then chosen on two corpora and reported on the third
   (``gadre_ladder_selection``): the narrowest option covering the level on
   the choosing corpora; the third corpus's coverage is out of sample.
4. The chain calibration (``calibrate="chain"``, ``composed_cal_chain``:
   both steps refitted on the smaller models of the fit set, the larger
   ones' metric forecast through the chain, its standardized errors' growth
   with the distance carried into the intervals). ``chaincal_*`` parts run
   ``composed``, ``composed_cal_first`` and ``composed_cal_chain`` on a
   synthetic design, in chunks of seeds kept under
   ``synthetic_chain_calibration[set][design][seeds]`` (``set``: ``choose``,
   the seeds that chose the rule, or ``report``, fresh seeds) and pooled in
   ``synthetic_chain_calibration_pooled``. Designs: ``ladder`` and ``small``
   (above) and ``drift`` (the ladder with a metric law whose logit falls by
   ``DRIFT`` per e-fold of N at the same loss: a known bias toward larger
   models), and ``drift_ceiling`` (the same runs, the metric law's ceiling
   fixed at the truth's, 0.95, so that refits on fewer models identify it).
   ``ladder_cal_chain`` runs it on the Gadre ladder, and
   ``gadre_ladder_selection_chain`` chooses among uncalibrated, ``"first"``,
   ``True`` and ``"chain"`` per corpus: admissible if within 2 binomial sd of
   the level on the synthetic ladder's choosing seeds and covering the level
   on the two other corpora; the narrowest admissible option is reported on
   the third corpus.

Run: .venv/bin/python bench/chains.py [--reps-ladder 100] [--reps-small 200]
[--first-rep 0] [--parts ...] [--chaincal-set choose|report] [--reps-chaincal 25]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw
from scalelaw import datasets
from scalelaw.downstream import backtest_chain, fit_chain
from scalelaw.forecast import log_residual_sd
from scalelaw.laws import Inputs
from scalelaw.stats import wald_draws

PUBLISHED = {("open_lm_1b", "loss"): 0.7103, ("open_lm_7b", "loss"): 0.7320,
             ("open_lm_1b", "err_17"): 3.6365, ("open_lm_7b", "err_17"): 0.0464}
SMALL = ("d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8")


# ------------------------------------------------------------ interval methods
def _rowwise(res, theta, inter):
    class RowInputs(Inputs):
        def __init__(self, cols):
            self.cols, self._logs, self.n = list(cols), [None], cols[0].shape[1]

    with np.errstate(all="ignore"):
        v, _ = res.law.value_and_jacobian(theta, RowInputs([inter]), log=False, jac=False)
    return np.broadcast_to(v, inter.shape)


def _draw_chain(ch, at, n, rng, draws):
    f, s = ch.first, ch.second
    cols = [np.asarray(at[c], float) for c in f.x]
    t1, t2 = draws(f), draws(s)
    with np.errstate(all="ignore"):
        inter, _ = f.law.value_and_jacobian(t1, Inputs(cols), log=False, jac=False)
    return inter, t2


def interval_before(ch, at, level, n, seed):
    """The previous code: Gaussian draws (NaN covariance -> 0), normal scatter."""
    rng = np.random.default_rng(seed)

    def draws(r):
        return rng.multivariate_normal(r.theta, np.nan_to_num(r.cov_internal), size=n,
                                       method="eigh")
    inter, t2 = _draw_chain(ch, at, n, rng, draws)
    sd1, sd2 = (np.nan_to_num(log_residual_sd(r)) for r in (ch.first, ch.second))
    io = inter * np.exp(sd1 * rng.standard_normal(inter.shape))
    obs = _rowwise(ch.second, t2, io) * np.exp(sd2 * rng.standard_normal(inter.shape))
    return np.nanpercentile(obs, [50 * (1 - level), 50 * (1 + level)], axis=0)


def interval_param_t(ch, at, level, n, seed):
    """Parameters of both steps from their multivariate t, through both laws."""
    from scalelaw.inference import free_mask

    rng = np.random.default_rng(seed)

    def draws(r):
        lo, hi = r.law.internal_bounds()
        return wald_draws(r.theta, r.cov_internal, n, rng, vary=free_mask(r.law, r.theta)[0],
                          dof=max(r.dof_resid, 1), lower=lo, upper=hi)
    inter, t2 = _draw_chain(ch, at, n, rng, draws)
    d1, d2 = (max(r.dof_resid, 1) for r in (ch.first, ch.second))
    sd1, sd2 = (log_residual_sd(r) for r in (ch.first, ch.second))
    io = inter * np.exp(sd1 * rng.standard_t(d1, size=inter.shape))
    obs = _rowwise(ch.second, t2, io) * np.exp(sd2 * rng.standard_t(d2, size=inter.shape))
    return np.nanpercentile(obs, [50 * (1 - level), 50 * (1 + level)], axis=0)


def interval_composed(ch, at, level, n, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = ch.get_prediction(level, n_draws=n, random_state=seed, extrapolate=True,
                              max_extrapolation=np.inf, **at)
    return t.obs_ci_lower.to_numpy(), t.obs_ci_upper.to_numpy()


# ------------------------------------------------------------------ synthetic
def _truth_loss(n, d):
    return 1.7 + 400 * n ** -0.34 + 410 * d ** -0.28


def _truth_acc(loss, drift=0.0):
    return 0.25 + 0.7 / (1 + np.exp(-(9.0 - 3.5 * loss - drift)))


#: ``drift`` design: the accuracy's logit falls by DRIFT per e-fold of N beyond 10^7.5 at
#: the same loss (larger models score lower than the law fitted on small ones predicts, as
#: the larger models' error on the Gadre et al. testbed)
DRIFT = 0.3


def _design(kind, rng):
    if kind in ("ladder", "drift", "drift_ceiling"):
        n = np.repeat(np.logspace(7.5, 9.5, 5), 5)
        m = np.tile([5.0, 10.0, 20.0, 40.0, 80.0], 5)
    else:
        n = np.array([1e7, 3e7, 1e8, 3e8, 1e7, 3e7, 1e9, 3e9])
        m = np.array([20, 20, 20, 20, 320, 80, 20, 20.0])
    loss = _truth_loss(n, n * m) * np.exp(rng.normal(0, 0.01, n.size))
    drift = DRIFT * np.log(n / 10**7.5) if kind.startswith("drift") else 0.0
    acc = _truth_acc(loss, drift) * np.exp(rng.normal(0, 0.02, n.size))
    return pd.DataFrame({"n_params": n, "n_tokens": n * m, "loss": loss, "acc": acc})


ALL_METHODS = ("before", "param_t", "composed", "composed_cal_first", "composed_cal",
               "composed_cal_chain")
CALIBRATE = {"composed_cal_first": "first", "composed_cal": True, "composed_cal_chain": "chain"}


def synthetic(kind, reps, level=0.9, n_draws=2000, first_rep=0,
              methods=ALL_METHODS[:5]):
    hits = dict.fromkeys(methods, 0)
    widths = {m: [] for m in methods}
    n_pts, refused = 0, dict.fromkeys(methods, 0)
    first = "gadre" if kind == "small" else "chinchilla"
    # drift_ceiling: the drift design with the metric law's ceiling fixed at the truth's
    # (0.95), so that refits on the smaller models identify it
    metric_law = ("logit_linear:floor=0.25,ceiling=0.95" if kind == "drift_ceiling"
                  else "logit_linear:floor=0.25")
    growth = []
    t0 = time.perf_counter()
    for r in range(first_rep, first_rep + reps):
        df = _design(kind, np.random.default_rng([2026, 12, r]))
        test = (df.n_params >= df.n_params.max()).to_numpy()
        train, held = df[~test], df[test]
        at = {c: held[c].to_numpy() for c in ("n_params", "n_tokens")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ch = fit_chain(train, first_law=first, x=["n_params", "n_tokens"],
                           intermediate="loss", second_law=metric_law,
                           objective="mse_log", calibrate=False)
            chains = {m: fit_chain(train, first_law=first, x=["n_params", "n_tokens"],
                                   intermediate="loss", second_law=metric_law,
                                   objective="mse_log", calibrate=cal)
                      for m, cal in CALIBRATE.items() if m in methods}
            chains.update(before=ch, param_t=ch, composed=ch)
            growth.append(chains["composed_cal_chain"].calibration.growth
                          if "composed_cal_chain" in methods else float("nan"))
        a = held["acc"].to_numpy()
        n_pts += a.size
        for m in methods:
            fn = {"before": interval_before, "param_t": interval_param_t}.get(
                m, interval_composed)
            try:
                lo, hi = fn(chains[m], at, level, n_draws, r)
            except scalelaw.ScaleLawError:
                refused[m] += a.size
                continue
            hits[m] += int(np.sum((lo <= a) & (a <= hi)))
            widths[m].append(float(np.median(hi - lo)))
    out = {"design": kind, "reps": reps, "seeds": f"[2026, 12, r], r = {first_rep}.."
           f"{first_rep + reps - 1}", "n_points": n_pts, "level": level,
           "seconds": round(time.perf_counter() - t0, 1), "methods": {}}
    for m in methods:
        scored = n_pts - refused[m]
        out["methods"][m] = {
            "coverage": hits[m] / scored if scored else float("nan"),
            "n_scored": scored, "n_refused": refused[m],
            "binomial_sd": float(np.sqrt(level * (1 - level) / max(scored, 1))),
            "median_width": float(np.median(widths[m])) if widths[m] else float("nan"),
            "hits": hits[m], "widths": widths[m],
        }
    if "composed_cal_chain" in methods:
        g = np.array(growth)
        out["chain_growth"] = {"median": float(np.nanmedian(g)) if np.isfinite(g).any()
                               else None, "zero": int(np.sum(g == 0)),
                               "not_measured": int(np.sum(~np.isfinite(g))),
                               "values": [float(v) if np.isfinite(v) else None for v in g]}
    return out


# ----------------------------------------------------------------------- real
def reproduction():
    df = datasets.load("gadre_overtraining")
    out = []
    for y in ("err_17", "err_avg"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = backtest_chain(df, x="n_params,n_tokens", via="loss", y=y, first_law="gadre",
                                second_law="gadre_error", split_column="gadre_split",
                                group="corpus", objective="mse")
        for g in bt.groups:
            for r in g.rows.itertuples():
                model = df.loc[r.row, "model"]
                rec = {"metric": y, "corpus": g.group, "model": model,
                       "tokens_per_param": float(df.loc[r.row, "tokens_per_param"]),
                       "loss_rel_error_pct": 100 * abs(r.via_rel_error),
                       "metric_rel_error_pct": 100 * abs(r.predicted - r.actual) / r.actual,
                       "metric_actual": r.actual, "metric_predicted": r.predicted,
                       "pi_lower": r.lower, "pi_upper": r.upper, "covered": bool(r.covered)}
                if g.group == "rpj" and y == "err_17":
                    rec["published_loss_pct"] = PUBLISHED[(model, "loss")]
                    rec["published_metric_pct"] = PUBLISHED[(model, "err_17")]
                out.append(rec)
    return out


def gadre_ladder(cal, level=0.9, n_draws=2000):
    df = datasets.load("gadre_overtraining")
    df["ladder"] = np.where(df.model.isin(SMALL), "train", "test")
    out = {}
    for label, ys in (("per_task", [f"err_{t}" for t in datasets.GADRE_17_TASKS]),
                      ("averages", ["err_17", "err_avg"])):
        rows, excluded = [], []
        t0 = time.perf_counter()
        for y in ys:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bt = backtest_chain(df, x="n_params,n_tokens", via="loss", y=y,
                                    first_law="gadre", second_law="gadre_error",
                                    split_column="ladder", group="corpus", level=level,
                                    n_draws=n_draws, calibrate=cal)
            for g in bt.groups:
                if g.status != "ok":  # reported with its reason, never dropped silently
                    excluded.append({"y": y, "corpus": g.group, "n_test": g.n_test,
                                     "status": g.status})
                else:
                    rows.append(g.rows.assign(y=y, corpus=g.group,
                                              model=df.loc[g.rows.row, "model"].to_numpy()))
                    if not cal:  # the metric step's own interval at the actual loss
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            own = g.chain.second.get_prediction(
                                level, extrapolate=True, max_extrapolation=np.inf,
                                loss=g.rows.via_actual.to_numpy())
                        a = g.rows.actual.to_numpy()
                        olo, ohi = own.obs_ci_lower.to_numpy(), own.obs_ci_upper.to_numpy()
                        rows[-1] = rows[-1].assign(
                            own_covered=(olo <= a) & (a <= ohi), own_above=a > ohi,
                            own_below=a < olo, own_undefined=~np.isfinite(olo + ohi))
                        before = interval_before(
                            g.chain, {c: g.rows[c].to_numpy()
                                      for c in ("n_params", "n_tokens")}, level, n_draws, 0)
                        rows[-1] = rows[-1].assign(
                            before_covered=(before[0] <= g.rows.actual)
                            & (g.rows.actual <= before[1]))
        r = pd.concat(rows, ignore_index=True)
        tag = {False: "uncalibrated", "first": "calibrated_first",
               "chain": "calibrated_chain"}.get(cal, "calibrated")
        key = f"{label}_{tag}"
        out[key] = {
            "calibrate": cal, "n_points": len(r),
            "n_excluded_points": int(sum(e["n_test"] for e in excluded)),
            "excluded": excluded, "coverage": float(r.covered.mean()),
            "coverage_by_corpus": {c: float(v) for c, v in r.groupby("corpus").covered.mean()
                                   .items()},
            "coverage_by_model": {c: float(v) for c, v in r.groupby("model").covered.mean()
                                  .items()},
            "misses_above": int((r.actual > r.upper).sum()),
            "misses_below": int((r.actual < r.lower).sum()),
            "mae": float(r.abs_error.mean()),
            "loss_pi_coverage": float(((r.via_lower <= r.via_actual)
                                       & (r.via_actual <= r.via_upper)).mean()),
            "loss_mean_abs_rel_error": float(r.via_rel_error.abs().mean()),
            "median_width": float((r.upper - r.lower).median()),
            "seconds": round(time.perf_counter() - t0, 1),
            "points": [{"y": p.y, "corpus": p.corpus, "model": p.model,
                        "actual": p.actual, "predicted": p.predicted, "lower": p.lower,
                        "upper": p.upper, "covered": bool(p.covered)}
                       for p in r.itertuples()],
        }
        if not cal:
            out[key]["coverage_before"] = float(r.before_covered.mean())
            out[key]["metric_step_at_actual_loss"] = {
                "coverage": float(r.own_covered.mean()),
                "misses_above": int(r.own_above.sum()), "misses_below": int(r.own_below.sum()),
                "undefined": int(r.own_undefined.sum()),
                "mean_log_error": float(np.log(r.actual / r.predicted).mean())}
    return out


def leave_one_corpus_out(lad: dict, level: float = 0.9) -> dict:
    """Choose the calibration on two corpora, report it on the third.

    The rule: the narrowest option (median interval width) whose coverage on
    the two choosing corpora reaches ``level``; if none does, the one with the
    highest coverage. Out of sample: the third corpus's points only.
    """
    opts = {k.removeprefix("per_task_"): v for k, v in lad.items()
            if k.startswith("per_task_") and "points" in v}
    if len(opts) < 2:
        return {}
    frames = {o: pd.DataFrame(v["points"]).assign(width=lambda t: t.upper - t.lower)
              for o, v in opts.items()}
    corpora = sorted(next(iter(frames.values())).corpus.unique())
    folds, held = [], []
    for c in corpora:
        score = {o: (f[f.corpus != c].covered.mean(), f[f.corpus != c].width.median())
                 for o, f in frames.items()}
        ok = [o for o, (cov, _) in score.items() if cov >= level]
        pick = (min(ok, key=lambda o: score[o][1]) if ok
                else max(score, key=lambda o: score[o][0]))
        test = frames[pick][frames[pick].corpus == c]
        held.append(test)
        folds.append({"reported_on": c, "chosen": pick,
                      "choosing_coverage": {o: float(v[0]) for o, v in score.items()},
                      "coverage": float(test.covered.mean()), "n_points": len(test)})
    allh = pd.concat(held)
    return {"rule": "narrowest option covering >= level on the other two corpora",
            "options": sorted(opts), "folds": folds, "n_points": len(allh),
            "coverage_out_of_sample": float(allh.covered.mean())}


def pooled(chunks: dict) -> dict:
    """Chunks of one synthetic set and design (several seed ranges) pooled per method."""
    out: dict = {"seeds": sorted(chunks), "methods": {}}
    methods = next(iter(chunks.values()))["methods"] if chunks else {}
    for m in methods:
        hits = sum(c["methods"][m]["hits"] for c in chunks.values())
        n = sum(c["methods"][m]["n_scored"] for c in chunks.values())
        widths = [w for c in chunks.values() for w in c["methods"][m]["widths"]]
        out["methods"][m] = {"coverage": hits / n if n else float("nan"), "n_scored": n,
                             "n_refused": sum(c["methods"][m]["n_refused"]
                                              for c in chunks.values()),
                             "binomial_sd": float(np.sqrt(0.09 / max(n, 1))),
                             "median_width": float(np.median(widths)) if widths
                             else float("nan")}
    g = np.array([v if v is not None else np.nan for c in chunks.values()
                  for v in c.get("chain_growth", {}).get("values", [])], dtype=float)
    if g.size:
        out["chain_growth"] = {"designs": int(g.size), "zero": int(np.sum(g == 0)),
                               "not_measured": int(np.sum(np.isnan(g))),
                               "median": float(np.nanmedian(g)) if np.isfinite(g).any()
                               else None}
    return out


def choose_chain_calibration(payload: dict, level: float = 0.9) -> dict:
    """Per Gadre corpus: the calibration chosen on the other two corpora and the
    synthetic ladder's choosing seeds, reported on that corpus.

    Admissible: synthetic coverage within 2 binomial sd of ``level`` (a right chain
    neither under- nor over-covered) and coverage >= ``level`` on the two choosing
    corpora; chosen: the narrowest admissible option (median width on the choosing
    corpora); with none admissible, the highest choosing coverage among those that pass
    the synthetic test.
    """
    lad = payload.get("gadre_ladder", {})
    choose = payload.get("synthetic_chain_calibration", {}).get("choose", {}).get("ladder")
    if not choose or "per_task_calibrated_chain" not in lad:
        return {}
    syn = pooled(choose)["methods"]
    old = payload.get("synthetic", {}).get("ladder", {})
    names = {"uncalibrated": "composed", "calibrated_first": "composed_cal_first",
             "calibrated_chain": "composed_cal_chain", "calibrated": "composed_cal"}
    syn_cov = {}
    for opt, m in names.items():
        if m in syn:
            syn_cov[opt] = (syn[m]["coverage"], syn[m]["binomial_sd"], "choose set")
        elif m in old.get("methods", {}) and old.get("seeds") == "[2026, 12, r], r = 20..69":
            v = old["methods"][m]
            syn_cov[opt] = (v["coverage"], v["binomial_sd"], "synthetic.ladder")
    frames = {o: pd.DataFrame(lad[f"per_task_{o}"]["points"]).assign(
        width=lambda t: t.upper - t.lower) for o in syn_cov if f"per_task_{o}" in lad}
    corpora = sorted(next(iter(frames.values())).corpus.unique())
    folds, held = [], []
    for c in corpora:
        score = {o: (float(f[f.corpus != c].covered.mean()), float(f[f.corpus != c].width
                                                                   .median()))
                 for o, f in frames.items()}
        right = [o for o in frames if abs(syn_cov[o][0] - level) <= 2 * syn_cov[o][1]]
        ok = [o for o in right if score[o][0] >= level]
        pick = (min(ok, key=lambda o: score[o][1]) if ok
                else max(right or frames, key=lambda o: score[o][0]))
        test = frames[pick][frames[pick].corpus == c]
        held.append(test)
        folds.append({"reported_on": c, "chosen": pick, "coverage": float(test.covered.mean()),
                      "n_points": len(test), "median_width": float(test.width.median()),
                      "choosing_coverage": {o: v[0] for o, v in score.items()},
                      "choosing_width": {o: v[1] for o, v in score.items()}})
    allh = pd.concat(held)
    return {"rule": "narrowest option covering >= level on the other two corpora among "
            "those within 2 binomial sd of level on the synthetic ladder's choosing seeds",
            "synthetic_choose": {o: {"coverage": v[0], "binomial_sd": v[1], "from": v[2]}
                                 for o, v in syn_cov.items()},
            "folds": folds, "n_points": len(allh),
            "coverage_out_of_sample": float(allh.covered.mean()),
            "median_width_out_of_sample": float(allh.width.median())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps-ladder", type=int, default=100)
    ap.add_argument("--reps-small", type=int, default=200)
    ap.add_argument("--first-rep", type=int, default=0,
                    help="first design seed of the synthetic parts (fresh seeds: beyond "
                    "those run before)")
    ap.add_argument("--parts", default="reproduction,synthetic,ladder",
                    help="comma-separated parts to run (reproduction, synthetic or "
                    "synthetic_ladder/synthetic_small, chaincal_ladder/chaincal_drift/"
                    "chaincal_drift_ceiling/chaincal_small, ladder, ladder_cal_first, "
                    "ladder_cal, ladder_cal_chain); "
                    "the others are kept from --json")
    ap.add_argument("--reps-chaincal", type=int, default=25,
                    help="designs of a chaincal_* part (25 ladder designs: about 125 s)")
    ap.add_argument("--chaincal-set", default="report", choices=["choose", "report"],
                    help="the set a chaincal_* part's seeds belong to: 'choose' (seeds that "
                    "chose the rule) or 'report' (fresh seeds, [2026, 12, r], r >= 100)")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "chains.json"))
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    path = Path(args.json)
    payload = json.loads(path.read_text()) if path.exists() else {}
    payload.update(date=str(date.today()), machine=f"{platform.machine()}, 2-core CPU",
                   scalelaw=scalelaw.__version__, numpy=np.__version__)
    if "reproduction" in parts:
        payload["reproduction"] = reproduction()
    for kind, reps in (("ladder", args.reps_ladder), ("small", args.reps_small)):
        if "synthetic" in parts or f"synthetic_{kind}" in parts:
            payload.setdefault("synthetic", {})[kind] = synthetic(kind, reps,
                                                                  first_rep=args.first_rep)
    for kind in ("ladder", "drift", "drift_ceiling", "small"):
        if f"chaincal_{kind}" in parts:
            chunk = synthetic(kind, args.reps_chaincal, first_rep=args.first_rep,
                              methods=("composed", "composed_cal_first", "composed_cal_chain"))
            sets = payload.setdefault("synthetic_chain_calibration", {})
            chunks = sets.setdefault(args.chaincal_set, {}).setdefault(kind, {})
            chunks[chunk["seeds"]] = chunk
    for tag, cal in (("ladder", False), ("ladder_cal_first", "first"), ("ladder_cal", True),
                     ("ladder_cal_chain", "chain")):
        if tag in parts:
            payload.setdefault("gadre_ladder", {}).update(gadre_ladder(cal))
    payload["gadre_ladder_selection"] = leave_one_corpus_out(
        {k: v for k, v in payload.get("gadre_ladder", {}).items() if "chain" not in k})
    payload["gadre_ladder_selection_chain"] = choose_chain_calibration(payload)
    for name, kinds in payload.get("synthetic_chain_calibration", {}).items():
        if isinstance(kinds, dict):
            payload.setdefault("synthetic_chain_calibration_pooled", {})[name] = {
                k: pooled(v) for k, v in kinds.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    _report(payload)
    print(f"wrote {args.json}")


def _report(payload: dict) -> None:
    rep = payload.get("reproduction", [])
    print("1. Gadre et al. reproduction (relative errors, %):")
    print(f"{'metric':<8} {'corpus':<12} {'model':<11} {'M':>4} {'loss':>7} {'metric':>7} "
          f"{'published':>17} {'in PI':>6}")
    for r in rep:
        pub = (f"{r['published_loss_pct']:.4f}/{r['published_metric_pct']:.4f}"
               if "published_loss_pct" in r else "")
        print(f"{r['metric']:<8} {r['corpus']:<12} {r['model']:<11} "
              f"{r['tokens_per_param']:>4.0f} {r['loss_rel_error_pct']:>7.4f} "
              f"{r['metric_rel_error_pct']:>7.4f} {pub:>17} {r['covered']!s:>6}")
    syn = payload.get("synthetic", {}).values()
    print("\n2. Coverage of 90 % prediction intervals, synthetic designs with known truth:")
    for s in syn:
        for m, v in s["methods"].items():
            print(f"{s['design']:<7} {m:<19} coverage {v['coverage']:.3f} "
                  f"(n={v['n_scored']}, binomial sd {v['binomial_sd']:.3f}, refused "
                  f"{v['n_refused']}) median width {v['median_width']:.4f}")
    lad = payload.get("gadre_ladder", {})
    print("\n3. Gadre et al. testbed as a ladder (fit <= 411M, forecast 1.4B and 6.9B):")
    for k, v in lad.items():
        by = " ".join(f"{c[:3]} {x:.3f}" for c, x in v.get("coverage_by_corpus", {}).items())
        print(f"{k:<28} n={v['n_points']:<4} coverage {v['coverage']:.3f}"
              + (f" (before: {v['coverage_before']:.3f})" if "coverage_before" in v else "")
              + f", MAE {v['mae']:.4f}, loss PI coverage {v['loss_pi_coverage']:.3f}, "
              f"median width {v['median_width']:.4f}"
              + (f"\n{'':<28} by corpus: {by}; misses above/below "
                 f"{v['misses_above']}/{v['misses_below']}" if by else ""))
        own = v.get("metric_step_at_actual_loss")
        if own:
            print(f"{'':<28} metric step alone at the actual loss: coverage "
                  f"{own['coverage']:.3f}, misses above/below {own['misses_above']}/"
                  f"{own['misses_below']}, undefined {own.get('undefined', 'n/a')}; chain mean "
                  "log(actual/predicted) "
                  f"{own['mean_log_error']:+.3f}")
        for e in v.get("excluded", []):
            print(f"{'':<28} not scored: {e['y']} {e['corpus']} ({e['n_test']} points): "
                  f"{e['status'][:150]}")
    for name, kinds in payload.get("synthetic_chain_calibration_pooled", {}).items():
        for kind, v in kinds.items():
            print(f"\nchain calibration, {name} seeds, {kind} ({', '.join(v['seeds'])}):")
            for m, r in v["methods"].items():
                print(f"  {m:<19} coverage {r['coverage']:.3f} (n={r['n_scored']}, binomial "
                      f"sd {r['binomial_sd']:.3f}, refused {r['n_refused']}) median width "
                      f"{r['median_width']:.4f}")
            if "chain_growth" in v:
                g = v["chain_growth"]
                med = "n/a" if g["median"] is None else f"{g['median']:.3f}"
                print(f"  growth: median {med}, zero in {g['zero']} and not measured in "
                      f"{g['not_measured']} of {g['designs']} designs")
    sel = payload.get("gadre_ladder_selection", {})
    if sel:
        print(f"\nCalibration chosen on two corpora, reported on the third ({sel['rule']}):")
        for f in sel["folds"]:
            print(f"  reported on {f['reported_on']:<12} chosen {f['chosen']:<17} coverage "
                  f"{f['coverage']:.3f} (n={f['n_points']}); choosing coverage "
                  + ", ".join(f"{o} {c:.3f}" for o, c in f["choosing_coverage"].items()))
        print(f"  out of sample, pooled: {sel['coverage_out_of_sample']:.3f} "
              f"(n={sel['n_points']})")
    sel = payload.get("gadre_ladder_selection_chain", {})
    if sel:
        print(f"\nWith the chain calibration ({sel['rule']}):")
        print("  synthetic choosing seeds: " + ", ".join(
            f"{o} {v['coverage']:.3f}" for o, v in sel["synthetic_choose"].items()))
        for f in sel["folds"]:
            print(f"  reported on {f['reported_on']:<12} chosen {f['chosen']:<17} coverage "
                  f"{f['coverage']:.3f} (n={f['n_points']}, median width "
                  f"{f['median_width']:.4f}); choosing coverage "
                  + ", ".join(f"{o} {c:.3f}" for o, c in f["choosing_coverage"].items()))
        print(f"  out of sample, pooled: {sel['coverage_out_of_sample']:.3f} "
              f"(n={sel['n_points']}, median width {sel['median_width_out_of_sample']:.4f})")


if __name__ == "__main__":
    main()
