"""``scalelaw plan``: the next runs within a compute budget that best narrow the forecast."""

from __future__ import annotations

import argparse
from typing import Any

from scalelaw.cli._common import UsageError, _check_writable, _write_json
from scalelaw.exceptions import DataValidationError


def _cmd_plan(args: argparse.Namespace) -> int:
    from scalelaw.planning import plan_runs
    from scalelaw.results import read_fit

    if (args.target_flops is None) == (args.target is None):
        raise UsageError("give exactly one of --target-flops C and --target COL=N,COL=D.")
    _check_writable(args.json, "--json")
    res = read_fit(args.fit_json, args.group)
    target = None
    if args.target is not None:
        target = {}
        for item in args.target.split(","):
            k, eq, v = item.partition("=")
            try:
                target[k.strip()] = float(v)
            except ValueError:
                eq = ""
            if not eq:
                raise DataValidationError(f"--target takes COL=NUMBER pairs separated by "
                                          f"commas; got {item!r}.", column="target")
    plan = plan_runs(res, budget=args.budget, target_flops=args.target_flops, target=target,
                     n_runs=args.k, flops_per_param_token=args.flops_per_param_token,
                     level=args.level, grid=args.grid)
    print(plan.summary())
    if args.json:
        _write_json(plan.to_dict(), args.json)
    return 0


def _add_plan_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "plan", parents=[common],
        help="propose the next runs that most shrink the forecast interval at a target",
        description="From a saved fit of a two-input law (scalelaw fit --json), choose the "
        "next K runs whose total compute fits --budget and that most shrink the expected "
        "forecast interval at the target (a compute budget at its compute-optimal point, or "
        "an explicit N and D), from the fit's covariance (Fisher information update, "
        "residual scale held fixed); print the expected width before and after.",
    )
    p.add_argument("fit_json", metavar="FIT.json")
    p.add_argument("--budget", type=float, required=True, metavar="FLOPS",
                   help="total compute of the proposed runs")
    p.add_argument("--target-flops", type=float, default=None, metavar="C",
                   help="forecast target: the compute-optimal point of this budget")
    p.add_argument("--target", default=None, metavar="COL=N,COL=D",
                   help="forecast target by its inputs, e.g. n_params=7e10,n_tokens=1.4e12")
    p.add_argument("-k", "--runs", dest="k", type=int, default=3, help="number of runs")
    p.add_argument("--flops-per-param-token", type=float, default=6.0,
                   help="k in C = k N D (default 6)")
    p.add_argument("--level", type=float, default=None,
                   help="interval level (default: the fit's)")
    p.add_argument("--grid", type=int, default=24,
                   help="candidate grid points per axis (model size, tokens per parameter)")
    p.add_argument("--group", default=None, help="with a grouped fit JSON: the group")
    p.add_argument("--json", default=None, metavar="OUT", help="write the plan as JSON")
    p.set_defaults(func=_cmd_plan)
