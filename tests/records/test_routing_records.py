"""The routing-records format: validation with typed errors, round trips, splits."""

import numpy as np
import pandas as pd
import pytest

from modelreuse.errors import RoutingDataError
from modelreuse.records.routing import RoutingRecords, read_records


def _table(**overrides) -> pd.DataFrame:
    table = pd.DataFrame({"prompt": ["What is 2+2?", "Name a prime.", "Capital of France?"],
                          "task": ["math", "math", "geo"], "split": ["train", "test", "train"],
                          "score:a": [1.0, 0.0, np.nan], "score:b": [0.5, 1.0, 1.0],
                          "cost:a": [0.001, 0.001, 0.002], "cost:b": [0.01, 0.02, 0.01]})
    for column, values in overrides.items():
        table[column] = values
    return table


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns="task"), "lack column"),
    (lambda t: t.drop(columns=["score:a", "score:b", "cost:a", "cost:b"]), "no score"),
    (lambda t: t.assign(prompt=["", "x", "y"]), "empty prompt"),
    (lambda t: t.assign(**{"score:b": [2.0, 1.0, 0.0]}), r"\[0, 1\]"),
    (lambda t: t.assign(**{"score:b": ["good", "bad", "ok"]}), "numeric"),
    (lambda t: t.assign(**{"score:a": [np.nan] * 3, "score:b": [np.nan, 1.0, 1.0]}), "no score for any model"),
    (lambda t: t.assign(**{"cost:b": [-1.0, 0.0, 0.0]}), "negative"),
    (lambda t: t.assign(**{"cost:c": [0.0, 0.0, 0.0]}), "no matching score"),
    (lambda t: t.iloc[:0], "empty"),
])
def test_malformed_records_raise_typed_errors(change, message):
    with pytest.raises(RoutingDataError, match=message):
        RoutingRecords(change(_table()))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_keeps_scores_costs_missing_values_and_model_table(tmp_path, suffix):
    meta = pd.DataFrame({"name": ["a", "b"], "size": [7e9, np.nan], "price": [0.2, 10.0], "description": ["", "big"]})
    RoutingRecords(_table(), meta).write(tmp_path / f"r{suffix}")
    back = read_records(tmp_path / f"r{suffix}")
    assert back.models == ["a", "b"] and back.has_costs
    np.testing.assert_array_equal(back.scores(), _table()[["score:a", "score:b"]].to_numpy())
    assert back.models_table["price"].tolist() == [0.2, 10.0]


def test_splits_and_model_selection():
    records = RoutingRecords(_table())
    assert len(records.split("train").table) == 2
    with pytest.raises(RoutingDataError, match="no rows with split 'dev'"):
        records.split("dev")
    only_b = records.select_models(["b"])
    assert only_b.models == ["b"] and only_b.costs().shape == (3, 1)
    with pytest.raises(RoutingDataError, match="unknown model"):
        records.select_models(["gpt-9"])


def test_missing_file_and_bad_suffix(tmp_path):
    with pytest.raises(RoutingDataError, match="no records file"):
        read_records(tmp_path / "none.parquet")
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(RoutingDataError, match=".parquet or .csv"):
        read_records(tmp_path / "r.json")
