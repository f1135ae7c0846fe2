"""Client.fit and the CLI's dock commands against a live dock server holding real table learnwares
(PM2.5 regressors of three Beijing stations, built from raw columns): the user's held-out rows of a
station find that station's learnware first, as they do locally, and only the task's spec is sent."""

from __future__ import annotations

import json

import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import r2_score
from typer.testing import CliRunner

from modelreuse import Client
from modelreuse.cli import app
from modelreuse.dock import Dock, RemoteDock
from modelreuse.learnware import Learnware
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import impute_means, list_tables, read_table

TARGET = "PM2.5"
COLUMNS = ["PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "wd", "WSPM"]
STATIONS = ("Aotizhongxin", "Changping", "Huairou")
DEV_ROWS = 400


@pytest.fixture(scope="module")
def stations(data_root) -> dict:
    paths = list_tables(data_root / "tabular" / "beijing_air_quality")
    return {s: read_table(next(p for p in paths if s in p.name)).sample(800, random_state=0).reset_index(drop=True)
            for s in STATIONS}


@pytest.fixture(scope="module")
def market(sqlite_server, stations, tmp_path_factory):
    """``(schema, ids)``: one table learnware per station in the server's dock (put in directly)."""
    root = tmp_path_factory.mktemp("table-learnwares")
    schema = TableSchema.infer(list(stations.values()), columns=COLUMNS)
    dock, ids = Dock(sqlite_server.root), {}
    for s, table in stations.items():
        dev = table.iloc[:DEV_ROWS][table.iloc[:DEV_ROWS][TARGET].notna()]
        model = RandomForestRegressor(n_estimators=30, max_depth=10, random_state=0).fit(schema.encode(dev), dev[TARGET])
        lw = Learnware.build(root / s, model, table=dev, target=TARGET, schema=schema, name=s, task_type="regression")
        ids[s] = dock.submit(lw, validate=False)
    return schema, ids


def held_out(stations, site: str):
    rows = stations[site].iloc[DEV_ROWS:]
    return rows[rows[TARGET].notna()].reset_index(drop=True)


def test_client_fit_against_the_server(sqlite_server, market, stations, tmp_path, monkeypatch):
    schema, ids = market
    user = held_out(stations, "Huairou")
    X, y = impute_means(schema.encode(user)), user[TARGET].to_numpy()
    monkeypatch.setenv("MODELREUSE_CACHE", str(tmp_path / "cache"))
    model = Client(token=sqlite_server.alice_token).fit(training_data=(X[:100], y[:100]),
                                                        model_zoo_path=sqlite_server.url)
    assert ids["Huairou"] in [c["learnware_id"] for c in model.chosen]
    assert r2_score(y[100:], model.predict(X[100:])) > 0.6
    assert (tmp_path / "cache" / "remote").is_dir()  # the chosen learnwares were downloaded and run here
    tables = Client(dock=RemoteDock(sqlite_server.url, cache=tmp_path / "c2")).fit((user.iloc[:100], TARGET))
    assert ids["Huairou"] in [c["learnware_id"] for c in tables.chosen]
    assert tables.predict(user.iloc[100:110].drop(columns=[TARGET])).shape == (10,)


def test_cli_dock_search_and_list_with_a_url(sqlite_server, market, stations, tmp_path, monkeypatch):
    _, ids = market
    path = tmp_path / "user.csv"
    held_out(stations, "Changping").iloc[:200].drop(columns=[TARGET]).to_csv(path, index=False)
    monkeypatch.setenv("MODELREUSE_CACHE", str(tmp_path / "cache"))
    runner = CliRunner()
    found = runner.invoke(app, ["dock", "search", "--dock", sqlite_server.url, "--data", str(path),
                                "--task-type", "regression", "--json"])
    assert found.exit_code == 0, found.output
    ranking = json.loads(found.stdout)
    assert ranking["entries"][0]["learnware_id"] == ids["Changping"] and ranking["details"]["table_schema"] == COLUMNS
    listed = runner.invoke(app, ["dock", "list", "--dock", sqlite_server.url, "--json"],
                           env={"MODELREUSE_TOKEN": sqlite_server.alice_token})
    assert listed.exit_code == 0, listed.output
    assert {c["id"] for c in json.loads(listed.stdout)} >= set(ids.values())
    local_only = runner.invoke(app, ["dock", "check", "--dock", sqlite_server.url])
    assert local_only.exit_code == 2 and "RemoteDockError" in local_only.output
    bad_token = runner.invoke(app, ["dock", "list", "--dock", sqlite_server.url, "--token", "mrt_nope"])
    assert bad_token.exit_code == 2 and "AuthenticationError" in bad_token.output


def test_cli_fit_with_a_dock_url(sqlite_server, market, stations, tmp_path, monkeypatch):
    _, ids = market
    path = tmp_path / "train.csv"
    held_out(stations, "Huairou").iloc[:150].to_csv(path, index=False)
    monkeypatch.setenv("MODELREUSE_CACHE", str(tmp_path / "cache"))
    done = CliRunner().invoke(app, ["fit", "--dock", sqlite_server.url, "--token", sqlite_server.alice_token,
                                    "--data", str(path), "--target", TARGET, "--out", str(tmp_path / "model"),
                                    "--json"])
    assert done.exit_code == 0, done.output
    assert ids["Huairou"] in [c["learnware_id"] for c in json.loads(done.stdout)["chosen"]]


def test_a_local_dock_refuses_a_url(tmp_path, monkeypatch):
    from modelreuse.errors import DockNotFoundError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(DockNotFoundError, match="open_dock"):
        Dock("http://127.0.0.1:9/")
    assert list(tmp_path.iterdir()) == []  # no folder named 'http:' was made
