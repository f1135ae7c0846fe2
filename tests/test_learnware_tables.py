"""Learnwares built from a real table: a pipeline on raw columns, the spec on the schema
encoding, the model contract (``takes``), and atomic builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelreuse.errors import ManifestError, SchemaError
from modelreuse.learnware import Learnware
from modelreuse.models.tabular import impute_means, list_tables, read_table

TARGET = "PM2.5"


@pytest.fixture(scope="module")
def table(data_root) -> pd.DataFrame:
    path = next(p for p in list_tables(data_root / "tabular" / "beijing_air_quality") if "Gucheng" in p.name)
    t = read_table(path).iloc[:600]
    return t[t[TARGET].notna()].reset_index(drop=True)


@pytest.fixture(scope="module")
def pipeline(table):
    """Imputes and one-hot encodes raw columns itself: the developer's preprocessing."""
    X = table.drop(columns=["No", "station", "year", TARGET])
    numeric = [c for c in X.columns if c != "wd"]
    prep = make_column_transformer((SimpleImputer(strategy="median"), numeric), (OneHotEncoder(handle_unknown="ignore"), ["wd"]))
    return make_pipeline(prep, HistGradientBoostingRegressor(max_iter=30, random_state=0)).fit(X, table[TARGET])


def test_pipeline_on_raw_columns_takes_the_table(tmp_path, table, pipeline):
    lw = Learnware.build(tmp_path / "lw", pipeline, table=table, target=TARGET, name="Gucheng", task_type="regression")
    schema = lw.manifest.input_schema
    assert schema.takes == "table"
    assert schema.table.column_names == list(pipeline.feature_names_in_)
    assert schema.feature_names == schema.table.feature_names and schema.n_features == len(schema.feature_names)
    model = Learnware.open(lw.root).load_model()
    rows = table.iloc[:20]
    np.testing.assert_allclose(model.predict(schema.table.encode(rows)), pipeline.predict(rows[schema.table.column_names]))
    np.testing.assert_allclose(lw.rkme.center, impute_means(schema.table.encode(table)).mean(axis=0))


def test_model_on_the_encoding_gets_missing_cells_filled(tmp_path, table):
    from modelreuse.models.table_schema import TableSchema

    schema = TableSchema.infer(table, target=TARGET)
    X = impute_means(schema.encode(table))
    lw = Learnware.build(tmp_path / "lw", Ridge().fit(X, table[TARGET]), table=table, target=TARGET, name="G",
                         task_type="regression")
    assert lw.manifest.input_schema.takes == "features"
    rows = schema.encode(table.iloc[:50])
    assert np.isnan(rows).any()  # real missing cells
    predicted = lw.load_model().predict(rows)
    filled = np.where(np.isnan(rows), lw.rkme.center, rows)
    np.testing.assert_allclose(predicted, lw.load_model().model.predict(filled))


def test_a_model_that_cannot_take_the_schema_fails_at_build_and_leaves_nothing(tmp_path, table, pipeline):
    wrong = table.rename(columns={"TEMP": "temperature"})
    with pytest.raises(SchemaError, match="cannot predict"):
        Learnware.build(tmp_path / "lw", pipeline, table=wrong, target=TARGET, name="G", task_type="regression",
                        schema=_schema_without(wrong, pipeline))
    assert list(tmp_path.iterdir()) == []


def _schema_without(table, pipeline):
    from modelreuse.models.table_schema import TableSchema

    columns = [c if c != "TEMP" else "temperature" for c in pipeline.feature_names_in_]
    return TableSchema.infer(table, columns=columns)


def test_build_refuses_a_used_folder_and_leaves_it_untouched(tmp_path, table, pipeline):
    target = tmp_path / "lw"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ManifestError, match="not an empty folder"):
        Learnware.build(target, pipeline, table=table, target=TARGET, name="G", task_type="regression")
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lw"]


def test_a_failing_build_leaves_no_folder(tmp_path, table, pipeline):
    with pytest.raises(ManifestError, match="at least 2 output.classes"):  # found after the model was written
        Learnware.build(tmp_path / "lw", pipeline, table=table, target=TARGET, name="G", task_type="classification")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad_table, problem", [
    ({"columns": [{"name": "TEMP\x1b[2J", "type": "numeric"}]}, "control"),
    ({"columns": [{"name": "wd", "type": "categorical", "categories": ["N"] * 2}]}, "more than once"),
    ({"columns": [{"name": "TEMP", "type": "numeric", "loader": "os.system"}]}, "Extra inputs"),
    ({"columns": [{"name": "TEMP", "type": "numeric"}]}, "table schema's encoding"),  # names disagree
])
def test_a_tampered_table_schema_is_refused_and_nothing_stored(tmp_path, table, pipeline, bad_table, problem):
    import json

    from modelreuse.dock import Dock

    lw = Learnware.build(tmp_path / "lw", pipeline, table=table, target=TARGET, name="G", task_type="regression")
    manifest = json.loads((lw.root / "manifest.json").read_text())
    manifest["input_schema"]["table"] = bad_table
    (lw.root / "manifest.json").write_text(json.dumps(manifest))
    dock = Dock(tmp_path / "dock")
    with pytest.raises(ManifestError, match=problem):
        dock.submit(lw.root)
    assert len(dock) == 0 and not any((dock.root / "objects").rglob("*.zip"))
