"""Adapters: every model, whatever its framework, behind one small protocol.

Protocol (``ModelAdapter``): ``predict(X)``; classifiers also ``predict_proba(X)`` and
``classes_``. ``X`` is a 2-D float array in the learnware's input schema (its table schema's
encoding, for tables); ``prepare`` turns it into what the model itself takes (e.g. a DataFrame of
raw columns for a pipeline, see :meth:`modelreuse.learnware.Learnware.load_model`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelreuse.errors import ModelPredictError


class ModelAdapter:
    """Wraps an sklearn estimator, a torch module or an ONNX session.

    Args:
        model: the underlying object.
        task_type: ``"classification"`` or ``"regression"``.
        classes: class labels for classifiers whose model does not expose ``classes_``
            (torch, ONNX); output column ``i`` of ``predict_proba`` is ``classes[i]``.
        prepare: maps the rows ``X`` to the model's own input (default: ``X`` as it is).
        source: the learnware package folder the model was loaded from (``None`` otherwise), so a
            model built on it can be saved with the package it needs.
    """

    def __init__(self, model: Any, task_type: str, classes: list | None = None,
                 prepare: Callable[[np.ndarray], Any] | None = None, source: Any = None):
        self.model = model
        self.task_type = task_type
        self.prepare = prepare
        self.source = source
        model_classes = getattr(model, "classes_", None)
        self.classes_ = np.asarray(model_classes if model_classes is not None else classes) \
            if (model_classes is not None or classes is not None) else None

    # -------------------------------------------------------------- raw outputs
    def _raw(self, X: np.ndarray) -> np.ndarray:
        model = self.model
        if _is_torch(model):
            import torch

            with torch.no_grad():
                return model(torch.as_tensor(np.asarray(X, np.float32))).double().numpy()
        if _is_onnx(model):
            name = model.get_inputs()[0].name
            outputs = model.run(None, {name: np.asarray(X, np.float32)})
            return np.asarray(outputs[-1] if self.task_type == "classification" else outputs[0], np.float64)
        raise TypeError("raw outputs only for torch/onnx")

    def _prepared(self, X: np.ndarray) -> Any:
        if self.prepare is None:
            return X
        try:
            return self.prepare(X)
        except Exception as exc:
            raise ModelPredictError(f"cannot turn the rows into the model's input: {type(exc).__name__}: {exc}") from exc

    # -------------------------------------------------------------- protocol
    def predict(self, X: np.ndarray) -> np.ndarray:
        X = self._prepared(X)
        try:
            if hasattr(self.model, "predict"):
                return np.asarray(self.model.predict(X))
            out = self._raw(X)
            if self.task_type == "classification":
                return self.classes_[out.argmax(axis=1)]
            return out.reshape(len(X), -1)[:, 0] if out.ndim > 1 and out.shape[1] == 1 else out
        except Exception as exc:  # third-party models raise anything
            raise ModelPredictError(f"model failed to predict: {type(exc).__name__}: {exc}") from exc

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.task_type != "classification":
            raise ModelPredictError("predict_proba is only defined for classification models")
        X = self._prepared(X)
        try:
            if hasattr(self.model, "predict_proba"):
                return np.asarray(self.model.predict_proba(X), np.float64)
            if hasattr(self.model, "predict"):
                hard = np.asarray(self.model.predict(X))
                return (hard[:, None] == self.classes_[None, :]).astype(np.float64)
            logits = self._raw(X)
            if _is_onnx(self.model) and np.all(logits >= 0) and np.allclose(logits.sum(1), 1, atol=1e-4):
                return logits
            z = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(z)
            return p / p.sum(axis=1, keepdims=True)
        except ModelPredictError:
            raise
        except Exception as exc:
            raise ModelPredictError(f"model failed to predict: {type(exc).__name__}: {exc}") from exc


def as_model(model: Any, task_type: str, classes: list | None = None) -> ModelAdapter:
    """Wrap ``model`` in a :class:`ModelAdapter` unless it already is one."""
    return model if isinstance(model, ModelAdapter) else ModelAdapter(model, task_type, classes)


def _is_torch(model: Any) -> bool:
    return type(model).__module__.startswith("torch.") or any(
        c.__module__.startswith("torch.nn") for c in type(model).__mro__
    )


def _is_onnx(model: Any) -> bool:
    return type(model).__module__.startswith("onnxruntime")
