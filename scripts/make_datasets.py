"""Regenerate the synthetic files in datasets/ (deterministic: fixed seeds).

Run: .venv/bin/python scripts/make_datasets.py
"""

from pathlib import Path

from scalelaw.synthetic import chinchilla_design, simulate_runs

OUT = Path(__file__).resolve().parents[1] / "datasets"


def main() -> None:
    runs = simulate_runs(chinchilla_design(245), noise=0.02, random_state=20240410)
    runs = runs.drop(columns="outlier")
    runs.to_csv(OUT / "chinchilla_synthetic.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    main()
