"""Feature extractors: pretrained backbones that map raw inputs (texts or images) to features, with
an optional source head giving source-class probabilities -- the reusable part of a pre-trained
model (PTM), as in "PTM Selection and Adaptation" of the tutorial.

A feature-extraction learnware (``task_type="feature_extraction"``, see
:meth:`modelreuse.learnware.Learnware.build_extractor`) is loaded as a :class:`FeatureExtractor`
in one of three forms, none of which runs code from the package:

* **scikit-learn encoder** (skops artifact, no ``encoder``): a fitted :class:`~sklearn.pipeline.Pipeline`
  whose steps turn texts into features (e.g. TF-IDF -> truncated SVD -> L2 normalisation); with a
  source head its last step is a classifier (``predict_proba``) over those features.
* **torch backbone** (safetensors + an architecture registered in
  :mod:`modelreuse.models.architectures`, no ``encoder``): a module with ``features(x)`` (the
  representation) and ``forward(x)`` (source logits, when it has a head). Images are brought to
  ``image_size`` square RGB tensors by :func:`to_tensor`.
* **named offline encoder** (``encoder`` registered in :data:`modelreuse.models.encoders.ENCODERS`:
  all-MiniLM-L6-v2, EfficientNet-Lite0/1/2 from PyPI packages): the encoder's output are the
  features; the artifact is the source head on them (a scikit-learn classifier, or a torch module
  giving logits).

Features are float64 ``(n, feature_size)``; source probabilities ``(n, len(classes))``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelreuse.errors import InvalidTaskDataError, ModelPredictError, SchemaError

MODALITIES = ("text", "image")
#: What a manifest's ``input_schema.takes`` says for each modality's raw inputs.
RAW_INPUTS = {"text": "text", "image": "images"}
#: Rows a package's extractor is checked on (at build time and by dock validation).
PROBE_TEXTS = ("a short plain sentence", "Another line, with punctuation!", "numbers 1 2 3 and words",
               "great product, works well", "the service was slow and rude", "what time does it open?",
               "", "x")
PROBE_IMAGES = 8
BATCH = 256


def check_texts(texts: Any) -> list[str]:
    """``texts`` as a list of strings, or :class:`InvalidTaskDataError` saying what to pass."""
    if isinstance(texts, str) or not isinstance(texts, (Sequence, np.ndarray)) or len(texts) == 0:
        raise InvalidTaskDataError("texts must be a non-empty list of strings (one document per row), "
                                   f"got {type(texts).__name__}")
    if not all(isinstance(t, str) for t in texts):
        raise InvalidTaskDataError("every row of a text task must be a string; convert with [str(t) for t in X]")
    return list(texts)


def check_images(images: Any) -> np.ndarray:
    """Images as a uint8 array ``(n, H, W)`` (grey) or ``(n, H, W, 3)`` (RGB); ``(n, H, W, 1)`` is
    taken as grey. Anything else is an :class:`InvalidTaskDataError` that says how to fix it."""
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3) or len(arr) == 0 or min(arr.shape[1:3]) < 1:
        hint = " (channels first? use np.moveaxis(images, 1, -1))" if arr.ndim == 4 and arr.shape[1] in (1, 3) else ""
        raise InvalidTaskDataError(f"images must be an array (n, H, W) of grey or (n, H, W, 3) of RGB pixels with n >= 1; "
                                   f"got shape {arr.shape}{hint}")
    if arr.dtype.kind not in "uif" or (arr.dtype.kind == "f" and not np.isfinite(arr).all()):
        raise InvalidTaskDataError(f"image pixels must be finite numbers in 0..255, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() > 255:
        raise InvalidTaskDataError("image pixels must be in 0..255 (uint8); scale them, e.g. (x * 255).astype('uint8')")
    return arr.astype(np.uint8, copy=False)


def to_tensor(images: np.ndarray, size: int = 32):
    """uint8 ``(n, H, W)`` or ``(n, H, W, 3)`` -> float ``(n, 3, size, size)``: grey repeated to RGB,
    smaller square images zero-padded to ``size`` (28 px digits -> 32), others resized bilinearly,
    scaled to roughly zero mean and unit spread ``(x / 255 - 0.5) / 0.25``."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if x.ndim == 3:
        x = x[..., None].expand(-1, -1, -1, 3)
    x = x.permute(0, 3, 1, 2)
    height, width = x.shape[-2:]
    pad = (size - width) // 2
    if height == width and pad > 0 and width + 2 * pad == size:
        x = F.pad(x, (pad, pad, pad, pad))
    elif (height, width) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x / 255.0 - 0.5) / 0.25


def probe_inputs(modality: str, image_size: int | None) -> Any:
    """Fixed raw rows an extractor of ``modality`` must handle: a few texts, or seeded RGB images."""
    if modality == "text":
        return list(PROBE_TEXTS)
    side = image_size or 32
    return np.random.default_rng(0).integers(0, 256, (PROBE_IMAGES, side, side, 3), dtype=np.uint8)


def n_parameters(model: Any) -> int:
    """Learned numbers in ``model``: a torch module's parameters, or the sizes of the numeric arrays a
    fitted scikit-learn estimator (each pipeline step) holds in its ``*_`` attributes."""
    if hasattr(model, "parameters") and callable(model.parameters):
        return int(sum(p.numel() for p in model.parameters()))
    steps = [s for _, s in model.steps] if hasattr(model, "steps") else [model]
    total = 0
    for step in steps:
        for name, value in vars(step).items():
            if name.endswith("_") and isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
                total += value.size
    return int(total)


def compact_vocabularies(model: Any) -> Any:
    """A copy of a fitted scikit-learn pipeline whose fitted ``CountVectorizer``/``TfidfVectorizer``
    steps hold their vocabulary as the fixed ``vocabulary`` parameter (a numpy array of the terms in
    column order) instead of the fitted ``vocabulary_`` dict; it transforms identically (the dict is
    rebuilt from the array on first use). skops writes a dict entry by entry, so a 50,000-term
    vocabulary takes minutes to save and seconds to load; the array is written as one ``.npy`` blob
    (milliseconds). Other models are returned as they are."""
    import copy

    from sklearn.feature_extraction.text import CountVectorizer

    if not hasattr(model, "steps"):
        return model
    steps = []
    for name, step in model.steps:
        if isinstance(step, CountVectorizer) and isinstance(getattr(step, "vocabulary_", None), dict):
            terms = np.empty(len(step.vocabulary_), dtype=object)
            for term, column in step.vocabulary_.items():
                terms[column] = term
            step = copy.deepcopy(step)
            del step.vocabulary_
            step.vocabulary = terms.astype(str)
        steps.append((name, step))
    return type(model)(steps)


def _is_torch(model: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)


class FeatureExtractor:
    """A loaded feature extractor (module doc).

    Args:
        model: the artifact (a scikit-learn pipeline/classifier or a torch module).
        modality: ``"text"`` or ``"image"``.
        feature_size: width of :meth:`features`.
        classes: source-head classes (``None``: no head).
        encoder: a registered offline encoder run first (its output are the features).
        image_size: side of the square images a torch backbone or EfficientNet takes.
        name, learnware_id, source: the learnware it came from (``source``: its package folder, so
            a model built on it can be saved with the package).

    A pretrained extractor is never copied: ``copy.deepcopy`` (and so ``sklearn.base.clone`` of a
    reuser holding it) returns the same object. :meth:`remember` lets a caller that already
    computed the features of some rows hand them over, so they are not computed again.
    """

    task_type = "feature_extraction"

    def __init__(self, model: Any, modality: str, feature_size: int, classes: list | None = None,
                 encoder: str | None = None, image_size: int | None = None, *, name: str = "",
                 learnware_id: str | None = None, source: Any = None):
        if modality not in MODALITIES:
            raise SchemaError(f"a feature extractor takes text or image inputs, not {modality!r}")
        self.model = model
        self.modality = modality
        self.feature_size = int(feature_size)
        self.classes_ = None if classes is None else np.asarray(classes)
        self.encoder = encoder
        self.image_size = image_size
        self.name = name
        self.learnware_id = learnware_id
        self.source = source
        self._memo: tuple[str, np.ndarray] | None = None

    def __deepcopy__(self, memo: dict) -> FeatureExtractor:
        return self

    @property
    def has_head(self) -> bool:
        return self.classes_ is not None

    def check(self, raw: Any) -> Any:
        """The raw rows checked for this modality (:func:`check_texts`, :func:`check_images`)."""
        return check_texts(raw) if self.modality == "text" else check_images(raw)

    def remember(self, raw: Any, features: np.ndarray) -> None:
        """Keep ``features`` as the features of ``raw`` (the last rows only)."""
        self._memo = (_rows_key(raw), np.asarray(features, np.float64))

    def features(self, raw: Any) -> np.ndarray:
        """``(n, feature_size)`` float64 features of the raw rows."""
        raw = self.check(raw)
        if self._memo is not None and self._memo[0] == _rows_key(raw):
            return self._memo[1]
        try:
            F = self._backbone(raw)
        except (InvalidTaskDataError, SchemaError):
            raise
        except Exception as exc:  # third-party models raise anything
            raise ModelPredictError(f"feature extractor {self.name!r} failed: {type(exc).__name__}: {exc}") from exc
        F = np.asarray(F, np.float64)
        if F.shape != (len(raw), self.feature_size) or not np.isfinite(F).all():
            raise SchemaError(f"feature extractor {self.name!r} gave features of shape {F.shape} (finite: "
                              f"{bool(np.isfinite(F).all())}); its manifest declares ({len(raw)}, {self.feature_size})")
        return F

    def source_proba(self, raw: Any) -> np.ndarray:
        """``(n, len(classes_))`` probabilities of the source head."""
        if not self.has_head:
            raise ModelPredictError(f"feature extractor {self.name!r} has no source head")
        inputs = self.features(raw) if self.encoder is not None else self.check(raw)
        try:
            P = self._head(inputs)
        except Exception as exc:
            raise ModelPredictError(f"source head of {self.name!r} failed: {type(exc).__name__}: {exc}") from exc
        if P.shape != (len(raw), len(self.classes_)):
            raise SchemaError(f"source head of {self.name!r} gave shape {P.shape}; its manifest declares "
                              f"({len(raw)}, {len(self.classes_)})")
        return P

    # ------------------------------------------------------------------ forms
    def _backbone(self, raw: Any) -> np.ndarray:
        if self.encoder is not None:
            from modelreuse.models.encoders import ENCODERS

            encode = ENCODERS.get(self.encoder)
            return encode(raw, size=self.image_size) if self.modality == "image" else encode(raw)
        if _is_torch(self.model):
            return self._torch(raw, lambda m, x: m.features(x))
        steps = self.model[:-1] if self.has_head else self.model
        return steps.transform(raw)

    def _head(self, inputs: Any) -> np.ndarray:
        if _is_torch(self.model):
            if self.encoder is not None:
                return self._torch_rows(np.asarray(inputs, np.float32))
            return self._torch(inputs, lambda m, x: m(x).double().softmax(dim=1))
        return np.asarray(self.model.predict_proba(inputs), np.float64)

    def _torch(self, images: np.ndarray, call) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(images), BATCH):
                out.append(call(self.model, to_tensor(images[start:start + BATCH], self.image_size or 32)).double().numpy())
        return np.concatenate(out)

    def _torch_rows(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model(torch.as_tensor(X)).double().softmax(dim=1).numpy()


def _rows_key(raw: Any) -> str:
    """SHA-256 of raw rows (texts joined with a separator, or an image array's bytes and shape)."""
    h = hashlib.sha256()
    if isinstance(raw, np.ndarray) and raw.dtype != object:
        h.update(f"{raw.dtype.str}{raw.shape}".encode())
        h.update(np.ascontiguousarray(raw).tobytes())
    else:
        h.update("\x1f".join(map(str, raw)).encode())
    return h.hexdigest()
