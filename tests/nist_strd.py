"""Read the NIST StRD nonlinear regression files (tests/data/nist_strd/)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FOLDER = Path(__file__).resolve().parent / "data" / "nist_strd"

#: The models in scalelaw's formula syntax (NIST writes [ ] for ( ) and spreads
#: some over two lines). Nelson's response is log(y).
FORMULAS = {
    "Bennett5": "b1 * (b2 + x)**(-1/b3)",
    "BoxBOD": "b1 * (1 - exp(-b2 * x))",
    "Chwirut1": "exp(-b1 * x) / (b2 + b3 * x)",
    "Chwirut2": "exp(-b1 * x) / (b2 + b3 * x)",
    "DanWood": "b1 * x**b2",
    "ENSO": ("b1 + b2*cos(2*pi*x/12) + b3*sin(2*pi*x/12) + b5*cos(2*pi*x/b4)"
             " + b6*sin(2*pi*x/b4) + b8*cos(2*pi*x/b7) + b9*sin(2*pi*x/b7)"),
    "Eckerle4": "(b1/b2) * exp(-0.5*((x - b3)/b2)**2)",
    "Gauss1": "b1*exp(-b2*x) + b3*exp(-(x - b4)**2/b5**2) + b6*exp(-(x - b7)**2/b8**2)",
    "Gauss2": "b1*exp(-b2*x) + b3*exp(-(x - b4)**2/b5**2) + b6*exp(-(x - b7)**2/b8**2)",
    "Gauss3": "b1*exp(-b2*x) + b3*exp(-(x - b4)**2/b5**2) + b6*exp(-(x - b7)**2/b8**2)",
    "Hahn1": "(b1 + b2*x + b3*x**2 + b4*x**3) / (1 + b5*x + b6*x**2 + b7*x**3)",
    "Kirby2": "(b1 + b2*x + b3*x**2) / (1 + b4*x + b5*x**2)",
    "Lanczos1": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Lanczos2": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Lanczos3": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "MGH09": "b1*(x**2 + x*b2) / (x**2 + x*b3 + b4)",
    "MGH10": "b1 * exp(b2/(x + b3))",
    "MGH17": "b1 + b2*exp(-x*b4) + b3*exp(-x*b5)",
    "Misra1a": "b1 * (1 - exp(-b2*x))",
    "Misra1b": "b1 * (1 - (1 + b2*x/2)**(-2))",
    "Misra1c": "b1 * (1 - (1 + 2*b2*x)**(-0.5))",
    "Misra1d": "b1*b2*x*((1 + b2*x)**(-1))",
    "Nelson": "b1 - b2*x1 * exp(-b3*x2)",
    "Rat42": "b1 / (1 + exp(b2 - b3*x))",
    "Rat43": "b1 / ((1 + exp(b2 - b3*x))**(1/b4))",
    "Roszman1": "b1 - b2*x - arctan(b3/(x - b4))/pi",
    "Thurber": "(b1 + b2*x + b3*x**2 + b4*x**3) / (1 + b5*x + b6*x**2 + b7*x**3)",
}


@dataclass(frozen=True)
class Problem:
    """One NIST problem: data, starts and certified values."""

    name: str
    difficulty: str  # "lower", "average" or "higher"
    formula: str
    inputs: tuple[str, ...]
    response: str
    data: pd.DataFrame
    start1: dict[str, float]
    start2: dict[str, float]
    certified: dict[str, float]
    certified_sd: dict[str, float]
    rss: float  # certified residual sum of squares


def load(name: str) -> Problem:
    """Parse ``name.dat``."""
    lines = (FOLDER / f"{name}.dat").read_text().splitlines()
    start1, start2, cert, sd = {}, {}, {}, {}
    pat = re.compile(r"^\s*(b\d+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)")
    for line in lines:
        m = pat.match(line)
        if m:
            b = m.group(1)
            start1[b], start2[b] = float(m.group(2)), float(m.group(3))
            cert[b], sd[b] = float(m.group(4)), float(m.group(5))
    level = next(w.split()[0].lower() for w in lines if "Level of Difficulty" in w)
    rss = float(next(w.split(":")[1] for w in lines if w.startswith("Residual Sum of Squares")))
    head = next(i for i, w in enumerate(lines) if w.strip().startswith("Data:")
                and w.split()[1:2] == ["y"])
    cols = lines[head].split()[1:]
    rows = [list(map(float, w.split())) for w in lines[head + 1:] if w.strip()]
    data = pd.DataFrame(np.array(rows), columns=cols)
    inputs = tuple(c for c in cols if c != "y")
    response = "y"
    if name == "Nelson":  # the model is for log(y)
        data["log_y"] = np.log(data["y"])
        response = "log_y"
    return Problem(name, level, FORMULAS[name], inputs, response, data, start1, start2,
                   cert, sd, rss)


def names() -> list[str]:
    """All problems, sorted."""
    return sorted(p.stem for p in FOLDER.glob("*.dat"))


def digits(value: float, certified: float) -> float:
    """Significant digits of agreement (the log relative error, LRE)."""
    if value == certified:
        return 16.0
    return float(-np.log10(abs(value - certified) / abs(certified)))
