#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh --dev) and run the test suite on every CPU
# (pytest-xdist; TEST_WORKERS=N sets the number of workers, 0 runs in this process).
# Extra arguments go to pytest, e.g. scripts/test.sh --runslow for the long
# statistical checks.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev || exit 1
.venv/bin/python -m pytest -n "${TEST_WORKERS:-auto}" "$@"
rc=$?
# pytest exits 5 when no test was collected (e.g. a -k filter matched nothing)
if [ "$rc" -eq 5 ]; then
  echo "test: no tests collected"
  rc=0
fi
exit "$rc"
