"""``scalelaw demo`` and ``scalelaw reproduce``: the theory end to end."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scalelaw.cli._common import _check_out_dir


def _run(name: str, scale: str, args: argparse.Namespace) -> int:
    from scalelaw.experiments import run_study, summary_table

    out = _check_out_dir(args.out, "--out")
    print(f"{name} ({scale} scale): training into {out}/sweeps (a rerun resumes) ...",
          file=sys.stderr)
    res = run_study(name, scale, out, device=args.device, lanes=args.lanes,
                    progress=not args.no_progress)
    table = summary_table(res.checks)
    print(table.to_string(index=False))
    seeds = res.summary.get("seeds")
    if seeds:
        print(f"\nseeds (random-features double descent, n = {seeds['n_train']}): variance "
              f"peaks at width {seeds['peak_width']}; run-outcome tails per width: "
              + ", ".join(f"{g['size']:g}: {g['tail_class_upper']} (xi {g['xi_upper']:.2f})"
                          for g in seeds["lottery"]["groups"]))
    print(f"\nreport: {out / 'report.html'} (and report.md, summary.json, PNG plots); "
          f"{res.summary['wall_time_s']:.0f} s")
    if res.interrupted:
        print("scalelaw: interrupted; finished runs are saved, rerun the same command to "
              "resume.", file=sys.stderr)
        return 130
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    return _run("demo", args.scale, args)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    if args.out is None:
        args.out = f"scalelaw-{args.paper}-{args.scale}"
    return _run(args.paper, args.scale, args)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, choices=["cpu", "cuda"],
                   help="default: CUDA when present")
    p.add_argument("--lanes", type=int, default=None,
                   help="sweeps trained in parallel (default: one per CPU; 1 on CUDA)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_demo_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo", parents=[common],
        help="train small students, measure intrinsic dimensions, check the theory",
        description="Small sweeps on built-in teacher-student tasks (d = 2, 4 data scaling; "
                    "width-8 variance-limited data scaling with label noise), the exactly "
                    "solvable random-feature model, intrinsic dimensions of the data and of "
                    "the students' last hidden layers, the four regime checks and a report. "
                    "No downloads; under 5 minutes on 2 CPU cores.")
    p.add_argument("--out", default="scalelaw-demo", help="output directory")
    p.add_argument("--scale", default="demo", choices=["test", "demo"],
                   help="test: a ~30 s smoke run (too small for verdicts)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_demo, needs_torch=True)


def _add_reproduce_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "reproduce", parents=[common], help="published protocols, compared with the papers",
        description="Bahri et al. (2021) data scaling (4/alpha_D against d, variance-limited "
                    "alpha = 1) or Sharma & Kaplan (2020) model scaling (4/alpha_P against the "
                    "intrinsic dimension of the students' representation). Resumable.")
    p.add_argument("paper", choices=["bahri", "sharma-kaplan"])
    p.add_argument("--scale", default="quick", choices=["test", "quick", "paper"],
                   help="quick: a CPU-sized version; paper: the published protocol (a GPU job)")
    p.add_argument("--out", default=None, help="output directory "
                   "(default scalelaw-PAPER-SCALE)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_reproduce, needs_torch=True)
