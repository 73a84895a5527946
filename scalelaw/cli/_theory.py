"""``scalelaw id`` and ``scalelaw check``: intrinsic dimension and the theory's predictions."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from scalelaw.cli._common import (
    UsageError,
    _add_input_options,
    _check_writable,
    _read,
    _split,
    _write_json,
)
from scalelaw.exceptions import DataValidationError


# ------------------------------------------------------------------------ id
def _cmd_id(args: argparse.Namespace) -> int:
    from scalelaw._validation import check_int
    from scalelaw.intrinsic_dim import check_method, estimate_intrinsic_dim, read_points

    try:
        check_method(args.method)
    except DataValidationError as exc:  # the retired "lpca": a usage error, explained
        raise UsageError(f"--method {args.method}: {exc}") from None
    check_int(args.k, "--k", minimum=3)
    check_int(args.n_boot, "--n-boot", minimum=10)
    if args.max_points is not None:
        check_int(args.max_points, "--max-points", minimum=10)
    if args.seed < 0:
        raise DataValidationError(f"--seed must be >= 0; got {args.seed}.", column="--seed")
    _check_writable(args.json, "--json")
    pts = read_points(args.file, key=args.key,
                      columns=_split(args.columns) if args.columns else None)
    try:
        res = estimate_intrinsic_dim(pts, args.method, k=args.k, n_boot=args.n_boot,
                                     max_points=args.max_points, random_state=args.seed)
    except DataValidationError as exc:  # name the file the points came from
        raise DataValidationError(f"{args.file}: {exc}", column=exc.column) from None
    print(_id_line(args.file, res))
    for w in res.warnings:
        print(f"  note: {w}")
    if args.json:
        _write_json(res.to_dict(), args.json)
    return 0


def _id_line(file: str, res: Any) -> str:
    lo, hi = res.ci
    line = (f"{file}: intrinsic dimension {res.dimension:.2f} [{lo:.2f}, {hi:.2f}] "
            f"({res.method}; {res.level:.0%} interval for the true dimension, covering "
            f"{res.interval_covers}; {res.n_points} points in {res.ambient_dim} dimensions)")
    if res.dimension_corrected is not None and res.sampling_ci is not None:
        s_lo, s_hi = res.sampling_ci
        line += (f"\n  bias-corrected {res.dimension_corrected:.2f}; bootstrap interval of the "
                 f"estimate alone (sampling error only) [{s_lo:.2f}, {s_hi:.2f}]")
    return line


def _add_id_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "id", parents=[common], help="intrinsic dimension of points (embeddings, activations)",
        description="Intrinsic dimension of a point cloud (TwoNN or MLE from "
                    "scikit-dimension, or the global PCA of the linear span) with an interval "
                    "for the true dimension: for TwoNN and MLE (k = 20) it carries the "
                    "estimator's bias calibrated on manifolds of known dimension; otherwise "
                    "it covers sampling error only, and says so. Estimates above 12 read low "
                    "and are flagged as lower bounds. Grids and lattices (tied neighbour "
                    "distances) are refused.")
    p.add_argument("file", help=".npy, .npz, .parquet or .csv (one point per row)")
    p.add_argument("--method", default="twonn", choices=["twonn", "mle", "global_pca", "lpca"],
                   help="estimator (default twonn); lpca is retired: it was a global PCA, "
                        "now global_pca")
    p.add_argument("--key", default=None, help="array name in an .npz holding several")
    p.add_argument("--columns", default=None, metavar="C1,C2,...",
                   help="table columns (default: every numeric column)")
    p.add_argument("--k", type=int, default=20, help="neighbours of the MLE (default 20)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicas (default 200)")
    p.add_argument("--max-points", type=int, default=None,
                   help="subsample to this many points first (seeded)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and subsample")
    p.add_argument("--json", default=None, metavar="OUT", help="write the estimate as JSON")
    p.set_defaults(func=_cmd_id, needs_torch=False)


# --------------------------------------------------------------------- check
def _dimension_arg(args: argparse.Namespace) -> Any:
    if args.dimension is not None and args.id_data is not None:
        raise UsageError("give --dimension or --id-data, not both")
    if args.dimension is not None:
        if not (math.isfinite(args.dimension) and args.dimension > 0):
            raise DataValidationError(
                f"--dimension must be a finite positive number; got {args.dimension:g}.",
                column="dimension")
        return args.dimension
    if args.id_data is None:
        return None
    from scalelaw.intrinsic_dim import check_method, estimate_intrinsic_dim, read_points

    try:
        check_method(args.method)
    except DataValidationError as exc:  # the retired "lpca": a usage error, explained
        raise UsageError(f"--method {args.method}: {exc}") from None
    res = estimate_intrinsic_dim(read_points(args.id_data), args.method,
                                 random_state=args.seed)
    print(f"intrinsic dimension of {args.id_data}: {res.dimension:.2f} "
          f"[{res.ci[0]:.2f}, {res.ci[1]:.2f}] ({res.method}; interval covering "
          f"{res.interval_covers})", file=sys.stderr)
    return res


def _window_arg(text: str) -> Any:
    if text in ("auto", "all"):
        return text
    parts = _split(text)
    try:
        lo, hi = (float(v) for v in parts)
    except ValueError:
        raise UsageError(f"--window takes auto, all or LO,HI; got {text!r}.") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise UsageError(f"--window LO,HI needs finite sizes with 0 < LO < HI; got {text!r}"
                         + (f" (did you mean {hi:g},{lo:g}?)" if 0 < hi < lo else "") + ".")
    return (lo, hi)


def _check_options(args: argparse.Namespace) -> dict[str, Any]:
    """Validate the options that need no data (before any work)."""
    if args.tolerance is not None and not 0.0 < args.tolerance < 1.0:
        raise DataValidationError(
            f"--tolerance (the margin relative to the prediction) must be in (0, 1); got "
            f"{args.tolerance:g}.", column="tolerance")
    if args.exponent is not None and not args.exponent > 0:
        raise DataValidationError(f"--exponent must be positive; got {args.exponent:g}.",
                                  column="exponent")
    if args.n_boot < 10:
        raise DataValidationError(f"--n-boot must be at least 10; got {args.n_boot}.",
                                  column="n_boot")
    if args.correction and args.no_correction:
        raise UsageError("give --correction or --no-correction, not both")
    correct = True if args.correction else (False if args.no_correction else None)
    return {"tolerance": args.tolerance, "exponent": args.exponent, "model": args.model,
            "correct_finite_sample": correct, "interval": args.interval,
            "n_boot": args.n_boot, "random_state": args.seed}


def _cmd_check(args: argparse.Namespace) -> int:
    from scalelaw.theory import check_scaling

    for target, opt in ((args.json, "--json"), (args.plot, "--plot")):
        _check_writable(target, opt)
    window = _window_arg(args.window)
    opts = _check_options(args)
    dimension = _dimension_arg(args)
    df = _read(args)
    l_inf: Any = args.l_inf
    if l_inf is not None and l_inf not in df.columns:
        try:
            l_inf = float(l_inf)
        except ValueError:
            raise DataValidationError(f"--l-inf {l_inf!r} is neither a column nor a number.",
                                      column="l_inf") from None
    checks = check_scaling(df, args.x, args.y, group=args.group, regime=args.regime,
                           dimension=dimension, l_inf=l_inf, window=window,
                           n_params=args.n_params, n_train=args.n_train,
                           drop_invalid=args.drop_invalid, **opts)
    print(_check_table(checks))
    if args.json:
        _write_json({"checks": [c.to_dict() for c in checks]}, args.json)
    if args.plot:
        from scalelaw.plotting import plot_checks

        plot_checks(checks, x=args.x, y=args.y).savefig(args.plot, dpi=120)
    return 0


def _f(v: float, spec: str = ".3f") -> str:
    return format(v, spec) if v == v else "-"


def _check_table(checks: list[Any]) -> str:
    """Each check: its exponent and window, then every question with its margin and numbers."""
    lines = []
    for c in checks:
        head = f"{'' if c.group is None else str(c.group) + ': '}{c.regime}"
        if c.fit is None:
            lines.append(f"{head}: {c.verdict}: {c.reason}")
            continue
        f = c.fit
        lines.append(f"{head}: alpha = {_f(c.alpha)} [{_f(c.alpha_ci[0])}, "
                     f"{_f(c.alpha_ci[1])}] ({f.level:.0%}; {f.ci_method}); window "
                     f"{f.window[0]:g}-{f.window[1]:g}, {f.n_points} sizes")
        if f.alpha_corrected is not None:
            lines.append(f"    finite-sample correction ({f.correction}) "
                         f"{f.correction_reason}: raw {_f(f.alpha_raw)}, corrected "
                         f"{_f(f.alpha_corrected)}")
        for q in c.questions:
            lines.append(f"    {q.verdict:<13} {q.question}")
            lines.append(f"    {'':<13} {q.reason}")
        for note in f.notes:
            lines.append(f"    note: {note}")
    return "\n".join(lines)


def _add_check_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "check", parents=[common],
        help="test resolution-limited (alpha >= 4/d) and variance-limited (alpha = 1) scaling",
        description="Fit the scaling exponent of each slice of a sweep over a window chosen "
                    "by a stated rule and test the theory as equivalence questions with a "
                    "margin: alpha >= 4/d and 4/alpha ~ d (resolution-limited), alpha = 1 "
                    "(variance-limited). Verdicts: consistent (the interval lies inside the "
                    "band), inconsistent (entirely outside), inconclusive (it straddles an "
                    "end), with the numbers behind them.")
    p.add_argument("file", help="runs table (one row per run), log file or dataset:NAME")
    p.add_argument("--x", required=True, help="the varied size: n_train, n_params or width")
    p.add_argument("--y", required=True, help="the loss column")
    p.add_argument("--group", default=None, help="one check per value of this column")
    p.add_argument("--regime", default="auto", choices=["auto", "resolution", "variance"],
                   help="auto: from the sizes (D >> P, P >> D or crossover)")
    p.add_argument("--dimension", type=float, default=None, metavar="D",
                   help="intrinsic dimension for 4/d (nominal)")
    p.add_argument("--id-data", default=None, metavar="FILE",
                   help="measure d on these points (.npy/.npz/.parquet/.csv) instead")
    p.add_argument("--method", default="twonn", choices=["twonn", "mle", "global_pca", "lpca"],
                   help="estimator for --id-data (lpca is retired: now global_pca)")
    p.add_argument("--seed", type=int, default=0,
                   help="bootstrap seed (--id-data and --interval bootstrap)")
    p.add_argument("--window", default="auto", metavar="auto|all|LO,HI",
                   help="sizes to fit (default: the stated rule; see the README)")
    p.add_argument("--l-inf", default=None, metavar="COL|VALUE",
                   help="variance-limited L_inf (default: fitted as a free offset)")
    p.add_argument("--n-params", default="n_params", metavar="COL",
                   help="parameter-count column (default n_params)")
    p.add_argument("--n-train", default="n_train", metavar="COL",
                   help="training-set-size column (default n_train)")
    p.add_argument("--tolerance", type=float, default=None, metavar="T",
                   help="margin relative to the prediction, in (0, 1) (default 0.15 "
                        "variance-limited, 0.2 resolution-limited; see the README)")
    p.add_argument("--exponent", type=float, default=None, metavar="ALPHA",
                   help="resolution-limited: an exponent the theory predicts exactly "
                        "(e.g. a random-feature model's alpha_K) instead of 4/d")
    p.add_argument("--model", default="trained", choices=["trained", "linear"],
                   help="trained network (default) or a model linear in its parameters "
                        "(random features, linearised network: finite-sample correction on)")
    p.add_argument("--correction", action="store_true",
                   help="variance-limited: judge the exponent against D - P - 1 (or "
                        "P - D - 1) whatever --model says")
    p.add_argument("--no-correction", action="store_true",
                   help="variance-limited: judge the exponent against D (or P) itself")
    p.add_argument("--interval", default="auto",
                   choices=["auto", "t", "cluster", "bootstrap"],
                   help="interval of the exponent (default auto: cluster-robust over "
                        "seeds when 3 or more are shared across sizes, else t)")
    p.add_argument("--n-boot", type=int, default=1000,
                   help="bootstrap draws for --interval bootstrap (default 1000)")
    p.add_argument("--drop-invalid", action="store_true",
                   help="exclude runs whose size or loss is text (such as 'diverged'), "
                   "missing, infinite or not positive (counted) instead of failing")
    p.add_argument("--json", default=None, metavar="OUT", help='write {"checks": [...]}')
    p.add_argument("--plot", default=None, metavar="OUT.png", help="save a log-log plot")
    _add_input_options(p)
    p.set_defaults(func=_cmd_check, needs_torch=False)
