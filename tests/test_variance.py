"""Variance decomposition across seeds: unbiasedness by simulation and the
random-features double descent (shared science notes, Part II sections 3.2, 3.4, 5)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalelaw.exceptions import DataValidationError, ExcludedRowsWarning
from scalelaw.variance import (
    ce_decomposition,
    crossed_components,
    decompose_table,
    mse_decomposition,
    nested_components,
)


def test_two_way_crossed_components_are_unbiased():
    rng = np.random.default_rng(0)
    n = 5000  # 5000 independent 5 x 5 designs, one per "test point"
    y = (rng.normal(0, 0.5**0.5, (5, 1, n)) + rng.normal(0, 1.0, (1, 5, n))
         + rng.normal(0, 0.8**0.5, (5, 5, n)))
    c = crossed_components(y, factors=("data", "init")).components
    # notes 3.2(a): sd of one 5x5 estimate <= 0.5 -> standard error over 5000 <= 0.007;
    # section 5 item 4 asks for 0.03
    assert c["data"] == pytest.approx(0.5, abs=0.03)
    assert c["init"] == pytest.approx(1.0, abs=0.03)
    assert c["data:init"] == pytest.approx(0.8, abs=0.03)


def test_three_way_components_and_bias_are_unbiased():
    rng = np.random.default_rng(1)
    a, b, c, n = 3, 4, 3, 4000
    true = {"data": 0.5, "init": 1.0, "noise": 0.3, "data:init": 0.4, "data:noise": 0.2,
            "init:noise": 0.1, "data:init:noise": 0.6}
    shapes = {"data": (a, 1, 1), "init": (1, b, 1), "noise": (1, 1, c), "data:init": (a, b, 1),
              "data:noise": (a, 1, c), "init:noise": (1, b, c), "data:init:noise": (a, b, c)}
    y = 1.0 + sum(rng.normal(0, true[k] ** 0.5, shapes[k] + (n,)) for k in true)
    vc = crossed_components(y, target=np.zeros(n))
    for k, v in true.items():
        # few levels (3, 4, 3) make single estimates noisy (sd up to ~1.2 for the main
        # effects): the mean over 4000 designs has standard error <= 0.02
        assert vc.components[k] == pytest.approx(v, abs=0.06), k
    assert vc.bias2 == pytest.approx(1.0, abs=0.06)  # (E y - y*)^2 = 1
    assert vc.total == pytest.approx(sum(true.values()), abs=0.1)
    assert vc.without("init") == pytest.approx(0.5 + 0.3 + 0.2, abs=0.06)


def test_nested_correction():
    rng = np.random.default_rng(2)
    a, b, n = 5, 2, 20_000
    y = rng.normal(0, 0.5**0.5, (a, 1, n)) + rng.normal(0, 1.8**0.5, (a, b, n))
    vc = nested_components(y)
    naive = y.mean(axis=1).var(axis=0, ddof=1).mean()
    # notes 3.2(c): the naive variance of draw means is V_X + (V_P + V_XP)/b = 1.4
    assert naive == pytest.approx(0.5 + 1.8 / b, abs=0.03)
    assert vc.components["data"] == pytest.approx(0.5, abs=0.03)
    assert vc.components["init|data"] == pytest.approx(1.8, abs=0.03)


@pytest.mark.parametrize("n_models", [2, 3, 5])
def test_yang_mse_decomposition_is_unbiased(n_models):
    rng = np.random.default_rng(3)
    k, n_points = 10, 20_000
    center = rng.normal(size=(n_points, k))
    y = center + rng.normal(0, 1.0, (n_points, k))  # bias^2 = sum of 10 unit variances
    f = center + rng.normal(0, 0.3**0.5, (n_models, n_points, k))  # V = 10 * 0.3 = 3
    d = mse_decomposition(f, y)
    # 20k points x 10 outputs: standard errors well below the 1 % of notes section 5 item 6
    assert d.variance == pytest.approx(3.0, rel=0.01)
    assert d.bias2 == pytest.approx(10.0, rel=0.01)
    assert d.variance_uncorrected == pytest.approx(3.0 * (n_models - 1) / n_models, rel=0.01)


def test_cross_entropy_identity_and_corrected_variance():
    rng = np.random.default_rng(4)
    lp = rng.normal(size=(4, 50, 10))
    lab = rng.integers(0, 10, 50)
    d = ce_decomposition(lp, lab)
    assert d.risk == pytest.approx(d.bias2_uncorrected + d.variance_uncorrected, abs=1e-10)
    base = rng.normal(size=(20_000, 10))
    ref = ce_decomposition(base + rng.normal(0, 0.3, (200, 20_000, 10)),
                           np.zeros(20_000, int)).variance_uncorrected * 200 / 199
    for n in (2, 3, 5, 10):
        v = ce_decomposition(base + rng.normal(0, 0.3, (n, 20_000, 10)),
                             np.zeros(20_000, int)).variance
        # notes 3.2(e): the N/(N-1) correction is unbiased to within 2 %
        assert v == pytest.approx(ref, rel=0.02), n


def test_decompose_table_checks_the_design():
    idx = pd.MultiIndex.from_product([range(3), range(3), range(5)], names=["d", "s", "x"])
    df = idx.to_frame(index=False).assign(p=np.random.default_rng(5).normal(size=45), t=0.0)
    res = decompose_table(df, "p", factors=["d", "s"], example="x", target="t")
    cube = df.p.to_numpy().reshape(3, 3, 5)
    direct = crossed_components(cube, factors=("d", "s"), target=np.zeros(5))
    assert res.results[0].components == pytest.approx(direct.components)
    with pytest.raises(DataValidationError, match="not complete"):
        decompose_table(df.iloc[1:], "p", factors=["d", "s"], example="x")
    with pytest.raises(DataValidationError, match="repeat the same"):
        decompose_table(pd.concat([df, df.iloc[:1]]), "p", factors=["d", "s"], example="x")
    with pytest.raises(DataValidationError, match="factor 2 column 'q'"):
        decompose_table(df, "p", factors=["d", "q"], example="x")
    bad_t = df.assign(t=np.arange(45.0))
    with pytest.raises(DataValidationError, match="different targets"):
        decompose_table(bad_t, "p", factors=["d", "s"], example="x", target="t")


def test_random_features_double_descent(tmp_path):
    """Notes section 3.4 / section 5 item 9: the variance peaks at the interpolation
    threshold, carried by the interactions; run outcomes are heavy-tailed there only."""
    from threadpoolctl import threadpool_limits

    from scalelaw.cli import main
    from scalelaw.lottery import analyze_lottery
    from teacher_student.double_descent import RandomFeaturesRegression

    task = RandomFeaturesRegression()  # d = 30, n = 120, 400 test points, noise 0.5
    ratios = [0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 2.0, 4.0]
    widths = [round(r * 120) for r in ratios]
    # one BLAS thread: beside another test worker on 2 cores, multi-threaded products
    # oversubscribe the CPUs (25 s alone, up to 175 s beside the demo test)
    with threadpool_limits(1):
        cube, table = task.crossed_predictions(widths, 6, 6, 4)
        runs = task.run_losses([30, 120, 240, 1200], n_runs=400)
    comps = [crossed_components(c, target=task.y_test) for c in cube]
    total = [c.total for c in comps]
    assert 0.9 * 120 <= widths[int(np.argmax(total))] <= 1.1 * 120
    for r in (0.9, 1.1):
        c = comps[ratios.index(r)].components
        share = (c["data:init"] + c["data:init:noise"]) / comps[ratios.index(r)].total
        assert share > 0.8, (r, share)  # notes: 0.97 and 0.95 at these widths
    # ensembling over init removes the peak (notes: ens(P) < 0.2 away from m = n)
    assert all(c.without("init") < 0.2 for r, c in zip(ratios, comps, strict=True) if r != 1.0)
    bias = [c.bias2 for r, c in zip(ratios, comps, strict=True) if r < 1]
    assert bias == sorted(bias, reverse=True)  # bias falls with width below threshold

    lot = analyze_lottery(runs, "test_mse", size="width", seed="seed", n_boot=100)
    xi = {g.size: g.xi_upper for g in lot.groups}
    assert xi[120] > 1  # notes: 1.93 (moment), theory xi = 2
    assert all(xi[w] < 0.3 for w in (30, 240, 1200))
    assert lot.groups[1].tail_class_upper == "heavy"

    path = tmp_path / "preds.parquet"
    table[table.width.isin([60, 120, 240])].to_parquet(path)
    out = tmp_path / "var.json"
    assert main(["variance", str(path), "--prediction", "prediction", "--factors",
                 "data_seed,init_seed,noise_seed", "--example", "example", "--target",
                 "target", "--size", "width", "--json", str(out), "--plot",
                 str(tmp_path / "v.png")]) == 0
    got = json.loads(out.read_text())
    assert [g["size"] for g in got["groups"]] == [60, 120, 240]
    assert got["groups"][0]["components"]["data_seed:init_seed"] == pytest.approx(
        comps[ratios.index(0.5)].components["data:init"])
    assert (tmp_path / "v.png").stat().st_size > 1000


def test_decompose_table_nested_design_matches_the_array_estimator():
    rng = np.random.default_rng(6)
    # each data draw has its own seeds (labels 10.., 20.., ...): not shared across draws
    rows = [(d, 10 * (d + 1) + s, x, rng.normal() + 0.5 * d) for d in range(4)
            for s in range(3) for x in range(5)]
    df = pd.DataFrame(rows, columns=["data_seed", "init_seed", "example", "p"])
    res = decompose_table(df, "p", factors=["data_seed", "init_seed"], example="example",
                          design="nested")
    cube = df.p.to_numpy().reshape(4, 3, 5)
    direct = nested_components(cube, factors=("data_seed", "init_seed")).components
    assert res.results[0].components == pytest.approx(direct)
    with pytest.raises(DataValidationError, match="nested design needs 2 factors"):
        decompose_table(df, "p", factors=["data_seed"], example="example", design="nested")


def test_plot_variance_axes_follow_the_data():
    import matplotlib

    matplotlib.use("Agg")
    from scalelaw.plotting import plot_variance

    rng = np.random.default_rng(3)
    frames = []
    for width, scale in ((4, 1.0), (16, 0.1), (64, 0.01)):  # variances 1, 1e-2, 1e-4
        idx = pd.MultiIndex.from_product([range(3), range(3), range(20)],
                                         names=["data_seed", "seed", "example"])
        frames.append(idx.to_frame(index=False).assign(
            width=width, p=scale * rng.normal(size=180)))
    res = decompose_table(pd.concat(frames), "p", factors=["data_seed", "seed"],
                          example="example", size="width")
    fig = plot_variance(res)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "16", "64"]
    # symlog, linear only below a tenth of the smallest total (about 1e-4 here):
    # all three sizes sit on its logarithmic part
    assert ax.get_yscale() == "symlog"
    linthresh = ax.yaxis.get_transform().linthresh
    assert linthresh == pytest.approx(0.1 * res.to_frame()["total"].min())
    assert res.to_frame()["total"].min() > linthresh


# ------------------------------------------------------------------ hardening
def _design(a: int = 3, b: int = 3, n: int = 5, **cols) -> pd.DataFrame:
    idx = pd.MultiIndex.from_product([range(a), range(b), range(n)], names=["d", "s", "x"])
    return idx.to_frame(index=False).assign(**cols)


@pytest.mark.parametrize("value", [0.1, 1 / 3, 123.456, 1e-7])
def test_constant_predictions_have_no_variance_and_no_share(value):
    # the same prediction in every run, varying over examples: rounding in the means
    # used to leave ~1e-33 components whose share came out as 1.765
    y = np.broadcast_to(value * (1 + 0.37 * np.arange(7)), (3, 4, 5, 7)).copy()
    vc = crossed_components(y)
    assert vc.total == 0.0 and all(v == 0.0 for v in vc.components.values())
    assert np.isnan(vc.interaction_share())
    frame = decompose_table(_design(p=value), "p", factors=["d", "s"], example="x").to_frame()
    assert frame["total"].iloc[0] == 0.0 and np.isnan(frame["interaction_share"].iloc[0])


def test_interaction_share_stays_in_the_unit_interval():
    rng = np.random.default_rng(7)
    shares, negative = [], 0
    for _ in range(200):  # 2 x 2 designs: unbiased components are often negative
        vc = crossed_components(rng.normal(size=(2, 2, 3)), factors=("d", "s"))
        shares.append(vc.interaction_share())
        negative += min(vc.components.values()) < 0
        assert vc.interaction_share() == pytest.approx(
            vc.clipped["d:s"] / sum(vc.clipped.values()))
    assert negative > 20  # the case that pushed shares of unbiased terms outside [0, 1]
    assert min(shares) >= 0.0 and max(shares) <= 1.0


def test_huge_predictions_decompose_or_are_refused():
    rng = np.random.default_rng(8)
    y = rng.normal(size=(3, 3, 2, 6))
    base = crossed_components(y)
    big = crossed_components(y * 1e150)  # squares near 1e300: scaled internally
    for k, v in base.components.items():
        assert big.components[k] == pytest.approx(v * 1e300, rel=1e-9)
    with pytest.raises(DataValidationError, match="floating-point range"):
        crossed_components(y * 1e300)
    with pytest.raises(DataValidationError, match=r"p: row 0 is 1e\+300") as e:
        decompose_table(_design(p=1e300), "p", factors=["d", "s"], example="x")
    assert e.value.column == "p"


def test_design_errors_name_the_factor():
    df = _design(p=np.random.default_rng(9).normal(size=45))
    with pytest.raises(DataValidationError, match="factor 'd' has 1 level \\(0\\)") as e:
        decompose_table(df[df.d == 0], "p", factors=["d", "s"], example="x")
    assert e.value.column == "d"
    with pytest.raises(DataValidationError, match="factor 's' is given twice"):
        decompose_table(df, "p", factors=["s", "s"], example="x")
    with pytest.raises(DataValidationError, match="both the example and the factor 2"):
        decompose_table(df, "p", factors=["d", "x"], example="x")
    with pytest.raises(DataValidationError, match="at least 2 levels: 'd' has 1"):
        crossed_components(np.zeros((1, 3, 4)), factors=("d", "s"))
    with pytest.raises(DataValidationError, match="design must be"):
        decompose_table(df, "p", factors=["d", "s"], example="x", design="latin")


def _logit_table(shift: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Classifier logits, 3 data x 3 init runs, 6 examples, 4 classes; run (d, s) adds
    the constant ``shift[d, s]`` to all its logits."""
    base = rng.normal(size=(6, 4))
    rows = [(d, s, x, c, base[x, c] + shift[d, s]) for d in range(3) for s in range(3)
            for x in range(6) for c in range(4)]
    return pd.DataFrame(rows, columns=["d", "s", "x", "cls", "logit"])


def test_softmax_ignores_a_per_run_shift_of_the_logits():
    rng = np.random.default_rng(10)
    df = _logit_table(rng.normal(0, 3, (3, 3)), rng)
    raw = decompose_table(df, "logit", factors=["d", "s"], example="x", output="cls")
    assert raw.results[0].total > 1.0  # raw logits count the shift as variance
    res = decompose_table(df, "logit", factors=["d", "s"], example="x", output="cls",
                          softmax=True)
    vc = res.results[0]
    # the softmax probabilities are identical across runs: every component is 0
    assert vc.total == 0.0 and all(abs(v) == 0.0 for v in vc.components.values())
    assert res.settings["softmax"] is True


def test_softmax_components_sum_over_classes():
    rng = np.random.default_rng(11)
    df = _logit_table(np.zeros((3, 3)), rng)
    df["logit"] += rng.normal(0, 0.5, len(df))  # runs now differ
    df["target"] = 0.25
    res = decompose_table(df, "logit", factors=["d", "s"], example="x", output="cls",
                          softmax=True, target="target")
    logits = df["logit"].to_numpy().reshape(3, 3, 6, 4)
    prob = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    per_class = [crossed_components(prob[..., c], factors=("d", "s"),
                                    target=np.full(6, 0.25)) for c in range(4)]
    for k in ("d", "s", "d:s"):
        assert res.results[0].components[k] == pytest.approx(
            sum(p.components[k] for p in per_class), rel=1e-10)
    assert res.results[0].bias2 == pytest.approx(sum(p.bias2 for p in per_class), rel=1e-10)
    with pytest.raises(DataValidationError, match="softmax needs the output"):
        decompose_table(df, "logit", factors=["d", "s"], example="x", softmax=True)


def test_diverged_runs_are_excluded_with_a_count():
    rng = np.random.default_rng(12)
    df = _design(4, 3, 5, p=rng.normal(size=60))
    bad = (df.d == 2) & (df.s == 1)
    df.loc[bad & (df.x == 3), "p"] = np.nan  # run (d=2, s=1) diverged
    with pytest.warns(ExcludedRowsWarning, match="1 diverged run"):
        res = decompose_table(df, "p", factors=["d", "s"], example="x")
    info = res.exclusions[0]
    assert info["diverged_runs"] == [{"d": 2, "s": 1}]
    # dropping data draw 2 (3 runs, 2 finished) keeps 3 x 3; dropping seed 1 would cost 3
    assert info["dropped_levels"] == {"d": [2]} and info["n_runs_dropped"] == 2
    kept = df[df.d != 2].p.to_numpy().reshape(3, 3, 5)
    direct = crossed_components(kept, factors=("d", "s"))
    assert res.results[0].components == pytest.approx(direct.components)
    doc = res.to_dict()
    assert doc["settings"]["n_diverged_runs"] == 1
    assert doc["groups"][0]["exclusions"]["n_runs_dropped"] == 2
    assert res.to_frame()["diverged_runs"].tolist() == [1]
    # text is still refused, and a missing (not diverged) run is an incomplete design
    with pytest.raises(DataValidationError, match="row 0 is 'x'"):
        decompose_table(df.assign(p=df.p.astype(object).where(df.index > 0, "x")), "p",
                        factors=["d", "s"], example="x")
    with pytest.raises(DataValidationError, match="not complete"):
        decompose_table(df[~bad], "p", factors=["d", "s"], example="x")
