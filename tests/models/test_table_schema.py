"""The table schema on a real Beijing station table: inference, the order-free encoding, decoding
for raw-column models, and malformed schemas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelreuse.errors import InvalidTaskDataError, SchemaError
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import list_tables, read_table


@pytest.fixture(scope="module")
def station(data_root) -> pd.DataFrame:
    path = next(p for p in list_tables(data_root / "tabular" / "beijing_air_quality") if "Dongsi" in p.name)
    return read_table(path).sample(400, random_state=0).sort_index().reset_index(drop=True)  # rows in file order


def test_infer_types_categories_and_ignored_columns(station):
    schema = TableSchema.infer(station, target="PM2.5")
    types = {c.name: c.type for c in schema.columns}
    assert types["wd"] == "categorical" and types["TEMP"] == "numeric"
    wd = next(c for c in schema.columns if c.name == "wd")
    assert set(wd.categories) == set(station["wd"].dropna().str.strip())
    assert {"PM2.5", "No", "station"} <= set(schema.ignored)  # target, row counter, constant site name
    numeric = [c.name for c in schema.columns if c.type == "numeric"]
    assert schema.feature_names == numeric + [f"wd={v}" for v in wd.categories]


def test_encoding_is_by_name_keeps_missing_and_zeroes_unseen_categories(station):
    schema = TableSchema.infer(station, target="PM2.5")
    X = schema.encode(station)
    shuffled = station[list(reversed(station.columns))]
    np.testing.assert_array_equal(schema.encode(shuffled), X)
    temp = schema.feature_names.index("TEMP")
    np.testing.assert_array_equal(np.isnan(X[:, temp]), station["TEMP"].isna().to_numpy())
    odd = station.assign(wd=["nowhere"] * len(station))
    wd_cols = [j for j, n in enumerate(schema.feature_names) if n.startswith("wd=")]
    assert not schema.encode(odd)[:, wd_cols].any()
    assert (X[:, wd_cols].sum(axis=1) == station["wd"].notna().to_numpy()).all()


def test_missing_and_unexpected_columns_are_named(station):
    schema = TableSchema.infer(station, target="PM2.5")
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['TEMP'\]"):
        schema.encode(station.drop(columns=["TEMP"]))
    with pytest.raises(SchemaError, match=r"unexpected column\(s\) \['site_id'\]"):
        schema.encode(station.assign(site_id=1.0))
    with pytest.raises(InvalidTaskDataError, match="DataFrame"):
        schema.encode(station.to_numpy())


def test_decode_gives_back_the_raw_columns(station):
    schema = TableSchema.infer(station, target="PM2.5")
    back = schema.decode(schema.encode(station))
    assert list(back.columns) == schema.column_names
    pd.testing.assert_series_equal(back["TEMP"], pd.to_numeric(station["TEMP"]), check_names=False)
    expected = station["wd"].where(station["wd"].notna(), None)
    assert back["wd"].tolist() == expected.tolist()


def test_given_columns_and_text_schema(station):
    schema = TableSchema.infer(station, columns=["TEMP", "wd"])
    assert schema.column_names == ["TEMP", "wd"] and "PM2.5" in schema.ignored
    text = TableSchema.infer(station.assign(note="calm day"), text_column="note")
    assert text.feature_names is None and text.encoder == "all-MiniLM-L6-v2"
    with pytest.raises(SchemaError, match="not in the table"):
        TableSchema.infer(station, target="pm25")


@pytest.mark.parametrize("bad, problem", [
    ({"columns": []}, "at least 1"),
    ({"columns": [{"name": "a", "type": "numeric", "categories": ["x"]}]}, "categorical"),
    ({"columns": [{"name": "a", "type": "categorical"}]}, "categorical"),
    ({"columns": [{"name": "a", "type": "numeric"}, {"name": "a", "type": "numeric"}]}, "more than once"),
    ({"columns": [{"name": "a", "type": "text"}, {"name": "b", "type": "numeric"}], "encoder": "m"}, "exactly one"),
    ({"columns": [{"name": "a\x1b[31m", "type": "numeric"}]}, "control"),
    ({"columns": [{"name": "a", "type": "numeric"}], "ignored": ["a"]}, "both used and ignored"),
    ({"columns": [{"name": "a", "type": "numeric", "run": "os.system"}]}, "Extra inputs"),
    ({"columns": [{"name": "a" * 300, "type": "numeric"}]}, "at most 256"),
])
def test_malformed_schemas_are_typed_errors(bad, problem):
    with pytest.raises(SchemaError, match=problem):
        TableSchema.parse(bad)
