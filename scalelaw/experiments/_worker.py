"""A lane of a study: ``python -m scalelaw.experiments._worker JOB RESULT`` (pickles)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from scalelaw.experiments._lanes import _lane


def main(argv: list[str]) -> int:
    """Train and measure the sweep of ``JOB``; write its :class:`SweepOutcome` to ``RESULT``."""
    sweep, out, device, threads, n_inputs = pickle.loads(Path(argv[0]).read_bytes())
    outcome = _lane(sweep, out, device, threads, n_inputs)
    Path(argv[1]).write_bytes(pickle.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
