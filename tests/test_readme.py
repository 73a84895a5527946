"""The README's Python examples run as written (every doc example is tested)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


def test_readme_examples_run_in_order(tmp_path, monkeypatch):
    # the blocks read as one session: later ones use names set by earlier ones
    import scalelaw as sl

    monkeypatch.chdir(tmp_path)  # examples may write files (fit.png)
    namespace: dict = {}
    with warnings.catch_warnings():
        # the forecast examples extrapolate on purpose (the guard is overridden)
        warnings.simplefilter("ignore", sl.ExtrapolationWarning)
        for index, block in enumerate(BLOCKS):
            exec(compile(block, f"README block {index}", "exec"), namespace)
    assert (tmp_path / "fit.png").read_bytes()[:4] == b"\x89PNG"
