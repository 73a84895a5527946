"""A lane of a study: ``python -m scalelaw.experiments._worker JOB RESULT PARENT_PID`` (pickles).

A lane dies with the study that started it: a watchdog thread notices when
the parent process is gone (killed, SIGKILL included: the lane is then
re-parented) and interrupts the lane as Ctrl-C would, so it saves its
finished runs and exits; if it has not exited 30 s later it is ended.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from pathlib import Path

from scalelaw.experiments._lanes import _lane

#: Seconds between checks of the parent, and the grace period to save finished runs.
POLL_S = 0.5
GRACE_S = 30.0


def watch_parent(parent_pid: int, *, poll_s: float = POLL_S, grace_s: float = GRACE_S) -> None:
    """Interrupt this process (SIGINT) when ``parent_pid`` is no longer its parent.

    Runs a daemon thread; after the interrupt, the process is ended
    (``os._exit(130)``) if it is still alive ``grace_s`` seconds later.
    """
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(grace_s)
        os._exit(130)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def main(argv: list[str]) -> int:
    """Train and measure the sweep of ``JOB``; write its :class:`SweepOutcome` to ``RESULT``."""
    # a lane started from a background shell inherits an ignored SIGINT: restore
    # Python's handler, so the watchdog's (and the study's) interrupt saves and exits
    signal.signal(signal.SIGINT, signal.default_int_handler)
    watch_parent(int(argv[2]) if len(argv) > 2 else os.getppid())
    sweep, out, device, threads, n_inputs = pickle.loads(Path(argv[0]).read_bytes())
    outcome = _lane(sweep, out, device, threads, n_inputs)
    Path(argv[1]).write_bytes(pickle.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
