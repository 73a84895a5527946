"""One fit per group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from scalelaw.results._combined import CombinedFit, result_from_dict
from scalelaw.results._fit import FitResult

__all__ = ["GroupedFitResult"]


@dataclass(frozen=True, eq=False)
class GroupedFitResult:
    """One fit per group (e.g. per model family or task), from one call.

    Parameters
    ----------
    group : tuple of str
        The grouping column(s).
    results : dict
        ``{group label: FitResult or CombinedFit}`` for the groups that were
        fitted (a combination where ``law`` named an average, or ``"auto"``
        averaged tied candidates); the
        label is the group's value, or its values joined by ``"/"`` when
        several columns define the groups.
    failed : dict
        ``{group label: error message}`` for the groups that could not be
        fitted; nothing is dropped silently.
    """

    group: tuple[str, ...]
    results: dict[str, FitResult | CombinedFit]
    failed: dict[str, str]

    def __getitem__(self, key: str) -> FitResult | CombinedFit:
        return self.results[key]

    def __len__(self) -> int:
        return len(self.results)

    def params_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (group, parameter) with intervals.

        Returns
        -------
        pandas.DataFrame
            Columns ``group``, ``param``, ``estimate``, ``stderr``, ``lower``,
            ``upper``, ``at_bound``.
        """
        frames = []
        for g, r in self.results.items():
            f = r.params_frame().rename_axis("param").reset_index()
            f.insert(0, "group", g)
            frames.append(f)
        if not frames:
            return pd.DataFrame(columns=["group", "param", "estimate", "stderr",
                                         "lower", "upper", "at_bound"])
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> str:
        """Reports of every group, then the failures.

        Returns
        -------
        str
            The reports.
        """
        label = ", ".join(self.group)
        parts = [f"=== {label} = {g!r} ===\n{r.summary()}" for g, r in self.results.items()]
        if self.failed:
            parts.append("Groups not fitted:\n" + "\n".join(
                f"  - {g!r}: {msg}" for g, msg in self.failed.items()))
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content: ``{"group", "groups": {label: fit dict}, "failed"}``.

        Returns
        -------
        dict
            ``group`` is the column name (a list for several columns).
        """
        return {
            "group": self.group[0] if len(self.group) == 1 else list(self.group),
            "groups": {str(g): r.to_dict() for g, r in self.results.items()},
            "failed": dict(self.failed),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupedFitResult:
        """Restore from :meth:`to_dict`.

        Parameters
        ----------
        d : mapping
            Output of :meth:`to_dict`.

        Returns
        -------
        GroupedFitResult
            The restored results.
        """
        group = d["group"]
        return cls(
            group=(group,) if isinstance(group, str) else tuple(group),
            results={g: result_from_dict(v) for g, v in d["groups"].items()},
            failed=dict(d.get("failed", {})),
        )
