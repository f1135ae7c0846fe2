"""``modelreuse learnware build``: a developer's skops or ONNX model and a real Beijing station table
become a package that the dock accepts, with relative paths from the current directory."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from modelreuse.cli import app
from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import impute_means, read_table
from tests.cli.conftest import cli_json
from tests.conftest import BEIJING

runner = CliRunner()
TARGET = "PM2.5"


@pytest.fixture(scope="module")
def station(data_root) -> pd.DataFrame:
    """600 real rows of the Dongsi station (missing cells and the categorical ``wd`` included)."""
    return read_table(next(BEIJING.glob("*Dongsi*"))).iloc[:600]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path



def test_build_from_a_skops_pipeline_then_submit(station, in_tmp):
    labelled = station[station[TARGET].notna()]
    X = labelled.drop(columns=["No", "year", "station", TARGET])
    numeric = [c for c in X.columns if c != "wd"]
    prep = make_column_transformer((SimpleImputer(), numeric), (OneHotEncoder(handle_unknown="ignore"), ["wd"]))
    pipeline = make_pipeline(prep, HistGradientBoostingRegressor(max_iter=30, random_state=0)).fit(X, labelled[TARGET])
    (in_tmp / "dev").mkdir()
    sio.dump(pipeline, "dev/model.skops")
    station.to_csv("dev/station.csv", index=False)

    report = cli_json("learnware", "build", "--model", "dev/model.skops", "--data", "dev/station.csv",
                     "--target", TARGET, "--name", "Dongsi PM2.5", "--description", "hourly PM2.5", "--out", "pkg/dongsi")
    assert report["task_type"] == "regression" and report["takes"] == "table" and report["format"] == "skops"
    assert report["columns"] == list(X.columns) and "wd" in report["columns"]

    lw = Learnware.open("pkg/dongsi")
    rows = station.iloc[:50]
    np.testing.assert_allclose(lw.load_model().predict(lw.manifest.input_schema.table.encode(rows)),
                               pipeline.predict(rows[X.columns]))

    assert cli_json("dock", "init", "dock")["n_learnwares"] == 0
    submitted = cli_json("dock", "submit", "pkg/dongsi", "--dock", "dock")
    assert Dock("dock").get(submitted[0]["id"]).manifest.name == "Dongsi PM2.5"


def test_build_from_onnx_infers_classification_and_its_classes(station, in_tmp):
    from skl2onnx import to_onnx

    table = station.assign(level=np.where(station[TARGET] > 75, "high", "low"))
    table = table[station[TARGET].notna()].drop(columns=[TARGET])
    schema = TableSchema.infer(table, target="level")
    Z = impute_means(schema.encode(table)).astype(np.float32)
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(Z, table["level"])
    onnx_model = to_onnx(clf, Z[:1], options={"zipmap": False})
    (in_tmp / "model.onnx").write_bytes(onnx_model.SerializeToString())
    table.to_parquet("dev.parquet")

    report = cli_json("learnware", "build", "--model", "model.onnx", "--data", "dev.parquet", "--target", "level",
                     "--name", "Dongsi level", "--out", "pkg")
    assert report["task_type"] == "classification" and report["classes"] == ["high", "low"]
    assert report["format"] == "onnx" and report["takes"] == "features"
    model = Learnware.open("pkg").load_model()
    np.testing.assert_array_equal(model.predict(Z[:40]), clf.predict(Z[:40]))


def test_build_from_safetensors_with_a_registered_architecture(station, in_tmp):
    import torch
    from safetensors.torch import save_model

    from modelreuse.models.architectures import build_architecture

    table = station[station[TARGET].notna()]
    schema = TableSchema.infer(table, target=TARGET)
    Z = torch.as_tensor(impute_means(schema.encode(table)), dtype=torch.float32)
    Z = (Z - Z.mean(0)) / (Z.std(0) + 1e-6)
    kwargs = {"in_features": Z.shape[1], "out_features": 1, "hidden": [16]}
    net = build_architecture("mlp", kwargs)
    y = torch.tensor(table[TARGET].to_numpy(dtype=np.float32))[:, None]
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(50):  # a few real steps: the weights are the developer's, not random
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(Z), y).backward()
        opt.step()
    save_model(net, "weights.safetensors")
    table.to_csv("dev.csv", index=False)

    without = runner.invoke(app, ["learnware", "build", "--model", "weights.safetensors", "--data", "dev.csv",
                                  "--target", TARGET, "--name", "x", "--out", "pkg"])
    assert without.exit_code == 2 and "--architecture" in without.output and not (in_tmp / "pkg").exists()
    report = cli_json("learnware", "build", "--model", "weights.safetensors", "--data", "dev.csv", "--target", TARGET,
                     "--name", "Dongsi MLP", "--out", "pkg", "--architecture", "mlp", "--kwargs", json.dumps(kwargs))
    assert report["format"] == "safetensors" and report["takes"] == "features"
    rows = Z[:30].numpy()
    with torch.no_grad():
        expected = net(Z[:30]).numpy()[:, 0]
    np.testing.assert_allclose(Learnware.open("pkg").load_model().predict(rows), expected, rtol=1e-5)


@pytest.mark.parametrize(("model_file", "error"), [("model.pkl", "UnsupportedModelError"),
                                                   ("missing.skops", "FileNotFoundError")])
def test_bad_model_files_are_typed_errors_and_build_nothing(station, in_tmp, model_file, error):
    station.to_csv("station.csv", index=False)
    (in_tmp / "model.pkl").write_bytes(b"not read")
    result = runner.invoke(app, ["learnware", "build", "--model", model_file, "--data", "station.csv", "--target",
                                 TARGET, "--name", "x", "--out", "pkg"])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {error}: "), result.output
    assert not (in_tmp / "pkg").exists()


def test_unknown_target_column(station, in_tmp):
    station.to_csv("station.csv", index=False)
    result = runner.invoke(app, ["learnware", "build", "--model", "m.skops", "--data", "station.csv", "--target",
                                 "pm25", "--name", "x", "--out", "pkg"])
    assert result.exit_code == 2 and "error: SchemaError: " in result.stderr and "PM2.5" in result.stderr
