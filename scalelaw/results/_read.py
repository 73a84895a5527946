"""Read a fit back from the JSON that ``scalelaw fit --json`` or ``FitResult.to_json`` wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

from scalelaw._validation import unknown_name
from scalelaw.exceptions import DataValidationError
from scalelaw.results._fit import FitResult
from scalelaw.results._grouped import GroupedFitResult

__all__ = ["read_fit"]


def read_fit(path: str | os.PathLike[str], group: str | None = None) -> FitResult:
    """Read a fit saved by ``scalelaw fit --json`` (or ``FitResult.to_json``).

    Parameters
    ----------
    path : str or path-like
        The JSON file.
    group : str, optional
        For a file of one fit per group: the group to return.

    Returns
    -------
    FitResult
        The fit.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd, scalelaw as sl
    >>> n = np.logspace(6, 9, 12)
    >>> res = sl.fit("power", pd.DataFrame({"n": n, "loss": 3 * n**-0.3}), x="n", y="loss")
    >>> path = f"{tempfile.mkdtemp()}/fit.json"
    >>> _ = open(path, "w").write(res.to_json())
    >>> round(float(read_fit(path).params["alpha"]), 3)
    0.3

    Raises
    ------
    DataValidationError
        Missing or unreadable file, not a fit JSON, or a grouped file without
        (or with an unknown) ``group``.
    """
    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"Fit file {str(p)!r} does not exist.", column="file")
    try:
        d = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            f"{str(p)!r} is not a fit JSON written by 'scalelaw fit --json': {exc}.",
            column="file",
        ) from None
    if isinstance(d, dict) and "groups" in d and "group" in d:
        grouped = GroupedFitResult.from_dict(d)
        if group is None:
            raise DataValidationError(
                f"{str(p)!r} holds one fit per {', '.join(grouped.group)!r}; choose one with "
                f"--group ({sorted(grouped.results)[:5]}).",
                column="group",
            )
        if group not in grouped.results:
            raise unknown_name("group", group, list(grouped.results))
        return grouped.results[group]
    if not isinstance(d, dict) or "schema_version" not in d:
        raise DataValidationError(
            f"{str(p)!r} is not a fit JSON written by 'scalelaw fit --json'.", column="file"
        )
    return FitResult.from_dict(d)
