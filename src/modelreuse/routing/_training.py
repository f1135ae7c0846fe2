"""Shared torch training for score models: sigmoid outputs fitted to observed scores only.

Loss: binary cross-entropy between ``sigmoid(logit[q, m])`` and the score ``S[q, m]`` in [0, 1]
(soft targets allowed), averaged over the observed entries; missing scores (NaN) contribute
nothing. Adam via :func:`modelreuse._torch.minimise` over seeded shuffled mini-batches
(:func:`modelreuse._torch.shuffled_batches`); the module is built and trained under a forked,
seeded torch RNG, so a fit never depends on (or changes) the caller's random state.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np


def fit_masked(build: Callable[[], Any], inputs: list[np.ndarray], S: np.ndarray, *, epochs: int, lr: float,
               weight_decay: float, batch_size: int, seed: int):
    """``build()`` a module ``(*input_batches) -> logits (b, M)``, train it on the observed entries
    of ``S`` and return it in eval mode. Initialisation, dropout and batch order all follow
    ``seed`` (:func:`seeded`), so one configuration always gives the same module."""
    import torch
    import torch.nn.functional as F

    from modelreuse._torch import minimise, shuffled_batches

    tensors = [torch.as_tensor(x) for x in inputs]
    target = torch.as_tensor(np.nan_to_num(S, nan=0.0), dtype=torch.float32)
    observed = torch.as_tensor(~np.isnan(S), dtype=torch.float32)
    with seeded(seed):
        module = build()

        def loss_of(batch):
            logits = module(*(t[batch] for t in tensors))
            loss = F.binary_cross_entropy_with_logits(logits, target[batch], weight=observed[batch], reduction="sum")
            return loss / observed[batch].sum().clamp(min=1.0)

        module.train()
        minimise(module.parameters(), loss_of, shuffled_batches(len(target), batch_size, epochs, seed), lr=lr,
                 weight_decay=weight_decay)
    return module.eval()


@contextmanager
def seeded(seed: int):
    """torch's global RNG seeded with ``seed`` inside the block and restored after it."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def predict_sigmoid(module, inputs: list[np.ndarray]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.sigmoid(module(*(torch.as_tensor(x) for x in inputs))).double().numpy()


def module_state(module) -> dict[str, np.ndarray]:
    return {f"param.{k}": v.detach().numpy().copy() for k, v in module.state_dict().items()}


def load_module_state(module, state: dict[str, np.ndarray]) -> None:
    import torch

    module.load_state_dict({k[len("param."):]: torch.as_tensor(v) for k, v in state.items() if k.startswith("param.")})
    module.eval()


def task_one_hot(tasks: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``(n, len(known))`` float32 one-hot of the tasks (all zeros for a task not seen in training)."""
    index = {t: i for i, t in enumerate(known)}
    out = np.zeros((len(tasks), len(known)), dtype=np.float32)
    for row, t in enumerate(tasks):
        if t in index:
            out[row, index[t]] = 1.0
    return out


