"""Safe model persistence.

Formats (the manifest's ``artifact.format``):

* ``skops``: scikit-learn estimators via :mod:`skops.io`. skops rebuilds objects from a
  declarative description and never runs pickle. Accepted without trust: skops' own default
  trusted types plus the exact (type, loader) pairs of
  :data:`modelreuse.models.skops_allowlist.SKOPS_ALLOWED`; never a module prefix. Anything else
  needs ``trust=True`` and is named in the error. The trees of a loaded model are checked for
  child and feature indices out of range (scikit-learn's Cython predictors do not check them).
* ``safetensors``: torch weights (tensors only) plus an architecture registered in
  :mod:`modelreuse.models.architectures`, named with its kwargs in the manifest. The kwargs are
  bounded, the architecture is first built on torch's ``meta`` device (no memory), and the file's
  header must hold exactly its tensor names, dtypes and shapes before anything is allocated.
* ``onnx``: an ONNX graph run by onnxruntime (a graph, not Python code).
* ``pickle`` / ``joblib``: arbitrary Python objects; loading runs code from the file, so it is
  refused unless the caller passes ``trust=True``. Never inferred: :func:`save_model` without
  ``fmt`` raises :class:`~modelreuse.errors.UnsupportedModelError` for any other object, and for a
  skops artifact that names a class or function no other process can import.
"""

from __future__ import annotations

import importlib
import pickle
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from modelreuse._safeio import parse_json
from modelreuse.errors import ModelLoadError, UnsupportedModelError, UntrustedArtifactError
from modelreuse.models.skops_allowlist import SKOPS_ALLOWED

ARTIFACT_FORMATS = ("skops", "safetensors", "onnx", "pickle", "joblib")
MAX_SKOPS_SCHEMA_BYTES = 64 * 1024**2
MAX_SKOPS_SCHEMA_DEPTH = 256
MAX_SAFETENSORS_HEADER_BYTES = 16 * 1024**2
MAX_OBJECTS_CHECKED = 1_000_000
_FILE_NAMES = {"skops": "model.skops", "safetensors": "model.safetensors", "onnx": "model.onnx",
               "pickle": "model.pkl", "joblib": "model.joblib"}


def save_model(model: Any, directory: str | Path, fmt: str | None = None,
               architecture: dict | None = None) -> dict:
    """Write ``model`` into ``directory`` and return the manifest's ``artifact`` entry.

    Args:
        model: sklearn estimator, torch ``nn.Module``, ONNX ``ModelProto``/bytes, or any object
            (``fmt="pickle"``).
        fmt: one of :data:`ARTIFACT_FORMATS`; inferred when omitted (sklearn -> skops,
            torch -> safetensors, ONNX -> onnx; never pickle).
        architecture: for torch, ``{"name": registered_name, "kwargs": {...}}``.

    Raises:
        UnsupportedModelError: ``fmt`` is omitted and ``model`` is none of the above, or the skops
            file would name a class or function that another process cannot import (defined in
            ``__main__`` or inside a function), or skops cannot write the object.
    """
    fmt = fmt or _infer_format(model)
    if fmt not in ARTIFACT_FORMATS:
        raise ModelLoadError(f"unknown artifact format {fmt!r}; use one of {ARTIFACT_FORMATS}")
    path = Path(directory) / _FILE_NAMES[fmt]
    entry: dict = {"format": fmt, "file": path.name}
    if fmt == "skops":
        _save_skops(model, path)
    elif fmt == "safetensors":
        from safetensors.torch import save_model as save_torch

        if not architecture or "name" not in architecture:
            raise ModelLoadError("saving a torch model needs architecture={'name': ..., 'kwargs': {...}}")
        save_torch(model, str(path))
        entry["architecture"] = {"name": architecture["name"], "kwargs": architecture.get("kwargs", {})}
    elif fmt == "onnx":
        data = model if isinstance(model, (bytes, bytearray)) else model.SerializeToString()
        path.write_bytes(bytes(data))
    elif fmt == "joblib":
        import joblib

        joblib.dump(model, path)
    else:
        path.write_bytes(pickle.dumps(model))
    return entry


def load_model(directory: str | Path, artifact: dict, trust: bool = False) -> Any:
    """Load the model described by ``artifact`` from ``directory``.

    Raises:
        UntrustedArtifactError: the format or a contained type could run code and
            ``trust`` is False.
        ModelLoadError: the file is missing or unreadable.
    """
    fmt = artifact.get("format")
    path = Path(directory) / str(artifact.get("file", ""))
    if fmt in ("pickle", "joblib") and not trust:
        raise UntrustedArtifactError(
            f"artifact {path.name} is {fmt}: loading it executes code from the package. "
            "Pass trust=True only if you trust its author, or ask for a skops/safetensors/onnx artifact."
        )
    if not path.is_file():
        raise ModelLoadError(f"artifact file {path.name!r} is missing from the learnware")
    loaders = {"skops": _load_skops, "safetensors": _load_safetensors, "onnx": _load_onnx,
               "pickle": _load_pickle, "joblib": _load_joblib}
    if fmt not in loaders:
        raise ModelLoadError(f"unknown artifact format {fmt!r}; use one of {ARTIFACT_FORMATS}")
    try:
        return loaders[fmt](path, artifact, trust)
    except (UntrustedArtifactError, ModelLoadError):
        raise
    except Exception as exc:  # corrupt files raise library-specific errors
        raise ModelLoadError(f"cannot load {fmt} artifact {path.name}: {type(exc).__name__}: {exc}") from exc


SUPPORTED_MODELS = (
    "scikit-learn estimators, Pipeline and ColumnTransformer included (saved with skops); "
    "torch nn.Module (safetensors, with architecture={'name': <registered in "
    "modelreuse.models.architectures.ARCHITECTURES>, 'kwargs': {...}}); "
    "ONNX models (onnx.ModelProto or its bytes)"
)


def _infer_format(model: Any) -> str:
    module = type(model).__module__
    if module.startswith("sklearn") or hasattr(model, "get_params"):
        return "skops"
    if any(c.__module__.startswith("torch.nn") for c in type(model).__mro__):
        return "safetensors"
    if module.startswith("onnx") or isinstance(model, (bytes, bytearray)):
        return "onnx"
    raise UnsupportedModelError(
        f"cannot save a {module}.{type(model).__qualname__} in a safe format; supported: {SUPPORTED_MODELS}. "
        "Wrap the model in one of these, or pass fmt='pickle' (or 'joblib') to ship it as code: "
        "loading it then needs trust=True, and a dock validates it only with --trust.")


def _save_skops(model: Any, path: Path) -> None:
    """``skops.io.dump`` the model, then check that every class and function the file names can be
    imported by another process: skops writes a class defined inside a function or in
    ``__main__`` (e.g. the user's script) without complaint, but nothing else can load it."""
    import skops.io as sio

    try:
        sio.dump(model, path)
    except Exception as exc:  # skops raises library-specific errors for objects it cannot describe
        path.unlink(missing_ok=True)
        raise UnsupportedModelError(f"skops cannot save this {type(model).__qualname__}: {type(exc).__name__}: "
                                    f"{exc}; supported: {SUPPORTED_MODELS}") from exc
    unloadable = sorted({f"{module}.{name}" for module, name, _ in _skops_nodes(path) if not _importable(module, name)})
    if unloadable:
        path.unlink(missing_ok=True)
        raise UnsupportedModelError(
            f"the model uses {unloadable}, which no other process can import (defined in __main__, inside a "
            "function, or a lambda). Define the class or function at the top level of an importable module "
            "(and use trust=True to load a class outside scikit-learn), or use a plain scikit-learn estimator.")


def _importable(module_name: str, name: str) -> bool:
    """Whether ``name`` (a class or function as skops names it) resolves in ``module_name`` from a
    fresh process: the module is importable and not ``__main__``, and it has that attribute."""
    if module_name == "__main__":
        return False
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return hasattr(module, name)


def _load_skops(path: Path, artifact: dict, trust: bool) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    if not trust:
        refused = skops_refused_types(path, untrusted)
        if refused:
            raise UntrustedArtifactError(
                f"skops artifact {path.name} contains types that are not on modelreuse's allowlist: "
                f"{refused}. They could run code when loaded; pass trust=True only if you trust the "
                "package's author."
            )
    model = sio.load(path, trusted=untrusted)
    if not trust:
        check_tree_indices(model)
    return model


def skops_refused_types(path: Path, untrusted: list[str]) -> list[str]:
    """The types of ``untrusted`` (as reported by :func:`skops.io.get_untrusted_types`) that are
    not in :data:`SKOPS_ALLOWED`, or that some node of the file uses with another loader than the
    allowed one."""
    loaders = _skops_node_loaders(path)
    return sorted(t for t in untrusted
                  if t not in SKOPS_ALLOWED or loaders.get(t, set()) - {SKOPS_ALLOWED[t]})


def _skops_node_loaders(path: Path) -> dict[str, set[str]]:
    """``module.Class`` -> the loaders naming it, over every node of the file's ``schema.json``."""
    loaders: dict[str, set[str]] = {}
    for module, name, loader in _skops_nodes(path):
        loaders.setdefault(f"{module}.{name}", set()).add(loader)
    return loaders


def _skops_nodes(path: Path) -> Iterator[tuple[str, str, str]]:
    """``(module, class or function name, loader)`` of every node of the file's ``schema.json``."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("schema.json")
        if info.file_size > MAX_SKOPS_SCHEMA_BYTES:
            raise ModelLoadError(f"{path.name}: schema.json is {info.file_size} bytes; the limit is "
                                 f"{MAX_SKOPS_SCHEMA_BYTES}")
        text = zf.read(info).decode("utf-8")
    schema = parse_json(text, ModelLoadError, what=f"{path.name}:schema.json", max_depth=MAX_SKOPS_SCHEMA_DEPTH)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "__loader__" in node:
                yield str(node.get("__module__")), str(node.get("__class__")), str(node["__loader__"])
            stack.extend(node.values())


def check_tree_indices(model: Any) -> None:
    """Raise :class:`ModelLoadError` if a decision tree inside ``model`` points outside itself.

    scikit-learn's Cython predictors follow child indices and read ``X[:, feature]`` without
    bounds checks, so a crafted tree could read memory outside its arrays. Every split node's
    children must come after it and inside the tree (so no cycle either), and its feature must be
    below the ``n_features_in_`` of the estimator that holds the tree (which scikit-learn checks
    against the input's columns).
    """
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    seen: set[int] = set()
    stack: list[tuple[Any, int | None]] = [(model, None)]
    while stack:
        obj, n_features = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type(None))):
            continue
        seen.add(id(obj))
        if len(seen) > MAX_OBJECTS_CHECKED:
            raise ModelLoadError(f"the model holds more than {MAX_OBJECTS_CHECKED} objects")
        if isinstance(obj, Tree):
            _check_tree(obj.children_left, obj.children_right, obj.feature,
                        obj.children_left == -1, min(obj.n_features, n_features or obj.n_features), n_features)
        elif isinstance(obj, TreePredictor):
            nodes = obj.nodes
            _check_tree(nodes["left"], nodes["right"], nodes["feature_idx"], nodes["is_leaf"] != 0,
                        n_features or 0, n_features)
            cats = nodes["bitset_idx"][(nodes["is_leaf"] == 0) & (nodes["is_categorical"] != 0)]
            if cats.size and (cats.max() >= len(obj.raw_left_cat_bitsets)
                              or cats.max() >= len(obj.binned_left_cat_bitsets)):
                raise ModelLoadError("a histogram tree refers to a categorical bitset it does not have")
        else:
            stack.extend((child, _n_features(obj, n_features)) for child in _children(obj))


def _n_features(obj: Any, inherited: int | None) -> int | None:
    own = getattr(obj, "__dict__", {}).get("n_features_in_")
    return int(own) if isinstance(own, (int, np.integer)) and not isinstance(own, bool) else inherited


def _children(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, np.ndarray):
        return list(obj.flat) if obj.dtype == object else []
    return list(getattr(obj, "__dict__", {}).values())


def _check_tree(left: np.ndarray, right: np.ndarray, feature: np.ndarray, leaf: np.ndarray, n_features: int,
                declared: int | None) -> None:
    if declared is None:
        raise ModelLoadError("a decision tree is not held by an estimator with n_features_in_, so its feature "
                             "indices cannot be checked against the input; the artifact is malformed")
    index = np.arange(len(left))
    split = ~leaf
    bad_child = (left[split] <= index[split]) | (right[split] <= index[split]) | \
        (left[split] >= len(left)) | (right[split] >= len(left))
    bad_feature = (feature[split] < 0) | (feature[split] >= n_features)
    if bad_child.any() or bad_feature.any():
        node = int(index[split][np.argmax(bad_child | bad_feature)])
        raise ModelLoadError(
            f"a decision tree in the artifact is malformed at node {node}: children "
            f"{int(left[node])}/{int(right[node])} of {len(left)} nodes, feature {int(feature[node])} of {n_features}"
        )


def _load_safetensors(path: Path, artifact: dict, trust: bool) -> Any:
    from safetensors.torch import load_model as load_torch

    from modelreuse.models.architectures import build_architecture, check_architecture

    name, kwargs = check_architecture(artifact.get("architecture"))
    check_safetensors_header(path, build_architecture(name, kwargs, device="meta"))
    module = build_architecture(name, kwargs)
    load_torch(module, str(path))
    return module.eval()


_SAFETENSORS_DTYPES = {"float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
                       "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
_ITEMSIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def check_safetensors_header(path: Path, module: Any) -> None:
    """Check that the tensors of the safetensors file at ``path`` are exactly the ``state_dict()``
    of ``module`` (names, dtypes, shapes, and byte ranges inside the file), reading only the
    header; raise :class:`ModelLoadError` naming the first difference."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise ModelLoadError(f"{path.name} is too short to be a safetensors file")
        (n,) = struct.unpack("<Q", prefix)
        if n > min(MAX_SAFETENSORS_HEADER_BYTES, size - 8):
            raise ModelLoadError(f"{path.name} declares a {n}-byte header in a {size}-byte file "
                                 f"(limit {MAX_SAFETENSORS_HEADER_BYTES})")
        raw = f.read(n)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelLoadError(f"{path.name}: the safetensors header is not UTF-8") from None
    header = parse_json(text, ModelLoadError, what=f"{path.name} header", max_depth=4)
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path.name}: the safetensors header is not a JSON object")
    header.pop("__metadata__", None)
    expected = {k: (_SAFETENSORS_DTYPES.get(str(v.dtype).removeprefix("torch."), str(v.dtype)), list(v.shape))
                for k, v in module.state_dict().items()}
    for key in sorted(set(expected) | set(header)):
        if key not in header or key not in expected:
            where = "file" if key not in header else "architecture"
            raise ModelLoadError(f"{path.name}: tensor {key!r} is missing from the {where}; the weights do not "
                                 "belong to the architecture named in the manifest")
        _check_tensor_entry(path.name, key, header[key], expected[key], size - 8 - n)


def _check_tensor_entry(what: str, key: str, entry: Any, expected: tuple[str, list[int]], data_bytes: int) -> None:
    dtype, shape = expected
    if not isinstance(entry, dict) or entry.get("dtype") != dtype or entry.get("shape") != shape:
        got = (entry.get("dtype"), entry.get("shape")) if isinstance(entry, dict) else entry
        raise ModelLoadError(f"{what}: tensor {key!r} is {got} in the file but ({dtype!r}, {shape}) in the "
                             "architecture named in the manifest")
    offsets = entry.get("data_offsets")
    itemsize = _ITEMSIZES.get(dtype, 0)
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_bytes
            or offsets[1] - offsets[0] != int(np.prod(shape, dtype=np.int64)) * itemsize):
        raise ModelLoadError(f"{what}: tensor {key!r} has data_offsets {offsets!r} that do not match its shape "
                             f"within the file's {data_bytes} data bytes")


def _load_onnx(path: Path, artifact: dict, trust: bool) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _load_pickle(path: Path, artifact: dict, trust: bool) -> Any:
    return pickle.loads(path.read_bytes())  # trust checked by the caller


def _load_joblib(path: Path, artifact: dict, trust: bool) -> Any:
    import joblib

    return joblib.load(path)
