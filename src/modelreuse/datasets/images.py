"""Readers for the labelled image datasets: MNIST and CIFAR-10 from ``<data>/image`` (see their
MANIFEST.md) and Fashion-MNIST from the Debian package ``dataset-fashion-mnist``.

Every reader returns ``(images, labels)`` for one split: uint8 images ``(n, H, W)`` (grey) or
``(n, H, W, 3)`` (RGB) and int64 labels in the datasets' standard class order.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import numpy as np

from modelreuse.errors import InvalidTaskDataError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}


def mnist(data_root: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST 28x28 grey digits (lossless pack of rasbt/mnist-pngs)."""
    with np.load(Path(data_root) / "image" / "mnist" / "mnist_28x28_uint8.npz", allow_pickle=False) as d:
        return d[f"{split}_images"], d[f"{split}_labels"].astype(np.int64)


def cifar10(data_root: str | Path, split: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 32x32 RGB, decoded from the packed JPEG bytes (quality ~75 re-encode); ``rows``
    decodes only those indices (decoding all 50,000 takes ~10 s)."""
    from PIL import Image

    with np.load(Path(data_root) / "image" / "cifar10" / "cifar10_jpeg_packed.npz", allow_pickle=False) as d:
        blob, offsets, labels = d[f"{split}_bytes"], d[f"{split}_offsets"], d[f"{split}_labels"].astype(np.int64)
    rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
    images = np.stack([np.asarray(Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
                       for i in rows])
    return images, labels[rows]


def _idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's format): magic with the number of dimensions, big-endian sizes, uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist(split: str, folder: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST 28x28 grey (Zalando), from ``folder``, ``$MODELREUSE_FASHION_MNIST`` or the
    Debian package's ``/usr/share/datasets/fashion-mnist``."""
    folder = Path(folder or os.environ.get("MODELREUSE_FASHION_MNIST", FASHION_MNIST_DIR))
    prefix = {"train": "train", "test": "t10k"}[split]
    images_file = folder / f"{prefix}-images-idx3-ubyte.gz"
    if not images_file.is_file():
        raise InvalidTaskDataError(f"Fashion-MNIST not found in {folder}: install it with "
                                   "`apt-get install -y dataset-fashion-mnist` or set MODELREUSE_FASHION_MNIST")
    return _idx(images_file), _idx(folder / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)


def load_split(name: str, data_root: str | Path, split: str, rows: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of dataset ``name`` (a key of :data:`CLASS_NAMES`), optionally only ``rows``."""
    if name not in CLASS_NAMES:
        raise InvalidTaskDataError(f"unknown image dataset {name!r}; available: {sorted(CLASS_NAMES)}")
    if name == "cifar10":
        return cifar10(data_root, split, rows)
    images, labels = mnist(data_root, split) if name == "mnist" else fashion_mnist(split)
    return (images, labels) if rows is None else (images[rows], labels[rows])
