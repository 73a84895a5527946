"""``scalelaw lottery`` and ``scalelaw variance``: seed-outcome distributions and
variance decompositions."""

from __future__ import annotations

import argparse
from typing import Any

from scalelaw.cli._common import _add_input_options, _check_writable, _read, _split, _write_json


def _ci(ci: Any) -> str:
    lo, hi = ci
    return "[   -,    -]" if lo != lo else f"[{lo:5.2f}, {hi:5.2f}]"


# ------------------------------------------------------------------- lottery
def _cmd_lottery(args: argparse.Namespace) -> int:
    from scalelaw.lottery import analyze_lottery

    for target, opt in ((args.json, "--json"), (args.plot, "--plot")):
        _check_writable(target, opt)
    args.y = args.value  # what --reduce best minimises
    df = _read(args)
    res = analyze_lottery(df, args.value, size=args.size, seed=args.seed, status=args.status,
                          transform=args.transform, higher_is_better=args.higher_is_better,
                          failures=args.failures, n_test=args.n_test, n_boot=args.n_boot,
                          random_state=args.random_state)
    tr = "" if args.transform == "none" else f" ({args.transform} scale)"
    print(f"Seed lottery of {args.value}{tr}: {len(df)} runs")
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
    t = res.trend
    print(f"trend: {t['verdict']} ({t['reason']})")
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
                    "each tail (moment and GPD, bootstrap intervals) with a tail class "
                    "(heavy, light, bounded, inconclusive), outliers, expected best of k "
                    "seeds; and the trend across sizes with a homogeneity verdict.")
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
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicas (default 200)")
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

    for target, opt in ((args.json, "--json"), (args.plot, "--plot")):
        _check_writable(target, opt)
    res = decompose_table(read_table(args.file), args.prediction, factors=_split(args.factors),
                          example=args.example, target=args.target, size=args.size,
                          design=args.design)
    frame = res.to_frame()
    print(f"Variance decomposition ({args.design} design: "
          f"{' x '.join(f'{k} {v}' for k, v in res.results[0].levels.items())}; "
          "unbiased components, averaged over examples)")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
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
    p.add_argument("--threshold", type=float, default=None,
                   help="interpolation threshold to mark on the plot (a size)")
    p.add_argument("--json", default=None, metavar="OUT", help="write the result as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png",
                   help="save stacked components against size")
    p.set_defaults(func=_cmd_variance, needs_torch=False)
