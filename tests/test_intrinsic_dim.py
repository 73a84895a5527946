"""Intrinsic dimension: accuracy on known manifolds, intervals, warnings, files, CLI."""

from __future__ import annotations

import json
import warnings
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main
from scalelaw.exceptions import DataValidationError
from scalelaw.intrinsic_dim import (
    LOWER_BOUND_ABOVE,
    IntrinsicDimensionWarning,
    estimate_intrinsic_dim,
    estimate_intrinsic_dims,
    pool_intrinsic_dims,
    read_points,
)

pytestmark = pytest.mark.skipif(find_spec("skdim") is None, reason="needs scikit-dimension")

#: Manifolds of scikit-dimension's benchmark with d <= 10 that kNN estimators are
#: known to read low by more than 10 % (shared science notes, section 3.3: at
#: 2,000 points TwoNN reads Mbeta's 10 as 6.5 and Mp3's 9 as 7.2; at 5,000 points,
#: generator seeds 0-4: 6.5-6.9 and 7.4-7.6; the density changes fast across
#: them): there the estimate is a lower bound, not a value.
READ_LOW = {"Mbeta", "Mp3_Paraboloid"}


def _benchmark(n: int, seed: int = 0) -> dict[str, tuple[int, np.ndarray]]:
    from scalelaw.intrinsic_dim._skdim import skdim_datasets

    bm = skdim_datasets().BenchmarkManifolds(random_state=seed)
    truth = bm.truth
    out = {}
    for name in truth.index:
        d = int(truth.loc[name, "Intrinsic Dimension"])
        if d <= 10:
            # the single-name path of skdim 0.5 needs d and dim explicitly
            X = bm.generate(name, n=n, d=d, dim=int(truth.loc[name, "Number of variables"]))
            out[name] = (d, X)
    return out


def _errors(seed: int) -> dict[str, float]:
    sets = _benchmark(5000, seed)
    assert len(sets) == 16  # every manifold of the benchmark with d <= 10
    return {name: estimate_intrinsic_dim(X, "twonn", n_boot=20).dimension / d - 1
            for name, (d, X) in sets.items()}


def test_twonn_within_10_percent_on_benchmark_manifolds_up_to_d10():
    errors = _errors(0)
    # 10 %: the bar. Over generator seeds 0-4 at 5,000 points (bench
    # intrinsic_dim_calibration, "within_10_percent") TwoNN met it on 14 of the 16
    # manifolds in four seeds and on 13 in the fifth, where the paraboloid Mp2 read
    # -12.6 % (seed 4); Mbeta and Mp3 read low in every seed (READ_LOW)
    bad = {k: round(v, 3) for k, v in errors.items() if abs(v) > 0.10 and k not in READ_LOW}
    assert not bad, bad
    for name in READ_LOW:  # read low, never high: a lower bound
        assert -0.45 < errors[name] < -0.10, (name, errors[name])
    assert np.mean([abs(v) for k, v in errors.items() if k not in READ_LOW]) < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_twonn_within_10_percent_over_generator_seeds(seed):
    # the README's claim over the bench's seeds: all but Mbeta and Mp3 within 10 %,
    # except Mp2, which misses by up to 13 % in one seed in five
    errors = _errors(seed)
    bad = {k: round(v, 3) for k, v in errors.items()
           if abs(v) > 0.10 and k not in READ_LOW | {"Mp2_Paraboloid"}}
    assert not bad, bad
    assert abs(errors["Mp2_Paraboloid"]) < 0.15
    for name in READ_LOW:
        assert -0.45 < errors[name] < -0.10, (name, errors[name])


def test_estimators_share_neighbours_and_agree_on_a_linear_subspace():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 5)) @ rng.normal(size=(5, 40))
    res = estimate_intrinsic_dims(X, ["twonn", "mle", "global_pca"], n_boot=30, random_state=1)
    # a 5-d Gaussian in R^40: every estimator within 10 % (global PCA is exact on linear data)
    for m, r in res.items():
        assert abs(r.dimension - 5) < 0.5, (m, r.dimension)
        assert r.sampling_ci[0] <= r.dimension <= r.sampling_ci[1]
        assert r.ci[0] <= 5 <= r.ci[1]
    assert res["global_pca"].dimension == 5
    assert res["global_pca"].interval_covers == "sampling error only"
    assert res["twonn"].interval_covers == res["mle"].interval_covers == \
        "sampling error and calibrated estimator bias"


def test_global_pca_is_scikit_dimensions_lpca_on_the_whole_set_and_lpca_is_retired():
    from scalelaw.intrinsic_dim._skdim import skdim_id

    rng = np.random.default_rng(7)
    z = rng.uniform(-1, 1, size=(1500, 3))
    X = np.maximum(z @ rng.normal(size=(3, 64)), 0) @ rng.normal(size=(64, 30))  # curved
    ours = estimate_intrinsic_dim(X, "global_pca", n_boot=10).dimension
    assert ours == skdim_id().lPCA(ver="FO").fit(X).dimension_
    assert ours > 3  # the linear span of a curved 3-manifold: more than 3
    with pytest.raises(DataValidationError, match="linear span.*'global_pca'"):
        estimate_intrinsic_dim(X, "lpca")


def test_high_dimension_warns_and_is_a_lower_bound():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 20))
    with pytest.warns(IntrinsicDimensionWarning, match="lower bound"):
        r = estimate_intrinsic_dim(X, n_boot=10)
    assert r.dimension > LOWER_BOUND_ABOVE and r.lower_bound
    assert r.dimension < 20  # reads low, as documented
    # the calibrated interval knows it: it reaches up to the truth (here the
    # number of features, as d = 20 is near the calibrated range's end)
    assert r.ci[0] <= 20 <= r.ci[1] and r.sampling_ci[1] < 20
    assert any("lower bound" in w for w in r.warnings)


def test_duplicates_are_removed_and_counted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    X = np.vstack([X, X[:50]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for an ordinary low dimension
        r = estimate_intrinsic_dim(X, n_boot=10)
    assert r.n_points == 500
    assert any("50 duplicate" in w for w in r.warnings)


def test_skdim_global_state_is_untouched():
    # estimating must not leave state behind: the same call twice gives the same
    # answer, and an estimate does not depend on what was estimated before
    rng = np.random.default_rng(5)
    A, B = rng.normal(size=(600, 3)), rng.normal(size=(600, 7))
    first = estimate_intrinsic_dim(A, n_boot=20).dimension
    estimate_intrinsic_dim(B, "mle", n_boot=20)
    assert estimate_intrinsic_dim(A, n_boot=20).dimension == first
    np.random.seed(123)  # noqa: NPY002 - checks that the legacy global RNG is left alone
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    estimate_intrinsic_dim(A, n_boot=20)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_pooling_spreads_over_models():
    from scalelaw.intrinsic_dim import IDResult

    rs = [IDResult("twonn", d, (d - 0.05, d + 0.05), 0.95, 1000, 8, False)
          for d in (3.6, 4.4, 3.8, 4.2)]
    pooled = pool_intrinsic_dims(rs)
    assert pooled.dimension == pytest.approx(4.0)
    # the interval holds the spread between models, not each model's own +-0.05
    assert pooled.ci[0] < 3.85 and pooled.ci[1] > 4.15
    with pytest.raises(DataValidationError, match="one method"):
        pool_intrinsic_dims([rs[0], IDResult("mle", 4, (4, 4), 0.95, 10, 8, False)])


@pytest.mark.parametrize("bad, match", [
    (np.ones(20), "2-D array"),
    (np.ones((5, 3)), "at least 10 points"),
    (np.vstack([np.ones((20, 3)), [[np.nan, 1, 1]]]), "NaN"),
])
def test_bad_points_are_refused(bad, match):
    with pytest.raises(DataValidationError, match=match):
        estimate_intrinsic_dim(bad)


def test_read_points_from_every_format(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    np.save(tmp_path / "a.npy", X)
    np.savez(tmp_path / "b.npz", emb=X, labels=np.arange(200))
    df = pd.DataFrame(X, columns=["f0", "f1", "f2"]).assign(label=["x"] * 200)
    df.to_csv(tmp_path / "c.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet")
    assert np.array_equal(read_points(tmp_path / "a.npy"), X)
    assert np.array_equal(read_points(tmp_path / "b.npz", key="emb"), X)
    with pytest.raises(DataValidationError, match="choose one with key"):
        read_points(tmp_path / "b.npz")
    with pytest.warns(UserWarning, match=r"1 non-numeric column\(s\) left out.*label"):
        assert np.allclose(read_points(tmp_path / "c.csv"), X)
    assert np.array_equal(read_points(tmp_path / "d.parquet", columns=["f0", "f2"]),
                          X[:, [0, 2]])
    with pytest.raises(DataValidationError, match="not numeric"):
        read_points(tmp_path / "d.parquet", columns=["f0", "label"])
    with pytest.raises(DataValidationError, match="does not exist"):
        read_points(tmp_path / "none.npy")
    (tmp_path / "e.txt").write_text("1 2\n")
    with pytest.raises(DataValidationError, match="unknown extension"):
        read_points(tmp_path / "e.txt")


def test_cli_id_writes_the_documented_json(tmp_path, capsys):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "emb.npy", rng.normal(size=(1500, 3)) @ rng.normal(size=(3, 16)))
    out = tmp_path / "id.json"
    assert main(["id", str(tmp_path / "emb.npy"), "--json", str(out), "--n-boot", "50"]) == 0
    assert "intrinsic dimension" in capsys.readouterr().out
    d = json.loads(out.read_text())
    assert {"method", "dimension", "ci", "n_points", "ambient_dim", "warnings",
            "interval_covers", "sampling_ci", "dimension_corrected"} <= set(d)
    assert d["method"] == "twonn" and d["n_points"] == 1500 and d["ambient_dim"] == 16
    assert abs(d["dimension"] - 3) < 0.3 and d["ci"][0] < 3 < d["ci"][1]
    assert d["interval_covers"] == "sampling error and calibrated estimator bias"
    # the calibrated interval holds the bootstrap's and is wider
    assert d["ci"][0] < d["sampling_ci"][0] < d["sampling_ci"][1] < d["ci"][1]
    assert main(["id", str(tmp_path / "emb.npy"), "--method", "global_pca", "--json",
                 str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["dimension"] == 3 and d["interval_covers"] == "sampling error only"
    assert main(["id", str(tmp_path / "missing.npy")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["bahri-d2", "bahri-d4", "bahri-d6", "bahri-d8",
                                  "manifold-linear-d3", "manifold-linear-d8",
                                  "manifold-nonlinear-d5", "manifold-nonlinear-d8"])
def test_generated_tasks_read_their_dimension_within_10_percent(name):
    from teacher_student.representations import task_data_dim
    from teacher_student.suite import get_task

    task = get_task(name)
    res = task_data_dim(task, n_inputs=10_000, n_boot=20)
    # 10 %: the bar. Measured at 10,000 points: -1 % (d = 2) to -9.5 % (linear
    # d = 8): cubes and their embeddings read low, more so as d grows; bahri-d9
    # reads -12 % and is left out (the cube's boundary, science notes 3.4)
    assert res.dimension == pytest.approx(task.intrinsic_dim, rel=0.10)
    assert res.n_points == 10_000 and not res.lower_bound
