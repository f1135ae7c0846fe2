"""Deserialisers trust explicit allowlists, never module prefixes (issue 13, item 2).

Hostile skops files are built from a real dumped Ridge by replacing one attribute node with a
node that calls (or returns) a function from every package that used to be trusted by prefix
(builtins, numpy, scipy, sklearn) and from os/subprocess; each payload writes the ``canary``.
They must be refused by ``load_model``, by ``Dock.submit`` without trust, and by ``Dock.load_model``
in a second user process when an older version stored them. Real models of every kind on the
allowlist load without trust. Safetensors weights must match the manifest's architecture exactly.
"""

from __future__ import annotations

import importlib
import io
import json
import pickle
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
import torch
from sklearn import (
    calibration,
    cluster,
    compose,
    decomposition,
    ensemble,
    gaussian_process,
    impute,
    linear_model,
    naive_bayes,
    neighbors,
    neural_network,
    pipeline,
    preprocessing,
    svm,
    tree,
)

from modelreuse.dock import Dock
from modelreuse.errors import ModelLoadError, UntrustedArtifactError
from modelreuse.models.persistence import load_model, save_model
from modelreuse.models.skops_allowlist import SKOPS_ALLOWED
from modelreuse.models.tabular import list_tables, read_table
from tests.conftest import BEIJING
from tests.security.conftest import dock_state

SKOPS = {"format": "skops", "file": "model.skops"}
NUMERIC = ["TEMP", "PRES", "DEWP", "WSPM", "NO2", "CO", "O3", "PM10"]


# ------------------------------------------------------------------ real models on the allowlist
def _column_model():
    numeric = pipeline.make_pipeline(impute.SimpleImputer(), preprocessing.StandardScaler())
    columns = compose.ColumnTransformer([("num", numeric, NUMERIC),
                                         ("cat", preprocessing.OneHotEncoder(handle_unknown="ignore"), ["wd"])])
    return pipeline.make_pipeline(columns, linear_model.Ridge())


# name -> (unfitted estimator factory, "r"egression / "c"lassification / "t"able input); used by
# benchmarks/skops_allowlist.py to generate modelreuse.models.skops_allowlist.SKOPS_ALLOWED
REAL_MODELS = {
    "ridge": (linear_model.Ridge, "r"), "lasso": (linear_model.Lasso, "r"),
    "logistic": (lambda: linear_model.LogisticRegression(max_iter=300), "c"),
    "sgd_classifier": (lambda: linear_model.SGDClassifier(random_state=0), "c"),
    "sgd_huber": (lambda: linear_model.SGDRegressor(loss="huber", random_state=0), "r"),
    "tree": (lambda: tree.DecisionTreeClassifier(max_depth=4), "c"),
    "forest": (lambda: ensemble.RandomForestRegressor(5, random_state=0), "r"),
    "extra_trees": (lambda: ensemble.ExtraTreesClassifier(5, random_state=0), "c"),
    "gradient_boosting": (lambda: ensemble.GradientBoostingClassifier(n_estimators=5), "c"),
    "gradient_boosting_huber": (lambda: ensemble.GradientBoostingRegressor(loss="huber", n_estimators=5), "r"),
    "hist_gb_classifier": (lambda: ensemble.HistGradientBoostingClassifier(max_iter=5), "c"),
    "hist_gb_regressor": (lambda: ensemble.HistGradientBoostingRegressor(max_iter=5), "r"),
    "adaboost": (lambda: ensemble.AdaBoostClassifier(n_estimators=5), "c"),
    "bagging": (lambda: ensemble.BaggingRegressor(n_estimators=3, random_state=0), "r"),
    "voting": (lambda: ensemble.VotingRegressor([("a", linear_model.Ridge()),
                                                  ("b", tree.DecisionTreeRegressor(max_depth=3))]), "r"),
    "stacking": (lambda: ensemble.StackingClassifier([("a", linear_model.LogisticRegression(max_iter=300)),
                                                      ("b", naive_bayes.GaussianNB())], cv=3), "c"),
    "knn_kd_tree": (lambda: neighbors.KNeighborsRegressor(algorithm="kd_tree", metric="manhattan"), "r"),
    "knn_ball_tree": (lambda: neighbors.KNeighborsClassifier(algorithm="ball_tree", p=3), "c"),
    "knn_default": (neighbors.KNeighborsRegressor, "r"),
    "svc": (lambda: svm.SVC(probability=True, random_state=0), "c"), "svr": (svm.SVR, "r"),
    "linear_svc": (svm.LinearSVC, "c"),
    "mlp_adam": (lambda: neural_network.MLPClassifier(max_iter=20, random_state=0), "c"),
    "mlp_sgd": (lambda: neural_network.MLPRegressor(solver="sgd", max_iter=10, random_state=0), "r"),
    "gaussian_nb": (naive_bayes.GaussianNB, "c"),
    "kmeans": (lambda: cluster.KMeans(3, n_init=2, random_state=0), "r"),
    "pca_ridge": (lambda: pipeline.make_pipeline(decomposition.PCA(3), linear_model.Ridge()), "r"),
    "calibrated_sigmoid": (lambda: calibration.CalibratedClassifierCV(linear_model.LogisticRegression(max_iter=300),
                                                                      cv=3), "c"),
    "calibrated_isotonic": (lambda: calibration.CalibratedClassifierCV(naive_bayes.GaussianNB(),
                                                                       method="isotonic", cv=3), "c"),
    "gaussian_process": (gaussian_process.GaussianProcessRegressor, "r"),
    "ufunc_transformer": (lambda: pipeline.make_pipeline(preprocessing.FunctionTransformer(np.tanh),
                                                         linear_model.Ridge()), "r"),
    "target_transform": (lambda: compose.TransformedTargetRegressor(
        linear_model.Ridge(), transformer=preprocessing.StandardScaler()), "r"),
    "poly_quantile": (lambda: pipeline.make_pipeline(preprocessing.PolynomialFeatures(2),
                                                     preprocessing.QuantileTransformer(n_quantiles=50),
                                                     linear_model.Ridge()), "r"),
    "column_transformer": (_column_model, "t"),
}


def load_table(rows: int = 300):
    """``rows`` real rows of one Beijing station with a finite PM2.5."""
    table = read_table(list_tables(BEIJING)[0]).sample(rows + 100, random_state=0).reset_index(drop=True)
    return table[np.isfinite(table["PM2.5"].to_numpy(dtype=float))].iloc[:rows].reset_index(drop=True)


def fit_real_model(name: str, table):
    """Fit the model ``name`` of :data:`REAL_MODELS` on ``table``; returns ``(model, X)``."""
    factory, kind = REAL_MODELS[name]
    X = table[NUMERIC + ["wd"]] if kind == "t" else table[NUMERIC].fillna(table[NUMERIC].mean()).to_numpy(float)
    y = table["PM2.5"].to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the deliberately short fits
        return factory().fit(X, np.where(y > np.median(y), "high", "low") if kind == "c" else y), X


@pytest.fixture(scope="module")
def table(data_root):
    return load_table()


@pytest.mark.parametrize("name", sorted(REAL_MODELS))
def test_real_models_load_without_trust(name, table, tmp_path):
    model, X = fit_real_model(name, table)
    save_model(model, tmp_path, fmt="skops")
    back = load_model(tmp_path, SKOPS)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_allowlist_names_existing_classes_only():
    """Every allowed name resolves to a class (never a function) under the loader it names."""
    for name, loader in SKOPS_ALLOWED.items():
        module, _, attr = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attr), type), name
        assert loader in ("ObjectNode", "TreeNode", "DTypeNode", "DictNode"), (name, loader)


def test_function_transformer_with_a_plain_function_needs_trust(table, tmp_path):
    """Functions are never allowlisted: only numpy/scipy ufuncs, which skops trusts itself."""
    X = table[NUMERIC].fillna(0).to_numpy(float)
    model = pipeline.make_pipeline(preprocessing.FunctionTransformer(np.clip, kw_args={"a_min": 0, "a_max": 1}),
                                   linear_model.Ridge()).fit(X, table["PM2.5"])
    save_model(model, tmp_path, fmt="skops")
    with pytest.raises(UntrustedArtifactError, match="numpy.clip"):
        load_model(tmp_path, SKOPS)
    np.testing.assert_allclose(load_model(tmp_path, SKOPS, trust=True).predict(X), model.predict(X))


# ------------------------------------------------------------------ hostile skops graphs
def _json(value) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _args_node(args: tuple) -> dict:
    """The skops node of a tuple of plain values, as skops itself writes it."""
    with zipfile.ZipFile(io.BytesIO(sio.dumps(args))) as zf:
        node = json.loads(zf.read("schema.json"))
    for key in ("protocol", "_skops_version"):
        node.pop(key)
    return node


def _call(dotted: str, *args) -> dict:
    """A node that skops turns into ``dotted(*args)``."""
    module, _, name = dotted.rpartition(".")
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": _args_node(args)}


def _function(dotted: str) -> dict:
    module, _, name = dotted.rpartition(".")
    return {"__class__": name, "__module__": module, "__loader__": "FunctionNode"}


def _payloads(canary: Path) -> dict[str, tuple[str, dict]]:
    """name -> (type that must be named in the error, node); each payload writes ``canary``."""
    code = f"open({str(canary)!r}, 'w').write('pwned')"
    pickled = canary.parent / "payload.pkl"
    pickled.write_bytes(pickle.dumps(_WriteCanary(str(canary))))
    svm_x = [[1.0]]
    return {
        "exec": ("builtins.exec", _call("builtins.exec", code)),
        "eval": ("builtins.eval", _call("builtins.eval", code)),
        "open_write": ("builtins.open", _call("builtins.open", str(canary), "w")),
        "import": ("builtins.__import__", _call("builtins.__import__", "os")),
        "exec_as_function": ("builtins.exec", _function("builtins.exec")),
        "numpy_runstring": ("numpy.testing._private.utils.runstring",
                            _call("numpy.testing._private.utils.runstring", code, {})),
        "numpy_load_pickle": ("numpy.load", _call("numpy.load", str(pickled), None, True)),
        "scipy_savemat": ("scipy.io.matlab._mio.savemat",
                          _call("scipy.io.matlab._mio.savemat", str(canary), {}, False)),
        "sklearn_run_script": ("sklearn.utils._testing.assert_run_python_script_without_output",
                               _call("sklearn.utils._testing.assert_run_python_script_without_output", code)),
        "sklearn_dump_svmlight": ("sklearn.datasets._svmlight_format_io.dump_svmlight_file",
                                  _call("sklearn.datasets._svmlight_format_io.dump_svmlight_file",
                                        svm_x, [1.0], str(canary))),
        "os_system": ("os.system", _call("os.system", f"touch {canary}")),
        "subprocess_popen": ("subprocess.Popen", _call("subprocess.Popen", ["touch", str(canary)])),
        # an allowed type under a loader that calls it, and an estimator called with file arguments
        "tree_as_constructor": ("sklearn.tree._tree.Tree", _call("sklearn.tree._tree.Tree", 1, [1], 1)),
        "estimator_as_constructor": ("sklearn.linear_model._ridge.Ridge",
                                     _call("sklearn.linear_model._ridge.Ridge", 1.0)),
    }


class _WriteCanary:
    """Unpickling this writes the canary (the payload of a pickle read through numpy.load)."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "pwned"))


def _hostile_skops(model_file: Path, node: dict) -> None:
    """Replace the ``alpha`` attribute of the dumped Ridge in ``model_file`` by ``node``."""
    with zipfile.ZipFile(model_file) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    schema = json.loads(entries["schema.json"])
    schema["content"]["content"]["alpha"] = node
    entries["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(model_file, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


PAYLOADS = sorted(_payloads(Path(tempfile.gettempdir()) / "unused").keys())
# each submit starts a validation process (seconds); the in-process and user-process tests cover every payload
SUBMITTED = ("exec", "sklearn_run_script")


@pytest.fixture
def hostile(valid_package, canary):
    """A function: payload name -> a copy of the valid package whose model carries that payload."""
    def make(name: str) -> tuple[str, Path]:
        dotted, node = _payloads(canary)[name]
        package = valid_package.parent / f"hostile_{name}"
        if not package.exists():
            import shutil

            shutil.copytree(valid_package, package)
            _hostile_skops(package / "model.skops", node)
        return dotted, package

    return make


@pytest.mark.parametrize("name", PAYLOADS)
def test_hostile_skops_is_refused_and_named(name, hostile, canary):
    dotted, package = hostile(name)
    with pytest.raises(UntrustedArtifactError, match=dotted.replace(".", r"\.")) as info:
        load_model(package, SKOPS)
    assert "trust=True" in str(info.value)
    assert not canary.exists()


@pytest.mark.parametrize("name", SUBMITTED)
def test_hostile_skops_submit_is_rejected_and_dock_unchanged(name, hostile, canary, tmp_path):
    dock = Dock(tmp_path / "dock")
    before = dock_state(dock)
    _, package = hostile(name)
    with pytest.raises(UntrustedArtifactError):
        dock.submit(package)
    assert dock_state(dock) == before
    assert not canary.exists()


def test_hostile_skops_stored_earlier_is_refused_in_a_user_process(hostile, canary, tmp_path):
    """Packages an older version accepted (stored here without validation) are refused at every
    load in another user's process, ``Dock.load_model`` and ``Client``'s path alike."""
    dock = Dock(tmp_path / "dock")
    ids = {name: dock.submit(hostile(name)[1], validate=False) for name in PAYLOADS}
    assert _load_all_in_user_process(dock.root, list(ids.values())) == ["UntrustedArtifactError"] * len(ids)
    assert not canary.exists()


def _load_all_in_user_process(dock_root: Path, ids: list[str]) -> list[str]:
    """Load each stored model without trust in one fresh interpreter; the error type of each."""
    code = (
        "import json, sys\n"
        "from modelreuse.dock import Dock\n"
        "dock, out = Dock(sys.argv[1]), []\n"
        "for i in sys.argv[2:]:\n"
        "    try:\n"
        "        dock.load_model(i)\n"
        "        out.append('')\n"
        "    except Exception as exc:\n"
        "        out.append(type(exc).__name__)\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(dock_root), *ids], capture_output=True, text=True,
                          timeout=300, cwd=tempfile.gettempdir())
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_tree_with_out_of_range_child_is_refused(table, tmp_path):
    """Allowed tree types are checked after loading: a child index past the end would make
    scikit-learn's Cython predictor read outside the node array."""
    model, _ = fit_real_model("tree", table)
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10**6
    model.tree_.__setstate__({**state, "nodes": nodes})
    save_model(model, tmp_path, fmt="skops")
    with pytest.raises(ModelLoadError, match="malformed at node 0"):
        load_model(tmp_path, SKOPS)


def test_hist_gradient_boosting_with_out_of_range_feature_is_refused(table, tmp_path):
    model, _ = fit_real_model("hist_gb_regressor", table)
    nodes = model._predictors[0][0].nodes
    nodes["feature_idx"][np.flatnonzero(nodes["is_leaf"] == 0)[0]] = 10**6
    save_model(model, tmp_path, fmt="skops")
    with pytest.raises(ModelLoadError, match="feature 1000000"):
        load_model(tmp_path, SKOPS)


# ------------------------------------------------------------------ safetensors
MLP = {"name": "mlp", "kwargs": {"in_features": 4, "out_features": 2, "hidden": [8]}}


@pytest.fixture
def mlp_dir(tmp_path) -> tuple[Path, dict]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    return tmp_path, save_model(net, tmp_path, architecture=json.loads(json.dumps(MLP)))


def test_safetensors_matching_architecture_loads(mlp_dir):
    directory, entry = mlp_dir
    assert load_model(directory, entry)(torch.zeros(3, 4)).shape == (3, 2)


def test_safetensors_with_other_shapes_is_refused(mlp_dir):
    directory, entry = mlp_dir
    entry["architecture"]["kwargs"]["hidden"] = [9]
    with pytest.raises(ModelLoadError, match=r"tensor '0\.bias' is \('F32', \[8\]\) in the file but \('F32', \[9\]\)"):
        load_model(directory, entry)


def test_safetensors_with_other_names_is_refused(mlp_dir):
    from safetensors.torch import load_file, save_file

    directory, entry = mlp_dir
    tensors = load_file(directory / "model.safetensors")
    tensors["0.weight_renamed"] = tensors.pop("0.weight")
    save_file(tensors, directory / "model.safetensors")
    with pytest.raises(ModelLoadError, match=r"tensor '0\.weight' is missing from the file"):
        load_model(directory, entry)


@pytest.mark.parametrize("kwargs", [
    {"in_features": 10**9, "out_features": 2},  # 8 GB per hidden layer if it were built
    {"in_features": 4, "out_features": 2, "hidden": [8] * 100_000},  # a loop of 100,000 layers
    {"in_features": 4, "out_features": 2, "hidden": {"nested": [8]}},
    {"in_features": 4.5e300, "out_features": 2},
])
def test_safetensors_with_unbounded_kwargs_is_refused(mlp_dir, kwargs):
    directory, entry = mlp_dir
    entry["architecture"]["kwargs"] = kwargs
    with pytest.raises(ModelLoadError, match="out of bounds"):
        load_model(directory, entry)


def test_safetensors_with_large_but_bounded_kwargs_allocates_nothing(mlp_dir):
    """65536 x 65536 x 2 layers would be 32 GiB of float32: built on the meta device and compared
    with the 8-tensor header, it is refused before any allocation."""
    directory, entry = mlp_dir
    entry["architecture"]["kwargs"] = {"in_features": 65536, "out_features": 65536, "hidden": [65536]}
    with pytest.raises(ModelLoadError, match="in the architecture named in the manifest"):
        load_model(directory, entry)


# ------------------------------------------------------------------ onnx (checked by onnxruntime)
def _onnx_add(initializer=None, op_domain: str = "") -> bytes:
    from onnx import TensorProto, helper

    op = "Add" if not op_domain else "Evil"
    node = helper.make_node(op, ["X", "W"] if initializer is not None else ["X"], ["Y"], domain=op_domain)
    io_ = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 4]) for n in ("X", "Y")]
    graph = helper.make_graph([node], "g", io_[:1], io_[1:], [initializer] if initializer is not None else [])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(op_domain, 1)] if op_domain else [])
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def test_onnx_custom_domain_op_is_refused(tmp_path):
    (tmp_path / "model.onnx").write_bytes(_onnx_add(op_domain="com.evil"))
    with pytest.raises(ModelLoadError, match="com.evil"):
        load_model(tmp_path, {"format": "onnx", "file": "model.onnx"})


def test_onnx_external_data_outside_the_package_is_refused(tmp_path):
    from onnx import TensorProto, numpy_helper

    secret = tmp_path / "secret.bin"
    np.ones(4, np.float32).tofile(secret)
    weight = numpy_helper.from_array(np.zeros(4, np.float32), "W")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in {"location": "../secret.bin", "offset": "0", "length": "16"}.items():
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.onnx").write_bytes(_onnx_add(initializer=weight))
    with pytest.raises(ModelLoadError, match="escapes model directory"):
        load_model(tmp_path / "pkg", {"format": "onnx", "file": "model.onnx"})
