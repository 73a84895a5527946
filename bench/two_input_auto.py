"""Two-input ``law="auto"``: rules for choosing between Chinchilla and Kaplan, out of sample.

Each *run set* is a ladder of training runs (N parameters, D tokens, final loss):
fit on the smaller runs, forecast the held-out larger ones, score the forecast by
the mean absolute relative error (ARE) and the RMSLE on the held-out runs.

Sets
----
* ``synthetic/<truth>/<k>``: the design of Gadre et al. (N = 11M, 79M, 154M, 411M at
  0.25-32x the compute-optimal 20 tokens per parameter: 32 runs), held-out targets
  1.4B at 1x and 32x and 6.9B at 1x; loss from a known law with 1 % log-normal noise
  and parameters jittered per set: ``chinchilla`` (Epoch AI's refit of Hoffmann et
  al.), ``kaplan`` (Kaplan et al. 2020's joint law), ``tie`` (the geometric mean of
  the two, so neither law is right).
* ``olmo/<eval>``: the OLMo model ladder (datasets/olmo_ladder, Apache-2.0): 190M-1B
  at 0.5-10x Chinchilla tokens (20 runs) fitted, the five 3B runs held out; one set
  per validation loss (11).
* ``gadre/<corpus>/<eval>``: Gadre et al.'s over-training testbed
  (datasets/gadre_overtraining, MIT): per corpus (C4, RedPajama, RefinedWeb) the
  11M-411M runs at 0.25-32x (31-32 runs) fitted, the 1.4B and 6.9B runs (3) held out;
  one set per validation loss (8); ``c4_val`` is the paper's C4 evaluation.

For every set the script runs the law selection of ``scalelaw`` once (both
candidates refitted below the cuts 0.5, 0.65, 0.8 of the training range and scored
on the larger training runs) and fits both laws on all training runs; each *rule*
then turns the inner backtest errors into weights on the two forecasts (1/0: one
law; 1/2, 1/2: their combination, whose forecast is the geometric mean). Rules:

* ``chinchilla``, ``kaplan``: always that law;
* ``margin``: the rule before this change: Chinchilla unless Kaplan's inner score
  is lower by more than 1.645 standard errors of the paired difference;
* ``average``: always the combination;
* ``tie_average``: the one-input rule: the combination unless one law is clearly
  (1.645 SE) better, then that law;
* ``last_cut``: ``margin`` scored on the last cut (0.8) only;
* ``strict_z<Z>``: ``margin`` with the threshold Z instead of 1.645;
* ``default_or_average``: Chinchilla if it is not worse on the inner cuts, else the
  combination (never Kaplan alone);
* ``ratio<r>``: Kaplan alone only when its inner score is below r x Chinchilla's
  *and* clearly lower (1.645 SE); otherwise Chinchilla (``ratio0.25`` is the rule
  ``scalelaw`` adopted: ``scalelaw.fitting.MARGIN_RATIO``);
* ``no_floor``: Kaplan alone only when Chinchilla's own fit to all the training runs
  puts its irreducible loss E at zero (its bound: the runs show no floor, which
  Kaplan's law lacks) *and* Kaplan's inner score is clearly lower; otherwise
  Chinchilla. ``no_floor_average``: the combination there instead of Kaplan;
  ``no_floor_any``: Kaplan whenever E is at zero;
* variants of ``ratio0.25`` measured to choose the per-cut bound (``CUT_RATIO``):
  ``ratio0.2``; ``ratio0.25_z4`` (and at least 4 SE); ``ratio0.25_cut<c>`` (and
  Kaplan's score at most c x Chinchilla's at each scoring cut on its own:
  ``ratio0.25_cut0.5`` is the rule ``scalelaw`` adopted); ``ratio0.25_cut0.5_avg``
  (the combination where only the per-cut bound fails); ``ratio0.25_cutz`` (clearly
  lower, 1.645 SE, at each scoring cut on its own); ``geo0.25`` (the geometric mean of
  the per-cut ratios at most 0.25, clearly lower); ``ratio0.25_avg0.5`` (the
  combination on moderate leads: clearly lower and at most 0.5x).

Loader: Gadre et al.'s runs are nested JSON (one object per model); the small
reader below takes ``hyperparameters.params``, ``hyperparameters.tokens`` and each
``results[i].loss`` by its validation set.

Designs with known truth (``--designs K``)
-----------------------------------------
The library's rule (``law="auto"`` as adopted, ``scalelaw.fitting.MARGIN_RATIO``)
on K fresh synthetic ladders per case, each drawn by :func:`ladder_design`: 4-6
model sizes from 10M-50M, 2-3.5x apart, each trained at 4-8 consecutive
multipliers of the 0.25-32x Chinchilla tokens (20 per parameter); the held-out
target is one larger model (2.5-10x the largest trained) at every multiplier of
the ladder. Cases: ``chinchilla`` (Chinchilla true, noise 0.5-1.5 %),
``kaplan_clear`` (Kaplan true, 0.1 % noise), ``kaplan_noisy`` (Kaplan true,
0.5-1.5 %), ``tie`` (the geometric mean of the two laws, 0.5-1.5 %); the law
parameters are jittered around Epoch AI's Chinchilla refit and Kaplan et al.'s law
as above. Reported per case: the rate at which auto's mean ARE on the targets is
at most 1.1x the default Chinchilla law's (the bar), the median and worst ratio,
how often the true law is chosen, and the same for the other rules. The rule was
chosen on the ``synthetic/*`` sets above (seeds ``[2026, 12, truth, k]``) and the
OLMo ladder; the designs report it on the seeds ``[REPORT_ROOT, case, k]``
(``--seed-root`` names another root; ``CHOOSE_ROOT`` is kept apart for choosing a
change, should one be needed, and the tests draw on ``TEST_ROOT``). The per-cut
bound ``CUT_RATIO`` was chosen on ``REPORT_ROOT`` and ``CHOOSE_ROOT`` (with more
designs per case and the stress cases ``tie_clear``, ``tie_noisy``,
``chinchilla_noisy``, ``kaplan_mid``: ``--cases``, ``--k0``) and is reported on
``FRESH_ROOTS``. ``--merge A.json B.json ...`` rescores every rule on stored design
records (no fitting) and writes the per-case table.

Run: .venv/bin/python bench/two_input_auto.py [--synthetic 20] [--json PATH]
     .venv/bin/python bench/two_input_auto.py --designs 20 [--jobs 2] [--cases tie --k0 20]
     .venv/bin/python bench/two_input_auto.py --merge A.json B.json --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

import scalelaw as sl
from scalelaw.fitting import CUT_RATIO, MARGIN_RATIO, MARGIN_Z, SCORE_CUTS, select_law
from scalelaw.fitting._select import _paired_se
from scalelaw.laws import get_law

ROOT = Path(__file__).resolve().parent.parent
X = ["n_params", "n_tokens"]
GADRE_TRAIN = ("d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8")
GADRE_TARGETS = ("open_lm_1b", "open_lm_7b")
MARGIN = 1.645


# ------------------------------------------------------------------ loaders
def _eval_name(val_data: list[str]) -> str:
    path = val_data[0]
    if "/c4_val/" in path:
        return "c4_val"
    return path.split("/val_tok_mult/")[1].split("/")[0].replace("paloma_", "")


def load_gadre() -> pd.DataFrame:
    """One row per model and validation set: corpus, model, N, D, eval, loss, role."""
    rows = []
    for f in sorted((ROOT / "datasets/gadre_overtraining/models").glob("*.json")):
        d = json.loads(f.read_text())
        hp = d["hyperparameters"]
        model = d["name"][len(d["dataset_name"]) + 1:].rsplit("-", 1)[0]
        role = ("train" if model in GADRE_TRAIN else "target" if model in GADRE_TARGETS
                else "other")
        for r in d["results"]:
            rows.append({"corpus": d["dataset_name"], "model": model,
                         "multiplier": hp["chinchilla_multiplier"],
                         "n_params": float(hp["params"]), "n_tokens": float(hp["tokens"]),
                         "eval": _eval_name(r["val_data"]), "loss": float(r["loss"]),
                         "role": role})
    return pd.DataFrame(rows)


def load_olmo() -> pd.DataFrame:
    """One row per run and validation set: size, N, D, eval, loss, role (3B held out)."""
    wide = pd.read_csv(ROOT / "datasets/olmo_ladder/final_losses.csv")
    long = wide.melt(id_vars=["size", "multiplier", "n_params", "n_tokens"],
                     value_vars=[c for c in wide.columns if c.startswith("loss_")],
                     var_name="eval", value_name="loss")
    long["eval"] = long["eval"].str.removeprefix("loss_")
    long["role"] = np.where(long["size"] == "3B", "target", "train")
    return long


def synthetic_sets(n_sets: int) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Run sets with a known law (see the module docstring)."""
    n = np.array([1.1e7, 7.9e7, 1.54e8, 4.11e8])
    mult = np.array([0.25, 0.5, 1, 2, 4, 8, 16, 32])
    nn, mm = np.meshgrid(n, mult, indexing="ij")
    train = pd.DataFrame({"n_params": nn.ravel(), "n_tokens": (20 * nn * mm).ravel()})
    target = pd.DataFrame({"n_params": [1.4e9, 1.4e9, 6.9e9],
                           "n_tokens": [20 * 1.4e9, 640 * 1.4e9, 20 * 6.9e9]})
    chin, kap = get_law("chinchilla"), get_law("kaplan")
    out = []
    for truth in ("chinchilla", "kaplan", "tie"):
        for k in range(n_sets):
            rng = np.random.default_rng([2026, 12, ("chinchilla", "kaplan", "tie").index(truth),
                                         k])

            def jit(v: float, r: float = 0.1, rng: np.random.Generator = rng) -> float:
                return v * float(np.exp(rng.uniform(-r, r)))

            pc = {"E": jit(1.82), "A": jit(482.0), "B": jit(2085.0), "alpha": jit(0.348),
                  "beta": jit(0.366)}
            pk = {"N_c": jit(8.8e13, 0.5), "D_c": jit(5.4e13, 0.5), "alpha_N": jit(0.076),
                  "alpha_D": jit(0.095)}

            def law(df: pd.DataFrame, pc=pc, pk=pk, truth=truth) -> np.ndarray:
                a = chin(pc, n_params=df.n_params, n_tokens=df.n_tokens)
                b = kap(pk, n_params=df.n_params, n_tokens=df.n_tokens)
                return {"chinchilla": a, "kaplan": b, "tie": np.sqrt(a * b)}[truth]

            tr = train.assign(loss=law(train) * np.exp(rng.normal(0, 0.01, len(train))))
            te = target.assign(loss=law(target))
            out.append((f"synthetic/{truth}/{k}", tr, te))
    return out


#: Cases of the designs with known truth: (truth, noise range of the log-normal noise).
CASES: dict[str, tuple[str, tuple[float, float]]] = {
    "chinchilla": ("chinchilla", (0.005, 0.015)),
    "kaplan_clear": ("kaplan", (0.001, 0.001)),
    "kaplan_noisy": ("kaplan", (0.005, 0.015)),
    "tie": ("tie", (0.005, 0.015)),
    # stress cases (``--cases``): a tie with 0.1 % and with 1.5-3 % noise, Chinchilla true
    # with 1.5-3 %, Kaplan true with 0.2-0.5 %
    "tie_clear": ("tie", (0.001, 0.001)),
    "tie_noisy": ("tie", (0.015, 0.03)),
    "chinchilla_noisy": ("chinchilla", (0.015, 0.03)),
    "kaplan_mid": ("kaplan", (0.002, 0.005)),
}
#: The cases ``--designs`` runs unless ``--cases`` names others.
DEFAULT_CASES = ("chinchilla", "kaplan_clear", "kaplan_noisy", "tie")
#: Seed roots of the designs: ``[root, case index, k]``. REPORT_ROOT reports the rule;
#: CHOOSE_ROOT is reserved for choosing a change to it; TEST_ROOT feeds the tests.
REPORT_ROOT, CHOOSE_ROOT, TEST_ROOT = 20261206, 20261207, 20261208
#: Roots never used before the per-cut bound (``CUT_RATIO``) was chosen on REPORT_ROOT
#: and CHOOSE_ROOT: they report it.
FRESH_ROOTS = (20261209, 20261210)
MULTIPLIERS = np.array([0.25, 0.5, 1, 2, 4, 8, 16, 32])


def ladder_design(case: str, seed: int | list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One synthetic ladder of ``case`` (see the module docstring): training and target runs.

    Both frames have ``n_params``, ``n_tokens`` and ``loss``; the targets are noiseless.
    """
    truth, (lo, hi) = CASES[case]
    rng = np.random.default_rng(seed)
    sizes = 10 ** rng.uniform(7, 7.7) * (10 ** rng.uniform(0.3, 0.55)) ** np.arange(
        int(rng.integers(4, 7)))
    big = sizes[-1] * 10 ** rng.uniform(0.4, 1.0)
    n_mult = int(rng.integers(4, 9))
    start = int(rng.integers(0, MULTIPLIERS.size - n_mult + 1))
    mult = MULTIPLIERS[start:start + n_mult]

    def grid(n: np.ndarray) -> pd.DataFrame:
        nn, mm = np.meshgrid(n, mult, indexing="ij")
        return pd.DataFrame({"n_params": nn.ravel(), "n_tokens": (20 * nn * mm).ravel()})

    def jit(v: float, r: float = 0.1) -> float:
        return v * float(np.exp(rng.uniform(-r, r)))

    pc = {"E": jit(1.82), "A": jit(482.0), "B": jit(2085.0), "alpha": jit(0.348),
          "beta": jit(0.366)}
    pk = {"N_c": jit(8.8e13, 0.5), "D_c": jit(5.4e13, 0.5), "alpha_N": jit(0.076),
          "alpha_D": jit(0.095)}
    noise = rng.uniform(lo, hi)
    chin, kap = get_law("chinchilla"), get_law("kaplan")

    def law(df: pd.DataFrame) -> np.ndarray:
        a = chin(pc, n_params=df.n_params, n_tokens=df.n_tokens)
        b = kap(pk, n_params=df.n_params, n_tokens=df.n_tokens)
        return {"chinchilla": a, "kaplan": b, "tie": np.sqrt(a * b)}[truth]

    train, target = grid(sizes), grid(np.array([big]))
    train = train.assign(loss=law(train) * np.exp(rng.normal(0, noise, len(train))))
    return train, target.assign(loss=law(target))


def public_sets() -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    out = []
    olmo = load_olmo()
    for ev, sub in olmo.groupby("eval", sort=True):
        out.append((f"olmo/{ev}", sub[sub.role == "train"], sub[sub.role == "target"]))
    gadre = load_gadre()
    for (corpus, ev), sub in gadre.groupby(["corpus", "eval"], sort=True):
        tr, te = sub[sub.role == "train"], sub[sub.role == "target"]
        if len(tr) >= 10 and len(te):
            out.append((f"gadre/{corpus}/{ev}", tr, te))
    return out


# -------------------------------------------------------------- measurements
def measure(name: str, train: pd.DataFrame, target: pd.DataFrame) -> dict:
    """Inner backtest errors of both candidates, and both laws' held-out forecasts."""
    train = train[[*X, "loss"]].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select_law(train, x=X, y="loss")
        preds, params, at_bound = {}, {}, {}
        for law in ("chinchilla", "kaplan"):
            res = sl.fit(law, train, x=X, y="loss")
            preds[law] = res.predict(n_params=target.n_params.to_numpy(),
                                     n_tokens=target.n_tokens.to_numpy()).tolist()
            params[law] = res.params.to_dict()
            at_bound[law] = sorted({p for d in res.diagnostics if d.code == "at_bound"
                                    for p in d.params})
    return {"set": name, "actual": target.loss.tolist(), "preds": preds, "params": params,
            "at_bound": at_bound,
            "errors": {k: v.to_dict(orient="list") for k, v in sel.errors.items()},
            "chosen_now": sel.chosen, "n_train": len(train), "n_target": len(target)}


# --------------------------------------------------------------------- rules
def _score(err: pd.DataFrame, cuts: tuple[float, ...]) -> float:
    per = []
    for c in cuts:
        e = err.loc[err.cut == c, "log_error"].to_numpy()
        if e.size:
            per.append(float(np.sqrt(np.mean(e**2))) if np.all(np.isfinite(e)) else np.inf)
    return float(np.mean(per)) if per else np.inf


def _z(errors: dict, worse: str, best: str, cuts: tuple[float, ...]) -> float:
    diff = _score(errors[worse], cuts) - _score(errors[best], cuts)
    se, z = _paired_se(worse, best, diff, errors, cuts)
    return z if np.isfinite(se) else 0.0


_INNER: dict[int, tuple] = {}  # the last set's inner statistics, shared by its rules


def _inner(rec: dict) -> tuple:
    """Inner errors, both scores and both one-sided distances (in SEs) of one set."""
    if id(rec) not in _INNER:
        _INNER.clear()
        errors = {k: pd.DataFrame(v) for k, v in rec["errors"].items()}
        cuts = (0.65, 0.8)
        s_c, s_k = _score(errors["chinchilla"], cuts), _score(errors["kaplan"], cuts)
        finite = np.isfinite(s_c) and np.isfinite(s_k)
        z_k = _z(errors, "chinchilla", "kaplan", cuts) if finite and s_k < s_c else 0.0
        z_c = _z(errors, "kaplan", "chinchilla", cuts) if finite and s_c < s_k else 0.0
        _INNER[id(rec)] = (errors, s_c, s_k, z_k, z_c)
    return _INNER[id(rec)]


def rule_weights(rule: str, rec: dict) -> float:
    """Weight of Chinchilla (Kaplan gets the rest) under ``rule`` for one set."""
    errors, s_c, s_k, z_k, z_c = _inner(rec)
    if not np.isfinite(s_k):
        return 1.0
    if not np.isfinite(s_c):
        return 0.0
    if rule == "chinchilla":
        return 1.0
    if rule == "kaplan":
        return 0.0
    if rule == "average":
        return 0.5
    if rule == "margin":
        return 0.0 if z_k >= MARGIN else 1.0
    if rule.startswith("strict_z"):
        return 0.0 if z_k >= float(rule[8:]) else 1.0
    if rule == "last_cut":
        s_c1, s_k1 = _score(errors["chinchilla"], (0.8,)), _score(errors["kaplan"], (0.8,))
        z1 = _z(errors, "chinchilla", "kaplan", (0.8,)) if s_k1 < s_c1 else 0.0
        return 0.0 if z1 >= MARGIN else 1.0
    if rule == "tie_average":
        return 0.0 if z_k >= MARGIN else 1.0 if z_c >= MARGIN else 0.5
    if rule == "default_or_average":
        return 1.0 if s_c <= s_k else 0.5
    if rule.startswith("ratio0.25_") or rule.startswith("geo"):
        return _cut_rule(rule, errors, s_c, s_k, z_k)
    if rule.startswith("ratio"):
        return 0.0 if (z_k >= MARGIN and s_k < float(rule[5:]) * s_c) else 1.0
    no_floor = "E" in rec["at_bound"]["chinchilla"]  # Chinchilla's own fit sees no floor
    if rule == "no_floor":
        return 0.0 if (no_floor and z_k >= MARGIN) else 1.0
    if rule == "no_floor_average":
        return 0.5 if (no_floor and z_k >= MARGIN) else 1.0
    if rule == "no_floor_any":
        return 0.0 if no_floor else 1.0
    raise ValueError(rule)


def _cut_rule(rule: str, errors: dict, s_c: float, s_k: float, z_k: float) -> float:
    """Rules that also look at each scoring cut on its own (see the module docstring)."""
    cuts = (0.65, 0.8)
    per = {c: _score(errors["kaplan"], (c,)) / _score(errors["chinchilla"], (c,)) for c in cuts}
    if rule.startswith("geo"):  # geometric mean of the per-cut ratios below the bound
        lead = float(np.exp(np.mean(np.log(list(per.values())))))
        return 0.0 if (z_k >= MARGIN and lead <= float(rule[3:])) else 1.0
    before = z_k >= MARGIN and s_k < 0.25 * s_c  # ratio0.25, the rule before
    tail = rule[len("ratio0.25_"):]
    if tail.startswith("z"):  # a stricter overall threshold
        return 0.0 if (before and z_k >= float(tail[1:])) else 1.0
    if tail == "cutz":  # clearly lower at each cut on its own
        return 0.0 if (before and all(
            per[c] < 1 and _z(errors, "chinchilla", "kaplan", (c,)) >= MARGIN
            for c in cuts)) else 1.0
    if tail.startswith("avg"):  # the combination on moderate leads
        mod = z_k >= MARGIN and s_k <= float(tail[3:]) * s_c
        return 0.0 if before else 0.5 if mod else 1.0
    bound = float(tail[3:].removesuffix("_avg"))  # cut<c>[_avg]: every cut at most c x
    even = all(r <= bound for r in per.values())
    return 0.0 if (before and even) else 0.5 if (before and tail.endswith("_avg")) else 1.0


RULES = ("chinchilla", "kaplan", "margin", "average", "tie_average", "last_cut",
         "strict_z3", "strict_z5", "default_or_average", "ratio0.5", "ratio0.25", "no_floor",
         "no_floor_average", "no_floor_any", "ratio0.2", "ratio0.25_z4", "ratio0.25_cut0.4",
         "ratio0.25_cut0.5", "ratio0.25_cut0.5_avg", "ratio0.25_cutz", "geo0.25",
         "ratio0.25_avg0.5")


def score_rules(rec: dict) -> dict[str, dict[str, float]]:
    actual = np.asarray(rec["actual"])
    lc, lk = np.log(rec["preds"]["chinchilla"]), np.log(rec["preds"]["kaplan"])
    out = {}
    for rule in RULES:
        w = rule_weights(rule, rec)
        pred = np.exp(w * lc + (1 - w) * lk)
        out[rule] = {"w_chinchilla": w,
                     "are": float(np.mean(np.abs(pred - actual) / actual)),
                     "rmsle": float(np.sqrt(np.mean((np.log(pred) - np.log(actual)) ** 2)))}
    return out


def family(name: str) -> str:
    """The family a set belongs to: ``synthetic/<truth>``, ``olmo``, ``gadre/<corpus>``."""
    parts = name.split("/")
    return "olmo" if parts[0] == "olmo" else "/".join(parts[:2])


#: Families the rule is chosen on; the Gadre et al. sets are kept for reporting it.
CHOOSE_ON = ("synthetic/chinchilla", "synthetic/kaplan", "synthetic/tie", "olmo")


def summarize(path: str) -> list[dict]:
    """Per family and rule: mean ARE, its ratio to Chinchilla's, the worst per-set ratio."""
    recs = json.loads(Path(path).read_text())["records"]
    rules = json.loads(Path(path).read_text())["rules"]
    rows = []
    for fam in sorted({family(r["set"]) for r in recs}):
        sub = [r for r in recs if family(r["set"]) == fam]
        chin = np.array([r["rules"]["chinchilla"]["are"] for r in sub])
        for rule in rules:
            are = np.array([r["rules"][rule]["are"] for r in sub])
            rows.append({"family": fam, "role": "choose" if fam in CHOOSE_ON else "report",
                         "rule": rule, "n_sets": len(sub), "are_mean": float(are.mean()),
                         "ratio_to_chinchilla": float(are.mean() / chin.mean()),
                         "worst_set_ratio": float(np.max(are / chin))})
    print(f"{'family':<24}{'rule':<20}{'sets':>5}{'ARE':>9}{'/chin':>8}{'worst':>8}")
    for r in rows:
        print(f"{r['family']:<24}{r['rule']:<20}{r['n_sets']:>5}{r['are_mean']:>9.4f}"
              f"{r['ratio_to_chinchilla']:>8.3f}{r['worst_set_ratio']:>8.3f}")
    return rows


# ------------------------------------------------------ designs with known truth
BAR = 1.1  # auto's error must stay within this multiple of the default law's
#: Rules printed beside auto in the designs table (all are stored in the JSON).
SHOWN = ("kaplan", "margin", "ratio0.25", "ratio0.25_cut0.5")


def design_record(job: tuple[str, int, int]) -> dict:
    """Measure one design ``(case, seed root, k)``: both laws, the rules, auto's choice.

    ``chosen_now`` is the library's choice (``select_law``, as ``law="auto"`` makes
    it) and ``auto`` its held-out error: ``fit(law="auto")`` fits that law on the
    same rows with the same settings. For ``k == 0`` the script checks this by
    running ``fit(law="auto")`` itself (``auto_fit``).
    """
    case, root, k = job
    seed = [root, list(CASES).index(case), k]
    train, target = ladder_design(case, seed)
    rec = measure(f"design/{case}/{k}", train, target)
    rec["rules"] = score_rules(rec)
    actual = np.asarray(rec["actual"])
    pred = np.asarray(rec["preds"][rec["chosen_now"]])
    rec |= {"case": case, "truth": CASES[case][0], "seed": seed,
            "auto": {"chosen": rec["chosen_now"],
                     "are": float(np.mean(np.abs(pred - actual) / actual))}}
    if k == 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sl.fit("auto", train[[*X, "loss"]], x=X, y="loss")
        fc = res.predict(n_params=target.n_params.to_numpy(), n_tokens=target.n_tokens.to_numpy())
        rec["auto_fit"] = {"chosen": res.settings["auto"]["chosen"],
                           "max_rel_diff": float(np.max(np.abs(fc / pred - 1)))}
    return rec


def _case_row(case: str, rule: str, sub: list[dict]) -> dict:
    chin = np.array([r["rules"]["chinchilla"]["are"] for r in sub])
    if rule == "auto":
        are = np.array([r["auto"]["are"] for r in sub])
        chosen = [r["auto"]["chosen"] for r in sub]
    else:
        are = np.array([r["rules"][rule]["are"] for r in sub])
        w = [r["rules"][rule]["w_chinchilla"] for r in sub]
        chosen = ["chinchilla" if v == 1 else "kaplan" if v == 0 else "average" for v in w]
    ratio = are / chin
    truth = CASES[case][0]
    return {"case": case, "rule": rule, "n": len(sub),
            "rate_within_bar": float(np.mean(ratio <= BAR)),
            "median_ratio": float(np.median(ratio)),
            "worst_ratio": float(np.max(ratio)), "ratio_of_means": float(are.mean() / chin.mean()),
            "are_mean": float(are.mean()), "chinchilla_are_mean": float(chin.mean()),
            "truth": truth, "truth_chosen_rate": (float(np.mean([c == truth for c in chosen]))
                                                  if truth != "tie" else None),
            "chosen": {c: chosen.count(c) for c in sorted(set(chosen))}}


def _departure(rec: dict) -> dict:
    """A design where auto left Chinchilla: its held-out ratio and the inner evidence."""
    errors = {k: pd.DataFrame(v) for k, v in rec["errors"].items()}
    inner = _score(errors[rec["auto"]["chosen"]], SCORE_CUTS) / _score(errors["chinchilla"],
                                                                       SCORE_CUTS)
    return {"set": rec["set"], "chosen": rec["auto"]["chosen"],
            "ratio": rec["auto"]["are"] / rec["rules"]["chinchilla"]["are"],
            "inner_score_ratio": inner,
            "z": _z(errors, "chinchilla", rec["auto"]["chosen"], SCORE_CUTS)}


def summarize_designs(path: str) -> list[dict]:
    """Per case and rule: the rate within the bar, median and worst ratio, true law chosen.

    The table is also stored in the JSON (``summary``, ``departures``).
    """
    data = json.loads(Path(path).read_text())
    recs, rows = data["records"], []
    for case in CASES:
        sub = [r for r in recs if r["case"] == case]
        if sub:
            rows += [_case_row(case, rule, sub) for rule in ("auto", *data["rules"])]
    left = [_departure(r) for r in recs if r["auto"]["chosen"] != "chinchilla"]
    data["summary"] = rows
    data["departures"] = {"n_designs": len(recs), "n_left_chinchilla": len(left),
                          "n_lower_error": int(sum(d["ratio"] < 1 for d in left)),
                          "n_beyond_bar": int(sum(d["ratio"] > BAR for d in left)),
                          "designs": sorted(left, key=lambda d: d["ratio"])}
    Path(path).write_text(json.dumps(data, indent=1, default=float) + "\n")
    print(f"{'case':<14}{'rule':<12}{'n':>4}{'<=1.1x':>8}{'median':>8}{'worst':>8}"
          f"{'ARE':>8}{'chin ARE':>10}{'truth':>7}  chosen")
    for r in rows:
        if r["rule"] in ("auto", *SHOWN):
            t = "-" if r["truth_chosen_rate"] is None else f"{r['truth_chosen_rate']:.2f}"
            print(f"{r['case']:<14}{r['rule']:<12}{r['n']:>4}{r['rate_within_bar']:>8.2f}"
                  f"{r['median_ratio']:>8.3f}{r['worst_ratio']:>8.3f}{r['are_mean']:>8.4f}"
                  f"{r['chinchilla_are_mean']:>10.4f}{t:>7}  {r['chosen']}")
    checks = [r["auto_fit"] for r in recs if "auto_fit" in r]
    agree = [c for c, r in zip(checks, [r for r in recs if "auto_fit" in r], strict=True)
             if c["chosen"] == r["auto"]["chosen"] and c["max_rel_diff"] < 1e-6]
    print(f"fit(law='auto') agrees with the measured choice and forecast on "
          f"{len(agree)} of {len(checks)} checked designs")
    dep = data["departures"]
    print(f"auto left Chinchilla on {dep['n_left_chinchilla']} of {dep['n_designs']} designs: "
          f"a lower error on {dep['n_lower_error']}, beyond {BAR}x on {dep['n_beyond_bar']}")
    return rows


#: Rules whose held-out error each compact record of ``--merge`` keeps.
COMPACT_RULES = ("chinchilla", "kaplan", "ratio0.25", "ratio0.25_cut0.5")


def merge_designs(paths: list[str], out: str, jobs: int = 2) -> list[dict]:
    """Every rule on the design records of ``paths`` (rescored from their stored inner
    errors and forecasts), per case; writes the table and compact records to ``out``.

    The records' own ``auto`` (the library's choice when they were measured) is not
    used: ``ratio0.25`` is the rule before ``CUT_RATIO``, ``ratio0.25_cut0.5`` the rule
    with it.
    """
    recs, sources = [], []
    for p in paths:
        data = json.loads(Path(p).read_text())
        got = data["records"] if isinstance(data, dict) else data
        recs += got
        sources.append({"path": p, "n": len(got)})
    seen, unique = set(), []
    for r in recs:  # one record per seed
        if tuple(r["seed"]) not in seen:
            seen.add(tuple(r["seed"]))
            unique.append(r)
    with mp.get_context("spawn").Pool(jobs) as pool:
        for r, rules in zip(unique, pool.imap(score_rules, unique, chunksize=8), strict=True):
            r["rules"] = rules
    rows = [_case_row(case, rule, sub) for case in CASES
            if (sub := [r for r in unique if r["case"] == case]) for rule in RULES]
    roots = sorted({r["seed"][0] for r in unique})
    compact = []
    for r in unique:
        errors = {k: pd.DataFrame(v) for k, v in r["errors"].items()}
        per = {c: _score(errors["kaplan"], (c,)) / _score(errors["chinchilla"], (c,))
               for c in (0.5, *SCORE_CUTS)}
        compact.append({"seed": r["seed"], "case": r["case"], "n_train": r["n_train"],
                        "inner_ratio": _score(errors["kaplan"], SCORE_CUTS)
                        / _score(errors["chinchilla"], SCORE_CUTS),
                        "z": _z(errors, "chinchilla", "kaplan", SCORE_CUTS),
                        "cut_ratios": {str(c): v for c, v in per.items()},
                        "are": {k: r["rules"][k]["are"] for k in COMPACT_RULES}})
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({
        "date": str(date.today()), "machine": platform.platform(), "sources": sources,
        "seed_roots": roots, "n_designs": len(unique), "bar": BAR, "rules": list(RULES),
        "summary": rows, "records": compact}, indent=1, default=float) + "\n")
    print(f"{len(unique)} designs (roots {roots}) -> {out}")
    print(f"{'case':<18}{'rule':<22}{'n':>5}{'<=1.1x':>8}{'median':>8}{'worst':>8}  chosen")
    for r in rows:
        print(f"{r['case']:<18}{r['rule']:<22}{r['n']:>5}"
              f"{round(r['rate_within_bar'] * r['n']):>8}{r['median_ratio']:>8.3f}"
              f"{r['worst_ratio']:>8.3f}  {r['chosen']}")
    return rows


def run_designs(k: int, root: int, jobs: int, path: str,
                cases: tuple[str, ...] = DEFAULT_CASES, k0: int = 0) -> None:
    """Measure designs ``k0 <= i < k`` of ``cases`` on the seed root ``root``; save after
    each one."""
    todo = [(case, root, i) for i in range(k0, k) for case in cases]
    records, t0 = [], time.perf_counter()

    def save() -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({
            "date": str(date.today()), "machine": platform.platform(),
            "seconds": time.perf_counter() - t0, "designs_per_case": k, "jobs": jobs,
            "seed_root": root, "bar": BAR, "margin_ratio": MARGIN_RATIO,
            "cut_ratio": CUT_RATIO, "margin_z": MARGIN_Z,
            "cases": {c: [t, list(n)] for c, (t, n) in CASES.items() if c in cases},
            "seeds": {"chose_margin_ratio": "synthetic/<truth>/k: [2026, 12, truth index, "
                      "k], k < 3, and the OLMo ladder",
                      "chose_cut_ratio": f"[{REPORT_ROOT} or {CHOOSE_ROOT}, case index, k] "
                      "(bench/results/two_input_auto_designs_cut_choose.json)",
                      "reported_here": f"[{root}, case index, k], {k0} <= k < {k}",
                      "fresh_for_cut_ratio": list(FRESH_ROOTS),
                      "tests": f"[{TEST_ROOT}, case index, k]"},
            "rules": list(RULES), "records": records}, indent=1, default=float) + "\n")

    with mp.get_context("spawn").Pool(jobs) as pool:
        for rec in pool.imap(design_record, todo):
            records.append(rec)
            print(f"{rec['set']:<24} n={rec['n_train']:>2}/{rec['n_target']} auto "
                  f"{rec['auto']['chosen']:<10} ARE auto {rec['auto']['are']:.4f} chin "
                  f"{rec['rules']['chinchilla']['are']:.4f} kap "
                  f"{rec['rules']['kaplan']['are']:.4f}", flush=True)
            save()  # a cut run keeps the finished designs
    print(f"{len(records)} designs in {time.perf_counter() - t0:.0f} s -> {path}")
    summarize_designs(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", type=int, default=20, help="sets per synthetic truth")
    ap.add_argument("--json", default=None, help="output JSON (default by mode)")
    ap.add_argument("--only", default=None, help="measure only sets whose name has this")
    ap.add_argument("--summarize", action="store_true",
                    help="only print the table of the stored JSON (designs: and store it)")
    ap.add_argument("--designs", type=int, default=0,
                    help="designs with known truth per case (instead of the sets)")
    ap.add_argument("--seed-root", type=int, default=REPORT_ROOT, help="seed root of designs")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the designs")
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES),
                    help=f"cases of the designs, comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--k0", type=int, default=0,
                    help="first design index (designs k0..DESIGNS-1 per case)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                    help="rescore every rule on the design records of these files and "
                    "write the per-case table to --json (no fitting)")
    args = ap.parse_args()
    if args.merge:
        merge_designs(args.merge, args.json or "bench/results/two_input_auto_merged.json",
                      args.jobs)
        return
    if args.designs or (args.summarize and args.json and "designs" in args.json):
        path = args.json or "bench/results/two_input_auto_designs.json"
        if args.summarize:
            summarize_designs(path)
        else:
            cases = tuple(args.cases.split(","))
            if unknown := [c for c in cases if c not in CASES]:
                ap.error(f"unknown case(s) {unknown}; known: {list(CASES)}")
            run_designs(args.designs, args.seed_root, args.jobs, path, cases, args.k0)
        return
    args.json = args.json or "bench/results/two_input_auto.json"
    if args.summarize:
        summarize(args.json)
        return
    sets = public_sets() + synthetic_sets(args.synthetic)  # the public sets first
    if args.only:
        sets = [s for s in sets if args.only in s[0]]
    records = []
    t0 = time.perf_counter()
    for name, tr, te in sets:
        rec = measure(name, tr, te)
        rec["rules"] = score_rules(rec)
        records.append(rec)
        r = rec["rules"]
        print(f"{name:<45} n={rec['n_train']:>2}/{rec['n_target']}  now {rec['chosen_now']:<10}"
              f" ARE chin {r['chinchilla']['are']:.4f} kap {r['kaplan']['are']:.4f} "
              f"avg {r['average']['are']:.4f}", flush=True)
        _save(args.json, records, time.perf_counter() - t0, len(sets))  # a cut run keeps these
    print(f"{len(records)} sets in {time.perf_counter() - t0:.0f} s -> {args.json}")


def _save(path: str, records: list[dict], elapsed: float, n_sets: int) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({
        "date": str(date.today()), "machine": platform.platform(),
        "seconds": elapsed, "n_sets_planned": n_sets, "rules": list(RULES),
        "records": records}, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
