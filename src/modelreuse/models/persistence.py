"""Safe model persistence.

Formats (the manifest's ``artifact.format``):

* ``skops``: scikit-learn estimators via :mod:`skops.io`. skops rebuilds objects from a
  declarative description and never runs pickle. Types from the ``sklearn``, ``numpy`` and
  ``scipy`` namespaces are accepted; any other type needs ``trust=True``.
* ``safetensors``: torch weights (tensors only) plus an architecture registered in
  :mod:`modelreuse.models.architectures`, named with its kwargs in the manifest.
* ``onnx``: an ONNX graph run by onnxruntime (a graph, not Python code).
* ``pickle`` / ``joblib``: arbitrary Python objects; loading runs code from the file, so it is
  refused unless the caller passes ``trust=True``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from modelreuse.errors import ModelLoadError, UntrustedArtifactError

ARTIFACT_FORMATS = ("skops", "safetensors", "onnx", "pickle", "joblib")
SAFE_SKOPS_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")
_FILE_NAMES = {"skops": "model.skops", "safetensors": "model.safetensors", "onnx": "model.onnx",
               "pickle": "model.pkl", "joblib": "model.joblib"}


def save_model(model: Any, directory: str | Path, fmt: str | None = None,
               architecture: dict | None = None) -> dict:
    """Write ``model`` into ``directory`` and return the manifest's ``artifact`` entry.

    Args:
        model: sklearn estimator, torch ``nn.Module``, ONNX ``ModelProto``/bytes, or any object
            (``fmt="pickle"``).
        fmt: one of :data:`ARTIFACT_FORMATS`; inferred when omitted (sklearn -> skops,
            torch -> safetensors, ONNX -> onnx).
        architecture: for torch, ``{"name": registered_name, "kwargs": {...}}``.
    """
    fmt = fmt or _infer_format(model)
    if fmt not in ARTIFACT_FORMATS:
        raise ModelLoadError(f"unknown artifact format {fmt!r}; use one of {ARTIFACT_FORMATS}")
    path = Path(directory) / _FILE_NAMES[fmt]
    entry: dict = {"format": fmt, "file": path.name}
    if fmt == "skops":
        import skops.io as sio

        sio.dump(model, path)
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


def _infer_format(model: Any) -> str:
    module = type(model).__module__
    if module.startswith("sklearn") or hasattr(model, "get_params"):
        return "skops"
    if any(c.__module__.startswith("torch.nn") for c in type(model).__mro__):
        return "safetensors"
    if module.startswith("onnx") or isinstance(model, (bytes, bytearray)):
        return "onnx"
    return "pickle"


def _load_skops(path: Path, artifact: dict, trust: bool) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    unsafe = [t for t in untrusted if not t.startswith(SAFE_SKOPS_PREFIXES)]
    if unsafe and not trust:
        raise UntrustedArtifactError(
            f"skops artifact contains types outside sklearn/numpy/scipy: {unsafe}. "
            "Pass trust=True to load it anyway."
        )
    return sio.load(path, trusted=untrusted)


def _load_safetensors(path: Path, artifact: dict, trust: bool) -> Any:
    from safetensors.torch import load_model as load_torch

    from modelreuse.models.architectures import build_architecture

    arch = artifact.get("architecture") or {}
    module = build_architecture(str(arch.get("name")), dict(arch.get("kwargs", {})))
    load_torch(module, str(path))
    return module.eval()


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
