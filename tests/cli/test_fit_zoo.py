"""``modelreuse fit --zoo`` / ``modelreuse predict`` on zoos of feature extractors: raw texts of a column
(real TF-IDF/SVD extractors, SentEval CR) and images named in a column (real MNIST digits written as
PNG and .npy files next to the table, seeded small CNN extractors); the saved model predicts from the
command line as it does in Python; bad image files and flags are typed errors (exit code 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from modelreuse.cli import app
from modelreuse.datasets.images import load_split
from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.models.architectures import small_cnn
from modelreuse.reuse.reused_model import ReusedModel
from tests.cli.conftest import cli_json
from tests.conftest import DATA
from tests.zoo.extractors import senteval_cr, text_extractor_packages

runner = CliRunner()


def _rejects(args: list, error_type: str, match: str) -> None:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {error_type}: ") and match in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def text_work(tmp_path_factory):
    """``zoo/`` (a dock of two text extractors) and ``train.csv``/``test.csv`` of SentEval CR reviews."""
    root = tmp_path_factory.mktemp("text-work")
    Dock(root / "zoo", create=True).submit_many(
        text_extractor_packages(root / "packages", sources=("sms_spam",)), validate=False)
    X, y, X_test, y_test = senteval_cr(train=150, test=200)
    labels = pd.Series(y.astype(int), dtype=float)
    labels.iloc[0] = np.nan  # an unlabelled row: not used, and the labels are read as floats
    pd.DataFrame({"review": X, "label": labels}).to_csv(root / "train.csv", index=False)
    pd.DataFrame({"review": X_test, "label": y_test}).to_csv(root / "test.csv", index=False)
    return root


@pytest.fixture(scope="module")
def image_work(tmp_path_factory):
    """``zoo/`` (a dock of two seeded small CNNs), ``train.csv`` naming PNG files and ``test.csv``
    naming .npy files of real MNIST 3s and 8s, in ``images/`` next to the tables."""
    root = tmp_path_factory.mktemp("image-work")
    packages = []
    for seed, width in ((0, 8), (1, 12)):
        torch.manual_seed(seed)
        kwargs = {"width": width, "blocks": 2, "feature_dim": 16, "num_classes": 10}
        packages.append(Learnware.build_extractor(
            root / "packages" / f"cnn{seed}", small_cnn(**kwargs).eval(), name=f"cnn/seed{seed}", modality="image",
            feature_size=16, classes=list(range(10)), architecture={"name": "small_cnn", "kwargs": kwargs},
            source_data="none (seeded initialisation)").root)
    Dock(root / "zoo", create=True).submit_many(packages, validate=False)
    rows = np.sort(np.random.default_rng(0).choice(10000, 1500, replace=False))  # the file is sorted by label
    images, labels = load_split("mnist", DATA, "test", rows)
    keep = np.random.default_rng(0).permutation(np.flatnonzero(np.isin(labels, (3, 8))))[:160]
    (root / "images").mkdir()
    names = []
    for i, row in enumerate(keep):
        name = f"images/{i:03d}" + (".png" if i < 80 else ".npy")
        if i < 80:
            Image.fromarray(images[row]).save(root / name)
        else:
            np.save(root / name, images[row])
        names.append(name)
    pd.DataFrame({"file": names[:80], "digit": labels[keep[:80]]}).to_csv(root / "train.csv", index=False)
    pd.DataFrame({"file": names[80:], "digit": labels[keep[80:]]}).to_csv(root / "test.csv", index=False)
    return root


def test_fit_and_predict_texts_on_a_zoo(text_work, tmp_path):
    report = cli_json("fit", "--zoo", text_work / "zoo", "--data", text_work / "train.csv", "--target", "label",
                      "--text-column", "review", "--out", tmp_path / "model", "--reuser", "probe_ensemble",
                      "--top-k", "2")
    assert report["reuser"] == "probe_ensemble" and len(report["chosen"]) == 2 and len(report["ranking"]) == 2
    assert [c["learnware_id"] for c in report["chosen"]] == [e["learnware_id"] for e in report["ranking"]]
    assert any("probabilities averaged, from your 149 labelled rows" in line for line in report["explanation"])
    result = cli_json("predict", "--model", tmp_path / "model", "--data", text_work / "test.csv",
                      "--text-column", "review", "--out", tmp_path / "preds.csv")
    assert result["n_rows"] == 200 and result["columns"] == ["prediction", "proba:0", "proba:1"]
    preds, test = pd.read_csv(tmp_path / "preds.csv"), pd.read_csv(text_work / "test.csv")
    model = ReusedModel.load(tmp_path / "model")
    np.testing.assert_array_equal(preds["prediction"], model.predict(test["review"].tolist()))
    majority = test["label"].value_counts(normalize=True).max()
    assert (preds["prediction"] == test["label"]).mean() > majority + 0.02
    _rejects(["predict", "--model", tmp_path / "model", "--data", text_work / "test.csv"], "SchemaError",
             "this model takes text rows")


def test_fit_and_predict_image_files_on_a_zoo(image_work, tmp_path, monkeypatch):
    monkeypatch.chdir(image_work)  # relative paths: the zoo, the tables, the images relative to the tables
    report = cli_json("fit", "--zoo", "zoo", "--data", "train.csv", "--target", "digit", "--image-column", "file",
                      "--out", tmp_path / "model")
    assert report["reuser"] in ("linear_probe", "concat_probe", "probe_ensemble") and len(report["ranking"]) == 2
    assert any(line.startswith("coupled choice: ") for line in report["explanation"])
    result = cli_json("predict", "--model", tmp_path / "model", "--data", "test.csv", "--image-column", "file")
    test = pd.read_csv("test.csv")
    assert result["n_rows"] == 80 and set(result["columns"]) == {"prediction", "proba:3", "proba:8"}
    assert np.mean(np.asarray(result["predictions"]["prediction"]) == test["digit"].to_numpy()) > 0.75


def test_bad_image_tables_are_typed_errors(image_work, tmp_path):
    table = pd.read_csv(image_work / "train.csv")
    base = ["fit", "--zoo", image_work / "zoo", "--target", "digit", "--image-column", "file", "--out", tmp_path / "m"]

    def bad(files: list[str], match: str) -> None:
        path = image_work / "bad.csv"
        table.assign(file=files + table["file"].tolist()[len(files):]).to_csv(path, index=False)
        _rejects([*base, "--data", path], "InvalidTaskDataError", match)

    bad(["images/missing.png"], "row 0: image file")
    bad(["train.csv"], "not an image file")
    bad(["../outside.png"], "leaves the table's folder")
    np.save(image_work / "images" / "two.npy", np.zeros((28, 28, 2), np.uint8))
    bad(["images/two.npy"], "holds an array of shape (28, 28, 2)")
    Image.new("L", (20, 20)).save(image_work / "images" / "small.png")
    bad(["images/000.png", "images/small.png"], "all images of a table must have the same size")
    np.save(image_work / "images" / "objects.npy", np.array([None, 1], dtype=object))
    bad(["images/objects.npy"], "not a plain numeric .npy array")
    assert not (tmp_path / "m").exists()
    _rejects(["fit", "--data", image_work / "train.csv", "--target", "digit", "--image-column", "file",
              "--out", tmp_path / "m"], "SchemaError", "--image-column needs --zoo")
    _rejects([*base[:-2], "--text-column", "file", "--data", image_work / "train.csv", "--out", tmp_path / "m"],
             "SchemaError", "exactly one of --text-column")
    _rejects(["fit", "--zoo", "http://127.0.0.1:9", "--data", image_work / "train.csv", "--target", "digit",
              "--image-column", "file", "--out", tmp_path / "m"], "RemoteDockError", "http://127.0.0.1:9")
