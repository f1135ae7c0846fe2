"""``modelreuse fit`` / ``modelreuse predict`` on real Beijing station tables (missing cells, the
categorical ``wd`` column), against a dock of table learnwares, with relative paths from the
current directory."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from typer.testing import CliRunner

from modelreuse.cli import app
from modelreuse.client import Client
from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.models.tabular import read_table
from modelreuse.reuse.reused_model import ReusedModel
from tests.cli.conftest import cli_json
from tests.conftest import BEIJING

runner = CliRunner()
TARGET = "PM2.5"
SITES = ("Gucheng", "Wanliu")
USER = "Gucheng"


@pytest.fixture(scope="module")
def workdir(data_root, tmp_path_factory):
    """A folder holding ``dock/`` (one pipeline learnware per station, built on 800 of its rows drawn
    at random) and the user's ``train.csv`` / ``test.csv`` (other rows of a docked station, labels
    included in the training table)."""
    root = tmp_path_factory.mktemp("work")
    packages = []
    for site in SITES:
        table = read_table(next(BEIJING.glob(f"*{site}*")))
        table = table.iloc[np.random.default_rng(0).permutation(len(table))].reset_index(drop=True)
        dev = table.iloc[:800][table[TARGET].iloc[:800].notna()]
        X = dev.drop(columns=["No", "year", "station", TARGET])
        numeric = [c for c in X.columns if c != "wd"]
        prep = make_column_transformer((SimpleImputer(), numeric), (OneHotEncoder(handle_unknown="ignore"), ["wd"]))
        model = make_pipeline(prep, HistGradientBoostingRegressor(max_iter=30, random_state=0)).fit(X, dev[TARGET])
        packages.append(Learnware.build(root / "packages" / site, model, table=dev, target=TARGET, name=site,
                                        task_type="regression").root)
        if site == USER:
            table.iloc[800:1100].to_csv(root / "train.csv", index=False)
            table.iloc[1100:1200].drop(columns=[TARGET]).to_csv(root / "test.csv", index=False)
    Dock(root / "dock", create=True).submit_many(packages)
    return root


@pytest.fixture
def in_work(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    return workdir



def test_fit_saves_what_client_fit_returns_and_predict_writes_it(in_work, tmp_path):
    train = pd.read_csv("train.csv")
    assert train[TARGET].isna().any() or train.drop(columns=[TARGET]).isna().any().any()  # real missing cells

    out = tmp_path.name + "-model"  # relative to the current directory
    report = cli_json("fit", "--dock", "dock", "--data", "train.csv", "--target", TARGET, "--out", out)
    expected = Client(dock="dock").fit((train, TARGET))
    assert report["reuser"] == expected.reuser and report["explanation"] == expected.explain().splitlines()
    assert report["chosen"] == json.loads(json.dumps(expected.chosen))

    test = pd.read_csv("test.csv")
    preds = cli_json("predict", "--model", out, "--data", "test.csv", "--out", "preds.csv")
    assert preds["n_rows"] == len(test) and preds["out"] == "preds.csv"
    written = pd.read_csv("preds.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(written, expected.predict(test))
    np.testing.assert_allclose(written, ReusedModel.load(out).predict(test))


def test_fit_prints_the_explanation_and_predict_prints_csv(in_work, tmp_path):
    out = tmp_path.name + "-text"
    result = runner.invoke(app, ["fit", "--dock", "dock", "--data", "train.csv", "--target", TARGET, "--out", out,
                                 "--reuser", "averaging"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "reuser: averaging (regression)" and lines[-1] == f"saved the model to {out}"
    assert any(line.startswith(f"- {USER} [") for line in lines)  # the docked station is used, with its reason

    printed = runner.invoke(app, ["predict", "--model", out, "--data", "test.csv"])
    assert printed.exit_code == 0, printed.output
    csv = printed.stdout.splitlines()
    assert csv[0] == "prediction" and len(csv) == 1 + len(pd.read_csv("test.csv"))


@pytest.mark.parametrize(("args", "error"), [
    (["fit", "--dock", "no-dock", "--data", "train.csv", "--target", TARGET, "--out", "m"], "DockNotFoundError"),
    (["fit", "--dock", "dock", "--data", "train.csv", "--target", "pm25", "--out", "m"], "SchemaError"),
    (["fit", "--dock", "dock", "--data", "train.csv", "--target", TARGET, "--out", "m", "--drop", "wd"], "SchemaError"),
    (["fit", "--dock", "dock", "--data", "train.csv", "--target", TARGET, "--out", "train.csv"], "FileExistsError"),
    (["predict", "--model", "dock", "--data", "test.csv"], "ModelLoadError"),
    (["predict", "--model", "missing", "--data", "test.csv"], "ModelLoadError"),
])
def test_user_errors_are_typed_and_create_nothing(in_work, args, error):
    before = sorted(p.name for p in in_work.iterdir())
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {error}: "), result.output
    assert sorted(p.name for p in in_work.iterdir()) == before
