"""Rules for the one-input ``law="auto"`` compared on the same candidate fits.

Per curve, every candidate (saturating power, M3, M4, broken power) is backtested
inside the training rows (:func:`scalelaw.select_law`, the errors the rule decides
on) and fitted to all of them, once; each rule then picks members (and weights)
from those and is scored on the held-out rows: mean RMSLE and the held-out 90 %
prediction-interval coverage (a single choice calibrated on the pooled backtests of
the candidates, a combination's members on their own, as ``law="auto"`` does). The
loss is divided by its training geometric mean, as ``scalelaw backtest`` does.

Sets: ``synthetic`` (the 60 curves of bench/auto_out_of_sample.py, seeds
``[2026, family, k]``: k < 6 were used in earlier entries, the rest were seen in the
diagnosis) and ``bundled`` (the 92 curves of ``revisiting_nsl``, split by its
``training`` column). Both are where the rule is chosen: in-sample for it. The
chosen rule is reported on other curves by bench/auto_out_of_sample.py --seed 2027.

Run: .venv/bin/python bench/auto_one_input_rules.py [--sets synthetic,bundled]
     [--cache DIR] [--jobs 2]
"""

from __future__ import annotations

import argparse
import importlib
import json
import pickle
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from datetime import date
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from scalelaw.fitting import _select as S
from scalelaw.forecast import calibration_from_errors, log_residual_sd

CANDS = ["saturating_power", "m3", "m4", "broken_power"]
NO_BP = ["saturating_power", "m3", "m4"]


def _collect(args: tuple) -> str:
    name, train, test, x, y, out = args
    path = Path(out) / (name.replace("/", "__") + ".pkl")
    if path.exists():
        return name
    unit = float(np.exp(np.mean(np.log(train[y].to_numpy()))))  # as the backtest does
    train, test = train.assign(**{y: train[y] / unit}), test.assign(**{y: test[y] / unit})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = sl.select_law(train, x=x, y=y)
        fits = {}
        for c in CANDS:
            try:
                fits[c] = sl.fit(c, train, x=x, y=y)
            except Exception as exc:  # a failed fit is a failed member
                fits[c] = exc
    path.write_bytes(pickle.dumps({"name": name, "sel": sel, "fits": fits,
                                   "test": test[[x, y]].to_numpy(), "x": x, "y": y,
                                   "seconds": time.perf_counter() - t0}))
    return name


def _tasks(which: str, out: str):
    if which == "synthetic":
        sys.path.insert(0, str(Path(__file__).parent))
        aos = importlib.import_module("auto_out_of_sample")
        for fi, fam in enumerate(aos.FAMILIES):
            for k in range(15):
                xx, yy = aos._curve(fam, np.random.default_rng([2026, fi, k]))
                df = pd.DataFrame({"x": xx, "loss": yy})
                yield (f"{fam}/{k}", df[xx <= 1e6].reset_index(drop=True), df[xx > 1e6], "x",
                       "loss", out)
    else:
        data = sl.datasets.load("revisiting_nsl")
        for g, sub in data.groupby("curve", sort=True):
            keep = sub.training.astype(bool)
            yield (str(g), sub[keep].reset_index(drop=True), sub[~keep], "seen_examples",
                   "loss", out)


def _build(c: dict, members: list[str], weights: list[float] | None, pool: list[str]):
    sel, fits = c["sel"], c["fits"]
    if any(isinstance(fits[m], Exception) for m in members):
        return None
    if len(members) == 1:
        errs = {k: v for k, v in sel.errors.items() if k in pool}
        return S.auto_result([fits[members[0]]], replace(sel, chosen=members[0], errors=errs))
    mem = [replace(fits[m], calibration=calibration_from_errors(
        log_residual_sd(fits[m]), sel.errors[m], sel.cuts, source="own")) for m in members]
    return sl.combine(mem, weights=weights)


def _decide(c: dict, cands: list[str], never_combined: tuple[str, ...]):
    """The library's decision with these laws never combined (no SOLO_RATIO guard: the
    rules below apply their own)."""
    old, old_ratio = S.NEVER_COMBINED, S.SOLO_RATIO
    S.NEVER_COMBINED, S.SOLO_RATIO = {1: never_combined}, np.inf
    try:
        errs = {k: c["sel"].errors[k] for k in cands}
        return S.chosen_names(S.decide(list(cands), errs, {k: [] for k in cands}, [c["x"]],
                                       c["sel"].cuts, S.SCORE_CUTS))
    finally:
        S.NEVER_COMBINED, S.SOLO_RATIO = old, old_ratio


def _scores(c: dict) -> dict[str, float]:
    return c["sel"].table.set_index("law")["score"].astype(float).to_dict()


def _ties(never=(), cands=CANDS, ratio=None, power=None, trim=None):
    def rule(c):
        names = _decide(c, cands, never)
        sc = _scores(c)
        if ratio is not None:  # only members within ratio x the best inner score
            best = min(sc[n] for n in names)
            names = [n for n in names if sc[n] <= ratio * best]
        if trim is not None and len(names) > 1:  # members far from the median forecast
            x_at = 10 * c["fits"][names[0]].domain[c["x"]][1]
            lf = {n: float(np.log(c["fits"][n].predict(**{c["x"]: [x_at]})[0])) for n in names}
            med = float(np.median(list(lf.values())))
            names = [n for n in names if abs(lf[n] - med) <= trim] or names
        w = [sc[n] ** -power for n in names] if power and len(names) > 1 else None
        return names, w, cands
    return rule


def _solo_ratio(ratio):
    """Broken power never combined, and alone only at <= ratio x the best other's score;
    otherwise the choice among the others."""
    def rule(c):
        names = _decide(c, CANDS, ("broken_power",))
        sc = _scores(c)
        if names == ["broken_power"] and not (
                sc["broken_power"] <= ratio * min(sc[n] for n in NO_BP)):
            names = _decide(c, NO_BP, ())
        return names, None, CANDS
    return rule


def _default(default, ratio=1.0, cands=CANDS):
    """Keep ``default`` unless the best beats it by MARGIN_Z SEs and to <= ratio x."""
    def rule(c):
        sc = _scores(c)
        best = min((n for n in cands if np.isfinite(sc[n])), key=sc.get)
        if not np.isfinite(sc[default]):
            return [best], None, cands
        if best != default:
            _, z = S._paired_se(default, best, sc[default] - sc[best], c["sel"].errors,
                                S.SCORE_CUTS)
            if z >= S.MARGIN_Z and sc[best] <= ratio * sc[default]:
                return [best], None, cands
        return [default], None, cands
    return rule


RULES = {
    "m4 alone": lambda c: (["m4"], None, CANDS),
    "saturating_power alone": lambda c: (["saturating_power"], None, CANDS),
    "broken_power alone": lambda c: (["broken_power"], None, CANDS),
    "ties combined (before)": _ties(),
    "ties, broken power never combined": _ties(never=("broken_power",)),
    "ties, broken power never combined, alone at <= 0.5x the others' best (chosen)":
        _solo_ratio(0.5),
    "ties, broken power never combined, alone at <= 0.25x the others' best":
        _solo_ratio(0.25),
    "no broken power candidate": _ties(cands=NO_BP),
    "ties within 1.25x the best score": _ties(ratio=1.25),
    "ties within 1.5x the best score": _ties(ratio=1.5),
    "ties weighted 1/score^2": _ties(power=2),
    "ties weighted 1/score^4": _ties(power=4),
    "ties less members > 0.05 log from the median at 10x": _ties(trim=0.05),
    "ties less members > 0.2 log from the median at 10x": _ties(trim=0.2),
    "default m4, margin": _default("m4"),
    "default m4, margin and ratio 0.5": _default("m4", ratio=0.5),
    "default saturating_power, margin": _default("saturating_power"),
    "default saturating_power, margin and ratio 0.5": _default("saturating_power", ratio=0.5),
}


def _score(c: dict, res) -> tuple[float, int, int]:
    t = c["test"]
    if res is None:
        return float("nan"), 0, len(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = res.get_prediction(0.9, extrapolate=True, max_extrapolation=np.inf,
                                 **{c["x"]: t[:, 0]})
    obs = t[:, 1]
    rmsle = float(np.sqrt(np.mean((np.log(tab["mean"].to_numpy()) - np.log(obs)) ** 2)))
    inside = (obs >= tab["obs_ci_lower"].to_numpy()) & (obs <= tab["obs_ci_upper"].to_numpy())
    return rmsle, int(inside.sum()), len(obs)


def _summary(rows: pd.DataFrame) -> list[dict]:
    out = []
    for rule, sub in rows.groupby("rule", sort=False):
        out.append({"rule": rule, "n_curves": len(sub), "rmsle_mean": float(sub.rmsle.mean()),
                    "rmsle_max": float(sub.rmsle.max()),
                    "pi90": float(sub.n_in.sum() / sub.n_held.sum()),
                    "n_failed": int(sub.rmsle.isna().sum())})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="synthetic,bundled")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "auto_one_input_rules"),
                    help="folder of the per-curve candidate fits (reused when present)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", default="bench/results/auto_one_input_rules.json")
    args = ap.parse_args()
    backtest_mod = importlib.import_module("scalelaw.backtest")
    result = {"date": str(date.today()), "machine": platform.platform(),
              "version": sl.__version__, "objective": "huber_log", "sets": {}}
    for which in args.sets.split(","):
        cache = Path(args.cache) / which
        cache.mkdir(parents=True, exist_ok=True)
        tasks = list(_tasks(which, str(cache)))
        with Pool(args.jobs, initializer=backtest_mod._one_thread) as pool:
            list(pool.imap_unordered(_collect, tasks))
        curves = [pickle.loads(p.read_bytes()) for p in sorted(cache.glob("*.pkl"))]
        rows = []
        for c in curves:
            for rule, pick in RULES.items():
                names, w, pool_names = pick(c)
                r, n_in, n_held = _score(c, _build(c, names, w, pool_names))
                rows.append({"curve": c["name"], "rule": rule, "rmsle": r, "n_in": n_in,
                             "n_held": n_held, "chosen": "+".join(names)})
        rows = pd.DataFrame(rows)
        entry = {"n_curves": len(curves), "all": _summary(rows)}
        if which == "synthetic":
            k = rows.curve.str.split("/").str[1].astype(int)
            entry["k_lt_6"] = _summary(rows[k < 6])
            entry["k_ge_6"] = _summary(rows[k >= 6])
        entry["curves"] = rows.to_dict(orient="records")
        result["sets"][which] = entry
        table = pd.DataFrame(entry["all"]).set_index("rule")
        with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
            print(which, len(curves), "curves")
            print(table)
    Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
