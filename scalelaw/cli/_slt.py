"""``scalelaw llc`` and ``scalelaw redshift``: effective parameters of trained students and
the simplicity bias of random networks."""

from __future__ import annotations

import argparse
from typing import Any

from scalelaw.cli._common import _check_writable, _split, _write_json
from scalelaw.exceptions import DataValidationError


# ----------------------------------------------------------------------- llc
def _step_size(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not v > 0 or v == float("inf"):
        raise DataValidationError(f"--step-size must be 'auto' or a positive number; got "
                                  f"{text!r}.", column="--step-size")
    return v


def _cmd_llc(args: argparse.Namespace) -> int:
    from teacher_student.llc import check_llc_runs, measure_llc

    for target, opt in ((args.json, "--json"), (args.plot, "--plot")):
        _check_writable(target, opt)
    step = _step_size(args.step_size)
    for name in ("chains", "steps"):
        if getattr(args, name) < (1 if name == "chains" else 10):
            raise DataValidationError(f"--{name} must be at least "
                                      f"{1 if name == 'chains' else 10}; got "
                                      f"{getattr(args, name)}.", column=f"--{name}")
    if not args.localization >= 0:
        raise DataValidationError(f"--localization must be >= 0; got {args.localization}.",
                                  column="--localization")
    chosen = check_llc_runs(args.sweep_dir, args.run)  # before any work
    print(f"Local learning coefficient of {len(chosen)} run(s) of {args.sweep_dir} "
          f"({args.sampler}, {args.chains} chains x {args.steps} steps"
          f"{', checked at half the step' if not args.no_check else ''})")
    res = measure_llc(args.sweep_dir, runs=args.run, n_chains=args.chains, n_steps=args.steps,
                      step_size=step, localization=args.localization, nbeta=args.nbeta,
                      sampler=args.sampler, seed=args.seed, check_step=not args.no_check,
                      progress=True)
    print(f"{'run_id':<17}{'width':>6}{'P':>8}{'n':>7}{'llc':>9}{'sd':>8}{'llc/(P/2)':>10}"
          "  stable")
    for r in res.runs.itertuples():
        print(f"{r.run_id:<17}{r.width:>6}{r.n_params:>8}{r.n_train:>7}{r.llc:>9.3f}"
              f"{r.llc_sd:>8.3f}{r.effective_params:>10.4f}  {'yes' if r.stable else 'NO'}")
        if not r.stable:
            print(f"{'':>17}{r.reason}")
    if args.json:
        _write_json(res.to_dict(), args.json)
    if args.plot:
        from scalelaw.plotting import plot_llc

        plot_llc(res.runs, traces={k: v.loss_trace for k, v in res.estimates.items()}
                 ).savefig(args.plot, dpi=110)
    return 0


def _add_llc_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "llc", parents=[common], help="local learning coefficient of a sweep's kept students",
        description="Langevin sampling localised at each kept student's weights, with L_n its "
                    "own training loss on its whole training set: lambda_hat = n beta "
                    "(E[L_n] - L_n(w*)), n beta = n / log n, several chains, checked at half "
                    "the step size; llc / (P/2) is the share of parameters that count.")
    p.add_argument("sweep_dir", help="a sweep directory run with keep_weights = true")
    p.add_argument("--run", action="append", default=None, metavar="ID",
                   help="a run id (repeat for several; default every finished run)")
    p.add_argument("--chains", type=int, default=4, help="chains per run (default 4)")
    p.add_argument("--steps", type=int, default=3000,
                   help="steps per chain, half of them burn-in (default 3000)")
    p.add_argument("--step-size", default="auto",
                   help="Langevin step, or 'auto' (adapted during burn-in; default)")
    p.add_argument("--localization", type=float, default=1.0,
                   help="gamma, the tether to the trained weights (default 1)")
    p.add_argument("--nbeta", type=float, default=None, help="n beta (default n / log n)")
    p.add_argument("--sampler", choices=["mala", "sgld"], default="mala",
                   help="Metropolis-adjusted (default) or unadjusted Langevin steps")
    p.add_argument("--seed", type=int, default=0, help="seed of the chains")
    p.add_argument("--no-check", action="store_true",
                   help="skip the repeat at half the step size")
    p.add_argument("--json", default=None, metavar="OUT", help="write the result as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png",
                   help="save llc and llc/(P/2) against size, and the loss traces")
    p.set_defaults(func=_cmd_llc, needs_torch=True)


# ------------------------------------------------------------------ redshift
def _numbers(text: str, option: str, kind: type) -> list[Any]:
    out = []
    for item in _split(text):
        try:
            out.append(kind(item))
        except ValueError:
            raise DataValidationError(f"{option} takes {kind.__name__}s separated by commas; "
                                      f"got {item!r}.", column=option) from None
    if not out:
        raise DataValidationError(f"{option} is empty.", column=option)
    return out


def _cmd_redshift(args: argparse.Namespace) -> int:
    from scalelaw.redshift import check_redshift_args, random_network_complexity

    for target, opt in ((args.json, "--json"), (args.plot, "--plot")):
        _check_writable(target, opt)
    acts = _split(args.activations)
    depths = _numbers(args.depths, "--depths", int)
    scales = _numbers(args.weight_scales, "--weight-scales", float)
    widths = _numbers(args.widths, "--widths", int)
    for option, vals, low in (("--depths", depths, 1), ("--widths", widths, 1)):
        bad = [v for v in vals if v < low]
        if bad:
            raise DataValidationError(f"{option} must be >= {low}; got {bad[0]}.", column=option)
    bad = [v for v in scales if not v > 0]
    if bad:
        raise DataValidationError(f"--weight-scales must be positive; got {bad[0]}.",
                                  column="--weight-scales")
    check_redshift_args(acts, depths, scales, widths, args.n_init, args.grid)  # before work
    res = random_network_complexity(
        acts, depths, scales, widths, layernorm=[False, True] if args.layernorm else False,
        residual=[False, True] if args.residual else False, n_init=args.n_init, grid=args.grid,
        seed=args.seed, progress=True)
    rows = res.rows
    print(f"Complexity of random networks ({res.settings['n_networks']} networks, "
          f"{args.grid} x {args.grid} grid, {res.settings['seconds']:.1f} s); frequency: "
          "power-weighted mean, cycles across the square, 95 % interval")
    print(f"{'activation':<11}{'ln':>3}{'res':>4}{'width':>6}{'depth':>6}{'scale':>6}"
          f"{'frequency':>11}{'interval':>18}{'compress':>9}{'order':>7}")
    for r in rows.itertuples():
        lo, hi = r.frequency_ci
        print(f"{r.activation:<11}{'y' if r.layernorm else '-':>3}{'y' if r.residual else '-':>4}"
              f"{r.width:>6}{r.depth:>6}{r.weight_scale:>6g}{r.frequency:>11.3f}"
              f"{f'[{lo:.3f}, {hi:.3f}]':>18}{r.compressibility:>9.2f}"
              f"{r.polynomial_order:>7.2f}")
    if args.json:
        _write_json(res.to_dict(), args.json)
    if args.plot:
        from scalelaw.plotting import plot_redshift

        plot_redshift(res.rows).savefig(args.plot, dpi=110)
    return 0


def _add_redshift_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "redshift", parents=[common], help="simplicity bias of random networks",
        description="Random MLPs R^2 -> R (weights and biases uniform, PyTorch's default "
                    "range times the weight scale) on a square grid: mean frequency of the "
                    "power spectrum, compressibility of the 8-bit output and the mean order "
                    "of a Legendre fit, with intervals over initialisations (Teney et al. "
                    "2024). --layernorm and --residual add those variants beside the plain "
                    "networks.")
    p.add_argument("--activations", default="relu,gelu,tanh,gauss,sin",
                   help="comma-separated: relu, gelu, tanh, gauss, sin (default all)")
    p.add_argument("--depths", default="1,2,4,8", help="hidden layers (default 1,2,4,8)")
    p.add_argument("--weight-scales", default="0.5,1,2,4",
                   help="weight scales s (default 0.5,1,2,4)")
    p.add_argument("--widths", default="64",
                   help="units per layer (default 64; 16,64,256 tests the width claim)")
    p.add_argument("--layernorm", action="store_true", help="also with layer norm")
    p.add_argument("--residual", action="store_true", help="also with residual blocks")
    p.add_argument("--n-init", type=int, default=100,
                   help="initialisations per architecture (default 100)")
    p.add_argument("--grid", type=int, default=64, help="grid points per side (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights")
    p.add_argument("--json", default=None, metavar="OUT", help="write the rows as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png",
                   help="save frequency against depth and weight scale")
    p.set_defaults(func=_cmd_redshift, needs_torch=True)
