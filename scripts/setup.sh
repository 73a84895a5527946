#!/usr/bin/env bash
# Create .venv and install scalelaw into it.
#   scripts/setup.sh          the package with all extras (torch, intrinsic dimension, ...)
#   scripts/setup.sh --dev    the same plus the test tools
# torch: a GPU machine gets pip's default (CUDA) build; a machine without a GPU gets a
# CPU build: from PyTorch's CPU index when it is reachable, else a CPU wheel that pip's
# configured find-links already hold. TORCH_SPEC overrides the requirement (default
# "torch>=2.3"; nothing is pinned). Set SCALELAW_NO_TORCH=1 to skip torch: the fitting
# core works without it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras="all"
[ "${1:-}" = "--dev" ] && extras="all,dev"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip >/dev/null 2>&1 || true
spec=${TORCH_SPEC:-"torch>=2.4"}
if [ "${SCALELAW_NO_TORCH:-0}" = "1" ]; then
  extras=${extras/all/id,tensorboard,distributed}
elif ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: GPU found; installing $spec (CUDA build)"
    "${pip[@]}" install "$spec"
  else
    echo "setup: no GPU; installing a CPU build of $spec"
    if ! "${pip[@]}" install "$spec" --index-url https://download.pytorch.org/whl/cpu \
         --timeout 15 --retries 0 >/dev/null 2>&1; then
      # PyTorch's index is unreachable: use a local CPU wheel from pip's find-links
      # (--no-index keeps pip away from the CUDA builds on PyPI), then its dependencies.
      if "${pip[@]}" install --no-index --no-deps --only-binary=:all: "$spec" 2>/dev/null; then
        "${pip[@]}" install "$spec"
      else
        echo "setup: no CPU build of torch is reachable (PyTorch's CPU index is offline" >&2
        echo "       and pip's find-links hold none). Install one yourself, set TORCH_SPEC," >&2
        echo "       or run with SCALELAW_NO_TORCH=1 for the fitting core only." >&2
        exit 1
      fi
    fi
    if ! .venv/bin/python -c "import torch,sys; sys.exit(torch.version.cuda is not None)"; then
      echo "setup: warning: the installed torch is a CUDA build" >&2
    fi
  fi
fi
"${pip[@]}" install -e ".[$extras]"
echo "setup: done ($(.venv/bin/python -c 'import scalelaw; print("scalelaw", scalelaw.__version__)'))"
