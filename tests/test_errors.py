"""Every error path of the fitting core, with its message."""

import numpy as np
import pandas as pd
import pytest

import scalelaw as sl
from scalelaw.exceptions import DataValidationError, UnknownNameError
from scalelaw.io import read_table


@pytest.fixture
def df():
    x = np.logspace(5, 9, 10)
    return pd.DataFrame({"n_params": x, "n_tokens": x * 20, "loss": 2 + 3 * x**-0.3})


def test_missing_column_suggests_closest(df):
    with pytest.raises(DataValidationError, match="Column 'n_param' .* Did you mean "
                       "'n_params'") as err:
        sl.fit("power", df, x="n_param", y="loss")
    assert err.value.column == "n_param"


def test_non_numeric_values_name_column_and_rows(df):
    df = df.astype({"loss": object})
    df.loc[[2, 7], "loss"] = ["abc", "1.2.3"]
    with pytest.raises(DataValidationError, match=r"Column 'loss' has 2 rows "
                       r"\(index 2: 'abc', 7: '1.2.3'\)") as err:
        sl.fit("power", df, x="n_params", y="loss")
    assert err.value.rows == [2, 7]


def test_nan_and_inf(df):
    df.loc[4, "n_params"] = np.inf
    df.loc[1, "n_params"] = np.nan
    with pytest.raises(DataValidationError, match=r"Column 'n_params' has 2 rows \(index "
                       r"1: nan, 4: inf\) that are missing or non-finite"):
        sl.fit("power", df, x="n_params", y="loss")


def test_non_positive_input_where_log_is_taken(df):
    df.loc[0, "n_params"] = 0.0
    with pytest.raises(DataValidationError, match="'n_params' has 1 row .* <= 0 "
                       r"\(inputs enter the law through logarithms\)"):
        sl.fit("power", df, x="n_params", y="loss")


def test_non_positive_target_with_log_objective(df):
    df.loc[3, "loss"] = -0.5
    with pytest.raises(DataValidationError, match="objective 'huber_log' takes log of "
                       "the target"):
        sl.fit("power", df, x="n_params", y="loss")
    # the raw-scale objective accepts it
    sl.fit("power", df, x="n_params", y="loss", objective="mse")


def test_fewer_distinct_points_than_parameters():
    df = pd.DataFrame({"n": [1e6, 1e6, 1e7, 1e7], "L": [1.0, 1.1, 0.9, 0.8]})
    with pytest.raises(DataValidationError, match=r"Only 2 distinct input point\(s\) for 3 free "
                       "parameters of law 'saturating_power'"):
        sl.fit("saturating_power", df, x="n", y="L")


def test_constant_input_column(df):
    df["n_tokens"] = 1e9
    with pytest.raises(DataValidationError, match="Input column 'n_tokens' is constant"):
        sl.fit("chinchilla", df, x=["n_params", "n_tokens"], y="loss")


def test_duplicate_rows_are_warned_and_counted(df):
    doubled = pd.concat([df, df.iloc[[0, 1, 2]]], ignore_index=True)
    with pytest.warns(sl.DuplicateRowsWarning, match=r"3 duplicate row\(s\)"):
        res = sl.fit("power", doubled, x="n_params", y="loss")
    assert res.n_obs == 13  # kept, not dropped


def test_unknown_law_and_objective(df):
    with pytest.raises(UnknownNameError, match="Unknown law 'chinchila'. Did you mean "
                       "'chinchilla'"):
        sl.fit("chinchila", df, x="n_params", y="loss")
    with pytest.raises(UnknownNameError, match="Unknown objective 'huber'. Did you mean "
                       "'huber_log'"):
        sl.fit("power", df, x="n_params", y="loss", objective="huber")


def test_bounds_that_exclude_the_guess(df):
    with pytest.raises(DataValidationError, match="Starting value 20.0 of parameter "
                       r"'alpha' lies outside its bounds \[0.0, 10.0\]"):
        sl.fit("power", df, x="n_params", y="loss", p0={"A": 1.0, "alpha": 20.0})
    law = sl.laws.PowerLaw().with_bounds(alpha=(0.5, 1.0))
    with pytest.raises(DataValidationError, match="starts column 'alpha' has 1 row"):
        sl.fit(law, df, x="n_params", y="loss", starts=np.array([[1.0, 0.2]]))


def test_bad_scalar_arguments(df):
    with pytest.raises(DataValidationError, match="'delta' parameter must be a finite "
                       "float in the range \\(0, inf\\). Got -1"):
        sl.fit("power", df, x="n_params", y="loss", delta=-1)
    with pytest.raises(DataValidationError, match="'bootstrap' parameter must be an int "
                       ">= 0"):
        sl.fit("power", df, x="n_params", y="loss", bootstrap=-3)
    with pytest.raises(DataValidationError, match="'level' parameter must be a float in "
                       "the range \\(0, 1\\)"):
        sl.fit("power", df, x="n_params", y="loss", level=95)
    with pytest.raises(DataValidationError, match="'random_state' parameter must be"):
        sl.fit("power", df, x="n_params", y="loss", random_state="abc")


def test_wrong_number_of_inputs(df):
    with pytest.raises(DataValidationError, match=r"Law 'chinchilla' takes 2 input "
                       r"column\(s\) \(n_params, n_tokens\); got x=\['n_params'\]"):
        sl.fit("chinchilla", df, x="n_params", y="loss")
    with pytest.raises(DataValidationError, match="must be distinct"):
        sl.fit("power", df, x="loss", y="loss")


def test_bad_weights(df):
    w = np.ones(len(df))
    w[2] = -1.0
    with pytest.raises(DataValidationError, match="not a finite positive weight"):
        sl.fit("power", df, x="n_params", y="loss", weights=w)
    with pytest.raises(DataValidationError, match="weights has 3 values for 10 rows"):
        sl.fit("power", df, x="n_params", y="loss", weights=[1, 2, 3])


def test_empty_and_wrong_type_data(df):
    with pytest.raises(DataValidationError, match="The data have no rows"):
        sl.fit("power", df.iloc[:0], x="n_params", y="loss")
    with pytest.raises(DataValidationError, match="must be a pandas DataFrame or a "
                       "mapping of columns. Got list"):
        sl.fit("power", [1, 2], x="n_params", y="loss")


def test_everything_invalid_with_drop(df):
    df["loss"] = np.nan
    with pytest.warns(sl.ExcludedRowsWarning), pytest.raises(
            DataValidationError, match="No rows left"):
        sl.fit("power", df, x="n_params", y="loss", drop_invalid=True)


def test_bootstrap_group_errors(df):
    df["seed"] = 0
    with pytest.raises(DataValidationError, match="has a single group"):
        sl.fit("power", df, x="n_params", y="loss", bootstrap=10, bootstrap_groups="seed")
    res = sl.fit("power", df, x="n_params", y="loss")
    with pytest.raises(DataValidationError, match="Bootstrap group column 'seed' is not "
                       "in the fitted data"):
        res.with_bootstrap(10, groups="seed")
    with pytest.raises(DataValidationError, match="'n_boot' parameter must be an int >= 2"):
        res.with_bootstrap(1)


def test_group_column_problems(df):
    with pytest.raises(DataValidationError, match="Column 'famliy'"):
        sl.fit_groups("power", df.assign(family="a"), group="famliy", x="n_params",
                      y="loss")
    bad = df.assign(family=["a"] * 9 + [None])
    with pytest.raises(DataValidationError, match="have 1 row .* with no group value"):
        sl.fit_groups("power", bad, group="family", x="n_params", y="loss")


def test_fit_error_when_no_start_is_finite():
    df = pd.DataFrame({"n": np.logspace(1, 3, 6), "L": np.linspace(1, 2, 6)})
    with pytest.raises(sl.FitError, match="No starting point gave a finite objective"):
        # log objective with a law that is negative everywhere
        sl.fit("-(A + n*b)", df, x="n", y="L", starts=np.array([[1.0, 1.0]]))


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("runs.csv", None, "does not exist"),
        ("empty.csv", b"", "is empty"),
        ("runs.xlsx", b"abc", "Cannot tell the format"),
        ("bad.parquet", b"PAR1 not really", "Could not read .* as parquet"),
        ("bad.jsonl", b'{"a": 1}\n{"a": ', "Could not read .* as jsonl"),
        ("header.csv", b"a,b\n", "holds no rows"),
    ],
)
def test_read_table_errors(tmp_path, name, content, match):
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(DataValidationError, match=match):
        read_table(p)


def test_read_table_formats_round_trip(tmp_path, df):
    for name in ("r.csv", "r.tsv", "r.parquet", "r.jsonl", "r.csv.gz"):
        p = tmp_path / name
        if name.endswith(".tsv"):
            df.to_csv(p, sep="\t", index=False)
        elif name.endswith(".parquet"):
            df.to_parquet(p)
        elif name.endswith(".jsonl"):
            df.to_json(p, orient="records", lines=True)
        else:
            df.to_csv(p, index=False)
        back = read_table(p)
        assert np.allclose(back.to_numpy(), df.to_numpy(), rtol=1e-12), name
