"""The stated public API (docs/api.md) matches the code, and every name on it imports."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("api_page", ROOT / "scripts" / "api_page.py")
api_page = importlib.util.module_from_spec(_spec)
sys.modules["api_page"] = api_page
_spec.loader.exec_module(api_page)

MODULES = api_page.public_modules()


def test_the_api_page_is_current():
    page = (ROOT / "docs" / "api.md").read_text()
    assert page == api_page.render(), "docs/api.md is stale: run scripts/api_page.py"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_documented_name_imports(module):
    mod = importlib.import_module(module)
    names = MODULES[module][1]
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names that do not exist: {missing}"
    assert len(set(names)) == len(names), f"{module}.__all__ repeats a name"


def test_the_page_lists_the_main_entry_points():
    # what the README's examples use must be on the page, so the page can fail
    top = MODULES["scalelaw"][1]
    for name in ("fit", "backtest", "FitResult", "DataValidationError", "read_runs"):
        assert name in top
    assert "check_scaling" in MODULES["scalelaw.theory"][1]
    assert "estimate_intrinsic_dim" in MODULES["scalelaw.intrinsic_dim"][1]
