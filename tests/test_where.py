"""``--where`` filters rows without running code (the table's columns and literals only)."""

import numpy as np
import pandas as pd
import pytest

from scalelaw.cli import main
from scalelaw.exceptions import DataValidationError
from scalelaw.io import evaluate_where, filter_rows


@pytest.fixture
def df():
    return pd.DataFrame({
        "split": ["train", "test", "test", "val"],
        "n_params": [1e5, 1e6, 1e7, 1e8],
        "loss": [3.0, 2.0, 1.5, 1.2],
        "my col": [1, 2, 3, 4],
    })


@pytest.mark.parametrize(("where", "query"), [
    ("split == 'test'", "split == 'test'"),
    ("split != 'test' and loss < 2.5", "split != 'test' and loss < 2.5"),
    ("split == 'test' & n_params > 5e6", "split == 'test' & n_params > 5e6"),
    ("split == 'val' | loss > 2.5", "split == 'val' | loss > 2.5"),
    ("~(split == 'test')", "~(split == 'test')"),
    ("not split in ['test', 'val']", "not split in ['test', 'val']"),
    ("split not in ('train',)", "split not in ('train',)"),
    ("1e5 < n_params <= 1e7", "1e5 < n_params <= 1e7"),
    ("loss * n_params > 1e7 or -loss > -1.3", "loss * n_params > 1e7 or -loss > -1.3"),
    ("`my col` >= 3", "`my col` >= 3"),
])
def test_filters_agree_with_pandas_query_on_safe_expressions(df, where, query):
    # pandas' own query is the reference for the expressions both accept
    expected = df.query(query).index.tolist()
    assert df[evaluate_where(df, where)].index.tolist() == expected


@pytest.mark.parametrize("where", [
    "@pd.io.common.os.system('id') == 0",
    "split.str.len() > 0",
    "__import__('os').system('id') == 0",
    "n_params.__class__ == 1",
    "loss[0] > 1",
    "(lambda: 1)() == 1",
    "[x for x in split] == 1",
    "split == f'{1}'",
    "loss ** 2 > 1",
])
def test_code_and_syntax_outside_the_whitelist_is_refused(df, where):
    with pytest.raises(DataValidationError, match="where"):
        evaluate_where(df, where)


def test_the_published_exploit_runs_nothing(tmp_path, capsys, monkeypatch):
    # the command of the report: pandas' query resolved '@pd...' in the caller's frame
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "runs.csv"
    n = np.array([1e5, 1e6, 1e7, 1e8])
    pd.DataFrame({"n": n, "loss": 2 * n ** -0.2}).to_csv(csv, index=False)
    rc = main(["fit", str(csv), "--law", "power", "--x", "n", "--y", "loss", "--where",
               "@pd.io.common.os.system('id > out') == 0"])
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("scalelaw: error: where ") and "'@'" in err
    assert not (tmp_path / "out").exists()


def test_unknown_column_is_named_with_a_suggestion(df):
    with pytest.raises(DataValidationError, match=r"'los'.*Did you mean 'loss'"):
        filter_rows(df, "los > 1")


def test_a_filter_that_is_not_a_condition_is_refused(df):
    with pytest.raises(DataValidationError, match="not a condition"):
        evaluate_where(df, "loss + 1")
    with pytest.raises(DataValidationError, match="not a valid expression"):
        evaluate_where(df, "loss >")


def test_text_longer_than_the_bound_is_refused(df):
    with pytest.raises(DataValidationError, match="longer than"):
        evaluate_where(df, "loss > 1 and " * 500 + "loss > 1")
