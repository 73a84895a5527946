#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh --dev) and run the test suite. Extra arguments go to
# pytest, e.g. scripts/test.sh --runslow for the long statistical checks.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
# pytest exits 5 when no test was collected (e.g. a -k filter matched nothing)
if [ "$rc" -eq 5 ]; then
  echo "test: no tests collected"
  rc=0
fi
exit "$rc"
