"""The PAVE benchmark's models: learnware heads on a frozen encoder, their corrupted twins, the
k-shot heads, and how a learnware is scored on a user task.

* A learnware's model is the registered ``mlp`` architecture (``features -> HIDDEN -> classes``,
  ReLU) on the frozen encoder's features (MiniLM for text, EfficientNet-Lite0 for images), trained
  with Adam on the developer's rows (:func:`train_learnware_head`). Its corrupted twin is trained
  with the same hyper-parameters on the same rows with ``noise`` of the labels replaced by labels
  drawn uniformly at random (:func:`noisy_labels`): the paper's "low-quality models" of the same
  task (section 4.1).
* Scoring a learnware *as is* on a user task whose classes may differ from its own
  (:func:`as_is_accuracy`): each of its output classes is mapped to the user class it most often
  meets on the user's k labelled shots (ties to the lower class), then its mapped predictions are
  scored on the test split. For a learnware of the user's own dataset this map is the identity
  unless the model is wrong on most shots of a class.
* Fine-tuning on the k shots (:func:`finetune_head`): the learnware's hidden layer is kept, a new
  output layer for the user's classes is added, and both are trained on the shots; the control
  :func:`fresh_head` trains the same network from a random start, so the difference is what the
  learnware's hidden layer brings.

These networks are small (a few hundred thousand weights): they train on one torch thread
(:func:`torch_threads`), as a pool of intra-op threads spinning on busy cores makes their tiny
operations some twenty times slower.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from modelreuse._torch import minimise, shuffled_batches

HIDDEN = 256
DEVELOPER_EPOCHS = 20
DEVELOPER_LR = 1e-3
SHOT_STEPS = 200
SHOT_LR = 1e-3
WEIGHT_DECAY = 1e-4


def architecture(in_features: int, n_classes: int) -> dict:
    """The manifest's architecture entry of a learnware head."""
    return {"name": "mlp", "kwargs": {"in_features": int(in_features), "out_features": int(n_classes),
                                      "hidden": [HIDDEN]}}


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch on ``n`` intra-op threads inside the block (``None``: unchanged), the caller's
    setting restored after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _new_mlp(in_features: int, n_classes: int, seed: int):
    import torch

    from modelreuse.models.architectures import mlp

    torch.manual_seed(seed)
    return mlp(in_features, n_classes, hidden=(HIDDEN,))


def _cross_entropy(module, F, y):
    import torch

    X, target = torch.as_tensor(F, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    return lambda rows: torch.nn.functional.cross_entropy(module(X if rows is None else X[rows]),
                                                          target if rows is None else target[rows])


def train_learnware_head(F: np.ndarray, y: np.ndarray, n_classes: int, seed: int) -> Any:
    """A developer's model (module doc): ``DEVELOPER_EPOCHS`` epochs of Adam, batch 64."""
    module = _new_mlp(F.shape[1], n_classes, seed).train()
    with torch_threads(1):
        minimise(module.parameters(), _cross_entropy(module, F, y),
                 shuffled_batches(len(y), 64, DEVELOPER_EPOCHS, seed), lr=DEVELOPER_LR, weight_decay=WEIGHT_DECAY)
    return module.eval()


def noisy_labels(y: np.ndarray, n_classes: int, noise: float, seed: int) -> np.ndarray:
    """``y`` with a seeded ``noise`` fraction of its entries replaced by uniform random labels."""
    rng = np.random.default_rng(seed)
    out = y.copy()
    flip = rng.random(len(y)) < noise
    out[flip] = rng.integers(0, n_classes, int(flip.sum()))
    return out


def _fit_shots(module: Any, F: np.ndarray, y: np.ndarray) -> Any:
    module.train()
    with torch_threads(1):
        minimise(module.parameters(), _cross_entropy(module, F, y), itertools.repeat(None, SHOT_STEPS), lr=SHOT_LR,
                 weight_decay=WEIGHT_DECAY)
    return module.eval()


def finetune_head(learnware_module: Any, F_shots: np.ndarray, y_shots: np.ndarray, n_classes: int, seed: int) -> Any:
    """The learnware's hidden layer plus a new output layer, trained on the shots (module doc)."""
    import torch

    torch.manual_seed(seed)
    module = copy.deepcopy(learnware_module)
    module[-1] = torch.nn.Linear(module[-1].in_features, n_classes)
    return _fit_shots(module, F_shots, y_shots)


def fresh_head(F_shots: np.ndarray, y_shots: np.ndarray, n_classes: int, seed: int) -> Any:
    """The same network from a random start, trained on the shots alone (the control)."""
    return _fit_shots(_new_mlp(F_shots.shape[1], n_classes, seed), F_shots, y_shots)


def predict(module: Any, F: np.ndarray) -> np.ndarray:
    """Argmax class indices of a head on features ``F``."""
    import torch

    with torch.no_grad():
        return module(torch.as_tensor(F, dtype=torch.float32)).argmax(1).numpy()


def label_map(pred_shots: np.ndarray, y_shots: np.ndarray, n_outputs: int, n_classes: int) -> np.ndarray:
    """For each of a model's ``n_outputs`` classes, the user class it most often meets on the shots
    (an output never predicted on the shots maps to the user's most frequent class)."""
    counts = np.zeros((n_outputs, n_classes))
    np.add.at(counts, (pred_shots, y_shots), 1)
    fallback = np.bincount(y_shots, minlength=n_classes).argmax()
    return np.where(counts.sum(1) > 0, counts.argmax(1), fallback)


def as_is_accuracy(pred_shots: np.ndarray, y_shots: np.ndarray, pred_test: np.ndarray, y_test: np.ndarray,
                   n_outputs: int, n_classes: int) -> float:
    """Test accuracy of a model's output-class predictions through the shots' label map (module doc)."""
    mapping = label_map(pred_shots, y_shots, n_outputs, n_classes)
    return float(np.mean(mapping[pred_test] == y_test))
