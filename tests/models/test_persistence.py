import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelreuse.errors import ModelLoadError, UntrustedArtifactError
from modelreuse.models import ModelAdapter, load_model, save_model


@pytest.fixture(scope="module")
def clf_data(beijing):
    from modelreuse.models.tabular import impute_means

    X = impute_means(beijing["Wanliu"]["X"])
    y = (beijing["Wanliu"]["y"] > 75).astype(int)  # China AQI 'lightly polluted' PM2.5 breakpoint
    return X, y


def test_skops_roundtrip_predicts_the_same(clf_data, tmp_path):
    X, y = clf_data
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    entry = save_model(est, tmp_path)
    assert entry == {"format": "skops", "file": "model.skops"}
    back = load_model(tmp_path, entry)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


class NotSklearn:  # a type outside sklearn/numpy/scipy
    def predict(self, X):
        return np.zeros(len(X))


def test_pickle_needs_trust(tmp_path):
    entry = save_model(NotSklearn(), tmp_path, fmt="pickle")
    with pytest.raises(UntrustedArtifactError, match="trust=True"):
        load_model(tmp_path, entry)
    assert load_model(tmp_path, entry, trust=True).predict(np.ones((2, 1))).shape == (2,)


def test_skops_with_foreign_type_needs_trust(tmp_path):
    entry = save_model(NotSklearn(), tmp_path, fmt="skops")
    with pytest.raises(UntrustedArtifactError, match="NotSklearn"):
        load_model(tmp_path, entry)
    assert isinstance(load_model(tmp_path, entry, trust=True), NotSklearn)


def test_torch_safetensors_with_registered_architecture(clf_data, tmp_path):
    X, y = clf_data
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    entry = save_model(net, tmp_path, architecture={"name": "mlp", "kwargs": {"in_features": X.shape[1], "out_features": 2, "hidden": [16]}})
    back = load_model(tmp_path, entry)
    adapter = ModelAdapter(back, "classification", classes=[0, 1])
    with torch.no_grad():
        expected = net(torch.as_tensor(X[:20], dtype=torch.float32)).argmax(1).numpy()
    np.testing.assert_array_equal(adapter.predict(X[:20]), expected)
    assert np.allclose(adapter.predict_proba(X[:20]).sum(1), 1)


def test_unknown_architecture_is_a_load_error(tmp_path):
    net = torch.nn.Linear(3, 1)
    entry = save_model(net, tmp_path, architecture={"name": "mlp", "kwargs": {}})
    entry["architecture"]["name"] = "does-not-exist"
    with pytest.raises(ModelLoadError, match="unknown torch architecture"):
        load_model(tmp_path, entry)


def test_onnx_model_from_skl2onnx(clf_data, tmp_path):
    from skl2onnx import to_onnx

    X, y = clf_data
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    onx = to_onnx(est, X[:1].astype(np.float32), options={id(est): {"zipmap": False}})
    entry = save_model(onx, tmp_path)
    assert entry["format"] == "onnx"
    adapter = ModelAdapter(load_model(tmp_path, entry), "classification", classes=[0, 1])
    np.testing.assert_allclose(adapter.predict_proba(X[:50]), est.predict_proba(X[:50]), atol=1e-4)


def test_corrupt_artifact_is_a_load_error(tmp_path):
    (tmp_path / "model.skops").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError):
        load_model(tmp_path, {"format": "skops", "file": "model.skops"})
