"""``scalelaw lottery`` and ``scalelaw variance``: seed-outcome distributions and
variance decompositions."""

from __future__ import annotations

import argparse
from typing import Any

from scalelaw.cli._common import (
    UsageError,
    _add_input_options,
    _check_writable,
    _read,
    _split,
    _write_json,
)


def _ci(ci: Any) -> str:
    lo, hi = ci
    return "[   -,    -]" if lo != lo else f"[{lo:5.2f}, {hi:5.2f}]"


# ------------------------------------------------------------------- lottery
def _cmd_lottery(args: argparse.Namespace) -> int:
    from scalelaw.lottery import analyze_lottery

    if args.n_test is not None and args.n_test < 1:
        raise UsageError(f"--n-test must be a positive integer (the test-set size), got "
                         f"{args.n_test}")
    if args.n_boot < 20:
        raise UsageError(f"--n-boot must be at least 20 (bootstrap replicas), got {args.n_boot}")
    if args.random_state < 0:
        raise UsageError(f"--random-state must be a non-negative integer, got "
                         f"{args.random_state}")
    for target, opt in ((args.json, "--json"), (args.plot, "--plot")):
        _check_writable(target, opt)
    args.y = args.value  # what --reduce best minimises
    df = _read(args)
    res = analyze_lottery(df, args.value, size=args.size, seed=args.seed, status=args.status,
                          transform=args.transform, higher_is_better=args.higher_is_better,
                          failures=args.failures, n_test=args.n_test, n_boot=args.n_boot,
                          random_state=args.random_state)
    tr = "" if args.transform == "none" else f" ({args.transform} scale)"
    n_out = res.settings["n_excluded"]
    print(f"Seed lottery of {args.value}{tr}: {len(df)} runs"
          + (f", {n_out} excluded (non-finite or failed)" if n_out else ""))
    print(f"{'size':>10} {'runs':>5} {'mean':>10} {'sd':>9}  {'xi upper':<14} {'class':<13}"
          f"{'xi lower':<14} {'class':<13}{'outliers':>8}")
    for g in res.groups:
        size = "all" if g.size is None else f"{g.size:g}"
        print(f"{size:>10} {g.n_runs:>5} {g.mean:>10.4g} {g.sd:>9.3g}  {_ci(g.xi_upper_ci):<14} "
              f"{g.tail_class_upper:<13}{_ci(g.xi_lower_ci):<14} {g.tail_class_lower:<13}"
              f"{len(g.outliers):>8}")
        for o in g.outliers:
            print(f"{'':>17}outlier: row {o['row']}, {args.value} = {o['value']:.6g} "
                  f"({o['side']}, {o['robust_z']:+.1f} robust sd)")
        if g.failures:
            lo, hi = g.failure_share_ci
            print(f"{'':>17}failures: {len(g.failures)} ({g.failure_share:.0%}, "
                  f"[{lo:.0%}, {hi:.0%}]), rows {g.failures}")
        for tail in ("upper", "lower"):
            print(f"{'':>17}{tail} tail ({g.tail_size} runs): "
                  f"{getattr(g, f'tail_class_{tail}')}: {getattr(g, f'tail_reason_{tail}')}")
        if g.best_of_k:
            kmax = max(g.best_of_k)
            print(f"{'':>17}expected best of {kmax} ({args.value}): {g.best_of_k[kmax]:.6g}")
    t = res.trend
    print(f"trend: {t['verdict']} ({t['reason']})")
    print("note: " + res.settings["xi_coverage"])
    if args.json:
        _write_json(res.to_dict(), args.json)
    if args.plot:
        import matplotlib.pyplot as plt

        from scalelaw.plotting import plot_best_of_k, plot_lottery, plot_tail_index

        fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
        plot_lottery(res, ax=axes[0])
        plot_tail_index(res, ax=axes[1])
        plot_best_of_k(res, ax=axes[2])
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
    return 0


def _add_lottery_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "lottery", parents=[common], help="seed-outcome distributions per model size",
        description="Per model size: mean, sd, MAD, tail ratio, the extreme-value index of "
                    "each tail (moment estimator with a bootstrap interval, GPD fit with a "
                    "profile-likelihood interval) with a tail class that both must agree on "
                    "(heavy, light, bounded; else undecided), outliers, expected best of k "
                    "seeds on the metric's own scale; and the trend across sizes with a "
                    "homogeneity verdict.")
    p.add_argument("file", help="one row per run (csv, parquet, json, jsonl; or a long log "
                   "with --reduce)")
    p.add_argument("--value", required=True, metavar="COL", help="the outcome column")
    p.add_argument("--size", default=None, metavar="COL", help="model-size column")
    p.add_argument("--seed", default=None, metavar="COL",
                   help="seed column (checked: one run per size and seed)")
    p.add_argument("--status", default=None, metavar="COL",
                   help="run-status column: diverged/failed runs are failures")
    p.add_argument("--transform", default="none", choices=["none", "logit", "log"],
                   help="logit for accuracies, log for errors or losses (default none)")
    p.add_argument("--higher-is-better", action="store_true",
                   help="the metric is an accuracy or a score (default: a loss)")
    p.add_argument("--failures", action="store_true",
                   help="set collapsed runs (outliers on the bad side) apart as failures")
    p.add_argument("--n-test", type=int, default=None,
                   help="test-set size: compare the sd of an accuracy with the binomial sd")
    p.add_argument("--n-boot", type=int, default=200,
                   help="bootstrap replicas, at least 20 (default 200)")
    p.add_argument("--random-state", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--json", default=None, metavar="OUT", help="write the result as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png",
                   help="save outcomes, tail indices and best-of-k curves")
    _add_input_options(p)
    p.set_defaults(func=_cmd_lottery, needs_torch=False)


# ------------------------------------------------------------------ variance
def _cmd_variance(args: argparse.Namespace) -> int:
    from scalelaw.io import read_table
    from scalelaw.variance import decompose_table

    if args.threshold is not None and not (args.threshold > 0 and args.threshold < float("inf")):
        raise UsageError(f"--threshold must be a positive size (the interpolation threshold), "
                         f"got {args.threshold:g}")
    factors = _split(args.factors)
    if len(set(factors)) < len(factors):
        twice = next(f for f in factors if factors.count(f) > 1)
        raise UsageError(f"--factors names {twice!r} twice; give each seed column once")
    if args.softmax and args.output is None:
        raise UsageError("--softmax needs --output (the class column)")
    for target, opt in ((args.json, "--json"), (args.plot, "--plot")):
        _check_writable(target, opt)
    res = decompose_table(read_table(args.file), args.prediction, factors=factors,
                          example=args.example, target=args.target, size=args.size,
                          design=args.design, output=args.output, softmax=args.softmax)
    frame = res.to_frame()
    scale = "softmax probabilities, summed over classes; " if args.softmax else (
        "summed over outputs; " if args.output else "")
    print(f"Variance decomposition ({args.design} design: "
          f"{' x '.join(f'{k} {v}' for k, v in res.results[0].levels.items())}; {scale}"
          "unbiased components, averaged over examples)")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if res.settings["n_diverged_runs"]:
        print(f"excluded: {res.settings['n_diverged_runs']} diverged run(s) (non-finite "
              f"{args.prediction}) and {res.settings['n_runs_dropped']} finished run(s) with "
              "their dropped levels, to keep the design complete")
    if (frame["total"] == 0).any():
        print("note: a total of 0 means every run predicts the same: no variance to share "
              "(interaction_share NaN)")
    print("note: interaction_share is computed from the components clipped at 0, so it lies "
          "in [0, 1]; the components printed are unbiased and can be negative")
    if res.peak is not None:
        pk = res.peak
        ci = f" [{pk.size_ci[0]:g}, {pk.size_ci[1]:g}]" if pk.size_ci else ""
        print(f"\nPeak of the variance: size {pk.size:g}{ci} ({pk.level:.0%} bootstrap over "
              f"the crossed draws), {pk.verdict}: {pk.reason}")
    if args.json:
        _write_json(res.to_dict(), args.json)
    if args.plot:
        from scalelaw.plotting import plot_variance

        plot_variance(res, threshold=args.threshold).savefig(args.plot, dpi=110)
    return 0


def _add_variance_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "variance", parents=[common], help="bias and variance components across seeds",
        description="Symmetric (ANOVA) decomposition of the prediction variance into data, "
                    "init and noise effects and their interactions (crossed design), or the "
                    "corrected sequential split (nested design), per model size, from one "
                    "row per run and test example.")
    p.add_argument("file", help="per-example predictions (csv, parquet, json, jsonl)")
    p.add_argument("--prediction", required=True, metavar="COL")
    p.add_argument("--factors", required=True, metavar="C1,C2[,C3]",
                   help="seed columns, e.g. data_seed,init_seed,noise_seed")
    p.add_argument("--example", required=True, metavar="COL", help="test-example id column")
    p.add_argument("--target", default=None, metavar="COL",
                   help="noiseless target column, for bias squared")
    p.add_argument("--size", default=None, metavar="COL", help="model-size column")
    p.add_argument("--design", default="crossed", choices=["crossed", "nested"])
    p.add_argument("--output", default=None, metavar="COL",
                   help="output (class) column of multi-output predictions: components are "
                   "summed over outputs")
    p.add_argument("--softmax", action="store_true",
                   help="the predictions are logits (cross-entropy runs): decompose their "
                   "softmax probabilities over --output")
    p.add_argument("--threshold", type=float, default=None,
                   help="interpolation threshold to mark on the plot (a size)")
    p.add_argument("--json", default=None, metavar="OUT", help="write the result as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png",
                   help="save stacked components against size")
    p.set_defaults(func=_cmd_variance, needs_torch=False)
