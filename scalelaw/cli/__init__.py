"""The ``scalelaw`` command line: a thin layer over the library.

Exit status: 0 on success, 1 on a data or fit error (one line
``scalelaw: error: ...``; the traceback only with ``--debug``), 2 on a usage
error (including options that cannot go together), 130 after Ctrl-C. Only
this module prints. Library warnings (:class:`~scalelaw.ScaleLawWarning`) are
shown as ``scalelaw: warning: ...``; NumPy's floating-point warnings are not
shown unless ``--debug``.

As an application, the command line may change process-wide state where the
library never does: ``scalelaw sweep`` and ``scalelaw demo`` tune the glibc
allocator and torch's thread count (see ``teacher_student.sweep``).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from scalelaw.cli._chain import _add_chain_parser
from scalelaw.cli._common import UsageError
from scalelaw.cli._experiments import _add_demo_parser, _add_reproduce_parser
from scalelaw.cli._fit import _add_backtest_parser, _add_fit_parser, _add_forecast_parser
from scalelaw.cli._plan import _add_plan_parser
from scalelaw.cli._seeds import _add_lottery_parser, _add_variance_parser
from scalelaw.cli._slt import _add_llc_parser, _add_redshift_parser
from scalelaw.cli._spectral import _add_spectrum_parser
from scalelaw.cli._teacher import _add_sweep_parser, _add_tasks_parser
from scalelaw.cli._theory import _add_check_parser, _add_id_parser
from scalelaw.exceptions import ScaleLawError, ScaleLawWarning

__all__ = ["build_parser", "main"]


# -------------------------------------------------------------------- parser
def _version() -> str:
    from scalelaw import __version__

    return f"scalelaw {__version__}"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests).

    Returns
    -------
    argparse.ArgumentParser
        The parser of every sub-command.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and NumPy's floating-point warnings")
    parser = argparse.ArgumentParser(
        prog="scalelaw", parents=[common],
        description="Fit, forecast and test neural scaling laws.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _SUBCOMMANDS:
        add(sub, common)
    return parser


_SUBCOMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    _add_fit_parser, _add_backtest_parser, _add_forecast_parser, _add_tasks_parser,
    _add_sweep_parser, _add_id_parser, _add_check_parser, _add_lottery_parser,
    _add_variance_parser, _add_demo_parser, _add_reproduce_parser,
    _add_llc_parser,
    _add_redshift_parser,
    _add_chain_parser, _add_plan_parser, _add_spectrum_parser,
]


def _show_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
    print(f"scalelaw: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _torch_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.

    Examples
    --------
    >>> main(["fit", "dataset:chinchilla_synthetic", "--law", "power",
    ...       "--x", "n_params", "--y", "loss", "--starts", "3"])  # doctest: +ELLIPSIS
    Scaling-law fit: power ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if getattr(args, "needs_torch", False) and _torch_missing():
        print("scalelaw: error: this command trains students and needs PyTorch: "
              "pip install 'scalelaw[torch]' (scripts/setup.sh installs a CPU build when "
              "no GPU is present).", file=sys.stderr)
        return 1
    with warnings.catch_warnings():
        warnings.simplefilter("always", ScaleLawWarning)
        if not debug:
            warnings.simplefilter("ignore", RuntimeWarning)
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args))
        except UsageError as exc:
            parser.print_usage(sys.stderr)
            print(f"scalelaw: error: {exc}", file=sys.stderr)
            return 2
        except ScaleLawError as exc:
            if debug:
                raise
            msg = " ".join(str(exc).split())
            print(f"scalelaw: error: {msg}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("scalelaw: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # the reader went away (e.g. `scalelaw tasks list | head`): end quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

