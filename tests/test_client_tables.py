"""Client.fit on real tables (issue 15): DataFrames with a categorical column and missing cells,
columns matched by name, typed errors for missing/extra columns and disjoint labels, a skewed
user, "train on your own rows" when reuse does worse, the below-baseline warning, and
``dock search --data table.csv``.

One dock holds two markets with different table schemas: Beijing stations (PM2.5 regression and
"PM2.5 > 75" classification, categorical wind direction ``wd``) and gas-sensor batches (gas
classification, 128 sensor features).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelreuse import Client
from modelreuse.dock import Dock
from modelreuse.errors import BelowBaselineWarning, DockNotFoundError, SchemaError
from modelreuse.learnware import Learnware
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import list_tables, read_table

TARGET = "PM2.5"
COLUMNS = ["PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "wd", "WSPM"]
DOCKED = ("Aotizhongxin", "Changping", "Huairou")
DEV_ROWS = 400
HIGH = 75  # ug/m3: the classification learnwares' "polluted" threshold


def _site(data_root, name: str, rows: int = 1000) -> pd.DataFrame:
    path = next(p for p in list_tables(data_root / "tabular" / "beijing_air_quality") if name in p.name)
    return read_table(path).sample(rows, random_state=0).reset_index(drop=True)


def _gas(data_root, batch: int) -> pd.DataFrame:
    table = read_table(data_root / "tabular" / "gas_sensor_drift" / f"batch{batch}.csv.gz")
    return table.sample(min(len(table), 400), random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def stations(data_root) -> dict[str, pd.DataFrame]:
    return {s: _site(data_root, s) for s in (*DOCKED, "Dingling")}


@pytest.fixture(scope="module")
def market(stations, data_root, tmp_path_factory):
    """``(dock, ids)``: per docked station a PM2.5 regressor and a "PM2.5 > 75" classifier on the
    encoding of one shared schema, and two gas-batch classifiers on another schema."""
    root = tmp_path_factory.mktemp("tables")
    dock = Dock(root / "dock", create=True)
    schema = TableSchema.infer([stations[s] for s in DOCKED], columns=COLUMNS)
    ids = {}
    for s in DOCKED:
        dev = stations[s].iloc[:DEV_ROWS]
        dev = dev[dev[TARGET].notna()]
        X = schema.encode(dev)
        reg = RandomForestRegressor(n_estimators=30, max_depth=10, random_state=0).fit(X, dev[TARGET])
        clf = RandomForestClassifier(n_estimators=30, max_depth=10, random_state=0).fit(X, (dev[TARGET] > HIGH).astype(int))
        for kind, model in (("regression", reg), ("classification", clf)):
            lw = Learnware.build(root / f"{s}-{kind}", model, table=dev, target=TARGET, schema=schema, name=s,
                                 task_type=kind)
            ids[s, kind] = dock.submit(lw, validate=False)
    batches = {b: _gas(data_root, b) for b in (1, 2)}
    gas_schema = TableSchema.infer(list(batches.values()), target="gas", columns=[f"f{i}" for i in range(1, 129)])
    for b, t in batches.items():
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(gas_schema.encode(t), t["gas"])
        lw = Learnware.build(root / f"gas{b}", model, table=t, target="gas", schema=gas_schema, name=f"gas batch {b}",
                             task_type="classification")
        ids[f"gas{b}", "classification"] = dock.submit(lw, validate=False)
    return dock, ids


def _user(stations, site: str, labelled: int = 200):
    """A station's rows never seen by a learnware: ``labelled`` rows (PM2.5 column included, some
    labels missing), and test rows without PM2.5 with their labels."""
    rows = stations[site].iloc[DEV_ROWS:]
    test = rows.iloc[labelled:][rows.iloc[labelled:][TARGET].notna()]
    return rows.iloc[:labelled], test.drop(columns=[TARGET]), test[TARGET].to_numpy()


def test_a_dataframe_in_any_column_order(market, stations):
    dock, ids = market
    train, test, y_test = _user(stations, "Huairou")
    assert train[COLUMNS].isna().any().any() and not pd.api.types.is_numeric_dtype(train["wd"])
    train = train.assign(**{TARGET: train[TARGET].where(np.arange(len(train)) >= 20)})  # 20 rows not labelled
    shuffled = train[list(reversed(train.columns))]  # by name, in any order; row counters etc. ignored
    model = Client(dock.root).fit((shuffled, TARGET))
    assert ids["Huairou", "regression"] in [c["learnware_id"] for c in model.chosen]
    assert list(model.feature_names_in_) == COLUMNS
    predicted = model.predict(test)
    np.testing.assert_allclose(model.predict(test[list(np.random.default_rng(0).permutation(test.columns))]), predicted)
    np.testing.assert_allclose(model.predict(test[COLUMNS]), predicted)  # the ignored columns may be left out
    assert r2_score(y_test, predicted) > 0.7, model.explain()


def test_missing_and_extra_columns_are_named(market, stations):
    dock, _ = market
    train, _, _ = _user(stations, "Huairou", 60)
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['TEMP'\]"):
        Client(dock.root).fit((train.drop(columns=["TEMP"]), TARGET))
    with pytest.raises(SchemaError, match=r"extra column\(s\) \['humidity'\]"):
        Client(dock.root).fit((train.assign(humidity=train["DEWP"]), TARGET))
    with pytest.raises(SchemaError, match="label column 'pm25'"):
        Client(dock.root).fit((train, "pm25"))


def test_a_column_missing_at_the_users_site(market, stations):
    """Per-site missingness: the user's station never measured CO. (Calibrated search then says
    nothing fits, p ~ 0: the task spec fills a column with no value by 0, far from the stations'
    CO; the learnwares' models fill it with their own means and still predict well.)"""
    dock, ids = market
    train, test, y_test = _user(stations, "Huairou")
    model = Client(dock.root).fit((train.assign(CO=np.nan), TARGET), on_nothing_fits="reuse")
    predicted = model.predict(test.assign(CO=np.nan))
    assert np.isfinite(predicted).all() and r2_score(y_test, predicted) > 0.5, model.explain()
    assert ids["Huairou", "regression"] in model.ranking.ids


def test_labels_sharing_no_class_are_a_typed_error(market, stations):
    dock, _ = market
    train, _, _ = _user(stations, "Huairou", 60)
    train = train[train[TARGET].notna()]
    words = np.where(train[TARGET] > HIGH, "yes", "no")
    with pytest.raises(SchemaError, match=r"\['no', 'yes'\] share no class .* \['0', '1'\].*map") as info:
        Client(dock.root).fit((train.drop(columns=[TARGET]), words), on_nothing_fits="reuse")
    assert "1 and '1' match" in str(info.value)


def test_partly_overlapping_labels_predict_over_the_union(market, stations):
    """Classes 0 and 1 are the learnwares'; class 2 (PM2.5 > 250) is the user's only, and only a
    reuser that learns from labels can predict it."""
    dock, _ = market
    train, test, y_test = _user(stations, "Huairou", 300)
    train = train[train[TARGET].notna()]
    bands = np.digitize(train[TARGET], [HIGH, 250])
    assert (bands == 2).sum() >= 3
    model = Client(dock.root).fit((train.drop(columns=[TARGET]), bands), reuser="feature_augment",
                                  on_nothing_fits="reuse")
    assert list(model.classes_) == [0, 1, 2]
    proba, truth = model.predict_proba(test), np.digitize(y_test, [HIGH, 250])
    assert proba.shape == (len(test), 3) and (truth == 2).any()
    assert proba[truth == 2, 2].mean() > 3 * proba[truth != 2, 2].mean()  # learnt from the labels alone
    assert np.mean(model.predict(test) == truth) > 0.7


def test_a_skewed_user_does_not_crash(market, stations):
    """93% of the labelled rows are "polluted" (PM2.5 above its 7th percentile), and one row only is
    not: cross-validation folds with one class, where the feature-augmentation head used to crash."""
    dock, ids = market
    train, test, y_test = _user(stations, "Changping", 300)
    train = train[train[TARGET].notna()]
    threshold = np.quantile(train[TARGET], 0.07)
    labels = (train[TARGET] > threshold).astype(int).to_numpy()
    keep = np.concatenate([np.flatnonzero(labels == 1)[:29], np.flatnonzero(labels == 0)[:1]])
    rows, labels = train.drop(columns=[TARGET]).iloc[keep], labels[keep]
    model = Client(dock.root).fit((rows, labels), on_nothing_fits="reuse")
    notes = model.estimator_.notes_
    assert model.reuser in model.selection_scores and all(n in model.explain() for n in notes)
    assert set(model.selection_scores) | {n.split()[2].rstrip(":") for n in notes if n.startswith("skipped reuser")} >= {
        "feature_augment", "own_rows"}
    assert model.predict(test).shape == (len(test),)
    assert ids["Changping", "classification"] in [e.learnware_id for e in model.ranking]


def test_own_rows_win_when_reuse_is_worse(market, data_root):
    """A gas-sensor batch from months later (sensor drift), with plenty of labels: the docked
    batches' models transfer badly, so training on the user's own rows is chosen, and said."""
    dock, _ = market
    user = _gas(data_root, 9)
    train, test = user.iloc[:250], user.iloc[250:]
    model = Client(dock.root).fit((train.drop(columns=["ppm"]), "gas"), on_nothing_fits="reuse")
    assert model.reuser == "own_rows" and model.chosen == []
    reuse = {k: v for k, v in model.selection_scores.items() if k != "own_rows"}
    assert model.selection_scores["own_rows"] > max(reuse.values())
    assert "own_rows chosen: a model trained on your labelled rows only" in model.explain()
    assert model.score(test.drop(columns=["gas", "ppm"]), test["gas"]) > 0.8


def test_a_warning_when_no_reuse_beats_the_trivial_baseline(market, stations):
    """The learnwares predict PM2.5; this user's label is the day of the month (a real column the
    schema ignores), which they know nothing about."""
    dock, _ = market
    train, _, _ = _user(stations, "Huairou", 150)
    with pytest.warns(BelowBaselineWarning, match="trivial baseline"):
        model = Client(dock.root).fit((train.drop(columns=[TARGET]), "day"), task_type="regression",
                                      on_nothing_fits="reuse")
    assert max(v for k, v in model.selection_scores.items() if k != "own_rows") <= 0
    assert "warning: no reuse of the learnwares scores above the trivial baseline" in model.explain()


def test_a_dock_path_holding_no_dock_is_a_typed_error(market, stations, tmp_path):
    train, _, _ = _user(stations, "Huairou", 30)
    with pytest.raises(DockNotFoundError):
        Client().fit((train, TARGET), model_zoo_path=tmp_path / "mistyped")
    with pytest.raises(DockNotFoundError):
        Client(tmp_path / "mistyped").fit((train, TARGET))
    assert not (tmp_path / "mistyped").exists()
    assert len(Client(tmp_path / "new", create=True).dock) == 0


def test_dock_search_data_takes_a_table(market, stations, tmp_path):
    from typer.testing import CliRunner

    from modelreuse.cli import app

    dock, ids = market
    train, _, _ = _user(stations, "Huairou")
    path = tmp_path / "huairou.csv"
    train[list(reversed(train.columns))].to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = CliRunner().invoke(app, ["dock", "search", "--dock", str(dock.root), "--data", str(path),
                                          "--task-type", "regression", "--json"])
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.output)
    assert ranking["entries"][0]["learnware_id"] == ids["Huairou", "regression"]
    missing = CliRunner().invoke(app, ["dock", "search", "--dock", str(dock.root), "--data", str(path),
                                       "--drop", "TEMP", "--json"])
    assert missing.exit_code != 0 and "TEMP" in missing.output


def test_dock_search_takes_a_dataframe(market, stations):
    dock, ids = market
    train, _, _ = _user(stations, "Huairou")
    ranking = dock.search(train[list(reversed(train.columns))], task_type="regression", k=3)
    assert ranking[0].learnware_id == ids["Huairou", "regression"]
    assert ranking.details["table_schema"] == COLUMNS and ranking.details["nothing_fits"] is False
    with pytest.raises(SchemaError, match="TEMP"):
        dock.search(train.drop(columns=["TEMP"]), task_type="regression")
