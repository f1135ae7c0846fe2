"""The image model zoo for the transferability benchmark, built on this machine from real data.

Candidates (30 in all, 21 per target):

* the pretrained ImageNet classifiers EfficientNet-Lite0, -Lite1 and -Lite2 (PyPI packages, offline):
  1280-d pooled features, 1000-way ImageNet probabilities as the source head; images are resized
  to ``EFFICIENTNET_SIZE`` = 128 px (the sources are 28-32 px; the native 224-260 px costs 4-6x
  more CPU time for the same information);
* 9 small CNNs (:class:`~modelreuse.models.architectures.SmallCNN`, recipes in
  :data:`CNN_RECIPES`: width, depth, feature size and epochs vary) trained here on each of MNIST,
  Fashion-MNIST and CIFAR-10 (``SOURCE_ROWS`` seeded training images, seeded initialisation, Adam 2e-3, batch 128, seed
  0); their features are the penultimate layer, their source head the 10-way softmax. Weights
  are cached as safetensors under the cache folder.

Targets (15): five tasks on each of the three datasets, built from a seeded pool of
``POOL_TRAIN`` training-split and ``POOL_TEST`` test-split images of that dataset: all 10 classes,
classes 0-4, classes 5-9, a binary super-class split and a hard pair (:data:`SUBTASKS`). A target
is ranked only over candidates that never saw its dataset (the EfficientNets and the CNNs of the
other two datasets), so no target is used as a source.

Ground truth (taken by the benchmark): the linear probe of
:func:`modelreuse.selection.transferability.linear_probe.probe_accuracy` fitted on the target's
training pool, accuracy on its test pool.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from modelreuse._torch import minimise, shuffled_batches
from modelreuse.config import write_cache_file
from modelreuse.datasets.images import load_split
from modelreuse.models.encoders import EFFICIENTNET_LITE, efficientnet_outputs
from modelreuse.models.extractors import to_tensor
from modelreuse.zoo.base import CandidateOutputs, TransferTarget

DATASETS = ("mnist", "fashion_mnist", "cifar10")
SOURCE_ROWS = 20000
POOL_TRAIN, POOL_TEST = 2000, 1500
EFFICIENTNET_SIZE = 128
# name: (width, blocks, feature_dim, epochs)
CNN_RECIPES: dict[str, tuple[int, int, int, int]] = {
    "w8-b2-f32-e1": (8, 2, 32, 1), "w8-b2-f128-e2": (8, 2, 128, 2), "w8-b3-f64-e2": (8, 3, 64, 2),
    "w16-b2-f32-e2": (16, 2, 32, 2), "w16-b2-f64-e1": (16, 2, 64, 1), "w16-b3-f128-e2": (16, 3, 128, 2),
    "w32-b2-f128-e2": (32, 2, 128, 2), "w32-b3-f64-e1": (32, 3, 64, 1), "w32-b3-f256-e2": (32, 3, 256, 2),
}
# dataset: {task: {original class: new label}}; classes left out are dropped.
SUBTASKS: dict[str, dict[str, dict[int, int]]] = {
    "mnist": {"odd_vs_even": {c: c % 2 for c in range(10)}, "4_vs_9": {4: 0, 9: 1}},
    "fashion_mnist": {"tops_vs_rest": {c: int(c in (0, 2, 3, 4, 6)) for c in range(10)}, "tshirt_vs_shirt": {0: 0, 6: 1}},
    "cifar10": {"vehicles_vs_animals": {c: int(c in (0, 1, 8, 9)) for c in range(10)}, "cat_vs_dog": {3: 0, 5: 1}},
}
for _tasks in SUBTASKS.values():
    _tasks.update({"all10": {c: c for c in range(10)}, "classes0-4": {c: c for c in range(5)},
                   "classes5-9": {c: c - 5 for c in range(5, 10)}})


def train_source_cnn(source: str, recipe: str, data_root: str | Path, cache: Path, seed: int = 0):
    """The CNN of ``recipe`` trained on ``source`` (module doc), loaded from the cache if present."""
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file, save_file

    from modelreuse.models.architectures import small_cnn

    width, blocks, feature_dim, epochs = CNN_RECIPES[recipe]
    torch.manual_seed(seed)
    model = small_cnn(width, blocks, feature_dim, 10)
    path = Path(cache) / f"cnn-{source}-{recipe}-seed{seed}.safetensors"
    if path.is_file():
        model.load_state_dict(load_file(path))
        return model.eval()
    images, labels = load_split(source, data_root, "train")
    rows = np.random.default_rng(seed).choice(len(labels), SOURCE_ROWS, replace=False)
    X, y = to_tensor(images[rows]), torch.as_tensor(labels[rows])
    model.train()
    minimise(model.parameters(), lambda batch: F.cross_entropy(model(X[batch]), y[batch]),
             shuffled_batches(len(y), 128, epochs, seed), lr=2e-3)
    write_cache_file(path, lambda tmp: save_file(model.state_dict(), tmp))
    return model.eval()


def cnn_outputs(model, images: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """``(penultimate features, softmax over its 10 source classes)`` as float64."""
    import torch

    feats, probs = [], []
    with torch.no_grad():
        for batch in to_tensor(images).split(batch_size):
            f = model.features(batch)
            feats.append(f.double().numpy())
            probs.append(torch.softmax(model.head(f).double(), dim=1).numpy())
    return np.concatenate(feats), np.concatenate(probs)


def target_pool(dataset: str, data_root: str | Path, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The seeded ``POOL_TRAIN`` / ``POOL_TEST`` images every target of ``dataset`` draws from."""
    rng = np.random.default_rng(seed)
    pool = {}
    for split, size in (("train", POOL_TRAIN), ("test", POOL_TEST)):
        n = 50000 if (dataset, split) == ("cifar10", "train") else 10000 if split == "test" else 60000
        pool[split] = load_split(dataset, data_root, split, np.sort(rng.choice(n, size, replace=False)))
    return pool


def _cached_efficientnet(name: str, dataset: str, split: str, images: np.ndarray, cache: Path, seed: int):
    path = Path(cache) / f"{name}-{EFFICIENTNET_SIZE}px-{dataset}-{split}-seed{seed}.npz"
    if path.is_file():
        with np.load(path) as d:
            return d["features"].astype(np.float64), d["proba"].astype(np.float64)
    feats, probs = efficientnet_outputs(images, name, size=EFFICIENTNET_SIZE)
    write_cache_file(path, lambda tmp: np.savez(tmp, features=feats.astype(np.float32), proba=probs.astype(np.float32)))
    return feats, probs


def _pool_outputs(dataset: str, pool: dict, cnns: dict, cache: Path, seed: int,
                  progress: Callable[[str], None]) -> list[tuple[str, dict]]:
    """Every eligible candidate's (features, probabilities) on both pool splits."""
    outputs = []
    for name in EFFICIENTNET_LITE:
        progress(f"{name} on {dataset}")
        outputs.append((name, {s: _cached_efficientnet(name, dataset, s, pool[s][0], cache, seed) for s in pool}))
    for (source, recipe), model in cnns.items():
        if source != dataset:
            outputs.append((f"cnn/{source}/{recipe}", {s: cnn_outputs(model, pool[s][0]) for s in pool}))
    return outputs


def _relabel(labels: np.ndarray, mapping: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(np.isin(labels, list(mapping)))
    return rows, np.array([mapping[int(c)] for c in labels[rows]], dtype=np.int64)


def image_targets(data_root: str | Path, cache: Path, seed: int = 0,
                  progress: Callable[[str], None] = lambda _: None) -> tuple[list[str], list[TransferTarget]]:
    """The zoo's names and the 15 targets (module doc). Pool outputs are computed once per dataset
    and shared by its five targets."""
    cnns = {}
    for source in DATASETS:
        for recipe in CNN_RECIPES:
            progress(f"cnn {source}/{recipe}")
            cnns[source, recipe] = train_source_cnn(source, recipe, data_root, cache)
    names = list(EFFICIENTNET_LITE) + [f"cnn/{s}/{r}" for s, r in cnns]
    targets = []
    for dataset in DATASETS:
        pool = target_pool(dataset, data_root, seed)
        outputs = _pool_outputs(dataset, pool, cnns, cache, seed, progress)
        for task, mapping in SUBTASKS[dataset].items():
            train_rows, y_train = _relabel(pool["train"][1], mapping)
            test_rows, y_test = _relabel(pool["test"][1], mapping)
            candidates = [CandidateOutputs(name, out["train"][0][train_rows], out["train"][1][train_rows],
                                           out["test"][0][test_rows]) for name, out in outputs]
            targets.append(TransferTarget(f"{dataset}/{task}", y_train, y_test, lambda c=candidates: c))
    return names, targets
