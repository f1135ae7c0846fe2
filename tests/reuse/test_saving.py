"""Saving and loading a fitted ReusedModel (reuse/saving.py) on real Beijing station tables: the
round trip predicts identically, and a tampered folder is refused with a typed error before any
of its code could run."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelreuse.errors import (
    ModelLoadError,
    UnknownNameError,
    UnsafeArchiveError,
    UnsupportedModelError,
    UntrustedArtifactError,
)
from modelreuse.learnware import Learnware
from modelreuse.models import ModelAdapter
from modelreuse.models.tabular import list_tables, read_table
from modelreuse.reuse.auto import AutoReuser, Candidate
from modelreuse.reuse.reused_model import ReusedModel
from modelreuse.selection.ranking import RankedLearnware, Ranking

TARGET = "PM2.5"
SITES = ("Gucheng", "Huairou")
USER = "Huairou"
AQI_BANDS = [35, 75, 150]


def _station(data_root, site: str) -> pd.DataFrame:
    path = next(p for p in list_tables(data_root / "tabular" / "beijing_air_quality") if site in p.name)
    return read_table(path)


def _pipeline(table: pd.DataFrame, y, head) -> object:
    """The developer's own preprocessing on raw columns (imputation, one-hot ``wd``), fitted."""
    X = table.drop(columns=["No", "station", "year", TARGET])
    numeric = [c for c in X.columns if c != "wd"]
    prep = make_column_transformer((make_pipeline(SimpleImputer(), StandardScaler()), numeric),
                                   (OneHotEncoder(handle_unknown="ignore"), ["wd"]))
    return make_pipeline(prep, head).fit(X, y)


@pytest.fixture(scope="module")
def stations(data_root, tmp_path_factory) -> dict:
    """Per task type: one candidate per station (a learnware built from its first 600 labelled
    rows), the table schema, and the user's later rows of Huairou (with missing cells)."""
    root = tmp_path_factory.mktemp("packages")
    tables = {s: _station(data_root, s) for s in SITES}
    out = {}
    for task_type in ("regression", "classification"):
        candidates = []
        for s, t in tables.items():
            dev = t.iloc[:800][t[TARGET].iloc[:800].notna()]
            y = dev[TARGET] if task_type == "regression" else np.digitize(dev[TARGET], AQI_BANDS)
            head = HistGradientBoostingRegressor(max_iter=30, random_state=0) if task_type == "regression" \
                else LogisticRegression(max_iter=500)
            model = _pipeline(dev, y, head)
            lw = Learnware.build(root / f"{task_type}-{s}", model, table=dev, target=TARGET, name=s,
                                 task_type=task_type)
            candidates.append(Candidate(s, s, lw.load_model(), f"{s} ranked", 1 / len(SITES), lw.rkme))
        user = tables[USER].iloc[5000:5300]
        user = user[user[TARGET].notna()]
        y = user[TARGET].to_numpy() if task_type == "regression" else np.digitize(user[TARGET], AQI_BANDS)
        out[task_type] = (tuple(candidates), lw.manifest.input_schema.table, user.drop(columns=[TARGET]), y)
    return out


def _fitted(stations, task_type: str, reuser: str) -> ReusedModel:
    candidates, schema, X, y = stations[task_type]
    auto = AutoReuser(mixture=candidates, ranking=candidates, task_type=task_type, reuser=reuser)
    return ReusedModel(auto, schema=schema).fit(X, y)


@pytest.fixture(scope="module")
def saved(stations, tmp_path_factory):
    """A saved regression model (feature augmentation: a fitted head) and the original."""
    model = _fitted(stations, "regression", "feature_augment")
    return model, model.save(tmp_path_factory.mktemp("saved") / "model")


def test_user_rows_are_a_real_table_with_missing_cells(stations):
    _, schema, X, _ = stations["regression"]
    assert "wd" in schema.column_names and not pd.api.types.is_numeric_dtype(X["wd"])
    assert np.isnan(schema.encode(X)).any()


@pytest.mark.parametrize(("task_type", "reuser"), [("regression", "job_selector"), ("regression", "ensemble_pruning"),
                                                   ("classification", "feature_augment"), ("classification", "own_rows")])
def test_round_trip_predicts_identically(stations, tmp_path, task_type, reuser):
    model = _fitted(stations, task_type, reuser)
    X = stations[task_type][2]
    loaded = ReusedModel.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if task_type == "classification":
        np.testing.assert_array_equal(loaded.classes_, model.classes_)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.explain() == model.explain() and loaded.reuser == reuser
    assert sorted(p.name for p in (tmp_path / "m").rglob("*") if p.is_file()) == \
        ["000.zip", "001.zip", "model.json", "state.skops"]


def test_loaded_model_is_an_estimator_that_refits_and_saves_again(saved, stations, tmp_path):
    model, path = saved
    _, _, X, y = stations["regression"]
    loaded = ReusedModel.load(path)
    refit = clone(loaded).fit(X, y)
    np.testing.assert_allclose(refit.predict(X), model.predict(X))
    again = ReusedModel.load(loaded.save(tmp_path / "again"))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    description = json.loads((path / "model.json").read_text())
    assert description["reuse"]["reuser"] == "feature_augment" and description["packages"] == list(SITES)
    assert description["explanation"] == model.explain()


def test_model_trained_on_own_rows_without_learnwares(stations, tmp_path):
    """The fallback when nothing fits: a forest on the user's rows, with the closest candidates."""
    _, schema, X, y = stations["regression"]
    ranking = Ranking([RankedLearnware("Gucheng", "Gucheng", -3.0, "p = 0.001", details={"p_value": np.float64(1e-3)})],
                      "statistical", {"nothing_fits": True, "alpha": 0.01})
    model = ReusedModel(RandomForestRegressor(n_estimators=20, random_state=0), schema=schema, ranking=ranking,
                        skipped=("skipped Wanliu [w]: ModelLoadError: test",)).fit(X, y)
    loaded = ReusedModel.load(model.save(tmp_path / "own"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert not (tmp_path / "own" / "learnwares").exists() and loaded.reuser == model.reuser
    assert loaded.explain() == model.explain() and "closest candidate, not used: p = 0.001" in loaded.explain()


def test_models_not_loaded_from_a_package_cannot_be_saved(stations, tmp_path):
    candidates, schema, X, y = stations["regression"]
    bare = tuple(Candidate(c.learnware_id, c.name, ModelAdapter(c.model.model, "regression", prepare=c.model.prepare),
                           weight=c.weight) for c in candidates)
    model = ReusedModel(AutoReuser(mixture=bare, ranking=bare, reuser="averaging"), schema=schema).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="no package folder"):
        model.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_saving_into_a_folder_in_use_is_refused(saved):
    model, path = saved
    with pytest.raises(FileExistsError, match="not an empty folder"):
        model.save(path)


# ---------------------------------------------------------------------------- hostile folders
@pytest.fixture
def copy(saved, tmp_path):
    return shutil.copytree(saved[1], tmp_path / "copy")


def _edit_json(path, edit) -> None:
    data = json.loads((path / "model.json").read_text())
    edit(data)
    (path / "model.json").write_text(json.dumps(data))


def test_unknown_reuser_name(copy):
    _edit_json(copy, lambda d: d["reuse"].update(reuser="os.system"))
    with pytest.raises(UnknownNameError, match="feature_augment"):
        ReusedModel.load(copy)


@pytest.mark.parametrize("edit", [
    lambda d: d.update(task_type=5),
    lambda d: d["reuse"]["params"].update(cv={"__class__": "x"}),
    lambda d: d["reuse"]["params"].update(injected=1),
    lambda d: d.update(packages=["Gucheng"]),
    lambda d: d.update(format="pickle"),
    lambda d: d.update(extra_field=1),
])
def test_malformed_description(copy, edit):
    _edit_json(copy, edit)
    with pytest.raises(ModelLoadError):
        ReusedModel.load(copy)


class PickleBomb:
    """Creates a file when unpickled: proof that loading ran code from the folder."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class Marker:
    """Creates a file when skops rebuilds it (``__setstate__``)."""

    def __setstate__(self, state):
        open(state["path"], "w").close()


def test_a_pickle_file_in_the_folder_is_refused_unread(copy, tmp_path):
    (copy / "model.pkl").write_bytes(pickle.dumps(PickleBomb(tmp_path / "ran")))
    with pytest.raises(ModelLoadError, match="model.pkl"):
        ReusedModel.load(copy)
    assert not (tmp_path / "ran").exists()


def test_a_state_with_an_untrusted_type_is_refused(copy, tmp_path):
    import skops.io as sio

    state = sio.load(copy / "state.skops", trusted=sio.get_untrusted_types(file=copy / "state.skops"))
    marker = Marker()
    marker.__dict__["path"] = str(tmp_path / "ran")
    state["model"]["evil_"] = marker
    (copy / "state.skops").unlink()
    sio.dump(state, copy / "state.skops")
    with pytest.raises(UntrustedArtifactError, match="Marker"):
        ReusedModel.load(copy)
    assert not (tmp_path / "ran").exists()


def test_a_missing_package(copy):
    (copy / "learnwares" / "001.zip").unlink()
    with pytest.raises(ModelLoadError, match="001.zip"):
        ReusedModel.load(copy)


def test_a_package_zip_escaping_its_folder(copy, tmp_path):
    zip_path = copy / "learnwares" / "000.zip"
    with zipfile.ZipFile(zip_path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    with zipfile.ZipFile(zip_path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        zf.writestr("../../escaped.txt", "outside")
    with pytest.raises(UnsafeArchiveError):
        ReusedModel.load(copy)
    assert not list(tmp_path.rglob("escaped.txt"))
