"""``scalelaw chain``: the loss-to-metric chain, fitted on training runs, scored on the rest."""

from __future__ import annotations

import argparse
from typing import Any

from scalelaw.cli._common import _add_input_options, _check_writable, _read, _split, _write_json
from scalelaw.exceptions import ScaleLawError


def _cmd_chain(args: argparse.Namespace) -> int:
    from scalelaw.downstream import backtest_chain

    _check_writable(args.json, "--json")
    df = _read(args)
    kwargs: dict[str, Any] = {"objective": args.objective, "delta": args.delta}
    if args.starts is not None:
        kwargs["starts"] = args.starts
    res = backtest_chain(
        df, x=_split(args.x), via=args.via, y=args.y, first_law=args.loss_law,
        second_law=args.metric_law, holdout_largest=args.holdout_largest,
        split_column=args.split_column, group=args.group, level=args.level,
        n_draws=args.draws, random_state=args.seed,
        calibrate={"none": False, "first": "first", "both": True,
                   "chain": "chain"}[args.calibrate], **kwargs,
    )
    print(res.summary())
    if args.json:
        out = res.to_dict()
        if "derived" in df.attrs:
            out["settings"]["derived_inputs"] = df.attrs["derived"]
        _write_json(out, args.json)
    if res.overall["n_groups"] == 0:
        raise ScaleLawError("no group could be backtested; see the status column above")
    return 0


def _add_chain_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "chain", parents=[common],
        help="loss-to-metric chain: fit on training runs, score held-out runs",
        description="Per group: fit the loss (--via) from the inputs (--x) and the metric "
        "(--y) from the loss on the training rows, forecast the held-out rows' metric from "
        "their inputs alone, with prediction intervals that carry both steps; report the "
        "mean absolute error and the interval coverage. --x N,FLOPS (a column named "
        "flops or compute) derives tokens from C = 6ND.",
    )
    p.add_argument("file", help="a table of runs (CSV, Parquet, JSON, ...), a folder of "
                   "JSON run files, or dataset:NAME")
    p.add_argument("--x", required=True, metavar="COL[,COL]",
                   help="the loss law's input column(s), e.g. n_params,n_tokens")
    p.add_argument("--via", required=True, metavar="COL",
                   help="the intermediate column (the loss)")
    p.add_argument("--y", required=True, metavar="COL", help="the metric column")
    p.add_argument("--loss-law", default="chinchilla",
                   help="law of the loss from --x (default chinchilla; e.g. gadre, "
                   "saturating_power, a formula)")
    p.add_argument("--metric-law", default="logit_linear",
                   help="law of the metric from the loss (default logit_linear; e.g. "
                   "'logit_linear:floor=0.25', olmo_sigmoid, gadre_error, a formula)")
    split = p.add_mutually_exclusive_group(required=True)
    split.add_argument("--holdout-largest", type=int, default=None, metavar="K",
                       help="hold out the K largest-scale rows of each group")
    split.add_argument("--split-column", default=None, metavar="COL",
                       help="1/True/'train' = both steps, 'metric' = the metric step only, "
                       "0/False/'test' = held out, 'skip' = unused")
    p.add_argument("--group", default=None, metavar="COL[,COL]",
                   help="one backtest per value of COL (or combination of columns)")
    p.add_argument("--level", type=float, default=0.9, help="prediction-interval level")
    p.add_argument("--objective", default="huber_log",
                   choices=["huber_log", "mse_log", "mse"], help="objective of both fits")
    p.add_argument("--delta", type=float, default=1e-3, help="Huber threshold")
    p.add_argument("--starts", type=int, default=None, metavar="N",
                   help="starting points per fit (default: each law's grid)")
    p.add_argument("--calibrate", nargs="?", const="both", default="chain",
                   choices=["chain", "first", "both", "none"],
                   help="measure how the forecast error grows beyond the data so the "
                   "intervals grow with the distance: chain (the default) the chain's own "
                   "error toward larger models (both steps refitted on the smaller models); "
                   "first the loss step's, both each step's (refits toward larger runs; "
                   "toward lower loss for the metric step); none: nothing")
    p.add_argument("--draws", type=int, default=4000, metavar="N",
                   help="Monte Carlo draws of the intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws")
    p.add_argument("--json", default=None, metavar="OUT",
                   help="write {'groups': [{'group', 'mae', 'pi_coverage', 'rows': [...]}]}")
    _add_input_options(p)
    p.set_defaults(func=_cmd_chain)
